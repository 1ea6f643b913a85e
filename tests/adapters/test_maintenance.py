"""The store's upkeep (``ledger.adapters.maintenance``): what autovacuum never does for a log always booked to."""

from __future__ import annotations

from pathlib import Path

import pytest
from eventsourcing.postgres import PostgresApplicationRecorder

from ledger.adapters.maintenance import maintain
from ledger.adapters.store import Store, StoreError
from ledger.services.bootstrap import bootstrap
from tests.support import book, member


def _enrolled(store: Store, count: int) -> str:
    """``count`` members enrolled, one event each; the log's table."""
    app = bootstrap(store)
    try:
        book(app, *(member(f"M{n}") for n in range(count)))
        return app.recorder.events_table_name if isinstance(app.recorder, PostgresApplicationRecorder) else ""
    finally:
        app.close()


def _visibility(store: Store, table: str) -> tuple[int, bool, bool]:
    """The table's all-visible pages, and whether it was vacuumed and analysed by hand."""
    with store.connect() as conn:
        visible = conn.execute("SELECT relallvisible FROM pg_class WHERE relname = %s", (table,)).fetchone()
        done = conn.execute("SELECT last_vacuum IS NOT NULL, last_analyze IS NOT NULL FROM pg_stat_user_tables "
                            "WHERE relname = %s", (table,)).fetchone()
    assert visible is not None and done is not None
    return int(visible[0]), bool(done[0]), bool(done[1])


def test_maintain_vacuums_the_log_and_marks_its_pages_all_visible(postgres_store):
    log = _enrolled(postgres_store, 300)
    assert _visibility(postgres_store, log) == (0, False, False)

    done = {m.table: m for m in maintain(postgres_store)}

    assert done[log].pages > 0
    assert done[log].all_visible == done[log].pages
    assert _visibility(postgres_store, log) == (done[log].pages, True, True)
    # Every table of the ledger's schema, the read models' too.
    assert {"projection_positions", "accounts_balances"} <= set(done)


def test_maintain_checkpoints_sqlites_write_ahead_log(sqlite_store):
    _enrolled(sqlite_store, 300)
    wal = Path(f"{sqlite_store.path}-wal")

    [done] = maintain(sqlite_store)

    assert done.table == Path(sqlite_store.path).name
    assert done.pages > 0 and done.all_visible is None
    assert not wal.exists() or wal.stat().st_size == 0


def test_maintain_an_unreachable_server_is_one_error():
    store = Store.parse("postgresql://postgres@127.0.0.1:1/nothing")

    with pytest.raises(StoreError, match="cannot maintain PostgreSQL database nothing"):
        maintain(store)
