"""Benchmark a synthetic city-year against the bare event store, in one run, on one store.

    python scripts/bench.py --events 100000            # SQLite files in a temporary folder
    python scripts/bench.py --events 100000 --db postgresql://postgres@127.0.0.1:5432/postgres

Phases (each in its own process, so its peak memory is its own):

- floor: the bare ``eventsourcing`` application appends as many events, of the same sizes and
  in transactions of the same mean number of events, as our ingest wrote, to new streams of
  three events each; then reads them all back and decodes them (``select_notifications`` +
  ``mapper.to_domain_event``);
- floor, our streams: on a fresh store, the bare application appends events of exactly the
  sizes ours had to exactly the streams ours went to, in the same transactions (``--shape
  same``). An ingest transaction writes about 1.2 events to each stream it touches, half of
  them streams already in the store, where the first floor writes three to each new stream:
  more streams a transaction, more pages of the primary key to change;
- sqlite3: raw ``executemany`` of the same rows into a bare table (SQLite only: the physical
  reference);
- ingest: ``ledger ingest`` of the city (parse, validate, adjudicate, book, and the read
  models the month closes need); booking alone excludes the time spent projecting;
- rebuild: every read model from zero;
- audit: chain, rebuild into a scratch store, re-adjudication, journal, comparison;
- queries: ``balance`` and ``cap`` latency over random members (p50, p99).

Ingest is judged against the floor of our streams, the bare library appending the same
events (``ingest_vs_floor_append_our_streams``); the ratio to new streams of three is shown
beside it. Prints a table and, with ``--json FILE``, writes the figures as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from statistics import median, quantiles
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterator

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ledger.adapters.store import Store  # noqa: E402
from ledger.demo.city import CitySpec, write_city  # noqa: E402
from ledger.services.application import OutpatientPooling  # noqa: E402
from ledger.services.audit import audit  # noqa: E402
from ledger.services.bootstrap import bootstrap  # noqa: E402
from ledger.services.ingest import ingest_file  # noqa: E402

EVENTS_PER_MEMBER_YEAR = 48
"""Roughly how many events one member brings in a year (visits, credits, purchases): sizes the city."""


def peak_rss_mb() -> float:
    """Peak resident memory of this process, in MiB.

    Linux's ``VmHWM`` counts this program only. ``ru_maxrss`` (the fallback elsewhere) also
    keeps the peak of the process it was forked from, here the driver that wrote the city.
    """
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def fresh_db(base: str, workdir: Path, name: str) -> str:
    """A new empty database next to ``base``: a file for SQLite, a new database on the PostgreSQL server."""
    if not base.startswith("postgres"):
        return str(workdir / f"{name}.db")
    store = Store.parse(base)
    dbname = f"bench_{name}_{uuid.uuid4().hex[:8]}"
    _server_command(base, f'CREATE DATABASE "{dbname}"')
    auth = store.user + (f":{store.password}" if store.password else "")
    return f"postgresql://{auth}@{store.host}:{store.port}/{dbname}"


def discard(base: str, db: str) -> None:
    """Delete a database :func:`fresh_db` made: the SQLite file and its WAL, or the PostgreSQL database.

    At 1M events a PostgreSQL ledger takes about 250 MB: rounds that kept theirs would fill the server.
    """
    if base.startswith("postgres"):
        _server_command(base, f'DROP DATABASE IF EXISTS "{Store.parse(db).dbname}" WITH (FORCE)')
        return
    for path in Path(db).parent.glob(f"{Path(db).name}*"):
        path.unlink()


def _server_command(base: str, sql: str) -> None:
    """Run a statement that cannot run in a transaction (CREATE or DROP DATABASE) on the server of ``base``."""
    from sqlalchemy import create_engine, text

    engine = create_engine(Store.parse(base).sqlalchemy_url(), isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(sql))
    engine.dispose()


# ----------------------------------------------------------------------------- phases


def phase_ingest(args: argparse.Namespace) -> dict[str, Any]:
    app = bootstrap(args.db)
    transactions = _count_transactions(app)
    with open(args.file, "rb") as f:
        lines = sum(1 for _ in f)
    started = time.perf_counter()
    report = ingest_file(app, args.file, batch_size=args.batch)
    elapsed = time.perf_counter() - started
    projecting = app.read_models.seconds
    events = app.recorder.max_notification_id() or 0
    with open(args.file, encoding="utf-8") as f:
        settlements = sum(1 for line in f if '"type":"visit.settled"' in line or '"type":"purchase.settled"' in line)
    peak = peak_rss_mb()  # before the pattern, which is the benchmark's own
    streams, sizes = _stream_pattern(app)
    app.close()
    booking = elapsed - projecting
    count = max(1, len(transactions))
    new_streams = max(streams, default=-1) + 1  # numbered 0, 1, … as first written
    return {"messages": lines, "refused": report.refused, "events": events, "settlements": settlements,
            "seconds": elapsed, "booking_seconds": booking, "projecting_seconds": projecting,
            "messages_per_s": lines / booking, "settlements_per_s": settlements / booking,
            "events_per_s": events / booking, "events_per_s_with_projections": events / elapsed,
            "transactions": len(transactions), "events_per_transaction": events / count,
            "streams_per_transaction": sum(len(set(t)) for t in _split(streams, transactions)) / count,
            "new_streams_per_transaction": new_streams / count,
            "mean_event_bytes": sum(sizes) / max(1, len(sizes)), "peak_rss_mb": peak,
            "pattern": {"transactions": transactions, "streams": streams, "sizes": sizes}}


def _count_transactions(app: OutpatientPooling) -> list[int]:
    """The number of events of each transaction that writes events, in order (read after the ingest).

    Batches of messages are not the only transactions: a month close credits its members in
    transactions of its own.
    """
    counts: list[int] = []
    insert = app.recorder.insert_events

    def counted(stored_events: Any, **kwargs: Any) -> Any:
        counts.append(len(stored_events))
        return insert(stored_events, **kwargs)

    app.recorder.insert_events = counted  # type: ignore[method-assign]  # counted, for the measurement
    return counts


def _stream_pattern(app: OutpatientPooling) -> tuple[list[int], list[int]]:
    """For each stored event in order, its stream (numbered as first written) and its size in bytes.

    With the transactions' sizes, this is the shape of what the ingest wrote, for the floor to
    write again: notification ids follow the order of insertion.
    """
    numbers: dict[Any, int] = {}
    streams: list[int] = []
    sizes: list[int] = []
    start = 1
    while notifications := app.recorder.select_notifications(start, 5000):
        for n in notifications:
            streams.append(numbers.setdefault(n.originator_id, len(numbers)))
            sizes.append(len(n.state))
        start = notifications[-1].id + 1
    return streams, sizes


def _split(items: list[int], counts: list[int]) -> Iterator[list[int]]:
    """``items`` in consecutive runs of ``counts``."""
    at = 0
    for count in counts:
        yield items[at:at + count]
        at += count


def phase_floor(args: argparse.Namespace) -> dict[str, Any]:
    from eventsourcing.application import Application
    from eventsourcing.domain import Aggregate

    class Note(Aggregate):
        def __init__(self, text: str) -> None:
            self.length = len(text)

        class Written(Aggregate.Event):
            text: str

            def apply(self, aggregate: Any) -> None:
                aggregate.length = len(self.text)

    class Bare(Application[uuid.UUID]):
        pass

    spec = json.loads(Path(args.spec).read_text())
    app = Bare(env=Store.parse(args.db).event_store_env())
    probe = Note(text="")
    probe.trigger_event(Note.Written, text="")
    overhead = len(app.mapper.to_stored_event(probe.collect_events()[-1]).state)  # the event's own fields

    if args.shape == "new":
        written, seconds = _append_new_streams(app, Note, spec, overhead)
    else:
        written, seconds = _append_in_our_streams(app, Note, spec["pattern"], overhead)
    out = {"events": written, "append_events_per_s": written / seconds, "peak_rss_mb": peak_rss_mb()}
    if args.shape == "new":
        out.update(_read_back(app))
    app.close()
    return out


def _append_new_streams(app: Any, note_class: Any, spec: dict[str, Any], overhead: int) -> tuple[int, float]:
    """Append ``spec``'s number of events, of its sizes, to new streams of three; how many, in how long."""
    sizes, total, per_tx = spec["sizes"], spec["events"], max(1, round(spec["events_per_transaction"]))
    rng = random.Random(1)

    def text() -> str:
        return "x" * max(1, rng.choice(sizes) - overhead)

    written, started = 0, time.perf_counter()
    while written < total:
        n = min(per_tx, total - written)
        batch = [note_class(text=text()) for _ in range(-(-n // 3))]  # three events each, the last n's rest
        for i, note in enumerate(batch):
            for _ in range(min(2, n - 3 * i - 1)):
                note.trigger_event(note_class.Written, text=text())
        app.save(*batch)
        written += sum(note.version for note in batch)
    return written, time.perf_counter() - started


def _read_back(app: Any) -> dict[str, float]:
    """Read the whole log back and decode every event: the rate; and the events' mean size, off the clock."""
    started, read, start = time.perf_counter(), 0, 1
    while notifications := app.recorder.select_notifications(start, 2000):
        for n in notifications:
            app.mapper.to_domain_event(n)
        read += len(notifications)
        start = notifications[-1].id + 1
    rate = read / (time.perf_counter() - started)
    sample = app.recorder.select_notifications(1, 5000)
    return {"read_decode_events_per_s": rate, "mean_event_bytes": sum(len(n.state) for n in sample) / len(sample)}


def _append_in_our_streams(app: Any, note_class: Any, pattern: dict[str, list[int]],
                           overhead: int) -> tuple[int, float]:
    """Append events of our sizes to our streams in our transactions; how many, in how long.

    A stream is dropped once its last transaction is saved, as a cache would let it go.
    """
    transactions = list(_split(pattern["streams"], pattern["transactions"]))
    sizes = list(_split(pattern["sizes"], pattern["transactions"]))
    last = {stream: t for t, streams in enumerate(transactions) for stream in streams}
    notes: dict[int, Any] = {}
    started = time.perf_counter()
    for t, (streams, lengths) in enumerate(zip(transactions, sizes, strict=True)):
        touched: dict[int, Any] = {}
        for stream, size in zip(streams, lengths, strict=True):
            text = "x" * max(1, size - overhead)
            note = notes.get(stream)
            if note is None:
                note = notes[stream] = note_class(text=text)
            else:
                note.trigger_event(note_class.Written, text=text)
            touched[stream] = note
        app.save(*touched.values())
        for stream in touched:
            if last[stream] == t:
                del notes[stream]
    return len(pattern["streams"]), time.perf_counter() - started


def phase_sqlite3(args: argparse.Namespace) -> dict[str, Any]:
    spec = json.loads(Path(args.spec).read_text())
    rng = random.Random(1)
    rows = [(uuid.uuid4().hex, 1, "topic", b"x" * rng.choice(spec["sizes"])) for _ in range(spec["events"])]
    conn = sqlite3.connect(args.db)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("CREATE TABLE events (originator_id TEXT, originator_version INTEGER, topic TEXT, state BLOB, "
                 "PRIMARY KEY (originator_id, originator_version))")
    per_tx = max(1, round(spec["events_per_transaction"]))
    started = time.perf_counter()
    for i in range(0, len(rows), per_tx):
        with conn:
            conn.executemany("INSERT INTO events VALUES (?,?,?,?)", rows[i:i + per_tx])
    elapsed = time.perf_counter() - started
    conn.close()
    return {"events": len(rows), "insert_events_per_s": len(rows) / elapsed, "peak_rss_mb": peak_rss_mb()}


def phase_rebuild(args: argparse.Namespace) -> dict[str, Any]:
    app = bootstrap(args.db)
    started = time.perf_counter()
    read = app.read_models.rebuild()
    elapsed = time.perf_counter() - started
    events = app.recorder.max_notification_id() or 0
    app.close()
    # The rate is over the whole log: the events no read model follows are passed over, not read.
    # The rows are written by a second process (ledger/adapters/writer.py), its peak its own.
    writer_rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {"events": events, "read": read, "seconds": elapsed, "events_per_s": events / elapsed,
            "peak_rss_mb": peak_rss_mb(), "writer_peak_rss_mb": writer_rss}


def phase_audit(args: argparse.Namespace) -> dict[str, Any]:
    app = bootstrap(args.db)
    started = time.perf_counter()
    report = audit(app)
    elapsed = time.perf_counter() - started
    app.close()
    return {"events": report.events, "ok": report.ok, "seconds": elapsed, "events_per_s": report.events / elapsed,
            "peak_rss_mb": peak_rss_mb()}


def phase_queries(args: argparse.Namespace) -> dict[str, Any]:
    app = bootstrap(args.db)
    with app.engine.connect() as conn:
        from sqlalchemy import select

        from ledger.projections.roster import roster_members

        members = list(conn.scalars(select(roster_members.c.psn_no)))
    rng = random.Random(3)
    sample = [rng.choice(members) for _ in range(args.queries)]
    year = CitySpec().year if not args.year else args.year
    out: dict[str, Any] = {}
    for name, ask in (("balance", lambda p: app.balance(p)), ("cap", lambda p: app.cap(p, year))):
        times = []
        for psn in sample:
            started = time.perf_counter()
            ask(psn)
            times.append((time.perf_counter() - started) * 1000)
        cuts = quantiles(times, n=100)
        out[name] = {"p50_ms": cuts[49], "p99_ms": cuts[98]}
    app.close()
    out["peak_rss_mb"] = peak_rss_mb()
    return out


PHASES = {"ingest": phase_ingest, "floor": phase_floor, "sqlite3": phase_sqlite3, "rebuild": phase_rebuild,
          "audit": phase_audit, "queries": phase_queries}


def run_phase(name: str, **options: Any) -> dict[str, Any]:
    """Run a phase in a fresh process and return its figures."""
    cmd = [sys.executable, __file__, "--phase", name]
    for key, value in options.items():
        cmd += [f"--{key.replace('_', '-')}", str(value)]
    done = subprocess.run(cmd, check=True, capture_output=True, text=True, cwd=ROOT)
    return json.loads(done.stdout.strip().splitlines()[-1])


# ------------------------------------------------------------------------------ driver


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=100_000, help="About how many events the city should make.")
    parser.add_argument("--db", default="", help="PostgreSQL server URL; SQLite files when omitted.")
    parser.add_argument("--admdvs", default="410200")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--batch", type=int, default=200, help="Messages per transaction when ingesting.")
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=1,
                        help="Rounds of ingest, floor and rebuild, each on a fresh store; the ratios are their median.")
    parser.add_argument("--json", dest="json_out", default="", help="Write the figures to this file.")
    parser.add_argument("--phase", help=argparse.SUPPRESS)
    parser.add_argument("--file", help=argparse.SUPPRESS)
    parser.add_argument("--spec", help=argparse.SUPPRESS)
    parser.add_argument("--shape", default="new", choices=("new", "same"), help=argparse.SUPPRESS)
    parser.add_argument("--year", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        print(json.dumps(PHASES[args.phase](args)))
        return

    workdir = Path(tempfile.mkdtemp(prefix="ledger-bench-"))
    members = max(20, args.events // EVENTS_PER_MEMBER_YEAR)
    spec = CitySpec(admdvs=args.admdvs, members=members, hospitals=max(4, members // 400),
                    pharmacies=max(2, members // 1000), seed=args.seed)
    city = workdir / "city.jsonl"
    started = time.perf_counter()
    lines = write_city(spec, city)
    generated = time.perf_counter() - started
    print(f"city: {members} members, {lines} messages ({lines / generated:,.0f} messages/s generated) in {workdir}")

    results: dict[str, Any] = {"store": "postgresql" if args.db else "sqlite", "city": {
        "admdvs": spec.admdvs, "members": members, "messages": lines}, "rounds": []}
    db = ""
    for _ in range(args.repeat):
        if db:
            discard(args.db, db)
        db = fresh_db(args.db, workdir, "ledger")
        round_ = measure_round(args, db, city, workdir)
        results.update(round_)
        results["rounds"].append(round_)
    results["audit"] = run_phase("audit", db=db)
    results["queries"] = run_phase("queries", db=db, queries=args.queries, year=spec.year)
    results["ratios"] = {key: median(r["ratios"][key] for r in results["rounds"]) for key in results["ratios"]}
    print_table(results)
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(results, indent=2))
    if os.environ.get("BENCH_KEEP") == "1":
        print(f"kept the last round's ledger: {db}")
    else:
        discard(args.db, db)


def measure_round(args: argparse.Namespace, db: str, city: Path, workdir: Path) -> dict[str, Any]:
    """Ingest into ``db``, the floor on events of the same sizes, and the rebuild of ``db``: one round's figures."""
    out: dict[str, Any] = {"ingest": run_phase("ingest", db=db, file=city, batch=args.batch)}
    spec_file = workdir / "sizes.json"
    pattern = out["ingest"].pop("pattern")
    sample = pattern["sizes"][::max(1, len(pattern["sizes"]) // 20_000)]
    spec_file.write_text(json.dumps({"sizes": sample, "events": out["ingest"]["events"],
                                     "events_per_transaction": out["ingest"]["events_per_transaction"]}))
    pattern_file = workdir / "pattern.json"
    pattern_file.write_text(json.dumps({"pattern": pattern}))
    for key, spec, shape in (("floor", spec_file, "new"), ("floor_streams", pattern_file, "same")):
        floor_db = fresh_db(args.db, workdir, "floor")
        out[key] = run_phase("floor", db=floor_db, spec=spec, shape=shape)
        discard(args.db, floor_db)
    if not args.db:
        raw = fresh_db(args.db, workdir, "raw")
        out["sqlite3"] = run_phase("sqlite3", db=raw, spec=spec_file)
        discard(args.db, raw)
    out["rebuild"] = run_phase("rebuild", db=db)
    ingest, floor, rebuild = out["ingest"]["events_per_s"], out["floor"], out["rebuild"]["events_per_s"]
    out["ratios"] = {
        "ingest_vs_floor_append": ingest / floor["append_events_per_s"],
        "ingest_vs_floor_append_our_streams": ingest / out["floor_streams"]["append_events_per_s"],
        "rebuild_vs_floor_read_decode": rebuild / floor["read_decode_events_per_s"],
    }
    return out


def print_table(r: dict[str, Any]) -> None:
    i, f, rb, a, q = r["ingest"], r["floor"], r["rebuild"], r["audit"], r["queries"]
    rows = [
        ("bare eventsourcing append", f"{f['append_events_per_s']:,.0f} events/s", f"{f['peak_rss_mb']:.0f}"),
        ("bare append, our streams", f"{r['floor_streams']['append_events_per_s']:,.0f} events/s",
         f"{r['floor_streams']['peak_rss_mb']:.0f}"),
        ("bare eventsourcing read+decode", f"{f['read_decode_events_per_s']:,.0f} events/s", ""),
    ]
    if "sqlite3" in r:
        rows.append(("raw sqlite3 executemany", f"{r['sqlite3']['insert_events_per_s']:,.0f} events/s",
                     f"{r['sqlite3']['peak_rss_mb']:.0f}"))
    rows += [
        ("ingest: booking", f"{i['events_per_s']:,.0f} events/s, {i['messages_per_s']:,.0f} msg/s, "
                            f"{i['settlements_per_s']:,.0f} settlements/s", f"{i['peak_rss_mb']:.0f}"),
        ("ingest: with read models", f"{i['events_per_s_with_projections']:,.0f} events/s ({i['seconds']:.1f} s)", ""),
        ("rebuild read models", f"{rb['events_per_s']:,.0f} events/s ({rb['seconds']:.1f} s)",
         f"{rb['peak_rss_mb']:.0f}" + (f" + {rb['writer_peak_rss_mb']:.0f}" if rb["writer_peak_rss_mb"] else "")),
        ("audit replay", f"{a['events_per_s']:,.0f} events/s ({a['seconds']:.1f} s, ok={a['ok']})",
         f"{a['peak_rss_mb']:.0f}"),
        ("balance query", f"p50 {q['balance']['p50_ms']:.2f} ms, p99 {q['balance']['p99_ms']:.2f} ms",
         f"{q['peak_rss_mb']:.0f}"),
        ("cap query", f"p50 {q['cap']['p50_ms']:.2f} ms, p99 {q['cap']['p99_ms']:.2f} ms", ""),
    ]
    print(f"\n{r['store']}: {i['events']:,} events from {i['messages']:,} messages "
          f"({i['settlements']:,} settlements, {i['refused']} refused)")
    print(f"{'phase':<32}{'rate':<64}{'peak RSS MiB':>12}")
    for name, rate, rss in rows:
        print(f"{name:<32}{rate:<64}{rss:>12}")
    ratios = r["ratios"]
    if len(r["rounds"]) > 1:
        print("\nrounds (the table shows the last):")
        for i, rr in enumerate(r["rounds"], 1):
            print(f"  {i}: ingest / bare append of the same events "
                  f"{rr['ratios']['ingest_vs_floor_append_our_streams']:.0%} "
                  f"({rr['ingest']['events_per_s']:,.0f} / {rr['floor_streams']['append_events_per_s']:,.0f} "
                  f"events/s), new streams of three {rr['ratios']['ingest_vs_floor_append']:.0%} "
                  f"(/ {rr['floor']['append_events_per_s']:,.0f}), "
                  f"rebuild / bare read+decode {rr['ratios']['rebuild_vs_floor_read_decode']:.0%} "
                  f"({rr['rebuild']['events_per_s']:,.0f} / {rr['floor']['read_decode_events_per_s']:,.0f} events/s)")
    print(f"\n{'median of the rounds: ' if len(r['rounds']) > 1 else ''}"
          f"ingest / bare append of the same events: {ratios['ingest_vs_floor_append_our_streams']:.0%} "
          f"(new streams of three {ratios['ingest_vs_floor_append']:.0%})   "
          f"rebuild / bare read+decode: {ratios['rebuild_vs_floor_read_decode']:.0%}")

if __name__ == "__main__":
    main()
