"""Year-end clearing of institutions (POLICY.md §7): pure functions of the year's figures.

Kaifeng shares a surplus and an overspend by the usage rate of the budget; Jiaozuo pays
fee-for-service within a growth cap on the cost per visit, with an overspend review. Each
institution's final amount is then settled against what it was prepaid, and its
service-quality deposit is returned by its assessment score.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from ledger.errors import InputError
from ledger.money import ZERO, round_fen
from ledger.refusals import RefusalCode

if TYPE_CHECKING:
    from ledger.rules.reader import Reader

WHOLE_BUDGET = Decimal(1)
"""A usage rate of 100 %: the line between surplus (结余) and overspend (超支), by definition."""


@dataclass(frozen=True)
class KaifengClearing:
    """The region's usage rate, its tier, and each institution's final amount."""

    usage_rate: Decimal
    tier: str
    sharing_ratio: Decimal | None
    fund_total: Decimal
    finals: dict[str, Decimal]


def usage_rate(actual_total: Decimal, budget: Decimal) -> Decimal:
    """门诊统筹基金使用率: all institutions' actual pooled total ÷ annual budget."""
    if budget <= 0:
        raise InputError("budget", "the annual budget must be positive to clear the year", code=RefusalCode.NO_BUDGET)
    return actual_total / budget


def clear_kaifeng_3_3(actuals: dict[str, Decimal], budget: Decimal, p: Reader) -> KaifengClearing:
    """汴医保〔2023〕29号 三（三）: surplus sharing below 100 %, overspend sharing above.

    「1.门诊统筹基金使用率＜70%的，结余共享比例=0%；2.70%≤门诊统筹基金使用率＜90%的，结余共享
    比例=[10%－0.5×(90%－门诊统筹基金使用率)]×50%；3.90%≤门诊统筹基金使用率＜100%的，结余共享
    比例=（1－基金使用率）×50%；基金结余时，结余共享金额=年度预算总额×结余留用比例，定点医疗机构
    医保基金拨付金额=该定点医药机构统筹基金实际发生数×（结余共享金额÷定点医药机构实际医保基金
    记账总金额+1）4.100%≤门诊统筹基金使用率≤110%时，定点医药机构医保基金拨付金额=该定点医药
    机构统筹基金实际发生数×（0.7×全市职工门诊统筹年度总额预算额度+全年职工门诊统筹基金实际
    发生额×0.3）÷全年职工门诊统筹实际发生额。5.门诊统筹基金使用率＞110%时，超支10%以上部分
    医保基金不分担。」 Above 110 % the reading ``clearing_overspend_reading`` applies: the
    fund's total is frozen at its value at 110 %.
    """
    total = sum(actuals.values(), ZERO)
    rate = usage_rate(total, budget)
    floor, knee = p.amount("clearing_sharing_floor"), p.amount("clearing_sharing_knee")
    factor = p.amount("clearing_surplus_factor")
    limit = p.amount("clearing_overspend_limit")
    if rate < WHOLE_BUDGET:
        if rate < floor:
            share, tier = Decimal(0), "surplus_below_floor"
        elif rate < knee:
            share = (p.amount("clearing_knee_share") - p.amount("clearing_knee_slope") * (knee - rate)) * factor
            tier = "surplus_sharing_low"
        else:
            share, tier = (WHOLE_BUDGET - rate) * factor, "surplus_sharing_high"
        fund_total = total + budget * share
        sharing: Decimal | None = share
    else:
        w_budget, w_actual = p.amount("clearing_budget_weight"), p.amount("clearing_actual_weight")
        if rate <= limit:
            fund_total, tier = w_budget * budget + w_actual * total, "overspend_shared"
        else:
            p.value("clearing_overspend_reading")
            fund_total, tier = w_budget * budget + w_actual * limit * budget, "overspend_beyond_limit"
        sharing = None
    finals = {code: round_fen(a * fund_total / total) if total else ZERO for code, a in sorted(actuals.items())}
    return KaifengClearing(rate, tier, sharing, fund_total, finals)


def specialist_baseline_jiaozuo_4_1(history: dict[str, Decimal], covid_years: list[int], year: int,
                                    provincial: Decimal | None, p: Reader) -> tuple[Decimal, str]:
    """焦医保〔2024〕32号 四（一）1: a specialist's own baseline from its previous years.

    「其他专科医疗机构年度门诊次均费用基数原则上按本单位前3年的门诊次均费用加权平均数合理确定，
    按照时间加权的形式计算，越近的年份权重越高，权重比例为1:2:7。如前3年中有的年份因新冠疫情
    影响明显偏低的，可在前5年中选择3年较高水平的门诊次均费用进行平均。若该单位门诊次均费用
    明显高于全省同类医疗机构的，则按已公布的最新全省卫生健康统计年鉴中的同类医疗机构门诊次均
    费用数核定。」
    """
    weights = [Decimal(w) for w in p.value("specialist_baseline_weights")]
    previous = [year - len(weights) + i for i in range(len(weights))]
    if any(y in covid_years for y in previous):
        pick, span = p.value("specialist_covid_pick")
        p.value("specialist_covid_mean")
        window = [str(y) for y in range(year - span, year) if str(y) in history]
        best = sorted((history[y] for y in window), reverse=True)[:pick]
        if len(best) < pick:
            raise InputError("cost_history", f"needs {pick} of the {span} years before {year}",
                             code=RefusalCode.BASELINE_HISTORY_MISSING)
        baseline, how = sum(best, ZERO) / len(best), f"{pick} highest of {span} years (COVID)"
    else:
        missing = [y for y in previous if str(y) not in history]
        if missing:
            raise InputError("cost_history", f"no cost per visit for {missing}",
                             code=RefusalCode.BASELINE_HISTORY_MISSING)
        baseline = sum((w * history[str(y)] for w, y in zip(weights, previous, strict=True)), ZERO) / sum(weights)
        how = "weighted " + ":".join(str(int(w)) for w in weights)
    baseline = round_fen(baseline)
    if provincial is not None and baseline > provincial:
        return provincial, f"provincial class average {provincial} (own {baseline}, {how})"
    return baseline, how


def clear_jiaozuo_4_1(visits: int, medfee: Decimal, fund: Decimal, baseline: Decimal, p: Reader,
                      review: dict[str, Decimal] | None) -> tuple[Decimal, str]:
    """焦医保〔2024〕32号 四（一）、六（一）: fee-for-service within a growth cap on cost per visit.

    「年度门诊次均费用水平与核定年度次均费用基数相比，未超过合理增长幅度的费用，按医保政策
    规定和服务项目据实结算；超过合理增长幅度的部分，统筹基金不予支付，由定点医疗机构承担。」
    The fund pays visits × baseline × (1 + cap) × (fund ÷ total cost) when over. On review
    (六（一）) the overspend is paid in full when nothing violates, its compliant share when
    violations are under 60 % of the sampled cost, and not at all from 60 %.
    """
    growth = p.amount("cost_growth_cap")
    limit_per_visit = baseline * (1 + growth)
    if visits <= 0 or medfee <= 0 or medfee <= visits * limit_per_visit:
        return fund, f"within {baseline}×(1+{growth}) per visit"
    capped = round_fen(visits * limit_per_visit * fund / medfee)
    basis = f"{round_fen(medfee / visits)} per visit over {baseline}×(1+{growth})"
    if review is None:
        return capped, basis
    overspend = fund - capped
    share = review["violation_amount"] / review["sampled_total"]
    threshold = p.amount("review_violation_limit")
    if share == 0:
        return fund, basis + "; review: no violation, overspend paid"
    if share < threshold:
        return capped + round_fen(overspend * (1 - share)), basis + f"; review: {round_fen(share * 100)}% violating"
    return capped, basis + f"; review: {round_fen(share * 100)}% violating, overspend not paid"


def deposit_return_rate(score: Decimal, p: Reader) -> tuple[Decimal, str]:
    """The share of the withheld deposit returned for an assessment score, and its citation.

    焦医保〔2024〕32号 附件 例1「经年度考核合格后，职工医保统筹基金按1860万元支付给该医院」: an
    institution that passes is paid its whole fund share, the 5 % held back included. What a
    failed assessment returns no document says (``deposit_return_failing``), nor the pass mark
    (``assessment_pass_score``).
    """
    name = "deposit_return_passing" if score >= p.value("assessment_pass_score") else "deposit_return_failing"
    return p.amount(name), p.cited(name).citation()
