"""The ``ledger`` command end to end: ``export``, ``audit`` (exit 0 clean, 1 tampered), ``audit --json``,
``whatif --json``, each on the same database the application booked into (``--db``)."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from ledger.entrypoints.cli import main
from tests.audit.city import (
    EXPECTED_WHATIF_ROWS,
    REFORM,
    SMALL_CITY_JOURNAL_TOTAL,
    SMALL_CITY_SETTLEMENTS_REPLAYED,
    booked,
    build_small_city,
    edit_payload,
    export_lines,
    line_index,
    positions_of,
    whatif_year,
)

ACCOUNT_USED = "yibao:Member.AccountUsed"


def run(app, *args: str):
    """``ledger --db <the app's store> ARGS``."""
    return CliRunner().invoke(main, ["--db", app.store.url, *args], catch_exceptions=False)


@pytest.fixture
def city(app):
    build_small_city(app)
    return app


def test_export_writes_the_log_and_prints_the_chain_head(city, tmp_path):
    path = tmp_path / "ledger.jsonl"
    result = run(city, "export", str(path))
    assert result.exit_code == 0, result.output
    count = city.recorder.max_notification_id()
    head = json.loads(export_lines(path)[-1])
    assert head["events"] == count
    assert result.stdout.strip() == f"exported {count} events to {path}; chain head {head['chain_head']}"


def test_audit_exits_0_on_a_clean_store_and_1_after_tampering(city):
    clean = run(city, "audit", "--quiet")
    assert clean.exit_code == 0, clean.output
    assert "audit passed" in clean.stdout

    [position] = positions_of(city, ACCOUNT_USED)
    edit_payload(city, position, b'"_data_":"50.00"', b'"_data_":"5.00"')
    tampered = run(city, "audit", "--quiet")

    assert tampered.exit_code == 1
    assert "audit FAILED" in tampered.stdout
    assert f"position {position}: event differs from what was sealed" in tampered.stdout


def test_audit_json_structure(city):
    result = run(city, "audit", "--quiet", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert set(report) == {"ok", "source", "events", "chain_head", "settlements_replayed", "period_events_rederived",
                           "journal", "checks"}
    assert report["ok"] is True
    assert report["source"] == city.store.url
    assert report["events"] == city.recorder.max_notification_id()
    assert len(report["chain_head"]) == 64
    assert report["settlements_replayed"] == SMALL_CITY_SETTLEMENTS_REPLAYED
    assert report["period_events_rederived"] == 6  # four credits (M1 and M2, two months) and two closes
    assert report["journal"] == {"debit": str(SMALL_CITY_JOURNAL_TOTAL), "credit": str(SMALL_CITY_JOURNAL_TOTAL),
                                 "balanced": True}
    assert report["checks"] == {name: {"ok": True, "problems": []}
                                for name in ("chain", "read_models", "readjudication", "period_runs", "journal")}


def test_audit_from_an_export_file_json_and_exit_codes(city, tmp_path):
    path = tmp_path / "ledger.jsonl"
    assert run(city, "export", str(path)).exit_code == 0

    clean = CliRunner().invoke(main, ["audit", "--from", str(path), "--quiet", "--json"], catch_exceptions=False)
    assert clean.exit_code == 0, clean.output
    report = json.loads(clean.stdout)
    assert report["ok"] is True
    assert report["source"] == str(path)
    assert report["chain_head"] == json.loads(export_lines(path)[-1])["chain_head"]
    assert set(report["checks"]) == {"file", "chain", "readjudication", "period_runs", "journal"}

    [position] = positions_of(city, ACCOUNT_USED)
    lines = export_lines(path)
    i = line_index(lines, position)
    lines[i] = lines[i].replace(b'"_data_":"50.00"', b'"_data_":"5.00"')
    path.write_bytes(b"".join(lines))
    tampered = CliRunner().invoke(main, ["audit", "--from", str(path), "--quiet", "--json"], catch_exceptions=False)

    assert tampered.exit_code == 1
    report = json.loads(tampered.stdout)
    assert report["ok"] is False
    assert report["checks"]["chain"] == {"ok": False, "problems": [
        f"position {position}: the record does not match its hash (changed, deleted or reordered)"]}


def test_whatif_json(app, tmp_path):
    """The reform and the year of ``test_whatif``: H3 +460.00, H2 unchanged; nothing booked."""
    booked(app, *whatif_year())
    reform = tmp_path / "reform.yaml"
    reform.write_text(REFORM, encoding="utf-8")
    last = app.recorder.max_notification_id()

    result = run(app, "whatif", "--policy", str(reform), "411500", "2024", "--json")

    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["reform"] == "信医保〔2024〕测算1号"
    assert out["rows"] == [{k: (str(v) if not isinstance(v, (int, str)) else v) for k, v in row.items()}
                           for row in EXPECTED_WHATIF_ROWS]
    assert out["totals"]["fund_difference"] == "460.00"
    assert out["totals"]["member_difference"] == "-460.00"
    assert app.recorder.max_notification_id() == last
