"""Group commit: settlements that arrive together are booked in one transaction.

A counter's 2207 is answered only once its settlement is durable, and on SQLite each durable
commit syncs the log to disk: booked one by one, settlements wait on the disk, not on the
rules. The booker takes every settlement waiting when it is free and books them as one batch
(``OutpatientPooling.book``), each with its own submitter and its own outcome: a refused one
never takes the others down, and a write conflict falls back to booking them one at a time.
The batch does not wait for the read models: the follower (``ledger.services.follower``)
projects it within its interval, and the queries that must see it catch up first.
"""

from __future__ import annotations

import queue
import threading
from concurrent.futures import Future
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from contextlib import AbstractContextManager

    from ledger.exchange.messages import Message
    from ledger.services.application import Outcome, OutpatientPooling

MAX_BATCH = 64
"""Settlements booked in one transaction at most."""

Job = tuple["Message", dict[str, str], "Future[Outcome]"]


class Booker:
    """One thread booking the settlements handed to it, as many at a time as are waiting."""

    def __init__(self, ledger: OutpatientPooling, writing: AbstractContextManager[object]) -> None:
        self.ledger = ledger
        self.writing = writing
        """Held while booking: the process's writers to a SQLite file take turns (``Follower.writing``)."""
        self._jobs: queue.Queue[Job | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="ledger-booker", daemon=True)
        self._thread.start()

    def book(self, msg: Message, submitter: dict[str, str]) -> Outcome:
        """Book ``msg`` (with the next batch); returns its outcome once it is durable."""
        done: Future[Outcome] = Future()
        self._jobs.put((msg, submitter, done))
        return done.result()

    def stop(self) -> None:
        """Finish the settlements handed over, then stop."""
        self._jobs.put(None)
        self._thread.join()

    def _run(self) -> None:
        while True:
            first = self._jobs.get()
            if first is None:
                return
            batch = [first]
            while len(batch) < MAX_BATCH:
                try:
                    job = self._jobs.get_nowait()
                except queue.Empty:
                    break
                if job is None:
                    self._jobs.put(None)
                    break
                batch.append(job)
            try:
                with self.writing:
                    outcomes = self.ledger.book([m for m, _, _ in batch], submitters=[s for _, s, _ in batch],
                                                catch_up=False)
            except BaseException as e:  # every waiting request hears of it; the booker lives on
                for _, _, done in batch:
                    done.set_exception(e)
                continue
            for (_, _, done), outcome in zip(batch, outcomes, strict=True):
                done.set_result(outcome)
