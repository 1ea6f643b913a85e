"""SQLite and PostgreSQL give the same ledger: the same file ingested on both, compared table by table.

The wall clock is frozen while ingesting, so the events' recorded times, and with them the
hash chain over the stored bytes, are the same on both stores: every column of every
read-model table can be compared (``log_chain.recorded_at`` is left out all the same).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from ledger.services.bootstrap import bootstrap
from ledger.services.ingest import ingest_file
from tests.exchange.scenario import JIAOZUO, every_type, frozen_clock, read_model_rows
from tests.exchange.test_refusals import CASES, line
from tests.support import write_jsonl

if TYPE_CHECKING:
    from pathlib import Path

    from ledger.adapters.store import Store

SETTLEMENTS = ("S1", "S2", "S3", "S4", "S5", "S6", "PS1", "JS1")
MEMBERS = ("M1", "M2", "M3", "J-M1")
INSTITUTIONS = ("H1", "H3", "P1", "J1")


def _ingest_and_probe(store: Store, files: list[Path]) -> dict[str, Any]:
    app = bootstrap(store)
    try:
        reports = []
        with frozen_clock(app):
            for path in files:
                report = ingest_file(app, str(path), batch_size=50)
                reports.append((report.summary(), report.errors))
        return {
            "reports": reports,
            "head": app.recorder.max_notification_id(),
            "tables": read_model_rows(app),
            "settlements": {key: app.settlement_view(app.get_settlement(key)) for key in SETTLEMENTS},
            "stored results": {key: app.get_settlement(key).result for key in SETTLEMENTS},
            "balances": {p: app.balance(p) for p in MEMBERS},
            "histories": {p: app.history(p) for p in MEMBERS},
            "caps": {p: app.cap(p, 2024) for p in MEMBERS},
            "prepayments": {c: app.prepayments(c, 2024) for c in INSTITUTIONS},
            "clearing": app.clearing(JIAOZUO, 2024),
            "reconcile": {c: app.reconcile(c, "2024-03") for c in INSTITUTIONS},
            "trial balance": app.trial_balance(),
        }
    finally:
        app.close()


@pytest.fixture
def files(tmp_path: Path) -> list[Path]:
    """The file of every type, then a file of every refusal interleaved with more good lines."""
    every = write_jsonl(tmp_path / "every-type.jsonl", *every_type())
    refusals = tmp_path / "refusals.jsonl"
    refusals.write_bytes(b"".join(line(case[1]) for case in CASES))
    return [every, refusals, every]


def test_sqlite_and_postgres_give_the_same_ledger(sqlite_store: Store, postgres_store: Store,
                                                 files: list[Path]) -> None:
    on_sqlite = _ingest_and_probe(sqlite_store, files)
    on_postgres = _ingest_and_probe(postgres_store, files)

    # The same reports: the file of every type booked, the refusals refused, the file again present.
    assert on_sqlite["reports"] == on_postgres["reports"]
    assert on_sqlite["head"] == on_postgres["head"]
    every, refusals, again = on_sqlite["reports"]
    assert every[1] == [] and again[1] == []
    assert len(refusals[1]) > len(CASES) // 2  # the cases that need SETUP's small balance may pass here

    # Every read-model table, row by row, column by column.
    tables_sqlite, tables_postgres = on_sqlite["tables"], on_postgres["tables"]
    assert set(tables_sqlite) == set(tables_postgres)
    for name in tables_sqlite:
        assert tables_sqlite[name], f"{name} is empty: the scenario does not exercise it"
        assert tables_sqlite[name] == tables_postgres[name], name

    # The settlement results, and every query's answer.
    for probe in ("settlements", "stored results", "balances", "histories", "caps", "prepayments", "clearing",
                  "reconcile", "trial balance"):
        assert on_sqlite[probe] == on_postgres[probe], probe
