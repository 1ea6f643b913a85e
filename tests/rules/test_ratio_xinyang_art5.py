"""The share the pooling fund pays (支付比例), step 6 of POLICY.md §2.

信政办〔2022〕23号 第五条（二）「按规定在三级定点医疗机构就医的支付比例为50%，按规定在二级及以下
定点医疗机构就医的支付比例为55%。退休人员的支付比例高于在职职工10个百分点。参保人员办理家庭
医生签约后，在签约的基层医疗机构发生的普通门诊医疗费用，支付比例在以上基础上提高5个百分点。」
Pharmacies: 信政办 第十三条 (as level 2), 汴医保〔2023〕29号 二（二） (as the prescriber),
晋医保办发〔2023〕2号 二 (60 % in service, 65 % retired).
"""

from __future__ import annotations

import pytest

from ledger.rules.facts import IN_SERVICE
from ledger.rules.ratio import (
    base_ratio_xinyang_art5_2,
    family_doctor_bonus_xinyang_art5_2,
    pharmacy_ratio_shanxi_2,
    pooling_ratio,
    retiree_bonus_xinyang_art5_2,
)
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


@pytest.mark.parametrize(("level", "ratio"), [(1, "0.55"), (2, "0.55"), (3, "0.50")])
def test_ratio_art5_2_base_is_55_at_level2_and_below_and_50_at_level3(level, ratio):
    assert base_ratio_xinyang_art5_2(level, reader()) == D(ratio)


@pytest.mark.parametrize(
    ("level", "psn_type", "family_doctor_here", "ratio"),
    [
        (3, IN_SERVICE, False, "0.50"),
        (2, IN_SERVICE, False, "0.55"),
        (1, IN_SERVICE, False, "0.55"),
        (3, RETIRED, False, "0.60"),   # 50 % + 10 points
        (2, RETIRED, False, "0.65"),   # 55 % + 10 points
        (1, RETIRED, False, "0.65"),   # 55 % + 10 points
        (1, IN_SERVICE, True, "0.60"),  # 55 % + 5 points, own family-doctor primary institution
        (1, RETIRED, True, "0.70"),    # 55 % + 10 + 5 points
        (2, IN_SERVICE, True, "0.55"),  # the bonus is only at a primary (基层) institution
        (3, RETIRED, True, "0.60"),    # the bonus is only at a primary (基层) institution
    ],
)
def test_ratio_art5_2_by_level_status_and_family_doctor(level, psn_type, family_doctor_here, ratio):
    ctx = at_hospital(level, psn_type=psn_type, family_doctor_here=family_doctor_here)
    assert pooling_ratio(visit(line("100.00")), ctx, reader()) == D(ratio)


def test_ratio_art5_2_retiree_bonus_is_ten_points_only_for_retirees():
    p = reader()
    assert retiree_bonus_xinyang_art5_2(at_hospital(3, psn_type=RETIRED), p) == D("0.10")
    assert retiree_bonus_xinyang_art5_2(at_hospital(3), p) == D("0")


def test_ratio_art5_2_family_doctor_bonus_is_five_points_only_at_own_primary_institution():
    p = reader()
    assert family_doctor_bonus_xinyang_art5_2(1, True, p) == D("0.05")
    assert family_doctor_bonus_xinyang_art5_2(1, False, p) == D("0")
    assert family_doctor_bonus_xinyang_art5_2(2, True, p) == D("0")
    assert family_doctor_bonus_xinyang_art5_2(3, True, p) == D("0")


def test_ratio_art5_2_retired_at_own_family_doctor_primary_pays_70_percent():
    """(100.00 − 0.00) × (55 % + 10 % + 5 %) = 70.00; member 30.00."""
    adj = settle(visit(line("100.00")), at_hospital(1, psn_type=RETIRED, family_doctor_here=True))
    assert adj.setlinfo["pool_prop_selfpay"] == D("0.70")
    assert adj.setlinfo["hifp_pay"] == D("70.00")
    assert adj.setlinfo["psn_part_amt"] == D("30.00")


def test_ratio_art5_2_retired_at_level3_pays_60_percent():
    """(400.00 − 50.00) × 60 % = 210.00."""
    adj = settle(visit(line("400.00")), at_hospital(3, psn_type=RETIRED))
    assert adj.setlinfo["hifp_pay"] == D("210.00")


def test_ratio_art5_2_cites_xinyang_for_each_part_of_the_ratio():
    adj = settle(visit(line("100.00")), at_hospital(1, psn_type=RETIRED, family_doctor_here=True))
    [step] = [s for s in adj.trace if s.rule == "ratio"]
    names = {c.name: c.citation() for c in step.params}
    assert names == {
        "ratio_level1": "信政办〔2022〕23号 第五条（二）",
        "ratio_bonus_retired": "信政办〔2022〕23号 第五条（二）",
        "ratio_bonus_family_doctor": "信政办〔2022〕23号 第五条（二）",
    }


@pytest.mark.parametrize(("psn_type", "prescriber_level", "ratio"),
                         [(IN_SERVICE, 3, "0.55"), (IN_SERVICE, 1, "0.55"), (RETIRED, 3, "0.65")])
def test_ratio_xinyang_art13_pharmacy_is_as_level2(psn_type, prescriber_level, ratio):
    """信政办〔2022〕23号 第十三条: 55 % (level 2) in service, 65 % retired, whatever the prescriber."""
    ctx = at_pharmacy(psn_type=psn_type, prescriber_level=prescriber_level, prescriber_family_doctor=True)
    assert pooling_ratio(purchase(line("100.00")), ctx, reader()) == D(ratio)


@pytest.mark.parametrize(
    ("psn_type", "prescriber_level", "family_doctor", "ratio"),
    [
        (IN_SERVICE, 3, False, "0.50"),
        (IN_SERVICE, 2, False, "0.55"),
        (RETIRED, 2, False, "0.65"),
        (IN_SERVICE, 1, True, "0.60"),  # the prescriber is the member's family-doctor primary institution
        (IN_SERVICE, 3, True, "0.50"),  # not a primary institution: no bonus
    ],
)
def test_ratio_kaifeng_2_2_pharmacy_is_as_the_prescriber(psn_type, prescriber_level, family_doctor, ratio):
    """汴医保〔2023〕29号 二（二）: the prescribing institution's ratio (Xinyang's values, assumed)."""
    ctx = at_pharmacy(psn_type=psn_type, prescriber_level=prescriber_level, prescriber_family_doctor=family_doctor)
    assert pooling_ratio(purchase(line("100.00")), ctx, reader(KAIFENG)) == D(ratio)


@pytest.mark.parametrize(("psn_type", "ratio"), [(IN_SERVICE, "0.60"), (RETIRED, "0.65")])
@pytest.mark.parametrize("prescriber_level", [1, 2, 3])
def test_ratio_shanxi_2_pharmacy_is_60_in_service_and_65_retired(psn_type, ratio, prescriber_level):
    """晋医保办发〔2023〕2号 二「在职职工统筹基金支付60%，退休人员统筹基金支付65%」, whatever the prescriber."""
    ctx = at_pharmacy(psn_type=psn_type, prescriber_level=prescriber_level, prescriber_family_doctor=True)
    p = reader(DATONG)
    assert pooling_ratio(purchase(line("100.00")), ctx, p) == D(ratio)
    assert pharmacy_ratio_shanxi_2(ctx, p) == D(ratio)


def test_ratio_shanxi_2_is_cited_to_the_shanxi_notice():
    p = reader(DATONG)
    pharmacy_ratio_shanxi_2(at_pharmacy(psn_type=RETIRED), p)
    [cited] = p.take()
    assert (cited.name, cited.citation()) == ("pharmacy_ratio_retired", "晋医保办发〔2023〕2号 二")


def test_ratio_shanxi_2_retired_purchase_settles_at_65_percent():
    """Datong, retired, 200.00 of drugs, nothing paid at the prescribing visit.

    (200.00 − 30.00) × 65 % = 110.50; member 89.50
    """
    adj = settle(purchase(line("200.00")), at_pharmacy(psn_type=RETIRED, prescriber_level=1), DATONG)
    assert adj.setlinfo["pool_prop_selfpay"] == D("0.65")
    assert adj.setlinfo["hifp_pay"] == D("110.50")
    assert adj.setlinfo["psn_part_amt"] == D("89.50")


def test_ratio_datong_visits_borrow_xinyang_ratios_marked_assumed():
    """POLICY.md §9: Datong's own benefit values (同医保发〔2022〕41号) are not in the seeds."""
    p = reader(DATONG)
    assert base_ratio_xinyang_art5_2(3, p) == D("0.50")
    [cited] = p.take()
    assert cited.citation() == "信政办〔2022〕23号 第五条（二）（假设）"
    assert "同医保发〔2022〕41号" in cited.note
