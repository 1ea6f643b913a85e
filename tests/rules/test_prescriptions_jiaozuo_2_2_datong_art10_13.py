"""E-prescriptions (POLICY.md §4).

- 焦医保〔2024〕32号 二（二）「每次开药量一般不超过7天，急诊不超过3天，慢性病一次开药量不得超过一个月」.
- 医保办发〔2023〕4号 四（二）「定点医药机构可为符合条件的患者开具长期处方，最长可开具12周」 (84 days).
- 同医保办发〔2022〕1号 第十条「医保系统中药品电子处方流转的有效期为7天」; the issue day counts as
  day 1 (assumed reading ``rx_validity_counts_issue_day``).
- 同医保办发〔2022〕1号 第十三条「同一药品不得在不同医药机构购买」.
"""

from __future__ import annotations

from datetime import date

import pytest

from ledger.errors import InputError, PolicyNotInForceError
from ledger.rules.prescriptions import (
    check_days_supplied,
    check_one_institution_datong_art13,
    check_valid_on,
    days_limit_jiaozuo_2_2,
    valid_through_datong_art10,
)
from tests.rules import DATONG, JIAOZUO, reader

JIAOZUO_DAYS = "焦医保〔2024〕32号 二（二）"
LONG_TERM = "医保办发〔2023〕4号 四（二）"
ISSUED = date(2024, 3, 20)


@pytest.mark.parametrize(
    ("med_type", "chronic", "long_term", "limit", "article"),
    [
        ("11", False, False, 7, JIAOZUO_DAYS + "（假设）"),   # normal
        ("13", False, False, 3, JIAOZUO_DAYS + "（假设）"),   # emergency
        ("11", True, False, 30, JIAOZUO_DAYS + "（假设）"),   # chronic: one month
        ("13", True, False, 30, JIAOZUO_DAYS + "（假设）"),   # chronic outranks emergency
        ("11", True, True, 84, LONG_TERM),                   # long prescription: 12 weeks
        ("11", False, True, 84, LONG_TERM),
    ],
)
def test_prescription_days_limit_jiaozuo_2_2_in_xinyang(med_type, chronic, long_term, limit, article):
    """Xinyang borrows Jiaozuo's limits (Henan), marked assumed; the national 12 weeks is its own."""
    assert days_limit_jiaozuo_2_2(med_type, chronic, long_term, reader()) == (limit, article)


@pytest.mark.parametrize(
    ("med_type", "chronic", "long_term", "limit", "article"),
    [
        ("11", False, False, 7, JIAOZUO_DAYS),
        ("13", False, False, 3, JIAOZUO_DAYS),
        ("11", True, False, 30, JIAOZUO_DAYS),
        ("11", True, True, 84, LONG_TERM),
    ],
)
def test_prescription_days_limit_jiaozuo_2_2_in_jiaozuo_is_its_own(med_type, chronic, long_term, limit, article):
    assert days_limit_jiaozuo_2_2(med_type, chronic, long_term, reader(JIAOZUO, date(2024, 8, 1))) == (limit, article)


def test_prescription_days_limit_jiaozuo_2_2_is_not_in_force_in_jiaozuo_before_2024_08_01():
    """The day before the notice the region has no days limit of its own: reading it is an error."""
    with pytest.raises(PolicyNotInForceError, match="rx_days_normal"):
        days_limit_jiaozuo_2_2("11", False, False, reader(JIAOZUO, date(2024, 7, 31)))


@pytest.mark.parametrize(
    ("days", "med_type", "chronic", "long_term"),
    [(7, "11", False, False), (3, "13", False, False), (30, "11", True, False), (84, "11", True, True)],
)
def test_prescription_days_at_the_limit_are_allowed_jiaozuo_2_2(days, med_type, chronic, long_term):
    check_days_supplied(days, med_type, chronic, long_term, reader(), "drugs.0.days")


@pytest.mark.parametrize(
    ("days", "med_type", "chronic", "long_term", "limit", "article"),
    [
        (8, "11", False, False, 7, JIAOZUO_DAYS + "（假设）"),
        (4, "13", False, False, 3, JIAOZUO_DAYS + "（假设）"),
        (31, "11", True, False, 30, JIAOZUO_DAYS + "（假设）"),
        (85, "11", True, True, 84, LONG_TERM),
    ],
)
def test_prescription_days_over_the_limit_are_refused_jiaozuo_2_2(days, med_type, chronic, long_term, limit,
                                                                   article):
    with pytest.raises(InputError) as refused:
        check_days_supplied(days, med_type, chronic, long_term, reader(), "drugs.0.days")
    assert refused.value.code == "rx_days_over_limit"
    assert refused.value.article == article
    assert refused.value.field == "drugs.0.days"
    assert f"more than the {limit} allowed" in refused.value.reason


def test_prescription_validity_datong_art10_counts_the_issue_day_as_day_one():
    """Issued 2024-03-20: days 1..7 are 03-20..03-26, so the last day to fill it is 2024-03-26."""
    assert valid_through_datong_art10(ISSUED, reader()) == (date(2024, 3, 26), "同医保办发〔2022〕1号 第十条（假设）")
    assert valid_through_datong_art10(ISSUED, reader(DATONG)) == (date(2024, 3, 26), "同医保办发〔2022〕1号 第十条")


def test_prescription_validity_datong_art10_crosses_a_leap_february():
    """Issued 2024-02-26: 02-26, 27, 28, 29, 03-01, 02, 03 → valid through 2024-03-03."""
    assert valid_through_datong_art10(date(2024, 2, 26), reader())[0] == date(2024, 3, 3)


@pytest.mark.parametrize("day", [date(2024, 3, 20), date(2024, 3, 23), date(2024, 3, 26)])
def test_prescription_validity_datong_art10_fills_from_day_1_to_day_7(day):
    check_valid_on(ISSUED, day, reader())


def test_prescription_validity_datong_art10_refuses_day_8():
    with pytest.raises(InputError) as refused:
        check_valid_on(ISSUED, date(2024, 3, 27), reader(DATONG))
    assert refused.value.code == "rx_expired"
    assert refused.value.article == "同医保办发〔2022〕1号 第十条"
    assert "2024-03-26" in refused.value.reason


def test_prescription_cannot_be_filled_before_it_is_issued():
    with pytest.raises(InputError) as refused:
        check_valid_on(ISSUED, date(2024, 3, 19), reader())
    assert refused.value.code == "rx_not_yet_issued"


def test_prescription_datong_art13_same_drug_at_another_institution_is_refused():
    """「同一药品不得在不同医药机构购买」: bought at P1, now at P2."""
    with pytest.raises(InputError) as refused:
        check_one_institution_datong_art13("XC10AAA0002", "P2", "P1", reader(DATONG), "items.0.med_list_codg")
    assert refused.value.code == "rx_drug_bought_elsewhere"
    assert refused.value.article == "同医保办发〔2022〕1号 第十三条"
    assert refused.value.field == "items.0.med_list_codg"


def test_prescription_datong_art13_is_borrowed_and_assumed_in_xinyang():
    with pytest.raises(InputError) as refused:
        check_one_institution_datong_art13("XC10AAA0002", "P2", "P1", reader(), "items.0.med_list_codg")
    assert refused.value.article == "同医保办发〔2022〕1号 第十三条（假设）"


@pytest.mark.parametrize("bought_at", [None, "P1"])
def test_prescription_datong_art13_same_institution_or_first_purchase_is_allowed(bought_at):
    """Filling the rest at the same pharmacy, or a drug not yet bought anywhere, is allowed."""
    check_one_institution_datong_art13("XC10AAA0002", "P1", bought_at, reader(), "items.0.med_list_codg")
