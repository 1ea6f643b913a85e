"""Which of a batch's aggregate ids exist already, in one query per batch.

A batch of new settlements looks up ids that mostly do not exist yet (the settlement's own,
its visit's). The recorders answer one id at a time; this asks the events table once for
all of them. It reads the table the ``eventsourcing`` recorder writes, so it knows the two
core recorders (SQLite and PostgreSQL) and declines any other (returns None). A stale answer
is harmless: an id created meanwhile by another writer makes the batch's commit conflict,
and the batch is retried from the store.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from uuid import UUID

from eventsourcing.postgres import PostgresAggregateRecorder
from eventsourcing.sqlite import SQLiteAggregateRecorder
from psycopg.sql import SQL, Identifier

if TYPE_CHECKING:
    from collections.abc import Collection

    from eventsourcing.persistence import Recorder

CHUNK = 500


def existing_ids(recorder: Recorder, ids: Collection[UUID]) -> set[UUID] | None:
    """The ids among ``ids`` that have a stream in the event store; None if the recorder is not known."""
    wanted = list(ids)
    if not wanted:
        return set()
    if isinstance(recorder, SQLiteAggregateRecorder):
        found: set[UUID] = set()
        with recorder.datastore.transaction(commit=False) as cursor:
            for i in range(0, len(wanted), CHUNK):
                chunk = [u.hex for u in wanted[i:i + CHUNK]]
                cursor.execute(
                    f"SELECT originator_id FROM {recorder.events_table_name} "
                    f"WHERE originator_version = 1 AND originator_id IN ({','.join('?' * len(chunk))})",
                    chunk,
                )
                found.update(UUID(row[0]) for row in cursor.fetchall())
        return found
    if isinstance(recorder, PostgresAggregateRecorder):
        statement = SQL("SELECT originator_id FROM {}.{} WHERE originator_version = 1 AND originator_id = ANY(%s)")
        with recorder.datastore.transaction(commit=False) as cursor:
            cursor.execute(statement.format(Identifier(recorder.datastore.schema),
                                            Identifier(recorder.events_table_name)), (wanted,))
            return {row["originator_id"] for row in cursor.fetchall()}
    return None
