"""Python's cyclic garbage collector, run less often during the long batch runs.

CPython collects its youngest generation every 700 net allocations, and from time to time
walks every tracked object in a full collection. A batch run (an ingest, a rebuild, an
audit, a what-if) keeps a large working set alive from start to end, the aggregate cache
above all, and allocates millions of short-lived objects that reference counting frees: the
full collections walk the working set again and again and find next to nothing. With the
thresholds below the collector costs a fraction of what it did, for the same peak memory
(figures in docs/benchmarks.md). The collector still runs, so a reference cycle is still freed, only later.
"""

from __future__ import annotations

import gc
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterator

BATCH_THRESHOLDS = (10_000, 10, 10)
"""A young collection every 10,000 net allocations (not 700); older generations as CPython's defaults."""


@contextmanager
def batch_collection() -> Iterator[None]:
    """Collect garbage at the batch thresholds inside the block; the previous ones come back after it."""
    before = gc.get_threshold()
    gc.set_threshold(*BATCH_THRESHOLDS)
    try:
        yield
    finally:
        gc.set_threshold(*before)
