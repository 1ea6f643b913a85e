"""Keeps the read models current while the service runs, one projector at a time.

The runner (``ledger.projections.runner``) must not project the same events twice at once:
two catch-ups racing would both write the rows of one batch. The follower holds a lock while
it projects, a thread lock within the process and, on PostgreSQL, an advisory lock across
the service's worker processes. A background thread catches up every ``interval`` seconds,
so the lag stays bounded; a query that must see the caller's last settlement (5206, a
balance) takes the same lock and catches up first.
"""

from __future__ import annotations

import logging
import threading
import time
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from ledger.adapters.locks import ProcessLock

if TYPE_CHECKING:
    from collections.abc import Iterator

    from ledger.services.application import OutpatientPooling

PROJECTION_LOCK = 0x1ED6E9
"""The PostgreSQL advisory lock key held while a service process projects."""

log = logging.getLogger("ledger.follower")


class Follower:
    """Catches the read models up with the log, in the background and before a query."""

    def __init__(self, ledger: OutpatientPooling, *, interval: float = 0.2) -> None:
        self.ledger = ledger
        ledger.read_models.setup()  # made here, once, before any thread asks for them
        self.interval = interval
        self._lock = threading.RLock()
        self._across_processes = ProcessLock(ledger.store, PROJECTION_LOCK)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.caught_up_at: float | None = None

    @contextmanager
    def reading(self) -> Iterator[None]:
        """Caught up, and no one else projecting until the block ends."""
        with self._lock, self._across_processes.held():
            self.ledger.read_models.catch_up()
            self.caught_up_at = time.monotonic()
            yield

    def start(self) -> None:
        """Follow the log in a background thread."""
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="ledger-follower", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop following and release the lock's connection."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self._across_processes.close()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                with self.reading():
                    pass
            except Exception:  # the follower must outlive a failed round; the next one retries
                log.exception("catching up the read models failed")

    def health(self) -> dict[str, Any]:
        """The log's head, how far the read models have read, and how long since they caught up."""
        head = self.ledger.recorder.max_notification_id() or 0
        position = min(self.ledger.read_models.positions().values(), default=0)
        since = None if self.caught_up_at is None else round(time.monotonic() - self.caught_up_at, 3)
        return {"log_position": head, "read_model_position": position, "lag_events": max(head - position, 0),
                "seconds_since_caught_up": since, "follow_interval": self.interval}
