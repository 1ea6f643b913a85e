"""One handler per fact message: check everything, then change the aggregates.

A handler gets the application's services (``Services``: the policy library and the unit
of work), validates the message against what the ledger holds, and only then triggers
events, so a refused message leaves nothing pending. It returns True when it booked
something and False when the same message was booked before (idempotent resubmission).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import wraps
from typing import TYPE_CHECKING, Any

from ledger.domain.ids import institution_id, member_id, policy_version_id, prescription_id, region_id
from ledger.domain.institutions import Institution
from ledger.domain.members import Member
from ledger.domain.policy_versions import PolicyVersion
from ledger.domain.prescriptions import Prescription
from ledger.domain.regions import Region
from ledger.errors import InputError, PolicyNotInForceError, UnknownError
from ledger.periods import first_of_month_after
from ledger.refusals import RefusalCode
from ledger.rules.account import check_use_xinyang_art9_10
from ledger.rules.prescriptions import check_days_supplied, valid_through_datong_art10
from ledger.rules.reader import Reader
from ledger.services.corrections import readjudicate, recredit

if TYPE_CHECKING:
    from collections.abc import Callable

    from ledger.exchange import messages as m
    from ledger.policy.parameters import Policy, PolicyLibrary
    from ledger.services.unit_of_work import UnitOfWork


@dataclass
class Services:
    """What handlers need: the unit of work and the policy library."""

    uow: UnitOfWork
    library: PolicyLibrary

    def policy(self, admdvs: str, day: date, field: str = "date") -> Policy:
        """The policy in force; a date no file covers refuses the message."""
        try:
            return self.library.policy_for(admdvs, day)
        except PolicyNotInForceError as e:
            raise InputError(field, str(e), code=RefusalCode.NO_POLICY_IN_FORCE) from None

    def member(self, psn_no: str, field: str = "psn_no") -> Member:
        """A member we hold, or an unknown-member refusal."""
        found = self.uow.get(Member, member_id(psn_no))
        if found is None:
            raise UnknownError(field, "member", psn_no)
        return found

    def institution(self, fixmedins_code: str, field: str = "fixmedins_code") -> Institution:
        """An institution we hold, or an unknown-institution refusal."""
        found = self.uow.get(Institution, institution_id(fixmedins_code))
        if found is None:
            raise UnknownError(field, "institution", fixmedins_code)
        return found

    def region(self, admdvs: str) -> Region:
        """The region's aggregate, opened on first use."""
        found = self.uow.get(Region, region_id(admdvs))
        if found is None:
            found = Region.open(admdvs)
            self.uow.add(found)
        return found

    def record_policy(self, policy: Policy) -> None:
        """Keep a policy version in the log the first time anything uses it."""
        if self.uow.get(PolicyVersion, policy_version_id(policy.version)) is None:
            self.uow.add(PolicyVersion.record_version(policy.version, policy.as_record()))

    def check_region(self, admdvs: str, field: str = "admdvs") -> None:
        """Refuse a region without a policy profile."""
        if admdvs not in self.library.regions:
            raise InputError(field, f"no policy profile for region {admdvs}", code=RefusalCode.UNKNOWN_REGION)


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
        provincial_class_average=msg.provincial_class_average,
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
    s.uow.add(Member.enrol(
        psn_no=msg.psn_no, admdvs=msg.admdvs, day=msg.date, psn_type=msg.psn_type,
        contribution_base=msg.contribution_base, family_doctor=msg.family_doctor_fixmedins_code,
        key=msg.key(), fingerprint=msg.fingerprint(),
    ))
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
    if credits and any(month >= f"{since:%Y-%m}" for month in member.credited):
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
    for i, drug in enumerate(msg.drugs):
        check_days_supplied(drug.days, msg.med_type, msg.chronic, msg.long_term, reader, f"drugs.{i}.days")
    valid_through, _ = valid_through_datong_art10(msg.date, reader)
    s.uow.add(Prescription.issue(
        key=msg.key(), fingerprint=msg.fingerprint(), rx_no=msg.rx_no, mdtrt_id=msg.mdtrt_id, psn_no=msg.psn_no,
        fixmedins_code=msg.fixmedins_code, day=msg.date, valid_through=valid_through, med_type=msg.med_type,
        chronic=msg.chronic, long_term=msg.long_term,
        drugs={d.med_list_codg: {"cnt": d.cnt, "days": d.days} for d in msg.drugs},
    ))
    return True


def set_budget(s: Services, msg: m.BudgetSet) -> bool:
    """budget.set: a region's annual outpatient pooling budget (汴医保〔2023〕29号 三（一））."""
    s.check_region(msg.admdvs)
    region = s.region(msg.admdvs)
    if region.already_received(msg.key(), msg.fingerprint(), "year"):
        return False
    region.set_budget(msg.date, msg.year, msg.amount, msg.key(), msg.fingerprint())
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
