"""汴医保〔2023〕29号 三（三）: year-end clearing at every edge of the usage-rate tiers.

Budget B = 10 000 000.00; three institutions H1, H2, P1 whose actuals add up to A, so that
the usage rate r = A ÷ B sits on each tier's edge. The formulas, worked by hand below:

- r < 70 %:           s = 0
- 70 % ≤ r < 90 %:    s = [10 % − 0.5 × (90 % − r)] × 50 %
- 90 % ≤ r < 100 %:   s = (1 − r) × 50 %
- surplus:            S = B × s; final = actual × (S ÷ A + 1)
- 100 % ≤ r ≤ 110 %:  final = actual × (0.7 B + 0.3 A) ÷ A
- r > 110 %:          the documented reading (assumed.yaml ``clearing_overspend_reading``):
                      fund total 0.7 B + 0.3 × 1.1 B = 10 300 000.00, split by share of actual.

Each final amount is rounded half up to the fen.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from ledger.errors import InputError
from ledger.policy.files import default_library
from ledger.rules.clearing import clear_kaifeng_3_3, deposit_return_rate
from ledger.rules.reader import Reader

D = Decimal
B = D("10000000.00")


@pytest.fixture
def p() -> Reader:
    return Reader(default_library().policy_for("410200", date(2024, 12, 31)))


CASES = [
    pytest.param(
        # A = 6 999 000.00, r = 69.99 % < 70 %: s = 0, S = 0 → each paid its actual.
        {"H1": "3500000.00", "H2": "2333333.33", "P1": "1165666.67"},
        "surplus_below_floor", D("0"), D("6999000.00"),
        {"H1": "3500000.00", "H2": "2333333.33", "P1": "1165666.67"},
        id="69.99%"),
    pytest.param(
        # A = 7 000 000.00, r = 70 %: s = [0.10 − 0.5 × (0.90 − 0.70)] × 0.5 = [0.10 − 0.10] × 0.5 = 0.
        {"H1": "3500000.00", "H2": "2333333.33", "P1": "1166666.67"},
        "surplus_sharing_low", D("0"), D("7000000.00"),
        {"H1": "3500000.00", "H2": "2333333.33", "P1": "1166666.67"},
        id="70%"),
    pytest.param(
        # A = 8 000 000.00, r = 80 %: s = [0.10 − 0.5 × 0.10] × 0.5 = 0.025; S = 250 000.00;
        # factor 1 + 250 000 ÷ 8 000 000 = 1.03125:
        # H1 4 000 000 × 1.03125 = 4 125 000.00; H2 2 666 666.67 × 1.03125 = 2 750 000.0034… → 2 750 000.00;
        # P1 1 333 333.33 × 1.03125 = 1 374 999.9965… → 1 375 000.00.
        {"H1": "4000000.00", "H2": "2666666.67", "P1": "1333333.33"},
        "surplus_sharing_low", D("0.025"), D("8250000.00"),
        {"H1": "4125000.00", "H2": "2750000.00", "P1": "1375000.00"},
        id="80%"),
    pytest.param(
        # A = 8 999 000.00, r = 89.99 %: s = [0.10 − 0.5 × 0.0001] × 0.5 = 0.09995 × 0.5 = 0.049975;
        # S = 10 000 000 × 0.049975 = 499 750.00; fund A + S = 9 498 750.00; factor 9 498 750 ÷ 8 999 000:
        # H1 4 500 000 × 9 498 750 ÷ 8 999 000 = 4 749 902.766… → 4 749 902.77;
        # H2 3 000 000 × … = 3 166 601.844… → 3 166 601.84; P1 1 499 000 × … = 1 582 245.388… → 1 582 245.39.
        {"H1": "4500000.00", "H2": "3000000.00", "P1": "1499000.00"},
        "surplus_sharing_low", D("0.049975"), D("9498750.00"),
        {"H1": "4749902.77", "H2": "3166601.84", "P1": "1582245.39"},
        id="89.99%"),
    pytest.param(
        # A = 9 000 000.00, r = 90 %: s = (1 − 0.90) × 0.5 = 0.05; S = 500 000.00; factor 1 + 5/90 = 19/18:
        # H1 4 500 000 × 19/18 = 4 750 000.00;
        # H2 2 999 999.97 × 19/18 = 3 166 666.635 exactly → 3 166 666.64 (half up);
        # P1 1 500 000.03 × 19/18 = 1 583 333.365 exactly → 1 583 333.37 (half up; half-even would give .36).
        {"H1": "4500000.00", "H2": "2999999.97", "P1": "1500000.03"},
        "surplus_sharing_high", D("0.05"), D("9500000.00"),
        {"H1": "4750000.00", "H2": "3166666.64", "P1": "1583333.37"},
        id="90%"),
    pytest.param(
        # A = 9 500 000.00, r = 95 %: s = 0.05 × 0.5 = 0.025; S = 250 000; factor 9 750 000 ÷ 9 500 000 = 39/38:
        # H1 4 750 000 × 39/38 = 4 875 000.00; H2 3 166 666.67 × 39/38 = 3 250 000.0034… → 3 250 000.00;
        # P1 1 583 333.33 × 39/38 = 1 624 999.9965… → 1 625 000.00.
        {"H1": "4750000.00", "H2": "3166666.67", "P1": "1583333.33"},
        "surplus_sharing_high", D("0.025"), D("9750000.00"),
        {"H1": "4875000.00", "H2": "3250000.00", "P1": "1625000.00"},
        id="95%"),
    pytest.param(
        # A = 9 999 000.00, r = 99.99 %: s = 0.0001 × 0.5 = 0.00005; S = 500.00; factor 9 999 500 ÷ 9 999 000:
        # H1 5 000 000 × … = 5 000 250.025… → 5 000 250.03; H2 3 333 333.33 × … = 3 333 500.013… → 3 333 500.01;
        # P1 1 665 666.67 × … = 1 665 749.961… → 1 665 749.96.
        {"H1": "5000000.00", "H2": "3333333.33", "P1": "1665666.67"},
        "surplus_sharing_high", D("0.00005"), D("9999500.00"),
        {"H1": "5000250.03", "H2": "3333500.01", "P1": "1665749.96"},
        id="99.99%"),
    pytest.param(
        # A = 10 000 000.00, r = 100 %: overspend formula, (0.7 × 10 000 000 + 0.3 × 10 000 000) ÷ 10 000 000 = 1
        # → each paid its actual.
        {"H1": "5000000.00", "H2": "3333333.33", "P1": "1666666.67"},
        "overspend_shared", None, D("10000000.00"),
        {"H1": "5000000.00", "H2": "3333333.33", "P1": "1666666.67"},
        id="100%"),
    pytest.param(
        # A = 10 500 000.00, r = 105 %: fund 7 000 000 + 3 150 000 = 10 150 000; factor 10 150 000 ÷ 10 500 000 = 29/30:
        # H1 5 250 000 × 29/30 = 5 075 000.00; H2 3 500 000 × 29/30 = 3 383 333.333… → 3 383 333.33;
        # P1 1 750 000 × 29/30 = 1 691 666.666… → 1 691 666.67.
        {"H1": "5250000.00", "H2": "3500000.00", "P1": "1750000.00"},
        "overspend_shared", None, D("10150000.00"),
        {"H1": "5075000.00", "H2": "3383333.33", "P1": "1691666.67"},
        id="105%"),
    pytest.param(
        # A = 11 000 000.00, r = 110 % (still shared): fund 7 000 000 + 3 300 000 = 10 300 000; factor 103/110:
        # H1 1 100 001.65 × 103/110 = 1 030 001.545 exactly → 1 030 001.55 (half up; half-even gives .54);
        # H2 5 000 000 × 103/110 = 4 681 818.1818… → 4 681 818.18;
        # P1 4 899 998.35 × 103/110 = 4 588 180.2731… → 4 588 180.27.
        {"H1": "1100001.65", "H2": "5000000.00", "P1": "4899998.35"},
        "overspend_shared", None, D("10300000.00"),
        {"H1": "1030001.55", "H2": "4681818.18", "P1": "4588180.27"},
        id="110%"),
    pytest.param(
        # A = 11 001 000.00, r = 110.01 % > 110 %: 「超支10%以上部分医保基金不分担」. Reading used:
        # fund = 0.7 × 10 000 000 + 0.3 × 1.1 × 10 000 000 = 7 000 000 + 3 300 000 = 10 300 000.00 (not the
        # 10 300 300.00 the 100–110 % formula would give), split by share: 50 %, 30 %, 20 %
        # → 5 150 000.00, 3 090 000.00, 2 060 000.00.
        {"H1": "5500500.00", "H2": "3300300.00", "P1": "2200200.00"},
        "overspend_beyond_limit", None, D("10300000.00"),
        {"H1": "5150000.00", "H2": "3090000.00", "P1": "2060000.00"},
        id="110.01%"),
]


@pytest.mark.parametrize(("actuals", "tier", "sharing", "fund_total", "finals"), CASES)
def test_3_3_clearing_at_each_usage_rate_edge(p, actuals, tier, sharing, fund_total, finals):
    """三（三）1–5: tier, sharing ratio, the fund's total and each institution's final amount."""
    result = clear_kaifeng_3_3({c: D(v) for c, v in actuals.items()}, B, p)
    assert result.usage_rate == sum((D(v) for v in actuals.values()), D(0)) / B
    assert result.tier == tier
    if tier == "overspend_beyond_limit":
        assert p.cited("clearing_overspend_reading").assumed is True
    if sharing is None:
        assert result.sharing_ratio is None
    else:
        assert result.sharing_ratio == sharing
    assert result.fund_total == fund_total
    assert result.finals == {c: D(v) for c, v in finals.items()}


def test_3_3_the_tiers_join_without_a_jump(p):
    """Where two tiers meet the formulas agree: s(70 %) = 0, s(90 %) = 0.05, 100 % pays A, 110 % pays 1.03 B.

    Worked: at 90 % the low formula gives [0.10 − 0] × 0.5 = 0.05 = (1 − 0.9) × 0.5. At 110 % the shared
    formula gives 0.7 B + 0.33 B = 1.03 B = the capped reading's 0.7 B + 0.3 × 1.1 B.
    """
    at_110 = clear_kaifeng_3_3({"H1": D("11000000.00")}, B, p)
    beyond = clear_kaifeng_3_3({"H1": D("12000000.00")}, B, p)
    assert at_110.fund_total == beyond.fund_total == D("10300000.00")
    assert clear_kaifeng_3_3({"H1": D("10000000.00")}, B, p).finals == {"H1": D("10000000.00")}


def test_3_3_a_budget_of_zero_cannot_be_cleared(p):
    with pytest.raises(InputError) as e:
        clear_kaifeng_3_3({"H1": D("1.00")}, D("0.00"), p)
    assert e.value.code == "no_budget"


@pytest.mark.parametrize(("score", "rate"), [
    ("100.00", "1.00"), ("60.00", "1.00"),   # 年度考核合格: the whole deposit
    ("59.99", "0.00"), ("0.00", "0.00"),     # failed: deposit_return_failing, nothing
])
def test_deposit_returned_in_full_on_a_passing_assessment_jiaozuo_appendix_example_1(p, score, rate):
    """附件 例1「经年度考核合格后，职工医保统筹基金按1860万元支付」: passing returns all that was held back.

    The pass mark (60) and what a failed assessment returns (0 %) are assumed.yaml's; the full return
    is Jiaozuo's, lent to Kaifeng (regions.yaml). No 90/80/70/60 scale: no document gives one.
    """
    returned, cited = deposit_return_rate(D(score), p)
    assert returned == D(rate)
    assert ("焦医保〔2024〕32号 附件 例1" if rate == "1.00" else "同医保办发〔2022〕1号 第十五条") in cited
    assert p.cited("assessment_pass_score").assumed is True
    assert not p.has("deposit_return_scale")
