"""Jiaozuo, August to December 2024, through the application (焦医保〔2024〕32号 四（一）、四（二）、六（一）).

The period is booked by ``tests.payments.flows.jiaozuo_year`` (its docstring lists each
settlement's figures). Monthly: 95 % of the month's fund share paid, the other 5 % held
(四（二）), a negative month repaid in full with nothing held.

| inst. | month | actual | paid (95 %, half up) | withheld (the rest) |
|-------|-------|--------|----------------------|---------------------|
| JC3   | Aug   | 175.00 | 166.25               | 8.75                |
| JC3   | Sep   | 350.00 | 332.50               | 17.50               |
| JC3   | Oct   | 25 − 175 = −150.00 (J4 reversed) | −150.00 | 0.00          |
| JCG   | Aug   | 93.50  | 88.825 → 88.83       | 4.67                |
| JCG   | Nov   | 66.00  | 62.70                | 3.30                |
| JSP   | Nov   | 148.50 | 141.075 → 141.08     | 7.42                |
| JSP   | Dec   | 93.50  | 88.83                | 4.67                |
| JVC   | Dec   | 165.00 | 156.75               | 8.25                |
| JP    | Aug   | 36.30  | 34.485 → 34.49       | 1.81                |
"""

from __future__ import annotations

from decimal import Decimal

from ledger.errors import InputError, PeriodError
from ledger.exchange.messages import validate_message
from ledger.projections.journal import (
    ACCOUNT_BANK,
    CONTRIBUTION_INCOME,
    DEPOSIT,
    PAYABLE,
    POOLING_BANK,
    POOLING_EXPENSE,
)
from ledger.services.application import BOOKED, PRESENT
from tests.payments.flows import (
    JIAOZUO,
    assert_journal_balanced,
    assert_rebuild_equals_incremental,
    balances,
    booked,
    close_year,
    jiaozuo_year,
    journal_by_institution,
    months,
    reviewed,
)
from tests.support import book, institution, item, member, visit

D = Decimal


def test_4_2_monthly_payment_is_95_percent_and_a_negative_month_is_repaid(app):
    """四（二）: rows per institution and month with running totals (see the module's table)."""
    jiaozuo_year(app)

    def ledger(code):
        return [(r["month"], r["count"], str(r["medfee"]), str(r["actual"]), r["allocation"], str(r["paid"]),
                 str(r["withheld"]), str(r["cumulative_paid"]), str(r["cumulative_withheld"]))
                for r in app.prepayments(code, 2024)["rows"]]

    assert ledger("JC3") == [
        ("2024-08", 1, "400.00", "175.00", None, "166.25", "8.75", "166.25", "8.75"),
        ("2024-09", 2, "800.00", "350.00", None, "332.50", "17.50", "498.75", "26.25"),
        # J3 (+1, 100.00, 25.00) and J4's reversal (−1, −400.00, −175.00) in October.
        ("2024-10", 0, "-300.00", "-150.00", None, "-150.00", "0.00", "348.75", "26.25"),
    ]
    assert ledger("JCG") == [
        ("2024-08", 1, "200.00", "93.50", None, "88.83", "4.67", "88.83", "4.67"),
        ("2024-11", 1, "150.00", "66.00", None, "62.70", "3.30", "151.53", "7.97"),
    ]
    assert ledger("JSP") == [
        ("2024-11", 1, "300.00", "148.50", None, "141.08", "7.42", "141.08", "7.42"),
        ("2024-12", 1, "200.00", "93.50", None, "88.83", "4.67", "229.91", "12.09"),
    ]
    assert ledger("JVC") == [("2024-12", 1, "300.00", "165.00", None, "156.75", "8.25", "156.75", "8.25")]
    assert ledger("JP") == [("2024-08", 1, "96.00", "36.30", None, "34.49", "1.81", "34.49", "1.81")]


def test_4_1_clearing_by_baseline_per_category_with_review_and_deposits(app):
    """四（一）、六（一）: each institution's final amount by its category's baseline.

    JC3 city level-3 general, baseline 265: 3 visits (J1, J2, J3), cost 900.00, fund 375.00; 300 per visit
        > 265 × 1.065 = 282.225 → 3 × 282.225 × 375 ÷ 900 = 352.78125 → 352.78; overspend 375 − 352.78 = 22.22;
        review 200 ÷ 800 = 25 % violating → + 22.22 × 0.75 = 16.665 → 16.67 → 369.45.
        Prepaid (granted) 175 + 350 − 150 = 375.00 → due −5.55 (a refund). Score 75.00, a pass (附件 例1
        「经年度考核合格后」) → all 26.25 returned.
    JCG county general, 204: cost 350.00 ÷ 2 = 175.00 ≤ 217.26 → fund 159.50 in full; due 0.00;
        score 90.00 → 7.97 returned in full.
    JSP specialist: COVID years among 2021–2023 → three highest of 2019–2023: 260, 250, 180 → 230.00 (< the
        provincial 240.00); 500 ÷ 2 = 250 > 230 × 1.065 = 244.95 → 2 × 244.95 × 242 ÷ 500 = 237.1116 → 237.11;
        due 237.11 − 242.00 = −4.89; score 59.99, failed → nothing returned (assumed.yaml ``deposit_return_failing``).
    JVC village clinic: exempt (四（一）1「村卫生室…暂不实行」): 300 per visit, yet 165.00 paid in full.
    JP pharmacy: its fund share 36.30 in full (assumed.yaml ``pharmacy_visit_count``).
    """
    jiaozuo_year(app)
    cleared = app.clearing(JIAOZUO, 2024)
    assert (cleared["scheme"], cleared["usage_rate"], cleared["tier"], cleared["budget"]) == (
        "jiaozuo_conditional_ffs", None, None, None)
    assert (cleared["actual"], cleared["final_amount"]) == (D("977.80"), D("967.36"))
    got = {r["fixmedins_code"]: (r["visits"], r["medfee"], r["actual"], r["final_amount"], r["prepaid"], r["due"],
                                 r["deposit_withheld"], r["deposit_returned"], r["score"]) for r in cleared["rows"]}
    assert got == {
        "JC3": (3, D("900.00"), D("375.00"), D("369.45"), D("375.00"), D("-5.55"), D("26.25"), D("26.25"), "75.00"),
        "JCG": (2, D("350.00"), D("159.50"), D("159.50"), D("159.50"), D("0.00"), D("7.97"), D("7.97"), "90.00"),
        "JP": (1, D("96.00"), D("36.30"), D("36.30"), D("36.30"), D("0.00"), D("1.81"), None, None),
        "JSP": (2, D("500.00"), D("242.00"), D("237.11"), D("242.00"), D("-4.89"), D("12.09"), D("0.00"), "59.99"),
        "JVC": (1, D("300.00"), D("165.00"), D("165.00"), D("165.00"), D("0.00"), D("8.25"), None, None),
    }
    basis = {r["fixmedins_code"]: r["basis"] for r in cleared["rows"]}
    assert basis["JC3"].startswith("city_level3_general: 300.00 per visit over 265")
    assert "25.00% violating" in basis["JC3"]
    assert basis["JSP"].startswith("3 highest of 5 years (COVID)")
    assert basis["JVC"] == "village_clinic: exempt"


def test_journal_after_the_jiaozuo_clearing(app):
    """Balanced; payable settled; deposits held only where no assessment came.

    Deposit per institution = withheld − returned − kept: JC3 26.25 − 26.25 = 0; JCG 7.97 − 7.97 = 0;
    JSP 12.09 − 0 − 12.09 = 0; JVC 8.25 and JP 1.81 still held.
    Expense = Σ final 967.36 − kept 12.09 = 955.27.
    Bank = cash 348.75 + 151.53 + 229.91 + 156.75 + 34.49 = 921.43, due −5.55 − 4.89 = −10.44, returned
    26.25 + 7.97 = 34.22 → 945.21 paid out.
    Accounts: 6 members × 5 months (Aug–Dec) × 120.00 = 3 600.00 credited.
    """
    jiaozuo_year(app)
    assert_journal_balanced(app)
    codes = ("JC3", "JCG", "JP", "JSP", "JVC")
    assert journal_by_institution(app, PAYABLE) == dict.fromkeys(codes, D("0.00"))
    assert journal_by_institution(app, DEPOSIT) == {
        "JC3": D("0.00"), "JCG": D("0.00"), "JP": D("-1.81"), "JSP": D("0.00"), "JVC": D("-8.25")}
    assert balances(app) == {
        PAYABLE: D("0.00"),
        DEPOSIT: D("-10.06"),
        POOLING_EXPENSE: D("955.27"),
        POOLING_BANK: D("-945.21"),
        ACCOUNT_BANK: D("3600.00"),
        CONTRIBUTION_INCOME: D("-3600.00"),
    }


def test_rebuild_of_the_jiaozuo_period_equals_incremental(app):
    jiaozuo_year(app)
    assert_rebuild_equals_incremental(app)
    assert_journal_balanced(app)


def test_4_1_a_cleared_year_is_not_reviewed_again_and_its_close_is_not_repeated(app):
    """六（一） reviews feed the clearing: after it, a review is refused; a second year.closed changes nothing."""
    jiaozuo_year(app)
    head = app.recorder.max_notification_id()
    [late_review] = book(app, reviewed("JCG", 2024, "100.00", "0.00", "2025-01-10"))
    assert isinstance(late_review, InputError)
    assert late_review.code == "year_closed"
    repeat = app.close_period(validate_message(close_year(JIAOZUO, 2024)), refuse_repeat=True)
    assert isinstance(repeat, PeriodError)
    assert repeat.code == "year_closed"
    assert book(app, close_year(JIAOZUO, 2024)) == [PRESENT]
    assert app.recorder.max_notification_id() == head


def test_4_1_cost_per_visit_counts_a_visit_with_two_bills_once(app):
    """门诊次均费用 = cost ÷ visits (人次); one visit settled in two bills is one 人次.

    Visit VIS-1 at JC3 (city level-3, 265): bill A1 200.00 (deductible 50 → fund 75.00) and bill A2 200.00
    under the same serial (deductible met → fund 100.00). One visit costing 400.00 > 282.225 →
    1 × 282.225 × 175 ÷ 400 = 123.4734375 → 123.47. Counted as two visits (200 per visit) it would be paid 175.00.
    """
    j = JIAOZUO
    booked(app, institution("JC3", level=3, admdvs=j, day="2024-08-01", category="city_level3_general"),
           member("N1", admdvs=j, day="2024-08-01"),
           visit("A1", "N1", "JC3", "2024-08-10", item("200.00"), mdtrt="VIS-1"),
           visit("A2", "N1", "JC3", "2024-08-10", item("200.00"), mdtrt="VIS-1"),
           *months(j, 2024, 8, 12))
    assert book(app, close_year(j, 2024)) == [BOOKED]
    [row] = app.clearing(j, 2024)["rows"]
    assert (row["visits"], row["medfee"], row["actual"]) == (1, D("400.00"), D("175.00"))
    assert row["final_amount"] == D("123.47")
