"""A unit of work over the event store: aggregates checked out, changed, saved atomically.

Several messages may share one unit of work (a batch): they see each other's changes, and
all their events are saved in one transaction. Aggregates are checked out of the
application's cache while a unit of work holds them, and only saved ones go back, so an
abandoned unit of work (a refused message, a failed commit) never leaves half-changed
state behind.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, TypeVar
from uuid import UUID

from eventsourcing.persistence import IntegrityError

from ledger.domain.aggregate import LedgerAggregate
from ledger.domain.ids import institution_id, member_id, policy_version_id, region_id
from ledger.domain.institutions import Institution
from ledger.domain.members import Member
from ledger.domain.policy_versions import PolicyVersion
from ledger.domain.regions import Region
from ledger.errors import InputError, PolicyNotInForceError, UnknownError
from ledger.policy.catalogues import Catalogue
from ledger.policy.files import default_catalogue
from ledger.refusals import RefusalCode

if TYPE_CHECKING:
    from collections.abc import Collection, Mapping
    from datetime import date

    from ledger.adapters.seam import Quiet
    from ledger.policy.parameters import Policy, PolicyLibrary

TAgg = TypeVar("TAgg", bound=LedgerAggregate)


class AggregateStore(Protocol):
    """Where a unit of work loads aggregates from and saves them to (``ledger.adapters.seam.Aggregates``)."""

    def load(self, cls: type[LedgerAggregate], aggregate_id: UUID) -> LedgerAggregate | None:
        """The aggregate as stored, or None if there is none."""

    def load_many(self, cls: type[LedgerAggregate], ids: Collection[UUID]) -> dict[UUID, LedgerAggregate] | None:
        """The stored aggregates among ``ids``, read together; None if the store cannot read them that way."""

    def existing(self, ids: Collection[UUID]) -> set[UUID] | None:
        """Which of ``ids`` are stored, in one question; None if the store cannot tell that way."""

    def would_snapshot(self, cls: type[LedgerAggregate], version: int, events: int) -> bool:
        """Whether saving ``events`` new events of an aggregate at ``version`` also snapshots it."""

    def save(self, aggregates: list[LedgerAggregate], read: Collection[LedgerAggregate] = (),
             quiet: Quiet | None = None) -> None:
        """Save the aggregates' pending events in one transaction, if what the batch read is as it was.

        Each of ``read`` must still be at its version, and no event ``quiet`` rules out appended
        past its position; otherwise nothing is saved and ``IntegrityError`` is raised, as for a
        version conflict.
        """


class StaleRead(IntegrityError):
    """What a unit of work read disagrees with itself (another writer saved in between): a write conflict."""


class AggregateCache:
    """Recently saved aggregates of the kinds read again and again, least recently used dropped first.

    Members, institutions, regions and policy versions are read by message after message, and
    a prescription by the purchases that follow it, days later (past the cache for most of a
    large city's purchases, which a batch therefore reads together); each kind has its own
    bound, so a run of prescriptions never pushes members out. A settlement or a visit is read
    again seldom (a reversal, a second bill) and is not kept.

    The online service's request threads and its booker share one cache, so every method
    holds a lock; units of work stay independent (an aggregate is checked out, then put back
    after its commit), and a stale copy put back is caught by the store's version check.
    """

    def __init__(self, sizes: Mapping[type[LedgerAggregate], int]) -> None:
        self.sizes = dict(sizes)
        self._pools: dict[type[LedgerAggregate], OrderedDict[UUID, LedgerAggregate]] = {
            kind: OrderedDict() for kind in self.sizes}
        self._lock = threading.Lock()

    def take(self, aggregate_id: UUID) -> LedgerAggregate | None:
        """Remove and return the cached aggregate, if any."""
        with self._lock:
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
        with self._lock:
            pool[aggregate.id] = aggregate
            pool.move_to_end(aggregate.id)
            while len(pool) > self.sizes[kind]:
                pool.popitem(last=False)

    def clear(self) -> None:
        """Forget everything (after another writer may have changed the store)."""
        with self._lock:
            for pool in self._pools.values():
                pool.clear()

    def __contains__(self, aggregate_id: UUID) -> bool:
        with self._lock:
            return any(aggregate_id in pool for pool in self._pools.values())


class UnitOfWork:
    """The aggregates one batch of messages reads and changes."""

    def __init__(self, store: AggregateStore, cache: AggregateCache) -> None:
        self.store = store
        self.cache = cache
        self.aggregates: dict[UUID, LedgerAggregate] = {}
        self._missing: set[UUID] = set()
        self._touched: dict[UUID, int] = {}
        self._read: dict[UUID, LedgerAggregate] = {}
        """Aggregates :meth:`load` read ahead, held here until asked for."""
        self._partial: set[UUID] = set()
        """Aggregates holding part of their state (:meth:`add_partial`): saved, never cached."""
        self.quiet: Quiet | None = None
        """The commit writes nothing if an event this rules out was appended past its position."""

    def get(self, cls: type[TAgg], aggregate_id: UUID) -> TAgg | None:
        """The aggregate with ``aggregate_id``, or None if the store has none."""
        found = self.aggregates.get(aggregate_id)
        if found is None and aggregate_id not in self._missing:
            # The cache first: what another unit of work saved since the read ahead is newer.
            found = self.cache.take(aggregate_id) or self._read.pop(aggregate_id, None)
            if found is None:
                found = self.store.load(cls, aggregate_id)
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

    def prefetch(self, ids: set[UUID]) -> None:
        """Ask the store once which of ``ids`` exist, so lookups of new ones cost no query."""
        unknown = {i for i in ids if i not in self.aggregates and i not in self._missing and i not in self.cache}
        found = self.store.existing(unknown)
        if found is not None:
            self._missing.update(unknown - found)

    def load(self, cls: type[LedgerAggregate], ids: Collection[UUID]) -> None:
        """Read those of ``ids`` neither held nor cached in one go, so the gets that follow cost no query.

        What is read waits aside until a get asks for it, so the unit of work holds (and saves)
        its aggregates in the order they are asked for, as if each had been read then. If the
        store cannot read many at once, each is read when it is asked for.
        """
        wanted = {i for i in ids if i not in self.aggregates and i not in self._read and i not in self._missing
                  and i not in self.cache}
        found = self.store.load_many(cls, wanted) if wanted else {}
        if found is None:
            return
        self._read.update(found)
        self._missing.update(wanted - found.keys())

    def add(self, aggregate: LedgerAggregate) -> None:
        """A new aggregate made in this unit of work."""
        self.aggregates[aggregate.id] = aggregate
        self._missing.discard(aggregate.id)
        self._touched.setdefault(aggregate.id, 0)

    def add_partial(self, aggregate: LedgerAggregate) -> None:
        """Save ``aggregate``'s pending events with the batch; it holds part of its state, so it is never cached.

        Nor may it be snapshotted: its events must not take it past a snapshot (:meth:`AggregateStore.would_snapshot`).
        """
        if self.store.would_snapshot(type(aggregate), aggregate.version - len(aggregate.pending_events),
                                     len(aggregate.pending_events)):
            raise ValueError(f"{aggregate.id} holds part of its state: it cannot be snapshotted")
        self.aggregates[aggregate.id] = aggregate
        self._partial.add(aggregate.id)

    def begin_message(self) -> None:
        """Start watching which aggregates the next message touches."""
        self._touched = {}

    def message_changed_anything(self) -> bool:
        """Whether the message since :meth:`begin_message` left events pending (a refusal must not)."""
        return any(len(self.aggregates[i].pending_events) != n for i, n in self._touched.items())

    def commit(self) -> int:
        """Save every pending event in one transaction; the aggregates go back to the cache.

        The aggregates read but left unchanged whose kind says so (``READ_CHECKED``, a region)
        must still be as read: another writer may have changed one since this process cached it.
        """
        changed = [a for a in self.aggregates.values() if a.pending_events]
        count = sum(len(a.pending_events) for a in changed)
        if changed:
            self.store.save(changed, [a for a in self.aggregates.values() if a.READ_CHECKED and not a.pending_events],
                            self.quiet)
        for aggregate in self.aggregates.values():
            if aggregate.id not in self._partial:
                self.cache.put(aggregate)
        self.abandon()
        return count

    def abandon(self) -> None:
        """Drop everything this unit of work holds; the store is untouched."""
        self.aggregates.clear()
        self._read.clear()
        self._partial.clear()
        self._missing.clear()
        self.quiet = None


class PeriodQueries(Protocol):
    """The read-model queries a month's prepayment is computed from."""

    def catch_up(self, *, progress: bool = False) -> int:
        """Bring the read models up to the log."""

    def pending_actuals(self, admdvs: str, through_day: str, through_position: int, counted_from: str | None = None,
                        after: tuple[str, int] | None = None) -> list[dict[str, Any]]:
        """Institutions' movements not yet prepaid."""


@dataclass
class Services:
    """What handlers need: the unit of work, the policy library, and the queries a late prepayment reads."""

    uow: UnitOfWork
    library: PolicyLibrary
    queries: PeriodQueries | None = None
    """Set by the application; a budget that arrives late prepays the months that waited for it."""
    catalogue: Catalogue = field(default_factory=default_catalogue)
    """The bureau's catalogue of items (class, payment standard, restrictions)."""

    def periods(self) -> PeriodQueries:
        """The period queries (a unit of work built without them cannot prepay)."""
        if self.queries is None:
            msg = "these services were built without the period queries"
            raise TypeError(msg)
        return self.queries

    def policy(self, admdvs: str, day: date, field: str = "date") -> Policy:
        """The policy in force; a date no file covers refuses the message."""
        try:
            return self.library.policy_for(admdvs, day)
        except PolicyNotInForceError as e:
            raise InputError(field, str(e), code=RefusalCode.NO_POLICY_IN_FORCE) from None

    def member(self, psn_no: str, field: str = "psn_no") -> Member:
        """A member we hold, or an unknown-member refusal."""
        found = self.uow.get(Member, member_id(psn_no))
        if found is None:
            raise UnknownError(field, "member", psn_no)
        return found

    def institution(self, fixmedins_code: str, field: str = "fixmedins_code") -> Institution:
        """An institution we hold, or an unknown-institution refusal."""
        found = self.uow.get(Institution, institution_id(fixmedins_code))
        if found is None:
            raise UnknownError(field, "institution", fixmedins_code)
        return found

    def region(self, admdvs: str) -> Region:
        """The region's aggregate, opened on first use."""
        found = self.uow.get(Region, region_id(admdvs))
        if found is None:
            found = Region.open(admdvs)
            self.uow.add(found)
        return found

    def record_policy(self, policy: Policy) -> None:
        """Keep a policy version in the log the first time anything uses it."""
        if self.uow.get(PolicyVersion, policy_version_id(policy.version)) is None:
            self.uow.add(PolicyVersion.record_version(policy.version, policy.as_record()))

    def check_region(self, admdvs: str, field: str = "admdvs") -> None:
        """Refuse a region without a policy profile."""
        if admdvs not in self.library.regions:
            raise InputError(field, f"no policy profile for region {admdvs}", code=RefusalCode.UNKNOWN_REGION)
