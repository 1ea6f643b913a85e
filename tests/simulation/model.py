"""An independent reference model of the money, for the simulation to check the ledger against.

It knows nothing of the ledger's code: it restates, from the articles, the few rules the
simulated city exercises, worked in Decimal, and what each message should come to.

- 信政办〔2022〕23号 第五条（一）: deductible per visit, 50.00 at level 3, 30.00 at level 2;
- 第五条（二）: the fund pays 50 % at level 3, 55 % at level 2, ten points more for the retired;
- 第五条（三）: at most 1500.00 a year in service, 2000.00 retired, used in service-date order,
  so whatever order the bills arrive in, a member's year pays min(cap, Σ each bill's share);
- 第八条: a monthly credit of 2 % of the month's contribution base in service (6000.00 → 120.00; a
  new base counts from the month it is dated in), 60.00 retired; none for a month whose last day
  falls in a suspension (an assumed reading: no contribution, no credit);
- 第十九条: nothing while in hospital (from the admission day to the day before discharge), nor
  while benefits are suspended (from the suspension to the day before they resume);
- a reversal (2208) takes its bill out; a repeat is present, the same key with other content refused;
- 第九条、第十条: an account payment beyond the balance is refused.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

DEDUCTIBLE = {3: Decimal("50.00"), 2: Decimal("30.00")}
RATIO = {3: Decimal("0.50"), 2: Decimal("0.55")}
RETIRED_EXTRA = Decimal("0.10")
CAP = {"11": Decimal("1500.00"), "12": Decimal("2000.00")}
CREDIT_RATE_IN_SERVICE, CREDIT_RETIRED = Decimal("0.02"), Decimal("60.00")
BASE = Decimal("6000.00")
ZERO = Decimal("0.00")


def fen(x: Decimal) -> Decimal:
    return x.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


@dataclass
class Bill:
    psn_no: str
    level: int
    day: date
    amount: Decimal
    reversed: bool = False


@dataclass
class Person:
    psn_type: str
    admitted: tuple[date, date] | None = None
    suspended: tuple[date, date] | None = None
    bases: list[tuple[date, Decimal]] = field(default_factory=lambda: [(date(1900, 1, 1), BASE)])
    credited: Decimal = ZERO
    used: Decimal = ZERO

    def credit(self, month_start: date, month_end: date) -> Decimal:
        if self.suspended and self.suspended[0] <= month_end < self.suspended[1]:
            return ZERO
        if self.psn_type == "12":
            return CREDIT_RETIRED
        base = max((b for b in self.bases if b[0] <= month_start), key=lambda b: b[0])[1]
        return fen(base * CREDIT_RATE_IN_SERVICE)


@dataclass
class Reference:
    """What the ledger should hold once every message of the run is booked."""

    people: dict[str, Person] = field(default_factory=dict)
    bills: dict[str, Bill] = field(default_factory=dict)
    fingerprints: dict[str, tuple] = field(default_factory=dict)

    def enrol(self, psn_no: str, psn_type: str) -> None:
        self.people[psn_no] = Person(psn_type)

    def settle(self, key: str, bill: Bill) -> str:
        """``booked``, ``present`` or ``refused`` (the same key with other content)."""
        content = (bill.psn_no, bill.level, bill.day, bill.amount)
        if key in self.fingerprints:
            return "present" if self.fingerprints[key] == content else "refused"
        self.fingerprints[key] = content
        self.bills[key] = bill
        return "booked"

    def reverse(self, key: str) -> str:
        if self.bills[key].reversed:
            return "present"
        self.bills[key].reversed = True
        return "booked"

    def admit(self, psn_no: str, start: date, end: date) -> None:
        self.people[psn_no].admitted = (start, end)

    def suspend(self, psn_no: str, start: date, end: date) -> None:
        self.people[psn_no].suspended = (start, end)

    def change_base(self, psn_no: str, day: date, base: Decimal) -> None:
        self.people[psn_no].bases.append((day.replace(day=1), base))

    def close_month(self, month_start: date, month_end: date) -> None:
        for person in self.people.values():
            person.credited += person.credit(month_start, month_end)

    def use_account(self, psn_no: str, amount: Decimal) -> str:
        person = self.people[psn_no]
        if amount > self.balance(psn_no):
            return "refused"
        person.used += amount
        return "booked"

    def share(self, bill: Bill) -> Decimal:
        """What the fund would pay for one bill, before the cap."""
        person = self.people[bill.psn_no]
        for start, end in filter(None, (person.admitted, person.suspended)):
            if start <= bill.day < end:
                return ZERO
        ratio = RATIO[bill.level] + (RETIRED_EXTRA if person.psn_type == "12" else 0)
        return fen(max(bill.amount - DEDUCTIBLE[bill.level], ZERO) * ratio)

    def cap_used(self, psn_no: str) -> Decimal:
        shares = sum((self.share(b) for b in self.bills.values() if b.psn_no == psn_no and not b.reversed), ZERO)
        return min(CAP[self.people[psn_no].psn_type], shares)

    def balance(self, psn_no: str) -> Decimal:
        person = self.people[psn_no]
        return person.credited - person.used

    def live_settlements(self) -> int:
        return sum(1 for b in self.bills.values() if not b.reversed)
