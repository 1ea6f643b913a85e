"""Memory at scale (issue 23): what booking and auditing hold is bounded by settings, not by the members.

A city of a million members is ingested within 400 MB only if nothing the ingest keeps grows
with the member count: the aggregate cache is bounded by ``LEDGER_CACHE_SIZE``, and the rest
(the batch, the read models' buffers, the month close's batches) by their own sizes. Booking a
month for four times the members must therefore take well under four times the memory at its
peak. The audit likewise: it puts the members' credit facts aside in its scratch database and
checks them one member at a time. Measured with ``tracemalloc`` (allocations, not the process's resident size, which
the interpreter and the libraries dominate at this size); no time is asserted.
"""

from __future__ import annotations

import tracemalloc
from typing import TYPE_CHECKING

from ledger.demo.city import CitySpec, write_city
from ledger.services.audit import audit
from ledger.services.bootstrap import bootstrap
from ledger.services.ingest import ingest_file

if TYPE_CHECKING:
    from pathlib import Path

CACHE = 500
"""Aggregates of each kind kept: far fewer than the members, as at a million."""


def peak_of_booking_a_month(tmp_path: Path, members: int, *, then_audit: bool = False) -> int:
    """The peak of memory allocated while ingesting a month of a city of ``members`` (or, after, auditing it)."""
    city = tmp_path / f"city-{members}.jsonl"
    write_city(CitySpec(members=members, months=1, visits_per_member_month=0.02, hospitals=4, pharmacies=2), city)
    app = bootstrap(str(tmp_path / f"ledger-{members}.db"), cache_size=CACHE)
    tracemalloc.start()
    try:
        report = ingest_file(app, str(city))
        if then_audit:
            tracemalloc.reset_peak()
            assert audit(app).ok
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
        app.close()
    assert report.refused == 0
    assert report.booked > members  # the enrolments, the claims and the month's close
    return peak


def test_booking_a_month_for_four_times_the_members_takes_well_under_four_times_the_memory(tmp_path):
    small = peak_of_booking_a_month(tmp_path, 5_000)
    large = peak_of_booking_a_month(tmp_path, 20_000)
    assert large < 2 * small, f"peak {large / 2**20:.1f} MiB at 20,000 members, {small / 2**20:.1f} MiB at 5,000"


def test_auditing_four_times_the_members_takes_well_under_four_times_the_memory(tmp_path):
    small = peak_of_booking_a_month(tmp_path, 5_000, then_audit=True)
    large = peak_of_booking_a_month(tmp_path, 20_000, then_audit=True)
    assert large < 2 * small, f"peak {large / 2**20:.1f} MiB at 20,000 members, {small / 2**20:.1f} MiB at 5,000"
