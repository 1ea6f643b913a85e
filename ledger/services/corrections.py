"""Corrections only add: a backdated fact re-adjudicates what it affects and books the difference.

A fact recorded after settlements it bears on (an admission, a suspension, a retirement, a
family-doctor contract, a late bill inside the 30-day window) makes the ledger re-adjudicate
the member's settlements from the fact's date, in date order, as a regulator replaying the
year with every fact known would: the annual cap is used in service-date order. Each
settlement whose result changes gets an ``Adjusted`` event linked to the original, with the
cause and the reason; the member's cap and account, and the visit's deductible, take the
difference. A backdated contribution-base change, retirement or suspension likewise
corrects the monthly credits of months already closed.

The account keeps paying what the member authorised: a settlement re-adjudicated sees the
current balance plus what it had taken, so the account never goes below zero.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any
from uuid import UUID

from ledger.domain.claims import MONEY_FIELDS, Settlement
from ledger.domain.ids import prescription_id, region_id, visit_id
from ledger.domain.members import credit_article
from ledger.domain.prescriptions import Prescription
from ledger.domain.regions import Region
from ledger.domain.visits import Visit
from ledger.money import ZERO
from ledger.periods import month_end, month_key
from ledger.rules.adjudication import adjudicate, result_record
from ledger.rules.facts import PURCHASE, Claim, Context
from ledger.rules.reader import Reader
from ledger.services.unit_of_work import StaleRead

if TYPE_CHECKING:
    from ledger.domain.members import Member
    from ledger.services.unit_of_work import Services

COMPARED = (*MONEY_FIELDS, "refusal_code")


def readjudicate(s: Services, member: Member, since: date, *, cause: str, reason: str) -> int:
    """Re-adjudicate ``member``'s live settlements dated on or after ``since``; returns how many changed."""
    changed = 0
    live = member.live_settlements()
    years = sorted({e.year for e in live.values() if e.day >= since})
    for year in years:
        entries = [(sid, e) for sid, e in live.items() if e.year == year]
        order = sorted(range(len(entries)), key=lambda i: (entries[i][1].day, i))
        used = ZERO
        for i in order:
            setl_id, entry = entries[i]
            if entry.day >= since and _readjudicate_one(s, member, setl_id, used, cause=cause, reason=reason):
                changed += 1
            used += member.live_settlement(setl_id).hifp_pay
    return changed


def _readjudicate_one(s: Services, member: Member, setl_id: str, used: Any, *, cause: str, reason: str) -> bool:
    settlement = s.uow.get(Settlement, UUID(setl_id))
    if settlement is None:  # the member, read after another writer settled it, knows it; the batch did not
        raise StaleRead(f"settlement {setl_id} was saved by another writer during the batch")
    day = settlement.service_date
    claim = Claim.from_record(settlement.claim)
    visit = s.uow.get(Visit, visit_id(*settlement.deductible_pool)) if settlement.deductible_pool else None
    own = visit.charges.get(setl_id, ZERO) if visit else ZERO
    ctx = _corrected_context(s, member, settlement, claim, used, (visit.paid - own) if visit else ZERO)
    policy = s.policy(member.admdvs, day)
    adj = adjudicate(claim, ctx, policy)
    result = result_record(adj)
    if all(result[name] == settlement.result[name] for name in COMPARED):
        return False
    s.record_policy(policy)
    delta = settlement.adjust(day=day, reason=reason, cause=cause, context=ctx.as_record(),
                              policy_version=policy.version, result=result)
    member.adjust_settlement(setl_id=setl_id, fixmedins_code=settlement.fixmedins_code, day=day,
                             hifp_delta=delta["hifp_pay"], acct_delta=delta["acct_pay"],
                             dedc_delta=delta["act_pay_dedc"], reason=reason)
    dedc = result["act_pay_dedc"]
    if settlement.deductible_pool and dedc != own:
        if visit is None:
            visit = Visit.open(settlement.deductible_pool[0], settlement.deductible_pool[1], member.psn_no)
            s.uow.add(visit)
        if dedc:
            visit.charge(setl_id, dedc)
        else:
            visit.release(setl_id, own)
    return True


def _corrected_context(s: Services, member: Member, settlement: Settlement, claim: Claim, used: Any,
                       deductible_before: Any) -> Context:
    """The recorded context with the member's facts as the ledger knows them now."""
    day = settlement.service_date
    recorded = Context.from_record(settlement.context)
    family_doctor = member.family_doctor_on(day)
    updates: dict[str, Any] = {
        **member.claim_facts(day, recorded.institution_admdvs),
        "cap_used_before": used,
        "balance_before": member.spendable_on(day) + member.live_settlement(settlement.setl_id).acct_pay,
        "deductible_paid_before": deductible_before,
    }
    if claim.kind == PURCHASE and settlement.rx_no:
        rx = s.uow.get(Prescription, prescription_id(settlement.rx_no))
        updates["prescriber_family_doctor"] = rx is not None and family_doctor == rx.fixmedins_code
    else:
        updates["family_doctor_here"] = family_doctor == settlement.fixmedins_code
    return Context(**{**recorded.as_record(), **updates, "notes": recorded.notes})


def recredit(s: Services, member: Member, since: date, *, reason: str) -> int:
    """Correct the credits of the region's closed months from ``since``'s month; returns how many changed.

    A month the member was not credited for at its close (enrolled, or resumed, by its last day,
    but recorded later) is credited here in full, as any other difference.
    """
    region = s.uow.get(Region, region_id(member.admdvs))
    closed = region.months if region is not None else {}
    first = month_key(since)
    months = sorted({m for m in closed if m >= first} | {m for m in member.credited if m >= first})
    changed = 0
    for month in months:
        end = month_end(month)
        policy = s.policy(member.admdvs, end)
        reader = Reader(policy)
        due = member.credit_due(month, reader)
        credited = member.credited_in(month)
        if due.amount == credited:
            continue
        s.record_policy(policy)
        before = member.credit_types.get(month, due.psn_type)
        if before != due.psn_type and credited:
            # Credited as the other type: take that back from its fund, then credit from the right one.
            member.adjust_credit(day=end, month=month, delta=-credited, psn_type=before,
                                 contribution_base=due.contribution_base, policy_version=policy.version,
                                 article=credit_article(before, reader), reason=reason)
            credited = member.credited_in(month)
        member.adjust_credit(day=end, month=month, delta=due.amount - credited, psn_type=due.psn_type,
                             contribution_base=due.contribution_base, policy_version=policy.version,
                             article=due.article, reason=reason)
        changed += 1
    return changed
