"""The deductible (起付标准) per visit, shared by the bills of one visit serial number."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from ledger.money import ZERO
from ledger.rules.facts import PURCHASE

if TYPE_CHECKING:
    from ledger.rules.facts import Claim, Context
    from ledger.rules.reader import Reader

AS_LEVEL2, AS_PRESCRIBER, PRIMARY_COMBINED = "as_level2", "as_prescriber", "primary_combined"


@dataclass(frozen=True)
class Deductible:
    """The standard for this claim and whether it is pooled with the prescribing visit."""

    standard: Decimal
    shared_with_prescriber: bool


def standard_by_level_xinyang_art5_1(level: int, p: Reader) -> Decimal:
    """信政办〔2022〕23号 第五条（一）: the deductible by institution level.

    「一级及以下基层定点医疗机构门诊统筹不设起付标准；二级及以上定点医疗机构门诊统筹
    按次设定起付标准，其中在二级定点医疗机构就医起付标准每次30元，在三级定点医疗机构
    就医起付标准每次50元。」
    """
    return p.amount(f"deductible_level{level}")


def pharmacy_scheme(p: Reader) -> str:
    """Which of the three pharmacy variants of POLICY.md §2 the region follows.

    信政办〔2022〕23号 第十三条 (as a level-2 institution); 汴医保〔2023〕29号 二（二）
    (as the prescribing institution); 晋医保办发〔2023〕2号 二 (primary policy, combined).
    """
    return str(p.value("pharmacy_scheme"))


def deductible_standard(claim: Claim, ctx: Context, p: Reader) -> Deductible:
    """The deductible standard for a visit or a purchase, by the region's scheme."""
    if claim.kind != PURCHASE:
        if ctx.institution_level is None:
            msg = "a visit is billed by a hospital, which has a level"
            raise ValueError(msg)
        return Deductible(standard_by_level_xinyang_art5_1(ctx.institution_level, p), False)
    return pharmacy_standard(ctx.prescriber_level or 1, p)


def pharmacy_standard(prescriber_level: int, p: Reader) -> Deductible:
    """A pharmacy purchase's deductible on a prescription from a hospital of ``prescriber_level``."""
    scheme = pharmacy_scheme(p)
    if scheme == AS_LEVEL2:
        return Deductible(standard_by_level_xinyang_art5_1(2, p), False)
    if scheme == AS_PRESCRIBER:
        return Deductible(standard_by_level_xinyang_art5_1(prescriber_level, p), False)
    return Deductible(combined_standard_shanxi_2(p), True)


def combined_standard_shanxi_2(p: Reader) -> Decimal:
    """晋医保办发〔2023〕2号 二: 30 yuan per visit, counted together with the prescriber.

    「起付标准与开具处方的医药机构合并计算，30元/次」
    """
    return p.amount("pharmacy_deductible")


def deductible_charged_datong_art21(in_scope: Decimal, standard: Decimal, paid_before: Decimal) -> Decimal:
    """同医保办发〔2022〕1号 第二十一条: one deductible per visit serial number.

    「参保职工在同一医疗机构、同一次（即相同就诊流水号）就诊的多张诊疗单、处方，在结算时
    起付标准按一次计算。」 What the visit already paid counts; the deductible never exceeds
    the in-scope amount of this bill.
    """
    outstanding = max(standard - paid_before, ZERO)
    return min(in_scope, outstanding)
