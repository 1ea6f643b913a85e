"""Audit replay (DESIGN.md §1): a clean city passes from the live store and from an export alone.

The audit rebuilds every read model from the log into a scratch store, re-adjudicates every
settlement and adjustment under the policy version the log recorded, checks that debits equal
credits (同医保办发〔2022〕1号 第二十七条), recomputes the hash chain and compares it with the
sealed one, and (live) compares the rebuilt read models with the live ones.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from ledger.adapters.store import Store
from ledger.projections.chain import GENESIS, head, link
from ledger.projections.journal import JournalView
from ledger.projections.runner import ProjectionRunner
from ledger.services.audit import audit, export_log
from tests.audit.city import (
    SMALL_CITY_JOURNAL_TOTAL,
    SMALL_CITY_SETTLEMENTS_REPLAYED,
    D,
    account_used,
    booked,
    build_small_city,
    notifications,
)


def _forget_the_store(app) -> None:
    """Close the application and destroy its database: nothing of the live store is left."""
    store = app.store
    app.close()
    if store.kind == "sqlite":
        for suffix in ("", "-wal", "-shm"):
            Path(store.path + suffix).unlink(missing_ok=True)
        assert not Path(store.path).exists()
        return
    admin = Store.parse(os.environ["LEDGER_TEST_POSTGRES_URL"])
    engine = create_engine(admin.sqlalchemy_url(), isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE "{store.dbname}" WITH (FORCE)'))
            assert conn.execute(text("SELECT count(*) FROM pg_database WHERE datname = :n"),
                                {"n": store.dbname}).scalar() == 0
    finally:
        engine.dispose()


def test_the_small_city_holds_the_figures_worked_by_hand(app):
    """The city the audit tests replay (figures in ``tests.audit.city.small_city``)."""
    build_small_city(app)
    assert app.balance("M1")["balc"] == D("180.30")
    assert app.balance("M2")["balc"] == D("70.00")
    assert app.get_settlement("S2").result["acct_pay"] == D("59.70")
    assert app.get_settlement("S4").result["hifp_pay"] == D("0.00")
    assert app.get_settlement("S4").result["refusal_code"] == "hospitalised"
    assert [(r["month"], r["actual"], r["paid"], r["withheld"]) for r in app.prepayments("H2", 2024)["rows"]] == [
        ("2024-01", D("110.50"), D("104.97"), D("5.53")),
        ("2024-02", D("-110.50"), D("-110.50"), D("0.00")),
    ]
    assert [(r["month"], r["paid"], r["withheld"]) for r in app.prepayments("P1", 2024)["rows"]] == [
        ("2024-02", D("34.48"), D("1.82")),
    ]
    assert app.trial_balance()["debit"] == SMALL_CITY_JOURNAL_TOTAL


def test_a_clean_city_passes_the_audit_of_the_live_store(app):
    build_small_city(app)
    last = app.recorder.max_notification_id()

    report = audit(app)

    assert report.ok, report.checks
    assert report.checks == {"chain": [], "read_models": [], "readjudication": [], "period_runs": [],
                             "journal": []}
    assert report.events == last
    assert report.settlements_replayed == SMALL_CITY_SETTLEMENTS_REPLAYED
    assert report.journal["debit"] == report.journal["credit"] == SMALL_CITY_JOURNAL_TOTAL
    assert report.journal["balanced"] is True
    assert report.journal == app.trial_balance()  # summed as the rebuild made the journal's rows, never stored
    with app.engine.connect() as conn:
        assert head(conn) == (last, report.chain_head)
    assert report.as_dict()["ok"] is True


def test_the_audit_books_nothing_and_leaves_the_live_read_models_alone(app):
    build_small_city(app)
    last = app.recorder.max_notification_id()
    before = (app.balance("M1"), app.cap("M1", 2024), app.prepayments("H3", 2024), app.trial_balance())

    assert audit(app).ok
    assert audit(app).ok  # twice: the scratch store is fresh each time

    assert app.recorder.max_notification_id() == last
    assert (app.balance("M1"), app.cap("M1", 2024), app.prepayments("H3", 2024), app.trial_balance()) == before


def test_an_audit_that_fails_part_way_leaves_nothing_open_and_runs_clean_again(app, monkeypatch):
    """The live tables are read while the rebuild runs (on PostgreSQL through named cursors): a rebuild that stops
    says why, and the next audit on the same store runs clean."""
    build_small_city(app)
    process = JournalView.process

    def fails_at_the_first_settlement(self, conn, record):
        if record.topic == "yibao:Settlement.Settled":
            raise RuntimeError("the disk is full")
        process(self, conn, record)

    monkeypatch.setattr(JournalView, "process", fails_at_the_first_settlement)
    with pytest.raises(RuntimeError, match="the disk is full"):
        audit(app)
    monkeypatch.setattr(JournalView, "process", process)

    assert audit(app).ok


def test_the_live_store_projected_in_the_audits_own_thread_keeps_its_rows(app, monkeypatch):
    """The audit takes the rows of its own rebuild's journal, chain and account movements as they are made; the
    live store's, written in the same thread meanwhile, still reach the live tables."""
    build_small_city(app)
    before = app.trial_balance()["debit"]
    rebuild = ProjectionRunner.rebuild

    def booking_meanwhile(self, **kw):
        read = rebuild(self, **kw)
        booked(app, account_used("M1", "1.00", "2024-12-20", ref="R-late"))
        app.read_models.catch_up()
        return read

    monkeypatch.setattr(ProjectionRunner, "rebuild", booking_meanwhile)
    audit(app)

    assert app.trial_balance()["debit"] == before + D("1.00")
    assert app.history("M1")[-1]["reference"] == "R-late"


def test_the_export_holds_every_event_verbatim_each_hash_chained_and_the_head_last(app, tmp_path):
    build_small_city(app)
    log = notifications(app)
    path = tmp_path / "ledger.jsonl"

    count, chain_head = export_log(app, str(path))

    lines = path.read_bytes().splitlines()
    assert count == len(log) == len(lines) - 1
    assert json.loads(lines[-1]) == {"chain_head": chain_head, "events": count, "position": log[-1].id,
                                     "recorded_at": json.loads(log[-1].state)["timestamp"]["_data_"]}
    previous = GENESIS
    for line, n in zip(lines[:-1], log, strict=True):
        record = json.loads(line)
        previous = link(previous, n.id, n.originator_id, n.originator_version, n.topic, n.state)
        assert (record["position"], record["originator_id"], record["originator_version"], record["topic"]) == (
            n.id, str(n.originator_id), n.originator_version, n.topic)
        assert record["hash"] == previous
        assert line.endswith(b',"payload":' + n.state + b"}")  # the stored bytes, verbatim and last
    assert previous == chain_head
    with app.engine.connect() as conn:
        assert head(conn) == (log[-1].id, chain_head)  # the live seal agrees


def test_an_export_audits_clean_on_a_machine_that_never_saw_the_live_store(app, tmp_path):
    build_small_city(app)
    path = tmp_path / "ledger.jsonl"
    count, chain_head = export_log(app, str(path))
    _forget_the_store(app)

    report = audit(export=str(path))

    assert report.ok, report.checks
    assert report.checks == {"file": [], "chain": [], "readjudication": [], "period_runs": [], "journal": []}
    assert report.source == str(path)
    assert report.events == count
    assert report.chain_head == chain_head
    assert report.settlements_replayed == SMALL_CITY_SETTLEMENTS_REPLAYED
    assert report.journal["debit"] == report.journal["credit"] == SMALL_CITY_JOURNAL_TOTAL
