"""Benchmark a synthetic city-year against the bare event store, in one run, on one store.

    python scripts/bench.py --events 100000            # SQLite files in a temporary folder
    python scripts/bench.py --events 100000 --db postgresql://postgres@127.0.0.1:5432/postgres
    python scripts/bench.py --members 1000000 --months 2  # a city's size; the visit rate from --events

The temporary folder (the city's file, the ingest's shape, SQLite's files) is removed at the
end, whatever happened; ``BENCH_KEEP=1`` keeps it and the last round's ledger.

Every phase streams: memory stays flat in the size of the log (the floors read the shape of
our ingest back from files a transaction at a time, the raw ``sqlite3`` phase makes its rows a
transaction at a time), so the peak RSS printed for each phase is the phase's own.

Phases (each in its own process, so its peak memory is its own; a round runs the ingest, the
rebuild, the audit and the queries of its ledger, then the floors and the raw ``sqlite3``):

- city: ``ledger.demo.city`` writes the city (its own peak: the generator streams too);
- floor: the bare ``eventsourcing`` application appends as many events, of the same sizes and
  in transactions of the same mean number of events, as our ingest wrote, to new streams of
  three events each; then reads them all back and decodes them (``select_notifications`` +
  ``mapper.to_domain_event``);
- floor, our streams: on a fresh store, the bare application appends events of exactly the
  sizes ours had to exactly the streams ours went to, in the same transactions (``--shape
  same``). An ingest transaction writes about 1.2 events to each stream it touches, half of
  them streams already in the store, where the first floor writes three to each new stream:
  more streams a transaction, more pages of the primary key to change;
- sqlite3: raw ``executemany`` of rows of the same sizes into a bare table, in transactions
  of the same mean size (SQLite only: the physical reference);
- ingest: ``ledger ingest`` of the city (parse, validate, adjudicate, book, and the read
  models the month closes need); booking alone excludes the time spent projecting. Each
  month close is timed whole (credits, read models, prepayment, and the month's bookings the
  read models had not read yet); the slowest is printed;
- close of N members (``--close-members N``): ``bench_close.py`` on a store of its own, N
  members enrolled and January closed untimed, February's close timed, against the bare
  library appending one event to each of as many streams (issue 23 asks for a million in 60 s);
- rebuild: every read model from zero;
- audit: chain, rebuild into a scratch store, re-adjudication, journal, comparison;
- for both, the processor time of each of their two processes (one process and its writer, or
  the audit and its replay): whether a phase is bound by one process or by the machine's cores;
- queries: ``balance`` and ``cap`` latency over random members in process, then 1101 and 5206
  over HTTP from one client to ``ledger serve`` (p50, p99), and the same requests to a bare
  FastAPI app on uvicorn that only checks their signatures (the HTTP stack's own latency then).

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
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from array import array
from contextlib import contextmanager
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from statistics import median, quantiles
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterator

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ledger.adapters import seam  # noqa: E402
from ledger.adapters.store import Store  # noqa: E402
from ledger.demo.city import CitySpec, write_city  # noqa: E402
from ledger.services import closing  # noqa: E402
from ledger.services.application import OutpatientPooling  # noqa: E402
from ledger.services.audit import audit  # noqa: E402
from ledger.services.bootstrap import bootstrap  # noqa: E402
from ledger.services.ingest import ingest_file  # noqa: E402

EVENTS_PER_MEMBER_YEAR = 48
"""Roughly how many events one member brings in a year at the default visit rate: sizes the city."""
EVENTS_FIXED, EVENTS_PER_VISIT_RATE = 13.6, 57
"""Events per member-year: about 13.6 whatever the visits (enrolment, twelve credits, life
events), and 57 more for each visit per month (measured: 19.3 at 0.1, 47.8 at 0.6)."""
LEAST_VISITS = 0.02
"""The least visit rate ``--members`` with ``--events`` sets: the claims are what is measured."""


def children_peak_rss_mb() -> float:
    """Peak resident memory of the largest child this process waited for (the audit's replay), in MiB; 0 if none."""
    import resource

    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def processor_seconds() -> tuple[float, float]:
    """Processor time (user and system) so far: this process's, and that of the children it waited for.

    A rebuild and an audit run on two processes at once: the wall time alone does not say
    whether they are bound by one process or by the machine's two cores.
    """
    import resource

    mine, theirs = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return mine.ru_utime + mine.ru_stime, theirs.ru_utime + theirs.ru_stime


def spent_since(before: tuple[float, float]) -> dict[str, float]:
    """The processor seconds this process and its children spent since ``before`` (:func:`processor_seconds`)."""
    now = processor_seconds()
    return {"cpu_seconds": now[0] - before[0], "children_cpu_seconds": now[1] - before[1]}


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


@contextmanager
def workspace(prefix: str) -> Iterator[Path]:
    """A run's temporary folder, removed at its end whatever happened (``BENCH_KEEP=1`` keeps it)."""
    workdir = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield workdir
    finally:
        if os.environ.get("BENCH_KEEP") != "1":
            shutil.rmtree(workdir, ignore_errors=True)


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


@contextmanager
def _autocommitting(url: str) -> Iterator[Any]:
    """A connection to the PostgreSQL database at ``url`` outside a transaction, as CREATE DATABASE and VACUUM need."""
    from sqlalchemy import create_engine

    engine = create_engine(Store.parse(url).sqlalchemy_url(), isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            yield conn
    finally:
        engine.dispose()


def _server_command(base: str, sql: str) -> None:
    """Run a statement that cannot run in a transaction (CREATE or DROP DATABASE) on the server of ``base``."""
    from sqlalchemy import text

    with _autocommitting(base) as conn:
        conn.execute(text(sql))


# ----------------------------------------------------------------------------- phases


def phase_city(args: argparse.Namespace) -> dict[str, Any]:
    spec = CitySpec(**json.loads(Path(args.spec).read_text()))
    started = time.perf_counter()
    lines = write_city(spec, args.file)
    elapsed = time.perf_counter() - started
    return {"messages": lines, "seconds": elapsed, "messages_per_s": lines / elapsed, "peak_rss_mb": peak_rss_mb()}


REFUSALS_SHOWN = 20
"""A synthetic city should book every line: the first refusals are printed, so a run says why."""


def phase_ingest(args: argparse.Namespace) -> dict[str, Any]:
    app = bootstrap(args.db)
    transactions = _count_transactions()
    closes = _timed_closes()
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
    pattern = Pattern(Path(args.pattern))
    with pattern.open("transactions", "wb") as f:
        array("I", transactions).tofile(f)
    new_streams, touched, mean_size = _write_pattern(app, transactions, pattern)
    app.close()
    booking = elapsed - projecting
    count = max(1, len(transactions))
    return {"messages": lines, "refused": report.refused, "refusals": report.errors[:REFUSALS_SHOWN],
            "events": events, "settlements": settlements,
            "seconds": elapsed, "booking_seconds": booking, "projecting_seconds": projecting,
            "messages_per_s": lines / booking, "settlements_per_s": settlements / booking,
            "events_per_s": events / booking, "events_per_s_with_projections": events / elapsed,
            "transactions": len(transactions), "events_per_transaction": events / count,
            "streams_per_transaction": touched / count, "new_streams_per_transaction": new_streams / count,
            "mean_event_bytes": mean_size, "peak_rss_mb": peak, "closes": closes}


def _count_transactions() -> list[int]:
    """The number of events of each transaction that writes events, in order (read after the ingest).

    Batches of messages are not the only transactions: a month close credits its members in
    transactions of its own. Every append of the ledger goes through ``seam.insert_events``
    (``Aggregates.save``), which on PostgreSQL bypasses the recorder's ``insert_events``, so
    that is where they are counted.
    """
    counts: list[int] = []
    insert = seam.insert_events

    def counted(recorder: Any, stored: Any, *more: Any, **named: Any) -> None:
        counts.append(len(stored))  # the events: a batch's snapshots go in the same transaction
        insert(recorder, stored, *more, **named)

    seam.insert_events = counted  # counted, for the measurement
    return counts


def _timed_closes() -> list[dict[str, Any]]:
    """Each month close of the ingest, in order: its month, its time and the events it booked (its credits, mostly).

    The whole close is timed, as a bureau waits for it: the credits, the read models caught up,
    the prepayment. The ingest calls ``closing.close_month`` through its module, so it is timed there.
    """
    closes: list[dict[str, Any]] = []
    close = closing.close_month

    def timed(app: Any, msg: Any, **options: Any) -> bool:
        before, started = app.recorder.max_notification_id() or 0, time.perf_counter()
        try:
            return close(app, msg, **options)
        finally:
            closes.append({"month": msg.month, "seconds": time.perf_counter() - started,
                           "events": (app.recorder.max_notification_id() or 0) - before})

    closing.close_month = timed  # timed, for the measurement
    return closes


class Pattern:
    """The shape of what the ingest wrote, in three files of unsigned ints, for the floors to write again.

    ``transactions``: the events of each transaction, in order; ``streams``: each event's stream,
    numbered as first written; ``sizes``: each event's size in bytes. Notification ids follow the
    order of insertion, so reading the log back gives both. Files, not lists: ten million
    events are 120 MB as arrays and several GB as JSON.
    """

    def __init__(self, prefix: Path) -> None:
        self.prefix = prefix

    def path(self, part: str) -> Path:
        return Path(f"{self.prefix}.{part}")

    def open(self, part: str, mode: str) -> Any:
        return open(self.path(part), mode)

    def transactions(self) -> array[int]:
        counts: array[int] = array("I")
        with self.open("transactions", "rb") as f:
            counts.frombytes(f.read())
        return counts

    def runs(self) -> Iterator[tuple[array[int], array[int]]]:
        """Each transaction's streams and sizes, read a transaction at a time."""
        with self.open("streams", "rb") as streams, self.open("sizes", "rb") as sizes:
            for count in self.transactions():
                run_streams: array[int] = array("I")
                run_sizes: array[int] = array("I")
                run_streams.frombytes(streams.read(4 * count))
                run_sizes.frombytes(sizes.read(4 * count))
                yield run_streams, run_sizes

    def sample_sizes(self, most: int) -> list[int]:
        """Every n-th event's size, at most about ``most`` of them."""
        step = max(1, os.path.getsize(self.path("sizes")) // 4 // most)
        sample: list[int] = []
        with self.open("sizes", "rb") as f:
            while chunk := f.read(4 * step * 10_000):  # a whole number of steps: the stride carries on
                sizes: array[int] = array("I")
                sizes.frombytes(chunk)
                sample += sizes[::step]
        return sample


class StreamNumbers:
    """Each stream's number, in the order streams were first written, kept in a SQLite file beside the pattern.

    Not a dictionary: at ten million events there are millions of streams, and a dictionary of
    their ids grew the ingest's process past 1 GB once its figures were taken.
    """

    def __init__(self, path: Path) -> None:
        self.db = sqlite3.connect(path)
        self.db.executescript("PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;"
                              "CREATE TABLE streams (id TEXT PRIMARY KEY, n INTEGER NOT NULL) WITHOUT ROWID")
        self.count = 0

    def of(self, ids: list[str]) -> dict[str, int]:
        """The numbers of ``ids`` (of one page of the log), those seen first here numbered in order."""
        wanted = list(dict.fromkeys(ids))
        known = dict(self.db.execute(f"SELECT id, n FROM streams WHERE id IN ({','.join('?' * len(wanted))})",
                                     wanted))
        new = [(i, self.count + k) for k, i in enumerate(i for i in wanted if i not in known)]
        self.db.executemany("INSERT INTO streams VALUES (?, ?)", new)
        self.count += len(new)
        return {**known, **dict(new)}

    def __enter__(self) -> StreamNumbers:
        return self

    def __exit__(self, *_: object) -> None:
        self.db.close()


def _write_pattern(app: OutpatientPooling, transactions: list[int], pattern: Pattern) -> tuple[int, int, float]:
    """Read the log back into ``pattern``'s stream and size files; the streams, streams per
    transaction summed, and the mean event size.
    """
    touched = total_size = events = 0
    counts = iter(transactions)
    left, in_tx = next(counts, 0), set()
    with (StreamNumbers(pattern.path("numbers")) as numbers, pattern.open("streams", "wb") as streams,
          pattern.open("sizes", "wb") as sizes):
        start = 1
        while notifications := app.recorder.select_notifications(start, 5000):
            ids = [str(n.originator_id) for n in notifications]
            numbered = numbers.of(ids)
            run_streams: array[int] = array("I", (numbered[i] for i in ids))
            run_sizes: array[int] = array("I", (len(n.state) for n in notifications))
            total_size += sum(run_sizes)
            events += len(ids)
            for stream in run_streams:
                in_tx.add(stream)
                left -= 1
                if left == 0:
                    touched += len(in_tx)
                    left, in_tx = next(counts, 0), set()
            run_streams.tofile(streams)
            run_sizes.tofile(sizes)
            start = notifications[-1].id + 1
    return numbers.count, touched, total_size / max(1, events)


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

    spec = json.loads(Path(args.spec).read_text()) if args.spec else {}
    app = Bare(env=Store.parse(args.db).event_store_env())
    probe = Note(text="")
    probe.trigger_event(Note.Written, text="")
    overhead = len(app.mapper.to_stored_event(probe.collect_events()[-1]).state)  # the event's own fields

    if args.shape == "new":
        written, seconds = _append_new_streams(app, Note, spec, overhead)
    else:
        written, seconds = _append_in_our_streams(app, Note, Pattern(Path(args.pattern)), overhead)
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


def _append_in_our_streams(app: Any, note_class: Any, pattern: Pattern, overhead: int) -> tuple[int, float]:
    """Append events of our sizes to our streams in our transactions; how many, in how long.

    A stream's id and version are kept (20 bytes), not the aggregate: an event is appended to a
    stream already written as the bare library's own event class at the next version, so the
    floor's memory does not grow with the streams, as ours is bounded by its cache.
    """
    ids, versions = bytearray(), array("I")
    written, started = 0, time.perf_counter()
    for streams, sizes in pattern.runs():
        objects: list[Any] = []
        for stream, size in zip(streams, sizes, strict=True):
            text = "x" * max(1, size - overhead)
            if stream == len(versions):
                note = note_class(text=text)
                ids += note.id.bytes
                versions.append(1)
                objects.append(note)
            else:
                versions[stream] += 1
                objects.append(note_class.Written(
                    originator_id=uuid.UUID(bytes=bytes(ids[16 * stream:16 * stream + 16])),
                    originator_version=versions[stream], timestamp=datetime.now(UTC), text=text))
        app.save(*objects)
        written += len(streams)
    return written, time.perf_counter() - started


def phase_sqlite3(args: argparse.Namespace) -> dict[str, Any]:
    spec = json.loads(Path(args.spec).read_text())
    rng = random.Random(1)
    conn = sqlite3.connect(args.db)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("CREATE TABLE events (originator_id TEXT, originator_version INTEGER, topic TEXT, state BLOB, "
                 "PRIMARY KEY (originator_id, originator_version))")
    per_tx, total, sizes = max(1, round(spec["events_per_transaction"])), spec["events"], spec["sizes"]
    elapsed = 0.0
    for i in range(0, total, per_tx):  # the rows made off the clock, a transaction at a time
        rows = [(uuid.uuid4().hex, 1, "topic", b"x" * rng.choice(sizes)) for _ in range(min(per_tx, total - i))]
        started = time.perf_counter()
        with conn:
            conn.executemany("INSERT INTO events VALUES (?,?,?,?)", rows)
        elapsed += time.perf_counter() - started
    conn.close()
    return {"events": total, "insert_events_per_s": total / elapsed, "peak_rss_mb": peak_rss_mb()}


def phase_rebuild(args: argparse.Namespace) -> dict[str, Any]:
    app = bootstrap(args.db)
    cpu, started = processor_seconds(), time.perf_counter()
    read = app.read_models.rebuild()
    elapsed = time.perf_counter() - started
    spent = spent_since(cpu)
    events = app.recorder.max_notification_id() or 0
    app.close()
    # The rate is over the whole log: the events no read model follows are passed over, not read.
    # The rows are written by a second process (ledger/adapters/writer.py), its peak its own.
    writer_rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {"events": events, "read": read, "seconds": elapsed, "events_per_s": events / elapsed,
            "peak_rss_mb": peak_rss_mb(), "writer_peak_rss_mb": writer_rss, **spent}


def phase_audit(args: argparse.Namespace) -> dict[str, Any]:
    app = bootstrap(args.db)
    cpu, started = processor_seconds(), time.perf_counter()
    report = audit(app)
    elapsed = time.perf_counter() - started
    spent = spent_since(cpu)
    app.close()
    return {"events": report.events, "ok": report.ok, "seconds": elapsed, "events_per_s": report.events / elapsed,
            "peak_rss_mb": peak_rss_mb(), "replay_peak_rss_mb": children_peak_rss_mb(), **spent}


def settle(db: str) -> float:
    """On PostgreSQL, vacuum and analyze the ledger and wait until autovacuum leaves it; the seconds this took.

    Within a minute of the rebuild autovacuum comes to the tables it wrote, and queries asked
    meanwhile measured its reads beside their own (nineteenth set: 1101's p99 6.13 ms, the
    same store at rest 3.09 ms). A server's maintenance does this once after a bulk load. It
    does not make the p99 steady: 4.25 and then 5.66 ms at 1M in the twentieth set, with this
    wait in both. SQLite has no background work.
    """
    if not db.startswith("postgres"):
        return 0.0
    from sqlalchemy import text

    started = time.perf_counter()
    with _autocommitting(db) as conn:
        conn.execute(text("VACUUM (ANALYZE)"))
        while conn.scalar(text("SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'autovacuum worker' "
                               "AND datname = current_database()")):
            time.sleep(1)
    return time.perf_counter() - started


def phase_queries(args: argparse.Namespace) -> dict[str, Any]:
    from bench_service import counter_latencies  # here: bench_service imports this module
    from sqlalchemy import select

    from ledger.projections.roster import roster_members
    from ledger.projections.settlements import settlements_index

    settling = settle(args.db)
    app = bootstrap(args.db)
    with app.engine.connect() as conn:
        members = list(conn.scalars(select(roster_members.c.psn_no)))
        counter = conn.scalar(select(settlements_index.c.fixmedins_code).limit(1))
    rng = random.Random(3)
    sample = [rng.choice(members) for _ in range(args.queries)]
    year = CitySpec().year if not args.year else args.year
    times: dict[str, list[float]] = {"balance": [], "cap": []}
    for name, ask in (("balance", lambda p: app.balance(p)), ("cap", lambda p: app.cap(p, year))):
        for psn in sample:
            started = time.perf_counter()
            ask(psn)
            times[name].append(time.perf_counter() - started)
    app.close()
    peak = peak_rss_mb()  # the in-process queries' own: the server is a process of its own
    times.update(counter_latencies(args.db, str(counter), sample, f"{year}{args.months:02d}", free_port()))
    out: dict[str, Any] = {}
    for name, seconds in times.items():
        cuts = quantiles([t * 1000 for t in seconds], n=100)
        out[name] = {"p50_ms": cuts[49], "p99_ms": cuts[98]}
    out["peak_rss_mb"] = peak
    out["settle_seconds"] = settling
    return out


def free_port() -> int:
    """A port nothing on this machine listens on now, for a server of the benchmark's own."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


PHASES = {"city": phase_city, "ingest": phase_ingest, "floor": phase_floor, "sqlite3": phase_sqlite3,
          "rebuild": phase_rebuild, "audit": phase_audit, "queries": phase_queries}


def run_phase(name: str, **options: Any) -> dict[str, Any]:
    """Run a phase in a fresh process and return its figures."""
    cmd = [sys.executable, __file__, "--phase", name]
    for key, value in options.items():
        cmd += [f"--{key.replace('_', '-')}", str(value)]
    started = time.perf_counter()
    done = subprocess.run(cmd, check=True, capture_output=True, text=True, cwd=ROOT)
    out: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    print(f"  {name}{' ' + options['shape'] if 'shape' in options else ''}: {time.perf_counter() - started:,.0f} s, "
          f"peak RSS {out.get('peak_rss_mb', 0):,.0f} MiB", file=sys.stderr, flush=True)  # a long run's progress
    return out


# ------------------------------------------------------------------------------ driver


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=100_000, help="About how many events the city should make.")
    parser.add_argument("--members", type=int, default=0,
                        help="The city's members (else from --events); the visit rate then gives about --events.")
    parser.add_argument("--months", type=int, default=12, help="Months of the city-year, from January.")
    parser.add_argument("--visits", type=float, default=0.0, help="Visits per member and month (else as above).")
    parser.add_argument("--skip", default="", help="Phases to leave out, comma-separated, of sqlite3, audit, queries.")
    parser.add_argument("--db", default="", help="PostgreSQL server URL; SQLite files when omitted.")
    parser.add_argument("--admdvs", default="410200")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--batch", type=int, default=200, help="Messages per transaction when ingesting.")
    parser.add_argument("--queries", type=int, default=1000,
                        help="Members asked in the query phase (their p99 is the tenth slowest of 1,000).")
    parser.add_argument("--repeat", type=int, default=1,
                        help="Rounds of all but the city, each on a fresh store; the ratios are their median.")
    parser.add_argument("--close-members", type=int, default=0,
                        help="Also close a month of this many members on a store of its own (bench_close.py).")
    parser.add_argument("--json", dest="json_out", default="", help="Write the figures to this file.")
    parser.add_argument("--phase", help=argparse.SUPPRESS)
    parser.add_argument("--file", help=argparse.SUPPRESS)
    parser.add_argument("--spec", help=argparse.SUPPRESS)
    parser.add_argument("--pattern", help=argparse.SUPPRESS)
    parser.add_argument("--shape", default="new", choices=("new", "same"), help=argparse.SUPPRESS)
    parser.add_argument("--year", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        print(json.dumps(PHASES[args.phase](args)))
        return

    with workspace("ledger-bench-") as workdir:
        run(args, workdir)


def run(args: argparse.Namespace, workdir: Path) -> None:
    """The city and the rounds, in ``workdir``; the table printed."""
    spec = city_spec(args)
    city = workdir / "city.jsonl"
    (workdir / "city.json").write_text(json.dumps(asdict(spec)))
    made = run_phase("city", spec=workdir / "city.json", file=city)
    print(f"city: {spec.members:,} members, {spec.months} months at {spec.visits_per_member_month:.3f} visits a month, "
          f"{made['messages']:,} messages ({made['messages_per_s']:,.0f} messages/s generated, "
          f"peak RSS {made['peak_rss_mb']:.0f} MiB) in {workdir}", flush=True)

    results: dict[str, Any] = {"store": "postgresql" if args.db else "sqlite", "city": {
        "admdvs": spec.admdvs, "members": spec.members, "months": spec.months,
        "visits": spec.visits_per_member_month, **made}, "rounds": []}
    db = ""
    for _ in range(args.repeat):
        if db:
            discard(args.db, db)
        db = fresh_db(args.db, workdir, "ledger")
        round_ = measure_round(args, db, city, workdir, spec)
        results.update(round_)
        results["rounds"].append(round_)
    if args.close_members:
        results["close_members"] = close_of_members(args, workdir)
    results["ratios"] = {key: median(r["ratios"][key] for r in results["rounds"]) for key in results["ratios"]}
    print_table(results)
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(results, indent=2))
    if os.environ.get("BENCH_KEEP") == "1":
        print(f"kept the last round's ledger and the city: {db}, {city}")
    else:
        discard(args.db, db)


def close_of_members(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    """``bench_close.py``'s figures for a month close of ``--close-members`` members, run as its own program."""
    out = workdir / "close.json"
    subprocess.run([sys.executable, str(Path(__file__).with_name("bench_close.py")), "--members",
                    str(args.close_members), "--db", args.db, "--json", str(out)],
                   check=True, stdout=subprocess.DEVNULL)
    figures: dict[str, Any] = json.loads(out.read_text())
    return figures


def city_spec(args: argparse.Namespace) -> CitySpec:
    """The city: ``--members`` or as many as make about ``--events`` at the default visit rate.

    With ``--members``, the visit rate makes about ``--events`` (``--visits`` overrides it): a
    million members and ten million events are about 0.02 visits a month, 14 million events a year.
    """
    defaults = CitySpec()
    visits = args.visits or defaults.visits_per_member_month
    members = args.members or max(20, args.events // EVENTS_PER_MEMBER_YEAR * 12 // args.months)
    if args.members and not args.visits:
        per_member_year = args.events / members * 12 / args.months
        visits = max(LEAST_VISITS, (per_member_year - EVENTS_FIXED) / EVENTS_PER_VISIT_RATE)
    return CitySpec(admdvs=args.admdvs, members=members, hospitals=max(4, members // 400),
                    pharmacies=max(2, members // 1000), seed=args.seed, months=args.months,
                    visits_per_member_month=round(visits, 3))


def measure_round(args: argparse.Namespace, db: str, city: Path, workdir: Path, spec: CitySpec) -> dict[str, Any]:
    """Ingest into ``db``, its rebuild, audit and queries, then the floors on events of the same sizes: one round.

    The rebuild and the audit come straight after the ingest, as the floor's read-back comes
    straight after its append: each reads a store the machine has just written. After the
    floors, which write stores of their own, a ten-million-event ledger (18 GiB) is read
    back from disk on a 24 GiB machine (docs/benchmarks.md, eighteenth set). The queries, too,
    are asked of the ledger before the floors write and drop their stores beside it.
    """
    pattern = workdir / "pattern"
    out: dict[str, Any] = {"ingest": run_phase("ingest", db=db, file=city, batch=args.batch, pattern=pattern)}
    out["rebuild"] = run_phase("rebuild", db=db)
    skip = args.skip.split(",")
    if "audit" not in skip:
        out["audit"] = run_phase("audit", db=db)
    if "queries" not in skip:
        out["queries"] = run_phase("queries", db=db, queries=args.queries, year=spec.year, months=spec.months)
    spec_file = workdir / "sizes.json"
    spec_file.write_text(json.dumps({"sizes": Pattern(pattern).sample_sizes(20_000), "events": out["ingest"]["events"],
                                     "events_per_transaction": out["ingest"]["events_per_transaction"]}))
    for key, shape in (("floor", "new"), ("floor_streams", "same")):
        floor_db = fresh_db(args.db, workdir, "floor")
        out[key] = run_phase("floor", db=floor_db, spec=spec_file, pattern=pattern, shape=shape)
        discard(args.db, floor_db)
    if not args.db and "sqlite3" not in skip:
        raw = fresh_db(args.db, workdir, "raw")
        out["sqlite3"] = run_phase("sqlite3", db=raw, spec=spec_file)
        discard(args.db, raw)
    ingest, floor, rebuild = out["ingest"]["events_per_s"], out["floor"], out["rebuild"]["events_per_s"]
    out["ratios"] = {
        "ingest_vs_floor_append": ingest / floor["append_events_per_s"],
        "ingest_vs_floor_append_our_streams": ingest / out["floor_streams"]["append_events_per_s"],
        "rebuild_vs_floor_read_decode": rebuild / floor["read_decode_events_per_s"],
    }
    if "audit" in out:
        out["ratios"]["audit_vs_floor_read_decode"] = out["audit"]["events_per_s"] / floor["read_decode_events_per_s"]
    return out


RSS_TARGET_MB = 400
"""Issue 23: a million members ingested, rebuilt and audited within 400 MB in every phase."""


def _processor(phase: dict[str, Any]) -> str:
    """A two-process phase's processor time: its own and its second process's."""
    return f"processor {phase['cpu_seconds']:.1f} + {phase['children_cpu_seconds']:.1f} s"


def print_table(r: dict[str, Any]) -> None:
    i, f, rb, a, q = r["ingest"], r["floor"], r["rebuild"], r.get("audit"), r.get("queries")
    rows = [
        ("generate the city", f"{r['city']['messages_per_s']:,.0f} messages/s ({r['city']['seconds']:.1f} s)",
         f"{r['city']['peak_rss_mb']:.0f}"),
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
        ("rebuild read models", f"{rb['events_per_s']:,.0f} events/s ({rb['seconds']:.1f} s; {_processor(rb)})",
         f"{rb['peak_rss_mb']:.0f}" + (f" + {rb['writer_peak_rss_mb']:.0f}" if rb["writer_peak_rss_mb"] else "")),
    ]
    if a is not None:
        rows.append(("audit replay", f"{a['events_per_s']:,.0f} events/s ({a['seconds']:.1f} s, ok={a['ok']}; "
                                     f"{_processor(a)}), {a['events_per_s'] / f['read_decode_events_per_s']:.0%} "
                                     "of read+decode",
                     f"{a['peak_rss_mb']:.0f}" + (f" + {a['replay_peak_rss_mb']:.0f}"
                                                  if a.get("replay_peak_rss_mb") else "")))
    if i["closes"]:
        slowest = max(i["closes"], key=lambda c: c["seconds"])
        rate = slowest["events"] / slowest["seconds"]
        rows.append(("month close, slowest", f"{slowest['month']}: {slowest['events']:,} in {slowest['seconds']:.1f} s "
                                             f"= {rate:,.0f}/s, {rate / r['floor_streams']['append_events_per_s']:.0%} "
                                             "of append", ""))
    if (c := r.get("close_members")) is not None:
        rows.append((f"month close, {c['members']:,} members",
                     f"{c['close']['seconds']:.1f} s = {c['credits_per_s']:,.0f} credits/s, "
                     f"{c['close_vs_floor_append']:.0%} of its bare append "
                     f"({c['floor']['append_events_per_s']:,.0f}/s)",
                     f"{c['close']['peak_rss_mb']:.0f}"))
    if q is not None:
        if q.get("settle_seconds"):
            rows.append(("vacuum before the queries", f"{q['settle_seconds']:.1f} s", ""))
        rows += [(f"{name} {'query' if name in ('balance', 'cap') else 'over HTTP'}",
                  f"p50 {q[name]['p50_ms']:.2f} ms, p99 {q[name]['p99_ms']:.2f} ms"
                  + (f" (bare stack {q[bare]['p50_ms']:.2f} / {q[bare]['p99_ms']:.2f})" if bare in q else ""),
                  f"{q['peak_rss_mb']:.0f}" if name == "balance" else "")
                 for name, bare in (("balance", ""), ("cap", ""), ("1101", "bare 1101"), ("5206", "bare 5206"))]
    peaks = [sum(float(part) for part in rss.split(" + ")) for _, _, rss in rows if rss]  # a phase's processes together
    print(f"\n{r['store']}: {i['events']:,} events from {i['messages']:,} messages "
          f"({i['settlements']:,} settlements, {i['refused']} refused)")
    for line in i["refusals"]:
        print(f"  refused: {line}")
    print(f"{'phase':<32}{'rate':<88}{'peak RSS MiB':>12}")
    for name, rate, rss in rows:
        print(f"{name:<32}{rate:<88}{rss:>12}")
    ratios = r["ratios"]
    if len(r["rounds"]) > 1:
        print("\nrounds (the table shows the last):")
        for n, rr in enumerate(r["rounds"], 1):
            print(f"  {n}: ingest / bare append of the same events "
                  f"{rr['ratios']['ingest_vs_floor_append_our_streams']:.0%} "
                  f"({rr['ingest']['events_per_s']:,.0f} / {rr['floor_streams']['append_events_per_s']:,.0f} "
                  f"events/s), new streams of three {rr['ratios']['ingest_vs_floor_append']:.0%} "
                  f"(/ {rr['floor']['append_events_per_s']:,.0f}), "
                  f"rebuild / bare read+decode {rr['ratios']['rebuild_vs_floor_read_decode']:.0%} "
                  f"({rr['rebuild']['events_per_s']:,.0f} / {rr['floor']['read_decode_events_per_s']:,.0f} events/s)"
                  + (f", audit {rr['ratios']['audit_vs_floor_read_decode']:.0%}" if "audit" in rr else ""))
    print(f"\n{'median of the rounds: ' if len(r['rounds']) > 1 else ''}"
          f"ingest / bare append of the same events: {ratios['ingest_vs_floor_append_our_streams']:.0%} "
          f"(new streams of three {ratios['ingest_vs_floor_append']:.0%})   "
          f"rebuild / bare read+decode: {ratios['rebuild_vs_floor_read_decode']:.0%}"
          + (f"   audit / bare read+decode: {ratios['audit_vs_floor_read_decode']:.0%}"
             if "audit_vs_floor_read_decode" in ratios else ""))
    print(f"highest peak RSS of a phase: {max(peaks):.0f} MiB = {megabytes(max(peaks)):.0f} MB "
          f"({megabytes(max(peaks)) / RSS_TARGET_MB:.0%} of {RSS_TARGET_MB} MB); "
          f"ingest {i['peak_rss_mb']:.0f} MiB ({megabytes(i['peak_rss_mb']) / RSS_TARGET_MB:.0%})")


def megabytes(mebibytes: float) -> float:
    """MiB (what the peaks are measured in) as MB (what the issue's target is given in)."""
    return mebibytes * 2**20 / 10**6


if __name__ == "__main__":
    main()
