"""Monthly prepayment (汴医保〔2023〕29号 三（二）; 焦医保〔2024〕32号 四（二）) as pure functions.

``Prepayment.paid`` is the cash paid out after withholding; what is granted for the month is
``paid + withheld``. Figures are worked by hand in the comments.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from ledger.policy.files import default_library
from ledger.rules.payments import Actual, prepay_jiaozuo_4_2, prepay_kaifeng_3_2
from ledger.rules.reader import Reader

D = Decimal


def actual(code: str, fund: str) -> Actual:
    """An institution's month; only the pooling fund's amount matters to the prepayment."""
    return Actual(code, 1, 1, D(fund) * 2, D(fund), D("0.00"))


@pytest.fixture
def kaifeng() -> Reader:
    return Reader(default_library().policy_for("410200", date(2024, 3, 31)))


@pytest.fixture
def jiaozuo() -> Reader:
    return Reader(default_library().policy_for("410800", date(2024, 9, 30)))


def rows(prepayments):
    return {p.actual.fixmedins_code: (p.allocation, p.paid, p.withheld) for p in prepayments}


def test_kaifeng_3_2_parameters_are_the_seeds():
    """三（二）: the month's budget is the year's ÷ 12; 5 % is withheld as the service-quality deposit."""
    p = Reader(default_library().policy_for("410200", date(2023, 11, 2)))
    assert p.value("budget_months") == 12
    assert p.amount("deposit_rate") == D("0.05")
    assert p.value("payment_scheme") == "kaifeng_global_budget"


def test_kaifeng_3_2_city_over_its_monthly_budget_pays_each_its_allocation(kaifeng):
    """三（二）「实际发生额大于月拨付额度的按上述公式结算」, then 5 % withheld.

    Budget 1 200 000.00 → month 100 000.00. City actual 60 000 + 30 000 + 30 000 = 120 000.
    H1: 100 000 × 60 000 ÷ 120 000 = 50 000.00 < 60 000 → granted 50 000.00; withheld 2 500.00; cash 47 500.00.
    H2, P1: 100 000 × 30 000 ÷ 120 000 = 25 000.00 → withheld 1 250.00; cash 23 750.00.
    """
    out = prepay_kaifeng_3_2([actual("H1", "60000.00"), actual("H2", "30000.00"), actual("P1", "30000.00")],
                             D("1200000.00"), kaifeng)
    assert rows(out) == {
        "H1": (D("50000.00"), D("47500.00"), D("2500.00")),
        "H2": (D("25000.00"), D("23750.00"), D("1250.00")),
        "P1": (D("25000.00"), D("23750.00"), D("1250.00")),
    }


def test_kaifeng_3_2_city_under_its_monthly_budget_pays_each_its_actual(kaifeng):
    """三（二）「实际发生额小于月拨付额度的据实拨付」.

    Month 100 000.00; city 40 000 + 20 000 = 60 000. H1's allocation 100 000 × 40/60 = 66 666.67 > 40 000
    → granted 40 000.00; withheld 2 000.00; cash 38 000.00. H2: 33 333.33 > 20 000 → 19 000.00 cash, 1 000.00 held.
    """
    out = prepay_kaifeng_3_2([actual("H1", "40000.00"), actual("H2", "20000.00")], D("1200000.00"), kaifeng)
    assert rows(out) == {
        "H1": (D("66666.67"), D("38000.00"), D("2000.00")),
        "H2": (D("33333.33"), D("19000.00"), D("1000.00")),
    }


def test_kaifeng_3_2_actual_equal_to_its_allocation_is_paid_that_amount(kaifeng):
    """Month 100 000.00, one institution with 100 000.00: allocation = actual = 100 000.00 → 95 000.00 cash."""
    out = prepay_kaifeng_3_2([actual("H1", "100000.00")], D("1200000.00"), kaifeng)
    assert rows(out) == {"H1": (D("100000.00"), D("95000.00"), D("5000.00"))}


def test_kaifeng_3_2_a_month_budget_in_thirds_is_rounded_once_per_institution(kaifeng):
    """Budget 10 000 000.00 ÷ 12 = 833 333.333…, not rounded before it is shared.

    City 600 000 + 300 000 = 900 000 > 833 333.33.
    H1: 10 000 000 × 600 000 ÷ (12 × 900 000) = 555 555.555… → 555 555.56; × 5 % = 27 777.778 → 27 777.78;
        cash 527 777.78.
    H2: 277 777.777… → 277 777.78; × 5 % = 13 888.889 → 13 888.89; cash 263 888.89.
    """
    out = prepay_kaifeng_3_2([actual("H1", "600000.00"), actual("H2", "300000.00")], D("10000000.00"), kaifeng)
    assert rows(out) == {
        "H1": (D("555555.56"), D("527777.78"), D("27777.78")),
        "H2": (D("277777.78"), D("263888.89"), D("13888.89")),
    }


def test_kaifeng_3_2_the_deposit_is_rounded_half_up(kaifeng):
    """12 345.70 × 5 % = 617.285 → 617.29 (half up; half-even would keep 617.28); cash 11 728.41."""
    out = prepay_kaifeng_3_2([actual("H1", "12345.70")], D("12000000.00"), kaifeng)
    assert rows(out) == {"H1": (D("1000000.00"), D("11728.41"), D("617.29"))}


def test_kaifeng_3_2_a_negative_month_repays_with_nothing_withheld(kaifeng):
    """Reversals above new settlements: H3's −500.00 is repaid in full, no allocation, nothing withheld.

    The city's actual counts the positive institutions only (documented in ``prepay_kaifeng_3_2``):
    city 50 000 → H1's allocation 100 000 × 50 000 ÷ 50 000 = 100 000.00 > 50 000 → granted 50 000.00,
    withheld 2 500.00, cash 47 500.00.
    """
    out = prepay_kaifeng_3_2([actual("H1", "50000.00"), actual("H3", "-500.00")], D("1200000.00"), kaifeng)
    assert rows(out) == {
        "H1": (D("100000.00"), D("47500.00"), D("2500.00")),
        "H3": (None, D("-500.00"), D("0.00")),
    }


def test_kaifeng_3_2_a_month_with_nothing_pays_nothing(kaifeng):
    out = prepay_kaifeng_3_2([actual("H1", "0.00")], D("1200000.00"), kaifeng)
    assert rows(out) == {"H1": (None, D("0.00"), D("0.00"))}


def test_jiaozuo_4_2_parameters_are_the_seeds(jiaozuo):
    """四（二）「按照95%的比例…月度拨付；其余5%与医疗服务质量挂钩」."""
    assert jiaozuo.amount("monthly_payment_rate") == D("0.95")
    assert jiaozuo.amount("deposit_rate") == D("0.05")
    assert jiaozuo.value("payment_scheme") == "jiaozuo_conditional_ffs"


def test_jiaozuo_4_2_pays_95_percent_and_holds_the_other_5(jiaozuo):
    """四（二）: no allocation; 95 % paid by month end, the rest held for the assessment.

    H1: 20 000.00 × 95 % = 19 000.00 cash; 1 000.00 held.
    H2: 1 000.30 × 95 % = 950.285 → 950.29 (half up); the rest 1 000.30 − 950.29 = 50.01 held.
    H3: −150.00 (a reversal in a later month) → repaid in full, nothing held.
    """
    out = prepay_jiaozuo_4_2([actual("H1", "20000.00"), actual("H2", "1000.30"), actual("H3", "-150.00")], jiaozuo)
    assert rows(out) == {
        "H1": (None, D("19000.00"), D("1000.00")),
        "H2": (None, D("950.29"), D("50.01")),
        "H3": (None, D("-150.00"), D("0.00")),
    }
    for prepayment in out:
        assert prepayment.paid + prepayment.withheld == prepayment.actual.fund
