"""Benchmark a month close against the bare event store appending as many events, in one run, on one store.

    python scripts/bench_close.py --members 20000             # a SQLite file in a temporary folder
    python scripts/bench_close.py --members 100000 --db postgresql://postgres@127.0.0.1:5432/postgres

Phases (each in its own process, so its peak memory is its own):

- enrol: ``--members`` members enrolled in one region (plain ``member.enrolled`` messages, in
  batches) and the read models caught up; then ``--months`` - 1 months closed, so each member
  has a few events before the month measured;
- close: the next month's ``month.closed``, timed: every member's credit booked, the read
  models caught up, the region's close recorded;
- floor: the bare ``eventsourcing`` application appends one event to each of as many existing
  streams (written untimed beforehand), of the credits' mean size, in transactions of the
  close's batch size;
- queries (``--queries N``): after the close, with every member in the store, the latency of
  ``balance`` and ``cap`` in process, and of 1101 (the person and the account) and 5206 (the
  year's cap used) over HTTP from one client to ``ledger serve`` (one worker), each for N
  members drawn at random (p50, p99), and the same requests to the bare HTTP stack.

Prints credits/s, the ratio to the floor, and the close's time extrapolated to 1,000,000
members at this rate (an extrapolation, not a measurement).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
import uuid
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import discard, fresh_db, peak_rss_mb, workspace  # noqa: E402
from bench_service import counter_latencies, percentile  # noqa: E402

from ledger.exchange.messages import validate_message  # noqa: E402
from ledger.services import closing  # noqa: E402
from ledger.services.bootstrap import bootstrap  # noqa: E402

ADMDVS = "411500"
"""Xinyang: every in-service member is credited each month (信政办〔2022〕23号 第八条)."""
YEAR = 2024
ENROL_BATCH = 2000
MILLION = 1_000_000
HOSPITAL = "H1"
"""The counter the service's queries are asked at."""


def _month(number: int) -> dict[str, str]:
    from ledger.periods import month_end

    month = f"{YEAR}-{number:02d}"
    return {"type": "month.closed", "date": month_end(month).isoformat(), "admdvs": ADMDVS, "month": month}


def phase_enrol(args: argparse.Namespace) -> dict[str, Any]:
    app = bootstrap(args.db)
    started = time.perf_counter()
    app.book([validate_message({"type": "institution.registered", "date": f"{YEAR}-01-01", "fixmedins_code": HOSPITAL,
                                "admdvs": ADMDVS, "kind": "hospital", "level": 1, "pooling_designated": True})])
    for first in range(0, args.members, ENROL_BATCH):
        app.book([validate_message({"type": "member.enrolled", "date": f"{YEAR}-01-01", "psn_no": f"P{n:08d}",
                                    "admdvs": ADMDVS, "psn_type": "11" if n % 4 else "12",
                                    "contribution_base": f"{4000 + n % 5000}.00"})
                  for n in range(first, min(args.members, first + ENROL_BATCH))], catch_up=False)
    app.catch_up()
    for number in range(1, args.months):
        app.close_period(validate_message(_month(number)))
    seconds = time.perf_counter() - started
    app.close()
    return {"seconds": seconds}


def phase_close(args: argparse.Namespace) -> dict[str, Any]:
    app = bootstrap(args.db)
    before = app.recorder.max_notification_id() or 0
    msg = validate_message(_month(args.months))
    started = time.perf_counter()
    outcome = app.close_period(msg)
    seconds = time.perf_counter() - started
    peak = peak_rss_mb()
    sizes = [len(n.state) for n in app.recorder.select_notifications(before + 1, 5000,
                                                                      topics=["yibao:Member.AccountCredited"])]
    credits = app.credits_of_month(ADMDVS, msg.month)["members"]  # type: ignore[attr-defined]
    app.close()
    return {"outcome": str(outcome), "credits": credits,
            "seconds": seconds, "mean_event_bytes": sum(sizes) / max(1, len(sizes)), "peak_rss_mb": peak}


def phase_floor(args: argparse.Namespace) -> dict[str, Any]:
    from eventsourcing.application import Application
    from eventsourcing.domain import Aggregate, event

    from ledger.adapters.store import Store

    class Account(Aggregate):
        @event("Credited")
        def credit(self, text: str) -> None:
            self.last = text

    app: Application[uuid.UUID] = Application(env=Store.parse(args.db).event_store_env())
    accounts = [Account() for _ in range(args.members)]
    probe = Account()
    probe.credit("")
    text = "x" * max(1, round(args.size) - len(app.mapper.to_stored_event(probe.collect_events()[-1]).state))
    batch = closing.CREDIT_BATCH
    for first in range(0, len(accounts), batch):  # the streams, untimed
        app.save(*accounts[first:first + batch])
    started = time.perf_counter()
    for first in range(0, len(accounts), batch):
        for account in accounts[first:first + batch]:
            account.credit(text)
        app.save(*accounts[first:first + batch])
    seconds = time.perf_counter() - started
    app.close()
    return {"events": len(accounts), "append_events_per_s": len(accounts) / seconds, "peak_rss_mb": peak_rss_mb()}


def phase_queries(args: argparse.Namespace) -> dict[str, Any]:
    app = bootstrap(args.db)
    rng = random.Random(5)
    sample = [f"P{rng.randrange(args.members):08d}" for _ in range(args.queries)]
    times: dict[str, list[float]] = {"balance": [], "cap": []}
    try:
        for psn_no in sample:
            for name, ask in (("balance", app.balance), ("cap", lambda p: app.cap(p, YEAR))):
                started = time.perf_counter()
                ask(psn_no)
                times[name].append(time.perf_counter() - started)
    finally:
        app.close()
    times.update(counter_latencies(args.db, HOSPITAL, sample, f"{YEAR}{args.months:02d}", args.port))
    return {name: {"p50_ms": percentile(values, 0.5), "p99_ms": percentile(values, 0.99)}
            for name, values in times.items()}


PHASES = {"enrol": phase_enrol, "close": phase_close, "floor": phase_floor, "queries": phase_queries}


def run_phase(name: str, **options: Any) -> dict[str, Any]:
    """Run a phase in a fresh process (its peak memory its own) and return its figures."""
    with ProcessPoolExecutor(1, mp_context=get_context("spawn")) as pool:
        return pool.submit(PHASES[name], argparse.Namespace(**options)).result()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--members", type=int, default=20_000)
    parser.add_argument("--months", type=int, default=2, help="The month closed and timed (earlier ones untimed).")
    parser.add_argument("--db", default="", help="PostgreSQL server URL; SQLite files when omitted.")
    parser.add_argument("--queries", type=int, default=0, help="Members asked about after the close (0: none).")
    parser.add_argument("--port", type=int, default=18090, help="The service's port for the queries.")
    parser.add_argument("--json", dest="json_out", default="", help="Write the figures to this file.")
    args = parser.parse_args()

    with workspace("ledger-bench-close-") as workdir:
        db = fresh_db(args.db, workdir, "close")
        floor_db = fresh_db(args.db, workdir, "floor")
        try:
            enrol = run_phase("enrol", db=db, members=args.members, months=args.months)
            close = run_phase("close", db=db, members=args.members, months=args.months)
            queries = run_phase("queries", db=db, members=args.members, months=args.months,
                                queries=args.queries, port=args.port) if args.queries else None
            floor = run_phase("floor", db=floor_db, members=close["credits"], size=close["mean_event_bytes"])
        finally:
            discard(args.db, db)
            discard(args.db, floor_db)
    rate = close["credits"] / close["seconds"]
    results = {"store": "postgresql" if args.db else "sqlite", "members": args.members, "enrol": enrol,
               "close": close, "floor": floor, "queries": queries, "credits_per_s": rate,
               "close_vs_floor_append": rate / floor["append_events_per_s"],
               "extrapolated_1m_seconds": MILLION / rate}
    print(f"{results['store']}: {args.members:,} members, month {args.months} closed: {close['credits']:,} credits "
          f"in {close['seconds']:.1f} s = {rate:,.0f} credits/s (peak {close['peak_rss_mb']:.0f} MB)")
    million = ("measured" if args.members == MILLION else
               f"at this rate {results['extrapolated_1m_seconds']:.0f} s (extrapolated)")
    print(f"floor: bare library appends {floor['append_events_per_s']:,.0f} events/s; "
          f"close / floor = {results['close_vs_floor_append']:.0%}; 1M members: {million}")
    for name, q in (queries or {}).items():
        print(f"{name}: p50 {q['p50_ms']:.2f} ms, p99 {q['p99_ms']:.2f} ms ({args.queries} members)")
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
