"""A lock held across the service's worker processes: a PostgreSQL advisory lock, or nothing on SQLite.

SQLite is served by one worker process, whose threads a thread lock already orders.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import psycopg

if TYPE_CHECKING:
    from collections.abc import Iterator

    from ledger.adapters.store import Store


class ProcessLock:
    """An advisory lock of ``key`` on the store's PostgreSQL server, on a connection of its own."""

    def __init__(self, store: Store, key: int) -> None:
        self.store = store
        self.key = key
        self._conn: psycopg.Connection[Any] | None = None

    @contextmanager
    def held(self) -> Iterator[None]:
        """Wait for the lock, hold it for the block (callers in one process take turns first)."""
        if self.store.kind != "postgresql":
            yield
            return
        if self._conn is None or self._conn.closed:
            s = self.store
            self._conn = psycopg.connect(host=s.host, port=s.port, user=s.user, password=s.password or None,
                                         dbname=s.dbname, autocommit=True)
        self._conn.execute("SELECT pg_advisory_lock(%s)", (self.key,))
        try:
            yield
        finally:
            self._conn.execute("SELECT pg_advisory_unlock(%s)", (self.key,))

    def close(self) -> None:
        """Release the lock's connection."""
        if self._conn is not None:
            self._conn.close()
