"""Splitting each bill line into what is self-paid and what is in policy scope (POLICY.md §2, steps 1–4)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from ledger.money import ZERO, round_fen
from ledger.rules.catalogue import as_listed, outside_restriction_datong_art16
from ledger.rules.lines import Line

if TYPE_CHECKING:
    from ledger.rules.reader import Reader

CLASS_A, CLASS_B, OUTSIDE_CATALOG = "01", "02", "03"


@dataclass(frozen=True)
class LineSplit:
    """The four parts of a line; they add up to the line's amount."""

    feedetl_sn: str
    det_item_fee_sumamt: Decimal
    fulamt_ownpay_amt: Decimal
    overlmt_selfpay: Decimal
    preselfpay_amt: Decimal
    inscp_scp_amt: Decimal
    restricted: str | None = None
    """Why a listed item is outside its restricted scope (限定支付范围), if it is."""


def line_amount(line: Line) -> Decimal:
    """A line's amount: quantity × unit price, settled to the fen."""
    return round_fen(line.cnt * line.pric)


def outside_catalog_xinyang_art19_1(line: Line) -> bool:
    """信政办〔2022〕23号 第十九条（一）: lines outside the catalog (丙) are fully self-paid.

    「不符合基本医疗保险基金支付范围的医疗费用」，门诊统筹基金不予支付。
    A line flagged as an excluded cost (health check-up, work injury, third party,
    public health) is treated the same way.
    """
    return line.chrgitm_lv == OUTSIDE_CATALOG or line.exclusion is not None


def over_payment_standard_datong_art20(line: Line, p: Reader) -> Decimal:
    """同医保办发〔2022〕1号 第二十条: the part of the price above the payment standard.

    「门诊统筹药品执行全市统一的医保支付标准，超过支付标准以上的费用由参保职工自付；
    支付标准以内的按比例报销。」 (Also 汴医保〔2023〕29号 二（三）; 信政办〔2022〕23号
    第十八条: for centrally procured drugs the procurement price is the standard.)
    """
    if line.pric_uplmt_amt is None or line.pric <= line.pric_uplmt_amt:
        return ZERO
    if not p.flag("payment_standard_applies"):
        return ZERO
    return min(round_fen(line.cnt * (line.pric - line.pric_uplmt_amt)), line_amount(line))


def class_b_preselfpay_datong_art19(amount_in_standard: Decimal, p: Reader) -> Decimal:
    """同医保办发〔2022〕1号 第十九条: category-B items first pay a self-pay share.

    「乙类药品、耗材和医疗服务项目先按照大同市职工医保住院先行自付比例政策自付部分
    费用后，其余符合政策规定费用按职工门诊统筹报销比例给予支付。」 The share itself is
    not in the seeds: ``class_b_preselfpay_ratio`` is an assumed parameter.
    """
    if not p.flag("class_b_preselfpay"):
        return ZERO
    return round_fen(amount_in_standard * p.amount("class_b_preselfpay_ratio"))


def split_line(line: Line, p: Reader, level: int | None = None) -> LineSplit:
    """Apply steps 1–4 of the cascade to one line, in the order POLICY.md §2 gives.

    A listed item is split by the catalogue's class and standard, not the sender's, and is fully
    self-paid outside its restricted scope at an institution of ``level``.
    """
    line = as_listed(line)
    amount = line_amount(line)
    restricted = outside_restriction_datong_art16(line, level)
    if outside_catalog_xinyang_art19_1(line) or restricted:
        return LineSplit(line.feedetl_sn, amount, amount, ZERO, ZERO, ZERO, restricted)
    over = over_payment_standard_datong_art20(line, p)
    within = amount - over
    pre = class_b_preselfpay_datong_art19(within, p) if line.chrgitm_lv == CLASS_B else ZERO
    return LineSplit(line.feedetl_sn, amount, ZERO, over, pre, within - pre)
