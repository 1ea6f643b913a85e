"""A pooling region (统筹地区): its budgets, closed months and years, and payments to institutions.

Pooling is by city (市级统筹): each region is paid and cleared on its own. Closing a month
or a year happens once; the region records what it paid each institution, so the year-end
clearing needs nothing but the region's own history and the institutions' facts.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from ledger.domain.aggregate import Created, LedgerAggregate, LedgerEvent, Received
from ledger.domain.ids import region_id
from ledger.errors import PeriodError
from ledger.periods import next_month
from ledger.refusals import RefusalCode


class Region(LedgerAggregate):
    """One pooling region, keyed by its administrative division code ``admdvs``."""

    TOPIC = "yibao:Region"
    Event = LedgerEvent
    READ_CHECKED = True
    """What a region records (its closed months, budgets, cleared years) decides what a write to its
    members or institutions must do: a member enrolled in a closed month is credited for it. A
    writer holding a region as it was before another writer closed a month must not act on it."""

    if TYPE_CHECKING:  # state, annotated for readers; the library must not see it as fields
        admdvs: str
        budgets: dict[str, Decimal]
        months: dict[str, dict[str, Any]]
        """Closed months ``YYYY-MM``: the payments made, and the log position they covered."""
        years: dict[str, dict[str, Any]]
        """Cleared years: the clearing rows."""
        deposits: dict[str, dict[str, dict[str, Any]]]
        """Per year and institution: the deposit withheld, and what was returned (None: not yet)."""

    class Opened(Created):
        """The region's first fact."""

        TOPIC = "yibao:Region.Opened"
        admdvs: str

        def apply(self, r: Region) -> None:
            r.admdvs, r.receipts = self.admdvs, {}
            r.budgets, r.months, r.years, r.deposits = {}, {}, {}, {}

    class BudgetSet(Received):
        """The annual outpatient pooling budget (总额预算)."""

        TOPIC = "yibao:Region.BudgetSet"
        day: date
        year: int
        amount: Decimal

        def evolve(self, r: Region) -> None:
            r.budgets[str(self.year)] = self.amount

    class MonthClosed(Received):
        """A month closed: accounts credited, and each institution prepaid (POLICY.md §6)."""

        TOPIC = "yibao:Region.MonthClosed"
        admdvs: str
        day: date
        month: str
        through_position: int
        """The last log position whose settlements this month's prepayment counted."""
        scheme: str
        policy_version: str
        credits: dict[str, Any]
        """How many accounts were credited, and the total."""
        payments: list[dict[str, Any]]
        """Per institution: actual, allocation, paid (cash), withheld, count, medfee, acct."""
        counted_from: str | None = None
        """The first day (ISO) the scheme counts: movements dated earlier are not its to prepay."""
        pending: dict[str, str] | None = None
        """Why the prepayment could not be computed at the close (``code``, ``reason``, ``article``)."""

        def evolve(self, r: Region) -> None:
            r.months[self.month] = {"through_position": self.through_position, "counted_from": self.counted_from,
                                    "payments": self.payments, "pending": self.pending}
            _withhold_deposits(r, self.month, self.payments)

    class MonthPrepaid(LedgerEvent):
        """A month's prepayment booked after its close, once what it waited for arrived (a budget)."""

        TOPIC = "yibao:Region.MonthPrepaid"
        admdvs: str
        day: date
        month: str
        through_position: int
        counted_from: str | None
        scheme: str
        policy_version: str
        payments: list[dict[str, Any]]
        resolves: str
        """The pending reason's code this prepayment resolves."""
        resolved_by: str
        """The message whose arrival made it computable (its business key)."""

        def apply(self, r: Region) -> None:
            r.months[self.month] = {**r.months[self.month], "payments": self.payments, "pending": None}
            _withhold_deposits(r, self.month, self.payments)

    class YearClosed(Received):
        """A year cleared: each institution's final amount settled against its prepayments (POLICY.md §7)."""

        TOPIC = "yibao:Region.YearClosed"
        admdvs: str
        day: date
        year: int
        scheme: str
        policy_version: str
        summary: dict[str, Any]
        rows: list[dict[str, Any]]

        def evolve(self, r: Region) -> None:
            r.years[str(self.year)] = {"summary": self.summary, "rows": self.rows}
            deposits = r.deposits.setdefault(str(self.year), {})
            for row in self.rows:
                if row["deposit_returned"] is not None:
                    deposits[row["fixmedins_code"]]["returned"] = row["deposit_returned"]

    class DepositReturned(Received):
        """A deposit returned after the year closed, when the assessment came later."""

        TOPIC = "yibao:Region.DepositReturned"
        admdvs: str
        day: date
        year: int
        fixmedins_code: str
        score: Decimal
        rate: Decimal
        withheld: Decimal
        returned: Decimal
        article: str

        def evolve(self, r: Region) -> None:
            r.deposits[str(self.year)][self.fixmedins_code]["returned"] = self.returned

    def pending_months(self) -> list[str]:
        """Closed months whose prepayment still waits, in order."""
        return sorted(m for m, facts in self.months.items() if facts.get("pending"))

    @classmethod
    def open(cls, admdvs: str) -> Region:
        """A region with nothing closed."""
        return cls._create(cls.Opened, id=region_id(admdvs), admdvs=admdvs)

    def set_budget(self, day: date, year: int, amount: Decimal, key: str, fingerprint: str) -> None:
        """Set the annual budget (once per year)."""
        self.trigger_event(self.BudgetSet, day=day, year=year, amount=amount, key=key, fingerprint=fingerprint)

    def check_can_close_month(self, month: str) -> None:
        """Refuse a second close, or a month before one already closed."""
        if month in self.months:
            raise PeriodError("month", f"{month} is already closed for region {self.admdvs}",
                              code=RefusalCode.MONTH_CLOSED)
        later = [m for m in self.months if m > month]
        if later:
            raise PeriodError("month", f"{month} comes before {max(later)}, which is already closed",
                              code=RefusalCode.MONTH_OUT_OF_ORDER)
        if self.months and month != next_month(max(self.months)):
            raise PeriodError("month", f"close {next_month(max(self.months))} before {month}",
                              code=RefusalCode.MONTH_OUT_OF_ORDER)
        if month[:4] in self.years:
            raise PeriodError("month", f"{month[:4]} is already cleared", code=RefusalCode.YEAR_CLOSED)

    def close_month(self, **facts: Any) -> None:
        """Record the month's close and the payments made."""
        self.check_can_close_month(facts["month"])
        self.trigger_event(self.MonthClosed, admdvs=self.admdvs, **facts)

    def check_can_close_year(self, year: int) -> None:
        """Refuse a second clearing, or a year whose December is still open."""
        if self.year_closed(year):
            raise PeriodError("year", f"{year} is already cleared for region {self.admdvs}",
                              code=RefusalCode.YEAR_CLOSED)
        if f"{year}-12" not in self.months:
            raise PeriodError("year", f"close {year}-12 before clearing {year}", code=RefusalCode.DECEMBER_OPEN)

    def close_year(self, **facts: Any) -> None:
        """Record the year's clearing."""
        self.check_can_close_year(facts["year"])
        self.trigger_event(self.YearClosed, admdvs=self.admdvs, **facts)

    def prepay_month(self, **facts: Any) -> None:
        """Book a pending month's prepayment."""
        self.trigger_event(self.MonthPrepaid, admdvs=self.admdvs, **facts)

    def return_deposit(self, **facts: Any) -> None:
        """Return a deposit held since the clearing."""
        self.trigger_event(self.DepositReturned, admdvs=self.admdvs, **facts)

    def year_closed(self, year: int) -> bool:
        """Whether ``year`` is cleared."""
        return str(year) in self.years

    def months_of(self, year: int) -> list[str]:
        """The closed months of ``year``, in order."""
        return sorted(m for m in self.months if m.startswith(f"{year}-"))


def _withhold_deposits(r: Region, month: str, payments: list[dict[str, Any]]) -> None:
    """Add a month's withheld deposits to the year's, per institution."""
    deposits = r.deposits.setdefault(month[:4], {})
    for row in payments:
        entry = deposits.setdefault(row["fixmedins_code"], {"withheld": Decimal("0.00"), "returned": None})
        entry["withheld"] += row["withheld"]
