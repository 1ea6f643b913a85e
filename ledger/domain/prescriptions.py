"""E-prescriptions (电子处方): issued in a visit, filled at designated pharmacies (POLICY.md §4)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from ledger.domain.aggregate import Founded, LedgerAggregate, LedgerEvent
from ledger.domain.ids import prescription_id
from ledger.money import ZERO


class Prescription(LedgerAggregate):
    """A prescription and what has been dispensed on it, where."""

    TOPIC = "yibao:Prescription"
    Event = LedgerEvent

    if TYPE_CHECKING:  # state, annotated for readers; the library must not see it as fields
        rx_no: str
        mdtrt_id: str
        psn_no: str
        fixmedins_code: str
        issued_on: date
        valid_through: date
        med_type: str
        chronic: bool
        long_term: bool
        drugs: dict[str, dict[str, Any]]
        """Per drug code: prescribed ``cnt`` and ``days``."""
        dispensed: dict[str, dict[str, Any]]
        """Per drug code: ``cnt`` dispensed so far and the institution ``at`` which it was bought."""
        fills: dict[str, dict[str, Decimal]]
        """Per settlement: the quantities it dispensed, so a reversal can give them back."""
        notes: list[str]
        """Lines issued over a limit that is only the rule, with the doctor's reason (the flag)."""

    class Issued(Founded):
        """Issued on ``day``; valid through ``valid_through`` (同医保办发〔2022〕1号 第十条)."""

        TOPIC = "yibao:Prescription.Issued"
        rx_no: str
        mdtrt_id: str
        psn_no: str
        fixmedins_code: str
        day: date
        valid_through: date
        med_type: str
        chronic: bool
        long_term: bool
        drugs: dict[str, dict[str, Any]]
        notes: list[str] | None = None
        """Lines passed over a limit that is only the rule (「一般不超过」), each with the doctor's reason."""

        def evolve(self, rx: Prescription) -> None:
            rx.rx_no, rx.mdtrt_id, rx.psn_no = self.rx_no, self.mdtrt_id, self.psn_no
            rx.fixmedins_code, rx.issued_on, rx.valid_through = self.fixmedins_code, self.day, self.valid_through
            rx.med_type, rx.chronic, rx.long_term = self.med_type, self.chronic, self.long_term
            rx.drugs = {code: dict(d) for code, d in self.drugs.items()}
            rx.dispensed, rx.fills, rx.notes = {}, {}, list(self.notes or ())

    class Dispensed(LedgerEvent):
        """Drugs dispensed at ``fixmedins_code`` by settlement ``setl_id``."""

        TOPIC = "yibao:Prescription.Dispensed"
        setl_id: str
        fixmedins_code: str
        quantities: dict[str, Decimal]
        split_reason: str = ""
        """Why the prescription is filled here as well as elsewhere (同医保办发〔2022〕1号 第十三条)."""

        def apply(self, rx: Prescription) -> None:
            for code, cnt in self.quantities.items():
                entry = rx.dispensed.setdefault(code, {"cnt": ZERO, "at": self.fixmedins_code})
                entry["cnt"] += cnt
            rx.fills[self.setl_id] = dict(self.quantities)

    class DispensingReversed(LedgerEvent):
        """A reversed purchase gives its quantities back to the prescription."""

        TOPIC = "yibao:Prescription.DispensingReversed"
        setl_id: str

        def apply(self, rx: Prescription) -> None:
            for code, cnt in rx.fills.pop(self.setl_id).items():
                entry = rx.dispensed[code]
                entry["cnt"] -= cnt
                if not entry["cnt"]:
                    del rx.dispensed[code]

    @classmethod
    def issue(cls, *, key: str, fingerprint: str, **facts: Any) -> Prescription:
        """A new prescription, id derived from ``rx_no``."""
        return cls._create(cls.Issued, id=prescription_id(facts["rx_no"]), key=key, fingerprint=fingerprint,
                           **facts)

    def dispense(self, setl_id: str, fixmedins_code: str, quantities: dict[str, Decimal], split_reason: str) -> None:
        """Record what a purchase dispensed, and why here when it was filled elsewhere too."""
        self.trigger_event(self.Dispensed, setl_id=setl_id, fixmedins_code=fixmedins_code, quantities=quantities,
                           split_reason=split_reason)

    def filled_at(self) -> set[str]:
        """The institutions at which anything on the prescription was dispensed."""
        return {entry["at"] for entry in self.dispensed.values()}

    def reverse_dispensing(self, setl_id: str) -> None:
        """Give back what a reversed purchase dispensed."""
        if setl_id in self.fills:
            self.trigger_event(self.DispensingReversed, setl_id=setl_id)

    def remaining(self, code: str) -> Decimal:
        """How much of drug ``code`` may still be dispensed."""
        done = self.dispensed.get(code, {}).get("cnt", ZERO)
        return Decimal(self.drugs[code]["cnt"]) - done

    def bought_at(self, code: str) -> str | None:
        """Where drug ``code`` was bought, if it was."""
        entry = self.dispensed.get(code)
        return entry["at"] if entry else None
