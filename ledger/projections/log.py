"""Reading the event log in bulk, for the read models: plain rows straight from the events table.

The recorders' ``select_notifications`` builds a ``UUID`` and a frozen ``Notification`` for
each event; over a whole log that costs as much as the read models' own work. The read models
need neither: they keep the originator id as text. So for the two core recorders (SQLite and
PostgreSQL) this reads the table they write, as :mod:`ledger.adapters.prefetch` does, and gives each
event as a :class:`LogRow` with the id already in its text form; for any other recorder it
falls back on ``select_notifications``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.sqlite import SQLiteApplicationRecorder
from psycopg.rows import tuple_row


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

Select = Callable[[int, int, int | None, Sequence[str]], Sequence[Any]]


def log_reader(recorder: Any) -> Select:
    """``select(start, limit, stop, topics)``: events from ``start`` through ``stop`` of ``topics`` (all if empty)."""
    if isinstance(recorder, SQLiteApplicationRecorder):
        def sqlite(statement: str, params: list[Any]) -> list[Any]:
            with recorder.datastore.transaction(commit=False) as cursor:
                cursor.execute(statement, params)
                return cursor.fetchall()

        return _reader(f"SELECT rowid, {SQLITE_UUID_TEXT}, originator_version, topic, state "
                       f"FROM {recorder.events_table_name}", "rowid", "?", sqlite)
    if isinstance(recorder, PostgresApplicationRecorder):
        def postgres(statement: str, params: list[Any]) -> list[Any]:
            with recorder.datastore.get_connection() as conn, conn.cursor(row_factory=tuple_row) as cursor:
                cursor.execute(statement, params, prepare=True)
                return cursor.fetchall()

        table = f'"{recorder.datastore.schema}"."{recorder.events_table_name}"'
        return _reader(f"SELECT notification_id, originator_id::text, originator_version, topic, state FROM {table}",
                       "notification_id", "%s", postgres)
    return lambda start, limit, stop, topics: recorder.select_notifications(
        start, limit, stop=stop, topics=topics)


def _reader(columns: str, position: str, mark: str, run: Callable[[str, list[Any]], list[Any]]) -> Select:
    """The query of either recorder: ``position`` names its log position column, ``mark`` its placeholder.

    With a ``stop``, the log is read in windows of ``limit`` positions, each query bounded on
    both sides. Asked for everything from ``start`` to the head, PostgreSQL's planner (its
    statistics lagging a log just written) chose to fetch and sort the whole rest of the log
    for each batch: a rebuild of 0.1M events spent 1.6 s in those sorts, and every batch
    cost more than the one before.
    """

    def query(lower: int, upper: int | None, topics: Sequence[str], limit: int) -> list[LogRow]:
        statement = f"{columns} WHERE {position} >= {mark}"
        params: list[Any] = [lower]
        if upper is not None:
            statement += f" AND {position} <= {mark}"
            params.append(upper)
        if topics:
            statement += f" AND topic IN ({','.join([mark] * len(topics))})"
            params.extend(topics)
        statement += f" ORDER BY {position} LIMIT {mark}"
        params.append(limit)
        return [LogRow(*row) for row in run(statement, params)]

    def select(start: int, limit: int, stop: int | None = None, topics: Sequence[str] = ()) -> list[LogRow]:
        if stop is None:
            return query(start, None, topics, limit)
        rows: list[LogRow] = []
        while start <= stop and len(rows) < limit:
            upper = min(stop, start + limit - 1)
            rows += query(start, upper, topics, limit - len(rows))
            start = upper + 1
        return rows

    return select
