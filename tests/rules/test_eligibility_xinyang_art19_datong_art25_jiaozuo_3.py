"""When the pooling fund pays nothing (POLICY.md §5): each refusal with its reason code and article.

- 信政办〔2022〕23号 第十九条（一）~（四）: outside the catalog, hospitalised, suspended, undesignated.
- 同医保办发〔2022〕1号 第二十五条（一）（二）（五）: undesignated institution, prescription not from a
  pooling institution, arrears / waiting period.
- 焦医保〔2024〕32号 三: health check-ups, work injury, third party, public health; not while admitted.

A refused claim is still settled: the fund pays 0.00, the member pays it all, nothing is in scope
and no deductible is consumed.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

import pytest

from ledger.rules.eligibility import (
    excluded_cost_jiaozuo_3,
    hospitalised_xinyang_art19_2,
    refusal,
    suspended_xinyang_art19_3,
    undesignated_prescriber_datong_art25_2,
    undesignated_xinyang_art19_4,
)
from tests.rules import (
    DATONG,
    JIAOZUO,
    KAIFENG,
    XINYANG,
    D,
    at_hospital,
    at_pharmacy,
    line,
    purchase,
    reader,
    settle,
    visit,
)

if TYPE_CHECKING:
    from ledger.rules.facts import Claim, Context
    from ledger.rules.reader import Reader


def _code(claim: Claim, ctx: Context, p: Reader) -> str | None:
    """The code of the refusal, if any."""
    found = refusal(claim, ctx, p)
    return None if found is None else found.code

JIAOZUO_IN_FORCE = date(2024, 8, 1)


def _assert_refused(adj, total: str) -> None:
    """Fund 0.00; the member pays the whole bill; nothing in scope; no deductible; ratio 0."""
    info = adj.setlinfo
    assert info["medfee_sumamt"] == D(total)
    assert info["fulamt_ownpay_amt"] == D(total)
    assert info["overlmt_selfpay"] == D("0.00")
    assert info["preselfpay_amt"] == D("0.00")
    assert info["inscp_scp_amt"] == D("0.00")
    assert info["act_pay_dedc"] == D("0.00")
    assert info["hifp_pay"] == D("0.00")
    assert info["fund_pay_sumamt"] == D("0.00")
    assert info["pool_prop_selfpay"] == D("0")
    assert info["psn_part_amt"] == D(total)
    assert all(ln["fulamt_ownpay_amt"] == ln["det_item_fee_sumamt"] and ln["inscp_scp_amt"] == D("0.00")
               for ln in adj.lines)


def test_eligibility_xinyang_art19_2_hospitalised_member_gets_no_outpatient_pooling():
    adj = settle(visit(line("400.00")), at_hospital(3, hospitalised=True))
    _assert_refused(adj, "400.00")
    assert adj.refusal_code == "hospitalised"
    assert adj.refusal_article == "信政办〔2022〕23号 第十九条（二）"


def test_eligibility_jiaozuo_3_hospitalised_member_in_jiaozuo_cites_jiaozuo():
    """焦医保〔2024〕32号 三「参保人住院治疗期间不得同时发生门诊统筹医保支付费用」 (Jiaozuo's own)."""
    adj = settle(visit(line("400.00"), day=JIAOZUO_IN_FORCE), at_hospital(3, hospitalised=True), JIAOZUO)
    _assert_refused(adj, "400.00")
    assert adj.refusal_code == "hospitalised"
    assert adj.refusal_article == "焦医保〔2024〕32号 三"


def test_eligibility_xinyang_art19_2_hospitalised_member_in_jiaozuo_before_its_2024_notice_is_refused():
    """Jiaozuo's member benefits borrow Xinyang's from 2022-07-01; the hospitalised refusal must apply too."""
    adj = settle(visit(line("400.00"), day=date(2024, 3, 20)), at_hospital(3, hospitalised=True), JIAOZUO)
    _assert_refused(adj, "400.00")
    assert adj.refusal_code == "hospitalised"


def test_eligibility_xinyang_art19_3_suspended_member_gets_no_pooling():
    adj = settle(visit(line("200.00")), at_hospital(2, suspended=True))
    _assert_refused(adj, "200.00")
    assert adj.refusal_code == "suspended"
    assert adj.refusal_article == "信政办〔2022〕23号 第十九条（三）"


def test_eligibility_datong_art25_5_suspended_member_in_datong_cites_datong():
    """同医保办发〔2022〕1号 第二十五条（五）「医保欠费期间（或医保待遇等待期）」."""
    adj = settle(visit(line("200.00")), at_hospital(2, suspended=True), DATONG)
    _assert_refused(adj, "200.00")
    assert adj.refusal_code == "suspended"
    assert adj.refusal_article == "同医保办发〔2022〕1号 第二十五条（五）"


def test_eligibility_xinyang_art19_4_undesignated_institution_gets_no_pooling():
    adj = settle(visit(line("100.00")), at_hospital(1, designated=False))
    _assert_refused(adj, "100.00")
    assert adj.refusal_code == "institution_not_designated"
    assert adj.refusal_article == "信政办〔2022〕23号 第十九条（四）"


def test_eligibility_datong_art25_1_undesignated_pharmacy_in_datong_cites_datong():
    adj = settle(purchase(line("100.00")), at_pharmacy(designated=False), DATONG)
    _assert_refused(adj, "100.00")
    assert adj.refusal_code == "institution_not_designated"
    assert adj.refusal_article == "同医保办发〔2022〕1号 第二十五条（一）"


def test_eligibility_datong_art25_2_prescription_from_undesignated_institution_gets_no_pooling():
    """同医保办发〔2022〕1号 第二十五条（二）「未在门诊统筹定点医疗机构开具处方，直接在零售药店购药的」."""
    adj = settle(purchase(line("100.00")), at_pharmacy(prescriber_designated=False), DATONG)
    _assert_refused(adj, "100.00")
    assert adj.refusal_code == "prescriber_not_designated"
    assert adj.refusal_article == "同医保办发〔2022〕1号 第二十五条（二）"


def test_eligibility_datong_art25_2_is_borrowed_and_assumed_in_xinyang():
    adj = settle(purchase(line("100.00")), at_pharmacy(prescriber_designated=False))
    assert adj.refusal_code == "prescriber_not_designated"
    assert adj.refusal_article == "同医保办发〔2022〕1号 第二十五条（二）（假设）"


def test_eligibility_datong_art25_2_does_not_apply_to_hospital_visits():
    assert undesignated_prescriber_datong_art25_2(visit(line("1.00")), at_hospital(3), reader()) is None


@pytest.mark.parametrize("kind", ["health_checkup", "work_injury", "third_party", "public_health"])
def test_eligibility_jiaozuo_3_excluded_costs_are_refused_with_their_own_code(kind):
    """焦医保〔2024〕32号 三 (borrowed by Xinyang, marked assumed)."""
    adj = settle(visit(line("300.00"), exclusion=kind), at_hospital(3))
    _assert_refused(adj, "300.00")
    assert adj.refusal_code == f"excluded_{kind}"
    assert adj.refusal_article == "焦医保〔2024〕32号 三（假设）"


def test_eligibility_jiaozuo_3_health_checkup_in_jiaozuo_cites_jiaozuo_unassumed():
    adj = settle(visit(line("300.00"), day=JIAOZUO_IN_FORCE, exclusion="health_checkup"), at_hospital(3), JIAOZUO)
    _assert_refused(adj, "300.00")
    assert (adj.refusal_code, adj.refusal_article) == ("excluded_health_checkup", "焦医保〔2024〕32号 三")


def test_eligibility_xinyang_art19_1_health_checkup_in_jiaozuo_before_its_notice_is_outside_scope():
    """Before 2024-08-01 Jiaozuo has no excluded-cost list; Xinyang's 第十九条（一） (borrowed) refuses."""
    adj = settle(visit(line("300.00"), day=date(2024, 7, 31), exclusion="health_checkup"), at_hospital(3), JIAOZUO)
    _assert_refused(adj, "300.00")
    assert adj.refusal_code == "excluded_health_checkup"
    assert adj.refusal_article == "信政办〔2022〕23号 第十九条（一）（假设）"


def test_eligibility_refusals_apply_in_order_excluded_hospitalised_suspended_undesignated():
    """The first reason in the order of eligibility.refusal is the one given."""
    p = reader(XINYANG)
    everything = at_pharmacy(hospitalised=True, suspended=True, designated=False, prescriber_designated=False)
    claim = purchase(line("10.00"))
    assert _code(visit(line("1.00"), exclusion="third_party"), everything, p) == "excluded_third_party"
    assert _code(claim, everything, p) == "hospitalised"
    assert _code(claim, at_pharmacy(suspended=True, designated=False, prescriber_designated=False), p) == (
        "suspended")
    assert _code(claim, at_pharmacy(designated=False, prescriber_designated=False), p) == (
        "institution_not_designated")
    assert _code(claim, at_pharmacy(prescriber_designated=False), p) == "prescriber_not_designated"
    assert _code(claim, at_pharmacy(), p) is None


def test_eligibility_each_check_passes_an_eligible_claim():
    p = reader()
    ctx = at_hospital(3)
    claim = visit(line("10.00"))
    assert excluded_cost_jiaozuo_3(claim, p) is None
    assert hospitalised_xinyang_art19_2(ctx, p) is None
    assert suspended_xinyang_art19_3(ctx, p) is None
    assert undesignated_xinyang_art19_4(ctx, p) is None


def test_eligibility_refused_claim_keeps_the_annual_cap_untouched():
    """A refusal pays nothing: 1500.00 − 100.00 − 0.00 = 1400.00 is still payable."""
    adj = settle(visit(line("400.00")), at_hospital(3, suspended=True, cap_used_before="100.00"))
    assert adj.setlinfo["hifp_pay"] == D("0.00")
    assert adj.annual_cap == D("1500.00")
    assert adj.cap_remaining == D("1400.00")


def test_eligibility_refused_claim_may_be_paid_from_the_account_then_cash():
    """Hospitalised, account allowed, balance 100.00: member pays 400.00 = 100.00 account + 300.00 cash."""
    adj = settle(visit(line("400.00"), acct=True), at_hospital(3, hospitalised=True, balance_before="100.00"))
    info = adj.setlinfo
    assert (info["psn_part_amt"], info["acct_pay"], info["psn_cash_pay"], info["balc"]) == (
        D("400.00"), D("100.00"), D("300.00"), D("0.00"))


def test_eligibility_refusal_with_mixed_lines_makes_every_line_self_paid():
    """Suspended, with a 甲 line, a 乙 line and an over-standard line: all self-paid, 0.00 over, 0.00 pre."""
    adj = settle(visit(line("100.00"), line("50.00", lv="02"), line("120.00", std="100.00")),
                 at_hospital(3, suspended=True), KAIFENG)
    _assert_refused(adj, "270.00")
    assert adj.refusal_article == "信政办〔2022〕23号 第十九条（三）（假设）"
