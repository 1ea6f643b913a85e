"""The one place the ledger reaches past ``eventsourcing`` 9.5's public API, for speed.

Five shortcuts, each pinned by a test of its own in ``tests/adapters/test_library_contract.py``
so that a library upgrade that breaks one fails there, by name:

- **Saving** (:meth:`Aggregates.save`): a unit of work's events go straight to the recorder,
  and snapshots are taken from the aggregates in memory, not through ``Application.save``.
- **Inserting** (:func:`insert_events`): the events and their snapshots in one transaction
  (through the SQLite recorders' ``_insert_events``), each snapshot deleting its stream's
  earlier ones; on PostgreSQL as four arrays in binary, not as one array of the recorder's
  composite type in text. The streams a batch read and does not write are checked, in the
  same transaction, to be still at the versions read, and, if asked, that no event of some
  topics was appended past a position.
- **Asking which ids exist** (:func:`existing_ids`): one query on the events table the core
  recorders write, instead of one question per id.
- **Reading the log in bulk** (:func:`log_reader`): plain rows from the same table, instead of
  a ``Notification`` object per event (on PostgreSQL in binary, as the aggregates' reads
  below); and its head in the read models' own query (:func:`head_query`).
- **Loading many aggregates at once** (:meth:`Aggregates.load_many`, :func:`select_streams`):
  the latest snapshots and the later events of a batch of streams in a query per chunk, instead
  of two queries per aggregate; and one aggregate in one query (:func:`select_stream`).

(A fifth, building an aggregate from its first event without the library's signature
matching, is the domain's own: ``ledger.domain.aggregate.Created.mutate``, pinned by the
same test file.) Each shortcut knows the two core recorders (SQLite and PostgreSQL); with any
other recorder (``eventsourcing-sqlalchemy``) the library's own public path is used.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from functools import cache
from typing import TYPE_CHECKING, Any, NamedTuple
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.domain import Snapshot
from eventsourcing.persistence import IntegrityError, InterfaceError, OperationalError, StoredEvent
from eventsourcing.postgres import PostgresAggregateRecorder, PostgresApplicationRecorder
from eventsourcing.sqlite import SQLiteAggregateRecorder, SQLiteApplicationRecorder
from eventsourcing.utils import retry
from psycopg import Rollback
from psycopg.rows import tuple_row
from psycopg.sql import SQL, Identifier

from ledger.adapters import statistics
from ledger.adapters.arrays import array_literal
from ledger.domain.aggregate import LedgerAggregate

if TYPE_CHECKING:
    import psycopg
    from eventsourcing.application import Application
    from eventsourcing.persistence import AggregateRecorder, Recorder

CHUNK = 500
"""Ids asked about per query (SQLite allows 999 parameters a statement)."""


@cache
def _sql(template: str, *names: str) -> bytes:
    """``template`` with each ``{}`` filled by one of ``names``, quoted as an identifier; composed once.

    psycopg composes a ``Composed`` query again at every execution (escaping each identifier
    through the connection): in a sample of the 10M city's booking that was about 2 % of booking
    proper. Given bytes, it only looks up what it parsed the last time.
    """
    return SQL(template).format(*map(Identifier, names)).as_bytes(None)


def _binary(conn: psycopg.Connection[Any]) -> psycopg.Cursor[tuple[Any, ...]]:
    """A cursor on ``conn`` whose rows come in PostgreSQL's binary format, as tuples of the same types as in text.

    In text a ``bytea`` comes hex-encoded, twice its size, and is decoded by the client while
    it holds the interpreter: 600,000 events of 400 bytes took 0.77 s of the reader's processor
    in text and 0.31 s in binary (docs/benchmarks.md).
    """
    return conn.cursor(row_factory=tuple_row, binary=True)


class Aggregates:
    """The event store as a unit of work uses it: load, ask which ids exist, save a batch."""

    def __init__(self, app: Application[UUID], intervals: Mapping[type[LedgerAggregate], int]) -> None:
        self.app = app
        self.intervals = dict(intervals)
        """Snapshot every so many events, per aggregate type; types not named are replayed from events."""

    def load(self, cls: type[LedgerAggregate], aggregate_id: UUID) -> LedgerAggregate | None:
        """The aggregate from its latest snapshot and later events (or its events alone), None if unknown.

        A snapshotted kind is read in one query (:func:`select_stream`), with another recorder by
        the repository.
        """
        if issubclass(cls, tuple(self.intervals)):
            read = None if self.app.snapshots is None else select_stream(
                self.app.recorder, self.app.snapshots.recorder, aggregate_id)
            if read is None:
                try:
                    return self.app.repository.get(aggregate_id)
                except AggregateNotFoundError:
                    return None
            decode: Callable[[StoredEvent], Any] = self.app.mapper.to_domain_event
            latest, events = read
            found = None if latest is None else decode(latest).mutate(None)
            for stored in events:
                found = decode(stored).mutate(found)
            return found
        aggregate = None
        for event in self.app.events.get(aggregate_id):
            aggregate = event.mutate(aggregate)  # type: ignore[attr-defined]
        return aggregate

    def load_many(self, cls: type[LedgerAggregate], ids: Collection[UUID]) -> dict[UUID, LedgerAggregate] | None:
        """The stored aggregates among ``ids``, each as :meth:`load` gives it; None if the store cannot tell.

        A month close reads a page of members at once (those it cannot credit from their
        standing): the repository asks twice per member (its snapshot, then the events after
        it), this asks once per chunk of members for each.
        """
        latest: dict[Any, StoredEvent] = {}
        if issubclass(cls, tuple(self.intervals)) and self.app.snapshots is not None:
            snapshots = select_streams(self.app.snapshots.recorder, dict.fromkeys(ids, 0))
            if snapshots is None:
                return None
            latest = {s.originator_id: s for s in snapshots}  # in version order: the last one stays
        after = {i: latest[i].originator_version if i in latest else 0 for i in ids}
        events = select_streams(self.app.recorder, after)
        if events is None:
            return None
        decode: Callable[[StoredEvent], Any] = self.app.mapper.to_domain_event
        found: dict[Any, LedgerAggregate] = {i: decode(s).mutate(None) for i, s in latest.items()}
        for stored in events:
            found[stored.originator_id] = decode(stored).mutate(found.get(stored.originator_id))
        return found

    def existing(self, ids: Collection[UUID]) -> set[UUID] | None:
        """Which of ``ids`` have a stream (see :func:`existing_ids`)."""
        return existing_ids(self.app.recorder, ids)

    def would_snapshot(self, cls: type[LedgerAggregate], version: int, events: int) -> bool:
        """Whether saving ``events`` new events of an aggregate at ``version`` snapshots it (see :meth:`save`)."""
        interval = self.intervals.get(cls)
        return interval is not None and interval > 0 and (version + events) // interval > version // interval

    def save(self, aggregates: list[LedgerAggregate], read: Collection[LedgerAggregate] = (),
             quiet: Quiet | None = None) -> None:
        """Save the aggregates' pending events and the snapshots they call for, in one transaction.

        ``read``: aggregates the batch read and does not change, which must still be at their
        versions when it is saved (:func:`insert_events`' ``heads``); ``quiet``: see there.

        ``Application.save`` would first ask of every object whether it is a domain event, an
        ``isinstance`` test against a runtime protocol that costs more than encoding the event;
        a unit of work only ever saves aggregates, so it collects their events directly. They go
        straight to the recorder: the library's event store would also wrap each one and its
        notification in a ``Recording`` for ``Application._notify``, a hook this application
        leaves empty.

        An aggregate whose new events pass a multiple of its snapshotting interval is
        snapshotted as it stands in memory, at its latest version (a snapshot of any version
        serves the repository). The library would read each one back from the store at the
        multiple itself and save each snapshot in a transaction of its own. A transaction more
        per batch cost more than the snapshots themselves (``docs/benchmarks.md``, sixth set).
        """
        stored: list[StoredEvent] = []
        crossed: list[LedgerAggregate] = []
        for aggregate in aggregates:
            events = aggregate.collect_events()
            stored.extend(map(self.app.mapper.to_stored_event, events))
            if self.would_snapshot(type(aggregate), aggregate.version - len(events), len(events)):
                crossed.append(aggregate)
        snapshots = None
        if crossed and self.app.snapshots is not None:
            snapshots = Rows(self.app.snapshots.recorder,
                             [self.app.snapshots.mapper.to_stored_event(Snapshot.take(a)) for a in crossed],
                             replaces=True)
        if quiet is not None:
            decode, matters = self.app.mapper.to_domain_event, quiet.matters
            quiet = quiet._replace(matters=lambda row: matters(decode(row)))
        insert_events(self.app.recorder, stored, snapshots, {a.id: a.version for a in read}, quiet)


class Rows(NamedTuple):
    """Stored events (or snapshots) and the recorder whose table they go to."""

    recorder: AggregateRecorder
    stored: Sequence[StoredEvent]
    replaces: bool = False
    """Each row replaces its stream's earlier rows in the table: a snapshot, of which only the latest is read."""


class Quiet(NamedTuple):
    """No event of ``topics`` for which ``matters`` holds may have been appended past position ``since``.

    ``matters`` is asked of each such event: decoded, of a quiet given to :meth:`Aggregates.save`;
    as stored, of one given to :func:`insert_events`, which has no mapper (``Aggregates.save``
    wraps it so).
    """

    since: int
    topics: Collection[str]
    matters: Callable[[Any], bool]


class MovedOn(IntegrityError):
    """What the batch read has changed: another writer appended to a stream it read, or an event it must not miss."""


def insert_events(recorder: AggregateRecorder, stored: Sequence[StoredEvent], also: Rows | None = None,
                  heads: Mapping[UUID, int] | None = None, quiet: Quiet | None = None) -> None:
    """Append ``stored``, and ``also`` (snapshots) to its own table, in one transaction.

    ``heads``: streams read and not written, at the versions read; ``quiet``: events that must
    not have been appended past a position (:class:`Quiet`). Once the transaction holds the log's
    write lock (on SQLite after its first insert, on PostgreSQL the recorder's lock on the
    table), both are looked at again; if one has changed, nothing is written and
    :class:`MovedOn` (for ``quiet``, :class:`Appended`) is raised. (Not with another recorder,
    which cannot be asked in the transaction.)

    Rows that :attr:`~Rows.replaces` delete their streams' earlier rows in the same transaction:
    the repository and :meth:`Aggregates.load_many` use only a stream's latest snapshot, and a
    member snapshotted every 10 events would otherwise keep about five a year, which a load of
    many members reads in full. (Not with another recorder, which takes the library's path.)

    On SQLite both tables take one transaction, each written with one ``executemany`` (the
    aggregate recorder's ``_insert_events``): the application recorder's own inserts the log's
    rows one statement at a time, to return their positions, which the ledger never reads.

    The PostgreSQL recorders pass the events as an array of a composite type, which psycopg
    writes as text in Python, escaping every field with a regular expression: for a state of a
    kilobyte, hex-encoded and then escaped, that was about 54 microseconds an event, more than
    half of what the bare library takes to append one. This sends the same rows as four arrays
    in binary, in the recorder's transaction: for the log, its lock on the table (so positions
    are given in commit order) and its notification; for the log and the snapshots alike, a
    duplicate version refused as ``IntegrityError`` (and the whole transaction with it). Once
    they are committed, the log's rows are counted towards its next ``ANALYZE``
    (:mod:`ledger.adapters.statistics`).
    """
    tables = [Rows(recorder, stored), *([also] if also is not None and also.stored else [])]
    home = getattr(recorder, "datastore", None)
    shared = home is not None and all(getattr(rows.recorder, "datastore", None) is home for rows in tables)
    if isinstance(recorder, SQLiteAggregateRecorder) and shared:
        with recorder.datastore.transaction(commit=True) as cursor:
            for rows in tables:
                assert isinstance(rows.recorder, SQLiteAggregateRecorder)
                SQLiteAggregateRecorder._insert_events(rows.recorder, cursor, rows.stored)
                if rows.replaces:
                    cursor.executemany(f"DELETE FROM {rows.recorder.events_table_name} "
                                       "WHERE originator_id = ? AND originator_version < ?",
                                       [(UUID(str(s.originator_id)).hex, s.originator_version) for s in rows.stored])
            if heads:
                cursor.execute(f"SELECT originator_id, MAX(originator_version) FROM {recorder.events_table_name} "
                               f"WHERE originator_id IN ({', '.join('?' * len(heads))}) GROUP BY originator_id",
                               [i.hex for i in heads])
                _check_heads(heads, cursor.fetchall())
            if quiet:
                cursor.execute(f"SELECT rowid, originator_id, originator_version, topic, state "
                               f"FROM {recorder.events_table_name} WHERE rowid > ? "
                               f"AND topic IN ({', '.join('?' * len(quiet.topics))})", [quiet.since, *quiet.topics])
                _check_quiet(quiet, [(row[0], UUID(row[1]), *row[2:]) for row in cursor.fetchall()])
    elif isinstance(recorder, PostgresAggregateRecorder) and not recorder.datastore.enable_db_functions and shared:
        _insert_postgres(recorder, tables, heads or {}, quiet)
        if isinstance(recorder, PostgresApplicationRecorder) and stored:
            statistics.appended(recorder, len(stored))
    else:
        for rows in tables:
            rows.recorder.insert_events(rows.stored)


def _check_heads(heads: Mapping[UUID, int], rows: Sequence[Any]) -> None:
    """Raise :class:`MovedOn` if a stream's version in ``rows`` (id, version) is not the one in ``heads``."""
    found = {UUID(str(i)): version for i, version in rows}
    moved = sorted(str(i) for i, version in heads.items() if found.get(i) != version)
    if moved:
        msg = f"streams read by the batch were written meanwhile: {', '.join(moved)}"
        raise MovedOn(msg)


class Appended(MovedOn):
    """An event of a topic the batch asked to be quiet was appended past the position it looked at."""


def _check_quiet(quiet: Quiet, rows: Sequence[Any]) -> None:
    """Raise :class:`Appended` if ``rows`` (position, id, version, topic, state) hold an event ``quiet`` rules out."""
    for position, *stored in rows:
        if quiet.matters(StoredEvent(*stored)):
            msg = f"position {position}: an event of {', '.join(sorted(quiet.topics))} past position {quiet.since}"
            raise Appended(msg)


@retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
def _insert_postgres(recorder: PostgresAggregateRecorder, tables: list[Rows], heads: Mapping[UUID, int],
                     quiet: Quiet | None) -> None:
    """Each of ``tables``' rows into its recorder's table, in ``recorder``'s transaction, checked as asked."""
    tables = [rows for rows in tables if rows.stored]
    if not tables:
        return
    datastore = recorder.datastore
    failed: Exception | None = None
    with datastore.get_connection() as conn:
        with (conn.pipeline() as pipeline, conn.transaction(), conn.cursor() as cursor,
              conn.cursor(row_factory=tuple_row) as check, conn.cursor(row_factory=tuple_row) as appended):
            try:
                if isinstance(recorder, PostgresApplicationRecorder):  # the log, not the snapshots
                    for statement in recorder.lock_table_statements:
                        cursor.execute(statement, prepare=True)
                    cursor.execute(_sql("NOTIFY {}", recorder.channel_name))
                for rows in tables:
                    assert isinstance(rows.recorder, PostgresAggregateRecorder)
                    cursor.execute(_unnest_insert(datastore.schema, rows.recorder, datastore.originator_id_type),
                                   _columns(rows.stored), prepare=True)
                    if rows.replaces:
                        cursor.execute(_unnest_delete_earlier(datastore.schema, rows.recorder,
                                                              datastore.originator_id_type),
                                       _columns(rows.stored)[:2], prepare=True)
                if heads:
                    check.execute(_sql("SELECT originator_id, max(originator_version) FROM {}.{} "
                                       "WHERE originator_id = ANY(%b::{}[]) GROUP BY originator_id",
                                       datastore.schema, recorder.events_table_name, datastore.originator_id_type),
                                  [list(heads)], prepare=True)
                if quiet:
                    appended.execute(_sql("SELECT notification_id, originator_id, originator_version, topic, state "
                                          "FROM {}.{} WHERE notification_id > %s AND topic = ANY(%s)",
                                          datastore.schema, recorder.events_table_name),
                                     [quiet.since, list(quiet.topics)], prepare=True)
                pipeline.sync()  # a duplicate version is raised here, not at the commit
                if heads:
                    _check_heads(heads, check.fetchall())
                if quiet:
                    _check_quiet(quiet, appended.fetchall())
            except Exception as e:  # re-raised outside the pipeline, as the recorder does
                failed = e
            if failed is not None:
                raise Rollback  # the transaction ends here, rolled back (a duplicate has aborted it already)
        if failed is not None:
            raise failed


def _unnest_insert(schema: str, recorder: PostgresAggregateRecorder, id_type: str) -> bytes:
    return _sql("INSERT INTO {}.{} (originator_id, originator_version, topic, state) "
                "SELECT * FROM unnest(%b::{}[], %b::bigint[], %b::text[], %b::bytea[])",
                schema, recorder.events_table_name, id_type)


def _unnest_delete_earlier(schema: str, recorder: PostgresAggregateRecorder, id_type: str) -> bytes:
    return _sql("DELETE FROM {}.{} t USING unnest(%b::{}[], %b::bigint[]) AS latest(id, version) "
                "WHERE t.originator_id = latest.id AND t.originator_version < latest.version",
                schema, recorder.events_table_name, id_type)


def _columns(stored: Sequence[StoredEvent]) -> tuple[list[Any], ...]:
    return ([e.originator_id for e in stored], [e.originator_version for e in stored],
            [e.topic for e in stored], [e.state for e in stored])


def existing_ids(recorder: Recorder, ids: Collection[UUID]) -> set[UUID] | None:
    """The ids among ``ids`` that have a stream in the event store; None if the recorder is not known.

    A batch of new settlements looks up ids that mostly do not exist yet (the settlement's own,
    its visit's); the recorders answer one id at a time, this asks the events table once. A
    stale answer is harmless: an id created meanwhile by another writer makes the batch's
    commit conflict, and the batch is retried from the store.
    """
    wanted = list(ids)
    if not wanted:
        return set()
    if isinstance(recorder, SQLiteAggregateRecorder):
        found: set[UUID] = set()
        with recorder.datastore.transaction(commit=False) as cursor:
            for i in range(0, len(wanted), CHUNK):
                chunk = [u.hex for u in wanted[i:i + CHUNK]]
                cursor.execute(
                    f"SELECT originator_id FROM {recorder.events_table_name} "
                    f"WHERE originator_version = 1 AND originator_id IN ({','.join('?' * len(chunk))})",
                    chunk,
                )
                found.update(UUID(row[0]) for row in cursor.fetchall())
        return found
    if isinstance(recorder, PostgresAggregateRecorder):
        with recorder.datastore.transaction(commit=False) as cursor:
            cursor.execute(_sql("SELECT originator_id FROM {}.{} WHERE originator_version = 1 "
                                "AND originator_id = ANY(%s::uuid[])", recorder.datastore.schema,
                                recorder.events_table_name), (array_literal(wanted),))
            return {row["originator_id"] for row in cursor.fetchall()}
    return None


STREAMS_AFTER = ("SELECT e.originator_id, e.originator_version, e.topic, e.state "
                 "FROM unnest(%s::uuid[], %s::bigint[]) AS wanted(id, after) "
                 "CROSS JOIN LATERAL (SELECT * FROM {}.{} s WHERE s.originator_id = wanted.id "
                 "AND s.originator_version > wanted.after OFFSET 0) e "
                 "ORDER BY e.originator_id, e.originator_version")
"""``select_streams`` on PostgreSQL, for a schema and a table."""


def select_streams(recorder: Recorder, after: Mapping[UUID, int]) -> list[StoredEvent] | None:
    """The stored events of each stream in ``after`` past the version it maps to, by stream then version.

    None if the recorder is not one of the two core ones. Each chunk of streams is one query
    joining the wanted (stream, version) pairs to the table's primary key. On PostgreSQL each
    stream is looked up on its own (a lateral subquery, kept from being merged into a join by
    ``OFFSET 0``): right after a bulk load, before the table is first analysed, the planner
    took the whole table for a few streams and chose a merge join over all of the primary
    key, 0.7 s for 2,000 streams of a 400,000-event log instead of under 0.1 s.
    """
    wanted = list(after.items())
    if isinstance(recorder, SQLiteAggregateRecorder):
        found: list[StoredEvent] = []
        with recorder.datastore.transaction(commit=False) as cursor:
            for i in range(0, len(wanted), CHUNK // 2):  # two parameters a stream
                chunk = wanted[i:i + CHUNK // 2]
                cursor.execute(
                    f"WITH wanted(id, after) AS (VALUES {','.join(['(?,?)'] * len(chunk))}) "
                    f"SELECT e.originator_id, e.originator_version, e.topic, e.state FROM wanted "
                    f"JOIN {recorder.events_table_name} e ON e.originator_id = wanted.id "
                    f"AND e.originator_version > wanted.after ORDER BY e.originator_id, e.originator_version",
                    [value for stream, version in chunk for value in (stream.hex, version)],
                )
                found.extend(StoredEvent(UUID(row[0]), row[1], row[2], row[3]) for row in cursor.fetchall())
        return found
    if isinstance(recorder, PostgresAggregateRecorder):
        table = _sql(STREAMS_AFTER, recorder.datastore.schema, recorder.events_table_name)
        with recorder.datastore.get_connection() as conn, _binary(conn) as cursor:
            cursor.execute(table, (array_literal(stream for stream, _ in wanted),
                                   array_literal(version for _, version in wanted)))
            return [StoredEvent(*row) for row in cursor.fetchall()]
    return None


def stream_heads(recorder: Recorder, ids: Collection[UUID]) -> dict[UUID, tuple[int, int]] | None:
    """Each stored stream of ``ids`` with its head: (latest version, log position of that event).

    None if the recorder is not one of the two core application recorders. On SQLite the
    position is the row's ``rowid``, which every entry of the primary key's index carries; on
    PostgreSQL each stream's last row is looked up on its own, down the primary key.
    """
    wanted = list(ids)
    if isinstance(recorder, SQLiteApplicationRecorder):
        heads: dict[UUID, tuple[int, int]] = {}
        with recorder.datastore.transaction(commit=False) as cursor:
            for i in range(0, len(wanted), CHUNK):
                chunk = wanted[i:i + CHUNK]
                cursor.execute(f"SELECT originator_id, MAX(originator_version), MAX(rowid) "
                               f"FROM {recorder.events_table_name} WHERE originator_id IN "
                               f"({','.join('?' * len(chunk))}) GROUP BY originator_id", [s.hex for s in chunk])
                heads.update((UUID(row[0]), (row[1], row[2])) for row in cursor.fetchall())
        return heads
    if isinstance(recorder, PostgresApplicationRecorder):
        last = _sql("SELECT e.originator_id, e.originator_version, e.notification_id "
                    "FROM unnest(%s::uuid[]) AS wanted(id) CROSS JOIN LATERAL (SELECT originator_id, "
                    "originator_version, notification_id FROM {}.{} s WHERE s.originator_id = wanted.id "
                    "ORDER BY originator_version DESC LIMIT 1) e",
                    recorder.datastore.schema, recorder.events_table_name)
        with recorder.datastore.get_connection() as conn, conn.cursor(row_factory=tuple_row) as cursor:
            cursor.execute(last, (array_literal(wanted),))
            return {row[0]: (row[1], row[2]) for row in cursor.fetchall()}
    return None


STREAM_FROM_SNAPSHOT = ("WITH latest AS (SELECT originator_version, topic, state FROM {snapshots} "
                        "WHERE originator_id = {id} ORDER BY originator_version DESC LIMIT 1) "
                        "SELECT 1 AS snapshot, originator_version, topic, state FROM latest UNION ALL "
                        "SELECT 0, originator_version, topic, state FROM {events} WHERE originator_id = {id} "
                        "AND originator_version > COALESCE((SELECT originator_version FROM latest), 0) "
                        "ORDER BY snapshot DESC, originator_version")
"""``select_stream``'s statement, for the two tables and the placeholder of the stream's id."""


def select_stream(recorder: Recorder, snapshots: Recorder, aggregate_id: UUID,
                  ) -> tuple[StoredEvent | None, list[StoredEvent]] | None:
    """A stream's latest snapshot (None if it has none) and its events after it, in one query.

    The repository asks twice (the snapshot, then the events after it): on PostgreSQL two
    round trips for every aggregate a request reads that no cache holds, a person's 1101 among
    them. None if the recorders are not the core ones, or keep their tables apart.
    """
    home = getattr(recorder, "datastore", None)
    if home is None or getattr(snapshots, "datastore", None) is not home:
        return None
    if isinstance(recorder, SQLiteAggregateRecorder) and isinstance(snapshots, SQLiteAggregateRecorder):
        statement = STREAM_FROM_SNAPSHOT.format(snapshots=snapshots.events_table_name,
                                                events=recorder.events_table_name, id=":id")
        with recorder.datastore.transaction(commit=False) as cursor:
            cursor.execute(statement, {"id": aggregate_id.hex})
            rows = cursor.fetchall()
    elif isinstance(recorder, PostgresAggregateRecorder) and isinstance(snapshots, PostgresAggregateRecorder):
        schema = recorder.datastore.schema
        statement = STREAM_FROM_SNAPSHOT.format(snapshots=f'"{schema}"."{snapshots.events_table_name}"',
                                                events=f'"{schema}"."{recorder.events_table_name}"', id="%(id)s")
        with recorder.datastore.get_connection() as conn, _binary(conn) as cursor:
            cursor.execute(statement.encode(), {"id": aggregate_id}, prepare=True)
            rows = cursor.fetchall()
    else:
        return None
    stored = [StoredEvent(aggregate_id, row[1], row[2], row[3]) for row in rows]
    return (stored[0], stored[1:]) if rows and rows[0][0] else (None, stored)


class LogRow(NamedTuple):
    """One stored event, with the fields of a notification; ``originator_id`` as text."""

    id: int
    originator_id: str
    originator_version: int
    topic: str
    state: bytes


Select = Callable[[int, int, int | None, Sequence[str]], Sequence[Any]]


def head_query(recorder: Any) -> str | None:
    """SQL giving the log's head (its highest position), for a reader of the log's own database; None if unknown.

    The counter's queries ask, before they read, where the log's head is and how far the read
    models have read. The recorder answers the first through its own connections, so on
    PostgreSQL the two are two round trips; with this text the read models ask both in one.
    """
    if isinstance(recorder, SQLiteApplicationRecorder):
        return str(recorder.select_max_notification_id_statement)
    if isinstance(recorder, PostgresApplicationRecorder):
        return f'SELECT MAX(notification_id) FROM "{recorder.datastore.schema}"."{recorder.events_table_name}"'
    return None


def log_reader(recorder: Any) -> Select:
    """``select(start, limit, stop, topics)``: events from ``start`` through ``stop`` of ``topics`` (all if empty).

    The recorders' ``select_notifications`` builds a ``UUID`` and a frozen ``Notification`` for
    each event; over a whole log that costs as much as the read models' own work, which need
    neither. For the two core recorders this reads their table and gives each event as a
    :class:`LogRow`; for any other recorder it falls back on ``select_notifications``.
    """
    if isinstance(recorder, SQLiteApplicationRecorder):
        def sqlite(statement: str, params: list[Any]) -> list[LogRow]:
            # The recorder stores a UUID as its 32 hex digits: dashed here, 0.4 us a row less than
            # by SQLite's substr and || in the query (docs/benchmarks.md).
            with recorder.datastore.transaction(commit=False) as cursor:
                cursor.execute(statement, params)
                return [LogRow(n, f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}", v, topic, state)
                        for n, h, v, topic, state in cursor.fetchall()]

        return _reader(f"SELECT rowid, originator_id, originator_version, topic, state "
                       f"FROM {recorder.events_table_name}", "rowid", "?", sqlite)
    if isinstance(recorder, PostgresApplicationRecorder):
        def postgres(statement: str, params: list[Any]) -> list[LogRow]:
            with recorder.datastore.get_connection() as conn, _binary(conn) as cursor:
                cursor.execute(statement, params, prepare=True)
                return [LogRow(*row) for row in cursor.fetchall()]

        table = f'"{recorder.datastore.schema}"."{recorder.events_table_name}"'
        return _reader(f"SELECT notification_id, originator_id::text, originator_version, topic, state FROM {table}",
                       "notification_id", "%s", postgres)
    return lambda start, limit, stop=None, topics=(): recorder.select_notifications(  # type: ignore[misc]
        start, limit, stop=stop, topics=topics)


def _reader(columns: str, position: str, mark: str, run: Callable[[str, list[Any]], list[LogRow]]) -> Select:
    """The query of either recorder: ``position`` names its log position column, ``mark`` its placeholder.

    With a ``stop``, the log is read in windows of ``limit`` positions, each query bounded on
    both sides: asked for everything from ``start`` to the head, PostgreSQL's planner (its
    statistics lagging a log just written) chose to fetch and sort the whole rest of the log
    for each batch, so every batch cost more than the one before.
    """

    def query(lower: int, upper: int | None, topics: Sequence[str], limit: int) -> list[LogRow]:
        statement = f"{columns} WHERE {position} >= {mark}"
        params: list[Any] = [lower]
        if upper is not None:
            statement += f" AND {position} <= {mark}"
            params.append(upper)
        if topics:
            statement += f" AND topic IN ({','.join([mark] * len(topics))})"
            params.extend(topics)
        statement += f" ORDER BY {position} LIMIT {mark}"
        params.append(limit)
        return run(statement, params)

    def select(start: int, limit: int, stop: int | None = None, topics: Sequence[str] = ()) -> list[LogRow]:
        if stop is None:
            return query(start, None, topics, limit)
        rows: list[LogRow] = []
        while start <= stop and len(rows) < limit:
            upper = min(stop, start + limit - 1)
            rows += query(start, upper, topics, limit - len(rows))
            start = upper + 1
        return rows

    return select
