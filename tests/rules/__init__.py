"""Rule-level tests: pure functions of (claim, context, policy), no database, no clock.

The builders below keep each test to the facts it is about. Amounts are written as the
strings a hand calculation produces and compared as ``Decimal``; policies come from the
shipped library, so every figure asserted here is the one the policy files give.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from ledger.policy.files import default_library
from ledger.policy.parameters import Policy
from ledger.rules.adjudication import Adjudication, adjudicate
from ledger.rules.facts import IN_SERVICE, PURCHASE, RETIRED, VISIT, Claim, Context
from ledger.rules.items import CLASS_A
from ledger.rules.lines import Line
from ledger.rules.reader import Reader

XINYANG, KAIFENG, JIAOZUO, DATONG = "411500", "410200", "410800", "140200"
SERVICE_DATE = date(2024, 3, 20)
"""A service date on which every region's documents but Jiaozuo's 2024 notice are in force."""

__all__ = [
    "DATONG",
    "IN_SERVICE",
    "JIAOZUO",
    "KAIFENG",
    "RETIRED",
    "SERVICE_DATE",
    "XINYANG",
    "D",
    "at_hospital",
    "at_pharmacy",
    "line",
    "policy",
    "purchase",
    "reader",
    "settle",
    "share_before_cap",
    "visit",
]


def D(amount: str) -> Decimal:
    """An exact amount, written as the hand calculation gives it."""
    return Decimal(amount)


def policy(admdvs: str = XINYANG, day: date = SERVICE_DATE) -> Policy:
    """The shipped policy in force for a region on a day."""
    return default_library().policy_for(admdvs, day)


def reader(admdvs: str = XINYANG, day: date = SERVICE_DATE) -> Reader:
    """A reader over the shipped policy, for calling one rule function directly."""
    return Reader(policy(admdvs, day))


def line(pric: str, *, cnt: str = "1", lv: str = CLASS_A, std: str | None = None, sn: str = "1",
         code: str = "XJ01CAA0001", exclusion: str | None = None) -> Line:
    """A bill line: ``cnt`` × ``pric``, catalog class ``lv``, payment standard ``std``."""
    return Line(sn, code, code, Decimal(cnt), Decimal(pric), Decimal(std) if std is not None else None, lv,
                exclusion)


def _numbered(lines: tuple[Line, ...]) -> tuple[Line, ...]:
    """Give lines built with the default serial their own ``feedetl_sn``."""
    if len({ln.feedetl_sn for ln in lines}) == len(lines):
        return lines
    return tuple(
        Line(str(i), ln.med_list_codg, ln.name, ln.cnt, ln.pric, ln.pric_uplmt_amt, ln.chrgitm_lv, ln.exclusion)
        for i, ln in enumerate(lines, 1)
    )


def visit(*lines: Line, day: date = SERVICE_DATE, acct: bool = False, med_type: str = "11",
          exclusion: str | None = None) -> Claim:
    """A hospital bill under one visit serial number."""
    return Claim(kind=VISIT, date=day, med_type=med_type, acct_used_flag=acct, lines=_numbered(lines),
                 exclusion=exclusion)


def purchase(*lines: Line, day: date = SERVICE_DATE, acct: bool = False, delivery_fee: str = "0.00") -> Claim:
    """A pharmacy purchase on an e-prescription."""
    return Claim(kind=PURCHASE, date=day, med_type="11", acct_used_flag=acct, lines=_numbered(lines),
                 delivery_fee=Decimal(delivery_fee))


def _amounts(kw: dict[str, Any]) -> dict[str, Any]:
    for name in ("cap_used_before", "balance_before", "deductible_paid_before"):
        if isinstance(kw.get(name), str):
            kw[name] = Decimal(kw[name])
    return kw


def at_hospital(level: int, *, psn_type: str = IN_SERVICE, designated: bool = True, **kw: Any) -> Context:
    """The member's state at a hospital of ``level`` (1 = primary and below)."""
    return Context(psn_type=psn_type, institution_kind="hospital", institution_level=level,
                   institution_designated=designated, **_amounts(kw))


def at_pharmacy(*, prescriber_level: int = 3, psn_type: str = IN_SERVICE, designated: bool = True,
                prescriber_designated: bool = True, **kw: Any) -> Context:
    """The member's state at a pharmacy, buying on a prescription from a ``prescriber_level`` hospital."""
    return Context(psn_type=psn_type, institution_kind="pharmacy", institution_level=None,
                   institution_designated=designated, prescriber_level=prescriber_level,
                   prescriber_designated=prescriber_designated, **_amounts(kw))


def settle(claim: Claim, ctx: Context, admdvs: str = XINYANG) -> Adjudication:
    """Adjudicate under the shipped policy of ``admdvs`` on the claim's date, with the explanation."""
    return adjudicate(claim, ctx, policy(admdvs, claim.date), explain=True)


def share_before_cap(adj: Adjudication) -> Decimal:
    """The pooled share (in-scope − deductible) × ratio, before the annual cap, from the trace."""
    [step] = [s for s in adj.trace if s.rule == "ratio"]
    return step.amounts["share"]
