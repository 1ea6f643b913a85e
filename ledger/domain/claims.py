"""Settlements (结算): a visit bill or pharmacy purchase, adjudicated, and its later corrections.

The id is derived from the sender's key ``medins_setl_id``, so a retried submission finds
the original and books nothing twice. A settlement is never rewritten: a reversal (2208)
and an adjustment after a backdated fact are new events beside the original.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from ledger.domain.aggregate import Founded, LedgerAggregate, LedgerEvent, Received
from ledger.domain.ids import settlement_id
from ledger.errors import InputError
from ledger.refusals import RefusalCode

MONEY_FIELDS = ("medfee_sumamt", "fulamt_ownpay_amt", "overlmt_selfpay", "preselfpay_amt", "inscp_scp_amt",
                "act_pay_dedc", "hifp_pay", "fund_pay_sumamt", "psn_part_amt", "acct_pay", "psn_cash_pay")


class Settlement(LedgerAggregate):
    """One settled claim and its history of corrections."""

    TOPIC = "yibao:Settlement"
    Event = LedgerEvent

    if TYPE_CHECKING:  # state, annotated for readers; the library must not see it as fields
        setl_id: str
        medins_setl_id: str
        kind: str
        psn_no: str
        fixmedins_code: str
        admdvs: str
        mdtrt_id: str
        rx_no: str | None
        service_date: date
        setl_date: date
        claim: dict[str, Any]
        context: dict[str, Any]
        policy_version: str
        result: dict[str, Any]
        """The current result: the original, or the latest adjustment's."""
        deductible_pool: list[str] | None
        """[fixmedins_code, mdtrt_id] of the visit whose deductible this bill counts toward, if any."""
        reversed_on: date | None
        adjustments: int

    class Settled(Founded):
        """Adjudicated and booked."""

        TOPIC = "yibao:Settlement.Settled"
        setl_id: str
        medins_setl_id: str
        kind: str
        psn_no: str
        fixmedins_code: str
        admdvs: str
        mdtrt_id: str
        rx_no: str | None
        day: date
        setl_date: date
        claim: dict[str, Any]
        context: dict[str, Any]
        policy_version: str
        result: dict[str, Any]
        deductible_pool: list[str] | None
        opens_visit: bool
        """The first live bill under its visit serial number: the visit counts once (人次)."""

        def evolve(self, s: Settlement) -> None:
            for name in ("setl_id", "medins_setl_id", "kind", "psn_no", "fixmedins_code", "admdvs", "mdtrt_id",
                         "rx_no", "setl_date", "claim", "context", "policy_version", "result", "deductible_pool"):
                setattr(s, name, getattr(self, name))
            s.service_date = self.day
            s.reversed_on = None
            s.adjustments = 0

    class Reversed(Received):
        """Undone (2208): its fund and account payments are given back."""

        TOPIC = "yibao:Settlement.Reversed"
        day: date
        reason: str
        mdtrt_id: str
        closes_visit: bool
        """No live bill is left under its visit serial number: the visit no longer counts."""
        medins_setl_id: str
        psn_no: str
        fixmedins_code: str
        admdvs: str
        kind: str
        result: dict[str, Any]
        """The result being undone, so the reversal's amounts stand in the log on their own."""

        def evolve(self, s: Settlement) -> None:
            s.reversed_on = self.day

    class Adjusted(LedgerEvent):
        """Re-adjudicated after a backdated fact: the new result and the difference booked."""

        TOPIC = "yibao:Settlement.Adjusted"
        day: date
        reason: str
        mdtrt_id: str
        claim: dict[str, Any]
        medins_setl_id: str
        psn_no: str
        fixmedins_code: str
        admdvs: str
        kind: str
        cause: str
        context: dict[str, Any]
        policy_version: str
        result: dict[str, Any]
        delta: dict[str, Decimal]

        def apply(self, s: Settlement) -> None:
            s.context, s.policy_version, s.result = self.context, self.policy_version, self.result
            s.adjustments += 1

    @classmethod
    def settle(cls, *, medins_setl_id: str, key: str, fingerprint: str, **facts: Any) -> Settlement:
        """Book an adjudicated claim; the id comes from ``medins_setl_id``."""
        sid = settlement_id(medins_setl_id)
        return cls._create(cls.Settled, id=sid, setl_id=str(sid), medins_setl_id=medins_setl_id, key=key,
                           fingerprint=fingerprint, **facts)

    def reverse(self, day: date, reason: str, key: str, fingerprint: str, *, closes_visit: bool) -> None:
        """Undo this settlement, once."""
        if self.reversed_on is not None:
            raise InputError("medins_setl_id", f"{self.medins_setl_id} was already reversed on {self.reversed_on}",
                             code=RefusalCode.ALREADY_REVERSED)
        if day < self.service_date:
            raise InputError("date", f"a reversal cannot precede the settlement's date {self.service_date}",
                             code=RefusalCode.REVERSAL_BEFORE_SETTLEMENT)
        self.trigger_event(self.Reversed, day=day, reason=reason, result=self.result, key=key,
                           fingerprint=fingerprint, closes_visit=closes_visit, **self._identity())

    def adjust(self, *, day: date, reason: str, cause: str, context: dict[str, Any], policy_version: str,
               result: dict[str, Any]) -> dict[str, Decimal]:
        """Book a re-adjudication; returns the difference per amount (new − current)."""
        delta = {name: result[name] - self.result[name] for name in MONEY_FIELDS}
        self.trigger_event(self.Adjusted, day=day, reason=reason, cause=cause, claim=self.claim, context=context,
                           policy_version=policy_version, result=result, delta=delta, **self._identity())
        return delta

    def _identity(self) -> dict[str, str]:
        """Who and where, repeated on each correction so readers of the log need no lookup."""
        return {"medins_setl_id": self.medins_setl_id, "psn_no": self.psn_no, "fixmedins_code": self.fixmedins_code,
                "admdvs": self.admdvs, "kind": self.kind, "mdtrt_id": self.mdtrt_id}
