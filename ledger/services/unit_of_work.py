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
from eventsourcing.persistence import IntegrityError

from ledger.adapters.prefetch import existing_ids
from ledger.domain.aggregate import LedgerAggregate

if TYPE_CHECKING:
    from collections.abc import Mapping

    from ledger.services.application import OutpatientPooling

TAgg = TypeVar("TAgg", bound=LedgerAggregate)


class StaleRead(IntegrityError):
    """What a unit of work read disagrees with itself (another writer saved in between): a write conflict."""


class AggregateCache:
    """Recently saved aggregates of the kinds read again and again, least recently used dropped first.

    Members, institutions, regions and policy versions are read by message after message, and
    a prescription by the purchases that follow it, usually soon; each kind has its own
    bound, so a run of prescriptions never pushes members out. A settlement or a visit is read
    again seldom (a reversal, a second bill) and is not kept.
    """

    def __init__(self, sizes: Mapping[type[LedgerAggregate], int]) -> None:
        self.sizes = dict(sizes)
        self._pools: dict[type[LedgerAggregate], OrderedDict[UUID, LedgerAggregate]] = {
            kind: OrderedDict() for kind in self.sizes}

    def take(self, aggregate_id: UUID) -> LedgerAggregate | None:
        """Remove and return the cached aggregate, if any."""
        for pool in self._pools.values():
            found = pool.pop(aggregate_id, None)
            if found is not None:
                return found
        return None

    def put(self, aggregate: LedgerAggregate) -> None:
        """Keep ``aggregate`` as the latest saved state of its id, if it is of a kind worth keeping."""
        kind = type(aggregate)
        pool = self._pools.get(kind)
        if pool is None:
            return
        pool[aggregate.id] = aggregate
        pool.move_to_end(aggregate.id)
        while len(pool) > self.sizes[kind]:
            pool.popitem(last=False)

    def clear(self) -> None:
        """Forget everything (after another writer may have changed the store)."""
        for pool in self._pools.values():
            pool.clear()

    def __contains__(self, aggregate_id: UUID) -> bool:
        return any(aggregate_id in pool for pool in self._pools.values())


class UnitOfWork:
    """The aggregates one batch of messages reads and changes."""

    def __init__(self, app: OutpatientPooling, cache: AggregateCache,
                 snapshotted: tuple[type[LedgerAggregate], ...] = ()) -> None:
        self.app = app
        self.cache = cache
        self.snapshotted = snapshotted
        """Aggregate types with snapshots; the others are replayed from their events alone."""
        self.aggregates: dict[UUID, LedgerAggregate] = {}
        self._missing: set[UUID] = set()
        self._touched: dict[UUID, int] = {}

    def get(self, cls: type[TAgg], aggregate_id: UUID) -> TAgg | None:
        """The aggregate with ``aggregate_id``, or None if the store has none."""
        found = self.aggregates.get(aggregate_id)
        if found is None and aggregate_id not in self._missing:
            found = self.cache.take(aggregate_id)
            if found is None:
                found = self._load(cls, aggregate_id)
                if found is None:
                    self._missing.add(aggregate_id)
                    return None
            self.aggregates[aggregate_id] = found
        if found is None:
            return None
        self._touched.setdefault(aggregate_id, len(found.pending_events))
        if not isinstance(found, cls):
            msg = f"aggregate {aggregate_id} is a {type(found).__name__}, not a {cls.__name__}"
            raise TypeError(msg)
        return found

    def _load(self, cls: type[TAgg], aggregate_id: UUID) -> LedgerAggregate | None:
        if issubclass(cls, self.snapshotted):
            try:
                return self.app.repository.get(aggregate_id)
            except AggregateNotFoundError:
                return None
        aggregate = None
        for event in self.app.events.get(aggregate_id):
            aggregate = event.mutate(aggregate)  # type: ignore[attr-defined]
        return aggregate

    def prefetch(self, ids: set[UUID]) -> None:
        """Ask the store once which of ``ids`` exist, so lookups of new ones cost no query."""
        unknown = {i for i in ids if i not in self.aggregates and i not in self._missing and i not in self.cache}
        found = existing_ids(self.app.recorder, unknown)
        if found is not None:
            self._missing.update(unknown - found)

    def add(self, aggregate: LedgerAggregate) -> None:
        """A new aggregate made in this unit of work."""
        self.aggregates[aggregate.id] = aggregate
        self._missing.discard(aggregate.id)
        self._touched.setdefault(aggregate.id, 0)

    def begin_message(self) -> None:
        """Start watching which aggregates the next message touches."""
        self._touched = {}

    def message_changed_anything(self) -> bool:
        """Whether the message since :meth:`begin_message` left events pending (a refusal must not)."""
        return any(len(self.aggregates[i].pending_events) != n for i, n in self._touched.items())

    def commit(self) -> int:
        """Save every pending event in one transaction; the aggregates go back to the cache."""
        changed = [a for a in self.aggregates.values() if a.pending_events]
        count = sum(len(a.pending_events) for a in changed)
        if changed:
            self.app.save_changed(changed)
        for aggregate in self.aggregates.values():
            self.cache.put(aggregate)
        self.aggregates.clear()
        self._missing.clear()
        return count

    def abandon(self) -> None:
        """Drop everything this unit of work holds; the store is untouched."""
        self.aggregates.clear()
        self._missing.clear()
