"""Using the personal account (信政办〔2022〕23号 第九条, 第十条; 同医保办发〔2022〕1号 第二十二条).

Art. 9: the account pays the member's own self-pay at designated institutions and pharmacies
and the member's supplementary large-claim insurance; the self-pay of spouse, parents and
children and their resident-insurance contributions. Art. 10: never public health, fitness,
wellness. A refused use is an error naming the article, and nothing is debited; the balance
never goes negative. Inside a settlement (Datong art. 22) the account pays the member's part
up to the balance when the member allows it, never a delivery fee (医保办发〔2023〕4号).
"""

from __future__ import annotations

from datetime import date

import pytest

from ledger.errors import ConflictError, InputError
from ledger.projections.journal import ACCOUNT_EXPENSE_FAMILY, ACCOUNT_EXPENSE_PHARMACY
from ledger.services.application import BOOKED, PRESENT
from tests.accounts.helpers import D, balc, booked_ok, closes, movements, use, xinyang_region
from tests.support import book, item, member, prescription, purchase, visit

ART9 = "信政办〔2022〕23号 第九条"
PERMITTED = [
    ("self", "medical"),
    ("self", "pharmacy"),
    ("self", "supplementary_insurance"),
    ("spouse", "medical"),
    ("spouse", "pharmacy"),
    ("spouse", "resident_contribution"),
    ("parent", "medical"),
    ("parent", "pharmacy"),
    ("parent", "resident_contribution"),
    ("child", "medical"),
    ("child", "pharmacy"),
    ("child", "resident_contribution"),
]


def _funded(app, *psn_nos, months=("2024-01",)):
    """Members with 6000.00 bases, credited 120.00 for each month closed."""
    booked_ok(app, *xinyang_region(), *(member(p) for p in psn_nos), *closes(*months))


def test_art9_each_permitted_use_debits_the_balance(app):
    """Art. 9 (一)(二)(三): twelve permitted uses of 10.00 empty the 120.00 exactly."""
    _funded(app, "M1")

    outcomes = book(
        app, *(use("M1", "10.00", who, what, ref=f"R-{who}-{what}") for who, what in PERMITTED)
    )

    assert outcomes == [BOOKED] * len(PERMITTED)
    history = movements(app, "M1")[1:]
    assert [kind for kind, *_ in history] == ["use"] * 12
    assert [amount for _, _, amount, _ in history] == [D("-10.00")] * 12
    assert [running for *_, running in history] == [D(f"{120 - 10 * n}.00") for n in range(1, 13)]
    assert balc(app, "M1") == D("0.00")
    # Datong art. 27: these uses are booked as account expense against the account bank.
    trial = app.trial_balance()
    assert trial["balanced"]
    assert {r["account"]: r["debit"] for r in trial["accounts"]}[ACCOUNT_EXPENSE_FAMILY] == D(
        "120.00"
    )


FORBIDDEN = ("purpose", "account_use_forbidden", "信政办〔2022〕23号 第十条")
NOT_FAMILY = ("beneficiary", "account_beneficiary_refused", "信政办〔2022〕23号 第九条（二）")
NOT_FOR_SELF = ("purpose", "account_use_refused", "信政办〔2022〕23号 第九条（一）（二）（三）")
NOT_FOR_FAMILY = ("purpose", "account_use_refused", "信政办〔2022〕23号 第九条（二）（三）")


@pytest.mark.parametrize(
    ("beneficiary", "purpose", "refusal"),
    [
        ("self", "fitness", FORBIDDEN),
        ("self", "wellness", FORBIDDEN),
        ("self", "public_health", FORBIDDEN),
        ("parent", "wellness", FORBIDDEN),
        ("other", "medical", NOT_FAMILY),
        ("self", "resident_contribution", NOT_FOR_SELF),
        ("child", "supplementary_insurance", NOT_FOR_FAMILY),
    ],
)
def test_art9_art10_a_refused_use_names_its_article_and_debits_nothing(
    sqlite_app, beneficiary, purpose, refusal
):
    """Art. 10: never public health, fitness, wellness; art. 9 (二): family is spouse, parents
    and children only; art. 9 (三): resident contributions are for the family, supplementary
    large-claim insurance for the member."""
    app = sqlite_app
    _funded(app, "M1")
    head = app.recorder.max_notification_id()

    [outcome] = book(app, use("M1", "10.00", beneficiary, purpose, ref="R-1"))

    assert isinstance(outcome, InputError)
    assert (outcome.field, outcome.code, outcome.article) == refusal
    assert app.recorder.max_notification_id() == head
    assert balc(app, "M1") == D("120.00")


def test_art10_refusals_are_the_same_on_both_stores(app):
    """One refused use of each kind, on both stores: nothing recorded, nothing debited."""
    _funded(app, "M1")
    head = app.recorder.max_notification_id()
    refused = book(
        app,
        use("M1", "10.00", "self", "fitness", ref="R-1"),
        use("M1", "10.00", "other", "pharmacy", ref="R-2"),
        use("M1", "10.00", "child", "supplementary_insurance", ref="R-3"),
    )
    assert [o.code if isinstance(o, InputError) else o for o in refused] == [
        "account_use_forbidden",
        "account_beneficiary_refused",
        "account_use_refused",
    ]
    assert app.recorder.max_notification_id() == head
    assert movements(app, "M1") == [("credit", "2024-01-31", D("120.00"), D("120.00"))]


def test_art9_a_use_beyond_the_balance_is_refused_and_the_balance_never_goes_negative(app):
    """Art. 9, POLICY.md §3: with 120.00, 120.01 is refused, 120.00 paid, then 0.01 refused."""
    _funded(app, "M1")
    head = app.recorder.max_notification_id()

    [over] = book(app, use("M1", "120.01", ref="R-1"))
    assert isinstance(over, InputError)
    assert (over.field, over.code, over.article) == ("amount", "insufficient_balance", ART9)
    assert app.recorder.max_notification_id() == head

    [whole, empty] = book(app, use("M1", "120.00", ref="R-2"), use("M1", "0.01", ref="R-3"))
    assert whole == BOOKED
    assert isinstance(empty, InputError)
    assert empty.code == "insufficient_balance"
    assert balc(app, "M1") == D("0.00")
    assert all(running >= 0 for *_, running in movements(app, "M1"))


def test_art9_a_use_resubmitted_is_present_and_debited_once(app):
    """Keyed by member and reference: the same line again books nothing; other content conflicts."""
    _funded(app, "M1")
    assert book(app, use("M1", "30.00", "child", "medical", ref="R-77")) == [BOOKED]
    assert book(app, use("M1", "30.00", "child", "medical", ref="R-77")) == [PRESENT]
    [other] = book(app, use("M1", "40.00", "child", "medical", ref="R-77"))
    assert isinstance(other, ConflictError)
    assert balc(app, "M1") == D("90.00")  # 120.00 − 30.00, once


def test_art9_a_use_outside_the_members_time_is_refused(sqlite_app):
    """A use dated before enrolment is refused (nothing of the member's existed then)."""
    app = sqlite_app
    booked_ok(app, *xinyang_region(), member("M1", day="2024-02-01"), *closes("2024-02"))
    [early] = book(app, use("M1", "10.00", ref="R-1", day="2024-01-15"))
    assert isinstance(early, InputError)
    assert early.code == "not_enrolled_yet"
    assert balc(app, "M1") == D("120.00")


def test_datong_art22_the_account_pays_the_members_part_up_to_the_balance(app):
    """Datong art. 22 with Xinyang art. 9 (一). Level 3, in service, 400.00 of category A:

    fund (400 − 50) × 50 % = 175.00, member's part 225.00; balance 120.00 (January):
    account 120.00, cash 105.00, balance after 0.00.
    """
    _funded(app, "M1")
    booked_ok(app, visit("S1", "M1", "H3", "2024-02-05", item("400.00"), acct=True))

    result = app.get_settlement("S1").result
    assert (
        result["hifp_pay"],
        result["psn_part_amt"],
        result["acct_pay"],
        result["psn_cash_pay"],
        result["balc"],
    ) == (D("175.00"), D("225.00"), D("120.00"), D("105.00"), D("0.00"))
    assert balc(app, "M1") == D("0.00")
    assert movements(app, "M1")[-1][:3] == ("settlement", "2024-02-05", D("-120.00"))


def test_datong_art22_with_a_larger_balance_the_account_pays_the_whole_part(sqlite_app):
    """Three months credited (360.00): the account pays all 225.00 and 135.00 remain."""
    app = sqlite_app
    _funded(app, "M1", months=("2024-01", "2024-02", "2024-03"))
    booked_ok(app, visit("S1", "M1", "H3", "2024-04-05", item("400.00"), acct=True))
    result = app.get_settlement("S1").result
    assert (result["acct_pay"], result["psn_cash_pay"], result["balc"]) == (
        D("225.00"),
        D("0.00"),
        D("135.00"),
    )
    assert balc(app, "M1") == D("135.00")


def test_datong_art22_without_the_members_consent_the_account_pays_nothing(sqlite_app):
    app = sqlite_app
    _funded(app, "M1")
    booked_ok(app, visit("S1", "M1", "H3", "2024-02-05", item("400.00"), acct=False))
    result = app.get_settlement("S1").result
    assert (result["acct_pay"], result["psn_cash_pay"]) == (D("0.00"), D("225.00"))
    assert balc(app, "M1") == D("120.00")


@pytest.mark.parametrize(
    ("months", "acct_pay", "cash", "after"),
    [
        (("2024-01",), "59.70", "5.00", "60.30"),  # 120.00 balance: pays 64.70 − 5.00 = 59.70
        ((), "0.00", "64.70", "0.00"),  # empty account: pays nothing
    ],
)
def test_national_notice_the_account_never_pays_a_pharmacy_delivery_fee(
    app, months, acct_pay, cash, after
):
    """Xinyang art. 13 (pharmacy as level 2); 医保办发〔2023〕4号 (delivery fee not insured).

    30 × 3.20 = 96.00 of drugs + 5.00 delivery = 101.00. Deductible 30.00, ratio 55 %:
    (96.00 − 30.00) × 55 % = 36.30 from the fund; the member's part 64.70, of which the
    delivery fee 5.00 is always cash: the account pays at most 59.70.
    """
    _funded(app, "M1", months=months)
    booked_ok(
        app,
        prescription("RX1", "M1", "H3", "2024-02-01", "V-1", [("XC10", "30", 7)]),
        purchase(
            "S1",
            "RX1",
            "M1",
            "P1",
            "2024-02-02",
            item("3.20", cnt="30", code="XC10"),
            acct=True,
            delivery_fee="5.00",
        ),
    )

    result = app.get_settlement("S1").result
    assert (
        result["medfee_sumamt"],
        result["fulamt_ownpay_amt"],
        result["act_pay_dedc"],
        result["hifp_pay"],
        result["psn_part_amt"],
    ) == (D("101.00"), D("5.00"), D("30.00"), D("36.30"), D("64.70"))
    assert (result["acct_pay"], result["psn_cash_pay"], result["balc"]) == (
        D(acct_pay),
        D(cash),
        D(after),
    )
    assert balc(app, "M1") == D(after)
    if acct_pay != "0.00":
        debits = {r["account"]: r["debit"] for r in app.trial_balance()["accounts"]}
        assert debits[ACCOUNT_EXPENSE_PHARMACY] == D(acct_pay)
    assert app.trial_balance()["balanced"]


def test_datong_art22_a_settlement_limited_by_the_balance_leaves_it_at_zero_never_below(sqlite_app):
    """Two settlements with consent: the first empties the 120.00, the second finds 0.00: cash.

    Primary institution, no deductible, 55 %: 300.00 → fund 165.00, member's part 135.00, of
    which the account pays its 120.00; then 100.00 → fund 55.00, part 45.00, all in cash.
    """
    app = sqlite_app
    _funded(app, "M1")
    booked_ok(
        app,
        visit("S1", "M1", "H1", "2024-02-05", item("300.00"), acct=True),
        visit("S2", "M1", "H1", "2024-02-06", item("100.00"), acct=True),
    )
    assert app.get_settlement("S1").result["acct_pay"] == D("120.00")
    s2 = app.get_settlement("S2").result
    assert (s2["acct_pay"], s2["psn_cash_pay"], s2["balc"]) == (D("0.00"), D("45.00"), D("0.00"))
    assert balc(app, "M1") == D("0.00")
    assert balc(app, "M1", as_of=date(2024, 2, 5)) == D("0.00")


def test_art10_inside_a_settlement_the_account_never_pays_a_public_health_line(sqlite_app):
    """Art. 10 in a claim: a public-health line is the member's, in cash, even with consent.

    Level 3: 200.00 in scope + 50.00 public health (excluded, fully self-paid) = 250.00.
    Fund (200 − 50) × 50 % = 75.00; the member's part 175.00, of which 50.00 is kept for
    cash; balance 360.00 (three months): the account pays 125.00, cash 50.00.
    """
    app = sqlite_app
    _funded(app, "M1", months=("2024-01", "2024-02", "2024-03"))
    booked_ok(
        app,
        visit(
            "S1",
            "M1",
            "H3",
            "2024-04-02",
            item("200.00"),
            item("50.00", exclusion="public_health"),
            acct=True,
        ),
    )
    result = app.get_settlement("S1").result
    assert (result["hifp_pay"], result["psn_part_amt"], result["acct_pay"]) == (
        D("75.00"),
        D("175.00"),
        D("125.00"),
    )
    assert (result["psn_cash_pay"], result["balc"]) == (D("50.00"), D("235.00"))
    assert balc(app, "M1") == D("235.00")
