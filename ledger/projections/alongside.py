"""A second process that catches the read models up while a long run goes on writing to the log.

A month close of a million members books a million credits, and the accounts, the journal
and the log's seal must have read them all before the close records its totals. Read by the
closing process once its credits are booked, that reading was a third of the close; read
meanwhile by a second process, on another core, it is done about when the credits are
(figures in docs/benchmarks.md).

The second process is one more catch-up: the runner already serialises catch-ups across
processes (each batch locks the views' positions), so nothing is projected twice, and a
second process stopped or failed part-way leaves the read models as any interrupted
catch-up does. Whoever catches up next reads what is left; the run that started it does, at
its end, as it would without it.

It is a fresh interpreter on this one's import path (not ``multiprocessing``'s spawn, which
would run the caller's main module again). The store comes through its standard input
(a PostgreSQL URL may hold a password); the end of that input tells it to stop, so it also
stops when the process that started it dies.
"""

from __future__ import annotations

import logging
import os
import pickle
import select
import subprocess
import sys
from contextlib import suppress
from typing import TYPE_CHECKING

from ledger.adapters.transcodings import make_transcoder
from ledger.projections.runner import EventSource, ProjectionRunner

if TYPE_CHECKING:
    from typing import IO

    from ledger.adapters.store import Store

log = logging.getLogger("ledger.alongside")

PAUSE = 0.05
"""Seconds the second process waits, having found nothing new to read, before it looks again."""

BOOT = "import sys; sys.path[:] = sys.argv[1:]; from ledger.projections.alongside import main; main()"


class Alongside:
    """The second process, from its start until :meth:`stop`."""

    def __init__(self, store: Store, application: str) -> None:
        self._process = subprocess.Popen([sys.executable, "-c", BOOT, *sys.path], stdin=subprocess.PIPE,
                                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        assert self._process.stdin is not None
        self._process.stdin.write(pickle.dumps((store, application)))
        self._process.stdin.flush()

    def stop(self) -> None:
        """Tell it to stop once its catch-up in hand is done, and wait for it; a failure is logged, not raised.

        The caller catches up itself next, and meets any fault of the views there.
        """
        assert self._process.stdin is not None and self._process.stderr is not None
        with suppress(BrokenPipeError):  # it has ended already
            self._process.stdin.close()
        err = self._process.stderr.read()
        self._process.stderr.close()
        if self._process.wait():
            why = err.decode(errors="replace").strip().splitlines()
            log.warning("the read models' second process stopped: %s", why[-1] if why else self._process.returncode)


def main() -> None:
    """The second process: catch up, look again after :data:`PAUSE` when nothing was new, until told to stop."""
    store, application = pickle.load(sys.stdin.buffer)
    reader = store.log_application(application)
    engine = store.engine()
    runner = ProjectionRunner(EventSource.on(reader.recorder, make_transcoder(), store.kind), engine,
                              store=store)
    read = 0
    while not _told_to_stop(sys.stdin, pause=not read):
        read = runner.catch_up()
    engine.dispose()
    reader.close()
    sys.stderr.flush()
    os._exit(0)  # an interpreter's own shutdown, undoing every import, is time the caller would wait for


def _told_to_stop(stdin: IO[str], *, pause: bool) -> bool:
    """Whether the input has ended (the caller closed it, or died); with ``pause``, waiting :data:`PAUSE` to see."""
    return bool(select.select([stdin], [], [], PAUSE if pause else 0)[0])
