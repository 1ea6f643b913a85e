"""SQLite's write-ahead log, copied back into the database file by a thread of its own.

In WAL mode a commit appends its pages to the log and syncs the log. Once the log holds
1,000 pages (SQLite's ``wal_autocheckpoint``), the connection that commits next also copies
the log back into the database file and syncs that, before its commit returns, and the
booking waits for it. During an ingest a second connection, on a thread, checkpoints every
few hundredths of a second instead, while the ingest goes on with its Python work (``sqlite3``
lets go of the GIL while SQLite runs). A commit that still passes the threshold finds the
pages already copied: the booking's commits take about half as long, for the same CPU time
(docs/benchmarks.md). A rebuild does not use it: its connections checkpoint at 16,384 pages
already, and the thread saved it almost nothing.

Durability is unchanged: every commit is still synced to the log before it returns, and a
checkpoint only moves committed pages, in a way SQLite keeps safe against a crash. A
PASSIVE checkpoint never waits on a reader or a writer; if the thread cannot checkpoint at
all, the writers' own checkpoints go on as before.
"""

from __future__ import annotations

import sqlite3
import threading
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterator

    from sqlalchemy import Engine

CHECKPOINT_EVERY = timedelta(milliseconds=50)
"""Between checkpoints: a batch of 200 messages takes a tenth of a second or more to book."""


@contextmanager
def wal_checkpoints(engine: Engine, every: timedelta = CHECKPOINT_EVERY) -> Iterator[None]:
    """Checkpoint the SQLite file of ``engine`` on a thread while the block runs (no-op elsewhere).

    The thread opens the file read-write without creating it: a missing file ends it at once.
    """
    path = engine.url.database
    if engine.dialect.name != "sqlite" or not path:
        yield
        return
    stop = threading.Event()
    thread = threading.Thread(target=_checkpoint_until, args=(Path(path), every, stop), name="wal-checkpoints",
                              daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def _checkpoint_until(path: Path, every: timedelta, stop: threading.Event) -> None:
    """PASSIVE checkpoints every ``every`` until ``stop``; on any error, leave them to the writers."""
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=rw", uri=True, isolation_level=None,
                               check_same_thread=False)
    except sqlite3.Error:
        return
    try:
        while not stop.wait(every.total_seconds()):
            conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
    except sqlite3.Error:
        return
    finally:
        conn.close()
