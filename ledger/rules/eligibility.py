"""When the pooling fund pays nothing (POLICY.md §5): each refusal with its reason code and article.

A refused claim is still settled: the member pays it all, and the settlement records why.
The checks run in the order below; the first that applies is the reason given.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ledger.refusals import RefusalCode
from ledger.rules.facts import PURCHASE, TEMPORARY

if TYPE_CHECKING:
    from ledger.rules.facts import Claim, Context
    from ledger.rules.reader import Reader


@dataclass(frozen=True)
class Refusal:
    """Why the pooling fund pays nothing: a stable code and the article it rests on."""

    code: RefusalCode
    article: str
    reason: str


def excluded_cost_jiaozuo_3(claim: Claim, p: Reader) -> Refusal | None:
    """焦医保〔2024〕32号 三: health check-ups and other excluded costs.

    「对于健康查体费用、应当从工伤保险基金中支付的、应当由第三人负担的、应当由公共卫生
    负担的费用等不得纳入门诊统筹支付范围。」
    """
    if claim.exclusion is None:
        return None
    code = RefusalCode(f"excluded_{claim.exclusion}")
    if p.has("excluded_cost_kinds"):
        cited = p.cited("excluded_cost_kinds")
        if claim.exclusion in cited.value:
            return Refusal(code, cited.citation(), f"{claim.exclusion} 不纳入门诊统筹支付范围")
    cited = p.cited("no_pooling_out_of_catalog")
    return Refusal(code, cited.citation(), "不符合基本医疗保险基金支付范围")


def flexible_worker_xinyang_art3(ctx: Context, p: Reader) -> Refusal | None:
    """信政办〔2022〕23号 第三条: flexible workers are not in this scheme.

    「本细则适用于信阳市城镇职工基本医疗保险参保人员（不含灵活就业人员）。」
    """
    if not ctx.flexible_worker or not p.has("no_pooling_for_flexible_workers"):
        return None
    if not p.flag("no_pooling_for_flexible_workers"):
        return None
    return Refusal(RefusalCode.FLEXIBLE_WORKER, p.cited("no_pooling_for_flexible_workers").citation(),
                   "灵活就业人员不适用本细则")


def hospitalised_xinyang_art19_2(ctx: Context, p: Reader) -> Refusal | None:
    """信政办〔2022〕23号 第十九条（二）; 焦医保〔2024〕32号 三: no outpatient pooling while admitted.

    「参保人员在住院期间发生的门诊医疗费用」，门诊统筹基金不予支付。
    """
    if not ctx.hospitalised or not p.flag("no_pooling_while_hospitalised"):
        return None
    return Refusal(RefusalCode.HOSPITALISED, p.cited("no_pooling_while_hospitalised").citation(),
                   "住院期间发生的门诊费用")


def suspended_xinyang_art19_3(ctx: Context, p: Reader) -> Refusal | None:
    """信政办〔2022〕23号 第十九条（三）; 同医保办发〔2022〕1号 第二十五条（五）: benefits suspended.

    「参保人员所在用人单位或个人待遇暂停期间发生的医疗费用」，门诊统筹基金不予支付。
    """
    if not ctx.suspended or not p.flag("no_pooling_while_suspended"):
        return None
    return Refusal(RefusalCode.SUSPENDED, p.cited("no_pooling_while_suspended").citation(), "待遇暂停期间发生的费用")


def undesignated_xinyang_art19_4(ctx: Context, p: Reader) -> Refusal | None:
    """信政办〔2022〕23号 第十九条（四）; 同医保办发〔2022〕1号 第二十五条（一）: not a pooling institution.

    「参保人员在非门诊统筹定点医药机构发生的门诊医疗费用」，门诊统筹基金不予支付。
    """
    if ctx.institution_designated or not p.flag("no_pooling_at_undesignated"):
        return None
    cited = p.cited("no_pooling_at_undesignated")
    return Refusal(RefusalCode.INSTITUTION_NOT_DESIGNATED, cited.citation(), "非门诊统筹定点医药机构")


def temporary_trip_datong_art25_4(ctx: Context, p: Reader) -> Refusal | None:
    """同医保办发〔2022〕1号 第二十五条（四）: ordinary outpatient costs on a trip elsewhere, unregistered.

    「临时外出就医人员（包括转诊转院或自行在异地就医人员）在异地发生的普通门诊费用」，门诊统筹
    基金不予支付。
    """
    if ctx.remote_kind != TEMPORARY:
        return None
    cited = p.cited("no_pooling_temporary_trip")
    return Refusal(RefusalCode.TEMPORARY_TRIP, cited.citation(),
                   f"临时外出在异地（{ctx.institution_admdvs}）发生的普通门诊费用")


def remote_undesignated_xinyang_art19_5(ctx: Context, p: Reader) -> Refusal | None:
    """信政办〔2022〕23号 第十九条（五）; 同医保办发〔2022〕1号 第二十五条（三）: not designated at the residence.

    「异地居住人员在备案居住地非门诊统筹定点医疗机构发生的门诊医疗费用」，门诊统筹基金不予支付。
    """
    if ctx.remote_kind in (None, TEMPORARY) or ctx.institution_designated:
        return None
    cited = p.cited("no_pooling_remote_undesignated")
    return Refusal(RefusalCode.REMOTE_NOT_DESIGNATED, cited.citation(),
                   "异地居住人员在备案居住地非门诊统筹定点医药机构发生的费用")


def undesignated_prescriber_datong_art25_2(claim: Claim, ctx: Context, p: Reader) -> Refusal | None:
    """同医保办发〔2022〕1号 第二十五条（二）: the prescription must come from a pooling institution.

    「未在门诊统筹定点医疗机构开具处方，直接在零售药店购药的」，门诊统筹基金不予支付。
    """
    if claim.kind != PURCHASE or ctx.prescriber_designated:
        return None
    if not p.flag("no_pooling_without_designated_prescription"):
        return None
    cited = p.cited("no_pooling_without_designated_prescription")
    return Refusal(RefusalCode.PRESCRIBER_NOT_DESIGNATED, cited.citation(), "处方非门诊统筹定点医疗机构开具")


def refusal(claim: Claim, ctx: Context, p: Reader) -> Refusal | None:
    """The first reason, in this order, why the pooling fund pays nothing; None if it pays."""
    return (
        flexible_worker_xinyang_art3(ctx, p)
        or excluded_cost_jiaozuo_3(claim, p)
        or hospitalised_xinyang_art19_2(ctx, p)
        or suspended_xinyang_art19_3(ctx, p)
        or temporary_trip_datong_art25_4(ctx, p)
        or remote_undesignated_xinyang_art19_5(ctx, p)
        or undesignated_xinyang_art19_4(ctx, p)
        or undesignated_prescriber_datong_art25_2(claim, ctx, p)
    )
