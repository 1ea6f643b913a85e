"""Leaving the region (信政办〔2022〕23号 第十二条): the balance is paid out or inherited.

Art. 12: 「个人账户资金可以结转使用和继承。职工调离本统筹区时，个人账户结余资金可随同转移或
一次性拨付给本人。」 After leaving, the balance is 0.00 and the member takes no new facts.
"""

from __future__ import annotations

from datetime import date

import pytest

from ledger.errors import InputError
from ledger.projections.journal import ACCOUNT_EXPENSE_INHERITANCE, ACCOUNT_EXPENSE_TRANSFER
from ledger.services.application import PRESENT
from tests.accounts.helpers import (
    D,
    aggregate,
    balc,
    base_changed,
    booked_ok,
    closes,
    deceased,
    movements,
    retired,
    reversed_,
    suspended,
    transferred_out,
    use,
    xinyang_region,
)
from tests.support import book, fact, item, member, visit


def _with_balance(app):
    """M1: three credits of 120.00 and a 50.00 use for a child: 310.00."""
    booked_ok(
        app,
        *xinyang_region(),
        member("M1"),
        *closes("2024-01", "2024-02", "2024-03"),
        use("M1", "50.00", "child", "medical", ref="R-1", day="2024-03-05"),
    )
    assert balc(app, "M1") == D("310.00")


def test_art12_transfer_out_pays_the_whole_balance_out(app):
    """Art. 12: on 2024-04-10 the 310.00 balance is paid out, as the history shows: 0.00 left."""
    _with_balance(app)
    booked_ok(app, transferred_out("M1", "2024-04-10", destination="410200"))

    assert balc(app, "M1") == D("0.00")
    assert movements(app, "M1")[-1] == ("transfer_out", "2024-04-10", D("-310.00"), D("0.00"))
    assert app.history("M1")[-1]["reference"] == "410200"
    assert aggregate(app, "M1").balance == D("0.00")
    trial = app.trial_balance()
    assert trial["balanced"]
    assert {r["account"]: r["debit"] for r in trial["accounts"]}[ACCOUNT_EXPENSE_TRANSFER] == D(
        "310.00"
    )


def test_art12_death_passes_the_balance_to_the_heir(app):
    """Art. 12 「可以继承」: the 310.00 goes to the recorded heir; the balance is 0.00."""
    _with_balance(app)
    booked_ok(app, deceased("M1", "2024-04-10", heir="HEIR-7"))

    assert balc(app, "M1") == D("0.00")
    assert movements(app, "M1")[-1] == ("inheritance", "2024-04-10", D("-310.00"), D("0.00"))
    assert app.history("M1")[-1]["reference"] == "HEIR-7"
    trial = app.trial_balance()
    assert trial["balanced"]
    assert {r["account"]: r["debit"] for r in trial["accounts"]}[ACCOUNT_EXPENSE_INHERITANCE] == D(
        "310.00"
    )


def test_art12_the_balance_before_leaving_stays_answerable_as_of_earlier_dates(sqlite_app):
    """The payout is dated 04-10: as of 04-09 the account still held 310.00."""
    app = sqlite_app
    _with_balance(app)
    booked_ok(app, transferred_out("M1", "2024-04-10"))
    assert balc(app, "M1", as_of=date(2024, 4, 9)) == D("310.00")
    assert balc(app, "M1", as_of=date(2024, 4, 10)) == D("0.00")


def test_art12_a_leaving_message_resubmitted_is_present(sqlite_app):
    app = sqlite_app
    _with_balance(app)
    booked_ok(app, transferred_out("M1", "2024-04-10"))
    head = app.recorder.max_notification_id()
    assert book(app, transferred_out("M1", "2024-04-10")) == [PRESENT]
    assert app.recorder.max_notification_id() == head


@pytest.mark.parametrize("leaving", [transferred_out, deceased], ids=["transfer_out", "death"])
def test_art12_no_facts_are_accepted_after_leaving(app, leaving):
    """After 2024-04-10 nothing more is booked for the member, and no month credits the account."""
    _with_balance(app)
    booked_ok(app, leaving("M1", "2024-04-10"))
    head = app.recorder.max_notification_id()

    later = [
        visit("S9", "M1", "H3", "2024-04-11", item("100.00"), acct=True),
        use("M1", "1.00", ref="R-9", day="2024-04-11"),
        retired("M1", "2024-04-12"),
        base_changed("M1", "2024-05-01", "9000.00"),
        suspended("M1", "2024-05-02"),
        fact("family_doctor_signed", "M1", "2024-05-03", fixmedins_code="H1"),
        fact("admitted", "M1", "2024-05-04", fixmedins_code="H3"),
    ]
    outcomes = book(app, *later)

    assert all(isinstance(o, InputError) and o.code == "member_left" for o in outcomes), outcomes
    assert app.recorder.max_notification_id() == head
    booked_ok(app, *closes("2024-04", "2024-05"))
    assert balc(app, "M1") == D("0.00")
    assert [kind for kind, *_ in movements(app, "M1")][-1] in ("transfer_out", "inheritance")


def test_art12_a_reversal_after_transfer_out_leaves_nothing_in_the_account(sqlite_app):
    """Art. 12: after the payout the balance is 0.00 and stays so.

    04-05: 100.00 at level 3 with consent: fund (100 − 50) × 50 % = 25.00, the account pays 75.00.
    04-10: the remaining 310.00 − 75.00 = 235.00 is paid out. 04-12: the hospital reverses the
    04-05 bill. The 75.00 given back must not sit in the departed member's account: either the
    reversal is refused for a departed member, or the 75.00 is paid out after the rest.
    """
    app = sqlite_app
    _with_balance(app)
    booked_ok(
        app,
        visit("S1", "M1", "H3", "2024-04-05", item("100.00"), acct=True),
        transferred_out("M1", "2024-04-10"),
    )
    assert movements(app, "M1")[-1][2] == D("-235.00")

    book(app, reversed_("S1", "2024-04-12"))

    assert balc(app, "M1") == D("0.00")
    assert aggregate(app, "M1").balance == D("0.00")


@pytest.mark.parametrize("leaving", [transferred_out, deceased], ids=["transfer_out", "death"])
def test_art12_a_month_closed_after_the_member_left_leaves_nothing_in_the_account(
    sqlite_app, leaving
):
    """Art. 8 + art. 12: February is closed on time (120.00); the member leaves on 2024-04-10,
    which is recorded before the region closes March.

    The payout on 04-10 took the 120.00; March's 120.00, credited afterwards, must not stay in
    the account of a member who is gone (balance 0.00): it is paid out (or goes with the member).
    """
    app = sqlite_app
    booked_ok(app, *xinyang_region(), member("M1"), *closes("2024-02"), leaving("M1", "2024-04-10"))
    assert balc(app, "M1") == D("0.00")

    booked_ok(app, *closes("2024-03"))

    assert balc(app, "M1") == D("0.00")
    assert aggregate(app, "M1").balance == D("0.00")


def test_art12_a_late_base_change_after_transfer_out_leaves_nothing_in_the_account(sqlite_app):
    """Art. 8 + art. 12: April credited 120.00, transfer out 05-10 pays out 240.00; then a
    base change 6000 → 8000 dated 04-15 is recorded: April is due 40.00 more.

    The 40.00 must not sit in the account of a member who is gone (balance 0.00): it is paid
    out after the rest, like the balance it belongs to.
    """
    app = sqlite_app
    booked_ok(
        app,
        *xinyang_region(),
        member("M1"),
        *closes("2024-03", "2024-04"),
        transferred_out("M1", "2024-05-10"),
    )

    book(app, base_changed("M1", "2024-04-15", "8000.00"))

    assert balc(app, "M1") == D("0.00")
    assert aggregate(app, "M1").balance == D("0.00")
