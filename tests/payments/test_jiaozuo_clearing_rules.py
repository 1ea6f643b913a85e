"""焦医保〔2024〕32号 四（一）、六（一）: conditional fee-for-service, checked against the seed's own examples.

Pure functions of ``ledger.rules.clearing`` with the policy of Jiaozuo (410800) in force at the end
of 2024. Every expected figure is worked by hand in the comments.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from ledger.errors import InputError
from ledger.policy.files import default_library
from ledger.rules.clearing import clear_jiaozuo_4_1, specialist_baseline_jiaozuo_4_1
from ledger.rules.reader import Reader

D = Decimal


@pytest.fixture
def p() -> Reader:
    return Reader(default_library().policy_for("410800", date(2024, 12, 31)))


def test_policy_4_1_3_baselines_and_growth_cap_are_the_seeds_2024_figures(p):
    """四（一）3（1）（2）: the eight baselines (元/人次) and the 6.5 % growth cap, as the seed lists them."""
    assert p.value("cost_baselines") == {
        "city_level3_general": D("265"),   # 市三级综合医院 265元/人次
        "city_tcm": D("215"),              # 市级中医院 215
        "city_maternal_child": D("298"),   # 市级妇幼保健院 298
        "county_general": D("204"),        # 县三级二级综合医院 204
        "county_tcm": D("200"),            # 县级中医院 200
        "county_maternal_child": D("140"),  # 县级妇幼保健院 140
        "community_health_center": D("123"),  # 社区卫生服务中心 123
        "township_health_center": D("82"),  # 乡镇卫生院 82
    }
    assert p.amount("cost_growth_cap") == D("0.065")
    assert p.value("specialist_baseline_weights") == (1, 2, 7)
    assert "village_clinic" in p.value("exempt_categories")  # 村卫生室（所）暂不实行
    assert p.amount("review_violation_limit") == D("0.60")


def test_policy_4_1_is_not_in_force_before_2024_08_01():
    """四（一）「自2024年8月1日起」: Jiaozuo has no institution payment scheme in July 2024."""
    assert not default_library().policy_for("410800", date(2024, 7, 31)).has("payment_scheme")
    assert default_library().policy_for("410800", date(2024, 8, 1)).has("payment_scheme")


def test_appendix_example_1_county_level2_within_the_cap_is_paid_its_fund_share(p):
    """附件 例1: 26万人次, 4500万元, 统筹 1860万元 at a county level-2 hospital.

    45 000 000 ÷ 260 000 = 173.08 per visit ≤ 204 × 1.065 = 217.26 → paid as billed: 18 600 000.00.
    """
    baseline = p.value("cost_baselines")["county_general"]
    paid, basis = clear_jiaozuo_4_1(260_000, D("45000000.00"), D("18600000.00"), baseline, p, None)
    assert paid == D("18600000.00")
    assert "within" in basis


def test_appendix_example_2_city_level3_over_the_cap_is_paid_the_capped_share(p):
    """附件 例2: 35万人次, 10500万元, 统筹 4500万元 at a city level-3 general hospital.

    105 000 000 ÷ 350 000 = 300 per visit; (300 ÷ 265 − 1) = 13.21 % > 6.5 %.
    350 000 × 265 = 92 750 000; × 1.065 = 98 778 750; × 45 000 000 ÷ 105 000 000 (= × 3/7)
    = 42 333 750.00 (the seed rounds to 4233.38 万元).
    """
    baseline = p.value("cost_baselines")["city_level3_general"]
    paid, basis = clear_jiaozuo_4_1(350_000, D("105000000.00"), D("45000000.00"), baseline, p, None)
    assert paid == D("42333750.00")
    assert "300.00 per visit over 265" in basis


def test_4_1_growth_cap_edge_exactly_at_the_cap_is_paid_in_full_one_fen_over_is_capped(p):
    """四（一）「未超过合理增长幅度的费用…据实结算」: at baseline × 1.065 exactly, nothing is cut.

    1000 visits at 265 × 1.065 = 282.225 per visit → a cost of 282 225.00 is not over: fund paid in full.
    One fen more (282 225.01, fund 282 225.01): 1000 × 282.225 × 282 225.01 ÷ 282 225.01 = 282 225.00.
    """
    at_cap = clear_jiaozuo_4_1(1000, D("282225.00"), D("100000.00"), D("265"), p, None)
    assert at_cap[0] == D("100000.00")
    over = clear_jiaozuo_4_1(1000, D("282225.01"), D("282225.01"), D("265"), p, None)
    assert over[0] == D("282225.00")


EXAMPLE_2 = (350_000, D("105000000.00"), D("45000000.00"), D("265"))
# Example 2's overspend: 45 000 000.00 − 42 333 750.00 = 2 666 250.00.


@pytest.mark.parametrize(("sampled", "violation", "expected"), [
    # v = 0: 「超支部分的统筹费用全额支付」 → the fund share in full.
    ("1000000.00", "0.00", "45000000.00"),
    # v = 25 %: compliant 75 % of the overspend: 2 666 250 × 0.75 = 1 999 687.50 → 42 333 750 + 1 999 687.50.
    ("1000000.00", "250000.00", "44333437.50"),
    # v = 59.99 %: 2 666 250 × 0.4001 = 1 066 766.625 → 1 066 766.63 (half up) → 43 400 516.63.
    ("1000000.00", "599900.00", "43400516.63"),
    # v = 60 %: 「60%及以上的，对统筹基金的超支部分不再进行补偿」 → the capped 42 333 750.00.
    ("1000000.00", "600000.00", "42333750.00"),
    # v = 100 %: nothing of the overspend.
    ("1000000.00", "1000000.00", "42333750.00"),
])
def test_6_1_overspend_review_pays_the_compliant_share_of_the_overspend(p, sampled, violation, expected):
    """六（一）: review of the 100 costliest visits; violation share v = violating ÷ sampled total."""
    review = {"sampled_total": D(sampled), "violation_amount": D(violation)}
    paid, _ = clear_jiaozuo_4_1(*EXAMPLE_2, p, review)
    assert paid == D(expected)


def test_6_1_a_review_of_an_institution_within_the_cap_changes_nothing(p):
    """六（一） applies to an overspend; example 1 has none, so a 50 % violating review still pays 18 600 000.00."""
    review = {"sampled_total": D("100.00"), "violation_amount": D("50.00")}
    paid, _ = clear_jiaozuo_4_1(260_000, D("45000000.00"), D("18600000.00"), D("204"), p, review)
    assert paid == D("18600000.00")


def test_4_1_1_specialist_baseline_is_the_1_2_7_weighted_mean_of_the_previous_three_years(p):
    """四（一）1「权重比例为1:2:7」, oldest to newest, rounded half up to the fen.

    (1 × 100.05 + 2 × 200.00 + 7 × 300.00) ÷ 10 = (100.05 + 400.00 + 2100.00) ÷ 10 = 260.005 → 260.01.
    """
    history = {"2020": D("999.00"), "2021": D("100.05"), "2022": D("200.00"), "2023": D("300.00")}
    baseline, how = specialist_baseline_jiaozuo_4_1(history, [], 2024, None, p)
    assert baseline == D("260.01")
    assert how == "weighted 1:2:7"


def test_4_1_1_a_covid_year_outside_the_previous_three_leaves_the_weighted_rule(p):
    """Only a depressed year among the previous three (2021–2023 for 2024) calls for the best-of-five rule."""
    history = {"2020": D("50.00"), "2021": D("100.05"), "2022": D("200.00"), "2023": D("300.00")}
    assert specialist_baseline_jiaozuo_4_1(history, [2020], 2024, None, p)[0] == D("260.01")


def test_4_1_1_covid_depressed_years_take_the_three_highest_of_the_previous_five(p):
    """四（一）1「可在前5年中选择3年较高水平的门诊次均费用进行平均」 (a simple mean: assumed.yaml).

    2019–2023: 250, 181, 150, 120, 260 with 2021 and 2022 depressed → the three highest 260, 250, 181
    → (260 + 250 + 181) ÷ 3 = 691 ÷ 3 = 230.333… → 230.33. (The weighted rule would give
    (150 + 240 + 1820) ÷ 10 = 221.00.)
    """
    history = {"2019": D("250.00"), "2020": D("181.00"), "2021": D("150.00"), "2022": D("120.00"),
               "2023": D("260.00")}
    baseline, how = specialist_baseline_jiaozuo_4_1(history, [2021, 2022], 2024, None, p)
    assert baseline == D("230.33")
    assert "3 highest of 5" in how


def test_4_1_1_specialist_baseline_is_capped_at_the_provincial_class_average(p):
    """四（一）1「明显高于全省同类医疗机构的，则按…全省…同类医疗机构门诊次均费用数核定」.

    Own 1:2:7 baseline 260.01 (above): with a provincial average of 250.00 → 250.00; of 300.00 → own 260.01.
    """
    history = {"2021": D("100.05"), "2022": D("200.00"), "2023": D("300.00")}
    capped, how = specialist_baseline_jiaozuo_4_1(history, [], 2024, D("250.00"), p)
    assert capped == D("250.00")
    assert "provincial" in how
    assert specialist_baseline_jiaozuo_4_1(history, [], 2024, D("300.00"), p)[0] == D("260.01")


def test_4_1_1_a_specialist_without_the_years_it_needs_is_refused(p):
    """No cost for 2022 → the weighted baseline cannot be worked; two of five years → nor the COVID one."""
    with pytest.raises(InputError) as e:
        specialist_baseline_jiaozuo_4_1({"2021": D("1"), "2023": D("2")}, [], 2024, None, p)
    assert e.value.code == "baseline_history_missing"
    with pytest.raises(InputError) as e:
        specialist_baseline_jiaozuo_4_1({"2021": D("1"), "2023": D("2")}, [2022], 2024, None, p)
    assert e.value.code == "baseline_history_missing"
