"""Read models are disposable (DESIGN.md §1): a rebuild gives what incremental processing gave.

The scenario is ``every_movement``: every account and cap movement the ledger makes.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest
from sqlalchemy import inspect, text

from ledger.adapters.seam import log_reader
from ledger.domain.members import Member
from ledger.exchange.messages import validate_message
from ledger.money import from_fen
from ledger.projections.runner import EventSource, ProjectionRunner
from ledger.services.bootstrap import bootstrap
from tests.accounts.helpers import (
    D,
    aggregate,
    balc,
    booked_ok,
    closes,
    dump_read_models,
    every_movement,
    resumed,
    suspended,
    use,
    xinyang_region,
)
from tests.payments.flows import kaifeng_first_quarter
from tests.support import item, member, visit

PEOPLE = ("M1", "M2", "M3", "R1", "T1", "X1")


def test_design_rebuilding_the_read_models_gives_exactly_what_incremental_processing_gave(app):
    every_movement(app)
    incremental = dump_read_models(app)
    assert incremental["accounts_movements"], "the scenario must produce movements"

    read = app.read_models.rebuild()

    # Only the events the rebuilt views follow are read (not a visit's or a prescription's own),
    # and every view has still read the whole log.
    head = app.recorder.max_notification_id()
    followed = {t for view in app.read_models.views if view.rebuildable for t in view.topics}
    log = app.recorder.select_notifications(1, head)
    assert read == sum(1 for n in log if n.topic in followed) < head
    assert set(app.read_models.positions().values()) == {head}
    assert dump_read_models(app) == incremental
    # And once more: a rebuild of a rebuild changes nothing either.
    app.read_models.rebuild()
    assert dump_read_models(app) == incremental


@pytest.mark.parametrize("read_ahead", [False, True])
def test_a_rebuild_in_small_batches_read_ahead_or_in_place_gives_what_incremental_processing_gave(app, read_ahead):
    """Batches of 7 events: the next one read while the last is processed (as from a server), or not."""
    every_movement(app)
    incremental = dump_read_models(app)
    source = EventSource.of(app)
    source.read_ahead = read_ahead
    runner = ProjectionRunner(source, app.engine, batch_size=7)
    followed = {t for view in runner.views if view.rebuildable for t in view.topics}
    log = app.recorder.select_notifications(1, app.recorder.max_notification_id())

    assert runner.rebuild() == sum(1 for n in log if n.topic in followed)
    assert dump_read_models(app) == incremental


def test_a_rebuild_without_indexes_gives_the_same_rows_and_makes_only_the_indexes_it_reads_by(app):
    """What the audit's scratch store gets: the rows, and only the indexes the views' own updates look up by."""
    every_movement(app)
    incremental = dump_read_models(app)
    runner = ProjectionRunner(EventSource.of(app), app.engine)
    tables = [t for view in runner.views if view.rebuildable for t in view.tables]
    secondary = [i for t in tables for i in t.indexes]
    assert any(not i.info.get("rebuild_reads") for i in secondary)

    runner.rebuild(indexes=False)

    present = {i["name"] for t in tables for i in inspect(app.engine).get_indexes(t.name)}
    assert {i.name for i in secondary} & present == {i.name for i in secondary if i.info.get("rebuild_reads")}
    assert dump_read_models(app) == incremental


def test_design_the_read_side_balance_and_cap_match_the_member_aggregate(app):
    """The projection (integer fen) and the member's own stream agree, member by member."""
    every_movement(app)
    for psn_no in PEOPLE:
        member_ = aggregate(app, psn_no)
        assert balc(app, psn_no) == member_.balance, psn_no
        assert member_.balance >= 0, psn_no
        assert app.cap(psn_no, 2024)["used"] == member_.cap_used_in(2024), psn_no
    assert app.trial_balance()["balanced"]
    # Worked by hand: M2's base 7777.77 from March, × 2 % = 155.5554 → 155.56 (March, April).
    assert [m["amount"] for m in app.history("M2") if m["kind"] == "credit"][-2:] == [
        D("155.56"),
        D("155.56"),
    ]
    assert balc(app, "T1") == D("0.00")
    assert balc(app, "X1") == D("0.00")


def test_design_a_member_reloaded_from_a_snapshot_has_the_same_balance_and_cap(sqlite_app):
    """Members are snapshotted every few events, only the latest kept; a fresh application reading it agrees.

    120.00 credited, then 110 uses of 0.01 for a child: 120.00 − 1.10 = 118.90.
    """
    app = sqlite_app
    _m1_past_three_snapshots(app)

    member_id = aggregate(app, "M1").id
    interval = app.aggregates.intervals[Member]
    versions = [s.originator_version for s in app.snapshots.get(member_id)]
    assert versions == [aggregate(app, "M1").version // interval * interval]
    fresh = bootstrap(app.store)
    try:
        reloaded: Member = fresh.repository.get(member_id)
        assert reloaded.version > versions[-1]
        assert reloaded.balance == D("118.90") == balc(app, "M1")
        assert reloaded.cap_used_in(2024) == D("175.00")
        assert reloaded.credited_in("2024-01") == D("120.00")
    finally:
        fresh.close()


def _m1_past_three_snapshots(app) -> None:
    """M1 credited 120.00 for January, a visit S1 on 02-01, then 110 uses of 0.01 on 02-02."""
    booked_ok(
        app,
        *xinyang_region(),
        member("M1"),
        *closes("2024-01"),
        visit("S1", "M1", "H3", "2024-02-01", item("400.00")),
        *(
            use("M1", "0.01", "child", "pharmacy", ref=f"R-{n}", day="2024-02-02")
            for n in range(110)
        ),
    )


def test_design_a_member_snapshot_of_class_version_1_reads_back_as_the_member_it_was(sqlite_app):
    """DESIGN §1 (upcasters): a snapshot from before the member's state was compact (class version 1).

    Version 1 kept each amount as a Decimal and each settlement as a dict with its year. The
    latest snapshot is rewritten that way, stored through the snapshot store's mapper and read
    back: the member is the one version 2 snapshotted, and answers as before (175.00 of the cap
    used by S1, live from 02-01; 120.00 credited for January).
    """
    app = sqlite_app
    _m1_past_three_snapshots(app)
    *_, latest = app.snapshots.get(aggregate(app, "M1").id)
    v1 = {**latest.state}
    assert v1.pop("class_version") == 2
    v1["movements"] = [[day, from_fen(fen)] for day, fen in v1["movements"]]
    v1["credited"] = {month: from_fen(fen) for month, fen in v1["credited"].items()}
    v1["settlements"] = {setl_id: {"date": day, "year": day.year, "hifp_pay": from_fen(hifp),
                                   "acct_pay": from_fen(acct), "visit": billed}
                         for setl_id, (day, hifp, acct, billed) in v1["settlements"].items()}
    mapper = app.snapshots.mapper
    stored = mapper.to_stored_event(replace(latest, state=v1))
    assert b'"decimal_str"' in stored.state and b'"class_version"' not in stored.state

    upcast: Member = mapper.to_domain_event(stored).mutate(None)
    assert vars(upcast) == vars(latest.mutate(None))
    assert (upcast.cap_used_through(date(2024, 2, 1)), upcast.credited_in("2024-01")) == (D("175.00"), D("120.00"))
    assert upcast.spendable_on(date(2024, 1, 31)) == upcast.balance == latest.mutate(None).balance
    [s1] = upcast.live_settlements().values()
    assert (s1.day, s1.year, s1.hifp_pay, s1.visit.split("/")[0]) == (date(2024, 2, 1), 2024, D("175.00"), "H3")


def test_design_a_batch_passing_two_snapshot_intervals_takes_one_snapshot_of_its_last_version(sqlite_app):
    """A batch's uses take the member from version 4 past 40 and 80: one snapshot, at the version saved.

    120.00 credited, then 100 uses of 0.10 in one batch: 120.00 − 10.00 = 110.00.
    """
    app = sqlite_app
    booked_ok(app, *xinyang_region(), member("M1"), *closes("2024-01"))
    before = aggregate(app, "M1").version
    uses = [validate_message(use("M1", "0.10", "self", "pharmacy", ref=f"R-{n}", day="2024-02-02"))
            for n in range(100)]
    assert set(app.book(uses)) == {"booked"}

    member_id = aggregate(app, "M1").id
    interval = app.aggregates.intervals[Member]
    assert before < interval and before + 100 > 2 * interval
    assert [s.originator_version for s in app.snapshots.get(member_id)] == [before + 100]
    fresh = bootstrap(app.store)
    try:
        reloaded: Member = fresh.repository.get(member_id)
        assert reloaded.version == before + 100
        assert reloaded.balance == D("110.00")
        replayed = None
        for stored in app.events.get(member_id):  # from the events alone, no snapshot
            replayed = stored.mutate(replayed)
        assert vars(reloaded) == vars(replayed)
    finally:
        fresh.close()


def test_a_rebuild_ending_on_events_no_view_follows_still_reads_the_whole_log(app):
    """The last events (a suspension, a resumption) are passed over in the query, yet the views are at the head."""
    booked_ok(app, *xinyang_region(), member("M1"), *closes("2024-01"), suspended("M1", "2024-02-03"),
              resumed("M1", "2024-02-10"))
    head = app.recorder.max_notification_id()
    assert app.recorder.select_notifications(head, 1)[0].topic == "yibao:Member.Resumed"

    app.read_models.rebuild()

    assert set(app.read_models.positions().values()) == {head}
    assert app.read_models.catch_up() == 0


def _indexes(app) -> set[str]:
    inspector = inspect(app.engine)
    return {i["name"] for view in app.read_models.views for t in view.tables for i in inspector.get_indexes(t.name)}


def test_a_rebuild_makes_the_indexes_last_and_a_start_makes_any_a_stopped_rebuild_left_out(app, store):
    every_movement(app)
    expected = {i.name for view in app.read_models.views for t in view.tables for i in t.indexes}
    app.read_models.rebuild()
    assert expected <= _indexes(app)

    # A rebuild killed before its last step leaves the tables without them; the next start makes them.
    with app.engine.begin() as conn:
        conn.execute(text('DROP INDEX "settlements_movements_region"'))
    assert "settlements_movements_region" not in _indexes(app)
    again = bootstrap(store)
    try:
        again.read_models.catch_up()
        assert expected <= _indexes(again)
    finally:
        again.close()


def test_the_log_read_in_windows_gives_the_followed_events_in_order_whatever_the_batch(app):
    """Reading ``start``..``stop`` a few positions a query gives what one filter over the whole log gives."""
    booked_ok(app, *xinyang_region(), member("M1"), member("M2"), *closes("2024-01"),
              visit("S1", "M1", "H3", "2024-02-01", item("400.00")), suspended("M2", "2024-02-03"),
              visit("S2", "M2", "H3", "2024-02-04", item("90.00")), resumed("M2", "2024-02-10"))
    head = app.recorder.max_notification_id()
    everything = app.recorder.select_notifications(1, head)
    topics = ("yibao:Member.SettlementCharged", "yibao:Region.MonthClosed")
    wanted = [n.id for n in everything if n.topic in topics]
    select = log_reader(app.recorder)
    for limit in (1, 2, 3, 7, head):
        got, start = [], 1
        while rows := select(start, limit, head, topics):
            assert len(rows) <= limit
            got += [r.id for r in rows]
            start = rows[-1].id + 1
        assert got == wanted, limit
    assert [r.id for r in select(3, head, head - 2, ())] == [n.id for n in everything[2:-2]]


def _rows(app, *tables: str) -> list[list[tuple]]:
    with app.engine.connect() as conn:
        return [[tuple(r) for r in conn.execute(text(f"SELECT * FROM {t} ORDER BY position"))] for t in tables]


def test_a_view_an_upgrade_reshaped_reads_the_log_again_at_the_next_start(app, store):
    """A store made before ``settlements_prepaid`` (each movement marked in a column instead) is re-projected."""
    kaifeng_first_quarter(app)
    tables = ("settlements_index", "settlements_movements", "settlements_prepaid")
    before = _rows(app, *tables)
    assert before[2], "the quarter's closes prepaid months"
    with app.engine.begin() as conn:  # the earlier version's shape
        conn.execute(text("DROP TABLE settlements_prepaid"))
        conn.execute(text("ALTER TABLE settlements_movements ADD COLUMN prepay_month VARCHAR(7)"))

    again = bootstrap(store)
    try:
        assert again.read_models.positions()["settlements"] == 0
        assert "prepay_month" not in {c["name"] for c in inspect(again.engine).get_columns("settlements_movements")}
        again.read_models.catch_up()
        assert _rows(again, *tables) == before
        assert set(again.read_models.positions().values()) == {again.recorder.max_notification_id()}
    finally:
        again.close()
