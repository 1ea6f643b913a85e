"""What the ledger assumes of eventsourcing 9.5's internals, one test per assumption.

``ledger.adapters.seam`` (and the domain's ``Created.mutate``, and the orjson transcoder) go past
the library's public API for speed. Each test here pins one such reach by comparing it with
the library's own public path, so a library upgrade that changes an internal fails here, by
name, before it can corrupt a log. Store-dependent ones run on SQLite and PostgreSQL.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

import orjson
import pytest
from eventsourcing.application import Application
from eventsourcing.domain import AggregateCreated, BaseAggregate
from eventsourcing.persistence import IntegrityError, JSONTranscoder, StoredEvent, TranscodingNotRegisteredError
from eventsourcing.postgres import PostgresApplicationRecorder
from hypothesis import example, given
from hypothesis import strategies as st
from psycopg.sql import SQL, Identifier

from ledger.adapters.seam import (
    STREAMS_AFTER,
    Appended,
    MovedOn,
    Quiet,
    Rows,
    existing_ids,
    head_query,
    insert_events,
    log_reader,
    select_stream,
    stream_heads,
)
from ledger.adapters.transcodings import make_transcoder
from ledger.domain.ids import institution_id, member_id, region_id
from ledger.domain.institutions import Institution
from ledger.domain.members import Member
from ledger.domain.regions import Region
from ledger.services.bootstrap import bootstrap
from tests.support import book, close_month, institution, member

REGION = "411500"


def _city(app):
    outcomes = book(app, institution("H3"), member("M1"), member("M2"),
                    {"type": "budget.set", "date": "2024-01-01", "admdvs": REGION, "year": 2024, "amount": "1000.00"},
                    close_month(REGION, "2024-01", "2024-01-31"))
    assert outcomes == ["booked"] * 5


def test_created_mutate_builds_what_the_librarys_aggregate_created_mutate_builds():
    """``Created.mutate`` skips the library's signature matching: same object, attribute for attribute."""
    event = Region.open(REGION).collect_events()[0]
    assert isinstance(event, AggregateCreated)
    assert vars(event.mutate(None)) == vars(AggregateCreated.mutate(event, None))


def test_base_aggregate_base_init_takes_id_version_and_timestamp():
    """``Created.mutate`` calls ``BaseAggregate.__base_init__(id, version, timestamp)`` positionally."""
    params = list(inspect.signature(BaseAggregate.__base_init__).parameters)
    assert params == ["self", "originator_id", "originator_version", "timestamp"]


def test_save_bypass_recorder_insert_events_is_read_back_by_the_repository(app):
    """``Aggregates.save`` maps events with ``mapper.to_stored_event`` and calls ``recorder.insert_events``."""
    _city(app)
    stored = app.repository.get(institution_id("H3"))
    assert (stored.fixmedins_code, stored.level, stored.version) == ("H3", 3, 1)
    assert [n.topic for n in app.recorder.select_notifications(1, 2)][:1] == ["yibao:Institution.Registered"]


def test_insert_events_writes_what_the_recorders_insert_events_writes_and_refuses_a_duplicate_version(app):
    """On PostgreSQL the events go as binary arrays in the recorder's transaction; the rows are the same."""
    state = b'{"a":"\\" ,(){}\\\\ \xe4\xbf\xa1\xe9\x98\xb3"}\x00\xff'
    ours = [StoredEvent(uuid4(), version, "yibao:Test.Noted", state + bytes([version])) for version in (1, 2)]
    theirs = [StoredEvent(uuid4(), 1, "yibao:Test.Noted", state)]
    insert_events(app.recorder, ours)
    app.recorder.insert_events(theirs)
    read = app.recorder.select_notifications(1, 10)
    assert [(n.id, n.originator_id, n.originator_version, n.topic, n.state) for n in read] == [
        (i, e.originator_id, e.originator_version, e.topic, e.state) for i, e in enumerate(ours + theirs, 1)]

    try:
        insert_events(app.recorder, [StoredEvent(uuid4(), 1, "yibao:Test.Noted", state), ours[1]])
    except IntegrityError:
        pass
    else:
        raise AssertionError("a second event at a stream's version was inserted")
    assert app.recorder.max_notification_id() == 3
    insert_events(app.recorder, [StoredEvent(ours[0].originator_id, 3, "yibao:Test.Noted", state)])
    [after] = app.recorder.select_notifications(4, 10)  # PostgreSQL's sequence may skip the refused ids
    assert (after.originator_id, after.originator_version) == (ours[0].originator_id, 3)


def test_insert_events_writes_nothing_when_a_stream_read_has_moved_on(app):
    """``heads``: checked in the append's transaction; one written meanwhile refuses the whole batch."""
    read, other = uuid4(), uuid4()
    insert_events(app.recorder, [StoredEvent(read, 1, "yibao:Test.Noted", b"{}")])
    insert_events(app.recorder, [StoredEvent(other, 1, "yibao:Test.Noted", b"{}")], heads={read: 1})
    insert_events(app.recorder, [StoredEvent(read, 2, "yibao:Test.Noted", b"{}")])  # another writer

    try:
        insert_events(app.recorder, [StoredEvent(other, 2, "yibao:Test.Noted", b"{}")], heads={read: 1})
    except MovedOn:
        pass
    else:
        raise AssertionError("a batch that read a stream since written to was saved")
    assert app.recorder.max_notification_id() == 3
    insert_events(app.recorder, [StoredEvent(other, 2, "yibao:Test.Noted", b"{}")], heads={read: 2})
    assert [n.originator_version for n in app.recorder.select_events(other)] == [1, 2]


def test_insert_events_writes_nothing_when_an_event_of_a_quiet_topic_came_past_the_position(app):
    """``quiet``: no event of the topics past the position that ``matters``, looked at in the append's transaction."""
    def every(_: StoredEvent) -> bool:
        return True

    def marked(stored: StoredEvent) -> bool:
        return stored.state == b'{"mark":1}'

    insert_events(app.recorder, [StoredEvent(uuid4(), 1, "yibao:Test.Noted", b"{}")])
    insert_events(app.recorder, [StoredEvent(uuid4(), 1, "yibao:Test.Noted", b"{}")],
                  quiet=Quiet(1, ["yibao:Test.Other"], every))
    other = uuid4()
    insert_events(app.recorder, [StoredEvent(other, 1, "yibao:Test.Other", b"{}")])  # another writer: position 3

    try:
        insert_events(app.recorder, [StoredEvent(uuid4(), 1, "yibao:Test.Noted", b"{}")],
                      quiet=Quiet(2, ["yibao:Test.Other", "yibao:Test.Else"], every))
    except Appended:
        pass
    else:
        raise AssertionError("a batch was saved past an event it asked not to miss")
    assert app.recorder.max_notification_id() == 3
    insert_events(app.recorder, [StoredEvent(uuid4(), 1, "yibao:Test.Noted", b"{}")],
                  quiet=Quiet(2, ["yibao:Test.Other"], marked))  # position 3 is not marked: it does not matter
    insert_events(app.recorder, [StoredEvent(other, 2, "yibao:Test.Other", b'{"mark":1}')])
    marked_at = app.recorder.max_notification_id()
    try:
        insert_events(app.recorder, [StoredEvent(uuid4(), 1, "yibao:Test.Noted", b"{}")],
                      quiet=Quiet(2, ["yibao:Test.Other"], marked))
    except Appended as e:
        assert f"position {marked_at}:" in str(e)
    else:
        raise AssertionError("a batch was saved past a marked event")
    insert_events(app.recorder, [StoredEvent(uuid4(), 1, "yibao:Test.Noted", b"{}")],
                  quiet=Quiet(marked_at, ["yibao:Test.Other"], every))
    assert [n.topic for n in app.recorder.select_notifications(1, 10)][-1] == "yibao:Test.Noted"


def test_insert_events_writes_snapshots_as_the_snapshot_recorder_writes_them(app):
    """The snapshot store's recorder (no log, no lock) takes the binary arrays too; a second at a version is refused."""
    state = b'{"a":"\\" ,(){}\\\\ \xe4\xbf\xa1"}\x00\xff'
    recorder = app.snapshots.recorder
    ours, theirs = StoredEvent(uuid4(), 40, "yibao:Snap", state), StoredEvent(uuid4(), 40, "yibao:Snap", state)
    insert_events(recorder, [ours])
    recorder.insert_events([theirs])
    for written in (ours, theirs):
        [read] = recorder.select_events(written.originator_id)
        assert (read.originator_id, read.originator_version, read.topic, read.state) == (
            written.originator_id, 40, "yibao:Snap", state)
    try:
        insert_events(recorder, [StoredEvent(ours.originator_id, 40, "yibao:Snap", b"{}")])
    except IntegrityError:
        pass
    else:
        raise AssertionError("a second snapshot at a version was inserted")
    assert [e.state for e in recorder.select_events(ours.originator_id)] == [state]


def test_insert_events_writes_the_events_and_their_snapshots_in_one_transaction(app):
    """The SQLite recorders' ``_insert_events`` takes the cursor of a transaction both tables share.

    A snapshot refused (its version taken) takes the events down with it: nothing is written.
    """
    state = b'{"a":"\xe4\xbf\xa1"}'
    event = StoredEvent(uuid4(), 1, "yibao:Test.Noted", state)
    snapshot = StoredEvent(uuid4(), 40, "yibao:Snap", state)
    insert_events(app.recorder, [event], Rows(app.snapshots.recorder, [snapshot]))
    [read] = app.recorder.select_notifications(1, 10)
    [snap] = app.snapshots.recorder.select_events(snapshot.originator_id)
    assert (read.originator_id, read.state, snap.originator_version, snap.state) == (
        event.originator_id, state, 40, state)

    again = StoredEvent(uuid4(), 1, "yibao:Test.Noted", state)
    try:
        insert_events(app.recorder, [again], Rows(app.snapshots.recorder, [snapshot]))
    except IntegrityError:
        pass
    else:
        raise AssertionError("a second snapshot at a version was inserted")
    assert list(app.recorder.select_events(again.originator_id)) == []
    assert app.recorder.max_notification_id() == 1


def test_a_snapshot_written_deletes_its_streams_earlier_snapshots_and_no_others(app):
    """Only a stream's latest snapshot is ever read: one written replaces the earlier ones, in its transaction."""
    state = b'{"a":1}'
    one, other = uuid4(), uuid4()

    def write(version: int, *streams: UUID) -> None:
        insert_events(app.recorder, [StoredEvent(uuid4(), 1, "yibao:Test.Noted", state)],
                      Rows(app.snapshots.recorder, [StoredEvent(s, version, "yibao:Snap", state) for s in streams],
                           replaces=True))

    write(10, one, other)
    write(20, one)
    assert [s.originator_version for s in app.snapshots.recorder.select_events(one)] == [20]
    assert [s.originator_version for s in app.snapshots.recorder.select_events(other)] == [10]
    try:
        write(20, other, one)  # ``one`` at 20 again: refused, and ``other``'s 10 stays
    except IntegrityError:
        pass
    else:
        raise AssertionError("a second snapshot at a version was inserted")
    assert [s.originator_version for s in app.snapshots.recorder.select_events(other)] == [10]


def test_save_bypass_snapshot_take_and_snapshots_put_serve_the_repository(app):
    """A member passing its interval is snapshotted with ``Snapshot.take`` and the seam's ``insert_events``."""
    _city(app)
    s = app.services()
    member_ = s.uow.get(Member, member_id("M1"))
    interval = app.aggregates.intervals[Member]
    for n in range(interval):
        member_.credit_month(day=date(2024, 1, 31), month=f"x{n}", amount=Decimal("0.01"), psn_type="11",
                             contribution_base=Decimal("6000.00"), policy_version="v", article="a")
    s.uow.commit()
    [snapshot] = list(app.snapshots.get(member_id("M1")))
    assert snapshot.originator_version == member_.version
    assert app.repository.get(member_id("M1")).credited == member_.credited


def _m1_snapshotted_and_written_after(app) -> Member:
    """The city, with M1 passing its snapshot interval in one commit and written to again in the next."""
    _city(app)
    s = app.services()
    member_ = s.uow.get(Member, member_id("M1"))
    for n in range(app.aggregates.intervals[Member] + 1):
        member_.credit_month(day=date(2024, 1, 31), month=f"x{n}", amount=Decimal("0.01"), psn_type="11",
                             contribution_base=Decimal("6000.00"), policy_version="v", article="a")
        if n == app.aggregates.intervals[Member] - 2:
            s.uow.commit()  # M1 is snapshotted at the version this commit passes the interval at
            member_ = s.uow.get(Member, member_id("M1"))
    s.uow.commit()
    return member_


def test_load_reads_a_snapshotted_stream_in_one_query_as_the_repository_reads_it(app):
    """``select_stream`` reads both tables (``schema`` on PostgreSQL): the latest snapshot, then the events after it.

    M1 has a snapshot and an event after it; M2 has no snapshot; an unknown id has nothing.
    """
    member_ = _m1_snapshotted_and_written_after(app)
    [snapshot] = app.snapshots.get(member_id("M1"))
    latest, after = _stream(app, member_id("M1"))
    assert latest is not None
    assert (latest.originator_version, [e.originator_version for e in after]) == (
        snapshot.originator_version, list(range(snapshot.originator_version + 1, member_.version + 1)))
    latest, after = _stream(app, member_id("M2"))
    assert latest is None and after == list(app.recorder.select_events(member_id("M2")))
    assert select_stream(app.recorder, app.snapshots.recorder, uuid4()) == (None, [])
    for i in (member_id("M1"), member_id("M2")):
        assert vars(app.aggregates.load(Member, i)) == vars(app.repository.get(i))
    assert app.aggregates.load(Member, uuid4()) is None


def _stream(app, aggregate_id: UUID) -> tuple[StoredEvent | None, list[StoredEvent]]:
    read = select_stream(app.recorder, app.snapshots.recorder, aggregate_id)
    assert read is not None
    return read


def test_repository_get_and_event_store_get_load_aggregates_as_saved(app):
    """``Aggregates.load`` uses ``select_stream`` (snapshotted kinds) and ``events.get`` + ``mutate`` (others)."""
    _city(app)
    region = app.aggregates.load(Region, region_id(REGION))
    institution_ = app.aggregates.load(Institution, institution_id("H3"))
    assert "2024-01" in region.months and institution_.fixmedins_code == "H3"
    assert app.aggregates.load(Institution, uuid4()) is None
    assert app.aggregates.load(Region, uuid4()) is None


def test_load_many_sql_on_the_snapshots_and_events_tables_loads_what_the_repository_loads(app):
    """``select_streams`` reads ``snapshots.recorder`` and ``recorder`` tables (``schema`` on PostgreSQL).

    M1 passes its snapshot interval and has an event after the snapshot; M2 has no snapshot;
    an unknown id is left out; the sqlalchemy recorder gets None (the repository's path).
    """
    member_ = _m1_snapshotted_and_written_after(app)
    assert list(app.snapshots.get(member_id("M1")))[-1].originator_version < member_.version
    ids = [member_id("M1"), member_id("M2"), uuid4()]
    many = app.aggregates.load_many(Member, ids)
    assert sorted(many) == sorted(ids[:2])
    for i in ids[:2]:
        assert vars(many[i]) == vars(app.repository.get(i))


def test_prefetch_sql_on_the_events_table_agrees_with_the_recorder(app):
    """``existing_ids`` reads ``events_table_name`` through ``datastore.transaction`` (and ``schema`` on PostgreSQL)."""
    _city(app)
    known = {institution_id("H3"), member_id("M1"), member_id("M2"), region_id(REGION)}
    unknown = {uuid4() for _ in range(3)}
    assert existing_ids(app.recorder, known | unknown) == known
    assert all(list(app.recorder.select_events(i, limit=1)) for i in known)


def test_stream_heads_give_each_streams_last_version_and_its_position_as_select_notifications_does(app):
    """``stream_heads`` reads the recorder's table (rowid or notification_id) down its primary key."""
    _city(app)
    last: dict[UUID, tuple[int, int]] = {}
    for n in app.recorder.select_notifications(1, app.recorder.max_notification_id()):
        last[n.originator_id] = (n.originator_version, n.id)
    wanted = {member_id("M1"), member_id("M2"), region_id(REGION), uuid4()}
    heads = stream_heads(app.recorder, wanted)
    assert heads == {i: last[i] for i in wanted if i in last}
    assert heads[member_id("M1")][0] == 2  # enrolled, credited for January


def test_log_reader_sql_gives_what_select_notifications_gives(app):
    """``log_reader`` reads the recorder's table (rowid or notification_id) in the recorder's order."""
    _city(app)
    head = app.recorder.max_notification_id()
    plain = app.recorder.select_notifications(1, head)
    fast = log_reader(app.recorder)(1, head, None, ())
    assert [(r.id, r.originator_id, r.originator_version, r.topic, r.state) for r in fast] == [
        (n.id, str(n.originator_id), n.originator_version, n.topic, n.state) for n in plain]
    topic = "yibao:Member.Enrolled"
    assert [r.id for r in log_reader(app.recorder)(1, 100, head, (topic,))] == [
        n.id for n in plain if n.topic == topic]


def test_head_query_gives_the_recorders_max_notification_id_in_the_read_models_database(app):
    """``head_query``, asked through the read models' engine, answers as the recorder does, empty or not."""
    def asked() -> int | None:
        with app.engine.connect() as conn:
            return conn.exec_driver_sql(head_query(app.recorder)).scalar()

    assert asked() is None and app.recorder.max_notification_id() in (None, 0)
    _city(app)
    assert asked() == app.recorder.max_notification_id() > 0


def test_an_unknown_recorder_takes_the_librarys_public_path(store):
    """eventsourcing-sqlalchemy's recorder: no table SQL, the recorder's own methods instead."""
    app = bootstrap(replace(store, event_store="sqlalchemy"))
    try:
        _city(app)
        assert existing_ids(app.recorder, {member_id("M1")}) is None
        assert stream_heads(app.recorder, {member_id("M1")}) is None
        assert app.standings_to_credit([member_id("M1")], "2024-02") == {}  # a close reads each member whole
        assert app.aggregates.load_many(Member, [member_id("M1")]) is None
        assert head_query(app.recorder) is None
        assert app.snapshots is not None
        assert select_stream(app.recorder, app.snapshots.recorder, member_id("M1")) is None
        loaded = app.aggregates.load(Member, member_id("M1"))
        assert isinstance(loaded, Member) and loaded.psn_no == "M1"
        head = app.recorder.max_notification_id()
        assert head is not None
        rows = log_reader(app.recorder)(1, head, None, ())
        assert [r.id for r in rows] == [n.id for n in app.recorder.select_notifications(1, head)]
    finally:
        app.close()


def test_json_transcoder_encode_obj_tags_values_as_the_library_encodes_them():
    """``LedgerTranscoder`` hands what orjson cannot write to the library's ``_encode_obj``: the same bytes."""
    ours = make_transcoder()
    theirs = JSONTranscoder()
    for transcoding in ours.types.values():
        theirs.register(transcoding)
    value = {"amount": Decimal("12.30"), "day": date(2024, 3, 20), "nested": [Decimal("0.01"), "信阳"]}
    assert ours.encode(value) == theirs.encode(value)
    assert theirs.decode(ours.encode(value)) == value


TAGGABLE = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.text(max_size=5)
    | st.decimals(allow_nan=False, allow_infinity=False, places=2) | st.dates()
    | st.datetimes(timezones=st.just(UTC)),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(["_type_", "_data_", "a", "b"]),
                                                                 inner, max_size=3),
    max_leaves=12,
)


@given(TAGGABLE)
@example({"_type_": Decimal("0.00"), "_data_": None})  # a tag's name that is itself tagged: decoded first
def test_typed_of_the_parsed_json_is_what_decode_gives_and_leaves_the_parsed_json_as_it_was(value):
    """``LedgerTranscoder.typed`` applies the library's ``names`` and ``_decode_obj`` as its object hook does."""
    transcoder = make_transcoder()
    stored = transcoder.encode({"value": value})
    parsed = orjson.loads(stored)
    assert _outcome(transcoder.typed, parsed) == _outcome(transcoder.decode, stored)
    assert parsed == orjson.loads(stored)


def _outcome(decode: Callable[[Any], Any], value: Any) -> Any:
    """What ``decode`` returns, or the type of what it raises (a tag without a transcoding, data it cannot take)."""
    try:
        return decode(value)
    except (TranscodingNotRegisteredError, TypeError, ValueError, ArithmeticError) as e:
        return type(e)


@given(TAGGABLE, TAGGABLE, st.booleans())
@example(Decimal("1.0"), Decimal("1.00"), False)  # equal values, different texts
@example(Decimal("12.30"), None, True)
@example(date(2024, 3, 20), datetime(2024, 3, 20, tzinfo=UTC), False)
def test_holds_says_what_typing_the_parsed_json_and_comparing_it_says(stored, value, same):
    """``LedgerTranscoder.holds`` compares a tagged value's stored text first, and types only a different one."""
    transcoder = make_transcoder()
    value = stored if same else value
    parsed = orjson.loads(transcoder.encode({"value": stored}))["value"]
    assert _outcome(lambda p: transcoder.holds(p, value), parsed) == _outcome(lambda p: transcoder.typed(p) == value,
                                                                               parsed)


def test_typed_decodes_a_tag_whose_data_is_tagged_innermost_first():
    transcoder = make_transcoder()
    stored = b'{"a":{"_type_":"decimal_str","_data_":{"_type_":"date_iso","_data_":"2024-03-20"}},"b":[{"x":1}]}'
    with pytest.raises(TypeError):
        transcoder.decode(stored)
    with pytest.raises(TypeError):
        transcoder.typed(orjson.loads(stored))
    stored = b'{"a":{"_type_":"date_iso","_data_":"2024-03-20","c":1},"b":{"_type_":"nothing_known"}}'
    assert transcoder.typed(orjson.loads(stored)) == transcoder.decode(stored)


def test_snapshotting_enabled_gives_the_application_a_snapshot_store(sqlite_app):
    """``is_snapshotting_enabled`` makes ``Application.__init__`` construct ``snapshots``."""
    assert issubclass(type(sqlite_app), Application)
    assert sqlite_app.snapshots is not None


def test_load_many_on_postgresql_looks_each_stream_up_whatever_the_tables_statistics(postgres_store):
    """``STREAMS_AFTER`` is planned as one index lookup per stream, never a join over the whole table.

    A fresh database has no statistics on the events table until it is first analysed: the
    planner then took a few streams for most of the table and merged over all of its primary key.
    """
    app = bootstrap(postgres_store)
    try:
        book(app, *(member(f"M{n}") for n in range(200)))
        recorder = app.recorder
        assert isinstance(recorder, PostgresApplicationRecorder)
        explain = SQL("EXPLAIN " + STREAMS_AFTER).format(Identifier(recorder.datastore.schema),
                                                         Identifier(recorder.events_table_name))
        ids = [member_id(f"M{n}") for n in range(0, 200, 2)]
        with recorder.datastore.get_connection() as conn, conn.cursor() as cursor:
            for analysed in (False, True):
                if analysed:
                    cursor.execute(SQL("ANALYZE {}").format(Identifier(recorder.events_table_name)))
                cursor.execute(explain, (ids, [0] * len(ids)))
                plan = "\n".join(row["QUERY PLAN"] for row in cursor.fetchall())
                assert "Nested Loop" in plan, plan
                assert "Merge Join" not in plan and "Hash Join" not in plan, plan
    finally:
        app.close()
