"""The account and cap queries: balance as of a date, 5206 cap figures, history, reversal.

DESIGN.md §3: ``ledger balance`` gives ``psn_no``, ``balc``; ``ledger cap --year`` gives
``psn_no``, ``year``, ``cap``, ``used``, ``remaining`` (the platform's 5206 cumulative
figures); the history lists every movement with the running balance. A reversal (2208)
gives back the cap and the account (Xinyang art. 5(三), art. 9).
"""

from __future__ import annotations

from datetime import date

import orjson
import pytest
from sqlalchemy import inspect

from ledger.domain.ids import member_id
from ledger.domain.members import Member
from ledger.errors import UnknownError
from ledger.projections.caps import CapsView
from ledger.projections.runner import EventSource, ProjectionRunner
from ledger.services.application import BOOKED, PRESENT
from tests.accounts.helpers import (
    D,
    aggregate,
    balc,
    booked_ok,
    closes,
    dump_read_models,
    message,
    movements,
    reversed_,
    use,
    xinyang_region,
)
from tests.audit.city import overwrite_state, positions_of, stored_state
from tests.support import book, item, member, visit


def _scenario(app):
    """M1, base 6000.00, level-3 visits with consent to use the account.

    01-31 credit +120.00 → 120.00
    02-10 use for a parent −20.00 → 100.00
    02-29 credit +120.00 → 220.00
    03-12 visit 400.00: fund 175.00, part 225.00, account −220.00 → 0.00, cash 5.00
    03-31 credit +120.00 → 120.00
    """
    booked_ok(
        app,
        *xinyang_region(),
        member("M1"),
        *closes("2024-01"),
        use("M1", "20.00", "parent", "pharmacy", ref="R-1", day="2024-02-10"),
        *closes("2024-02"),
        visit("S1", "M1", "H3", "2024-03-12", item("400.00"), acct=True),
        *closes("2024-03"),
    )


def test_art9_the_balance_answers_for_an_effective_date(app):
    """Art. 9 balance carried over: the balance on each date is the movements dated up to it."""
    _scenario(app)
    expected = {
        date(2024, 1, 30): "0.00",
        date(2024, 1, 31): "120.00",
        date(2024, 2, 9): "120.00",
        date(2024, 2, 10): "100.00",
        date(2024, 2, 29): "220.00",
        date(2024, 3, 11): "220.00",
        date(2024, 3, 12): "0.00",
        date(2024, 3, 31): "120.00",
        date(2024, 12, 31): "120.00",
    }
    assert {day: balc(app, "M1", as_of=day) for day in expected} == {
        d: D(v) for d, v in expected.items()
    }
    now = app.balance("M1")
    assert (now["psn_no"], now["balc"]) == ("M1", D("120.00"))


def test_art9_the_history_lists_every_movement_with_its_running_balance(app):
    _scenario(app)
    assert movements(app, "M1") == [
        ("credit", "2024-01-31", D("120.00"), D("120.00")),
        ("use", "2024-02-10", D("-20.00"), D("100.00")),
        ("credit", "2024-02-29", D("120.00"), D("220.00")),
        ("settlement", "2024-03-12", D("-220.00"), D("0.00")),
        ("credit", "2024-03-31", D("120.00"), D("120.00")),
    ]
    history = app.history("M1")
    assert [h["reference"] for h in history][:2] == ["2024-01", "R-1"]
    assert [h["position"] for h in history] == sorted(h["position"] for h in history)


def test_art5_3_the_cap_query_gives_the_5206_figures(app):
    """Art. 5(三), 5206: in service, cap 1500.00; the 03-12 visit used 175.00: 1325.00 left."""
    _scenario(app)
    cap = app.cap("M1", 2024)
    assert {
        k: cap[k]
        for k in ("psn_no", "year", "cap", "used", "remaining", "deductible_paid", "visits")
    } == {
        "psn_no": "M1",
        "year": 2024,
        "cap": D("1500.00"),
        "used": D("175.00"),
        "remaining": D("1325.00"),
        "deductible_paid": D("50.00"),
        "visits": 1,
    }
    before = app.cap("M1", 2024, as_of=date(2024, 3, 11))
    assert (before["used"], before["remaining"], before["visits"]) == (D("0.00"), D("1500.00"), 0)
    other_year = app.cap("M1", 2025)
    assert (other_year["used"], other_year["remaining"]) == (D("0.00"), D("1500.00"))


def test_art5_3_the_remaining_cap_never_goes_below_zero(sqlite_app):
    """Art. 5(三): 2850.00 pays 1400.00, 400.00 more only the 100.00 left, a third visit 0.00."""
    app = sqlite_app
    booked_ok(
        app,
        *xinyang_region(),
        member("M1"),
        visit("S1", "M1", "H3", "2024-03-10", item("2850.00")),
        visit("S2", "M1", "H3", "2024-03-11", item("400.00")),
        visit("S3", "M1", "H3", "2024-03-12", item("400.00")),
    )
    assert [app.get_settlement(s).result["hifp_pay"] for s in ("S1", "S2", "S3")] == [
        D("1400.00"),
        D("100.00"),
        D("0.00"),
    ]
    cap = app.cap("M1", 2024)
    assert (cap["used"], cap["remaining"], cap["visits"]) == (D("1500.00"), D("0.00"), 3)


def test_2208_a_reversal_gives_back_the_cap_and_the_account(app):
    """2208 on the 03-12 visit: the 175.00 of cap and the 220.00 the account paid come back."""
    _scenario(app)
    booked_ok(app, reversed_("S1", "2024-04-02"))

    cap = app.cap("M1", 2024)
    assert (cap["used"], cap["remaining"], cap["visits"], cap["deductible_paid"]) == (
        D("0.00"),
        D("1500.00"),
        0,
        D("0.00"),
    )
    assert movements(app, "M1")[-1] == ("reversal", "2024-04-02", D("220.00"), D("340.00"))
    assert balc(app, "M1") == D("340.00")  # 120.00 + 220.00
    assert aggregate(app, "M1").cap_used_in(2024) == D("0.00")
    assert app.settlement_view(app.get_settlement("S1"))["status"] == "reversed"
    assert app.trial_balance()["balanced"]

    head = app.recorder.max_notification_id()
    assert book(app, reversed_("S1", "2024-04-02")) == [PRESENT]
    assert app.recorder.max_notification_id() == head


def test_2208_the_cap_a_reversal_gives_back_can_be_used_again(sqlite_app):
    """1400.00 reversed: a new 2850.00 visit pays 1400.00 again, not the 100.00 that was left."""
    app = sqlite_app
    booked_ok(
        app,
        *xinyang_region(),
        member("M1"),
        visit("S1", "M1", "H3", "2024-03-10", item("2850.00")),
        reversed_("S1", "2024-03-11"),
        visit("S2", "M1", "H3", "2024-03-12", item("2850.00")),
    )
    assert app.get_settlement("S2").result["hifp_pay"] == D("1400.00")
    assert app.cap("M1", 2024)["remaining"] == D("100.00")


def test_2208_a_reversal_frees_the_cap_for_the_bills_after_it(app):
    """Art. 5(三) with 2208 and DESIGN §1: the cap is used in date order, so a reversal frees it.

    03-10, 2850.00: (2850 − 50) × 50 % = 1400.00. 03-11, 400.00: share 175.00, but only
    1500 − 1400 = 100.00 is left, so 100.00. S1 is reversed on 03-12: S2 is re-adjudicated
    and pays its whole 175.00 (+75.00); used 175.00, remaining 1325.00.
    """
    booked_ok(
        app,
        *xinyang_region(),
        member("M1"),
        visit("S1", "M1", "H3", "2024-03-10", item("2850.00")),
        visit("S2", "M1", "H3", "2024-03-11", item("400.00")),
    )
    assert app.get_settlement("S2").result["hifp_pay"] == D("100.00")

    booked_ok(app, reversed_("S1", "2024-03-12"))

    assert app.get_settlement("S2").result["hifp_pay"] == D("175.00")
    cap = app.cap("M1", 2024)
    assert (cap["used"], cap["remaining"], cap["visits"]) == (D("175.00"), D("1325.00"), 1)
    assert aggregate(app, "M1").cap_used_in(2024) == D("175.00")
    assert app.trial_balance()["balanced"]


def test_queries_about_an_unknown_member_are_refused(sqlite_app):
    """DESIGN.md §3 queries: an unknown ``psn_no`` is an error, not an empty account."""
    app = sqlite_app
    booked_ok(app, *xinyang_region())
    with pytest.raises(UnknownError):
        app.balance("M404")
    with pytest.raises(UnknownError):
        app.cap("M404", 2024)
    with pytest.raises(UnknownError):
        app.history("M404")


def test_art9_a_backdated_use_may_not_overdraw_the_account_as_of_its_date(sqlite_app):
    """POLICY.md §3 "the balance never goes negative", read through ``balance --as-of``.

    January is closed (+120.00 dated 01-31). A use of 100.00 dated 01-15 arrives afterwards:
    on 01-15 the account held 0.00. Accepting it makes the balance as of 01-15 −100.00; it
    must be refused (insufficient balance on its date), leaving every as-of balance ≥ 0.
    """
    app = sqlite_app
    booked_ok(app, *xinyang_region(), member("M1"), *closes("2024-01"))

    book(app, use("M1", "100.00", "self", "medical", ref="R-1", day="2024-01-15"))

    for day in (date(2024, 1, 15), date(2024, 1, 30), date(2024, 1, 31)):
        assert balc(app, "M1", as_of=day) >= D("0.00"), day


def _two_bills_in_march(app):
    """S1 03-10, 2850.00: (2850 − 50) × 50 % = 1400.00; S2 03-11, 400.00: share 175.00, capped at the 100.00 left."""
    booked_ok(
        app,
        *xinyang_region(),
        member("M1"),
        visit("S1", "M1", "H3", "2024-03-10", item("2850.00")),
        visit("S2", "M1", "H3", "2024-03-11", item("400.00")),
    )


def _assert_s1_gives_the_cap_back_as_of_03_10(app):
    """After S1's reversal on 04-02 and S2's re-adjudication (+75.00 as of 03-11): 175.00 used from 03-11 on."""
    member_ = aggregate(app, "M1")
    for day, used in [(date(2024, 3, 9), "0.00"), (date(2024, 3, 10), "0.00"), (date(2024, 3, 31), "175.00"),
                      (date(2024, 4, 30), "175.00")]:
        cap = app.cap("M1", 2024, as_of=day)
        assert (day, cap["used"]) == (day, D(used))
        assert cap["used"] == member_.cap_used_through(day)
        assert cap["used"] <= cap["cap"]


def test_2208_a_reversal_in_a_later_month_gives_back_the_cap_as_of_the_bill_it_reverses(app):
    """Art. 5(三) with 2208 and DESIGN §1: the cap as of a date never exceeds the cap, whenever a reversal comes.

    As above, but S1 is reversed on 04-02, after March ended. S2 is re-adjudicated (+75.00,
    dated 03-11, its own date), so S1's 1400.00 must also be given back as of S1's own date
    (03-10), as the member aggregate counts it: as of 03-31 the fund paid 175.00, not
    1400.00 + 100.00 + 75.00 = 1575.00 (more than the 1500.00 cap).
    """
    _two_bills_in_march(app)
    before = app.recorder.max_notification_id()
    booked_ok(app, reversed_("S1", "2024-04-02"))
    assert app.get_settlement("S2").result["hifp_pay"] == D("175.00")
    _assert_s1_gives_the_cap_back_as_of_03_10(app)
    # As known before the reversal, S1 and the capped S2 stand: 1400.00 + 100.00.
    assert app.cap("M1", 2024, as_of=date(2024, 3, 31), known_at=str(before))["used"] == D("1500.00")


RELEASED = "yibao:Member.SettlementReleased"
S1_SERVICE_DATE = {"_type_": "date_iso", "_data_": "2024-03-10"}
"""S1's 03-10 as the store writes a date (``ledger.adapters.transcodings.DateAsISO``)."""
MEMBER_INDEX = "ix_caps_movements_member_id"


def _released(app) -> Member.SettlementReleased:
    """M1's one release, decoded (and upcast) by the event store from what is stored now."""
    [released] = [e for e in app.events.get(member_id("M1")) if isinstance(e, Member.SettlementReleased)]
    return released


def _watch_the_member_index(monkeypatch) -> list[bool]:
    """Whether ``ix_caps_movements_member_id`` exists as the caps view writes each batch, in batch order."""
    present: list[bool] = []
    flush = CapsView.flush

    def watched(view, conn):
        present.append(MEMBER_INDEX in {i["name"] for i in inspect(conn).get_indexes("caps_movements")})
        flush(view, conn)

    monkeypatch.setattr(CapsView, "flush", watched)
    return present


def _member_index_exists(app) -> bool:
    return MEMBER_INDEX in {i["name"] for i in inspect(app.engine).get_indexes("caps_movements")}


def test_2208_a_release_carries_the_service_date_of_the_bill_it_reverses(app):
    """Art. 5(三): ``SettlementReleased`` (class version 2) says S1's 03-10, beside its own 04-02 and S1's 1400.00."""
    _two_bills_in_march(app)
    booked_ok(app, reversed_("S1", "2024-04-02"))

    released = _released(app)
    assert (released.day, released.charged_on, released.hifp_pay) == (date(2024, 4, 2), date(2024, 3, 10),
                                                                      D("1400.00"))
    [position] = positions_of(app, RELEASED)
    stored = orjson.loads(stored_state(app, position))
    assert (stored["class_version"], stored["charged_on"]) == (2, S1_SERVICE_DATE)


def test_2208_a_release_stored_before_it_carried_the_date_still_gives_the_cap_back_as_of_the_bill(app, monkeypatch):
    """Art. 5(三), DESIGN §1 (upcasters; a rebuild gives what incremental processing gave): a version-1 release.

    The reversal is booked, and its stored event rewritten as version 1 wrote it (no
    ``charged_on``, no class version) before the read models read it. It decodes with
    ``charged_on`` None, the member still counts 175.00 as of 03-31, and the caps view dates
    the 1400.00 given back on S1's 03-10 from S1's charge: read from its table (S1 was
    projected in an earlier batch) incrementally; in a rebuild from the batch, or, in
    batches of one event, from the table again, its member index made on demand, in this
    process or by a rebuild's writer process.
    """
    _two_bills_in_march(app)
    assert app.book([message(reversed_("S1", "2024-04-02"))]) == [BOOKED]
    [position] = positions_of(app, RELEASED)
    state = orjson.loads(stored_state(app, position))
    assert (state.pop("class_version"), state.pop("charged_on")) == (2, S1_SERVICE_DATE)
    overwrite_state(app, position, orjson.dumps(state))
    assert (_released(app).charged_on, _released(app).hifp_pay) == (None, D("1400.00"))

    _assert_s1_gives_the_cap_back_as_of_03_10(app)  # incremental: the queries catch up first
    incremental = dump_read_models(app)

    app.read_models.rebuild()
    assert dump_read_models(app) == incremental
    present = _watch_the_member_index(monkeypatch)
    ProjectionRunner(EventSource.of(app), app.engine, batch_size=1).rebuild()
    assert dump_read_models(app) == incremental
    # Dropped for the rebuild, made by the release's batch: every batch after has it, and so does the end.
    made = present.index(True)
    assert 0 < made < len(present) - 1
    assert all(present[made:])
    assert _member_index_exists(app)
    _assert_s1_gives_the_cap_back_as_of_03_10(app)
    # Through a writer process (ledger/adapters/writer.py), which makes the index and answers the look-up.
    monkeypatch.undo()
    ProjectionRunner(EventSource.of(app), app.engine, batch_size=1, store=app.store).rebuild()
    assert dump_read_models(app) == incremental
    assert _member_index_exists(app)


def test_2208_a_rebuild_of_releases_that_carry_their_date_looks_nothing_up_and_makes_the_member_index_last(
        app, monkeypatch):
    """DESIGN §1 (projections are disposable), in batches of one event so that S1's charge is never in the release's.

    The release says S1's 03-10 itself: the rebuild reads nothing back from ``caps_movements``
    and writes every batch without the member index, made once the rows are in.
    """
    _two_bills_in_march(app)
    booked_ok(app, reversed_("S1", "2024-04-02"))
    incremental = dump_read_models(app)

    def looked_up(*_):
        raise AssertionError("a release of version 2 looked up its bill's date")

    monkeypatch.setattr(CapsView, "_looked_up", looked_up)
    present = _watch_the_member_index(monkeypatch)
    ProjectionRunner(EventSource.of(app), app.engine, batch_size=1).rebuild()

    assert present and not any(present)
    assert _member_index_exists(app)
    assert dump_read_models(app) == incremental
    _assert_s1_gives_the_cap_back_as_of_03_10(app)
