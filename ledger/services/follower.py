"""Keeps the read models current while the service runs, one projector at a time.

The runner (``ledger.projections.runner``) serialises catch-ups across processes itself (the
store's catch-up lock). The follower adds a thread lock, so a query that must see the
caller's last settlement (5206, a balance) catches up and reads without another thread of
this process projecting meanwhile. A background thread catches up every ``interval``,
so the lag stays bounded.
"""

from __future__ import annotations

import logging
import threading
import time
from contextlib import contextmanager, nullcontext
from datetime import timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterator
    from contextlib import AbstractContextManager

    from ledger.services.application import OutpatientPooling

log = logging.getLogger("ledger.follower")


FOLLOW_INTERVAL = timedelta(milliseconds=200)
"""How often the background thread catches up: the read models' lag stays within it."""


class Follower:
    """Catches the read models up with the log, in the background and before a query."""

    def __init__(self, ledger: OutpatientPooling, *, interval: timedelta = FOLLOW_INTERVAL) -> None:
        self.ledger = ledger
        one_writer = ledger.store.kind == "sqlite"
        self.writing: AbstractContextManager[object] = threading.Lock() if one_writer else nullcontext()
        """Taken in turn by the writers of this process (the booker, a request, this follower) on a SQLite
        file, which takes one writer at a time: waiting here wakes at once, where SQLite's own wait for a
        busy file sleeps in steps of milliseconds. On PostgreSQL writers need not take turns."""
        ledger.read_models.setup()  # made here, once, before any thread asks for them
        self.interval = interval
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.caught_up_at: int | None = None
        """``time.monotonic_ns()`` when the read models last caught up."""

    @contextmanager
    def reading(self) -> Iterator[None]:
        """Caught up, and no one else projecting until the block ends."""
        with self._lock:
            with self.writing:
                self.ledger.read_models.catch_up()
            self.caught_up_at = time.monotonic_ns()
            yield

    def start(self) -> None:
        """Follow the log in a background thread."""
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="ledger-follower", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop following."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self.interval.total_seconds()):
            try:
                with self.reading():
                    pass
            except Exception:  # the follower must outlive a failed round; the next one retries
                log.exception("catching up the read models failed")

    def health(self) -> dict[str, Any]:
        """The log's head, how far the read models have read, and how long since they caught up."""
        head = self.ledger.recorder.max_notification_id() or 0
        position = min(self.ledger.read_models.positions().values(), default=0)
        since = None if self.caught_up_at is None else round((time.monotonic_ns() - self.caught_up_at) / 1e9, 3)
        return {"log_position": head, "read_model_position": position, "lag_events": max(head - position, 0),
                "seconds_since_caught_up": since, "follow_interval": self.interval.total_seconds()}
