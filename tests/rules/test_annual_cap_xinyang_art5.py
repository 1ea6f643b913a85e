"""The annual cap (年度最高支付限额) and the one rounding of the pooled share.

信政办〔2022〕23号 第五条（三）「一个参保年度内，在职职工普通门诊统筹年度最高支付限额为1500元，
退休人员年度最高支付限额为2000元。」 POLICY.md §2.6: the share is computed once on the settlement's
totals, (in scope − deductible) × ratio, rounded half up to the fen, then limited by the cap.
"""

from __future__ import annotations

import pytest

from ledger.rules.annual_cap import annual_cap_xinyang_art5_3, pooled_share, within_cap
from ledger.rules.facts import IN_SERVICE
from tests.rules import (
    KAIFENG,
    RETIRED,
    D,
    at_hospital,
    line,
    reader,
    settle,
    share_before_cap,
    visit,
)


@pytest.mark.parametrize(("psn_type", "cap"), [(IN_SERVICE, "1500.00"), (RETIRED, "2000.00")])
def test_annual_cap_art5_3_is_1500_in_service_and_2000_retired(psn_type, cap):
    p = reader()
    assert annual_cap_xinyang_art5_3(psn_type, p) == D(cap)
    assert p.take()[0].citation() == "信政办〔2022〕23号 第五条（三）"


def test_annual_cap_art5_3_is_borrowed_and_assumed_in_kaifeng():
    p = reader(KAIFENG)
    assert annual_cap_xinyang_art5_3(IN_SERVICE, p) == D("1500.00")
    assert p.take()[0].citation() == "信政办〔2022〕23号 第五条（三）（假设）"


@pytest.mark.parametrize(
    ("share", "cap", "used", "paid"),
    [
        ("175.00", "1500.00", "0.00", "175.00"),     # well within
        ("175.00", "1500.00", "1325.00", "175.00"),  # exactly to the cap
        ("175.00", "1500.00", "1480.00", "20.00"),   # 1500.00 − 1480.00
        ("175.00", "1500.00", "1500.00", "0.00"),    # cap met
        ("175.00", "1500.00", "1600.00", "0.00"),    # beyond the cap (never negative)
        ("0.00", "1500.00", "0.00", "0.00"),
    ],
)
def test_annual_cap_art5_3_limits_the_share_to_what_is_left(share, cap, used, paid):
    assert within_cap(D(share), D(cap), D(used)) == D(paid)


def test_annual_cap_art5_3_in_service_level3_with_cap_met_fund_pays_nothing():
    """1500.00 already used: (400.00 − 50.00) × 50 % = 175.00 before the cap, 0.00 after; member 400.00."""
    adj = settle(visit(line("400.00")), at_hospital(3, cap_used_before="1500.00"))
    assert share_before_cap(adj) == D("175.00")
    assert adj.setlinfo["hifp_pay"] == D("0.00")
    assert adj.setlinfo["psn_part_amt"] == D("400.00")
    assert adj.cap_remaining == D("0.00")
    # The deductible is still charged against the visit (the bill was in scope).
    assert adj.setlinfo["act_pay_dedc"] == D("50.00")


def test_annual_cap_art5_3_retired_cap_is_2000():
    """Retired, level 2, 1900.00 used: (400.00 − 30.00) × 65 % = 240.50 → limited to 2000.00 − 1900.00 = 100.00."""
    adj = settle(visit(line("400.00")), at_hospital(2, psn_type=RETIRED, cap_used_before="1900.00"))
    assert share_before_cap(adj) == D("240.50")
    assert adj.setlinfo["hifp_pay"] == D("100.00")
    assert adj.annual_cap == D("2000.00")
    assert adj.cap_remaining == D("0.00")


def test_annual_cap_art5_3_art6_pooling_paid_before_retirement_counts_against_the_retired_cap():
    """第六条: after the switch the cap is 2000.00, and the 1480.00 paid while in service still counts.

    (400.00 − 50.00) × 60 % = 210.00 ≤ 2000.00 − 1480.00 = 520.00 → fund 210.00; 310.00 left
    """
    adj = settle(visit(line("400.00")), at_hospital(3, psn_type=RETIRED, cap_used_before="1480.00"))
    assert adj.setlinfo["hifp_pay"] == D("210.00")
    assert adj.cap_remaining == D("310.00")
    assert adj.setldetail()[0]["crt_payb_lmt_amt"] == D("310.00")


def test_pooled_share_art5_2_is_rounded_half_up_to_the_fen():
    # 50.11 × 50 % = 25.055 → 25.06 (half up, not half even)
    assert pooled_share(D("50.11"), D("0.50")) == D("25.06")
    # 0.30 × 55 % = 0.165 → 0.17
    assert pooled_share(D("0.30"), D("0.55")) == D("0.17")
    # 0.10 × 65 % = 0.065 → 0.07
    assert pooled_share(D("0.10"), D("0.65")) == D("0.07")


def test_pooled_share_art5_2_is_computed_once_on_totals_not_line_by_line():
    """Ten lines of 0.03 at a primary institution, in service, 55 %.

    on totals: 10 × 0.03 = 0.30; 0.30 × 55 % = 0.165 → 0.17
    line by line would give 10 × round(0.03 × 55 % = 0.0165 → 0.02) = 0.20; that is not the rule.
    """
    adj = settle(visit(*[line("0.03", sn=str(i)) for i in range(10)]), at_hospital(1))
    assert adj.setlinfo["inscp_scp_amt"] == D("0.30")
    assert adj.setlinfo["hifp_pay"] == D("0.17")
    assert adj.setlinfo["psn_part_amt"] == D("0.13")


def test_pooled_share_art5_2_rounds_the_total_after_the_deductible():
    """Level 3: 3 × 33.37 = 100.11; (100.11 − 50.00) × 50 % = 25.055 → 25.06; member 75.05."""
    adj = settle(visit(line("33.37", cnt="3")), at_hospital(3))
    assert adj.setlinfo["hifp_pay"] == D("25.06")
    assert adj.setlinfo["psn_part_amt"] == D("75.05")


def test_annual_cap_art5_3_the_cap_is_applied_after_rounding():
    """Level 1 retired, 0.05 of the cap left: 100.01 × 65 % = 65.0065 → 65.01 → limited to 0.05."""
    adj = settle(visit(line("100.01")), at_hospital(1, psn_type=RETIRED, cap_used_before="1999.95"))
    assert share_before_cap(adj) == D("65.01")
    assert adj.setlinfo["hifp_pay"] == D("0.05")
    assert adj.setlinfo["psn_part_amt"] == D("99.96")
