"""What every aggregate of the ledger shares: explicit topics and message receipts.

Events carry explicit topics (``TOPIC``), so renaming a class never breaks stored events.
An event booked from an exchange message is :class:`Received`: it remembers the message's
business key and content fingerprint, which makes a resubmission idempotent and a reused
key with other content detectable.

Each aggregate class sets ``Event = LedgerEvent`` in its body: the ``eventsourcing`` library
otherwise defines a fresh base event class per aggregate and redefines nested events.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, ClassVar
from uuid import UUID

from eventsourcing.domain import AggregateCreated, AggregateEvent, BaseAggregate
from eventsourcing.utils import resolve_topic

from ledger.errors import ConflictError


class LedgerEvent(AggregateEvent):
    """Base of every event of the ledger."""


_submitter: ContextVar[dict[str, str] | None] = ContextVar("submitter", default=None)


@contextmanager
def submitted_by(submitter: dict[str, str]) -> Iterator[None]:
    """Stamp the events booked from messages within the block with who submitted them.

    The online service books each request inside this block (``paasid``, ``opter``, ``msgid``);
    a batch ingest has no submitter, and its events carry none.
    """
    token = _submitter.set(submitter)
    try:
        yield
    finally:
        _submitter.reset(token)


class Received(LedgerEvent):
    """An event booked from an exchange message, remembering the message's key and fingerprint."""

    key: str
    fingerprint: str
    submitted_by: ClassVar[dict[str, str] | None] = None
    """Who submitted the message, when the online service booked it: set on the event itself
    (so it is stored with it) only when there is one, so events booked without keep their form."""

    def __post_init__(self) -> None:
        super().__post_init__()
        submitter = _submitter.get()
        if submitter is not None:
            object.__setattr__(self, "submitted_by", submitter)

    def apply(self, aggregate: Any) -> None:
        """Record the receipt, then let the event change the aggregate."""
        aggregate.receipts[self.key] = self.fingerprint
        self.evolve(aggregate)

    def evolve(self, aggregate: Any) -> None:
        """Change the aggregate's state; events override this."""


class Created(LedgerEvent, AggregateCreated):
    """The first event of an aggregate: its ``apply`` sets the whole initial state.

    The library's own ``mutate`` for created events matches the event's attributes against
    the aggregate's ``__init__`` signature on every call; the ledger's aggregates have no
    ``__init__``, so it builds the object and applies the event directly. That assumes the
    library's ``__base_init__(id, version, timestamp)``: the one reach past its public API in
    the domain, pinned with the adapters' (``ledger.adapters.seam``) by
    ``tests/adapters/test_library_contract.py``, which also checks it builds what the library's
    own ``AggregateCreated.mutate`` builds.
    """

    def mutate(self, aggregate: Any) -> Any:
        """Construct the aggregate from this event."""
        assert aggregate is None
        created = object.__new__(resolve_topic(self.originator_topic))
        created.__base_init__(self.originator_id, self.originator_version, self.timestamp)
        self.apply(created)
        return created


class Founded(Received, Created):
    """The first event of an aggregate made by a message."""

    def apply(self, aggregate: Any) -> None:
        """Start the receipts, then record this one."""
        aggregate.receipts = {}
        super().apply(aggregate)


class LedgerAggregate(BaseAggregate[UUID]):
    """Base of the ledger's aggregates: receipts of the messages that changed it."""

    Event = LedgerEvent
    READ_CHECKED = False
    """A batch that read this aggregate and wrote others is saved only if it is still as read (see Region)."""

    if TYPE_CHECKING:  # state, annotated for readers; the library must not see it as fields
        receipts: dict[str, str]

    def already_received(self, key: str, fingerprint: str, field: str) -> bool:
        """True if this message was booked before; refuse the same key with other content."""
        booked = self.receipts.get(key)
        if booked is None:
            return False
        if booked != fingerprint:
            raise ConflictError(field, key)
        return True


def topics_of(aggregate: type[LedgerAggregate]) -> tuple[str, ...]:
    """The topics of every event ``aggregate`` declares, for a reader that follows that kind of stream only."""
    return tuple(sorted(str(vars(value)["TOPIC"]) for value in vars(aggregate).values()
                        if isinstance(value, type) and issubclass(value, LedgerEvent) and "TOPIC" in vars(value)))
