"""Designated institutions (定点医药机构): hospitals by level and retail pharmacies."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from ledger.domain.aggregate import Founded, LedgerAggregate, LedgerEvent, Received
from ledger.domain.ids import institution_id
from ledger.errors import InputError
from ledger.periods import month_end
from ledger.refusals import RefusalCode


class Institution(LedgerAggregate):
    """A hospital or pharmacy of one region, designated or not for outpatient pooling."""

    TOPIC = "yibao:Institution"
    Event = LedgerEvent

    if TYPE_CHECKING:  # state, annotated for readers; the library must not see it as fields
        fixmedins_code: str
        fixmedins_name: str
        admdvs: str
        kind: str
        level: int | None
        pooling_designated: bool
        category: str | None
        cost_history: dict[str, Decimal]
        covid_depressed_years: list[int]
        provincial_class_average: Decimal | None
        assessments: dict[str, Decimal]
        """Year-end assessment score per year."""
        reviews: dict[str, dict[str, Decimal]]
        """Overspend review per year: sampled_total and violation_amount."""
        remote_direct_settlement: bool
        """Offers remote-area direct settlement (异地就医直接结算)."""
        months: dict[str, dict[str, Any]]
        """Settlement applications per month ``YYYY-MM``: received_on, paid_on and the amounts."""

    class Registered(Founded):
        """Registered as a designated institution of ``admdvs``."""

        TOPIC = "yibao:Institution.Registered"
        class_version = 2
        day: date
        fixmedins_code: str
        fixmedins_name: str
        admdvs: str
        kind: str
        level: int | None
        pooling_designated: bool
        category: str | None
        cost_history: dict[str, Decimal]
        covid_depressed_years: list[int]
        provincial_class_average: Decimal | None
        remote_direct_settlement: bool

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            """Version 1 knew no remote direct settlement."""
            state["remote_direct_settlement"] = False

        def evolve(self, i: Institution) -> None:
            for name in ("fixmedins_code", "fixmedins_name", "admdvs", "kind", "level", "pooling_designated",
                         "category", "provincial_class_average", "remote_direct_settlement"):
                setattr(i, name, getattr(self, name))
            i.cost_history = dict(self.cost_history)
            i.covid_depressed_years = list(self.covid_depressed_years)
            i.assessments, i.reviews, i.months = {}, {}, {}

    class MonthReceived(Received):
        """The bureau received the institution's settlement application for ``month`` on ``day``."""

        TOPIC = "yibao:Institution.MonthReceived"
        day: date
        month: str
        fixmedins_code: str
        admdvs: str
        kind: str
        amount: Decimal | None

        def evolve(self, i: Institution) -> None:
            i.months[self.month] = {"received_on": self.day, "paid_on": None}

    class MonthPaid(Received):
        """The bureau paid the institution's ``month`` on ``day``."""

        TOPIC = "yibao:Institution.MonthPaid"
        day: date
        month: str
        fixmedins_code: str
        admdvs: str
        amount: Decimal | None

        def evolve(self, i: Institution) -> None:
            i.months[self.month]["paid_on"] = self.day

    class Assessed(Received):
        """The year-end assessment score (考核得分)."""

        TOPIC = "yibao:Institution.Assessed"
        day: date
        year: int
        score: Decimal

        def evolve(self, i: Institution) -> None:
            i.assessments[str(self.year)] = self.score

    class Reviewed(Received):
        """The overspend review result (焦医保〔2024〕32号 六（一）)."""

        TOPIC = "yibao:Institution.Reviewed"
        day: date
        year: int
        sampled_total: Decimal
        violation_amount: Decimal

        def evolve(self, i: Institution) -> None:
            i.reviews[str(self.year)] = {"sampled_total": self.sampled_total, "violation_amount": self.violation_amount}

    @classmethod
    def register(cls, *, key: str, fingerprint: str, **facts: Any) -> Institution:
        """A new institution, id derived from ``fixmedins_code``."""
        return cls._create(cls.Registered, id=institution_id(facts["fixmedins_code"]), key=key,
                           fingerprint=fingerprint, **facts)

    def assess(self, day: date, year: int, score: Decimal, key: str, fingerprint: str) -> None:
        """Record the assessment score for ``year``."""
        self.trigger_event(self.Assessed, day=day, year=year, score=score, key=key, fingerprint=fingerprint)

    def review(self, day: date, year: int, sampled_total: Decimal, violation_amount: Decimal, key: str,
               fingerprint: str) -> None:
        """Record the overspend review for ``year``."""
        self.trigger_event(self.Reviewed, day=day, year=year, sampled_total=sampled_total,
                           violation_amount=violation_amount, key=key, fingerprint=fingerprint)

    def receive_month(self, day: date, month: str, amount: Decimal | None, key: str, fingerprint: str) -> None:
        """Record the settlement application for ``month`` received on ``day`` (once a month)."""
        if month_end(month) >= day:
            raise InputError("date", f"the application for {month} cannot be received before the month ends",
                             code=RefusalCode.MONTH_NOT_ENDED)
        if month in self.months:
            raise InputError("month", f"{self.fixmedins_code}'s {month} was already received on "
                             f"{self.months[month]['received_on']}", code=RefusalCode.MONTH_ALREADY_RECEIVED)
        self.trigger_event(self.MonthReceived, day=day, month=month, fixmedins_code=self.fixmedins_code,
                           admdvs=self.admdvs, kind=self.kind, amount=amount, key=key, fingerprint=fingerprint)

    def pay_month(self, day: date, month: str, amount: Decimal | None, key: str, fingerprint: str) -> None:
        """Record the payment of ``month`` on ``day``: after its application was received, once."""
        entry = self.months.get(month)
        if entry is None:
            raise InputError("month", f"no application of {self.fixmedins_code} for {month} was received",
                             code=RefusalCode.MONTH_NOT_RECEIVED)
        if day < entry["received_on"]:
            raise InputError("date", f"paid before the application was received on {entry['received_on']}",
                             code=RefusalCode.PAID_BEFORE_RECEIVED)
        if entry["paid_on"] is not None:
            raise InputError("month", f"{self.fixmedins_code}'s {month} was already paid on {entry['paid_on']}",
                             code=RefusalCode.MONTH_ALREADY_PAID)
        self.trigger_event(self.MonthPaid, day=day, month=month, fixmedins_code=self.fixmedins_code,
                           admdvs=self.admdvs, amount=amount, key=key, fingerprint=fingerprint)

    def is_primary(self) -> bool:
        """A primary (基层, level 1 and below) hospital."""
        return self.kind == "hospital" and self.level == 1

