"""A month close credits the members even when it cannot prepay the institutions yet (信政办〔2022〕23号 第八条).

「在职职工个人账户由个人缴纳的基本医疗保险费计入，计入标准为本人参保缴费基数2%」: the credit comes from
the member's own contribution and waits for nothing. A prepayment that cannot be computed (no
budget for a budget scheme, no scheme in force) is recorded with the close as pending, with its
reason; a budget that arrives later books the waiting months as ``Region.MonthPrepaid``, each
exactly as its close would have prepaid it.

Xinyang (411500) pays institutions under Kaifeng's scheme (regions.yaml). Members are in service
with a base of 6000.00: 2 % = 120.00 a month each. Hand-worked figures are in each test.
"""

from __future__ import annotations

from decimal import Decimal

from ledger.domain.ids import region_id
from ledger.domain.regions import Region
from ledger.errors import PeriodError
from ledger.services.bootstrap import bootstrap
from tests.payments.flows import (
    JIAOZUO,
    KAIFENG,
    assert_rebuild_equals_incremental,
    booked,
    budget,
    close_year,
    month,
    months,
    reversal,
)
from tests.support import book, institution, item, member, visit

D = Decimal
XINYANG = "411500"


def region_events(app, admdvs: str) -> list:
    return [e for e in app.events.get(region_id(admdvs)) if isinstance(e, Region.MonthClosed | Region.MonthPrepaid)]


def prepayment_rows(app, code: str) -> list[tuple]:
    return [(r["month"], r["count"], r["actual"], r["allocation"], r["paid"], r["withheld"])
            for r in app.prepayments(code, 2024)["rows"]]


def xinyang_quarter(app, *, budget_first: bool) -> None:
    """Jan: S1 M1@H1 (level 3) 400.00 → fund 175.00; S2 M2@H2 (level 2) 200.00 → 93.50.
    Feb: S3 M1@H1 300.00 → 125.00. Mar: S4 M2@H1 400.00 → 175.00 (booked before the budget arrives).
    The 2024 budget 1200.00 comes on 03-05 (or, for the clean run, before anything).
    """
    x = XINYANG
    the_budget = budget(x, 2024, "1200.00", "2024-03-05" if not budget_first else "2024-01-01")
    booked(app, institution("H1", level=3), institution("H2", level=2), member("M1"), member("M2"),
           *([the_budget] if budget_first else []),
           visit("S1", "M1", "H1", "2024-01-10", item("400.00")),
           visit("S2", "M2", "H2", "2024-01-11", item("200.00")),
           month(x, "2024-01"),
           visit("S3", "M1", "H1", "2024-02-10", item("300.00")),
           month(x, "2024-02"),
           visit("S4", "M2", "H1", "2024-03-02", item("400.00")),
           *([] if budget_first else [the_budget]),
           month(x, "2024-03"))


def test_credit_without_budget_xinyang_art8_and_the_prepayment_waits(app):
    """第八条: January and February credit 2 × 120.00 = 240.00 each with no budget; nothing is prepaid yet.

    January waits with ``no_budget`` (汴医保〔2023〕29号 三（二）: the month's budget is the year's ÷ 12),
    February with ``earlier_month_pending`` (months are prepaid in order).
    """
    x = XINYANG
    booked(app, institution("H1", level=3), institution("H2", level=2), member("M1"), member("M2"),
           visit("S1", "M1", "H1", "2024-01-10", item("400.00")),
           visit("S2", "M2", "H2", "2024-01-11", item("200.00")),
           month(x, "2024-01"),
           visit("S3", "M1", "H1", "2024-02-10", item("300.00")),
           month(x, "2024-02"))
    assert app.balance("M1")["balc"] == app.balance("M2")["balc"] == D("240.00")
    jan, feb = region_events(app, x)
    assert jan.credits == {"members": 2, "amount": D("240.00")}
    assert (jan.payments, jan.pending["code"]) == ([], "no_budget")
    assert jan.pending["article"].startswith("汴医保〔2023〕29号 三（二）")
    assert "no budget.set for 411500 2024" in jan.pending["reason"]
    assert (feb.payments, feb.pending["code"]) == ([], "earlier_month_pending")
    assert prepayment_rows(app, "H1") == []


def test_budget_arriving_later_prepays_the_waiting_months_as_their_closes_would_have_kaifeng_3_2(app):
    """三（二） with B = 1200.00 → 100.00 a month, applied when the budget comes on 03-05.

    Jan: city 175 + 93.50 = 268.50; H1 100 × 175 ÷ 268.5 = 65.1769 → 65.18 granted, 5 % = 3.259 → 3.26
         withheld, 61.92 cash; H2 100 × 93.5 ÷ 268.5 = 34.8231 → 34.82, 1.741 → 1.74, 33.08.
    Feb: H1 125.00 > 100.00 → 100.00 granted, 5.00 withheld, 95.00 cash.
    Mar (closed after the budget): H1 175.00 (S4, booked before the budget but after February closed)
         → 100.00 granted, 5.00, 95.00.
    The same rows as a run whose budget was there from the start.
    """
    xinyang_quarter(app, budget_first=False)
    jan, feb, jan_paid, feb_paid, mar = region_events(app, XINYANG)
    assert (jan_paid.month, jan_paid.resolves, jan_paid.resolved_by) == ("2024-01", "no_budget", "budget/411500/2024")
    assert (feb_paid.month, feb_paid.resolves) == ("2024-02", "earlier_month_pending")
    assert (jan_paid.through_position, feb_paid.through_position) == (jan.through_position, feb.through_position)
    assert mar.pending is None
    h1 = [("2024-01", 1, D("175.00"), D("65.18"), D("61.92"), D("3.26")),
          ("2024-02", 1, D("125.00"), D("100.00"), D("95.00"), D("5.00")),
          ("2024-03", 1, D("175.00"), D("100.00"), D("95.00"), D("5.00"))]
    h2 = [("2024-01", 1, D("93.50"), D("34.82"), D("33.08"), D("1.74"))]
    assert prepayment_rows(app, "H1") == h1
    assert prepayment_rows(app, "H2") == h2
    assert app.balance("M1")["balc"] == D("360.00")  # three months × 120.00
    assert_rebuild_equals_incremental(app)


def test_a_late_budget_gives_the_same_prepayments_as_an_early_one_kaifeng_3_2(app, tmp_path):
    """The clean run (budget before January) and the late one agree row for row, and on the journal."""
    xinyang_quarter(app, budget_first=False)
    clean = bootstrap(str(tmp_path / "clean.db"))
    try:
        xinyang_quarter(clean, budget_first=True)
        for code in ("H1", "H2"):
            assert prepayment_rows(app, code) == prepayment_rows(clean, code)
        assert app.trial_balance()["accounts"] == clean.trial_balance()["accounts"]
    finally:
        clean.close()


def test_a_year_with_a_month_still_waiting_is_not_cleared(app):
    """三（三） clears the months prepaid: with no budget ever set, every close waits and year.closed is refused."""
    booked(app, institution("H1", level=3, admdvs=KAIFENG), member("M1", admdvs=KAIFENG),
           visit("S1", "M1", "H1", "2024-01-10", item("400.00")), *months(KAIFENG, 2024))
    assert app.balance("M1")["balc"] == D("1440.00")  # 12 × 120.00, credited regardless
    head = app.recorder.max_notification_id()
    [outcome] = book(app, close_year(KAIFENG, 2024))
    assert isinstance(outcome, PeriodError)
    assert outcome.code == "prepayment_pending"
    assert "2024-01" in outcome.reason
    assert app.recorder.max_notification_id() == head
    booked(app, budget(KAIFENG, 2024, "12000.00", "2025-01-05"), close_year(KAIFENG, 2024, "2025-01-06"))
    # 12 000 ÷ 12 = 1 000 a month; January's 175.00 is under it: 175.00 granted, 8.75 withheld, 166.25 cash.
    assert prepayment_rows(app, "H1") == [("2024-01", 1, D("175.00"), D("1000.00"), D("166.25"), D("8.75"))]


def test_kaifeng_months_before_its_scheme_credit_members_and_prepay_nothing_xinyang_art8(app):
    """汴医保〔2023〕29号 is in force from 2023-11-02: October 2023 credits (第八条), with no scheme to prepay under."""
    booked(app, institution("H1", level=3, admdvs=KAIFENG, day="2023-10-01"),
           member("M1", admdvs=KAIFENG, day="2023-10-01"), budget(KAIFENG, 2023, "12000.00"),
           visit("S0", "M1", "H1", "2023-10-20", item("400.00")),
           month(KAIFENG, "2023-10"))
    [october] = region_events(app, KAIFENG)
    assert october.credits == {"members": 1, "amount": D("120.00")}
    assert (october.payments, october.pending["code"], october.scheme) == ([], "no_payment_scheme",
                                                                           "no_payment_scheme")
    # November's prepayment counts only what is dated from the scheme's first day, 2023-11-02.
    booked(app, visit("S1", "M1", "H1", "2023-11-02", item("300.00")), month(KAIFENG, "2023-11"))
    [row] = app.prepayments("H1", 2023)["rows"]
    assert (row["month"], row["count"], row["actual"]) == ("2023-11", 1, D("125.00"))


def test_jiaozuo_july_credits_and_a_july_visit_stays_out_of_the_2024_clearing_jiaozuo_4_1(app):
    """四（一）「自2024年8月1日起」: July's close credits N1 120.00 (第八条) and prepays nothing; July visits
    are not the scheme's, even one booked after July closed.

    July: J0 N1@JC3 1000.00 (fund (1000 − 50) × 50 % = 475.00); J01 100.00 (25.00), reversed on 08-12;
    J00 dated 07-30, booked after July closed, 200.00 (75.00). August: J1 N2@JC3 400.00 (175.00)
    → prepaid 95 %: 166.25, 8.75 withheld; J01's reversal (−25.00, −1 visit) is July's, not August's.
    Clearing: 1 visit, 400.00 > 265 × 1.065 = 282.225 → 1 × 282.225 × 175 ÷ 400 = 123.4734 → 123.47.
    (With July swept in: 3 visits, 1 600.00 → 533.33 a visit, paid 3 × 282.225 × 725 ÷ 1600 = 383.65.)
    """
    j, day = JIAOZUO, "2024-07-01"
    booked(app, institution("JC3", level=3, admdvs=j, day=day, category="city_level3_general"),
           member("N1", admdvs=j, day=day), member("N2", admdvs=j, day=day),
           visit("J0", "N1", "JC3", "2024-07-10", item("1000.00")),
           visit("J01", "N1", "JC3", "2024-07-11", item("100.00")),
           month(j, "2024-07"),
           visit("J00", "N1", "JC3", "2024-07-30", item("200.00")),
           visit("J1", "N2", "JC3", "2024-08-10", item("400.00")),
           reversal("J01", "2024-08-12"),
           *months(j, 2024, 8, 12), close_year(j, 2024))
    july = region_events(app, j)[0]
    assert (july.credits, july.pending["code"]) == ({"members": 2, "amount": D("240.00")}, "no_payment_scheme")
    assert prepayment_rows(app, "JC3") == [("2024-08", 1, D("175.00"), None, D("166.25"), D("8.75"))]
    [row] = app.clearing(j, 2024)["rows"]
    assert (row["visits"], row["medfee"], row["actual"], row["final_amount"]) == (
        1, D("400.00"), D("175.00"), D("123.47"))
