"""The annual cap (年度最高支付限额) on what the pooling fund pays a member for outpatient care."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from ledger.money import ZERO, round_fen
from ledger.rules.facts import RETIRED

if TYPE_CHECKING:
    from ledger.rules.reader import Reader


def annual_cap_xinyang_art5_3(psn_type: str, p: Reader) -> Decimal:
    """信政办〔2022〕23号 第五条（三）: 1500 yuan in service, 2000 yuan retired, per insured year.

    「一个参保年度内，在职职工普通门诊统筹年度最高支付限额为1500元，退休人员年度最高支付
    限额为2000元。普通门诊统筹支付限额不计入职工医保统筹基金年度最高支付限额。」 The cap in
    force is the one for the member's type on the service date (第六条); what the fund paid
    earlier in the year, before a retirement, still counts against it.
    """
    return p.amount("annual_cap_retired" if psn_type == RETIRED else "annual_cap_in_service")


def pooled_share(eligible: Decimal, ratio: Decimal) -> Decimal:
    """(in-scope − deductible) × ratio, computed once on the claim's totals, settled to the fen."""
    return round_fen(eligible * ratio)


def within_cap(share: Decimal, cap: Decimal, used_before: Decimal) -> Decimal:
    """The share the fund may still pay: never past what is left of the cap."""
    return min(share, max(cap - used_before, ZERO))
