"""E-prescriptions: days supplied, validity, and one institution per drug (POLICY.md §4)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import TYPE_CHECKING

from ledger.errors import InputError
from ledger.refusals import RefusalCode

if TYPE_CHECKING:
    from ledger.rules.reader import Reader

EMERGENCY = "13"


def days_limit_jiaozuo_2_2(med_type: str, chronic: bool, long_term: bool, p: Reader) -> tuple[int, str]:
    """焦医保〔2024〕32号 二（二）; 医保办发〔2023〕4号 四（二）: the most days one prescription may supply.

    「每次开药量一般不超过7天，急诊不超过3天，慢性病一次开药量不得超过一个月（国家、省、市
    规定的长期处方适用慢性病病种除外）。」 and 「定点医药机构可为符合条件的患者开具长期处方，
    最长可开具12周。」 Returns the limit and its citation.
    """
    cited = p.cited(days_limit_name(med_type, chronic, long_term))
    return int(cited.value), cited.citation()


def days_limit_name(med_type: str, chronic: bool, long_term: bool) -> str:
    """The parameter that limits a prescription of this kind."""
    if long_term:
        return "rx_days_long_term"
    if chronic:
        return "rx_days_chronic"
    return "rx_days_emergency" if med_type == EMERGENCY else "rx_days_normal"


def check_days_supplied(days: int, med_type: str, chronic: bool, long_term: bool, p: Reader, field: str, *,
                        reason: str = "") -> str | None:
    """Refuse a prescription line over its limit, or pass it with a note when the limit is only the rule.

    The general and emergency limits are 「一般不超过」 (``rx_days_soft_limits``): a line over them
    passes when the doctor states why (chronic, long-term), and the note says so. The chronic
    month (「不得超过一个月」) and the twelve weeks (「最长可开具12周」) are hard. A long
    prescription is 「为符合条件的患者开具」: for a chronic disease (「长期处方适用慢性病病种」).
    """
    if long_term and not chronic:
        raise InputError(field, "a long prescription is for a listed chronic disease: mark it chronic",
                         code=RefusalCode.RX_LONG_TERM_NOT_CHRONIC, article=p.cited("rx_days_long_term").citation())
    limit, article = days_limit_jiaozuo_2_2(med_type, chronic, long_term, p)
    if days <= limit:
        return None
    name = days_limit_name(med_type, chronic, long_term)
    soft = p.has("rx_days_soft_limits") and name in p.value("rx_days_soft_limits")
    if soft and reason.strip():
        return f"{field}: {days} days, over the {limit} generally allowed ({article}「一般不超过」): {reason.strip()}"
    raise InputError(field, f"{days} days supplied, more than the {limit} allowed"
                     + (" (state over_limit_reason to exceed it)" if soft else ""),
                     code=RefusalCode.RX_DAYS_OVER_LIMIT, article=article)


def valid_through_datong_art10(issued: date, p: Reader) -> tuple[date, str]:
    """同医保办发〔2022〕1号 第十条: the last day a prescription can be filled.

    「医保系统中药品电子处方流转的有效期为7天。」 Whether the issue day counts as the first of
    the seven is an assumed reading (``rx_validity_counts_issue_day``).
    """
    cited = p.cited("rx_validity_days")
    days = int(cited.value) - (1 if p.flag("rx_validity_counts_issue_day") else 0)
    return issued + timedelta(days=days), cited.citation()


def check_valid_on(issued: date, day: date, p: Reader) -> None:
    """Refuse a purchase before the prescription was issued or after it expired."""
    if day < issued:
        raise InputError("date", f"the prescription was issued later, on {issued.isoformat()}",
                         code=RefusalCode.RX_NOT_YET_ISSUED)
    last, article = valid_through_datong_art10(issued, p)
    if day > last:
        raise InputError("rx_no", f"the prescription expired after {last.isoformat()}",
                         code=RefusalCode.RX_EXPIRED, article=article)


def check_split_reason_datong_art13(elsewhere: set[str], reason: str, p: Reader) -> None:
    """同医保办发〔2022〕1号 第十三条: a prescription filled at a second institution says why.

    「处方内药品在一所门诊统筹定点医药机构无法配齐的，可在不同医药机构购买，并在医保结算系统中
    登记原因。」 The reason is kept with the dispensing.
    """
    if elsewhere and not reason.strip() and p.flag("rx_one_institution_per_drug"):
        raise InputError("split_reason", f"the prescription was partly filled at {', '.join(sorted(elsewhere))}: "
                         "record why it is filled here too", code=RefusalCode.SPLIT_REASON_MISSING,
                         article=p.cited("rx_one_institution_per_drug").citation())


def check_one_institution_datong_art13(drug: str, here: str, bought_at: str | None, p: Reader, field: str) -> None:
    """同医保办发〔2022〕1号 第十三条: the same drug may not be bought at two institutions.

    「处方内药品在一所门诊统筹定点医药机构无法配齐的，可在不同医药机构购买，并在医保结算
    系统中登记原因。同一药品不得在不同医药机构购买。」
    """
    if bought_at is None or bought_at == here:
        return
    if p.flag("rx_one_institution_per_drug"):
        raise InputError(field, f"{drug} was already bought at {bought_at}",
                         code=RefusalCode.RX_DRUG_BOUGHT_ELSEWHERE,
                         article=p.cited("rx_one_institution_per_drug").citation())
