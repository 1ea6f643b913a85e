"""One handler per fact message: check everything, then change the aggregates.

A handler gets a :class:`~ledger.services.unit_of_work.Services` (the policy library and the
unit of work), validates the message against what the ledger holds, and only then triggers
events, so a refused message leaves nothing pending. It returns True when it booked
something and False when the same message was booked before (idempotent resubmission).
"""

from __future__ import annotations

from datetime import timedelta
from functools import wraps
from typing import TYPE_CHECKING, Any

from ledger.domain.ids import institution_id, member_id, prescription_id
from ledger.domain.institutions import Institution
from ledger.domain.members import Member
from ledger.domain.prescriptions import Prescription
from ledger.errors import InputError
from ledger.periods import first_of_month_after
from ledger.refusals import RefusalCode
from ledger.rules.account import check_use_xinyang_art9_10
from ledger.rules.prescriptions import check_days_supplied, valid_through_datong_art10
from ledger.rules.reader import Reader
from ledger.services.closing import prepay_pending
from ledger.services.corrections import readjudicate, recredit

if TYPE_CHECKING:
    from collections.abc import Callable
    from datetime import date

    from ledger.exchange import messages as m
    from ledger.services.unit_of_work import Services


def register_institution(s: Services, msg: m.InstitutionRegistered) -> bool:
    """institution.registered: a designated institution joins its region."""
    found = s.uow.get(Institution, institution_id(msg.fixmedins_code))
    if found is not None:
        return not found.already_received(msg.key(), msg.fingerprint(), "fixmedins_code")
    s.check_region(msg.admdvs)
    institution = Institution.register(
        key=msg.key(), fingerprint=msg.fingerprint(), day=msg.date, fixmedins_code=msg.fixmedins_code,
        fixmedins_name=msg.fixmedins_name, admdvs=msg.admdvs, kind=msg.kind, level=msg.level,
        pooling_designated=msg.pooling_designated, category=msg.category,
        cost_history={str(y): v for y, v in sorted((msg.cost_history or {}).items())},
        covid_depressed_years=sorted(msg.covid_depressed_years),
        provincial_class_average=msg.provincial_class_average, remote_direct_settlement=msg.remote_direct_settlement,
    )
    s.uow.add(institution)
    return True


def _family_doctor_institution(s: Services, code: str, admdvs: str, field: str) -> None:
    """A family-doctor contract is with a primary institution of the member's region."""
    institution = s.institution(code, field)
    if not institution.is_primary() or institution.admdvs != admdvs:
        raise InputError(field, f"{code} is not a primary institution of region {admdvs}",
                         code=RefusalCode.FAMILY_DOCTOR_NOT_PRIMARY, article="信政办〔2022〕23号 第五条（二）")


def enrol_member(s: Services, msg: m.MemberEnrolled) -> bool:
    """member.enrolled: a member joins a region's employee scheme."""
    found = s.uow.get(Member, member_id(msg.psn_no))
    if found is not None:
        return not found.already_received(msg.key(), msg.fingerprint(), "psn_no")
    s.check_region(msg.admdvs)
    if msg.family_doctor_fixmedins_code:
        _family_doctor_institution(s, msg.family_doctor_fixmedins_code, msg.admdvs, "family_doctor_fixmedins_code")
    member = Member.enrol(
        psn_no=msg.psn_no, admdvs=msg.admdvs, day=msg.date, psn_type=msg.psn_type,
        contribution_base=msg.contribution_base, family_doctor=msg.family_doctor_fixmedins_code,
        employment_category=msg.employment_category,
        key=msg.key(), fingerprint=msg.fingerprint(),
    )
    s.uow.add(member)
    _backdated(s, member, msg, msg.date, credits=True)  # months of the region closed since its date
    return True


def member_fact(change: Callable[[Services, Member, Any], None]) -> Callable[[Services, Any], bool]:
    """A handler for a fact about one member: find the member, skip a resubmission, then ``change``."""

    @wraps(change)
    def handle(s: Services, msg: Any) -> bool:
        member = s.member(msg.psn_no)
        if member.already_received(msg.key(), msg.fingerprint(), "psn_no"):
            return False
        change(s, member, msg)
        return True

    return handle


def _backdated(s: Services, member: Member, msg: m.Message, since: date, *, credits: bool = False) -> None:
    """A fact effective before what the ledger already booked: re-adjudicate, and re-credit, from ``since``."""
    reason = f"{msg.type} effective {since.isoformat()} recorded later"
    if member.settled_since(since):
        readjudicate(s, member, since, cause=msg.key(), reason=reason)
    if credits:
        recredit(s, member, since, reason=reason)


@member_fact
def retire_member(s: Services, member: Member, msg: m.MemberRetired) -> None:
    """member.retired: benefits switch from the month after (信政办〔2022〕23号 第六条、第十一条)."""
    months = Reader(s.policy(member.admdvs, msg.date)).value("retirement_switch_months")
    switch_on = first_of_month_after(msg.date, int(months))
    member.retire(msg.date, switch_on, msg.key(), msg.fingerprint())
    _backdated(s, member, msg, switch_on, credits=True)


@member_fact
def sign_family_doctor(s: Services, member: Member, msg: m.FamilyDoctorSigned) -> None:
    """member.family_doctor_signed: a contract with a primary institution."""
    _family_doctor_institution(s, msg.fixmedins_code, member.admdvs, "fixmedins_code")
    member.sign_family_doctor(msg.date, msg.fixmedins_code, msg.key(), msg.fingerprint())
    _backdated(s, member, msg, msg.date)


@member_fact
def suspend_member(s: Services, member: Member, msg: m.MemberSuspended) -> None:
    """member.suspended: benefits suspended (arrears, waiting period)."""
    member.suspend(msg.date, msg.reason, msg.key(), msg.fingerprint())
    _backdated(s, member, msg, msg.date, credits=True)


@member_fact
def resume_member(s: Services, member: Member, msg: m.MemberResumed) -> None:
    """member.resumed: benefits resumed."""
    member.resume(msg.date, msg.key(), msg.fingerprint())
    _backdated(s, member, msg, msg.date, credits=True)


@member_fact
def admit_member(s: Services, member: Member, msg: m.MemberAdmitted) -> None:
    """member.admitted: in hospital from ``date``."""
    s.institution(msg.fixmedins_code)
    member.admit(msg.date, msg.fixmedins_code, msg.key(), msg.fingerprint())
    _backdated(s, member, msg, msg.date)


@member_fact
def discharge_member(s: Services, member: Member, msg: m.MemberDischarged) -> None:
    """member.discharged: out of hospital from ``date``."""
    member.discharge(msg.date, msg.key(), msg.fingerprint())
    _backdated(s, member, msg, msg.date)


@member_fact
def change_contribution_base(s: Services, member: Member, msg: m.ContributionBaseChanged) -> None:
    """member.contribution_base_changed: a new base from the month of ``date``."""
    member.change_base(msg.date, msg.contribution_base, msg.key(), msg.fingerprint())
    _backdated(s, member, msg, msg.date.replace(day=1), credits=True)


@member_fact
def transfer_out_member(s: Services, member: Member, msg: m.MemberTransferredOut) -> None:
    """member.transferred_out: leaves the region; the balance is paid out (第十二条)."""
    Reader(s.policy(member.admdvs, msg.date)).flag("account_transfer_out")
    member.transfer_out(msg.date, msg.destination, msg.key(), msg.fingerprint())


@member_fact
def record_death(s: Services, member: Member, msg: m.MemberDeceased) -> None:
    """member.deceased: the balance passes to the heir (第十二条)."""
    Reader(s.policy(member.admdvs, msg.date)).flag("account_inheritable")
    member.decease(msg.date, msg.heir, msg.key(), msg.fingerprint())


@member_fact
def use_account(s: Services, member: Member, msg: m.AccountUsed) -> None:
    """account.used: a permitted personal-account payment outside a claim (第九条、第十条)."""
    article = check_use_xinyang_art9_10(msg.beneficiary, msg.purpose, Reader(s.policy(member.admdvs, msg.date)))
    member.use_account(day=msg.date, amount=msg.amount, beneficiary=msg.beneficiary, purpose=msg.purpose,
                       reference=msg.reference, article=article, key=msg.key(), fingerprint=msg.fingerprint())


def issue_prescription(s: Services, msg: m.PrescriptionIssued) -> bool:
    """prescription.issued: days supplied within the limits (焦医保〔2024〕32号 二（二）)."""
    found = s.uow.get(Prescription, prescription_id(msg.rx_no))
    if found is not None:
        return not found.already_received(msg.key(), msg.fingerprint(), "rx_no")
    member = s.member(msg.psn_no)
    member.check_present(msg.date)
    institution = s.institution(msg.fixmedins_code)
    if institution.kind != "hospital":
        raise InputError("fixmedins_code", f"{msg.fixmedins_code} is a pharmacy; prescriptions come from hospitals",
                         code=RefusalCode.PRESCRIBER_NOT_HOSPITAL)
    reader = Reader(s.policy(member.admdvs, msg.date))
    notes = [note for i, drug in enumerate(msg.drugs)
             if (note := check_days_supplied(drug.days, msg.med_type, msg.chronic, msg.long_term, reader,
                                             f"drugs.{i}.days", reason=msg.over_limit_reason))]
    valid_through, _ = valid_through_datong_art10(msg.date, reader)
    s.uow.add(Prescription.issue(
        key=msg.key(), fingerprint=msg.fingerprint(), rx_no=msg.rx_no, mdtrt_id=msg.mdtrt_id, psn_no=msg.psn_no,
        fixmedins_code=msg.fixmedins_code, day=msg.date, valid_through=valid_through, med_type=msg.med_type,
        chronic=msg.chronic, long_term=msg.long_term,
        drugs={d.med_list_codg: {"cnt": d.cnt, "days": d.days} for d in msg.drugs}, notes=notes or None,
    ))
    return True


def set_budget(s: Services, msg: m.BudgetSet) -> bool:
    """budget.set: a region's annual outpatient pooling budget (汴医保〔2023〕29号 三（一））.

    Months closed while it was missing are prepaid now, each as its close would have prepaid it.
    """
    s.check_region(msg.admdvs)
    region = s.region(msg.admdvs)
    if region.already_received(msg.key(), msg.fingerprint(), "year"):
        return False
    region.set_budget(msg.date, msg.year, msg.amount, msg.key(), msg.fingerprint())
    prepay_pending(s, region, msg.date, msg.key())
    return True


def review_institution(s: Services, msg: m.InstitutionReviewed) -> bool:
    """institution.reviewed: the overspend review's violating share (焦医保〔2024〕32号 六（一））."""
    institution = s.institution(msg.fixmedins_code)
    if institution.already_received(f"review/{msg.key()}", msg.fingerprint(), "year"):
        return False
    if s.region(institution.admdvs).year_closed(msg.year):
        raise InputError("year", f"{msg.year} is already cleared for {institution.admdvs}",
                         code=RefusalCode.YEAR_CLOSED)
    institution.review(msg.date, msg.year, msg.sampled_total, msg.violation_amount, f"review/{msg.key()}",
                       msg.fingerprint())
    return True


@member_fact
def register_remote(s: Services, member: Member, msg: m.MemberRemoteRegistered) -> None:
    """member.remote_registered: a residence elsewhere (信政办〔2022〕23号 第十五条; 同医保办发〔2022〕1号 第二十三条).

    A resettled retiree (异地安置退休人员) must be retired.
    """
    if msg.kind == "resettled_retiree" and (member.retired_on is None or member.retired_on > msg.date):
        raise InputError("kind", f"{member.psn_no} is not retired on {msg.date}", code=RefusalCode.REMOTE_NOT_RETIRED,
                         article="信政办〔2022〕23号 第十五条")
    until = msg.end_date + timedelta(days=1) if msg.end_date else None
    member.register_remote(msg.date, msg.residence_admdvs, msg.kind, until, msg.key(), msg.fingerprint())
    _backdated(s, member, msg, msg.date)


@member_fact
def cancel_remote(s: Services, member: Member, msg: m.MemberRemoteCancelled) -> None:
    """member.remote_cancelled: the registration ends on ``date``."""
    member.cancel_remote(msg.date, msg.key(), msg.fingerprint())
    _backdated(s, member, msg, msg.date)


def record_month(s: Services, msg: m.InstitutionMonthReceived | m.InstitutionMonthPaid) -> bool:
    """institution.month_received / month_paid: an institution's month applied for, then paid.

    The payment deadline counts from the day received (医保办发〔2023〕4号 三（四））.
    """
    institution = s.institution(msg.fixmedins_code)
    if institution.already_received(msg.key(), msg.fingerprint(), "month"):
        return False
    record = institution.receive_month if msg.type == "institution.month_received" else institution.pay_month
    record(msg.date, msg.month, msg.amount, msg.key(), msg.fingerprint())
    return True
