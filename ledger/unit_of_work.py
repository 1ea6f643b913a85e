"""A unit of work over the event store: aggregates checked out, changed, saved atomically.

Several messages may share one unit of work (a batch): they see each other's changes, and
all their events are saved in one transaction. Aggregates are checked out of the
application's cache while a unit of work holds them, and only saved ones go back, so an
abandoned unit of work (a refused message, a failed commit) never leaves half-changed
state behind.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import TYPE_CHECKING, TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError

from ledger.aggregate import LedgerAggregate

if TYPE_CHECKING:
    from eventsourcing.application import Application

TAgg = TypeVar("TAgg", bound=LedgerAggregate)


class AggregateCache:
    """Recently saved aggregates, least recently used dropped first."""

    def __init__(self, maxsize: int) -> None:
        self.maxsize = maxsize
        self._items: OrderedDict[UUID, LedgerAggregate] = OrderedDict()

    def take(self, aggregate_id: UUID) -> LedgerAggregate | None:
        """Remove and return the cached aggregate, if any."""
        return self._items.pop(aggregate_id, None)

    def put(self, aggregate: LedgerAggregate) -> None:
        """Keep ``aggregate`` as the latest saved state of its id."""
        self._items[aggregate.id] = aggregate
        self._items.move_to_end(aggregate.id)
        while len(self._items) > self.maxsize:
            self._items.popitem(last=False)

    def clear(self) -> None:
        """Forget everything (after another writer may have changed the store)."""
        self._items.clear()


class UnitOfWork:
    """The aggregates one batch of messages reads and changes."""

    def __init__(self, app: Application[UUID], cache: AggregateCache) -> None:
        self.app = app
        self.cache = cache
        self.aggregates: dict[UUID, LedgerAggregate] = {}
        self._missing: set[UUID] = set()

    def get(self, cls: type[TAgg], aggregate_id: UUID) -> TAgg | None:
        """The aggregate with ``aggregate_id``, or None if the store has none."""
        found = self.aggregates.get(aggregate_id)
        if found is None and aggregate_id not in self._missing:
            found = self.cache.take(aggregate_id)
            if found is None:
                try:
                    found = self.app.repository.get(aggregate_id)
                except AggregateNotFoundError:
                    self._missing.add(aggregate_id)
                    return None
            self.aggregates[aggregate_id] = found
        if found is None:
            return None
        if not isinstance(found, cls):
            msg = f"aggregate {aggregate_id} is a {type(found).__name__}, not a {cls.__name__}"
            raise TypeError(msg)
        return found

    def add(self, aggregate: LedgerAggregate) -> None:
        """A new aggregate made in this unit of work."""
        self.aggregates[aggregate.id] = aggregate
        self._missing.discard(aggregate.id)

    def pending(self) -> int:
        """How many events wait to be saved (to tell whether a refusal left any behind)."""
        return sum(len(a.pending_events) for a in self.aggregates.values())

    def commit(self) -> int:
        """Save every pending event in one transaction; the aggregates go back to the cache."""
        changed = [a for a in self.aggregates.values() if a.pending_events]
        count = sum(len(a.pending_events) for a in changed)
        if changed:
            self.app.save(*changed)
        for aggregate in self.aggregates.values():
            self.cache.put(aggregate)
        self.aggregates.clear()
        self._missing.clear()
        return count

    def abandon(self) -> None:
        """Drop everything this unit of work holds; the store is untouched."""
        self.aggregates.clear()
        self._missing.clear()
