"""PostgreSQL's statistics of the log, refreshed by the process that appends to it.

Autovacuum never gets to analyse a log appended to without a pause. On a table it has never
vacuumed it vacuums first (PostgreSQL 13's vacuum after inserts), holding a lock that each
append's ``LOCK TABLE … IN EXCLUSIVE MODE`` waits on, and an autovacuum that makes another
session wait is cancelled ("canceling autovacuum task" in the server's log, every minute of
an ingest); its ANALYZE never comes. With no statistics the planner takes a stream to hold a
two-hundredth of the table: on a log of 4.5 million events a lookup by stream was costed past
``jit_above_cost``, compiled and planned in parallel, 25 ms instead of 0.3 ms, and reading
150 members back took 48 ms instead of 15 (docs/benchmarks.md, twenty-second set). So whoever
appends analyses the log once it has grown by half since it was last analysed (0.16 s at 4.5
million events: the sample is a fixed number of rows).
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Any
from weakref import WeakKeyDictionary

import psycopg
from psycopg.rows import tuple_row
from psycopg.sql import SQL, Identifier

if TYPE_CHECKING:
    from eventsourcing.postgres import PostgresApplicationRecorder

ANALYZE_FROM = 10_000
"""Rows the log reaches before its first ANALYZE: a smaller table is planned well without statistics."""
GROWTH = 0.5
"""The log is analysed again once it has grown by this share of what it held when last analysed."""
COLUMNS = ("originator_id", "originator_version", "notification_id", "topic")
"""The columns the ledger's queries select by; the events' states (most of each row) are never compared."""

_SIZES = SQL("SELECT greatest(c.reltuples, 0)::bigint, coalesce(s.n_mod_since_analyze, 0) FROM pg_class c "
             "JOIN pg_namespace n ON n.oid = c.relnamespace LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid "
             "WHERE n.nspname = %s AND c.relname = %s")
"""The rows the log held when last analysed (0 if never), and how many were written since."""

log = logging.getLogger("ledger.statistics")
_due: WeakKeyDictionary[PostgresApplicationRecorder, int] = WeakKeyDictionary()
"""Rows each log may still take before it is analysed again."""
_lock = threading.Lock()


def appended(recorder: PostgresApplicationRecorder, rows: int) -> None:
    """Count ``rows`` just committed to ``recorder``'s log; analyse the log if they make it due.

    The first append of a process asks the server how far the log is from being due. Call it
    after the commit: the ANALYZE waits for other sessions' appends, and must not hold one.
    """
    with _lock:
        due = _due.get(recorder)
        if due is None:
            due = _first_due(recorder)
        due -= rows
        if due <= 0:
            due = _analyse(recorder)
        _due[recorder] = due


def _first_due(recorder: PostgresApplicationRecorder) -> int:
    """The rows the log may take before it is due, as the server counts them (0 if it cannot say)."""
    try:
        with recorder.datastore.get_connection() as conn, conn.cursor(row_factory=tuple_row) as cursor:
            analysed, since = _sizes(cursor, recorder)
    except psycopg.Error as e:
        log.warning("the log's statistics could not be read: %s", e)
        return 0
    return _next(analysed) - since


def _analyse(recorder: PostgresApplicationRecorder) -> int:
    """ANALYZE the log; the rows it may take before it is due again (after a failure, the least)."""
    name = SQL("{}.{}").format(Identifier(recorder.datastore.schema), Identifier(recorder.events_table_name))
    try:
        with recorder.datastore.get_connection() as conn, conn.cursor(row_factory=tuple_row) as cursor:
            cursor.execute(SQL("ANALYZE {} ({})").format(name, SQL(", ").join(map(Identifier, COLUMNS))))
            return _next(_sizes(cursor, recorder)[0])
    except psycopg.Error as e:
        log.warning("the log could not be analysed (tried again after %d more rows): %s", ANALYZE_FROM, e)
        return ANALYZE_FROM


def _next(analysed: int) -> int:
    return max(ANALYZE_FROM, int(analysed * GROWTH))


def _sizes(cursor: psycopg.Cursor[tuple[Any, ...]], recorder: PostgresApplicationRecorder) -> tuple[int, int]:
    row = cursor.execute(_SIZES, (recorder.datastore.schema, recorder.events_table_name)).fetchone()
    return (0, 0) if row is None else (int(row[0]), int(row[1]))
