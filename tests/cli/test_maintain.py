"""``ledger maintain``: the store vacuumed and analysed (PostgreSQL) or checkpointed (SQLite); the answers unchanged."""

from __future__ import annotations

import re

from tests.cli.conftest import as_json, error_of, make_runner
from tests.cli.test_rebuild import QUERIES
from tests.exchange.scenario import every_type
from tests.support import write_jsonl


def test_maintain_then_the_same_answers(ledger, store, tmp_path):
    path = write_jsonl(tmp_path / "every-type.jsonl", *every_type())
    assert ledger("ingest", "--quiet", str(path)).exit_code == 0
    before = [as_json(ledger(*q)) for q in QUERIES]

    result = ledger("maintain")

    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines and all(re.fullmatch(r"\S+: \d+\.\d s, [\d,]+ pages(, [\d,]+ all-visible)?", line) for line in lines)
    tables = [m["table"] for m in as_json(ledger("maintain", "--json"))]
    if store.kind == "postgresql":
        assert "yibao_events" in tables and "projection_positions" in tables
    else:
        assert tables == ["ledger.db"]
    assert [as_json(ledger(*q)) for q in QUERIES] == before


def test_maintain_of_no_ledger_is_one_line_and_creates_nothing(tmp_path):
    missing = tmp_path / "missing.db"
    message, code = error_of(make_runner(str(missing))("maintain"))

    assert code == "store_missing" and str(missing) in message
    assert not missing.exists()
