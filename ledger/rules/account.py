"""The personal account (个人账户): monthly credits, payment inside a claim, and other uses."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from ledger.errors import InputError
from ledger.money import ZERO, round_fen
from ledger.refusals import RefusalCode
from ledger.rules.facts import RETIRED

if TYPE_CHECKING:
    from ledger.rules.facts import Claim
    from ledger.rules.reader import Reader


def monthly_credit_xinyang_art8(psn_type: str, contribution_base: Decimal, p: Reader) -> Decimal:
    """信政办〔2022〕23号 第八条: what the account is credited for a month.

    「（一）在职职工个人账户由个人缴纳的基本医疗保险费计入，计入标准为本人参保缴费基数2%……
    （二）退休人员个人账户由统筹基金按月定额划入，每人每月划入额度为60元。」
    """
    if psn_type == RETIRED:
        return p.amount("account_credit_retired")
    return round_fen(contribution_base * p.amount("account_credit_rate_in_service"))


def account_payment_datong_art22(
    psn_part: Decimal, not_medical: Decimal, balance: Decimal, allowed: bool
) -> Decimal:
    """同医保办发〔2022〕1号 第二十二条: the member's part, from the account first, then cash.

    「个人自付部分由本人个人账户（或家庭共济账户）或现金支付」 — when the member allows it
    (``acct_used_flag``), up to the balance, except ``not_medical``: what
    :func:`not_for_account_xinyang_art10` keeps for cash.
    """
    if not allowed:
        return ZERO
    return max(min(psn_part - not_medical, balance), ZERO)


def not_for_account_xinyang_art10(claim: Claim, amounts: dict[str, Decimal], p: Reader) -> Decimal:
    """信政办〔2022〕23号 第十条; 医保办发〔2023〕4号 三（一）: what the account may not pay in a claim.

    「个人账户不得用于公共卫生费用、体育健身、养生保健消费等不属于基本医疗保险保障范围的支出。」
    A public-health bill (or line) is paid in cash; so is a pharmacy's delivery fee
    (「配送费用不纳入医保支付范围」). ``amounts`` maps each line's ``feedetl_sn`` to its amount.
    """
    excluded = ZERO
    if claim.delivery_fee:
        p.cited("delivery_fee_excluded")
        excluded += claim.delivery_fee
    if claim.exclusion is not None or any(line.exclusion for line in claim.lines):
        forbidden = p.value("account_forbidden_purposes")
        if claim.exclusion in forbidden:
            return sum(amounts.values(), ZERO) + claim.delivery_fee
        excluded += sum((amounts[line.feedetl_sn] for line in claim.lines if line.exclusion in forbidden), ZERO)
    return excluded


def check_use_xinyang_art9_10(beneficiary: str, purpose: str, p: Reader) -> str:
    """信政办〔2022〕23号 第九条、第十条: who and what the account may pay for; returns the article.

    第九条「（二）可用于支付参保人员本人及其配偶、父母、子女在定点医疗机构就医发生的由个人
    负担的医疗费用，以及在定点零售药店购买药品、医疗器械、医用耗材发生的由个人负担的费用；
    （三）可用于支付配偶、父母、子女参加城乡居民基本医疗保险或本人参加职工大额医疗保险等的
    个人缴费。」 第十条「个人账户不得用于公共卫生费用、体育健身、养生保健消费等不属于基本
    医疗保险保障范围的支出。」 A refused use raises :class:`InputError`: nothing is debited.
    """
    forbidden = p.cited("account_forbidden_purposes")
    if purpose in forbidden.value:
        raise InputError("purpose", f"the personal account may not pay for {purpose}",
                         code=RefusalCode.ACCOUNT_USE_FORBIDDEN, article=forbidden.citation())
    if beneficiary == "self":
        allowed = p.cited("account_purposes_self")
    else:
        family = p.cited("account_family_beneficiaries")
        if beneficiary not in family.value:
            raise InputError("beneficiary", f"the personal account may not pay for {beneficiary}",
                             code=RefusalCode.ACCOUNT_BENEFICIARY_REFUSED, article=family.citation())
        allowed = p.cited("account_purposes_family")
    if purpose not in allowed.value:
        raise InputError("purpose", f"the personal account may not pay {purpose} for {beneficiary}",
                         code=RefusalCode.ACCOUNT_USE_REFUSED, article=allowed.citation())
    return allowed.citation()
