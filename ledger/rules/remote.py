"""Remote-area care (异地就医): where a claim may settle, and by when a paid-in-full bill is claimed back.

A member registered as living in another region (异地安置退休人员、常驻异地工作人员、异地长期居住
人员) is treated at that region's designated institutions under the insured region's benefits
(信政办〔2022〕23号 第七条、第十五条; 同医保办发〔2022〕1号 第二十三条). Where the institution
offers remote direct settlement the bill settles at once; where it does not, the member pays in
full and claims the fund's share back (零星报销) no later than the following March (第十五条).
The refusals (a non-designated institution of the residence, a temporary trip) live with the
other refusals in :mod:`ledger.rules.eligibility`.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

from ledger.errors import InputError
from ledger.periods import month_end
from ledger.refusals import RefusalCode
from ledger.rules.facts import TEMPORARY

if TYPE_CHECKING:
    from ledger.rules.facts import Context
    from ledger.rules.reader import Reader

KIND_NAMES = {
    "resident": "异地长期居住人员",
    "resettled_retiree": "异地安置退休人员",
    "posted_worker": "常驻异地工作人员",
    TEMPORARY: "临时外出就医人员（未备案）",
}


def region_text(ctx: Context, insured_admdvs: str, p: Reader) -> str:
    """Which region's rules the claim is settled under, in words (the trace's first line).

    Reading the direct-settlement or the reimbursement parameter here puts its article in the trace.
    """
    if ctx.remote_kind is None:
        return f"参保地{insured_admdvs}本地就医，执行参保地待遇政策"
    where = f"异地就医：就医地{ctx.institution_admdvs}，{KIND_NAMES[ctx.remote_kind]}"
    if ctx.remote_kind == TEMPORARY:
        return f"{where}，执行参保地{insured_admdvs}政策"
    if ctx.reimbursed:
        p.cited("remote_reimbursement_deadline_month")
        how = "个人全额垫付后向参保地申请报销"
    else:
        p.cited("remote_direct_settlement")
        how = "在开通异地就医直接结算的定点医药机构直接结算"
    return f"{where}，{how}，执行参保地{insured_admdvs}待遇政策"


def check_direct_settlement_xinyang_art15(offers_direct: bool, designated: bool, p: Reader) -> None:
    """信政办〔2022〕23号 第十五条; 同医保办发〔2022〕1号 第二十三条: direct settlement only where it is offered.

    「在未开通异地就医门诊统筹直接结算的定点医疗机构就医的，发生的应由医保统筹基金支付的费用，
    由参保人员全额垫付，垫付的费用应及时向参保地医保经办机构申请报销」. A bill from a designated
    institution of the residence that offers no direct settlement is not ours to settle: the member
    pays it and files ``reimbursement.claimed``. (A non-designated one settles as a refusal.)
    """
    if offers_direct or not designated:
        return
    cited = p.cited("remote_direct_settlement")
    raise InputError("fixmedins_code", "the institution offers no remote direct settlement: the member pays in "
                     "full and files reimbursement.claimed", code=RefusalCode.REMOTE_NO_DIRECT_SETTLEMENT,
                     article=cited.citation())


def reimbursement_deadline_xinyang_art15(service_date: date, p: Reader) -> date:
    """信政办〔2022〕23号 第十五条: the last day a paid-in-full bill may be claimed back.

    「垫付的费用应及时向参保地医保经办机构申请报销，最晚不得超过次年3月」: the end of the
    given month of the year after the service.
    """
    month = int(p.value("remote_reimbursement_deadline_month"))
    return month_end(f"{service_date.year + 1:04d}-{month:02d}")


def check_reimbursement_filed_in_time(filed: date, service_date: date, p: Reader) -> None:
    """Refuse a claim filed after :func:`reimbursement_deadline_xinyang_art15`, with its article."""
    last = reimbursement_deadline_xinyang_art15(service_date, p)
    if filed > last:
        raise InputError("date", f"filed {filed.isoformat()}, after the last day {last.isoformat()} for a bill of "
                         f"{service_date.isoformat()}", code=RefusalCode.REIMBURSEMENT_LATE,
                         article=p.cited("remote_reimbursement_deadline_month").citation())
