"""A long log is re-adjudicated by a second process: the report is the one a single process gives.

``APART_FROM`` is lowered to 0 so the small city takes the long log's path; the second process
reads the live store (SQLite and PostgreSQL) or the export file on its own.
"""

from __future__ import annotations

import pytest

import ledger.services.audit as audit_module
from ledger.services.audit import audit, export_log
from tests.audit.city import build_small_city, edit_payload, notifications, positions_of, reseal

SETTLED = "yibao:Settlement.Settled"


def _in_one_and_two_processes(monkeypatch: pytest.MonkeyPatch, run):
    one = run().as_dict()
    monkeypatch.setattr(audit_module, "APART_FROM", 0)
    return one, run().as_dict()


def test_a_second_process_gives_the_same_report_on_the_live_store(app, monkeypatch):
    build_small_city(app)

    one, two = _in_one_and_two_processes(monkeypatch, lambda: audit(app))

    assert two == one
    assert two["ok"] and two["settlements_replayed"] > 0


def test_a_second_process_gives_the_same_report_from_an_export(app, monkeypatch, tmp_path):
    build_small_city(app)
    path = str(tmp_path / "log.jsonl")
    export_log(app, path)

    one, two = _in_one_and_two_processes(monkeypatch, lambda: audit(export=path))

    assert two == one
    assert two["ok"] and two["settlements_replayed"] > 0


def test_the_second_process_names_a_changed_settlement_result(app, monkeypatch):
    """S1's fund share 175.00 rewritten to 275.00: the second process re-adjudicates 175.00."""
    build_small_city(app)
    position = next(n.id for n in notifications(app) if n.topic == SETTLED
                    and app.mapper.transcoder.decode(n.state)["medins_setl_id"] == "S1")
    edit_payload(app, position, b'"hifp_pay":{"_type_":"decimal_str","_data_":"175.00"}',
                 b'"hifp_pay":{"_type_":"decimal_str","_data_":"275.00"}')
    monkeypatch.setattr(audit_module, "APART_FROM", 0)

    report = audit(app)

    assert f"position {position}: settlement S1: hifp_pay recorded 275.00, re-adjudicated 175.00" in (
        report.checks["readjudication"])


def test_the_second_process_names_a_member_left_without_its_credit(app, monkeypatch):
    """M1's January credit rewritten as December 2023's: the period runs, re-derived apart, name it as in one."""
    build_small_city(app)
    credit = positions_of(app, "yibao:Member.AccountCredited", "M1")[0]
    edit_payload(app, credit, b'"month":"2024-01"', b'"month":"2023-12"')
    reseal(app)

    one, two = _in_one_and_two_processes(monkeypatch, lambda: audit(app))

    assert two["checks"]["period_runs"] == one["checks"]["period_runs"]
    assert f"position {credit}: M1 credited 120.00 for 2023-12 (11, base 6000.00); due 0.00 (11, base 6000.00)" in (
        two["checks"]["period_runs"]["problems"])
