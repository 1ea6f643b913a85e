"""Designated institutions (定点医药机构): hospitals by level and retail pharmacies."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from ledger.domain.aggregate import Founded, LedgerAggregate, LedgerEvent, Received
from ledger.domain.ids import institution_id


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

    class Registered(Founded):
        """Registered as a designated institution of ``admdvs``."""

        TOPIC = "yibao:Institution.Registered"
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

        def evolve(self, i: Institution) -> None:
            for name in ("fixmedins_code", "fixmedins_name", "admdvs", "kind", "level", "pooling_designated",
                         "category", "provincial_class_average"):
                setattr(i, name, getattr(self, name))
            i.cost_history = dict(self.cost_history)
            i.covid_depressed_years = list(self.covid_depressed_years)
            i.assessments, i.reviews = {}, {}

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

    def is_primary(self) -> bool:
        """A primary (基层, level 1 and below) hospital."""
        return self.kind == "hospital" and self.level == 1
