"""The share the pooling fund pays (支付比例), by level, with the retiree and family-doctor bonuses."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from ledger.rules.deductible import AS_LEVEL2, AS_PRESCRIBER, pharmacy_scheme
from ledger.rules.facts import PURCHASE, RETIRED

if TYPE_CHECKING:
    from ledger.rules.facts import Claim, Context
    from ledger.rules.reader import Reader


def base_ratio_xinyang_art5_2(level: int, p: Reader) -> Decimal:
    """信政办〔2022〕23号 第五条（二）: 50 % at level 3, 55 % at level 2 and below.

    「按规定在三级定点医疗机构就医的支付比例为50%，按规定在二级及以下定点医疗机构就医的
    支付比例为55%。」
    """
    return p.amount(f"ratio_level{level}")


def retiree_bonus_xinyang_art5_2(ctx: Context, p: Reader) -> Decimal:
    """信政办〔2022〕23号 第五条（二）: retirees ten points higher.

    「退休人员的支付比例高于在职职工10个百分点。」 Whether the member counts as retired on
    the service date follows 第六条 (the switch from the month after retirement).
    """
    return p.amount("ratio_bonus_retired") if ctx.psn_type == RETIRED else Decimal(0)


def family_doctor_bonus_xinyang_art5_2(level: int, family_doctor_here: bool, p: Reader) -> Decimal:
    """信政办〔2022〕23号 第五条（二）: five points more at one's own family-doctor primary institution.

    「参保人员办理家庭医生签约后，在签约的基层医疗机构发生的普通门诊医疗费用，支付比例在
    以上基础上提高5个百分点。」
    """
    if family_doctor_here and level == 1:
        return p.amount("ratio_bonus_family_doctor")
    return Decimal(0)


def pharmacy_ratio_shanxi_2(ctx: Context, p: Reader) -> Decimal:
    """晋医保办发〔2023〕2号 二: at a pharmacy, 60 % in service and 65 % retired.

    「在职职工统筹基金支付60%，退休人员统筹基金支付65%。」
    """
    return p.amount("pharmacy_ratio_retired" if ctx.psn_type == RETIRED else "pharmacy_ratio_in_service")


def pooling_ratio(claim: Claim, ctx: Context, p: Reader) -> Decimal:
    """The ratio for this claim: by level for visits, by the region's scheme for purchases."""
    if claim.kind != PURCHASE:
        level = ctx.institution_level or 1
        return (
            base_ratio_xinyang_art5_2(level, p)
            + retiree_bonus_xinyang_art5_2(ctx, p)
            + family_doctor_bonus_xinyang_art5_2(level, ctx.family_doctor_here, p)
        )
    scheme = pharmacy_scheme(p)
    if scheme == AS_LEVEL2:
        return base_ratio_xinyang_art5_2(2, p) + retiree_bonus_xinyang_art5_2(ctx, p)
    if scheme == AS_PRESCRIBER:
        level = ctx.prescriber_level or 1
        return (
            base_ratio_xinyang_art5_2(level, p)
            + retiree_bonus_xinyang_art5_2(ctx, p)
            + family_doctor_bonus_xinyang_art5_2(level, ctx.prescriber_family_doctor, p)
        )
    return pharmacy_ratio_shanxi_2(ctx, p)
