"""A second process that writes a rebuild's rows while the first goes on reading the log.

A rebuild is bound by the interpreter: reading the log, parsing it and making the rows hold
it, and so does handing the rows to the database driver (on SQLite the database's own work
runs in the same process as well). The machine has more than one core, so a rebuild sends
each batch's writes to a writer process and goes on with the next batch meanwhile
(figures in docs/benchmarks.md).

The views do not know: they write through a :class:`Deferred` connection, which records
their writes in order. The writer runs each batch's writes in one transaction with the
views' positions, as the runner does in one process, so a rebuild stopped part-way is left
exactly as one would be without the writer. A view that reads its own tables mid-batch
(:meth:`ledger.projections.caps.CapsView._looked_up`) has the writer run the read, after the writes
before it and in the same transaction, so it sees them, and waits for the answer; a view whose
writes depend on what it wrote before (:func:`ledger.projections.standing.learn`) has the
writer work them out instead, and does not wait. One transaction is being written at a time:
meanwhile the runner goes on, keeping the next batches' writes (up to :data:`HELD_BATCHES`)
and sending them as one transaction once it is committed, so a failure in the writer stops
the rebuild at the next one sent.

The writer is a fresh interpreter that imports only this module and what the writes need
(:data:`BOOT`), not the caller's main module as ``multiprocessing``'s spawn would: it is ready
sooner, and a script that rebuilds needs no ``__main__`` guard. Until it is ready the runner
goes on, holding the batches' writes (see :meth:`Writer.commit`).
"""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
import traceback
from multiprocessing.connection import Connection as PipeEnd
from typing import TYPE_CHECKING, Any, NoReturn

from sqlalchemy import Select
from sqlalchemy.engine.result import IteratorResult, SimpleResultMetaData
from sqlalchemy.schema import ExecutableDDLElement
from sqlalchemy.sql.compiler import SQLCompiler

if TYPE_CHECKING:
    from collections.abc import Callable

    from sqlalchemy import Connection, Dialect
    from sqlalchemy.sql import ClauseElement

    from ledger.adapters.store import Store

Op = tuple["Callable[..., None]", tuple[Any, ...]]
"""A write: a module-level function of a connection and its arguments (so that it can be sent)."""


class WriterError(RuntimeError):
    """The writer process failed; the message carries its traceback."""


def driver_sql(conn: Connection, statement: str, parameters: Any) -> None:
    """One statement, or one for each row when ``parameters`` is a list of rows."""
    conn.exec_driver_sql(statement, parameters)


class Deferred:
    """Stands for a batch's connection to the views: records their writes, in order, for the writer."""

    def __init__(self, writer: Writer, dialect: Dialect) -> None:
        self.writer = writer
        self.dialect = dialect
        self.ops: list[Op] = []

    def defer(self, write: Callable[..., None], *args: Any) -> None:
        """Have the writer run ``write(connection, *args)`` after the writes before it."""
        self.ops.append((write, args))

    def exec_driver_sql(self, statement: str, parameters: Any = None) -> None:  # noqa: D102
        self.defer(driver_sql, statement, parameters)

    def execute(self, clause: ClauseElement) -> IteratorResult | None:
        """A write is recorded; a query is run by the writer after the writes before it, and answered."""
        compiled = clause.compile(dialect=self.dialect, compile_kwargs={"render_postcompile": True})
        if isinstance(clause, ExecutableDDLElement):  # no parameters
            self.defer(driver_sql, str(compiled), None)
            return None
        assert isinstance(compiled, SQLCompiler)  # what every statement but DDL compiles to
        values = compiled.construct_params()
        parameters = tuple(values[k] for k in compiled.positiontup or ()) if compiled.positional else values
        if not isinstance(clause, Select):
            self.defer(driver_sql, str(compiled), parameters)
            return None
        keys, rows = self.writer.query(self.take(), str(compiled), parameters)
        return IteratorResult(SimpleResultMetaData(keys), iter(rows))

    def take(self) -> list[Op]:
        """The writes recorded since the last take."""
        ops, self.ops = self.ops, []
        return ops


HELD_BATCHES = 4
"""At most this many batches are kept while the writer starts, or writes the transaction before.

Two or three are, in practice, once it has started (the writer takes about as long over a
batch as the runner). Each held batch costs both processes memory, more held saved no time,
and what they cost does not grow with the log (figures in docs/benchmarks.md).
"""


class Writer:
    """The writer process, and the runner's end of the pipe to it."""

    def __init__(self, store: Store) -> None:
        self._pipe, theirs = multiprocessing.Pipe()
        self._process = subprocess.Popen(
            [sys.executable, "-c", BOOT, str(theirs.fileno()), *sys.path], pass_fds=(theirs.fileno(),),
            stdin=subprocess.DEVNULL)
        theirs.close()
        self._send("store", store)
        self._ready = False
        """Whether the writer has said it is connected and reading."""
        self._held: list[Op] = []
        self._held_batches = 0
        """Batches' writes kept while the writer starts or writes, to be sent as one transaction."""
        self._in_flight = False
        """Whether a transaction was sent and its commit not yet acknowledged (never more than one)."""

    def commit(self, ops: list[Op]) -> None:
        """Send a batch's writes, to be committed together, once the transaction before is committed.

        While the writer is still starting up (an interpreter and its imports take longer than
        the runner's first batches), or writing the transaction before, the writes are kept, up
        to :data:`HELD_BATCHES` batches, and sent together when it is free, in one transaction:
        still whole batches, with their positions.
        """
        self._held.extend(ops)
        self._held_batches += 1
        full = self._held_batches >= HELD_BATCHES
        if self._started(wait=full) and self._free(wait=full):
            self._commit_held()

    def query(self, ops: list[Op], statement: str, parameters: Any) -> tuple[list[str], list[tuple[Any, ...]]]:
        """Run ``ops`` (not yet committed), then the query; its column names and rows."""
        self._held.extend(ops)
        self._started(wait=True)
        self._send_held("query", statement, parameters)
        keys, rows = self._reply()
        return keys, rows

    def close(self, *, failed: bool = False) -> None:
        """Wait for the last batch and stop the writer; if the rebuild ``failed``, stop it at once."""
        try:
            if failed:
                self._process.kill()
            else:
                self._started(wait=True)  # its "ready" is read first, even when no batch was sent
                if self._held_batches:
                    self._commit_held()
                self._settle()
                self._send("stop")
                self._reply()
        finally:
            self._pipe.close()  # a writer still waiting reads the end of the pipe, and stops
            self._process.wait()

    def _started(self, *, wait: bool) -> bool:
        """Whether the writer is ready (``wait`` for it); raise if it ended instead."""
        if not self._ready and (wait or self._pipe.poll()):
            self._reply()  # its "ready"
            self._ready = True
        return self._ready

    def _free(self, *, wait: bool) -> bool:
        """Whether no transaction is being written (``wait`` for the one that is); raise if it was not committed."""
        if self._in_flight and (wait or self._pipe.poll()):
            self._settle()
        return not self._in_flight

    def _send_held(self, kind: str, *rest: Any) -> None:
        """Once the transaction before is committed, send the writes held so far (and ``rest``)."""
        self._settle()
        ops, self._held, self._held_batches = self._held, [], 0
        self._send(kind, ops, *rest)

    def _commit_held(self) -> None:
        """Send the writes held so far to be committed as one transaction (not waited for)."""
        self._send_held("commit")
        self._in_flight = True

    def _settle(self) -> None:
        """Wait for the transaction in flight to be committed (raise if it was not)."""
        if self._in_flight:
            self._in_flight = False
            self._reply()

    def _send(self, *message: Any) -> None:
        try:
            self._pipe.send(message)
        except ConnectionError:  # it has ended (at start-up, say): a broken pipe, or reset
            self._stopped()

    def _reply(self) -> Any:
        try:
            kind, *rest = self._pipe.recv()
        except (EOFError, ConnectionError):  # it has ended, having read what was sent or not
            self._stopped()
        if kind == "error":
            raise WriterError(rest[0])
        return rest

    def _stopped(self) -> NoReturn:
        try:  # the pipe ends as the process does; wait for its exit code
            code = self._process.wait(5)
        except subprocess.TimeoutExpired:
            code = None
        msg = f"the read-model writer stopped (exit code {code})"
        raise WriterError(msg) from None


BOOT = "import sys; sys.path[:] = sys.argv[2:]; from ledger.adapters.writer import main; main(int(sys.argv[1]))"
"""The writer's interpreter: the runner's import path, then :func:`main` on the pipe's descriptor."""


def main(fd: int) -> None:
    """The writer process: its end of the pipe is descriptor ``fd``; the store comes first through it."""
    pipe = PipeEnd(fd)
    try:
        _, store = pipe.recv()
    except EOFError:  # the runner is gone before it said where
        return
    serve(store, pipe)


def serve(store: Store, pipe: PipeEnd) -> None:
    """The writer's loop: run each message's writes; commit, or answer a query; until told to stop.

    Told to stop, it closes its connections, says so, and ends at once, as a forked child does:
    an interpreter's own shutdown, undoing every module it imported, is time the runner would
    spend waiting for it.
    """
    engine = store.engine()
    stopped = False
    with engine.connect() as conn:
        pipe.send(("ready",))
        while True:
            try:
                message = pipe.recv()
            except EOFError:  # the runner is gone: what this batch wrote is rolled back
                break
            if message[0] == "stop":
                stopped = True
                break
            try:
                for write, args in message[1]:
                    write(conn, *args)
                if message[0] == "commit":
                    conn.commit()
                    pipe.send(("committed",))
                else:
                    result = conn.exec_driver_sql(message[2], message[3])
                    pipe.send(("rows", list(result.keys()), [tuple(row) for row in result]))
            except Exception:  # the runner raises it; the batch is not committed
                conn.rollback()
                pipe.send(("error", traceback.format_exc()))
    engine.dispose()
    if stopped:
        pipe.send(("stopped",))
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)
