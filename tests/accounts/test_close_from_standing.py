"""A month close credits members from their standing, and books what reading them whole books.

信政办〔2022〕23号 第八条: in service 2 % of the month's contribution base, retired a flat 60.00,
for every member active on the month's last day; 第十一条: retirement switches the credit from
the month after; no credit while benefits are suspended at the month's end. A close reads each
member's standing (what the credit reads of it) from the read model ``standing`` rather than
from its events, except the members it must read whole. The log it leaves must be the log a
close that reads every member whole leaves, event for event.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any, cast

import pytest

from ledger.domain.ids import member_id
from ledger.domain.members import Member
from ledger.projections.standing import standings
from ledger.services.bootstrap import bootstrap
from tests.accounts.helpers import (
    D,
    aggregate,
    balc,
    base_changed,
    budget,
    message,
    month_closed,
    resumed,
    retired,
    suspended,
    transferred_out,
)
from tests.payments.flows import assert_rebuild_equals_incremental, booked
from tests.payments.test_month_close_resume import clean_log, log
from tests.support import fact, institution, member

if TYPE_CHECKING:
    from collections.abc import Iterator

    from ledger.services.application import OutpatientPooling

JANUARY = (
    budget(),
    institution("H1", level=1),
    member("A", base="6000.00"),
    member("B", psn_type="12", base="9000.00"),
    member("C", base="6000.00"),
    member("D", base="6000.00"),
    member("E", base="6000.00"),
    member("F", base="6000.00"),
    member("G", base="6000.00"),
    member("H", base="6000.00"),
    retired("C", "2024-01-15"),
    base_changed("D", "2024-02-01", "5432.25"),
    suspended("E", "2024-02-10"),
    suspended("F", "2024-01-05"),
    resumed("F", "2024-02-20"),
    transferred_out("G", "2024-03-01"),
    *(stay for day in (3, 6, 9) for stay in (fact("admitted", "H", f"2024-01-0{day}", fixmedins_code="H1"),
                                              fact("discharged", "H", f"2024-01-{day + 1:02d}"))),
    month_closed("2024-01"),
)
"""H: enrolled, three stays (six events), January's credit: version 8, so February's credit is
its ninth event and March's its tenth, which calls for a snapshot."""

BALANCES = {"A": "240.00", "B": "120.00", "C": "180.00", "D": "228.65", "E": "120.00", "F": "120.00", "G": "0.00",
            "H": "240.00"}
"""After February's close (第八条: in service 2 % of the month's base, retired 60.00):
A 120.00 + 120.00; B retired, 60.00 + 60.00; C in service in January 120.00, retired from
2024-02-01 (第十一条) 60.00; D 120.00, then February's base 5432.25 × 2 % = 108.645 → 108.65;
E suspended at February's end, January's 120.00 only; F suspended at January's end, February's
120.00 only; G leaves on 03-01, so is active at each month's end, and each credit is paid out
with the balance as it arrives (第十二条): 0.00; H 120.00 + 120.00."""


def _counting_standing_only(monkeypatch) -> list[str]:
    """Record the members a close credits from their standing."""
    made: list[str] = []
    original = Member.standing_only.__func__  # type: ignore[attr-defined]

    psn_nos = {member_id(psn_no): psn_no for psn_no in "ABCDEFGH"}

    def counted(cls, aggregate_id, version, standing):
        made.append(psn_nos[aggregate_id])
        return original(cls, aggregate_id, version, standing)

    monkeypatch.setattr(Member, "standing_only", classmethod(counted))
    return made


def _booked_by_another_process(store, *messages: dict[str, Any]) -> None:
    """Book ``messages`` in an application of their own, closed after: the next one has cached nothing."""
    first = bootstrap(store)
    try:
        booked(first, *messages)
    finally:
        first.close()


@pytest.fixture
def february(store) -> Iterator[OutpatientPooling]:
    """January's facts and close, and February's close, booked by one application."""
    app = bootstrap(store)
    try:
        booked(app, *JANUARY, month_closed("2024-02"))
        yield app
    finally:
        app.close()


def _standings(app) -> dict[str, dict[str, Any]]:
    ids = [str(member_id(p)) for p in "ABCDEFGH"]
    with app.engine.connect() as conn:
        return standings(conn, ids)


def test_a_close_from_standing_books_what_a_close_reading_every_member_books_xinyang_art8_art11(
        store, tmp_path, monkeypatch):
    """February closed by a process that has cached no member: the same events as a clean run's.

    The clean run books everything in one process, whose cache holds every member, so it reads
    each one whole. The other books January, then closes February from a fresh process: A–F
    and H's credits come from their standing; G has left (its credit is paid out with the
    balance) and is read whole. H's February credit is its ninth event: from its standing.
    """
    expected = clean_log(str(tmp_path / "clean.db"), *JANUARY, month_closed("2024-02"))
    _booked_by_another_process(store, *JANUARY)
    made = _counting_standing_only(monkeypatch)
    app = bootstrap(store)
    try:
        booked(app, month_closed("2024-02"))
        assert sorted(made) == ["A", "B", "C", "D", "E", "F", "H"]  # E's standing owes nothing
        assert log(app) == expected
        assert {psn_no: balc(app, psn_no) for psn_no in BALANCES} == {p: D(b) for p, b in BALANCES.items()}
    finally:
        app.close()


def test_a_member_whose_credit_calls_for_a_snapshot_is_read_whole_xinyang_art8(store, monkeypatch):
    """March's credit is H's tenth event: H is read whole, and its snapshot is the member as replayed."""
    _booked_by_another_process(store, *JANUARY, month_closed("2024-02"))
    made = _counting_standing_only(monkeypatch)
    app = bootstrap(store)
    try:
        booked(app, month_closed("2024-03"))
        assert "H" not in made and "A" in made
        assert app.snapshots is not None
        [snapshot] = app.snapshots.get(member_id("H"), desc=True, limit=1)
        assert snapshot.originator_version == 10
        replayed: Any = None
        for event in app.events.get(member_id("H")):
            replayed = cast("Any", event).mutate(replayed)
        assert replayed.credited_in("2024-03") == D("120.00")
        assert cast("Any", snapshot).mutate(None).__dict__ == replayed.__dict__
    finally:
        app.close()


def test_the_standing_view_holds_each_member_as_its_events_leave_it(february):
    """Every member's standing in the view equals the standing of the member read back from its events."""
    february.read_models.catch_up()
    held = _standings(february)
    for psn_no in "ABCDEFGH":
        assert held[str(member_id(psn_no))] == aggregate(february, psn_no).standing(), psn_no
    assert_rebuild_equals_incremental(february)


def test_only_members_the_read_models_have_read_through_and_not_credited_are_credited_from_standing(february):
    """Credited for February already: none. One written past what the read models have read: not offered."""
    ids = [member_id(p) for p in "ABCDEFGH"]
    assert set(february.standings_to_credit(ids, "2024-02")) == {member_id("E")}  # the one not credited
    february.book([message(base_changed("A", "2024-03-01", "7000.00"))], catch_up=False)
    offered = february.standings_to_credit(ids, "2024-03")
    assert member_id("A") not in offered and member_id("B") in offered
    standing, version = offered[member_id("B")]
    assert (standing, version) == (aggregate(february, "B").standing(), aggregate(february, "B").version)


def test_a_member_written_by_another_writer_after_the_look_fails_the_page_and_the_close_runs_again_xinyang_art8(
        store, monkeypatch):
    """Another process books A's new base (from March) between the close's look and its commit.

    The page that would have credited A at the version it looked at fails as a write conflict;
    the close runs again, resumes, reads A past the read models (whole) and credits it once:
    A 120.00 + 120.00 (February's base is still 6000.00), every other balance as in a clean run;
    February's credits 120.00 + 60.00 + 60.00 + 108.65 + 120.00 + 120.00 + 120.00 = 708.65 to seven.
    """
    _booked_by_another_process(store, *JANUARY)
    other = bootstrap(store)
    app = bootstrap(store)
    looks = app.standings_to_credit

    def look_then_other_writes(ids, month):
        offered = looks(ids, month)
        if member_id("A") in offered and not other.repository.get(member_id("A")).bases[1:]:
            other.book([message(base_changed("A", "2024-03-01", "7000.00"))], catch_up=False)
        return offered

    monkeypatch.setattr(app, "standings_to_credit", look_then_other_writes)
    try:
        booked(app, month_closed("2024-02"))
        assert aggregate(app, "A").credited_in("2024-02") == D("120.00")
        assert [type(e).__name__ for e in app.events.get(member_id("A"))][-2:] == [
            "ContributionBaseChanged", "AccountCredited"]
        assert {psn_no: balc(app, psn_no) for psn_no in BALANCES} == {p: D(b) for p, b in BALANCES.items()}
        assert app.credits_of_month("411500", "2024-02") == {"members": 7, "amount": D("708.65")}
    finally:
        other.close()
        app.close()


def test_a_member_holding_only_its_standing_is_never_snapshotted(february):
    """A unit of work refuses to save such a member's event that would call for a snapshot (its tenth)."""
    standing = aggregate(february, "A").standing()
    member_a = Member.standing_only(member_id("A"), 9, standing)
    member_a.credit_month(day=date(2024, 3, 31), month="2024-03", amount=D("120.00"), psn_type="11",
                          contribution_base=D("6000.00"), policy_version="-", article="-")
    with pytest.raises(ValueError, match="cannot be snapshotted"):
        february.services().uow.add_partial(member_a)
