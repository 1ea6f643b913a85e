"""A second process that writes a rebuild's rows while the first goes on reading the log.

A rebuild is bound by the interpreter: reading the log, parsing it and making the rows hold
it, and so does handing the rows to the database driver (on SQLite the database's own work
runs in the same process as well). The machine has more than one core, so a rebuild sends
each batch's writes to a writer process and goes on with the next batch meanwhile. (At 1M
events on SQLite, 2026-12-02, runs taken in turn: in one process 54.6 and 62.1 s, with the
writer 46.1 and 43.1 s; a prototype's writer was busy about 20 s of it.)

The views do not know: they write through a :class:`Deferred` connection, which records
their writes in order. The writer runs each batch's writes in one transaction with the
views' positions, as the runner does in one process, so a rebuild stopped part-way is left
exactly as one would be without the writer. A view that reads its own tables mid-batch
(:meth:`projections.caps.CapsView._looked_up`) has the writer run the read, after the writes
before it and in the same transaction, so it sees them. At most one batch is being written
while the next is processed: the runner waits for a batch to be committed before it sends
the next, so a failure in the writer stops the rebuild at the next batch.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import traceback
from typing import TYPE_CHECKING, Any, NoReturn

from sqlalchemy import Select
from sqlalchemy.engine.result import IteratorResult, SimpleResultMetaData
from sqlalchemy.schema import ExecutableDDLElement

if TYPE_CHECKING:
    from collections.abc import Callable
    from multiprocessing.connection import Connection as Pipe

    from sqlalchemy import Connection, Dialect
    from sqlalchemy.sql import Executable

    from ledger.store import Store

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

    def execute(self, clause: Executable) -> IteratorResult | None:
        """A write is recorded; a query is run by the writer after the writes before it, and answered."""
        compiled = clause.compile(dialect=self.dialect, compile_kwargs={"render_postcompile": True})
        if isinstance(clause, ExecutableDDLElement):  # no parameters
            self.defer(driver_sql, str(compiled), None)
            return None
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


class Writer:
    """The writer process, and the runner's end of the pipe to it."""

    def __init__(self, store: Store) -> None:
        context = multiprocessing.get_context("spawn")  # a fork would copy open database connections
        self._pipe, theirs = context.Pipe()
        self._process = context.Process(target=serve, args=(store, theirs), name="read-model-writer", daemon=True)
        self._process.start()
        theirs.close()
        self._in_flight = False
        """Whether a batch was sent and its commit not yet acknowledged (never more than one)."""

    def commit(self, ops: list[Op]) -> None:
        """Send a batch's writes, to be committed together, once the batch before is committed."""
        self._settle()
        self._send("commit", ops)
        self._in_flight = True

    def query(self, ops: list[Op], statement: str, parameters: Any) -> tuple[list[str], list[tuple[Any, ...]]]:
        """Run ``ops`` (not yet committed), then the query; its column names and rows."""
        self._settle()
        self._send("query", ops, statement, parameters)
        keys, rows = self._reply()
        return keys, rows

    def close(self, *, failed: bool = False) -> None:
        """Wait for the last batch and stop the writer; if the rebuild ``failed``, stop it at once."""
        try:
            if failed:
                self._process.terminate()
            else:
                self._settle()
                self._send("stop")
                self._reply()
        finally:
            self._pipe.close()  # a writer still waiting reads the end of the pipe, and stops
            self._process.join()

    def _settle(self) -> None:
        """Wait for the batch in flight to be committed (raise if it was not)."""
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
        self._process.join(5)  # the pipe ends as the process does; wait for its exit code
        msg = f"the read-model writer stopped (exit code {self._process.exitcode})"
        raise WriterError(msg) from None


def serve(store: Store, pipe: Pipe) -> None:
    """The writer's loop: run each message's writes; commit, or answer a query; until told to stop.

    Told to stop, it closes its connections, says so, and ends at once, as a forked child does:
    a spawned interpreter's own shutdown, undoing every module it imported, took 0.1–0.2 s of
    a 2.5 s rebuild that the runner spent waiting for it (0.1M events on SQLite).
    """
    engine = store.engine()
    stopped = False
    with engine.connect() as conn:
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
