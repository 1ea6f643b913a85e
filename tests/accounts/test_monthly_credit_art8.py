"""Monthly personal-account credits (信政办〔2022〕23号 第八条, 第十一条), and closing months.

Art. 8: in service the account gets 2 % of the member's contribution base each month (from
the member's own contribution); retired, a flat 60 yuan from the pooling fund. A month is
closed once per region, in order; the close credits every member active on the month's last
day, using the base that applies to that month.
"""

from __future__ import annotations

import pytest

from ledger.errors import ConflictError, PeriodError
from ledger.projections.journal import ACCOUNT_BANK, CONTRIBUTION_INCOME, POOLING_TO_ACCOUNTS
from ledger.services.application import BOOKED, PRESENT
from ledger.services.audit import audit
from tests.accounts.helpers import (
    D,
    balc,
    base_changed,
    booked_ok,
    budget,
    closes,
    deceased,
    message,
    month_closed,
    movements,
    resumed,
    suspended,
    transferred_out,
    use,
)
from tests.support import book, member


def test_art8_in_service_credit_is_two_percent_of_the_base_half_up_and_retired_sixty(app):
    """Art. 8 (一)(二): 2 % of the base, rounded half-up to the fen; retired a flat 60.00.

    M6000: 6000.00 × 2 % = 120.00
    M5432: 5432.10 × 2 % = 108.642 → 108.64
    MHALF: 5432.25 × 2 % = 108.645 → 108.65 (half-up; half-even would give 108.64)
    R9000: retired, 60.00 (not 9000.00 × 2 % = 180.00)
    """
    booked_ok(
        app,
        budget(),
        member("M6000", base="6000.00"),
        member("M5432", base="5432.10"),
        member("MHALF", base="5432.25"),
        member("R9000", psn_type="12", base="9000.00"),
        month_closed("2024-03"),
    )
    assert balc(app, "M6000") == D("120.00")
    assert balc(app, "M5432") == D("108.64")
    assert balc(app, "MHALF") == D("108.65")
    assert balc(app, "R9000") == D("60.00")
    assert movements(app, "M5432") == [("credit", "2024-03-31", D("108.64"), D("108.64"))]

    # Double entry (Datong art. 27): the in-service credits come from the members' contributions
    # (120.00 + 108.64 + 108.65 = 337.29), the retiree's 60.00 from the pooling fund; the
    # account bank receives all 397.29.
    trial = app.trial_balance()
    by_account = {row["account"]: row for row in trial["accounts"]}
    assert trial["balanced"]
    assert by_account[CONTRIBUTION_INCOME]["credit"] == D("337.29")
    assert by_account[POOLING_TO_ACCOUNTS]["debit"] == D("60.00")
    assert by_account[ACCOUNT_BANK]["debit"] == D("397.29")


def test_art8_each_month_is_credited_once_and_a_second_close_is_refused_and_changes_nothing(app):
    """Art. 8 monthly credit; DESIGN §3: a second run for a region and period is refused."""
    booked_ok(app, budget(), member("M1"), month_closed("2024-03"))
    head = app.recorder.max_notification_id()

    outcome = app.close_period(message(month_closed("2024-03")), refuse_repeat=True)

    assert isinstance(outcome, PeriodError)
    assert outcome.code == "month_closed"
    assert app.recorder.max_notification_id() == head
    assert balc(app, "M1") == D("120.00")  # 6000.00 × 2 %, once


def test_art8_re_ingesting_the_same_month_closed_message_is_present(app):
    """Art. 8: an ingest that repeats the very same month.closed line books nothing."""
    booked_ok(app, budget(), member("M1"), month_closed("2024-03"))
    head = app.recorder.max_notification_id()

    assert book(app, month_closed("2024-03")) == [PRESENT]
    assert app.recorder.max_notification_id() == head
    assert balc(app, "M1") == D("120.00")


def test_art8_the_same_month_key_with_other_content_is_refused(app):
    """The month.closed key (region/month) reused with another date is a conflict."""
    booked_ok(app, budget(), member("M1"), month_closed("2024-03"))
    head = app.recorder.max_notification_id()
    other = {**month_closed("2024-03"), "date": "2024-04-01"}

    [outcome] = book(app, other)

    assert isinstance(outcome, ConflictError)
    assert app.recorder.max_notification_id() == head


def test_art8_a_month_cannot_close_before_its_last_day(app):
    booked_ok(app, budget(), member("M1"))
    head = app.recorder.max_notification_id()

    [outcome] = book(app, {**month_closed("2024-03"), "date": "2024-03-30"})

    assert isinstance(outcome, PeriodError)
    assert outcome.code == "month_not_over"
    assert app.recorder.max_notification_id() == head
    assert balc(app, "M1") == D("0.00")


def test_art8_months_close_in_order_an_earlier_month_after_a_later_one_is_refused(app):
    booked_ok(app, budget(), member("M1"), *closes("2024-02", "2024-03"))
    head = app.recorder.max_notification_id()

    [outcome] = book(app, month_closed("2024-01"))

    assert isinstance(outcome, PeriodError)
    assert outcome.code == "month_out_of_order"
    assert app.recorder.max_notification_id() == head
    assert balc(app, "M1") == D("240.00")  # February and March: 2 × 120.00


def test_art8_months_close_in_order_a_close_may_not_skip_an_open_month(sqlite_app):
    """Art. 8 credits every month; once March is closed, a skipped February could never be closed.

    Closing 2024-03 right after 2024-01 must be refused (February is still open), or every
    member silently loses February's credit: 120.00 for a 6000.00 base.
    """
    app = sqlite_app
    booked_ok(app, budget(), member("M1"), month_closed("2024-01"))
    head = app.recorder.max_notification_id()

    [outcome] = book(app, month_closed("2024-03"))

    assert isinstance(outcome, PeriodError)
    assert app.recorder.max_notification_id() == head


def test_art8_a_member_enrolled_after_the_month_end_is_not_credited_for_it(app):
    """Art. 8: members enrolled by the month's last day are credited; one enrolled 04-01 waits.

    Reading of the ledger (not stated by the seeds): a member active on the month's last day
    gets the whole month's credit, so M_MID enrolled on 03-20 gets March's 120.00 in full.
    """
    booked_ok(
        app,
        budget(),
        member("M_EARLY"),
        member("M_MID", day="2024-03-20"),
        member("M_LATE", day="2024-04-01"),
        month_closed("2024-03"),
    )

    assert balc(app, "M_EARLY") == D("120.00")
    assert balc(app, "M_MID") == D("120.00")
    assert balc(app, "M_LATE") == D("0.00")
    assert movements(app, "M_LATE") == []

    booked_ok(app, month_closed("2024-04"))
    assert movements(app, "M_LATE") == [("credit", "2024-04-30", D("120.00"), D("120.00"))]


@pytest.mark.parametrize("leaving", [transferred_out, deceased], ids=["transfer_out", "death"])
def test_art8_art12_a_member_who_left_is_not_credited_afterwards(app, leaving):
    """Art. 8 credits members; after a transfer out or a death (art. 12) nothing more is credited.

    January is credited (120.00), then the member leaves on 02-15: the balance is paid out
    (art. 12), and neither February (left before its end) nor March is credited.
    """
    booked_ok(
        app,
        budget(),
        member("M1"),
        member("M2"),
        month_closed("2024-01"),
        leaving("M1", "2024-02-15"),
        *closes("2024-02", "2024-03"),
    )

    assert balc(app, "M1") == D("0.00")
    assert [m[0] for m in movements(app, "M1")] == [
        "credit",
        "transfer_out" if leaving is transferred_out else "inheritance",
    ]
    assert balc(app, "M2") == D("360.00")  # the member who stayed: 3 × 120.00


def test_art8_a_suspended_member_is_not_credited_while_suspended_at_month_end(app):
    """Art. 8, assumed reading: no credit for a month whose last day falls in a benefit suspension.

    The seeds do not say; assumed.yaml ``account_credit_while_suspended: false`` reads that a
    member in arrears paid no contribution to credit. Suspended 02-10, resumed 03-05:
    January 120.00, February nothing, March 120.00.
    """
    booked_ok(
        app,
        budget(),
        member("M1"),
        month_closed("2024-01"),
        suspended("M1", "2024-02-10"),
        month_closed("2024-02"),
        resumed("M1", "2024-03-05"),
        month_closed("2024-03"),
    )

    assert movements(app, "M1") == [
        ("credit", "2024-01-31", D("120.00"), D("120.00")),
        ("credit", "2024-03-31", D("120.00"), D("240.00")),
    ]


def test_art8_a_suspension_that_ends_on_the_last_day_does_not_block_the_credit(sqlite_app):
    """Suspended 03-10, resumed 03-31 (the resumption day is covered again): March is credited."""
    app = sqlite_app
    booked_ok(
        app,
        budget(),
        member("M1"),
        suspended("M1", "2024-03-10"),
        resumed("M1", "2024-03-31"),
        month_closed("2024-03"),
    )
    assert balc(app, "M1") == D("120.00")


def test_art8_the_base_change_applies_from_its_month_april_160_march_stays_120(app):
    """Art. 8 (一): 2 % of the base that applies to the month; 6000 → 8000 on 2024-04-15.

    March: 6000.00 × 2 % = 120.00 (closed before the change is known);
    April: 8000.00 × 2 % = 160.00 (the change applies from the month it falls in).
    """
    booked_ok(
        app,
        budget(),
        member("M1", base="6000.00"),
        month_closed("2024-03"),
        base_changed("M1", "2024-04-15", "8000.00"),
        month_closed("2024-04"),
    )

    assert movements(app, "M1") == [
        ("credit", "2024-03-31", D("120.00"), D("120.00")),
        ("credit", "2024-04-30", D("160.00"), D("280.00")),
    ]


def test_art8_a_base_change_known_before_march_closes_still_leaves_march_at_120(sqlite_app):
    """The 04-15 change is booked first; March still uses the old base: 120.00, April 160.00."""
    app = sqlite_app
    booked_ok(
        app,
        budget(),
        member("M1", base="6000.00"),
        base_changed("M1", "2024-04-15", "8000.00"),
        *closes("2024-03", "2024-04"),
    )
    assert [m[2] for m in movements(app, "M1")] == [D("120.00"), D("160.00")]


@pytest.mark.parametrize(
    ("day", "march", "april"),
    [
        ("2024-03-31", "160.00", "160.00"),  # last day of March: March already on 8000.00
        ("2024-04-01", "120.00", "160.00"),  # first day of April: March on 6000.00
    ],
)
def test_art8_a_base_change_on_a_month_boundary(sqlite_app, day, march, april):
    app = sqlite_app
    booked_ok(
        app,
        budget(),
        member("M1", base="6000.00"),
        base_changed("M1", day, "8000.00"),
        *closes("2024-03", "2024-04"),
    )
    assert [m[2] for m in movements(app, "M1")] == [D(march), D(april)]


def test_art8_a_close_resumed_after_a_crash_credits_nobody_twice(app, monkeypatch):
    """A close that dies after crediting (month not recorded) is run again: one credit per month."""
    booked_ok(app, budget(), member("M1"), member("M2"))
    real = app.pending_actuals

    def crash(*args, **kwargs):
        raise RuntimeError("power cut after the credits")

    monkeypatch.setattr(app, "pending_actuals", crash)
    with pytest.raises(RuntimeError):
        app.close_period(message(month_closed("2024-03")))
    monkeypatch.setattr(app, "pending_actuals", real)

    assert book(app, month_closed("2024-03")) == [BOOKED]
    assert book(app, month_closed("2024-03")) == [PRESENT]
    for psn_no in ("M1", "M2"):
        assert movements(app, psn_no) == [("credit", "2024-03-31", D("120.00"), D("120.00"))]
    assert app.trial_balance()["balanced"]


def test_art8_a_base_change_recorded_after_its_month_closed_corrects_that_months_credit(app):
    """Art. 8 (一), DESIGN §1 "corrections only add": 6000 → 8000 dated 04-15, recorded late.

    The change arrives after April closed. April was credited 6000.00 × 2 % = 120.00; it is
    due 8000.00 × 2 % = 160.00, so a credit adjustment of +40.00 dated 04-30 is added;
    March (120.00) is not touched.
    """
    booked_ok(app, budget(), member("M1"), *closes("2024-03", "2024-04"))
    booked_ok(app, base_changed("M1", "2024-04-15", "8000.00"))

    assert movements(app, "M1") == [
        ("credit", "2024-03-31", D("120.00"), D("120.00")),
        ("credit", "2024-04-30", D("120.00"), D("240.00")),
        ("credit_adjustment", "2024-04-30", D("40.00"), D("280.00")),
    ]
    assert app.trial_balance()["balanced"]


def test_art8_a_member_enrolled_in_a_month_already_closed_is_credited_for_it_when_recorded(app):
    """Art. 8 (一)(二), DESIGN §1 "corrections only add": an enrolment recorded after its month closed.

    March closes with M1 alone. Then three enrolments arrive: M_MID dated 03-20 (base
    6000.00) and R_MID retired dated 03-20 were active on March's last day, so March is due
    them: 6000.00 × 2 % = 120.00 and the flat 60.00, each added at once as a credit adjustment
    dated 03-31. M_APRIL dated 04-01 was not, and waits for April's close.
    """
    booked_ok(app, budget(), member("M1"), month_closed("2024-03"))
    booked_ok(app, member("M_MID", day="2024-03-20"), member("R_MID", psn_type="12", day="2024-03-20"),
              member("M_APRIL", day="2024-04-01"))

    assert movements(app, "M_MID") == [("credit_adjustment", "2024-03-31", D("120.00"), D("120.00"))]
    assert movements(app, "R_MID") == [("credit_adjustment", "2024-03-31", D("60.00"), D("60.00"))]
    assert movements(app, "M_APRIL") == []

    booked_ok(app, month_closed("2024-04"))
    assert balc(app, "M_MID") == D("240.00")
    assert balc(app, "R_MID") == D("120.00")
    assert movements(app, "M_APRIL") == [("credit", "2024-04-30", D("120.00"), D("120.00"))]
    assert app.trial_balance()["balanced"]
    assert audit(app).ok


def test_art8_a_resumption_recorded_after_its_month_closed_credits_that_month(app):
    """Art. 8 (assumed reading: no credit while suspended at month end), a resumption recorded late.

    M1 is credited January (120.00), suspended from 02-10, so February and March close without
    its credit. A resumption dated 03-20 then arrives: M1 was active on March's last day, so
    March's 120.00 is added (dated 03-31); February, suspended at its end, stays uncredited.
    """
    booked_ok(app, budget(), member("M1"), month_closed("2024-01"), suspended("M1", "2024-02-10"),
              *closes("2024-02", "2024-03"))
    booked_ok(app, resumed("M1", "2024-03-20"))

    assert movements(app, "M1") == [
        ("credit", "2024-01-31", D("120.00"), D("120.00")),
        ("credit_adjustment", "2024-03-31", D("120.00"), D("240.00")),
    ]
    assert app.trial_balance()["balanced"]
    assert audit(app).ok


def test_art8_a_suspension_recorded_late_takes_back_the_credit_but_never_below_zero(app):
    """Art. 8 (assumed reading: no credit while suspended at month end) with POLICY.md §3.

    January and February credited (2 × 120.00), 200.00 used on 03-01: 40.00 left. A
    suspension from 02-10 then arrives: February's 120.00 was not due, but only the 40.00
    still in the account can be taken back; the balance stops at 0.00.
    """
    booked_ok(
        app,
        budget(),
        member("M1"),
        *closes("2024-01", "2024-02"),
        use("M1", "200.00", ref="R-1", day="2024-03-01"),
    )
    booked_ok(app, suspended("M1", "2024-02-10"))

    assert movements(app, "M1")[-1] == ("credit_adjustment", "2024-02-29", D("-40.00"), D("0.00"))
    assert balc(app, "M1") == D("0.00")
    assert all(running >= 0 for *_, running in movements(app, "M1"))
    assert app.trial_balance()["balanced"]
