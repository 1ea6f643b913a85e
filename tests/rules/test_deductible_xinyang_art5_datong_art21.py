"""The deductible (起付标准), step 5 of POLICY.md §2.

- 信政办〔2022〕23号 第五条（一）: primary 0, level 2 30 yuan, level 3 50 yuan, per visit.
- 同医保办发〔2022〕1号 第二十一条: one deductible per visit serial number (就诊流水号).
- Pharmacy variants: 信政办〔2022〕23号 第十三条 (as level 2); 汴医保〔2023〕29号 二（二） (as the
  prescriber); 晋医保办发〔2023〕2号 二 (30 yuan per visit, combined with the prescriber).
"""

from __future__ import annotations

import pytest

from ledger.rules.deductible import (
    combined_standard_shanxi_2,
    deductible_charged_datong_art21,
    deductible_standard,
    standard_by_level_xinyang_art5_1,
)
from ledger.rules.items import OUTSIDE_CATALOG
from tests.rules import (
    DATONG,
    KAIFENG,
    RETIRED,
    D,
    at_hospital,
    at_pharmacy,
    line,
    purchase,
    reader,
    settle,
    visit,
)


@pytest.mark.parametrize(("level", "standard"), [(1, "0.00"), (2, "30.00"), (3, "50.00")])
def test_deductible_art5_1_by_level_is_0_30_50(level, standard):
    """信政办〔2022〕23号 第五条（一）: 基层不设起付标准；二级每次30元；三级每次50元。"""
    assert standard_by_level_xinyang_art5_1(level, reader()) == D(standard)


def test_deductible_art5_is_zero_at_primary_level():
    # (100.00 − 0.00) × 55 % = 55.00
    adj = settle(visit(line("100.00")), at_hospital(1))
    assert adj.deductible_standard == D("0.00")
    assert adj.setlinfo["act_pay_dedc"] == D("0.00")
    assert adj.setlinfo["hifp_pay"] == D("55.00")


def test_deductible_art5_is_thirty_yuan_at_level2():
    # (100.00 − 30.00) × 55 % = 38.50
    adj = settle(visit(line("100.00")), at_hospital(2))
    assert adj.setlinfo["act_pay_dedc"] == D("30.00")
    assert adj.setlinfo["hifp_pay"] == D("38.50")


def test_deductible_art5_is_fifty_yuan_at_level3():
    # (100.00 − 50.00) × 50 % = 25.00
    adj = settle(visit(line("100.00")), at_hospital(3))
    assert adj.setlinfo["act_pay_dedc"] == D("50.00")
    assert adj.setlinfo["hifp_pay"] == D("25.00")


def test_deductible_art5_1_is_cited_to_xinyang_in_the_trace():
    adj = settle(visit(line("100.00")), at_hospital(3))
    [step] = [s for s in adj.trace if s.rule == "deductible"]
    assert [c.citation() for c in step.params] == ["信政办〔2022〕23号 第五条（一）"]


def test_deductible_datong_art21_never_exceeds_the_in_scope_amount():
    """同医保办发〔2022〕1号 第二十一条 reading: min(in scope, outstanding standard).

    A 40.00 bill at level 3: deductible min(40.00, 50.00) = 40.00; fund (40.00 − 40.00) × 50 % = 0.00
    """
    adj = settle(visit(line("40.00")), at_hospital(3))
    assert adj.deductible_standard == D("50.00")
    assert adj.setlinfo["act_pay_dedc"] == D("40.00")
    assert adj.setlinfo["hifp_pay"] == D("0.00")
    assert adj.setlinfo["psn_part_amt"] == D("40.00")


def test_deductible_datong_art21_counts_only_the_in_scope_part_of_the_bill():
    """30.00 甲 + 100.00 丙 at level 3: in scope 30.00, so the deductible charged is 30.00, fund 0.00."""
    adj = settle(visit(line("30.00"), line("100.00", lv=OUTSIDE_CATALOG)), at_hospital(3))
    assert adj.setlinfo["inscp_scp_amt"] == D("30.00")
    assert adj.setlinfo["act_pay_dedc"] == D("30.00")
    assert adj.setlinfo["hifp_pay"] == D("0.00")


@pytest.mark.parametrize(
    ("in_scope", "standard", "paid_before", "charged"),
    [
        ("400.00", "50.00", "0.00", "50.00"),   # the whole standard
        ("400.00", "50.00", "20.00", "30.00"),  # 50.00 − 20.00 = 30.00 outstanding
        ("400.00", "50.00", "50.00", "0.00"),   # already met under this serial number
        ("400.00", "50.00", "60.00", "0.00"),   # more than met: never negative
        ("10.00", "50.00", "20.00", "10.00"),   # min(10.00, 30.00)
        ("0.00", "50.00", "0.00", "0.00"),      # nothing in scope, nothing charged
    ],
)
def test_deductible_datong_art21_charges_what_the_visit_has_not_paid(in_scope, standard, paid_before, charged):
    """同医保办发〔2022〕1号 第二十一条「起付标准按一次计算」: min(in scope, max(standard − paid before, 0))."""
    assert deductible_charged_datong_art21(D(in_scope), D(standard), D(paid_before)) == D(charged)


def test_deductible_datong_art21_second_bill_of_one_visit_pays_no_second_deductible():
    """Two bills under one visit serial number at a level-3 hospital.

    bill 1: 400.00 → deductible 50.00, fund (400.00 − 50.00) × 50 % = 175.00
    bill 2: 100.00, 50.00 already paid → deductible 0.00, fund 100.00 × 50 % = 50.00
    """
    first = settle(visit(line("400.00")), at_hospital(3))
    assert first.setlinfo["act_pay_dedc"] == D("50.00")
    second = settle(visit(line("100.00")), at_hospital(3, deductible_paid_before=first.setlinfo["act_pay_dedc"],
                                                        cap_used_before=first.setlinfo["hifp_pay"]))
    assert second.setlinfo["act_pay_dedc"] == D("0.00")
    assert second.setlinfo["hifp_pay"] == D("50.00")


def test_deductible_datong_art21_second_bill_pays_the_rest_of_a_partly_met_deductible():
    """bill 1 of 20.00 paid a deductible of 20.00; bill 2 of 100.00 pays 50.00 − 20.00 = 30.00.

    fund (100.00 − 30.00) × 50 % = 35.00
    """
    adj = settle(visit(line("100.00")), at_hospital(3, deductible_paid_before="20.00"))
    assert adj.setlinfo["act_pay_dedc"] == D("30.00")
    assert adj.setlinfo["hifp_pay"] == D("35.00")


def test_deductible_xinyang_art13_pharmacy_is_as_level2():
    """信政办〔2022〕23号 第十三条「起付标准和支付比例参照二级定点医疗机构设定」.

    Prescribed at level 3, bought at a pharmacy: deductible 30.00, not 50.00; not combined.
    fund (100.00 − 30.00) × 55 % = 38.50
    """
    adj = settle(purchase(line("100.00")), at_pharmacy(prescriber_level=3))
    assert adj.deductible_standard == D("30.00")
    assert adj.deductible_shared is False
    assert adj.setlinfo["act_pay_dedc"] == D("30.00")
    assert adj.setlinfo["hifp_pay"] == D("38.50")


@pytest.mark.parametrize(("prescriber_level", "standard", "fund"),
                         [(1, "0.00", "55.00"), (2, "30.00", "38.50"), (3, "50.00", "25.00")])
def test_deductible_kaifeng_2_2_pharmacy_is_as_the_prescriber(prescriber_level, standard, fund):
    """汴医保〔2023〕29号 二（二）「执行与开具处方定点医疗机构相同的起付标准、支付比例」.

    level 1: 100.00 × 55 % = 55.00; level 2: (100.00 − 30.00) × 55 % = 38.50;
    level 3: (100.00 − 50.00) × 50 % = 25.00
    """
    adj = settle(purchase(line("100.00")), at_pharmacy(prescriber_level=prescriber_level), KAIFENG)
    assert adj.deductible_standard == D(standard)
    assert adj.deductible_shared is False
    assert adj.setlinfo["act_pay_dedc"] == D(standard)
    assert adj.setlinfo["hifp_pay"] == D(fund)


def test_deductible_shanxi_2_pharmacy_is_thirty_yuan_combined_with_the_prescriber():
    """晋医保办发〔2023〕2号 二「起付标准与开具处方的医药机构合并计算，30元/次」 (Datong 140200).

    Nothing paid at the prescribing visit (a primary institution): deductible 30.00
    fund (100.00 − 30.00) × 60 % = 42.00
    """
    p = reader(DATONG)
    assert combined_standard_shanxi_2(p) == D("30.00")
    assert p.take()[0].citation() == "晋医保办发〔2023〕2号 二"
    adj = settle(purchase(line("100.00")), at_pharmacy(prescriber_level=1), DATONG)
    assert adj.deductible_standard == D("30.00")
    assert adj.deductible_shared is True
    assert adj.setlinfo["act_pay_dedc"] == D("30.00")
    assert adj.setlinfo["hifp_pay"] == D("42.00")


def test_deductible_shanxi_2_already_met_at_the_prescribing_visit_is_not_charged_again():
    """The level-3 prescribing visit paid 50.00 ≥ 30.00: the purchase pays no deductible.

    fund 100.00 × 60 % = 60.00
    """
    adj = settle(purchase(line("100.00")), at_pharmacy(prescriber_level=3, deductible_paid_before="50.00"), DATONG)
    assert adj.setlinfo["act_pay_dedc"] == D("0.00")
    assert adj.setlinfo["hifp_pay"] == D("60.00")


def test_deductible_shanxi_2_partly_met_at_the_prescribing_visit_charges_the_rest():
    """The prescribing visit paid 20.00 of a deductible: the purchase pays 30.00 − 20.00 = 10.00.

    fund (100.00 − 10.00) × 65 % (retired) = 58.50
    """
    adj = settle(purchase(line("100.00")),
                 at_pharmacy(psn_type=RETIRED, deductible_paid_before="20.00"), DATONG)
    assert adj.setlinfo["act_pay_dedc"] == D("10.00")
    assert adj.setlinfo["hifp_pay"] == D("58.50")


def test_deductible_standard_of_a_visit_needs_a_hospital_level():
    with pytest.raises(ValueError, match="level"):
        deductible_standard(visit(line("10.00")), at_hospital(None), reader())  # type: ignore[arg-type]  # on purpose
