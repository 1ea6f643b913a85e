"""Settling claims: gather the facts a decision needs, adjudicate, book (2206 / 2207 / 2208).

Everything a settlement changes is saved in one transaction: the settlement itself, the
member (cap used, account debited), the visit (deductible paid under its serial number)
and, for a purchase, the prescription (what was dispensed where).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING
from uuid import UUID

from ledger.domain.claims import Settlement
from ledger.domain.ids import prescription_id, settlement_id, visit_id
from ledger.domain.prescriptions import Prescription
from ledger.domain.visits import Visit
from ledger.errors import InputError, UnknownError
from ledger.money import ZERO
from ledger.refusals import RefusalCode
from ledger.rules.adjudication import adjudicate, result_record
from ledger.rules.deductible import PRIMARY_COMBINED
from ledger.rules.facts import PURCHASE, REIMBURSED, VISIT, Claim, Context
from ledger.rules.lines import Line
from ledger.rules.prescriptions import (
    check_one_institution_datong_art13,
    check_split_reason_datong_art13,
    check_valid_on,
)
from ledger.rules.reader import Reader
from ledger.rules.remote import check_direct_settlement_xinyang_art15, check_reimbursement_filed_in_time
from ledger.services.corrections import readjudicate

if TYPE_CHECKING:
    from decimal import Decimal

    from ledger.domain.institutions import Institution
    from ledger.domain.members import Member
    from ledger.exchange import messages as m
    from ledger.policy.parameters import Policy
    from ledger.rules.adjudication import Adjudication
    from ledger.services.unit_of_work import Services


def _existing(s: Services, msg: m.VisitSettled | m.PurchaseSettled) -> bool:
    """True if this very claim was settled before; refuse the key reused with other content."""
    found = s.uow.get(Settlement, settlement_id(msg.medins_setl_id))
    return found is not None and found.already_received(msg.key(), msg.fingerprint(), "medins_setl_id")


def _check_window(msg: m.VisitSettled | m.PurchaseSettled, reader: Reader) -> None:
    """焦医保〔2024〕32号 一（一）: a bill not settled on the day may be settled within 30 days.

    「因特殊原因在定点医疗机构无法当日即时结算的，在30天内参保人可持病历、医疗费收费票据等
    相关材料回就医机构审核后重新联网结算。」
    """
    if msg.setl_date is None or msg.setl_date == msg.date:
        return
    cited = reader.cited("late_settlement_window_days")
    if (msg.setl_date - msg.date).days > int(cited.value):
        raise InputError("setl_date", f"settled {(msg.setl_date - msg.date).days} days after the visit, "
                         f"beyond the {cited.value}-day window", code=RefusalCode.LATE_UPLOAD_OUTSIDE_WINDOW,
                         article=cited.citation())


def _lines(s: Services, msg: m.VisitSettled | m.PurchaseSettled | m.ReimbursementClaimed, admdvs: str,
           day: date) -> tuple[Line, ...]:
    """The bill's lines, each with the insured region's catalogue entry on the service date."""
    return tuple(
        Line(i.feedetl_sn, i.med_list_codg, i.name, i.cnt, i.pric, i.pric_uplmt_amt, i.chrgitm_lv, i.exclusion,
             i.lmt_used_flag, s.catalogue.listing(admdvs, day, i.med_list_codg))
        for i in msg.items
    )


def _member_at(s: Services, msg: m.VisitSettled | m.PurchaseSettled, institution: Institution) -> Member:
    """The member, present on the service date; at another region's institution, one that settles directly."""
    member = s.member(msg.psn_no)
    member.check_present(msg.date)
    residence = member.residence_on(msg.date)
    if institution.admdvs != member.admdvs and residence is not None and residence[0] == institution.admdvs:
        check_direct_settlement_xinyang_art15(institution.remote_direct_settlement, institution.pooling_designated,
                                              Reader(s.policy(member.admdvs, msg.date)))
    return member


@dataclass(frozen=True)
class _Bill:
    """Who sent a bill and when: what a settlement is booked under."""

    medins_setl_id: str
    key: str
    fingerprint: str
    fixmedins_code: str
    day: date
    """The service date."""
    setl_date: date
    kind: str
    split_reason: str = ""
    """Why a prescription is dispensed in parts (同医保办发〔2022〕1号 第十三条); purchases only."""


def _bill(msg: m.VisitSettled | m.PurchaseSettled, kind: str) -> _Bill:
    return _Bill(msg.medins_setl_id, msg.key(), msg.fingerprint(), msg.fixmedins_code, msg.date,
                 msg.setl_date or msg.date, kind, getattr(msg, "split_reason", ""))


def settle_visit(s: Services, msg: m.VisitSettled) -> bool:
    """visit.settled: a hospital bill under a visit serial number."""
    if _existing(s, msg):
        return False
    hospital = s.institution(msg.fixmedins_code)
    if hospital.kind != "hospital":
        raise InputError("fixmedins_code", f"{msg.fixmedins_code} is a pharmacy: use purchase.settled",
                         code=RefusalCode.NOT_A_HOSPITAL)
    member = _member_at(s, msg, hospital)
    policy = s.policy(member.admdvs, msg.date)
    _check_window(msg, Reader(policy))
    visit = s.uow.get(Visit, visit_id(msg.fixmedins_code, msg.mdtrt_id))
    if visit is not None and visit.psn_no != msg.psn_no:
        raise InputError("mdtrt_id", f"visit {msg.mdtrt_id} belongs to another member", code=RefusalCode.VISIT_FOREIGN)
    claim = Claim(kind=VISIT, date=msg.date, med_type=msg.med_type, acct_used_flag=msg.acct_used_flag,
                  lines=_lines(s, msg, member.admdvs, msg.date), exclusion=msg.exclusion,
                  catalogue=s.catalogue.name(member.admdvs))
    ctx = Context(
        **member.claim_facts(msg.date, hospital.admdvs),
        institution_kind="hospital",
        institution_level=hospital.level,
        institution_designated=hospital.pooling_designated,
        family_doctor_here=member.family_doctor_on(msg.date) == hospital.fixmedins_code,
        cap_used_before=member.cap_used_through(msg.date),
        balance_before=member.spendable_on(msg.date),
        deductible_paid_before=visit.paid if visit else ZERO,
    )
    adj = adjudicate(claim, ctx, policy)
    _book(s, _bill(msg, VISIT), member, claim, ctx, adj, policy, mdtrt_id=msg.mdtrt_id,
          pool=(msg.fixmedins_code, msg.mdtrt_id), visit=visit, rx=None)
    return True


def settle_purchase(s: Services, msg: m.PurchaseSettled) -> bool:
    """purchase.settled: a pharmacy bill on an e-prescription (POLICY.md §4)."""
    if _existing(s, msg):
        return False
    pharmacy = s.institution(msg.fixmedins_code)
    if pharmacy.kind != "pharmacy":
        raise InputError("fixmedins_code", f"{msg.fixmedins_code} is a hospital: use visit.settled",
                         code=RefusalCode.NOT_A_PHARMACY)
    member = _member_at(s, msg, pharmacy)
    rx = s.uow.get(Prescription, prescription_id(msg.rx_no))
    if rx is None:
        raise UnknownError("rx_no", "prescription", msg.rx_no)
    if rx.psn_no != msg.psn_no:
        raise InputError("rx_no", f"prescription {msg.rx_no} was issued to another member", code=RefusalCode.RX_FOREIGN)
    policy = s.policy(member.admdvs, msg.date)
    reader = Reader(policy)
    _check_window(msg, reader)
    check_valid_on(rx.issued_on, msg.date, reader)
    quantities = _check_dispensing(msg, rx, reader)
    prescriber = s.institution(rx.fixmedins_code, "rx_no")
    shared = reader.value("pharmacy_scheme") == PRIMARY_COMBINED
    visit = s.uow.get(Visit, visit_id(rx.fixmedins_code, rx.mdtrt_id)) if shared else None
    claim = Claim(kind=PURCHASE, date=msg.date, med_type="11", acct_used_flag=msg.acct_used_flag,
                  lines=_lines(s, msg, member.admdvs, msg.date), delivery_fee=msg.delivery_fee,
                  catalogue=s.catalogue.name(member.admdvs))
    ctx = Context(
        **member.claim_facts(msg.date, pharmacy.admdvs),
        institution_kind="pharmacy",
        institution_level=None,
        institution_designated=pharmacy.pooling_designated,
        prescriber_level=prescriber.level,
        prescriber_designated=prescriber.pooling_designated,
        prescriber_family_doctor=member.family_doctor_on(msg.date) == prescriber.fixmedins_code,
        cap_used_before=member.cap_used_through(msg.date),
        balance_before=member.spendable_on(msg.date),
        deductible_paid_before=visit.paid if visit else ZERO,
    )
    adj = adjudicate(claim, ctx, policy)
    _book(s, _bill(msg, PURCHASE), member, claim, ctx, adj, policy, mdtrt_id=rx.mdtrt_id,
          pool=(rx.fixmedins_code, rx.mdtrt_id) if shared else None, visit=visit, rx=(rx, quantities))
    return True


def settle_reimbursement(s: Services, msg: m.ReimbursementClaimed) -> bool:
    """reimbursement.claimed: a bill paid in full at the residence, claimed back (信政办〔2022〕23号 第十五条).

    It is adjudicated as the visit would have been settled directly, under the insured region's
    benefits on the service date; the fund's share is paid to the member, not the institution.
    """
    found = s.uow.get(Settlement, settlement_id(msg.claim_id))
    if found is not None and found.already_received(msg.key(), msg.fingerprint(), "claim_id"):
        return False
    hospital = s.institution(msg.fixmedins_code)
    if hospital.kind != "hospital":
        raise InputError("fixmedins_code", f"{msg.fixmedins_code} is a pharmacy: reimbursement claims take "
                         "hospital bills", code=RefusalCode.NOT_A_HOSPITAL)
    member = s.member(msg.psn_no)
    member.check_present(msg.service_date)
    if hospital.admdvs == member.admdvs:
        raise InputError("fixmedins_code", f"{msg.fixmedins_code} is in the member's own region, where bills "
                         "settle directly", code=RefusalCode.REIMBURSEMENT_NOT_REMOTE,
                         article="信政办〔2022〕23号 第十四条")
    policy = s.policy(member.admdvs, msg.service_date, "service_date")
    check_reimbursement_filed_in_time(msg.date, msg.service_date, Reader(policy))
    mdtrt_id = msg.mdtrt_id or msg.claim_id
    visit = s.uow.get(Visit, visit_id(msg.fixmedins_code, mdtrt_id))
    if visit is not None and visit.psn_no != msg.psn_no:
        raise InputError("mdtrt_id", f"visit {mdtrt_id} belongs to another member", code=RefusalCode.VISIT_FOREIGN)
    claim = Claim(kind=VISIT, date=msg.service_date, med_type=msg.med_type, acct_used_flag=False,
                  lines=_lines(s, msg, member.admdvs, msg.service_date), catalogue=s.catalogue.name(member.admdvs))
    ctx = Context(
        **member.claim_facts(msg.service_date, hospital.admdvs),
        institution_kind="hospital",
        institution_level=hospital.level,
        institution_designated=hospital.pooling_designated,
        cap_used_before=member.cap_used_through(msg.service_date),
        balance_before=member.spendable_on(msg.service_date),
        deductible_paid_before=visit.paid if visit else ZERO,
        reimbursed=True,
    )
    adj = adjudicate(claim, ctx, policy)
    bill = _Bill(msg.claim_id, msg.key(), msg.fingerprint(), msg.fixmedins_code, msg.service_date, msg.date,
                 REIMBURSED)
    _book(s, bill, member, claim, ctx, adj, policy, mdtrt_id=mdtrt_id, pool=(msg.fixmedins_code, mdtrt_id),
          visit=visit, rx=None)
    return True


def _check_dispensing(msg: m.PurchaseSettled, rx: Prescription, reader: Reader) -> dict[str, Decimal]:
    """Each line is a prescribed drug, within what is left, bought at one institution only."""
    quantities: dict[str, Decimal] = {}
    check_split_reason_datong_art13(rx.filled_at() - {msg.fixmedins_code}, msg.split_reason, reader)
    for i, item in enumerate(msg.items):
        field = f"items.{i}.med_list_codg"
        if item.med_list_codg not in rx.drugs:
            raise InputError(field, f"{item.med_list_codg} is not on prescription {rx.rx_no}",
                             code=RefusalCode.RX_DRUG_NOT_PRESCRIBED)
        check_one_institution_datong_art13(item.med_list_codg, msg.fixmedins_code,
                                           rx.bought_at(item.med_list_codg), reader, field)
        total = quantities.get(item.med_list_codg, ZERO) + item.cnt
        if total > rx.remaining(item.med_list_codg):
            raise InputError(f"items.{i}.cnt", f"{total} exceeds the {rx.remaining(item.med_list_codg)} "
                             f"left on prescription {rx.rx_no}", code=RefusalCode.RX_QUANTITY_EXCEEDED)
        quantities[item.med_list_codg] = total
    return quantities


def _book(
    s: Services,
    bill: _Bill,
    member: Member,
    claim: Claim,
    ctx: Context,
    adj: Adjudication,
    policy: Policy,
    *,
    mdtrt_id: str,
    pool: tuple[str, str] | None,
    visit: Visit | None,
    rx: tuple[Prescription, dict[str, Decimal]] | None,
) -> None:
    """Book an adjudicated claim on every aggregate it changes."""
    s.record_policy(policy)
    info = adj.setlinfo
    opens_visit = not member.visit_has_bills(bill.fixmedins_code, mdtrt_id)
    settlement = Settlement.settle(
        medins_setl_id=bill.medins_setl_id, key=bill.key, fingerprint=bill.fingerprint, kind=bill.kind,
        psn_no=member.psn_no, fixmedins_code=bill.fixmedins_code, admdvs=member.admdvs, mdtrt_id=mdtrt_id,
        rx_no=rx[0].rx_no if rx else None, day=bill.day, setl_date=bill.setl_date,
        claim=claim.as_record(), context=ctx.as_record(), policy_version=policy.version,
        result=result_record(adj), deductible_pool=list(pool) if pool else None, opens_visit=opens_visit,
    )
    s.uow.add(settlement)
    member.charge_settlement(setl_id=settlement.setl_id, fixmedins_code=bill.fixmedins_code, mdtrt_id=mdtrt_id,
                             day=bill.day,
                             hifp_pay=info["hifp_pay"], acct_pay=info["acct_pay"], act_pay_dedc=info["act_pay_dedc"])
    if pool is not None and info["act_pay_dedc"]:
        if visit is None:
            visit = Visit.open(pool[0], pool[1], member.psn_no)
            s.uow.add(visit)
        visit.charge(settlement.setl_id, info["act_pay_dedc"])
    if rx is not None:
        rx[0].dispense(settlement.setl_id, bill.fixmedins_code, rx[1], bill.split_reason)
    later = bill.day + timedelta(days=1)
    if member.settled_since(later):
        # A bill dated before ones already booked (a late upload): the cap is used in date order.
        readjudicate(s, member, later, cause=bill.key,
                     reason=f"{bill.medins_setl_id} dated {bill.day.isoformat()} settled after later bills")


def reverse_settlement(s: Services, msg: m.SettlementReversed) -> bool:
    """settlement.reversed (2208): undo a settlement's effect on cap, account, visit and prescription."""
    field = "medins_setl_id" if msg.medins_setl_id else "setl_id"
    sid = settlement_id(msg.medins_setl_id) if msg.medins_setl_id else _parse_setl_id(msg.setl_id or "")
    settlement = s.uow.get(Settlement, sid)
    if settlement is None:
        raise UnknownError(field, "settlement", msg.medins_setl_id or msg.setl_id or "")
    if settlement.receipts.get(msg.key()) == msg.fingerprint():
        return False  # the same reversal, sent again
    # Sent again with other content, it is refused by reverse() as already reversed.
    member = s.member(settlement.psn_no)
    closes_visit = not member.visit_has_bills(settlement.fixmedins_code, settlement.mdtrt_id,
                                              besides=settlement.setl_id)
    settlement.reverse(msg.date, msg.reason, msg.key(), msg.fingerprint(), closes_visit=closes_visit)
    dedc = settlement.result["act_pay_dedc"]
    member.release_settlement(setl_id=settlement.setl_id, fixmedins_code=settlement.fixmedins_code, day=msg.date,
                              act_pay_dedc=dedc)
    if settlement.deductible_pool and dedc:
        visit = s.uow.get(Visit, visit_id(*settlement.deductible_pool))
        if visit is not None and settlement.setl_id in visit.charges:
            visit.release(settlement.setl_id, visit.charges[settlement.setl_id])
    if settlement.rx_no:
        rx = s.uow.get(Prescription, prescription_id(settlement.rx_no))
        if rx is not None:
            rx.reverse_dispensing(settlement.setl_id)
    if member.settled_since(settlement.service_date):
        # What the reversed bill used (cap, a visit's deductible) is free again for the bills after it.
        readjudicate(s, member, settlement.service_date, cause=msg.key(),
                     reason=f"{settlement.medins_setl_id} reversed on {msg.date.isoformat()}")
    return True


def _parse_setl_id(value: str) -> UUID:
    try:
        return UUID(value)
    except ValueError:
        raise InputError("setl_id", f"{value!r} is not a setl_id", code=RefusalCode.BAD_SETL_ID) from None


def settlement_key(key: str) -> UUID:
    """Our ``setl_id`` from either itself or the sender's ``medins_setl_id``."""
    try:
        return UUID(key)
    except ValueError:
        return settlement_id(key)
