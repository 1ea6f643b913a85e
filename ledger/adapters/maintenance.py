"""The store's upkeep in a quiet hour: what the database cannot do for itself while the ledger books.

On PostgreSQL every append locks the log (``LOCK TABLE … IN EXCLUSIVE MODE``), and autovacuum
gives way to a lock it blocks, so a log booked to without pause is never vacuumed: its pages
are never marked all-visible (an index-only scan of the log fetches each row from the table
all the same), and its oldest rows age towards PostgreSQL's freeze limit, past which a vacuum
comes that nobody can cancel and appends wait for. The ledger analyses the log itself
(``ledger.adapters.statistics``); vacuuming is this, run by an operator (``ledger maintain``).
It vacuums and analyses every table of the ledger's schema, the largest (the log) first;
appends wait while the log's vacuum runs, and a first vacuum of a large log reads all of it.

On SQLite nothing ages: the write-ahead log is copied back into the database and truncated,
and SQLite's planner statistics refreshed (``PRAGMA optimize``).
"""

from __future__ import annotations

import sqlite3
import time
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import psycopg
from psycopg.sql import SQL, Identifier

from ledger.adapters.store import StoreError, first_line
from ledger.refusals import RefusalCode

if TYPE_CHECKING:
    from ledger.adapters.store import Store

_TABLES = SQL("SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
              "WHERE n.nspname = current_schema() AND c.relkind = 'r' "
              "ORDER BY pg_total_relation_size(c.oid) DESC, c.relname")
_PAGES = SQL("SELECT c.relpages, c.relallvisible FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
             "WHERE n.nspname = current_schema() AND c.relname = %s")


@dataclass(frozen=True)
class Maintained:
    """One table's upkeep (on SQLite, the database file's): how long it took, and its pages after."""

    table: str
    milliseconds: int
    pages: int
    all_visible: int | None
    """Pages whose every row every transaction sees, where index-only scans skip the table (PostgreSQL only)."""

    def as_record(self) -> dict[str, object]:
        """JSON-ready form for ``--json`` output."""
        return {"table": self.table, "milliseconds": self.milliseconds, "pages": self.pages,
                "all_visible": self.all_visible}


def maintain(store: Store) -> list[Maintained]:
    """Vacuum and analyse ``store`` (PostgreSQL), or checkpoint and optimise it (SQLite); what was done."""
    try:
        return _postgresql(store) if store.kind == "postgresql" else _sqlite(store)
    except (psycopg.Error, sqlite3.Error) as e:
        msg = f"cannot maintain {store.where()}: {first_line(e)}"
        raise StoreError(msg, RefusalCode.STORE_UNAVAILABLE) from None


def _postgresql(store: Store) -> list[Maintained]:
    done = []
    with store.connect() as conn:  # autocommit: VACUUM cannot run in a transaction
        for (table,) in conn.execute(_TABLES).fetchall():
            started = time.perf_counter_ns()
            conn.execute(SQL("VACUUM (ANALYZE) {}").format(Identifier(table)))
            taken = _milliseconds_since(started)
            row = conn.execute(_PAGES, (table,)).fetchone()
            pages, visible = row if row is not None else (0, 0)
            done.append(Maintained(table, taken, int(pages), int(visible)))
    return done


def _sqlite(store: Store) -> list[Maintained]:
    started = time.perf_counter_ns()
    with closing(sqlite3.connect(store.path, timeout=30)) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.execute("PRAGMA optimize")
        (pages,) = conn.execute("PRAGMA page_count").fetchone()
    return [Maintained(Path(store.path).name, _milliseconds_since(started), int(pages), None)]


def _milliseconds_since(started_ns: int) -> int:
    return (time.perf_counter_ns() - started_ns) // 1_000_000
