"""Adjudicate one claim: the cascade of POLICY.md §2, with a trace a regulator can follow.

``adjudicate(claim, context, policy)`` is a pure function. It applies, in order: each line's
split (fully self-paid, above the payment standard, category-B pre-self-pay, in scope),
the refusals of POLICY.md §5, the deductible, the pooled share by ratio, the annual cap,
then the personal account and cash. Every step records the parameters it read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from ledger.money import ZERO, money_str
from ledger.rules.account import account_payment_datong_art22, not_for_account_xinyang_art10
from ledger.rules.annual_cap import annual_cap_xinyang_art5_3, pooled_share, within_cap
from ledger.rules.catalogue import line_note
from ledger.rules.deductible import deductible_charged_datong_art21, deductible_standard
from ledger.rules.eligibility import refusal
from ledger.rules.facts import PURCHASE, RETIRED
from ledger.rules.items import split_line
from ledger.rules.ratio import pooling_ratio
from ledger.rules.reader import Reader
from ledger.rules.remote import region_text

if TYPE_CHECKING:
    from collections.abc import Callable

    from ledger.policy.parameters import Cited, Policy
    from ledger.rules.facts import Claim, Context

POOLING_FUND, PERSONAL_ACCOUNT = "310100", "310200"

SETLINFO_FIELDS = (
    "medfee_sumamt",
    "fulamt_ownpay_amt",
    "overlmt_selfpay",
    "preselfpay_amt",
    "inscp_scp_amt",
    "act_pay_dedc",
    "hifp_pay",
    "pool_prop_selfpay",
    "fund_pay_sumamt",
    "psn_part_amt",
    "acct_pay",
    "psn_cash_pay",
    "balc",
)
"""The settlement result fields (2207 ``setlinfo``), in the platform's order."""


@dataclass(frozen=True)
class Step:
    """One rule applied: what it decided, in words, and the parameters it read."""

    rule: str
    text: str
    amounts: dict[str, Decimal]
    params: tuple[Cited, ...]

    def as_record(self) -> dict[str, Any]:
        """JSON-ready form for ``--json`` output."""
        return {
            "rule": self.rule,
            "text": self.text,
            "amounts": {k: money_str(v) if k != "ratio" else str(v) for k, v in self.amounts.items()},
            "params": [c.as_record() for c in self.params],
        }


@dataclass(frozen=True)
class Adjudication:
    """The settlement result, its per-fund details and per-line splits, and the trace."""

    setlinfo: dict[str, Decimal]
    annual_cap: Decimal
    cap_remaining: Decimal
    deductible_standard: Decimal
    deductible_shared: bool
    refusal_code: str | None
    refusal_article: str | None
    lines: tuple[dict[str, Any], ...]
    """The per-line splits (only when explaining)."""
    trace: tuple[Step, ...] = field(repr=False)
    """The rules applied, in order (only when explaining)."""
    policy_version: str = ""

    def setldetail(self) -> list[dict[str, Any]]:
        """Rows per fund: the pooling fund (with the cap still payable) and the personal account."""
        return setldetail(result_record(self))

    def setl_proc_info(self) -> str:
        """The trace in words, one rule a line (the platform's ``setl_proc_info``)."""
        lines = []
        for step in self.trace:
            cites = "；".join(dict.fromkeys(c.citation() for c in step.params))
            lines.append(f"{step.text}" + (f"〔{cites}〕" if cites else ""))
        return "\n".join(lines)


def adjudicate(claim: Claim, ctx: Context, policy: Policy, *, explain: bool = False) -> Adjudication:
    """Settle ``claim`` for a member in state ``ctx`` under ``policy``; pure and deterministic.

    With ``explain`` the result carries the trace (each step's text, amounts and parameters:
    ``setl_proc_info``) and the per-line splits. Booking, the audit's replay and what-if leave
    both out: a settlement records neither, and they are re-derived whenever someone asks.
    """
    p = Reader(policy)
    steps: list[Step] = []

    def step(rule: str, text: Callable[[], str], **amounts: Decimal) -> None:
        if explain:
            steps.append(Step(rule, text(), amounts, tuple(p.take())))

    step("region", lambda: region_text(ctx, policy.admdvs, p))
    level = ctx.prescriber_level if claim.kind == PURCHASE else ctx.institution_level
    if claim.catalogue:
        step("catalogue", lambda: f"医保目录（{claim.catalogue}）："
             + "；".join(line_note(line, level) for line in claim.lines))

    # Steps 1–4: each line split into self-paid parts and the in-scope rest.
    splits = [split_line(line, p, level) for line in claim.lines]
    delivery = claim.delivery_fee
    if delivery:
        p.cited("delivery_fee_excluded")
    total = sum((s.det_item_fee_sumamt for s in splits), ZERO) + delivery
    fulamt = sum((s.fulamt_ownpay_amt for s in splits), ZERO) + delivery
    overlmt = sum((s.overlmt_selfpay for s in splits), ZERO)
    pre = sum((s.preselfpay_amt for s in splits), ZERO)
    inscp = sum((s.inscp_scp_amt for s in splits), ZERO)
    step(
        "items",
        lambda: f"费用总额{total}元：全自费{fulamt}元（丙类、除外费用"
        + (f"、配送费{delivery}元" if delivery else "")
        + f"），超支付标准自付{overlmt}元，乙类先行自付{pre}元，政策范围内{inscp}元",
        medfee_sumamt=total, fulamt_ownpay_amt=fulamt, overlmt_selfpay=overlmt,
        preselfpay_amt=pre, inscp_scp_amt=inscp,
    )

    refused = refusal(claim, ctx, p)
    if refused is not None:
        # The member pays it all: nothing is in scope, no deductible is consumed.
        fulamt, overlmt, pre, inscp = total, ZERO, ZERO, ZERO
        std, shared, dedc, ratio, hifp = ZERO, False, ZERO, Decimal(0), ZERO
        cap = annual_cap_xinyang_art5_3(ctx.psn_type, p)
        step("refusal", lambda: f"统筹基金不予支付：{refused.reason}，全部由个人负担", fulamt_ownpay_amt=total)
    else:
        ded = deductible_standard(claim, ctx, p)
        std, shared = ded.standard, ded.shared_with_prescriber
        dedc = deductible_charged_datong_art21(inscp, std, ctx.deductible_paid_before)
        where = "与开具处方的就诊合并计算，" if shared else ""
        step(
            "deductible",
            lambda: f"起付标准{std}元（{where}本次就诊此前已付{ctx.deductible_paid_before}元），本次计入起付线{dedc}元",
            act_pay_dedc=dedc,
        )

        ratio = pooling_ratio(claim, ctx, p)
        share = pooled_share(inscp - dedc, ratio)
        who = "退休" if ctx.psn_type == RETIRED else "在职"
        where = "定点零售药店" if claim.kind == PURCHASE else f"{ctx.institution_level}级医疗机构"
        step(
            "ratio",
            lambda: f"{who}人员在{where}支付比例{ratio * 100:.0f}%：({inscp}−{dedc})×{ratio * 100:.0f}%＝{share}元",
            ratio=ratio, share=share,
        )

        cap = annual_cap_xinyang_art5_3(ctx.psn_type, p)
        hifp = within_cap(share, cap, ctx.cap_used_before)
        step(
            "annual_cap",
            lambda: f"年度支付限额{cap}元，此前已支付{ctx.cap_used_before}元，统筹基金支付{hifp}元",
            hifp_pay=hifp,
        )

    psn_part = total - hifp
    cash_only = ZERO
    if claim.acct_used_flag:
        cash_only = not_for_account_xinyang_art10(claim, {s.feedetl_sn: s.det_item_fee_sumamt for s in splits}, p)
    acct = account_payment_datong_art22(psn_part, cash_only, ctx.balance_before, claim.acct_used_flag)
    cash = psn_part - acct
    balc = ctx.balance_before - acct
    step(
        "personal_account",
        lambda: f"个人负担{psn_part}元：个人账户支付{acct}元（余额{ctx.balance_before}元"
        + ("" if claim.acct_used_flag else "，未授权使用个人账户")
        + (f"，其中{cash_only}元不得由个人账户支付" if cash_only else "")
        + f"），现金支付{cash}元",
        acct_pay=acct, psn_cash_pay=cash,
    )

    setlinfo = {
        "medfee_sumamt": total,
        "fulamt_ownpay_amt": fulamt,
        "overlmt_selfpay": overlmt,
        "preselfpay_amt": pre,
        "inscp_scp_amt": inscp,
        "act_pay_dedc": dedc,
        "hifp_pay": hifp,
        "pool_prop_selfpay": ratio,
        "fund_pay_sumamt": hifp,
        "psn_part_amt": psn_part,
        "acct_pay": acct,
        "psn_cash_pay": cash,
        "balc": balc,
    }
    lines = () if not explain else tuple(
        {
            "feedetl_sn": s.feedetl_sn,
            "det_item_fee_sumamt": s.det_item_fee_sumamt,
            "fulamt_ownpay_amt": s.det_item_fee_sumamt if refused else s.fulamt_ownpay_amt,
            "overlmt_selfpay": ZERO if refused else s.overlmt_selfpay,
            "preselfpay_amt": ZERO if refused else s.preselfpay_amt,
            "inscp_scp_amt": ZERO if refused else s.inscp_scp_amt,
            "catalogue": None if not claim.catalogue else "listed" if line.listing else "declared",
            "restricted": s.restricted,
        }
        for s, line in zip(splits, claim.lines, strict=True)
    )
    return Adjudication(
        setlinfo=setlinfo,
        annual_cap=cap,
        cap_remaining=max(cap - ctx.cap_used_before - hifp, ZERO),
        deductible_standard=std,
        deductible_shared=shared,
        refusal_code=refused.code if refused else None,
        refusal_article=refused.article if refused else None,
        lines=lines,
        trace=tuple(steps),
        policy_version=policy.version,
    )


def result_record(adj: Adjudication) -> dict[str, Any]:
    """What a settlement event records of its adjudication (the trace and per-line splits are re-derived on demand)."""
    return {
        **adj.setlinfo,
        "annual_cap": adj.annual_cap,
        "crt_payb_lmt_amt": adj.cap_remaining,
        "deductible_standard": adj.deductible_standard,
        "deductible_shared": adj.deductible_shared,
        "refusal_code": adj.refusal_code,
        "refusal_article": adj.refusal_article,
    }


def setldetail(result: dict[str, Any]) -> list[dict[str, Any]]:
    """The 2207 ``setldetail`` rows of a recorded result: the pooling fund and the personal account."""
    return [
        {
            "fund_pay_type": POOLING_FUND,
            "fund_pay_type_name": "职工基本医疗保险统筹基金（门诊统筹）",
            "inscp_scp_amt": result["inscp_scp_amt"],
            "crt_payb_lmt_amt": result["crt_payb_lmt_amt"],
            "fund_payamt": result["hifp_pay"],
        },
        {
            "fund_pay_type": PERSONAL_ACCOUNT,
            "fund_pay_type_name": "职工基本医疗保险个人账户",
            "inscp_scp_amt": result["inscp_scp_amt"],
            "crt_payb_lmt_amt": None,
            "fund_payamt": result["acct_pay"],
        },
    ]
