"""The audit re-derives the period runs from the log alone: credits, prepayments, clearings, deposits.

Each case changes what a period event recorded and reseals the chain behind it, as someone
with the database could: only the re-derivation notices. Figures are the small city's
(tests/audit/city.py): January credits M1 120.00 (信政办〔2022〕23号 第八条（一）: 2 % of 6000.00)
and M2 60.00 (第八条（二）); January prepays H3 175.00 as 166.25 paid + 8.75 withheld and H2
110.50 as 104.97 + 5.53 (汴医保〔2023〕29号 三（二）: 5 % deposit).
"""

from __future__ import annotations

from ledger.services import rederivation
from ledger.services.audit import audit
from tests.accounts.helpers import base_changed, booked_ok, budget, closes, retired
from tests.audit.city import build_small_city, edit_payload, positions_of, reseal, stored_state
from tests.payments.flows import (
    jiaozuo_year,
    kaifeng_april_to_december,
    kaifeng_clearing,
    kaifeng_first_quarter,
    kaifeng_late_assessment,
)
from tests.support import member

CREDITED = "yibao:Member.AccountCredited"
ADJUSTED = "yibao:Member.CreditAdjusted"
MONTH_CLOSED = "yibao:Region.MonthClosed"


def _decimal(field: str, value: str) -> bytes:
    """A stored decimal field, as the event store writes it."""
    return f'"{field}":{{"_type_":"decimal_str","_data_":"{value}"}}'.encode()


def _period_problems_after(app, *edits: tuple[int, bytes, bytes]) -> list[str]:
    """The audit's period-run problems once each (position, old, new) is written over the log and the chain resealed."""
    for position, old, new in edits:
        edit_payload(app, position, old, new)
    reseal(app)
    return audit(app).checks["period_runs"]


def test_a_clean_city_re_derives_every_credit_and_close_xinyang_art8_kaifeng_3_2(app):
    build_small_city(app)
    report = audit(app)
    assert report.checks["period_runs"] == []
    assert report.period_events_rederived == 6


def test_a_credit_of_the_wrong_amount_is_named_xinyang_art8(app):
    """M1's January credit rewritten from 120.00 to 12.00: due 2 % × 6000.00 = 120.00."""
    build_small_city(app)
    credit = positions_of(app, CREDITED, "M1")[0]
    january = positions_of(app, MONTH_CLOSED)[0]
    edit_payload(app, credit, _decimal("amount", "120.00"), _decimal("amount", "12.00"))
    reseal(app)

    report = audit(app)
    assert report.checks["chain"] == [] and report.checks["read_models"] == []
    assert report.checks["period_runs"] == [
        f"position {credit}: M1 credited 12.00 for 2024-01 (11, base 6000.00); due 120.00 (11, base 6000.00)",
        f"position {january}: 411500 2024-01: the close records 2 members credited 180.00, "
        "the log holds 2 credited 72.00",
    ]


def test_a_close_that_lost_its_credits_is_named_xinyang_art8(app):
    """A resumed close that recorded no credits (issue 20 #2): the log holds M1's 120.00 and M2's 60.00."""
    build_small_city(app)
    january = positions_of(app, MONTH_CLOSED)[0]
    state = stored_state(app, january)
    old = state[state.index(b'"credits":'):state.index(b"}", state.index(b'"credits":')) + 2]
    none = b'"credits":{"members":0,' + _decimal("amount", "0.00") + b"}"
    assert _period_problems_after(app, (january, old, none)) == [
        f"position {january}: 411500 2024-01: the close records 0 members credited 0.00, "
        "the log holds 2 credited 180.00"]


def test_a_member_due_a_credit_and_not_given_it_is_named_xinyang_art8(app):
    """M1's January credit rewritten as December 2023's: M1 enrolled on 2024-01-01, so nothing was due for
    December, and January's close, which records 2 credits of 180.00, left M1 without its 120.00."""
    build_small_city(app)
    credit = positions_of(app, CREDITED, "M1")[0]
    january = positions_of(app, MONTH_CLOSED)[0]
    assert _period_problems_after(app, (credit, b'"month":"2024-01"', b'"month":"2023-12"')) == [
        f"position {credit}: M1 credited 120.00 for 2023-12 (11, base 6000.00); due 0.00 (11, base 6000.00)",
        f"position {january}: 411500 2024-01: 1 members due a credit were not credited (M1)",
        f"position {january}: 411500 2024-01: the close records 2 members credited 180.00, "
        "the log holds 1 credited 60.00",
    ]


def test_credit_adjustments_re_derive_a_late_base_change_and_a_late_retirement_xinyang_art8_art11(app):
    """Both kinds of correction recredit books are re-derived, and pass.

    M1's base 6000.00 → 8000.00 from 04-15, recorded after April closed: +40.00 for April
    (8000.00 × 2 % = 160.00 due, 120.00 credited). R1 retired on 02-10, recorded after April
    closed, is a retiree from March (第十一条, the month after): March and April, credited
    120.00 each in service, are taken back and credited 60.00 each as a retiree.
    """
    booked_ok(app, budget(), member("M1"), member("R1"), *closes("2024-03", "2024-04"))
    booked_ok(app, base_changed("M1", "2024-04-15", "8000.00"), retired("R1", "2024-02-10"))

    report = audit(app)
    assert report.checks["period_runs"] == []
    assert report.period_events_rederived == 2 + 4 + 1 + 4  # the closes, four credits, four adjustments


def test_a_credit_adjustment_off_what_was_due_is_named_xinyang_art8(app):
    """M1's April adjustment rewritten from +40.00 to +50.00: due 8000.00 × 2 % = 160.00, 120.00 credited before."""
    booked_ok(app, budget(), member("M1"), *closes("2024-03", "2024-04"))
    booked_ok(app, base_changed("M1", "2024-04-15", "8000.00"))
    [adjustment] = positions_of(app, ADJUSTED)
    assert _period_problems_after(app, (adjustment, _decimal("amount", "40.00"), _decimal("amount", "50.00"))) == [
        f"position {adjustment}: M1 credit for 2024-04 adjusted by 50.00 (11, base 8000.00) from 120.00; "
        "due 160.00 (11, base 8000.00)"]


def test_a_take_back_on_another_base_is_named_xinyang_art8_art11(app):
    """R1's March take-back rewritten to name a base of 7000.00: R1's base for March is 6000.00.

    R1 retired on 02-10, recorded after March closed: March's 120.00 in service is taken back
    (第十一条: a retiree from March) before 60.00 is credited as a retiree; the take-back names
    the base that applies to the month, as any credit does.
    """
    booked_ok(app, budget(), member("R1"), *closes("2024-03"))
    booked_ok(app, retired("R1", "2024-02-10"))
    take_back = positions_of(app, ADJUSTED)[0]
    assert _period_problems_after(app, (take_back, _decimal("contribution_base", "6000.00"),
                                        _decimal("contribution_base", "7000.00"))) == [
        f"position {take_back}: R1 credit for 2024-03 adjusted by -120.00 (11, base 7000.00) from 120.00; "
        "due 60.00 (12, base 6000.00)"]


def test_a_prepayment_off_its_movements_is_named_kaifeng_3_2(app):
    """H3's January prepayment rewritten from 166.25 paid to 266.25."""
    build_small_city(app)
    january = positions_of(app, MONTH_CLOSED)[0]
    assert _period_problems_after(app, (january, _decimal("paid", "166.25"), _decimal("paid", "266.25"))) == [
        f"position {january}: 411500 2024-01: prepayments recorded H2 104.97+5.53, H3 266.25+8.75, "
        "re-derived H2 104.97+5.53, H3 166.25+8.75"]


def test_a_clearing_and_a_deposit_return_off_the_rules_are_named_kaifeng_3_3(app):
    """Kaifeng 2024 (tests/payments/flows.py): H1's final amount 525.00 × 650.75 ÷ 641.50 = 532.57 rewritten to
    632.57, and H2's late return, the whole 2.06 on passing (焦医保〔2024〕32号 附件 例1), rewritten to 1.50."""
    kaifeng_first_quarter(app)
    kaifeng_april_to_december(app)
    kaifeng_clearing(app)
    kaifeng_late_assessment(app)
    assert audit(app).checks["period_runs"] == []
    [year] = positions_of(app, "yibao:Region.YearClosed")
    [returned] = positions_of(app, "yibao:Region.DepositReturned")
    assert _period_problems_after(app, (year, b'"_data_":"532.57"', b'"_data_":"632.57"'),
                                  (returned, _decimal("returned", "2.06"), _decimal("returned", "1.50"))) == [
        f"position {year}: 410200 2024: H1: final_amount recorded 632.57, re-derived 532.57",
        f"position {returned}: H2 2024: returned 1.50 of 2.06 at 1.00; re-derived 2.06 of 2.06 at 1.00",
    ]


def test_a_jiaozuo_final_amount_off_the_growth_cap_is_named_jiaozuo_4_1(app):
    """Jiaozuo 2024 (tests/payments/flows.py): JC3's final amount, 369.45 within the cap and its review, rewritten
    to 375.00 (its whole actual), and its due with it: the re-derivation gives 369.45 and a due of −5.55."""
    jiaozuo_year(app)
    assert audit(app).checks["period_runs"] == []
    [year] = positions_of(app, "yibao:Region.YearClosed")
    assert _period_problems_after(app, (year, _decimal("final_amount", "369.45"), _decimal("final_amount", "375.00")),
                                  (year, _decimal("due", "-5.55"), _decimal("due", "0.00"))) == [
        f"position {year}: 410800 2024: JC3: final_amount recorded 375.00, re-derived 369.45; "
        "due recorded 0.00, re-derived -5.55"]


def test_past_the_listed_problems_the_earliest_in_the_log_are_kept(monkeypatch):
    """Members are checked after the log is read: a member's problem found last still displaces a later one."""
    monkeypatch.setattr(rederivation, "MAX_PROBLEMS", 2)
    view = rederivation.PeriodRunsView()
    for position, text in ((30, "c"), (40, "d"), (10, "a"), (50, "e"), (20, "b")):
        view._problem(position, text)
    assert sorted(view.found) == [(10, "a"), (20, "b")]


def test_a_close_prepays_the_movements_dated_in_its_month_and_booked_before_it_kaifeng_3_2():
    """Of four movements, the close through 2024-01-31 at position 30 takes the two dated and booked by then.

    H3's bill of 100.00 (fund 80.00) less a reversal of 20.00 (fund 16.00): 80.00 and 64.00,
    the bill and visit counted once and taken back once; H2's February visit and H3's January
    visit booked after the close wait for a later one.
    """
    days, codes = ["2024-01-05", "2024-01-20", "2024-02-01"], ["H3", "H2"]
    waiting = rederivation.Unprepaid()
    waiting.add(10, 0, 0, 1, 1, 10000, 8000, 0)
    waiting.add(20, 1, 0, -1, -1, -2000, -1600, 0)
    waiting.add(25, 2, 1, 1, 1, 5000, 4000, 500)
    waiting.add(31, 1, 0, 1, 1, 3000, 2400, 0)
    taken = waiting.take(days, codes, "2024-01-31", 30)
    assert [(a.fixmedins_code, a.count, a.visits, str(a.medfee), str(a.fund), str(a.acct)) for a in taken] == [
        ("H3", 0, 0, "80.00", "64.00", "0.00")]
    assert [list(column) for column in waiting.columns] == [
        [25, 31], [2, 1], [1, 0], [1, 1], [1, 1], [5000, 3000], [4000, 2400], [500, 0]]
