"""The narrow collaborators the service modules take, instead of the whole application.

Each service module names what it uses of the application as a small ``Protocol`` here (the
unit of work's own, ``AggregateStore``, sits beside it in ``unit_of_work``);
``OutpatientPooling`` satisfies them all, and a test may pass anything that does. No service
module imports the application itself (only the composition root, ``bootstrap``, does), so the
service layer has no import cycle.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

from ledger.errors import LedgerError
from ledger.services.unit_of_work import PeriodQueries

if TYPE_CHECKING:
    from collections.abc import Collection, Iterator
    from contextlib import AbstractContextManager
    from datetime import date
    from uuid import UUID

    from eventsourcing.persistence import Notification
    from sqlalchemy import Engine

    from ledger.adapters.store import Store
    from ledger.exchange.messages import Message
    from ledger.policy.parameters import PolicyLibrary
    from ledger.projections.runner import EventSource
    from ledger.services.unit_of_work import Services

BOOKED, PRESENT = "booked", "present"
PERIOD_TYPES = ("month.closed", "year.closed")

Outcome = str | LedgerError
"""``booked``, ``present`` (booked before, nothing done), or the error that refused the message."""

class LogHead(Protocol):
    """The event log's position so far."""

    def max_notification_id(self) -> int | None:
        """The position of the last event recorded (None before the first)."""


class NotificationLog(LogHead, Protocol):
    """The event log read in order."""

    def select_notifications(self, start: int | None, limit: int, stop: int | None = None,
                             topics: Sequence[str] = (), *, inclusive_of_start: bool = True) -> Sequence[Notification]:
        """Up to ``limit`` events from position ``start`` on."""


class ReadModels(Protocol):
    """The read models, caught up with the log on request."""

    def catch_up(self, *, progress: bool = False, stop: int | None = None) -> int:
        """Project every event the read models have not seen; returns how many were read."""


CreditPage = tuple[list["UUID"], dict["UUID", tuple[dict[str, Any], int]]]
"""A page of a region's members, in id order, and those of them a credit can be booked for from their standing."""


class PeriodRun(PeriodQueries, Protocol):
    """What closing a month or a year needs: units of work, the log's head, the roster and the movements."""

    @property
    def recorder(self) -> LogHead:
        """The event log (its head fixes what a month's prepayment covers)."""

    @property
    def read_models(self) -> ReadModels:
        """The read models the roster queries read."""

    def services(self) -> Services:
        """A fresh unit of work with the policy library."""

    def pages_to_credit(self, admdvs: str, on: str, after: str, month: str, size: int) -> Iterator[CreditPage]:
        """A region's members on a date past member id ``after``, ``size`` at a time, each page with its standings."""

    def members_written_since(self, position: int) -> list[UUID]:
        """The members whose streams took an event other than a credit past ``position``, in the order they did."""

    def standings_to_credit(self, ids: Collection[UUID], month: str) -> dict[UUID, tuple[dict[str, Any], int]]:
        """Those of ``ids`` a credit for ``month`` can be booked for from their standing: (standing, version)."""

    def last_credited(self, admdvs: str, month: str, since: int) -> str | None:
        """The member of a region credited last for ``month``, looking past log position ``since``."""

    def credits_of_month(self, admdvs: str, month: str) -> dict[str, Any]:
        """How many of the region's accounts the log shows credited for a month, and the total."""

    def projecting_alongside(self) -> AbstractContextManager[None]:
        """A second process catches the read models up with the log while the block runs."""


class Booking(Protocol):
    """What an ingest needs: batches booked, periods closed, the read models caught up at the end."""

    @property
    def library(self) -> PolicyLibrary:
        """The policy files in force (the window of dates a line may carry is a parameter)."""

    def log_present(self) -> date | None:
        """The latest effective date among the log's last events: where the log's present is."""

    @property
    def engine(self) -> Engine:
        """The database the ingest checkpoints while it writes."""

    def book(self, messages: Sequence[Message], *, catch_up: bool = True) -> list[Outcome]:
        """Book a batch in one transaction; ``catch_up=False`` leaves the read models for later."""

    def close_period(self, msg: Message, *, refuse_repeat: bool = False, catch_up: bool = True) -> Outcome:
        """Run a month or year close; ``catch_up=False`` leaves the read models for later."""

    def catch_up(self, *, progress: bool = False) -> int:
        """Bring the read models up to the log."""


class SettlementLog(Protocol):
    """What a what-if replay reads: the log of events and the policy library."""

    @property
    def library(self) -> PolicyLibrary:
        """The policy files in force."""

    def event_source(self) -> EventSource:
        """The event log as the read models read it."""


class AuditedLedger(Protocol):
    """What an audit or an export reads of the live ledger."""

    name: str
    """The application's name, which names its events table (a second process reads the log by it)."""

    @property
    def store(self) -> Store:
        """Where the ledger lives (named in the report)."""

    @property
    def engine(self) -> Engine:
        """The live read models' database."""

    @property
    def recorder(self) -> NotificationLog:
        """The event log."""

    @property
    def read_models(self) -> ReadModels:
        """The live read models."""

    def event_source(self) -> EventSource:
        """The event log as the read models read it."""
