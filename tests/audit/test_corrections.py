"""Corrections only add (DESIGN.md §1): a reversal or a backdated fact books new events beside the old.

Each test works its figures by hand from Xinyang's parameters (see ``tests.audit.city``) and
checks that the difference flows through the member's cap and account, the institution's
totals (3201) and prepayments, and the journal; that the original ``Settlement.Settled``
is byte for byte what it was; and that the audit still passes.
"""

from __future__ import annotations

from ledger.domain.ids import settlement_id
from ledger.errors import InputError
from ledger.projections.journal import (
    ACCOUNT_BANK,
    ACCOUNT_EXPENSE_CLINIC,
    ACCOUNT_INCOME_FROM_POOLING,
    CONTRIBUTION_INCOME,
    DEPOSIT,
    PAYABLE,
    POOLING_BANK,
    POOLING_EXPENSE,
    POOLING_TO_ACCOUNTS,
)
from ledger.services.audit import audit
from tests.audit.city import (
    JIAOZUO,
    XINYANG,
    D,
    admitted,
    base_changed,
    booked,
    budget,
    decoded,
    discharged,
    month,
    months,
    notifications,
    resumed,
    retired,
    reversal,
    settlement_events,
    suspended,
    year_closed,
)
from tests.payments.flows import jiaozuo_notice, with_notice
from tests.support import book, institution, item, member, visit

SETTLED = "yibao:Settlement.Settled"
ADJUSTED = "yibao:Settlement.Adjusted"
REVERSED = "yibao:Settlement.Reversed"


def _accounts(app) -> dict[str, tuple]:
    """Trial balance per account: (debit, credit)."""
    return {a["account"]: (a["debit"], a["credit"]) for a in app.trial_balance()["accounts"]}


def _result(app, key: str) -> dict:
    return app.get_settlement(key).result


def _money(app, key: str) -> tuple:
    r = _result(app, key)
    return r["hifp_pay"], r["acct_pay"], r["psn_cash_pay"]


def _movements(app, psn_no: str) -> list[tuple]:
    return [(m["kind"], m["date"], m["amount"]) for m in app.history(psn_no)]


def _prepaid(app, code: str, year: int = 2024) -> list[tuple]:
    return [(r["month"], r["actual"], r["paid"], r["withheld"]) for r in app.prepayments(code, year)["rows"]]


def _log_prefix(app, through: int) -> list[tuple]:
    return [(n.id, n.originator_id, n.originator_version, n.topic, n.state) for n in notifications(app)
            if n.id <= through]


# ------------------------------------------------------------------ 2208


def test_a_reversal_flows_through_cap_account_institution_totals_prepayment_and_journal(app):
    """S1 M1@H3 03-20, 400.00, account allowed; reversed on 04-02 after March was prepaid.

    Balance: January and February credits 2 × 120.00 = 240.00; S1 (400 − 50) × 50 % = 175.00 fund,
    225.00 from the account (balance 15.00); March credit 135.00; the reversal gives back 225.00
    (360.00); April credit 480.00. Cap used 175.00, then 0.00.
    H3's March prepayment 175.00 (8.75 withheld); the reversal is dated in April, so April's
    prepayment recovers 175.00 with nothing withheld (汴医保〔2023〕29号 三（二）).
    """
    booked(app, budget(), institution("H3", level=3), member("M1"), *months("2024-01", "2024-02"),
           visit("S1", "M1", "H3", "2024-03-20", item("400.00"), acct=True), month("2024-03"))
    assert _money(app, "S1") == (D("175.00"), D("225.00"), D("0.00"))
    assert app.cap("M1", 2024)["used"] == D("175.00")
    original = settlement_events(app, "S1")

    booked(app, reversal("S1", "2024-04-02"), month("2024-04"))

    assert [t for t, _ in settlement_events(app, "S1")] == [SETTLED, REVERSED]
    assert settlement_events(app, "S1")[0] == original[0]
    assert app.settlement_view(app.get_settlement("S1"))["status"] == "reversed"
    cap = app.cap("M1", 2024)
    assert (cap["used"], cap["remaining"], cap["visits"], cap["deductible_paid"]) == (
        D("0.00"), D("1500.00"), 0, D("0.00"))
    assert app.balance("M1")["balc"] == D("480.00")
    assert _movements(app, "M1")[2:5] == [("settlement", "2024-03-20", D("-225.00")),
                                          ("credit", "2024-03-31", D("120.00")),
                                          ("reversal", "2024-04-02", D("225.00"))]
    march, april = app.reconcile("H3", "2024-03"), app.reconcile("H3", "2024-04")
    assert (march["setl_cnt"], march["revs_cnt"], march["fund_pay_sumamt"], march["acct_pay"]) == (
        1, 0, D("175.00"), D("225.00"))
    assert (april["setl_cnt"], april["revs_cnt"], april["net_cnt"], april["medfee_sumamt"], april["fund_pay_sumamt"],
            april["acct_pay"], april["psn_cash_pay"]) == (0, 1, -1, D("-400.00"), D("-175.00"), D("-225.00"),
                                                          D("0.00"))
    assert _prepaid(app, "H3") == [("2024-03", D("175.00"), D("166.25"), D("8.75")),
                                   ("2024-04", D("-175.00"), D("-175.00"), D("0.00"))]
    journal = _accounts(app)
    assert journal[POOLING_EXPENSE] == (D("175.00"), D("175.00"))
    assert journal[ACCOUNT_EXPENSE_CLINIC] == (D("225.00"), D("225.00"))
    # Four credits of 120.00 plus the 225.00 given back, against the 225.00 paid: 480.00 held.
    assert journal[ACCOUNT_BANK] == (D("705.00"), D("225.00"))
    # Owed to H3 175.00, paid 166.25 + 8.75; recovered 175.00; the deposit stays held.
    assert journal[PAYABLE] == (D("350.00"), D("350.00"))
    assert journal[POOLING_BANK] == (D("175.00"), D("166.25"))
    assert journal[DEPOSIT] == (D("0.00"), D("8.75"))
    assert app.trial_balance()["balanced"]
    assert book(app, reversal("S1", "2024-04-02")) == ["present"]  # the same 2208 again books nothing
    again = {"type": "settlement.reversed", "date": "2024-04-03", "setl_id": str(settlement_id("S1")),
             "reason": "again, by our setl_id"}
    [refused] = book(app, again)
    assert isinstance(refused, InputError)
    assert refused.code == "already_reversed"
    assert audit(app).ok


def test_a_reversal_frees_the_cap_for_a_later_bill_that_was_cut_back(app):
    """DESIGN.md §1: "A reversal (2208) ... the ledger finds the settlements it affects, re-adjudicates them".

    E M1@H3 05-02, 1050.00: (1050 − 50) × 50 % = 500.00. L M1@H3 05-20, 3050.00: 1500.00 due,
    cut to 1500 − 500 = 1000.00 (第五条（三）). E was entered twice and is reversed: with every fact
    known, L is the year's only bill and is paid 1500.00; the cap is used 1500.00, not 1000.00.
    """
    booked(app, institution("H3", level=3), member("M1"),
           visit("E", "M1", "H3", "2024-05-02", item("1050.00")),
           visit("L", "M1", "H3", "2024-05-20", item("3050.00")))
    assert _result(app, "L")["hifp_pay"] == D("1000.00")

    booked(app, reversal("E", "2024-05-21"))

    assert _result(app, "L")["hifp_pay"] == D("1500.00")
    assert app.cap("M1", 2024)["used"] == D("1500.00")


def test_a_reversal_of_the_bill_that_paid_the_deductible_moves_it_to_the_visits_other_bill(app):
    """同医保办发〔2022〕1号 第二十一条: one deductible per visit serial number.

    S1 and S2 are two bills of visit V1 at H3 on 05-02. S1 100.00 pays the 50.00 deductible:
    (100 − 50) × 50 % = 25.00; S2 200.00 pays none: 200 × 50 % = 100.00. S1 is reversed: the visit
    has then paid no deductible, and S2, its only bill, owes it: (200 − 50) × 50 % = 75.00.
    """
    booked(app, institution("H3", level=3), member("M1"),
           visit("S1", "M1", "H3", "2024-05-02", item("100.00"), mdtrt="V1"),
           visit("S2", "M1", "H3", "2024-05-02", item("200.00"), mdtrt="V1"))
    assert (_result(app, "S1")["act_pay_dedc"], _result(app, "S2")["act_pay_dedc"]) == (D("50.00"), D("0.00"))

    booked(app, reversal("S1", "2024-05-03"))

    assert (_result(app, "S2")["act_pay_dedc"], _result(app, "S2")["hifp_pay"]) == (D("50.00"), D("75.00"))
    cap = app.cap("M1", 2024)
    assert (cap["used"], cap["deductible_paid"]) == (D("75.00"), D("50.00"))


# ------------------------------------------------------------------ backdated facts


def test_a_backdated_admission_turns_a_paid_visit_into_a_refusal_and_the_account_pays_more(app):
    """信政办〔2022〕23号 第十九条（二）: no outpatient pooling while admitted.

    Credits January–March 3 × 120.00 = 360.00. S1 M1@H3 04-05, 400.00, account allowed:
    175.00 fund, 225.00 from the account (balance 135.00). An admission from 04-03 is recorded
    later: S1 is refused (hospitalised): fund 0.00, no deductible counted, the member owes
    400.00; the account pays what it holds plus what S1 had taken, 135 + 225 = 360.00, and cash
    40.00. Difference booked: fund −175.00, account +135.00, cash +40.00; cap used 0.00.
    """
    booked(app, budget(), institution("H3", level=3), institution("H2", level=2), member("M1"),
           *months("2024-01", "2024-02", "2024-03"),
           visit("S1", "M1", "H3", "2024-04-05", item("400.00"), acct=True))
    assert _money(app, "S1") == (D("175.00"), D("225.00"), D("0.00"))
    assert app.balance("M1")["balc"] == D("135.00")
    through = app.recorder.max_notification_id()
    before = _log_prefix(app, through)
    [(_, settled_bytes)] = settlement_events(app, "S1")

    booked(app, admitted("M1", "2024-04-03"))

    # Nothing rewritten: the whole log up to the admission, and S1's Settled event, byte for byte.
    assert _log_prefix(app, through) == before
    events = settlement_events(app, "S1")
    assert events[0] == (SETTLED, settled_bytes)
    assert [t for t, _ in events] == [SETTLED, ADJUSTED]
    adjusted = decoded(app, events[1][1])
    assert adjusted["cause"] == "M1/member.admitted/2024-04-03"
    assert adjusted["reason"] == "member.admitted effective 2024-04-03 recorded later"
    assert adjusted["day"].isoformat() == "2024-04-05"
    assert adjusted["context"]["hospitalised"] is True
    assert (adjusted["delta"]["hifp_pay"], adjusted["delta"]["acct_pay"], adjusted["delta"]["psn_cash_pay"],
            adjusted["delta"]["act_pay_dedc"]) == (D("-175.00"), D("135.00"), D("40.00"), D("-50.00"))

    result = _result(app, "S1")
    assert (result["refusal_code"], result["hifp_pay"], result["act_pay_dedc"], result["psn_part_amt"]) == (
        "hospitalised", D("0.00"), D("0.00"), D("400.00"))
    assert _money(app, "S1") == (D("0.00"), D("360.00"), D("40.00"))
    cap = app.cap("M1", 2024)
    assert (cap["used"], cap["remaining"], cap["deductible_paid"], cap["visits"]) == (
        D("0.00"), D("1500.00"), D("0.00"), 1)
    assert app.balance("M1")["balc"] == D("0.00")
    assert _movements(app, "M1")[-2:] == [("settlement", "2024-04-05", D("-225.00")),
                                          ("adjustment", "2024-04-05", D("-135.00"))]
    april = app.reconcile("H3", "2024-04")
    assert (april["setl_cnt"], april["net_cnt"], april["medfee_sumamt"], april["fund_pay_sumamt"], april["acct_pay"],
            april["psn_cash_pay"]) == (1, 1, D("400.00"), D("0.00"), D("360.00"), D("40.00"))
    journal = _accounts(app)
    assert journal[POOLING_EXPENSE] == (D("175.00"), D("175.00"))
    assert journal[ACCOUNT_EXPENSE_CLINIC] == (D("360.00"), D("0.00"))
    assert app.settlement_view(app.get_settlement("S1"))["replay_matches"]
    assert audit(app).ok


def test_without_account_use_a_backdated_admission_moves_the_whole_bill_to_cash(app):
    """Same visit without ``acct_used_flag``: fund 175.00 → 0.00, cash 225.00 → 400.00, the account untouched."""
    booked(app, institution("H3", level=3), institution("H2", level=2), member("M1"),
           visit("S1", "M1", "H3", "2024-04-05", item("400.00")))
    booked(app, admitted("M1", "2024-04-03"))
    assert _money(app, "S1") == (D("0.00"), D("0.00"), D("400.00"))
    assert app.balance("M1")["balc"] == D("0.00")


def test_a_backdated_discharge_pays_again_the_visits_refused_during_the_wrongly_open_admission(app):
    """Admitted on 04-03 (recorded on time). S2 M1@H3 04-06, 200.00 and S1 M1@H3 04-10, 400.00 are
    refused (hospitalised): fund 0.00. The discharge on 04-08 is recorded later: S1, after it, is
    paid (400 − 50) × 50 % = 175.00; S2, still inside the stay, stays refused and is not touched.
    """
    booked(app, institution("H3", level=3), institution("H2", level=2), member("M1"),
           admitted("M1", "2024-04-03"),
           visit("S2", "M1", "H3", "2024-04-06", item("200.00")),
           visit("S1", "M1", "H3", "2024-04-10", item("400.00")))
    assert [_result(app, k)["refusal_code"] for k in ("S1", "S2")] == ["hospitalised", "hospitalised"]
    assert app.cap("M1", 2024)["used"] == D("0.00")

    booked(app, discharged("M1", "2024-04-08"))

    s1 = _result(app, "S1")
    assert (s1["refusal_code"], s1["act_pay_dedc"], s1["hifp_pay"], s1["psn_cash_pay"]) == (
        None, D("50.00"), D("175.00"), D("225.00"))
    assert [t for t, _ in settlement_events(app, "S1")] == [SETTLED, ADJUSTED]
    assert [t for t, _ in settlement_events(app, "S2")] == [SETTLED]
    assert _result(app, "S2")["refusal_code"] == "hospitalised"
    cap = app.cap("M1", 2024)
    assert (cap["used"], cap["deductible_paid"]) == (D("175.00"), D("50.00"))
    assert app.reconcile("H3", "2024-04")["fund_pay_sumamt"] == D("175.00")
    assert _accounts(app)[POOLING_EXPENSE] == (D("175.00"), D("0.00"))
    assert audit(app).ok


def test_a_backdated_suspension_refuses_the_visit_and_takes_back_the_months_credit(app):
    """信政办〔2022〕23号 第十九条（三）; the assumed ``account_credit_while_suspended`` (false).

    Credits January–April 4 × 120.00 = 480.00. S1 M1@H3 04-10, 400.00: 175.00. A suspension
    (arrears) from 04-01 is recorded in May: S1 is refused (suspended), 400.00 in cash; April,
    suspended at its end, is not credited: −120.00 (balance 360.00). A resumption from 04-20 is
    then recorded: April's end is no longer suspended, +120.00 again; S1 (04-10) stays refused.
    """
    booked(app, budget(), institution("H3", level=3), member("M1"), *months("2024-01", "2024-02", "2024-03"),
           visit("S1", "M1", "H3", "2024-04-10", item("400.00")), month("2024-04"))
    assert app.balance("M1")["balc"] == D("480.00")

    booked(app, suspended("M1", "2024-04-01"))

    s1 = _result(app, "S1")
    assert (s1["refusal_code"], s1["hifp_pay"], s1["psn_cash_pay"]) == ("suspended", D("0.00"), D("400.00"))
    assert app.cap("M1", 2024)["used"] == D("0.00")
    assert app.balance("M1")["balc"] == D("360.00")
    assert _movements(app, "M1")[-1] == ("credit_adjustment", "2024-04-30", D("-120.00"))

    booked(app, resumed("M1", "2024-04-20"))

    assert _result(app, "S1")["refusal_code"] == "suspended"
    assert [t for t, _ in settlement_events(app, "S1")] == [SETTLED, ADJUSTED]
    assert app.balance("M1")["balc"] == D("480.00")
    assert _movements(app, "M1")[-1] == ("credit_adjustment", "2024-04-30", D("120.00"))
    assert _accounts(app)[CONTRIBUTION_INCOME] == (D("120.00"), D("600.00"))
    assert audit(app).ok


def test_a_backdated_contribution_base_change_corrects_the_credits_of_closed_months(app):
    """第八条（一）: 2 % of the base. January–April closed at 6000.00: 4 × 120.00 = 480.00.
    The base becomes 9000.00 from February: February, March and April are each owed
    2 % × 9000 − 120.00 = 180.00 − 120.00 = +60.00; January is untouched. Balance 660.00;
    May closes at the new base: +180.00 = 840.00.
    """
    booked(app, budget(), institution("H3", level=3), member("M1"),
           *months("2024-01", "2024-02", "2024-03", "2024-04"))
    assert app.balance("M1")["balc"] == D("480.00")

    booked(app, base_changed("M1", "2024-02-01", "9000.00"))

    assert _movements(app, "M1")[4:] == [("credit_adjustment", "2024-02-29", D("60.00")),
                                         ("credit_adjustment", "2024-03-31", D("60.00")),
                                         ("credit_adjustment", "2024-04-30", D("60.00"))]
    assert app.balance("M1")["balc"] == D("660.00")
    assert _accounts(app)[CONTRIBUTION_INCOME] == (D("0.00"), D("660.00"))

    booked(app, month("2024-05"))
    assert app.balance("M1")["balc"] == D("840.00")
    assert audit(app).ok


def test_a_backdated_retirement_switches_ratio_cap_and_credits_from_the_month_after(app):
    """信政办〔2022〕23号 第六条、第十一条: processed 03-14, so benefits switch on 04-01.

    January–June closed in service: 6 × 120.00 = 720.00. S1 M1@H3 03-20, 400.00: 175.00 (before the
    switch: unchanged). S2 M1@H3 05-10, 400.00: 175.00 in service, re-adjudicated retired:
    (400 − 50) × (50 + 10) % = 210.00 (+35.00). Credits April–June: 120.00 taken back from the
    member's contribution and 60.00 paid by the pooling fund, each month: 720 − 3 × 60 = 540.00.
    The cap is now the retired 2000.00, 175 + 210 = 385.00 used.
    """
    booked(app, budget(), institution("H3", level=3), member("M1"),
           *months("2024-01", "2024-02", "2024-03", "2024-04", "2024-05", "2024-06"),
           visit("S1", "M1", "H3", "2024-03-20", item("400.00")),
           visit("S2", "M1", "H3", "2024-05-10", item("400.00")))

    booked(app, retired("M1", "2024-03-14"))

    assert [t for t, _ in settlement_events(app, "S1")] == [SETTLED]
    s2 = _result(app, "S2")
    assert (s2["pool_prop_selfpay"], s2["hifp_pay"], s2["annual_cap"], s2["psn_cash_pay"]) == (
        D("0.60"), D("210.00"), D("2000.00"), D("190.00"))
    cap = app.cap("M1", 2024)
    assert (cap["psn_type"], cap["cap"], cap["used"], cap["remaining"]) == ("12", D("2000.00"), D("385.00"),
                                                                           D("1615.00"))
    assert app.balance("M1")["balc"] == D("540.00")
    assert [m for m in _movements(app, "M1") if m[0] == "credit_adjustment"] == [
        ("credit_adjustment", "2024-04-30", D("-120.00")), ("credit_adjustment", "2024-04-30", D("60.00")),
        ("credit_adjustment", "2024-05-31", D("-120.00")), ("credit_adjustment", "2024-05-31", D("60.00")),
        ("credit_adjustment", "2024-06-30", D("-120.00")), ("credit_adjustment", "2024-06-30", D("60.00")),
    ]
    journal = _accounts(app)
    assert journal[CONTRIBUTION_INCOME] == (D("360.00"), D("720.00"))
    assert journal[ACCOUNT_INCOME_FROM_POOLING] == (D("0.00"), D("180.00"))
    assert journal[POOLING_TO_ACCOUNTS] == (D("180.00"), D("0.00"))
    assert journal[POOLING_EXPENSE] == (D("385.00"), D("0.00"))
    assert audit(app).ok


def test_a_backdated_family_doctor_contract_raises_the_ratio_of_visits_since(app):
    """信政办〔2022〕23号 第五条（二）: +5 points at the member's own contracted primary institution.

    S1 M1@H1 (primary: no deductible) 03-10, 100.00: 100 × 55 % = 55.00. The contract with H1 from
    03-01 is recorded later: 100 × (55 + 5) % = 60.00 (+5.00; POLICY.md §2's third worked example).
    S0 on 02-20, before the contract, stays at 55.00.
    """
    booked(app, institution("H1", level=1), member("M1"),
           visit("S0", "M1", "H1", "2024-02-20", item("100.00")),
           visit("S1", "M1", "H1", "2024-03-10", item("100.00")))
    assert (_result(app, "S0")["hifp_pay"], _result(app, "S1")["hifp_pay"]) == (D("55.00"), D("55.00"))

    booked(app, {"type": "member.family_doctor_signed", "date": "2024-03-01", "psn_no": "M1",
                 "fixmedins_code": "H1"})

    s1 = _result(app, "S1")
    assert (s1["pool_prop_selfpay"], s1["hifp_pay"], s1["psn_cash_pay"]) == (D("0.60"), D("60.00"), D("40.00"))
    assert decoded(app, settlement_events(app, "S1")[1][1])["cause"] == "M1/member.family_doctor_signed/2024-03-01"
    assert [t for t, _ in settlement_events(app, "S0")] == [SETTLED]
    assert app.cap("M1", 2024)["used"] == D("115.00")
    assert audit(app).ok


# ------------------------------------------------------------------ late bills (焦医保〔2024〕32号 一（一）)


def test_a_late_bill_inside_the_window_takes_the_cap_first_and_a_later_bill_is_cut_back(app):
    """Cap 1500.00 (第五条（三）), used in service-date order.

    E M1@H3 05-02, 1050.00: x = (1050 − 50) × 50 % = 500.00. L M1@H3 05-20, 3050.00: 1500.00
    due, paid 1500 − x = 1000.00. B M1@H2 dated 05-10 arrives on 06-09 (30 days, inside the
    window): y = (230 − 30) × 55 % = 110.00, paid in full (500.00 used before it). L is
    re-adjudicated after it: 1500 − x − y = 890.00 (−110.00, its member part 2050.00 → 2160.00).
    """
    booked(app, institution("H3", level=3), institution("H2", level=2), member("M1"),
           visit("E", "M1", "H3", "2024-05-02", item("1050.00")),
           visit("L", "M1", "H3", "2024-05-20", item("3050.00")))
    assert (_result(app, "E")["hifp_pay"], _result(app, "L")["hifp_pay"]) == (D("500.00"), D("1000.00"))
    [(_, l_bytes)] = settlement_events(app, "L")

    booked(app, visit("B", "M1", "H2", "2024-05-10", item("230.00"), setl_date="2024-06-09"))

    b = _result(app, "B")
    assert (b["hifp_pay"], b["crt_payb_lmt_amt"]) == (D("110.00"), D("890.00"))
    assert app.settlement_view(app.get_settlement("B"))["setl_date"].isoformat() == "2024-06-09"
    assert (_result(app, "L")["hifp_pay"], _result(app, "L")["psn_part_amt"]) == (D("890.00"), D("2160.00"))
    assert [t for t, _ in settlement_events(app, "E")] == [SETTLED]
    events = settlement_events(app, "L")
    assert events[0] == (SETTLED, l_bytes)
    adjusted = decoded(app, events[1][1])
    assert adjusted["delta"]["hifp_pay"] == D("-110.00")
    assert adjusted["reason"] == "B dated 2024-05-10 settled after later bills"
    cap = app.cap("M1", 2024)
    assert (cap["used"], cap["remaining"], cap["visits"]) == (D("1500.00"), D("0.00"), 3)
    assert app.reconcile("H3", "2024-05")["fund_pay_sumamt"] == D("1390.00")
    assert app.reconcile("H2", "2024-05")["fund_pay_sumamt"] == D("110.00")
    assert audit(app).ok


def test_with_the_cap_unused_a_late_bill_leaves_the_later_one_at_1500_minus_its_share(app):
    """L 3050.00 on 05-20 is paid the whole cap, 1500.00; the late B (05-10, y = 110.00) comes first:
    L is adjusted to 1500 − y = 1390.00."""
    booked(app, institution("H3", level=3), institution("H2", level=2), member("M1"),
           visit("L", "M1", "H3", "2024-05-20", item("3050.00")),
           visit("B", "M1", "H2", "2024-05-10", item("230.00"), setl_date="2024-05-25"))
    assert (_result(app, "B")["hifp_pay"], _result(app, "L")["hifp_pay"]) == (D("110.00"), D("1390.00"))


def test_a_late_bill_31_days_after_the_visit_is_refused_and_books_nothing(app):
    """焦医保〔2024〕32号 一（一）「在30天内」 (Xinyang borrows the window): 05-10 + 31 days = 06-10."""
    booked(app, institution("H2", level=2), member("M1"))
    last = app.recorder.max_notification_id()

    [outcome] = book(app, visit("B", "M1", "H2", "2024-05-10", item("230.00"), setl_date="2024-06-10"))

    assert isinstance(outcome, InputError)
    assert (outcome.code, outcome.field) == ("late_upload_outside_window", "setl_date")
    assert "焦医保〔2024〕32号 一（一）" in outcome.article
    assert app.recorder.max_notification_id() == last
    assert app.cap("M1", 2024)["used"] == D("0.00")


def test_in_jiaozuo_itself_the_window_is_the_documents_own_rule(app):
    """焦医保〔2024〕32号 一（一）, in force 2024-08-01, in its own region 410800: 31 days refused, 30 accepted."""
    booked(app, institution("J2", level=2, admdvs=JIAOZUO, category="county_general"),
           member("N1", admdvs=JIAOZUO))
    [late] = book(app, visit("B", "N1", "J2", "2024-09-02", item("230.00"), setl_date="2024-10-03"))
    assert isinstance(late, InputError)
    assert late.code == "late_upload_outside_window"
    [ok] = book(app, visit("B", "N1", "J2", "2024-09-02", item("230.00"), setl_date="2024-10-02"))
    assert ok == "booked"
    assert _result(app, "B")["hifp_pay"] == D("110.00")


# ------------------------------------------------------------------ corrections of closed periods


def test_a_correction_to_a_month_already_prepaid_flows_into_the_next_months_prepayment(app):
    """S1 M1@H3 04-05, 400.00: 175.00; April closes, H3 granted 175.00 (8.75 withheld, 166.25 paid).
    In May, M1's admission from 04-03 is recorded: S1's adjustment of −175.00 is dated 04-05, after
    April was prepaid, so it is counted in May. S2 M2@H3 05-10, 1050.00: 500.00. May's actual for
    H3: 500 − 175 = 325.00, 5 % withheld 16.25, paid 308.75. April's row is what it was.
    """
    booked(app, budget(), institution("H3", level=3), institution("H2", level=2), member("M1"), member("M2"),
           visit("S1", "M1", "H3", "2024-04-05", item("400.00")), month("2024-04"))
    april = _prepaid(app, "H3")
    assert april == [("2024-04", D("175.00"), D("166.25"), D("8.75"))]
    closed = app.recorder.max_notification_id()

    booked(app, visit("S2", "M2", "H3", "2024-05-10", item("1050.00")), admitted("M1", "2024-04-03"),
           month("2024-05"))

    assert _prepaid(app, "H3") == [*april, ("2024-05", D("325.00"), D("308.75"), D("16.25"))]
    assert app.prepayments("H3", 2024)["rows"][1]["count"] == 1  # S2; an adjustment is no new settlement
    assert [r["month"] for r in app.prepayments("H3", 2024, known_at=str(closed))["rows"]] == ["2024-04"]
    assert app.reconcile("H3", "2024-04")["fund_pay_sumamt"] == D("0.00")
    assert app.reconcile("H3", "2024-05")["fund_pay_sumamt"] == D("500.00")
    assert audit(app).ok


def test_a_correction_to_a_year_already_cleared_flows_into_the_next_years_clearing_in_jiaozuo(app):
    """焦医保〔2024〕32号 四（一）（二）: 95 % paid monthly, 5 % tied to the assessment.

    J3 (city level-3 general, baseline 265.00 × 1.065 per visit). T1 N1@J3 2024-12-05, 200.00:
    (200 − 50) × 50 % = 75.00; December pays 71.25 and withholds 3.75; 2024 is cleared: one visit
    of 200.00, within the baseline, final 75.00. N1's admission from 12-03 is then recorded: T1's
    −75.00 (dated 2024-12-05) goes into January 2025, with T2 N2@J3 2025-01-10, 250.00:
    (250 − 50) × 50 % = 100.00: actual 100 − 75 = 25.00, paid 23.75, withheld 1.25. 2025's
    clearing (under a 2025 notice, the 2024 figures ending with 2024 (四（一）3): 265.00, 6.5 %): one
    visit of 250.00, final 25.00. 2024's clearing is untouched.
    """
    j = JIAOZUO
    with_notice(app, jiaozuo_notice(2025, {"city_level3_general": "265.00"}, "0.065"))
    booked(app, institution("J3", level=3, admdvs=j, category="city_level3_general"),
           member("N1", admdvs=j), member("N2", admdvs=j),
           visit("T1", "N1", "J3", "2024-12-05", item("200.00")), month("2024-12", j), year_closed(2024, j))
    cleared = app.clearing(j, 2024)
    assert [(r["final_amount"], r["prepaid"], r["due"]) for r in cleared["rows"]] == [
        (D("75.00"), D("75.00"), D("0.00"))]

    booked(app, admitted("N1", "2024-12-03", "J3"), visit("T2", "N2", "J3", "2025-01-10", item("250.00")),
           *(month(f"2025-{m:02d}", j) for m in range(1, 13)), year_closed(2025, j))

    assert _result(app, "T1")["hifp_pay"] == D("0.00")
    assert _prepaid(app, "J3", 2024) == [("2024-12", D("75.00"), D("71.25"), D("3.75"))]
    assert _prepaid(app, "J3", 2025) == [("2025-01", D("25.00"), D("23.75"), D("1.25"))]  # December: nothing
    assert app.clearing(j, 2024) == cleared
    [row] = app.clearing(j, 2025)["rows"]
    assert (row["visits"], row["medfee"], row["actual"], row["final_amount"], row["prepaid"], row["due"]) == (
        1, D("250.00"), D("25.00"), D("25.00"), D("25.00"), D("0.00"))
    assert audit(app).ok


def test_a_correction_to_a_year_already_cleared_flows_into_the_next_years_prepayment_in_xinyang(app):
    """Xinyang pays institutions under Kaifeng's global budget (汴医保〔2023〕29号 三（二）（三））.

    S1 M1@H3 2024-12-05, 400.00: 175.00; December grants 175.00 (8.75 withheld); 2024 is cleared:
    usage 175 ÷ 1 200 000 < 70 %, no sharing, final 175.00, due 0.00. M1's admission from 12-03 is
    then recorded: −175.00 dated 2024-12-05 goes into January 2025 with S2 M2@H3 2025-01-10,
    1050.00 (500.00): actual 325.00, paid 308.75, withheld 16.25; 2025's clearing: final 325.00.
    """
    booked(app, budget(2024), budget(2025), institution("H3", level=3), member("M1"), member("M2"),
           visit("S1", "M1", "H3", "2024-12-05", item("400.00")), month("2024-12"), year_closed(2024))
    cleared = app.clearing(XINYANG, 2024)

    booked(app, admitted("M1", "2024-12-03", "H3"), visit("S2", "M2", "H3", "2025-01-10", item("1050.00")),
           *(month(f"2025-{m:02d}") for m in range(1, 13)), year_closed(2025))

    assert [(r["final_amount"], r["due"]) for r in cleared["rows"]] == [(D("175.00"), D("0.00"))]
    assert app.clearing(XINYANG, 2024) == cleared
    assert _prepaid(app, "H3", 2025)[0] == ("2025-01", D("325.00"), D("308.75"), D("16.25"))
    [row] = app.clearing(XINYANG, 2025)["rows"]
    assert (row["actual"], row["final_amount"], row["due"]) == (D("325.00"), D("325.00"), D("0.00"))
