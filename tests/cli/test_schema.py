"""``ledger schema``: the JSON Schema of the exchange messages, generated from the pydantic models."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from ledger.entrypoints.cli import main
from ledger.exchange.messages import MESSAGE_TYPES

PUBLISHED = Path(__file__).resolve().parents[2] / "docs" / "messages.schema.json"


def schema(*args: str):
    result = CliRunner().invoke(main, ["schema", *args], catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def test_schema_prints_the_published_schema_naming_every_message_type():
    out = schema()
    assert out == json.loads(PUBLISHED.read_text(encoding="utf-8"))
    assert set(out["discriminator"]["mapping"]) == set(MESSAGE_TYPES)
    assert len(MESSAGE_TYPES) == 26
    assert len(out["oneOf"]) == 26


def test_schema_amounts_are_exact_decimals_and_bill_lines_are_required():
    """Money comes as a JSON string or number that the ledger reads as a Decimal; a bill has lines."""
    out = schema()
    line = out["$defs"]["BillItem"]
    assert {"feedetl_sn", "med_list_codg", "cnt", "pric", "chrgitm_lv"} <= set(line["required"])
    assert {"type": "string"} in line["properties"]["pric"]["anyOf"]
    assert line["properties"]["chrgitm_lv"]["enum"] == ["01", "02", "03"]
    visit = out["$defs"]["VisitSettled"]
    assert visit["properties"]["items"]["minItems"] == 1
    assert visit["properties"]["med_type"]["enum"] == ["11", "13"]


def test_schema_closes_every_object_so_a_misspelt_field_is_refused():
    """Every message and nested object says ``additionalProperties: false``, as the parser refuses them."""
    defs = schema()["$defs"]
    assert len(defs) >= 23
    assert [name for name, d in defs.items() if d.get("type") == "object" and
            d.get("additionalProperties") is not False] == []


def test_schema_states_the_identifier_set_and_the_carried_fields():
    out = schema("--type", "visit.settled")
    assert out["properties"]["psn_no"]["pattern"] == "^[0-9A-Za-z._:/#-]{1,64}$"
    assert {"insutype", "mdtrt_cert_type", "medfee_sumamt", "backfill"} <= set(out["properties"])
    item = out["$defs"]["BillItem"]["properties"]
    assert {"det_item_fee_sumamt", "medins_list_codg", "spec"} <= set(item)
    assert out["properties"]["acct_used_flag"]["type"] == "boolean"


def test_schema_of_visit_settled():
    out = schema("--type", "visit.settled")
    assert out["properties"]["type"]["const"] == "visit.settled"
    assert {"medins_setl_id", "mdtrt_id", "psn_no", "fixmedins_code", "med_type", "acct_used_flag",
            "items"} <= set(out["properties"])
    assert {"type", "date", "medins_setl_id", "mdtrt_id", "psn_no", "fixmedins_code", "items"} <= set(out["required"])


@pytest.mark.parametrize("type_", sorted(MESSAGE_TYPES))
def test_schema_of_each_type(type_):
    out = schema("--type", type_)
    assert out["properties"]["type"]["const"] == type_
    assert "date" in out["required"]


def test_schema_of_an_unknown_type():
    result = CliRunner().invoke(main, ["schema", "--type", "member.promoted"])
    assert result.exit_code == 2
    assert "member.promoted" in result.stderr


def test_schema_needs_no_store(tmp_path):
    """Printing the schema opens no database."""
    missing = tmp_path / "no" / "such" / "dir" / "ledger.db"
    result = CliRunner().invoke(main, ["--db", str(missing), "schema"], catch_exceptions=False)
    assert result.exit_code == 0
    assert not missing.parent.exists()
