"""Rows straight from the driver's cursor, a chunk at a time: for reading whole tables in Python.

SQLAlchemy's rows cost a third more than the driver's tuples when a million are read only
to be compared or replayed (docs/benchmarks.md), and psycopg's ordinary cursor would fetch a
whole table into memory first.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Generator, Sequence

    from sqlalchemy import Connection, Select

Row = tuple[Any, ...]
"""A row as the driver gives it."""


def chunks(conn: Connection, query: Select[Any], name: str, size: int) -> Generator[Sequence[Row], None, None]:
    """The rows of ``query``, ``size`` at a time, as the driver gives them (tuples, in the query's columns).

    On PostgreSQL the cursor is the server's, called ``name`` (a connection holds one cursor of
    a name at a time), so memory does not grow with the table. Close the generator when done
    with it before the end.
    """
    driver = conn.connection.dbapi_connection
    assert driver is not None
    cursor = driver.cursor(name=name) if conn.dialect.name == "postgresql" else driver.cursor()
    try:
        cursor.execute(str(query.compile(dialect=conn.dialect)))
        while chunk := cursor.fetchmany(size):
            yield chunk
    finally:
        cursor.close()
