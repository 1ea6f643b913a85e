"""Kaifeng 2024 through the application (汴医保〔2023〕29号 三（二）、三（三）), on SQLite and PostgreSQL.

The year is booked by ``tests.payments.flows`` (see its docstrings for each settlement's
figures). Budget B = 660.00, so the city's month is 660 ÷ 12 = 55.00.

Hand-worked prepayments (allocation = 55 × actual ÷ city actual; granted = the lesser of actual
and allocation; withheld = 5 % of granted, half up; cash = granted − withheld):

| month | inst. | actual  | allocation                      | granted | withheld          | cash   |
|-------|-------|---------|---------------------------------|---------|-------------------|--------|
| Jan   | city  | 175 + 93.50 + 23 = 291.50                                                           |
| Jan   | H1    | 175.00  | 55 × 175 ÷ 291.5 = 33.0188 → 33.02 | 33.02 | 1.651 → 1.65    | 31.37  |
| Jan   | H2    | 93.50   | 55 × 93.5 ÷ 291.5 = 17.6415 → 17.64 | 17.64 | 0.882 → 0.88   | 16.76  |
| Jan   | P1    | 23.00   | 55 × 23 ÷ 291.5 = 4.3396 → 4.34  | 4.34    | 0.217 → 0.22      | 4.12   |
| Feb   | city  | 175 (the city counts positive months only; H2's −93.50 is left out)                  |
| Feb   | H1    | 175.00  | 55 × 175 ÷ 175 = 55.00           | 55.00   | 2.75              | 52.25  |
| Feb   | H2    | −93.50 (S2 reversed) | none                | −93.50  | 0.00              | −93.50 |
| Mar   | city  | 125 + 93.50 = 218.50                                                                |
| Mar   | H1    | 125.00  | 55 × 125 ÷ 218.5 = 31.4645 → 31.46 | 31.46 | 1.573 → 1.57    | 29.89  |
| Mar   | H2    | 93.50   | 55 × 93.5 ÷ 218.5 = 23.5355 → 23.54 | 23.54 | 1.177 → 1.18   | 22.36  |
| Apr   | H1    | 175 − 125 = 50.00 (late S7, S4 reversed) | 55.00 | 50.00 | 2.50             | 47.50  |
"""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import and_, func, select

from ledger.projections.journal import (
    ACCOUNT_BANK,
    ACCOUNT_EXPENSE_CLINIC,
    CONTRIBUTION_INCOME,
    DEPOSIT,
    PAYABLE,
    POOLING_BANK,
    POOLING_EXPENSE,
)
from ledger.projections.settlements import settlements_movements, settlements_prepaid
from ledger.services.application import BOOKED
from tests.payments.flows import (
    KAIFENG,
    assert_journal_balanced,
    assert_rebuild_equals_incremental,
    balances,
    booked,
    budget,
    close_year,
    journal_by_institution,
    kaifeng_april_to_december,
    kaifeng_clearing,
    kaifeng_first_quarter,
    kaifeng_late_assessment,
    months,
    reversal,
)
from tests.support import book, institution, item, member, visit

D = Decimal
FIELDS = ("month", "count", "medfee", "actual", "allocation", "paid", "withheld", "cumulative_paid",
          "cumulative_withheld")


def ledger_of(app, code):
    rows = app.prepayments(code, 2024)["rows"]
    return [tuple(r[f] if not isinstance(r[f], Decimal) else str(r[f]) for f in FIELDS) for r in rows]


def test_3_2_first_quarter_prepayments_month_by_month_with_running_totals(app):
    """三（二）: allocation by share of actual, the lesser paid, 5 % withheld; a reversal month repays.

    Running totals: H1 cash 31.37, 31.37 + 52.25 = 83.62, + 29.89 = 113.51; withheld 1.65, 4.40, 5.97.
    H2 cash 16.76, 16.76 − 93.50 = −76.74, + 22.36 = −54.38; withheld 0.88, 0.88, 2.06.
    """
    kaifeng_first_quarter(app)
    assert ledger_of(app, "H1") == [
        ("2024-01", 1, "400.00", "175.00", "33.02", "31.37", "1.65", "31.37", "1.65"),
        ("2024-02", 1, "400.00", "175.00", "55.00", "52.25", "2.75", "83.62", "4.40"),
        ("2024-03", 1, "300.00", "125.00", "31.46", "29.89", "1.57", "113.51", "5.97"),
    ]
    # H2's February: S2's reversal (−1 settlement, −200.00 cost, −93.50 fund) repaid in full, nothing withheld.
    # Its March: S5 and S6 (+2) and S6's reversal (−1) in the same month → 1 settlement, 200.00, 93.50.
    assert ledger_of(app, "H2") == [
        ("2024-01", 1, "200.00", "93.50", "17.64", "16.76", "0.88", "16.76", "0.88"),
        ("2024-02", -1, "-200.00", "-93.50", None, "-93.50", "0.00", "-76.74", "0.88"),
        ("2024-03", 1, "200.00", "93.50", "23.54", "22.36", "1.18", "-54.38", "2.06"),
    ]
    assert ledger_of(app, "P1") == [("2024-01", 1, "96.00", "23.00", "4.34", "4.12", "0.22", "4.12", "0.22")]
    for code in ("H1", "H2", "P1"):
        for r in app.prepayments(code, 2024)["rows"]:
            if r["actual"] > 0:  # the lesser of actual and allocation is granted, cash + deposit
                assert r["paid"] + r["withheld"] == min(r["actual"], r["allocation"])
    assert_journal_balanced(app)


def test_3201_reconcile_gives_the_month_net_of_reversals(app):
    """3201 for H2, March: S5 and S6 settled, S6 reversed in March.

    setl_cnt 2, revs_cnt 1, net 1; cost 200 + 200 − 200 = 200.00; fund 93.50 + 93.50 − 93.50 = 93.50;
    S5 was paid from M3's account: part 200 − 93.50 = 106.50 ≤ balance 2 × 120 = 240 → account 106.50, cash 0.00.
    A reversal counts in the month it is dated: H2's January keeps S2, its February holds −S2.
    """
    kaifeng_first_quarter(app)
    assert app.reconcile("H2", "2024-03") == {
        "fixmedins_code": "H2", "month": "2024-03", "setl_cnt": 2, "revs_cnt": 1, "net_cnt": 1, "visit_cnt": 1,
        "medfee_sumamt": D("200.00"), "fund_pay_sumamt": D("93.50"), "acct_pay": D("106.50"),
        "psn_cash_pay": D("0.00"),
    }
    jan, feb = app.reconcile("H2", "2024-01"), app.reconcile("H2", "2024-02")
    assert (jan["setl_cnt"], jan["revs_cnt"], jan["net_cnt"], jan["fund_pay_sumamt"]) == (1, 0, 1, D("93.50"))
    assert (feb["setl_cnt"], feb["revs_cnt"], feb["net_cnt"], feb["fund_pay_sumamt"]) == (0, 1, -1, D("-93.50"))
    assert feb["medfee_sumamt"] == D("-200.00")
    assert app.reconcile("H1", "2024-06")["net_cnt"] == 0


def test_3_2_a_late_settlement_and_a_reversal_of_a_prepaid_month_flow_into_the_next_close(app):
    """A movement is prepaid by the first month that closes after it was booked.

    S7 (dated 03-28, booked after March closed) and S4's reversal (04-03; S4 was prepaid in March) stay
    out of March: March's H1 row keeps 125.00. April's H1 row takes both: count +1 − 1 = 0, cost
    400 − 300 = 100.00, actual 175 − 125 = 50.00 < allocation 55.00 → granted 50.00, withheld 2.50, cash 47.50.
    3201 still dates S7 in March: H1's March is S4 + S7 = 2 settlements, 700.00, fund 300.00.
    """
    kaifeng_first_quarter(app)
    booked(app, visit("S7", "M4", "H1", "2024-03-28", item("400.00")))
    booked(app, reversal("S4", "2024-04-03"))
    assert [r["month"] for r in app.prepayments("H1", 2024)["rows"]] == ["2024-01", "2024-02", "2024-03"]
    march = app.reconcile("H1", "2024-03")
    assert (march["setl_cnt"], march["net_cnt"], march["medfee_sumamt"], march["fund_pay_sumamt"]) == (
        2, 2, D("700.00"), D("300.00"))
    booked(app, *months(KAIFENG, 2024, 4, 4))
    assert ledger_of(app, "H1")[2:] == [
        ("2024-03", 1, "300.00", "125.00", "31.46", "29.89", "1.57", "113.51", "5.97"),
        ("2024-04", 0, "100.00", "50.00", "55.00", "47.50", "2.50", "161.01", "8.47"),
    ]
    # Both movements are April's: the first month prepaid whose close covered them.
    m, k = settlements_movements.c, settlements_prepaid.c
    with app.engine.connect() as conn:
        covered = and_(k.admdvs == m.admdvs, m.day <= k.through_day, m.position <= k.through_position)
        query = (select(m.kind, func.min(k.month)).join(settlements_prepaid, covered)
                 .where(m.fixmedins_code == "H1", m.day >= "2024-03-28").group_by(m.position, m.kind))
        marked = dict(conn.execute(query).all())
    assert marked == {"settled": "2024-04", "reversed": "2024-04"}
    assert_journal_balanced(app)


def test_journal_after_the_first_quarter_owes_each_institution_what_it_was_not_yet_granted(app):
    """Article 27 pairs, with the institution's debt in 应付定点医药机构款 until paid.

    Payable per institution = granted − actual (a credit balance is owed to it):
    H1 (33.02 + 55 + 31.46) − (175 + 175 + 125) = 119.48 − 475 = −355.52;
    H2 (17.64 − 93.50 + 23.54) − (93.50 − 93.50 + 93.50) = −52.32 − 93.50 = −145.82; P1 4.34 − 23 = −18.66.
    Deposit held per institution: H1 5.97, H2 2.06, P1 0.22 (credit balances).
    Accounts: 4 members × 3 months × 120.00 = 1 440.00 credited; S5 took 106.50 → 1 333.50 left.
    """
    kaifeng_first_quarter(app)
    assert_journal_balanced(app)
    assert journal_by_institution(app, PAYABLE) == {"H1": D("-355.52"), "H2": D("-145.82"), "P1": D("-18.66")}
    assert journal_by_institution(app, DEPOSIT) == {"H1": D("-5.97"), "H2": D("-2.06"), "P1": D("-0.22")}
    b = balances(app)
    # Expense = the fund's net charge: 475 + 93.50 + 23 = 591.50. Bank = −cash paid: −(113.51 − 54.38 + 4.12).
    assert b[POOLING_EXPENSE] == D("591.50")
    assert b[POOLING_BANK] == D("-63.25")
    assert b[ACCOUNT_BANK] == D("1333.50")
    assert b[ACCOUNT_EXPENSE_CLINIC] == D("106.50")
    assert b[CONTRIBUTION_INCOME] == D("-1440.00")


def test_3_3_clearing_settles_each_final_amount_against_what_was_prepaid(app):
    """三（三）3, 90 % ≤ r < 100 %: surplus shared, then due = final − prepaid (granted: cash + deposit).

    Year totals from the monthly rows: H1 actual 175 + 175 + 125 + 50 = 525.00, granted 33.02 + 55 + 31.46
    + 50 = 169.48, withheld 1.65 + 2.75 + 1.57 + 2.50 = 8.47, visits 1 + 1 + 1 + 0 = 3, cost 1 200.00;
    H2 actual 93.50, granted 17.64 − 93.50 + 23.54 = −52.32, withheld 2.06; P1 23.00, 4.34, 0.22.
    A = 641.50, B = 660.00, r = 0.9719696… (shown 0.971970); s = (1 − r) × 0.5; S = B × s = (660 − 641.50) ÷ 2
    = 9.25; fund A + S = 650.75; final = actual × (S ÷ A + 1) = actual × 650.75 ÷ 641.50:
    H1 525 → 532.5701… → 532.57, due 532.57 − 169.48 = 363.09;
    H2 93.50 → 94.8482… → 94.85, due 94.85 + 52.32 = 147.17; P1 23 → 23.3316… → 23.33, due 18.99.
    Deposits: H1 scored 90.00, a pass → 8.47 returned in full; H2 and P1 not assessed yet.
    """
    kaifeng_first_quarter(app)
    kaifeng_april_to_december(app)
    kaifeng_clearing(app)
    cleared = app.clearing(KAIFENG, 2024)
    assert (cleared["scheme"], cleared["usage_rate"], cleared["tier"]) == (
        "kaifeng_global_budget", "0.971970", "surplus_sharing_high")
    assert (cleared["budget"], cleared["actual"], cleared["final_amount"]) == (D("660.00"), D("641.50"), D("650.75"))
    got = {r["fixmedins_code"]: (r["visits"], r["medfee"], r["actual"], r["final_amount"], r["prepaid"], r["due"],
                                 r["deposit_withheld"], r["deposit_returned"], r["score"]) for r in cleared["rows"]}
    assert got == {
        "H1": (3, D("1200.00"), D("525.00"), D("532.57"), D("169.48"), D("363.09"), D("8.47"), D("8.47"), "90.00"),
        "H2": (1, D("200.00"), D("93.50"), D("94.85"), D("-52.32"), D("147.17"), D("2.06"), None, None),
        "P1": (1, D("96.00"), D("23.00"), D("23.33"), D("4.34"), D("18.99"), D("0.22"), None, None),
    }
    for r in cleared["rows"]:
        assert r["due"] == r["final_amount"] - r["prepaid"]


def test_a_late_assessment_returns_the_held_deposit_at_once(app):
    """H2 assessed 85.00 after the clearing: passing (≥ 60) → all of 2.06 back (焦医保〔2024〕32号 附件 例1, lent).

    Booked as Region.DepositReturned.
    """
    kaifeng_first_quarter(app)
    kaifeng_april_to_december(app)
    kaifeng_clearing(app)
    head = app.recorder.max_notification_id()
    kaifeng_late_assessment(app)
    topics = [n.topic for n in app.recorder.select_notifications(head + 1, 10)]
    assert "yibao:Region.DepositReturned" in topics
    rows = {r["fixmedins_code"]: r for r in app.clearing(KAIFENG, 2024)["rows"]}
    assert (rows["H2"]["deposit_returned"], rows["H2"]["score"]) == (D("2.06"), "85.00")
    assert (rows["H2"]["final_amount"], rows["H2"]["due"]) == (D("94.85"), D("147.17"))  # the clearing stands
    assert rows["P1"]["deposit_returned"] is None
    # Cash to H2 over the year: −54.38 monthly + 147.17 due + 2.06 returned = 94.85, its whole final amount.
    assert D("-54.38") + rows["H2"]["due"] + rows["H2"]["deposit_returned"] == D("94.85")


def test_journal_after_the_clearing_and_the_late_assessment(app):
    """Datong art. 27 pairs, balanced; what each account holds, by hand.

    Payable: every movement was prepaid and cleared → 0.00 for each institution (credited actual +
    final − actual = final; debited granted + due = final).
    Deposit: withheld − returned − kept: H1 8.47 − 8.47 − 0 = 0; H2 2.06 − 2.06 − 0 = 0; P1 0.22 held.
    Expense: Σ final 650.75 − kept 0.00 = 650.75.
    Bank: cash 161.01 − 54.38 + 4.12 = 110.75, due 363.09 + 147.17 + 18.99 = 529.25, deposits returned
    8.47 + 2.06 = 10.53 → 650.53 paid out (credit).
    Accounts: 4 members × 12 months × 120.00 = 5 760.00 credited, 106.50 used → 5 653.50.
    """
    kaifeng_first_quarter(app)
    kaifeng_april_to_december(app)
    kaifeng_clearing(app)
    before = balances(app)
    assert before[DEPOSIT] == D("-2.28")  # H2 2.06 + P1 0.22 still held at the clearing
    assert before[POOLING_EXPENSE] == D("650.75")
    kaifeng_late_assessment(app)
    assert_journal_balanced(app)
    assert journal_by_institution(app, PAYABLE) == {"H1": D("0.00"), "H2": D("0.00"), "P1": D("0.00")}
    assert journal_by_institution(app, DEPOSIT) == {"H1": D("0.00"), "H2": D("0.00"), "P1": D("-0.22")}
    assert balances(app) == {
        PAYABLE: D("0.00"),
        DEPOSIT: D("-0.22"),
        POOLING_EXPENSE: D("650.75"),
        POOLING_BANK: D("-650.53"),
        ACCOUNT_BANK: D("5653.50"),
        ACCOUNT_EXPENSE_CLINIC: D("106.50"),
        CONTRIBUTION_INCOME: D("-5760.00"),
    }


def test_rebuild_of_the_kaifeng_year_equals_incremental(app):
    """DESIGN.md §1: every read model rebuilt from the log equals what incremental processing wrote."""
    kaifeng_first_quarter(app)
    kaifeng_april_to_december(app)
    kaifeng_clearing(app)
    kaifeng_late_assessment(app)
    assert_rebuild_equals_incremental(app)
    assert_journal_balanced(app)


def test_3_3_5_overspend_beyond_110_percent_through_the_app_refunds_what_was_prepaid_in_full(app):
    """三（三）5 with the documented reading; an institution prepaid in full owes a refund (due < 0).

    B = 600.00 → month 50.00. Jan: X (level 2) 100.00 → (100 − 30) × 55 % = 38.50 < 50 → granted 38.50,
    withheld 38.50 × 5 % = 1.925 → 1.93, cash 36.57. Feb: Y (level 3) 4 × 400.00 → 4 × 175 = 700.00 > 50
    → allocation 50.00 granted, withheld 2.50, cash 47.50.
    A = 738.50, r = 738.50 ÷ 600 = 1.2308333… (shown 1.230833) > 110 %: fund = 0.7 × 600 + 0.3 × 1.1 × 600
    = 420 + 198 = 618.00 (the 100–110 % formula would give 420 + 221.55 = 641.55).
    X: 38.50 × 618 ÷ 738.50 = 32.2180… → 32.22, due 32.22 − 38.50 = −6.28 (refund).
    Y: 700 × 618 ÷ 738.50 = 585.7820… → 585.78, due 585.78 − 50 = 535.78. Σ final = 618.00.
    """
    k = KAIFENG
    booked(app, institution("X", level=2, admdvs=k), institution("Y", level=3, admdvs=k),
           member("A1", admdvs=k), member("A2", admdvs=k), budget(k, 2024, "600.00"),
           visit("X1", "A1", "X", "2024-01-15", item("100.00")),
           *months(k, 2024, 1, 1),
           *(visit(f"Y{i}", "A2", "Y", f"2024-02-{10 + i}", item("400.00")) for i in range(4)),
           *months(k, 2024, 2, 12), close_year(k, 2024))
    assert [(r["paid"], r["withheld"]) for r in app.prepayments("X", 2024)["rows"]] == [(D("36.57"), D("1.93"))]
    assert [(r["allocation"], r["paid"], r["withheld"]) for r in app.prepayments("Y", 2024)["rows"]] == [
        (D("50.00"), D("47.50"), D("2.50"))]
    cleared = app.clearing(k, 2024)
    assert (cleared["usage_rate"], cleared["tier"], cleared["final_amount"]) == (
        "1.230833", "overspend_beyond_limit", D("618.00"))
    got = {r["fixmedins_code"]: (r["final_amount"], r["prepaid"], r["due"]) for r in cleared["rows"]}
    assert got == {"X": (D("32.22"), D("38.50"), D("-6.28")), "Y": (D("585.78"), D("50.00"), D("535.78"))}
    assert_journal_balanced(app)
    # Nothing assessed: the deposits 1.93 + 2.50 = 4.43 are still held; the payable is settled.
    assert journal_by_institution(app, PAYABLE) == {"X": D("0.00"), "Y": D("0.00")}
    assert journal_by_institution(app, DEPOSIT) == {"X": D("-1.93"), "Y": D("-2.50")}
    assert balances(app)[POOLING_EXPENSE] == D("618.00")
    assert balances(app)[POOLING_BANK] == D("-613.57")  # 618.00 − 4.43 held
    assert_rebuild_equals_incremental(app)


def test_a_kaifeng_year_with_a_budget_is_cleared(app):
    """三（三）: year.closed after budget.set and twelve closed months is booked.

    Regression: ``budget.set`` and ``year.closed`` once shared the business key ``410200/2024`` on the
    Region aggregate, so the clearing was refused as "already booked with different content".
    """
    kaifeng_first_quarter(app)
    kaifeng_april_to_december(app)
    [outcome] = book(app, close_year(KAIFENG, 2024))
    assert outcome == BOOKED, outcome
