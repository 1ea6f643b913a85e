"""The one composition root: builds the ledger application from configuration.

The CLI, the HTTP service, the scripts and the tests all get their application here, so the
choice of store, policy library, cache size and snapshot intervals is made in one place.
Settings come from the arguments, else from the environment, else from the defaults:

- ``LEDGER_DB``: the database (``ledger.adapters.store``); ``LEDGER_EVENT_STORE``: ``core`` or ``sqlalchemy``;
- ``LEDGER_CACHE_SIZE``: aggregates of each kind kept in memory between batches (10,000: a whole
  year of a city larger than that ingests within 400 MB);
- ``LEDGER_SNAPSHOT_MEMBER`` / ``LEDGER_SNAPSHOT_REGION``: a snapshot every so many events (10 / 12);
- ``LEDGER_GC_YOUNG``: allocations between the collector's young-generation passes (50,000; Python's
  own is 700). The ledger keeps many small objects alive (the aggregate cache), and each of the
  collector's full passes walks all of them: at Python's default a month close spent over a
  quarter of its time there (docs/benchmarks.md).
"""

from __future__ import annotations

import gc
import os
from typing import TYPE_CHECKING

from ledger.adapters.store import Store
from ledger.domain.members import Member
from ledger.domain.regions import Region
from ledger.errors import LedgerError
from ledger.policy.files import default_library
from ledger.services.application import CACHE_SIZE, SNAPSHOT_INTERVALS, OutpatientPooling

if TYPE_CHECKING:
    from collections.abc import Mapping

    from ledger.domain.aggregate import LedgerAggregate
    from ledger.policy.parameters import PolicyLibrary

GC_YOUNG = 50_000
"""The collector's first threshold: fewer passes over the cache, with memory still flat (docs/benchmarks.md)."""

SNAPSHOT_SETTINGS = {Member: "LEDGER_SNAPSHOT_MEMBER", Region: "LEDGER_SNAPSHOT_REGION"}
"""The environment variable that sets each snapshotted aggregate's interval."""


class SettingError(LedgerError):
    """Raised when a setting in the environment is not usable."""


def _positive(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1:
        msg = f"{name} must be a positive whole number, not {raw!r}"
        raise SettingError(msg)
    return value


def snapshot_intervals() -> dict[type[LedgerAggregate], int]:
    """The snapshot interval of each snapshotted aggregate type, from the environment or the defaults."""
    return {kind: _positive(SNAPSHOT_SETTINGS[kind], every) for kind, every in SNAPSHOT_INTERVALS.items()}


def bootstrap(db: str | Store | None = None, *, library: PolicyLibrary | None = None,
              event_store: str | None = None, cache_size: int | None = None,
              intervals: Mapping[type[LedgerAggregate], int] | None = None,
              env: dict[str, str] | None = None) -> OutpatientPooling:
    """The application on the store at ``db`` (a URL, a parsed ``Store``, or ``LEDGER_DB``'s default).

    ``event_store`` picks the core or the SQLAlchemy recorder (``LEDGER_EVENT_STORE`` otherwise);
    ``library`` replaces the bundled policy files (what-if runs and tests of reforms);
    ``env`` goes to the ``eventsourcing`` library on top of the store's own settings.
    """
    store = db if isinstance(db, Store) else Store.parse(db, event_store)
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(_positive("LEDGER_GC_YOUNG", GC_YOUNG), older, oldest)
    return OutpatientPooling(
        store,
        library=library or default_library(),
        cache_size=_positive("LEDGER_CACHE_SIZE", CACHE_SIZE) if cache_size is None else cache_size,
        snapshot_intervals=snapshot_intervals() if intervals is None else intervals,
        env=env,
    )
