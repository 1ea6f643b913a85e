"""The facts a decision rests on: the claim as billed, and the member's state at that moment.

Both are recorded with every settlement, so an auditor can re-adjudicate it from the log
alone and get the same amounts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any, Final, Literal

from ledger.money import ZERO
from ledger.policy.catalogues import Listing
from ledger.rules.lines import Line

IN_SERVICE, RETIRED = "11", "12"
EMPLOYEE, FLEXIBLE = "employee", "flexible"
VISIT: Final = "visit"
PURCHASE: Final = "purchase"
REIMBURSED = "reimbursed"
"""A settlement's kind when the member paid in full and claimed the fund's share back (零星报销)."""
TEMPORARY = "temporary"
"""How a member is at an institution of another region without a remote-area registration (临时外出)."""


@dataclass(frozen=True)
class Claim:
    """A visit bill or a pharmacy purchase, as billed."""

    kind: Literal["visit", "purchase"]
    date: date
    med_type: str
    acct_used_flag: bool
    lines: tuple[Line, ...]
    delivery_fee: Decimal = ZERO
    exclusion: str | None = None
    catalogue: str | None = None
    """The catalogue the lines were looked up in (None: the region has none, or settled before catalogues)."""

    def as_record(self) -> dict[str, Any]:
        """JSON-ready form (Decimal and date are transcoded by the event store)."""
        record = dict(vars(self))
        record["lines"] = [{**vars(line), "listing": line.listing.as_record() if line.listing else None}
                           for line in self.lines]
        return record

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> Claim:
        """Inverse of :meth:`as_record`."""
        lines = tuple(Line(**{**line, "listing": Listing.from_record(line["listing"]) if line.get("listing") else None})
                      for line in record["lines"])
        return cls(**{**record, "lines": lines})


@dataclass(frozen=True)
class Context:
    """What the ledger knew of the member, the institution and the visit when it decided."""

    psn_type: str
    """Benefit type in force on the service date (the retirement switch applied)."""
    institution_kind: Literal["hospital", "pharmacy"]
    institution_level: int | None
    institution_designated: bool
    hospitalised: bool = False
    suspended: bool = False
    family_doctor_here: bool = False
    """The member's contracted family doctor is at this (primary) institution."""
    prescriber_level: int | None = None
    prescriber_designated: bool | None = None
    prescriber_family_doctor: bool = False
    cap_used_before: Decimal = ZERO
    """Pooling fund already paid this insured year, before this claim."""
    balance_before: Decimal = ZERO
    """Personal-account balance before this claim."""
    deductible_paid_before: Decimal = ZERO
    """Deductible already paid under the same visit serial number (Datong art. 21)."""
    institution_admdvs: str | None = None
    """The institution's region, when it is not the member's (异地就医)."""
    remote_kind: str | None = None
    """At another region's institution: the member's registration kind there, or ``temporary``."""
    reimbursed: bool = False
    """Paid in full by the member and claimed back from the insured region (零星报销)."""
    notes: tuple[str, ...] = field(default=())
    flexible_worker: bool = False
    """Insured as a flexible worker (灵活就业人员)."""

    def as_record(self) -> dict[str, Any]:
        """JSON-ready form; ``flexible_worker`` only when set, so an employee's record is as it always was."""
        record = dict(vars(self))
        record["notes"] = list(self.notes)
        if not self.flexible_worker:
            del record["flexible_worker"]
        return record

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> Context:
        """Inverse of :meth:`as_record`."""
        return cls(**{**record, "notes": tuple(record.get("notes", ()))})
