"""Monthly prepayment of institutions (POLICY.md §6): pure functions of the month's actuals.

An institution's actual for a month is what its settlements not yet prepaid charged the
pooling fund, net of reversals and adjustments. Each scheme decides what is paid now and
what is withheld as the service-quality deposit until the year-end assessment.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from ledger.money import ZERO, round_fen

if TYPE_CHECKING:
    from ledger.rules.reader import Reader

KAIFENG, JIAOZUO = "kaifeng_global_budget", "jiaozuo_conditional_ffs"


@dataclass(frozen=True)
class Actual:
    """An institution's month: bills and visits counted, total cost, pooling fund and account charged."""

    fixmedins_code: str
    count: int
    visits: int
    medfee: Decimal
    fund: Decimal
    acct: Decimal


@dataclass(frozen=True)
class Prepayment:
    """What an institution is paid for a month."""

    actual: Actual
    allocation: Decimal | None
    paid: Decimal
    """Cash paid out, after withholding."""
    withheld: Decimal

    def as_record(self) -> dict[str, Any]:
        """The row recorded in ``Region.MonthClosed``."""
        a = self.actual
        return {"fixmedins_code": a.fixmedins_code, "count": a.count, "visits": a.visits, "medfee": a.medfee,
                "actual": a.fund,
                "acct": a.acct, "allocation": self.allocation, "paid": self.paid, "withheld": self.withheld}


def _withhold(granted: Decimal, rate: Decimal) -> tuple[Decimal, Decimal]:
    """Split what is granted into cash and deposit; a recovery (negative) withholds nothing."""
    if granted <= 0:
        return granted, ZERO
    withheld = round_fen(granted * rate)
    return granted - withheld, withheld


def prepay_kaifeng_3_2(actuals: list[Actual], annual_budget: Decimal, p: Reader) -> list[Prepayment]:
    """汴医保〔2023〕29号 三（二）: allocation by share of actual, the lesser paid, 5 % withheld.

    「全市门诊统筹基金月总额预算额度＝全市门诊统筹基金年总额预算额度÷12。职工门诊统筹定点
    医药机构月拨付额度＝全市门诊统筹基金月总额预算额度×（该定点医药机构职工门诊统筹基金实际
    发生数÷当月全市职工门诊统筹基金实际发生数）。实际发生额小于月拨付额度的据实拨付；实际发生
    额大于月拨付额度的按上述公式结算。医保经办机构月度拨付时须扣除5%的服务质量保证金。」
    The city's actual counts institutions with a positive actual; one whose reversals exceed
    its new settlements repays the difference, with nothing withheld.
    """
    months = Decimal(int(p.value("budget_months")))
    rate = p.amount("deposit_rate")
    city = sum((a.fund for a in actuals if a.fund > 0), ZERO)
    out = []
    for a in actuals:
        if a.fund <= 0 or city == 0:
            allocation = None
            granted = a.fund
        else:
            allocation = round_fen(annual_budget * a.fund / (months * city))
            granted = a.fund if a.fund < allocation else allocation
        paid, withheld = _withhold(granted, rate)
        out.append(Prepayment(a, allocation, paid, withheld))
    return out


def prepay_jiaozuo_4_2(actuals: list[Actual], p: Reader) -> list[Prepayment]:
    """焦医保〔2024〕32号 四（二）: 95 % of the verified declaration paid, 5 % tied to the assessment.

    「经办机构根据医疗费申报额度，经核实后按照95%的比例在月底前完成职工门诊统筹月度拨付工作；
    其余5%与医疗服务质量挂钩，根据年终考核结果按规定结算。」 The declaration is what the
    ledger booked for the institution.
    """
    rate = p.amount("monthly_payment_rate")
    p.amount("deposit_rate")
    out = []
    for a in actuals:
        if a.fund <= 0:
            out.append(Prepayment(a, None, a.fund, ZERO))
            continue
        paid = round_fen(a.fund * rate)
        out.append(Prepayment(a, None, paid, a.fund - paid))
    return out
