"""Reading the event log in bulk, for the read models: plain rows straight from the events table.

The recorders' ``select_notifications`` builds a ``UUID`` and a frozen ``Notification`` for
each event; over a whole log that costs as much as the read models' own work. The read models
need neither: they keep the originator id as text. So for the two core recorders (SQLite and
PostgreSQL) this reads the table they write, as :mod:`ledger.prefetch` does, and gives each
event as a :class:`LogRow` with the id already in its text form; for any other recorder it
falls back on ``select_notifications``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NamedTuple

from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.sqlite import SQLiteApplicationRecorder
from psycopg.rows import tuple_row
from psycopg.sql import SQL, Identifier

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence


class LogRow(NamedTuple):
    """One stored event, with the fields of a notification; ``originator_id`` as text."""

    id: int
    originator_id: str
    originator_version: int
    topic: str
    state: bytes


SQLITE_UUID_TEXT = ("substr(originator_id,1,8)||'-'||substr(originator_id,9,4)||'-'||substr(originator_id,13,4)"
                    "||'-'||substr(originator_id,17,4)||'-'||substr(originator_id,21)")
"""The SQLite recorder stores a UUID as 32 hex digits; this gives its usual dashed form."""


def log_reader(recorder: Any) -> Callable[[int, int, int | None, Sequence[str]], Sequence[Any]]:
    """``select(start, limit, stop, topics)``: events from ``start`` through ``stop`` of ``topics`` (all if empty)."""
    if isinstance(recorder, SQLiteApplicationRecorder):
        return _sqlite(recorder)
    if isinstance(recorder, PostgresApplicationRecorder):
        return _postgres(recorder)
    return lambda start, limit, stop=None, topics=(): recorder.select_notifications(
        start, limit, stop=stop, topics=topics)


def _sqlite(recorder: SQLiteApplicationRecorder) -> Callable[..., list[LogRow]]:
    columns = f"SELECT rowid, {SQLITE_UUID_TEXT}, originator_version, topic, state FROM {recorder.events_table_name}"

    def select(start: int, limit: int, stop: int | None = None, topics: Sequence[str] = ()) -> list[LogRow]:
        statement, params = columns + " WHERE rowid >= ?", [start]
        if stop is not None:
            statement += " AND rowid <= ?"
            params.append(stop)
        if topics:
            statement += f" AND topic IN ({','.join('?' * len(topics))})"
            params.extend(topics)
        statement += " ORDER BY rowid LIMIT ?"
        params.append(limit)
        with recorder.datastore.transaction(commit=False) as cursor:
            cursor.execute(statement, params)
            return [LogRow(*row) for row in cursor.fetchall()]

    return select


def _postgres(recorder: PostgresApplicationRecorder) -> Callable[..., list[LogRow]]:
    table = Identifier(recorder.datastore.schema), Identifier(recorder.events_table_name)
    columns = SQL("SELECT notification_id, originator_id::text, originator_version, topic, state FROM {}.{}")

    def select(start: int, limit: int, stop: int | None = None, topics: Sequence[str] = ()) -> list[LogRow]:
        statement, params = columns.format(*table) + SQL(" WHERE notification_id >= %s"), [start]
        if stop is not None:
            statement += SQL(" AND notification_id <= %s")
            params.append(stop)
        if topics:
            statement += SQL(" AND topic = ANY(%s)")
            params.append(list(topics))
        statement += SQL(" ORDER BY notification_id LIMIT %s")
        params.append(limit)
        with recorder.datastore.get_connection() as conn, conn.cursor(row_factory=tuple_row) as cursor:
            cursor.execute(statement, params, prepare=True)
            return [LogRow(*row) for row in cursor.fetchall()]

    return select
