"""Every worked example of POLICY.md §2, with its exact figures and the values in between.

Xinyang parameters (信政办〔2022〕23号 第五条), region 411500, service date 2024-03-20; all items
category A (甲), no payment standard, so the whole bill is in policy scope.

| case | total | deductible | ratio | fund | member |
|---|---|---|---|---|---|
| in service, level 3, cap unused | 400.00 | 50.00 | 50 % | 175.00 | 225.00 |
| retired, level 2 | 200.00 | 30.00 | 65 % | 110.50 | 89.50 |
| in service, own family-doctor primary institution | 100.00 | 0.00 | 60 % | 60.00 | 40.00 |
| in service, level 3, 1480.00 of cap already used | 400.00 | 50.00 | 50 % | 20.00 | 380.00 |
"""

from __future__ import annotations

from tests.rules import RETIRED, D, at_hospital, line, settle, share_before_cap, visit


def _assert_settled(adj, *, total, in_scope, deductible, ratio, share, fund, member):
    info = adj.setlinfo
    assert info["medfee_sumamt"] == D(total)
    assert info["fulamt_ownpay_amt"] == D("0.00")
    assert info["overlmt_selfpay"] == D("0.00")
    assert info["preselfpay_amt"] == D("0.00")
    assert info["inscp_scp_amt"] == D(in_scope)
    assert info["act_pay_dedc"] == D(deductible)
    assert info["pool_prop_selfpay"] == D(ratio)
    assert share_before_cap(adj) == D(share)
    assert info["hifp_pay"] == D(fund)
    assert info["fund_pay_sumamt"] == D(fund)
    assert info["psn_part_amt"] == D(member)
    # No account use was allowed: the member's part is paid in cash.
    assert info["acct_pay"] == D("0.00")
    assert info["psn_cash_pay"] == D(member)
    assert adj.refusal_code is None


def test_worked_example_1_art5_in_service_level3_cap_unused_fund_pays_175():
    """信政办〔2022〕23号 第五条（一）（二）（三）: in service, level 3, nothing of the cap used.

    deductible 50.00 (第五条（一）, level 3); ratio 50 % (第五条（二）, level 3)
    (400.00 − 50.00) × 50 % = 175.00 ≤ 1500.00 − 0.00 → fund 175.00
    member 400.00 − 175.00 = 225.00
    """
    adj = settle(visit(line("400.00")), at_hospital(3))
    _assert_settled(adj, total="400.00", in_scope="400.00", deductible="50.00", ratio="0.50",
                    share="175.00", fund="175.00", member="225.00")
    assert adj.deductible_standard == D("50.00")
    assert adj.annual_cap == D("1500.00")
    # 1500.00 − 0.00 − 175.00 = 1325.00 of the cap is left.
    assert adj.cap_remaining == D("1325.00")


def test_worked_example_2_art5_retired_level2_fund_pays_110_50():
    """信政办〔2022〕23号 第五条（一）（二）: retired, level 2.

    deductible 30.00 (第五条（一）, level 2); ratio 55 % + 10 points retired = 65 % (第五条（二）)
    (200.00 − 30.00) × 65 % = 170.00 × 0.65 = 110.50 ≤ 2000.00 (retired cap, 第五条（三）)
    member 200.00 − 110.50 = 89.50
    """
    adj = settle(visit(line("200.00")), at_hospital(2, psn_type=RETIRED))
    _assert_settled(adj, total="200.00", in_scope="200.00", deductible="30.00", ratio="0.65",
                    share="110.50", fund="110.50", member="89.50")
    assert adj.annual_cap == D("2000.00")
    # 2000.00 − 110.50 = 1889.50
    assert adj.cap_remaining == D("1889.50")


def test_worked_example_3_art5_family_doctor_primary_institution_fund_pays_60():
    """信政办〔2022〕23号 第五条（一）（二）: in service, at the member's own family-doctor primary institution.

    deductible 0.00 (第五条（一）: 基层不设起付标准); ratio 55 % + 5 points family doctor = 60 %
    (100.00 − 0.00) × 60 % = 60.00; member 100.00 − 60.00 = 40.00
    """
    adj = settle(visit(line("100.00")), at_hospital(1, family_doctor_here=True))
    _assert_settled(adj, total="100.00", in_scope="100.00", deductible="0.00", ratio="0.60",
                    share="60.00", fund="60.00", member="40.00")
    assert adj.deductible_standard == D("0.00")


def test_worked_example_4_art5_3_level3_with_1480_of_cap_used_fund_pays_20():
    """信政办〔2022〕23号 第五条（三）: the annual cap limits the share.

    (400.00 − 50.00) × 50 % = 175.00 before the cap; 1500.00 − 1480.00 = 20.00 left
    fund min(175.00, 20.00) = 20.00; member 400.00 − 20.00 = 380.00
    """
    adj = settle(visit(line("400.00")), at_hospital(3, cap_used_before="1480.00"))
    _assert_settled(adj, total="400.00", in_scope="400.00", deductible="50.00", ratio="0.50",
                    share="175.00", fund="20.00", member="380.00")
    # The cap is exhausted: 1500.00 − 1480.00 − 20.00 = 0.00.
    assert adj.cap_remaining == D("0.00")
    assert adj.setldetail()[0]["crt_payb_lmt_amt"] == D("0.00")


def test_worked_examples_art5_cite_xinyang_articles_in_the_explanation():
    """The explanation (setl_proc_info) names 信政办〔2022〕23号 第五条（一）（二）（三）, not as assumed."""
    text = settle(visit(line("400.00")), at_hospital(3)).setl_proc_info()
    assert "信政办〔2022〕23号 第五条（一）" in text
    assert "信政办〔2022〕23号 第五条（二）" in text
    assert "信政办〔2022〕23号 第五条（三）" in text
    assert "(400.00−50.00)×50%＝175.00元" in text
