"""Retirement (信政办〔2022〕23号 第六条, 第十一条): ratio, cap and credit switch the month after.

Art. 6: ratio and annual cap change "从办理之日次月起"; art. 11: the personal-account credit
changes from the same day. Art. 5(二): retirees +10 points; art. 5(三): cap 1500 in
service, 2000 retired; POLICY.md §2: pooling paid earlier in the year still counts against
the new cap. Every fact carries its effective date, so only the ``--known-at`` axis (the
recorded time) needs a frozen wall clock.
"""

from __future__ import annotations

from datetime import date

import pytest

from ledger.errors import ConflictError
from ledger.services.application import PRESENT
from tests.accounts.helpers import (
    D,
    balc,
    booked_ok,
    closes,
    movements,
    retired,
    wall_clock,
    xinyang_region,
)
from tests.support import book, item, member, visit


def _result(app, medins_setl_id):
    return app.get_settlement(medins_setl_id).result


def test_art11_retired_on_may_14_may_is_credited_two_percent_and_june_sixty(app):
    """Art. 8 + art. 11: switch on 2024-06-01: May in service 6000.00 × 2 % = 120.00, June 60.00."""
    booked_ok(
        app,
        *xinyang_region(),
        member("M1", base="6000.00"),
        retired("M1", "2024-05-14"),
        *closes("2024-04", "2024-05", "2024-06", "2024-07"),
    )

    assert movements(app, "M1") == [
        ("credit", "2024-04-30", D("120.00"), D("120.00")),
        ("credit", "2024-05-31", D("120.00"), D("240.00")),
        ("credit", "2024-06-30", D("60.00"), D("300.00")),
        ("credit", "2024-07-31", D("60.00"), D("360.00")),
    ]


@pytest.mark.parametrize("day", ["2024-05-01", "2024-05-31"])
def test_art11_retirement_on_the_first_or_last_day_of_may_still_switches_on_june_1(sqlite_app, day):
    """Art. 11 「从办理之日次月起」: any day in May: May in service (120.00), June 60.00."""
    app = sqlite_app
    booked_ok(
        app, *xinyang_region(), member("M1"), retired("M1", day), *closes("2024-05", "2024-06")
    )
    assert [m[2] for m in movements(app, "M1")] == [D("120.00"), D("60.00")]


def test_art6_a_visit_before_the_switch_uses_the_in_service_ratio_and_cap_after_it_the_retired_ones(
    app,
):
    """Art. 6 with art. 5(二)(三). Level 3, deductible 50.00.

    03-10, 2850.00: (2850 − 50) × 50 % = 1400.00; cap 1500, used 1400.
    05-20 (before the 06-01 switch), 400.00: (400 − 50) × 50 % = 175.00,
    cut to 1500 − 1400 = 100.00.
    06-03 (after), 400.00: (400 − 50) × (50 + 10) % = 210.00;
    cap 2000 − 1500 used = 500 left: 210.00.
    """
    booked_ok(
        app,
        *xinyang_region(),
        member("M1"),
        visit("S1", "M1", "H3", "2024-03-10", item("2850.00")),
        retired("M1", "2024-05-14"),
        visit("S2", "M1", "H3", "2024-05-20", item("400.00")),
        visit("S3", "M1", "H3", "2024-06-03", item("400.00")),
    )

    before, after = _result(app, "S2"), _result(app, "S3")
    assert (before["pool_prop_selfpay"], before["annual_cap"], before["hifp_pay"]) == (
        D("0.50"),
        D("1500.00"),
        D("100.00"),
    )
    assert before["crt_payb_lmt_amt"] == D("0.00")
    assert (after["pool_prop_selfpay"], after["annual_cap"], after["hifp_pay"]) == (
        D("0.60"),
        D("2000.00"),
        D("210.00"),
    )
    assert after["crt_payb_lmt_amt"] == D("290.00")  # 2000 − (1400 + 100 + 210)

    cap = app.cap("M1", 2024)
    assert (cap["psn_type"], cap["cap"], cap["used"], cap["remaining"]) == (
        "12",
        D("2000.00"),
        D("1710.00"),
        D("290.00"),
    )


def test_art6_retired_ratio_at_level_2_is_sixty_five_percent(sqlite_app):
    """Art. 5(二): 55 % + 10 points at level 2: (200 − 30) × 65 % = 110.50 (POLICY.md §2)."""
    app = sqlite_app
    booked_ok(
        app,
        *xinyang_region(),
        member("M1"),
        retired("M1", "2024-05-14"),
        visit("S1", "M1", "H2", "2024-06-03", item("200.00")),
    )
    result = _result(app, "S1")
    assert (result["act_pay_dedc"], result["pool_prop_selfpay"], result["hifp_pay"]) == (
        D("30.00"),
        D("0.65"),
        D("110.50"),
    )


def test_art6_pooling_paid_before_the_switch_still_counts_against_the_retired_cap(app):
    """Art. 6, POLICY.md §2: 1400.00 paid in March leaves 2000 − 1400 = 600.00 of the retired cap.

    As of 05-31 the member is still in service: cap 1500, remaining 100.00. A 06-03 visit of
    1200.00 at level 3 would pay (1200 − 50) × 60 % = 690.00, but only 600.00 is left.
    """
    booked_ok(
        app,
        *xinyang_region(),
        member("M1"),
        visit("S1", "M1", "H3", "2024-03-10", item("2850.00")),
        retired("M1", "2024-05-14"),
    )

    cap = app.cap("M1", 2024)
    assert (cap["cap"], cap["used"], cap["remaining"]) == (D("2000.00"), D("1400.00"), D("600.00"))
    in_may = app.cap("M1", 2024, as_of=date(2024, 5, 31))
    assert (in_may["psn_type"], in_may["cap"], in_may["remaining"]) == (
        "11",
        D("1500.00"),
        D("100.00"),
    )

    booked_ok(app, visit("S2", "M1", "H3", "2024-06-03", item("1200.00")))

    assert _result(app, "S2")["hifp_pay"] == D("600.00")
    cap = app.cap("M1", 2024)
    assert (cap["used"], cap["remaining"], cap["visits"]) == (D("2000.00"), D("0.00"), 2)


def test_art6_retirement_in_december_switches_in_the_next_insured_year(sqlite_app):
    """Art. 6: retired 2024-12-10 → switch 2025-01-01: 2024 keeps the 1500 cap, 2025 has 2000."""
    app = sqlite_app
    booked_ok(
        app,
        *xinyang_region(),
        member("M1"),
        retired("M1", "2024-12-10"),
        # (400 − 50) × 50 % = 175.00 in December; (400 − 50) × 60 % = 210.00 in January.
        visit("S1", "M1", "H3", "2024-12-20", item("400.00")),
        visit("S2", "M1", "H3", "2025-01-03", item("400.00")),
    )

    assert (_result(app, "S1")["pool_prop_selfpay"], _result(app, "S2")["pool_prop_selfpay"]) == (
        D("0.50"),
        D("0.60"),
    )
    y2024, y2025 = app.cap("M1", 2024), app.cap("M1", 2025)
    assert (y2024["cap"], y2024["used"], y2024["remaining"]) == (
        D("1500.00"),
        D("175.00"),
        D("1325.00"),
    )
    assert (y2025["cap"], y2025["used"], y2025["remaining"]) == (
        D("2000.00"),
        D("210.00"),
        D("1790.00"),
    )


def test_art6_art11_a_retirement_recorded_late_corrects_credits_and_settlements_from_the_switch(
    app,
):
    """Arts. 6, 11, DESIGN §1 "corrections only add": retired 05-14, recorded after July closed.

    Credits: April to July were credited 4 × 120.00 = 480.00 in service. From the 06-01
    switch June and July are due 60.00 each from the pooling fund: each is taken back
    (−120.00) and credited again (+60.00): 480.00 − 2 × 60.00 = 360.00.
    The 06-03 visit of 400.00 at level 3 paid (400 − 50) × 50 % = 175.00; re-adjudicated as
    retired it pays (400 − 50) × 60 % = 210.00 under the 2000 cap.
    """
    booked_ok(
        app,
        *xinyang_region(),
        member("M1"),
        *closes("2024-04", "2024-05", "2024-06", "2024-07"),
        visit("S1", "M1", "H3", "2024-06-03", item("400.00")),
    )
    assert _result(app, "S1")["hifp_pay"] == D("175.00")

    booked_ok(app, retired("M1", "2024-05-14"))

    assert movements(app, "M1")[4:] == [
        ("credit_adjustment", "2024-06-30", D("-120.00"), D("360.00")),
        ("credit_adjustment", "2024-06-30", D("60.00"), D("420.00")),
        ("credit_adjustment", "2024-07-31", D("-120.00"), D("300.00")),
        ("credit_adjustment", "2024-07-31", D("60.00"), D("360.00")),
    ]
    assert balc(app, "M1") == D("360.00")
    assert _result(app, "S1")["hifp_pay"] == D("210.00")
    cap = app.cap("M1", 2024)
    assert (cap["psn_type"], cap["cap"], cap["used"], cap["remaining"]) == (
        "12",
        D("2000.00"),
        D("210.00"),
        D("1790.00"),
    )
    assert app.trial_balance()["balanced"]


def test_art6_a_member_retires_once(sqlite_app):
    """Retirement is keyed by member: the same message is present, another date a conflict."""
    app = sqlite_app
    booked_ok(app, *xinyang_region(), member("M1"), retired("M1", "2024-05-14"))
    head = app.recorder.max_notification_id()
    [again, other] = book(app, retired("M1", "2024-05-14"), retired("M1", "2024-07-01"))
    assert again == PRESENT
    assert isinstance(other, ConflictError)
    assert app.recorder.max_notification_id() == head


def test_art6_known_at_answers_as_the_ledger_knew_it_before_the_retirement_was_recorded(app):
    """DESIGN §1 audit axis: the cap and balance "as the ledger knew it then" (the recorded time).

    Recorded 2024-04-01: enrolment, March's credit (120.00) and a 03-10 visit paying 1400.00.
    Recorded 2024-06-01: the retirement of 05-14 and the April and May credits (2 × 120.00).
    Known at 2024-05-01 the member is in service: cap 1500, remaining 100; balance 120.00.
    Known at 2024-06-15 the retirement is known: cap 2000, remaining 600; balance 360.00.
    """
    with wall_clock(app, "2024-04-01T09:00:00Z"):
        booked_ok(
            app,
            *xinyang_region(),
            member("M1"),
            *closes("2024-03"),
            visit("S1", "M1", "H3", "2024-03-10", item("2850.00")),
        )
    with wall_clock(app, "2024-06-01T09:00:00Z"):
        booked_ok(app, retired("M1", "2024-05-14"), *closes("2024-04", "2024-05"))

    then = app.cap("M1", 2024, known_at="2024-05-01T00:00:00+00:00")
    assert (then["psn_type"], then["cap"], then["used"], then["remaining"]) == (
        "11",
        D("1500.00"),
        D("1400.00"),
        D("100.00"),
    )
    assert balc(app, "M1", known_at="2024-05-01T00:00:00+00:00") == D("120.00")

    later = app.cap("M1", 2024, known_at="2024-06-15T00:00:00+00:00")
    assert (later["psn_type"], later["cap"], later["remaining"]) == (
        "12",
        D("2000.00"),
        D("600.00"),
    )
    assert balc(app, "M1", known_at="2024-06-15T00:00:00+00:00") == D("360.00")

    # A log position works as well as a timestamp, and agrees with it.
    assert app.cap("M1", 2024, known_at=str(then["known_at"]))["cap"] == D("1500.00")


def test_art6_known_at_with_a_beijing_offset_means_the_same_instant(sqlite_app):
    """Art. 6 on the recorded-time axis: an offset other than UTC names the same instant.

    2024-06-01T12:00:00+08:00 is 04:00 UTC, before the retirement was recorded (09:00 UTC):
    as the ledger knew things then, the member was in service (cap 1500) with 120.00.
    (Compared as text, the timestamps once picked a position after the retirement.)
    """
    app = sqlite_app
    with wall_clock(app, "2024-04-01T09:00:00Z"):
        booked_ok(app, *xinyang_region(), member("M1"), *closes("2024-03"))
    with wall_clock(app, "2024-06-01T09:00:00Z"):
        booked_ok(app, retired("M1", "2024-05-14"), *closes("2024-04", "2024-05"))

    utc = app.cap("M1", 2024, known_at="2024-06-01T04:00:00+00:00")
    beijing = app.cap("M1", 2024, known_at="2024-06-01T12:00:00+08:00")
    assert utc["cap"] == D("1500.00")
    assert beijing["known_at"] == utc["known_at"]
    assert beijing["cap"] == D("1500.00")
    assert balc(app, "M1", known_at="2024-06-01T12:00:00+08:00") == D("120.00")
