"""Feeds the event log to the read models, a batch at a time, exactly once.

Each batch is one transaction: the views' rows and their positions in the log are written
together, so a crash between batches loses nothing and repeats nothing. ``catch_up`` reads
from the lowest position any view has reached; ``rebuild`` empties the rebuildable views
and reads the whole log again.

Several processes may catch up on one store at once (two ingests, the service's workers):
each batch's transaction first locks the views' positions (:func:`locked_positions`) and
reads them again under the lock, so a batch another process has already written is passed
over event by event, and a position never moves back. The batches of different processes
are serialised; none is written twice. A rebuild is the operator's alone: it empties the
tables while it runs.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from sqlalchemy import inspect, literal_column, select, update
from sqlalchemy.exc import OperationalError
from tqdm import tqdm

from ledger.adapters.collector import batch_collection
from ledger.adapters.seam import head_query, log_reader
from ledger.adapters.store import autocommitting
from ledger.adapters.writer import Deferred, Writer
from ledger.projections.accounts import AccountsView
from ledger.projections.base import Record, iso, metadata, positions
from ledger.projections.caps import CapsView
from ledger.projections.chain import ChainView
from ledger.projections.clearing import ClearingView
from ledger.projections.deadlines import DeadlinesView
from ledger.projections.journal import JournalView
from ledger.projections.payloads import parser
from ledger.projections.prepayments import PrepaymentsView
from ledger.projections.roster import RosterView
from ledger.projections.settlements import SettlementsView
from ledger.projections.standing import StandingView

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence

    from eventsourcing.persistence import Notification
    from sqlalchemy import Connection, Engine, Table

    from ledger.adapters.store import Store
    from ledger.adapters.transcodings import LedgerTranscoder
    from ledger.projections.base import View


def all_views() -> list[View]:
    """Every read model, the log's seal first."""
    return [ChainView(), RosterView(), StandingView(), SettlementsView(), AccountsView(), CapsView(),
            PrepaymentsView(), ClearingView(), JournalView(), DeadlinesView()]


class EventSource:
    """Where the runner reads events: a notification reader and the transcoder of their payloads.

    ``select(start, limit, stop, topics)`` returns the events from position ``start`` on, up to
    ``stop``, of the given topics only (all topics when empty): a rebuild reads only what its
    views follow. ``read_ahead``: reading waits mostly on a database server, so the next batch
    is read while the last is processed. (On SQLite, in process, making the rows holds the
    interpreter, so reading ahead only pays on PostgreSQL; figures in docs/benchmarks.md.)
    ``head_query``: SQL giving ``head()`` in the views' own database, when the log is there.
    """

    def __init__(self, select: Callable[[int, int, int | None, Sequence[str]], Sequence[Notification]],
                 transcoder: LedgerTranscoder, head: Callable[[], int | None], *, read_ahead: bool = False,
                 head_query: str | None = None) -> None:
        self.select = select
        self.transcoder = transcoder
        self.head = head
        self.read_ahead = read_ahead
        self.head_query = head_query

    @classmethod
    def of(cls, app: Any) -> EventSource:
        """The log of a running application."""
        return cls.on(app.recorder, app.mapper.transcoder, app.store.kind)

    @classmethod
    def on(cls, recorder: Any, transcoder: LedgerTranscoder, kind: str) -> EventSource:
        """The log ``recorder`` keeps in a store of ``kind`` (``sqlite``, ``postgresql``), written by ``transcoder``."""
        return cls(
            select=log_reader(recorder),
            transcoder=transcoder,
            head=recorder.max_notification_id,
            read_ahead=kind == "postgresql",
            head_query=head_query(recorder),
        )

    def batches(self, start: int, head: int | None, topics: Sequence[str], size: int,
                ) -> Iterator[Sequence[Notification]]:
        """The events from ``start`` through ``head`` (to the end if None), ``size`` at a time.

        With ``read_ahead`` each batch is read while the one before is processed; a read of at
        most one batch (a query's catch-up, a booking's) reads in place: a thread would cost
        more than it saves.
        """
        def read(position: int) -> Sequence[Notification]:
            return self.select(position, size, head, topics)

        if not self.read_ahead or (head is not None and head - start < size):
            while (head is None or start <= head) and (notifications := read(start)):
                yield notifications
                start = notifications[-1].id + 1
            return
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="log-reader") as reader:
            ahead = reader.submit(read, start)
            while notifications := ahead.result():
                last = notifications[-1].id
                if head is not None and last >= head:
                    yield notifications
                    return
                ahead = reader.submit(read, last + 1)
                yield notifications


class ProjectionRunner:
    """Keeps a set of views up to date with a log."""

    def __init__(self, source: EventSource, engine: Engine, views: list[View] | None = None,
                 batch_size: int = 5000, store: Store | None = None) -> None:
        self.source = source
        self.engine = engine
        self.reader = autocommitting(engine)
        """For queries of one statement each (``ledger.adapters.store.autocommitting``)."""
        self.views = views if views is not None else all_views()
        self.batch_size = batch_size
        self.store = store
        """Where ``engine`` points, for a rebuild's writer process (:mod:`ledger.adapters.writer`);
        without it a rebuild writes in this process."""
        self.seconds = 0.0
        """Time spent catching up, so a benchmark can tell booking from projecting."""
        self._ready = False
        self._readers: dict[str, tuple[list[View], Callable[[bytes], dict[str, Any]]]] = {}
        """Per topic, the views that follow it and how its payloads are parsed for them."""
        self._with_head = None if source.head_query is None else select(
            positions.c.name, positions.c.position, literal_column(f"({source.head_query})"))
        """The views' positions and the log's head in one statement (one round trip on PostgreSQL)."""

    def setup(self) -> None:
        """Create the tables (once) and a position for each view."""
        if self._ready:
            return
        self._empty_reshaped()
        tables = [positions, *(t for v in self.views for t in v.tables)]
        for attempt in range(len(tables) + 1):
            try:
                metadata.create_all(self.engine, tables=tables)
                break
            except OperationalError:
                # Another process created a table between this one's look and its create (SQLite
                # takes no lock across the two): look again. Each failure is a table created
                # meanwhile, so there cannot be more failures than tables.
                if attempt == len(tables):
                    raise
        with self.engine.begin() as conn:
            known = set(locked_positions(conn))
            _make_missing_indexes(conn, tables)
            missing = [{"name": v.name, "position": 0} for v in self.views if v.name not in known]
            if missing:
                conn.execute(positions.insert(), missing)
        self._ready = True

    def _empty_reshaped(self) -> None:
        """Drop the tables of each view a new version reshaped, and set its position back to the log's start.

        ``create_all`` only makes missing tables: a store made by an earlier version keeps a
        view's old tables (a column gone, a table added since). Such a view reads the whole log
        again at the next catch-up, as in a rebuild of that view alone; the others keep theirs.
        """
        columns = {name: {c["name"] for c in found}
                   for (_schema, name), found in inspect(self.engine).get_multi_columns().items()}
        reshaped = [v for v in self.views if v.rebuildable and _reshaped(v.tables, columns)]
        if not reshaped:
            return
        with self.engine.begin() as conn:
            if positions.name in columns:
                conn.execute(update(positions).where(positions.c.name.in_([v.name for v in reshaped]))
                             .values(position=0))
            metadata.drop_all(conn, tables=[t for v in reshaped for t in v.tables if t.name in columns])

    def positions(self) -> dict[str, int]:
        """How far each view has read."""
        self.setup()
        with self.reader.connect() as conn:
            rows = conn.execute(select(positions.c.name, positions.c.position)).all()
        return self._ours(rows)

    def _ours(self, rows: Sequence[Any]) -> dict[str, int]:
        ours = {v.name for v in self.views}
        return {row[0]: row[1] for row in rows if row[0] in ours}

    def catch_up(self, *, progress: bool = False, stop: int | None = None) -> int:
        """Process every event the views have not seen (up to ``stop``); returns how many were read.

        Events of topics none of the views behind follow are passed over in the query, uncounted.

        A source that cannot tell its head (an export being streamed) is read until it ends.
        """
        if stop is None and self._read_through_head():
            return 0
        with self._exclusive():
            return self._timed_catch_up(progress, stop, None)

    def _read_through_head(self) -> bool:
        """Every view has read the log's head already: looked at without the store's lock.

        A query at the counter catches up before it answers, and mostly finds nothing to read;
        on PostgreSQL the lock alone costs four round trips. A rebuild elsewhere sets the
        positions back to 0 before it begins, so a catch-up during one still waits for it.
        """
        if not self._ready:
            return False
        if self._with_head is None:
            head, done = self.source.head(), self.positions()
        else:
            with self.reader.connect() as conn:
                rows = conn.execute(self._with_head).all()
            head, done = (rows[0][2] if rows else None), self._ours(rows)
        return head is not None and min(done.values(), default=0) >= head

    @contextmanager
    def _exclusive(self) -> Iterator[None]:
        """One process or thread at a time writes these views (the store's lock; a scratch store needs none)."""
        if self.store is None:
            yield
            return
        with self.store.catch_up_lock(self.engine):
            yield

    def _timed_catch_up(self, progress: bool, stop: int | None, writer: Writer | None) -> int:
        started = time.perf_counter()
        try:
            return self._catch_up(progress, stop, writer)
        finally:
            self.seconds += time.perf_counter() - started

    def _catch_up(self, progress: bool, stop: int | None, writer: Writer | None) -> int:
        self.setup()
        done = self.positions()
        start = min(done.values()) + 1
        head = self.source.head()
        if stop is not None:
            head = stop if head is None else min(head, stop)
        if head is not None and start > head:
            return 0
        topics = self._followed(done, start)
        read = 0
        with tqdm(total=None if head is None else head - start + 1, desc="projecting", unit="ev",
                  disable=not progress, leave=False) as bar:
            for notifications in self.source.batches(start, head, topics, self.batch_size):
                self._process_batch(notifications, done, writer)
                read += len(notifications)
                bar.update(notifications[-1].id - start + 1)
                start = notifications[-1].id + 1
        if head is not None and start <= head:
            # The last events are of topics no view follows: the views have still read them.
            with self._batch(writer) as conn:
                self._refresh(conn, done, writer)
                self._advance(conn, done, head)
        return read

    def _followed(self, done: dict[str, int], start: int) -> list[str]:
        """The topics worth reading from ``start``: those the views behind follow (all if one follows all)."""
        behind = [v for v in self.views if done[v.name] < start]
        if any(not v.topics for v in behind):
            return []
        return sorted({t for v in behind for t in v.topics})

    @contextmanager
    def _batch(self, writer: Writer | None) -> Iterator[Connection]:
        """One batch's transaction: here, or recorded and committed by the writer."""
        if writer is None:
            with self.engine.begin() as conn:
                yield conn
            return
        deferred = Deferred(writer, self.engine.dialect)
        yield deferred  # type: ignore[misc]  # a Deferred stands in for the connection: it records the writes
        writer.commit(deferred.take())

    def _process_batch(self, notifications: Sequence[Notification], done: dict[str, int],
                       writer: Writer | None) -> None:
        transcoder, readers = self.source.transcoder, self._readers
        with self._batch(writer) as conn:
            self._refresh(conn, done, writer)
            # Only the views behind take part (the log's seal, up to date, need not look for its head).
            behind = [v for v in self.views if done[v.name] < notifications[-1].id]
            if not behind:
                return
            for view in behind:
                view.begin(conn)
            for n in notifications:
                reader = readers.get(n.topic)
                if reader is None:
                    reader = readers[n.topic] = self._reader(n.topic)
                interested, parse = reader
                if not interested:
                    continue
                payload = parse(n.state)
                day = payload.get("day")
                record = Record(n.id, str(n.originator_id), n.originator_version, n.topic, n.state, payload,
                                None if day is None else iso(day), transcoder)
                for view in interested:
                    if n.id > done[view.name]:
                        view.process(conn, record)
            for view in behind:
                view.flush(conn)
            self._advance(conn, done, notifications[-1].id)

    def _reader(self, topic: str) -> tuple[list[View], Callable[[bytes], dict[str, Any]]]:
        """The views following ``topic``, and a parser of the fields they read (all, unless each names its own)."""
        interested = [v for v in self.views if not v.topics or topic in v.topics]
        fields = [v.reads(topic) for v in interested]
        if not interested or None in fields:
            return interested, parser(None)
        # The runner reads each event's "day" itself (the record's day), whatever the views name.
        return interested, parser(tuple(sorted({"day", *(f for named in fields if named is not None for f in named)})))

    def _refresh(self, conn: Connection, done: dict[str, int], writer: Writer | None) -> None:
        """Lock the positions for this batch and take them as another process may have left them.

        A rebuild's writer process is the only writer while it runs (see the module's docstring).
        """
        if writer is None:
            fresh = locked_positions(conn)
            done.update((name, fresh[name]) for name in done if name in fresh)

    def _advance(self, conn: Connection, done: dict[str, int], last: int) -> None:
        """Record, in one statement, that every view has read the log through ``last`` (a position only moves on)."""
        behind = [view.name for view in self.views if done[view.name] < last]
        if not behind:
            return
        conn.execute(update(positions).where(positions.c.name.in_(behind), positions.c.position < last)
                     .values(position=last))
        done.update(dict.fromkeys(behind, last))

    @batch_collection()
    def rebuild(self, *, progress: bool = False, indexes: bool = True) -> int:
        """Empty the rebuildable views and read the whole log into them again.

        The tables' secondary indexes are made once the rows are in: building an index over a
        table costs less than keeping it up to date row by row. (An index marked
        ``rebuild_reads`` stays: the views' own updates look rows up by it. A view may also
        make one of the others itself, part-way, if an old event needs it: so the last step
        makes those still missing. A rebuild stopped part-way is left without the others until
        :meth:`setup` makes them, at the next start.) Without ``indexes``, the others are left out
        for good: the audit's scratch tables are read once, in key order, then thrown away. With
        a :attr:`store` and a log of more than one batch, the rows are written by a second process
        (:mod:`ledger.adapters.writer`).
        """
        self.setup()
        rebuilt = [v for v in self.views if v.rebuildable]
        tables = [t for v in rebuilt for t in v.tables]
        dropped = [i for t in tables for i in t.indexes if not i.info.get("rebuild_reads")]
        with self._exclusive(), self._writer() as writer:  # started first: it starts up while the old tables go
            with self.engine.begin() as conn:
                # One transaction: a rebuild killed here leaves the old views or the emptied ones, never
                # emptied views with their old positions. (The update comes first: on SQLite it is what
                # opens the transaction, which the tables' DDL then joins.)
                conn.execute(update(positions).where(positions.c.name.in_([v.name for v in rebuilt]))
                             .values(position=0))
                metadata.drop_all(conn, tables=tables)
                metadata.create_all(conn, tables=tables)
                for index in dropped:
                    index.drop(conn)
            read = self._timed_catch_up(progress, None, writer)
        if indexes:
            with self.engine.begin() as conn:
                _make_missing_indexes(conn, tables)
        return read

    @contextmanager
    def _writer(self) -> Iterator[Writer | None]:
        """A writer process for a rebuild, if the runner knows its store (stopped at once if the rebuild fails).

        A log of one batch or less is written here: the writer gains by writing one batch
        while the next is read, and its start (a new interpreter) would only be waited for.
        """
        head = self.source.head()
        if self.store is None or head is None or head <= self.batch_size:
            yield None
            return
        writer = Writer(self.store)
        try:
            yield writer
        except BaseException:
            writer.close(failed=True)
            raise
        writer.close()


def _reshaped(tables: Sequence[Table], columns: dict[str, set[str]]) -> bool:
    """Whether a view's tables in the database (``columns``) differ from ``tables``; False if it has none yet."""
    present = [t for t in tables if t.name in columns]
    return bool(present) and (len(present) < len(tables) or any(columns[t.name] != set(t.c.keys()) for t in present))


def locked_positions(conn: Connection) -> dict[str, int]:
    """Every view's position, locked until ``conn``'s transaction ends: one catching-up process at a time.

    On PostgreSQL the rows are locked (``FOR UPDATE``, which also returns them as last
    committed); SQLite locks the whole database for a writer, and a statement that writes
    (here one that changes nothing) takes that lock at once, waiting out another process's
    batch.
    """
    if conn.dialect.name == "sqlite":
        conn.execute(update(positions).where(positions.c.name == "").values(position=positions.c.position))
    rows = conn.execute(select(positions.c.name, positions.c.position).with_for_update()).all()
    return {name: position for name, position in rows}


INDEX_NAMES = {
    "sqlite": "SELECT name FROM sqlite_master WHERE type = 'index'",
    "postgresql": "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema()",
}
"""Every index of the database in one query (SQLAlchemy's per-index check costs a query each)."""


def _make_missing_indexes(conn: Connection, tables: Sequence[Table]) -> None:
    """Make the tables' indexes that are missing (at start-up, those a rebuild stopped part-way left out), one query."""
    present = set(conn.exec_driver_sql(INDEX_NAMES[conn.dialect.name]).scalars())
    for index in (i for t in tables for i in t.indexes):
        if index.name not in present:
            index.create(conn)
