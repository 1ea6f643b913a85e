"""A visit serial number (就诊流水号): the bills under it share one deductible (Datong art. 21).

A visit is recorded only once a deductible is charged under it; a pharmacy purchase in a
region that counts the deductible together with the prescriber (晋医保办发〔2023〕2号 二)
charges the prescribing visit.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from ledger.domain.aggregate import Created, LedgerAggregate, LedgerEvent
from ledger.domain.ids import visit_id
from ledger.money import ZERO


class Visit(LedgerAggregate):
    """The deductible paid so far under one visit serial number of one institution."""

    TOPIC = "yibao:Visit"
    Event = LedgerEvent

    if TYPE_CHECKING:  # state, annotated for readers; the library must not see it as fields
        fixmedins_code: str
        mdtrt_id: str
        psn_no: str
        charges: dict[str, Decimal]
        """Deductible charged per settlement (``setl_id``)."""

    class Opened(Created):
        """First deductible charged under this visit."""

        TOPIC = "yibao:Visit.Opened"
        fixmedins_code: str
        mdtrt_id: str
        psn_no: str

        def apply(self, v: Visit) -> None:
            v.fixmedins_code, v.mdtrt_id, v.psn_no = self.fixmedins_code, self.mdtrt_id, self.psn_no
            v.charges = {}
            v.receipts = {}

    class DeductibleCharged(LedgerEvent):
        """A bill paid part of the visit's deductible."""

        TOPIC = "yibao:Visit.DeductibleCharged"
        setl_id: str
        amount: Decimal

        def apply(self, v: Visit) -> None:
            v.charges[self.setl_id] = self.amount

    class DeductibleReleased(LedgerEvent):
        """A reversed or adjusted bill gives back (part of) its deductible."""

        TOPIC = "yibao:Visit.DeductibleReleased"
        setl_id: str
        amount: Decimal

        def apply(self, v: Visit) -> None:
            remaining = v.charges.get(self.setl_id, ZERO) - self.amount
            if remaining:
                v.charges[self.setl_id] = remaining
            else:
                v.charges.pop(self.setl_id, None)

    @classmethod
    def open(cls, fixmedins_code: str, mdtrt_id: str, psn_no: str) -> Visit:
        """A visit with nothing paid yet."""
        return cls._create(cls.Opened, id=visit_id(fixmedins_code, mdtrt_id), fixmedins_code=fixmedins_code,
                           mdtrt_id=mdtrt_id, psn_no=psn_no)

    @property
    def paid(self) -> Decimal:
        """Deductible paid so far under this visit."""
        return sum(self.charges.values(), ZERO)

    def charge(self, setl_id: str, amount: Decimal) -> None:
        """Record ``amount`` of deductible paid by settlement ``setl_id``."""
        self.trigger_event(self.DeductibleCharged, setl_id=setl_id, amount=amount)

    def release(self, setl_id: str, amount: Decimal) -> None:
        """Give back ``amount`` of what ``setl_id`` paid."""
        self.trigger_event(self.DeductibleReleased, setl_id=setl_id, amount=amount)
