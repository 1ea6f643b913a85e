"""Throughput of several processes booking at once, on one store (PostgreSQL is the point).

    python scripts/bench_concurrency.py --db postgresql://postgres@127.0.0.1:5432/postgres --processes 4

A synthetic city's institutions and members are booked first; its claims and member facts
are then split by member into one share per process (a member's messages stay in order in one
share), and the processes book their shares at the same time, in batches. The same shares are
booked by one process into another fresh database for comparison. Printed: settlements/s and
events/s for both, and the checks that nothing was lost or booked twice (the same settlements
and the same totals as the single process).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import sys
import time
from pathlib import Path
from typing import Any
from zlib import crc32

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import discard, fresh_db, workspace  # noqa: E402

from ledger.demo.city import CitySpec, write_city  # noqa: E402
from ledger.exchange.messages import parse_message  # noqa: E402
from ledger.services.application import BOOKED  # noqa: E402
from ledger.services.bootstrap import bootstrap  # noqa: E402

SETUP = ("institution.registered", "member.enrolled", "budget.set")
SKIPPED = ("month.closed", "year.closed", "institution.assessed", "institution.reviewed",
           "institution.month_received", "institution.month_paid")
"""Period runs and what follows from them: this measures booking claims, not closing months."""


def shares(city: Path, processes: int) -> tuple[list[bytes], list[list[bytes]]]:
    """The setup lines, and the other lines split by member."""
    setup: list[bytes] = []
    split: list[list[bytes]] = [[] for _ in range(processes)]
    share_of_claim: dict[str, int] = {}
    with open(city, "rb") as f:
        for line in f:
            raw = json.loads(line)
            if raw["type"] in SETUP:
                setup.append(line)
            elif raw["type"] not in SKIPPED:
                if "psn_no" in raw:
                    share = crc32(raw["psn_no"].encode()) % processes
                    if "medins_setl_id" in raw:
                        share_of_claim[raw["medins_setl_id"]] = share
                else:  # a reversal goes with the claim it reverses
                    share = share_of_claim[raw["medins_setl_id"]]
                split[share].append(line)
    return setup, split


def book(url: str, lines: list[bytes], batch: int = 200) -> tuple[int, int]:
    """Book ``lines`` in batches, leaving the read models to the caller (booking is what is timed)."""
    app = bootstrap(url)
    booked = refused = 0
    try:
        messages = [parse_message(line) for line in lines]
        for i in range(0, len(messages), batch):
            for outcome in app.book(messages[i:i + batch], catch_up=False):
                if outcome == BOOKED:
                    booked += 1
                elif not isinstance(outcome, str):
                    refused += 1
    finally:
        app.close()
    return booked, refused


def measured(base: str, workdir: Path, name: str, setup: list[bytes], work: list[list[bytes]]) -> dict[str, Any]:
    """:func:`run` on a fresh database, dropped afterwards."""
    url = fresh_db(base, workdir, name)
    try:
        return run(url, setup, work)
    finally:
        discard(base, url)


def run(url: str, setup: list[bytes], work: list[list[bytes]]) -> dict[str, Any]:
    book(url, setup)
    started = time.perf_counter()
    if len(work) == 1:
        results = [book(url, work[0])]
    else:
        with multiprocessing.get_context("spawn").Pool(len(work)) as pool:
            results = pool.starmap(book, [(url, share) for share in work])
    elapsed = time.perf_counter() - started
    app = bootstrap(url)
    app.catch_up()
    events = app.recorder.max_notification_id() or 0
    totals = app.region_totals(CitySpec().admdvs, CitySpec().year)
    app.close()
    settlements = sum(line.count(b'"type":"visit.settled"') + line.count(b'"type":"purchase.settled"')
                      for share in work for line in share)
    return {"seconds": elapsed, "booked": sum(b for b, _ in results), "refused": sum(r for _, r in results),
            "settlements_per_s": settlements / elapsed, "events": events, "totals": totals}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", default="", help="PostgreSQL server URL; SQLite files when omitted.")
    parser.add_argument("--processes", type=int, default=4)
    parser.add_argument("--members", type=int, default=2000)
    args = parser.parse_args()
    with workspace("ledger-concurrency-") as workdir:
        city = workdir / "city.jsonl"
        write_city(CitySpec(members=args.members, hospitals=max(4, args.members // 400)), city)
        setup, split = shares(city, args.processes)
        together = [line for share in split for line in share]
        one = measured(args.db, workdir, "one", setup, [together])
        many = measured(args.db, workdir, "many", setup, split)
    same = (one["booked"], one["refused"], one["totals"]) == (many["booked"], many["refused"], many["totals"])
    print(f"{len(together)} messages ({args.members} members), store {'postgresql' if args.db else 'sqlite'}")
    for name, r in (("1 process", one), (f"{args.processes} processes", many)):
        print(f"{name:<12} {r['seconds']:7.1f} s  {r['settlements_per_s']:8,.0f} settlements/s  "
              f"booked {r['booked']}, refused {r['refused']}, fund {r['totals']['fund']}")
    print(f"same results: {same}")
    if not same:
        sys.exit(1)


if __name__ == "__main__":
    main()
