"""Export the log and audit it: what a regulator runs to get the same numbers, or find why not.

``export`` writes every stored event as a JSON line (position, stream, version, topic,
recorded time, the chain's hash, and the stored payload verbatim, always last), then a line
with the chain's head. ``audit`` reads the live store or such a file, on any machine:

1. rebuilds every read model from the events alone into a scratch database, which also
   recomputes the hash chain;
2. re-adjudicates every settlement and adjustment under the policy version the log recorded
   and compares each amount;
3. re-derives every credit, prepayment, clearing and deposit return from the log alone
   (:mod:`ledger.services.rederivation`);
   checks that the journal's debits equal its credits;
4. compares the recomputed chain with the sealed one (the live ``log_chain``, or the file's
   hashes), naming the first position that differs: a changed, deleted or reordered event, or
   (live) a recorded time changed in the seal;
5. for the live store, compares the rebuilt read models with the live ones, row by row;
6. given an anchored head (``--expect-head``, :mod:`ledger.services.anchor`), checks that the
   recomputed chain passes through it, so a log cut at its end or rewritten with its seal fails.
"""

from __future__ import annotations

import json
import pickle
import shutil
import subprocess
import sys
import tempfile
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from uuid import UUID

from eventsourcing.persistence import Notification

from ledger.adapters.collector import batch_collection
from ledger.adapters.seam import log_reader
from ledger.adapters.store import Store, sqlite_engine
from ledger.adapters.transcodings import LedgerTranscoder, make_transcoder
from ledger.errors import LedgerError
from ledger.policy.parameters import Policy
from ledger.projections.base import Record, View
from ledger.projections.chain import GENESIS, link, log_chain
from ledger.projections.journal import trial_balance
from ledger.projections.runner import EventSource, ProjectionRunner, all_views
from ledger.rules.adjudication import adjudicate, result_record
from ledger.rules.facts import Claim, Context
from ledger.services.anchor import Checkpoint, anchor_problems
from ledger.services.comparison import Found, Streamed, first_difference, table_query
from ledger.services.rederivation import MAX_PROBLEMS, POLICY_RECORDED, PeriodRunsView

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
    from sqlalchemy import Connection, Engine, Table

    from ledger.services.ports import AuditedLedger
    from ledger.services.pseudonyms import Pseudonymiser

PAYLOAD_KEY = b',"payload":'
APART_FROM = 50_000
"""A log of at least this many events is re-adjudicated and its period runs re-derived by a
second process while this one rebuilds the read models and compares them (each is about half
an audit's work; figures in docs/benchmarks.md). A shorter one is not worth the second
interpreter's start."""
BOOT = ("import sys; sys.path[:] = sys.argv[2:]; from ledger.services.audit import replay_main; "
        "replay_main(sys.argv[1])")
"""The second process: a fresh interpreter on this one's import path (not ``multiprocessing``'s
spawn, which would run the caller's main module again: a script or a server)."""


def _timestamp(state: bytes) -> str:
    return str(json.loads(state)["timestamp"]["_data_"])


def export_log(app: AuditedLedger, path: str, *, batch: int = 2000, key: Ed25519PrivateKey | None = None,
               pseudonymise: Pseudonymiser | None = None) -> tuple[int, str]:
    """Write the whole log to ``path`` as JSON lines; returns the number of events and the chain head.

    The last line is the head as a checkpoint (position, hash, time), signed with ``key`` if given.
    With ``pseudonymise`` the people's identifiers are replaced, and the file's chain is over
    what it holds: its head is not the live one.
    """
    head, count, start, recorded_at = GENESIS, 0, 1, None
    with open(path, "wb") as out:
        while True:
            notifications = app.recorder.select_notifications(start, batch)
            if not notifications:
                break
            for n in map(pseudonymise.rewrite, notifications) if pseudonymise else notifications:
                head = link(head, n.id, n.originator_id, n.originator_version, n.topic, n.state)
                recorded_at = _timestamp(n.state)
                prefix = json.dumps({"position": n.id, "originator_id": str(n.originator_id),
                                     "originator_version": n.originator_version, "topic": n.topic,
                                     "recorded_at": recorded_at, "hash": head}, ensure_ascii=False)
                out.write(prefix[:-1].encode() + PAYLOAD_KEY + n.state + b"}\n")
                count += 1
            start = notifications[-1].id + 1
        checkpoint = Checkpoint(start - 1, head, recorded_at)
        if key is not None:
            checkpoint = checkpoint.signed(key)
        tail = {"chain_head": head, "events": count, **checkpoint.as_dict(),
                **({"pseudonymised": True} if pseudonymise else {})}
        del tail["hash"]
        out.write(json.dumps(tail).encode() + b"\n")
    return count, head


class ExportedLog:
    """A log read back from an export file, streamed in order, its hash chain checked as it is read."""

    def __init__(self, path: str, watch: Checkpoint | None = None) -> None:
        self.path = path
        self.head: str | None = None
        """The chain head the file's last line declares."""
        self.tail: dict[str, Any] = {}
        """The file's last line: the head as a checkpoint."""
        self.watch = watch
        self.found: tuple[int, str] | None = None
        """The recomputed (position, hash) at the watched head, if the records pass through it."""
        self.link = GENESIS
        """The chain recomputed over the records read so far."""
        self.last = 0
        self.records = 0
        """How many event records the file held (every one is read for the chain)."""
        self.problems: list[str] = []
        self.broken_at: int | None = None
        """The lowest position whose record does not match its hash (every one after a break differs)."""
        self._lines = self._read()
        self._pending: Notification | None = None

    def _read(self) -> Iterator[Notification]:
        with open(self.path, "rb") as f:
            for lineno, raw in enumerate(f, 1):
                line = raw.rstrip(b"\n")
                if not line:
                    continue
                at = line.find(PAYLOAD_KEY)
                if at < 0:
                    self.tail = json.loads(line)
                    self.head = self.tail.get("chain_head")
                    continue
                meta = json.loads(line[:at] + b"}")
                position = int(meta["position"])
                if position <= self.last:
                    self.problems.append(f"{self.path}:{lineno}: position {position} out of order")
                self.last = max(self.last, position)
                self.records += 1
                n = Notification(id=position, originator_id=UUID(meta["originator_id"]),
                                 originator_version=int(meta["originator_version"]), topic=meta["topic"],
                                 state=line[at + len(PAYLOAD_KEY):-1])
                self.link = link(self.link, n.id, n.originator_id, n.originator_version, n.topic, n.state)
                if self.link != meta["hash"]:
                    self.broken_at = position if self.broken_at is None else min(self.broken_at, position)
                if self.watch is not None and self.watch.passes(position, self.link):
                    self.found = (position, self.link)
                yield n

    def chain_check(self) -> list[str]:
        """After reading: the first record off its hash, or a head that does not close the chain."""
        if self.broken_at is not None:
            return [f"position {self.broken_at}: the record does not match its hash (changed, deleted or reordered)"]
        if self.head is None:
            return ["the file has no chain head line (truncated?)"]
        if self.head != self.link:
            return [f"the chain head {self.head} does not match the records ({self.link})"]
        if "signature" in self.tail:
            return Checkpoint(int(self.tail["position"]), self.head, self.tail.get("recorded_at"),
                              self.tail.get("public_key"), self.tail["signature"]).signature_problems()
        return []

    def select(self, start: int, limit: int, stop: int | None = None, topics: Sequence[str] = ()) -> list[Notification]:
        """The next ``limit`` events from ``start`` on, through ``stop``, of ``topics`` (read in order, once).

        Every line is still read: the chain is checked over all of them.
        """
        out: list[Notification] = []
        if self._pending is not None and self._pending.id >= start:
            out.append(self._pending)
        self._pending = None
        for n in self._lines:
            if n.id < start or (topics and n.topic not in topics) or (stop is not None and n.id > stop):
                continue
            if len(out) == limit:
                self._pending = n
                break
            out.append(n)
        return out


class ReadjudicationView(View):
    """Re-adjudicates every settlement and adjustment under the policy version the log recorded."""

    name = "audit_readjudication"
    topics = (POLICY_RECORDED, "yibao:Settlement.Settled", "yibao:Settlement.Adjusted")
    tables = ()

    def __init__(self) -> None:
        self.policies: dict[str, Policy] = {}
        self.checked = 0
        self.problems: list[str] = []

    def process(self, conn: Connection, record: Record) -> None:
        """Replay a settlement from its claim and context, typed; its recorded result is compared as stored."""
        if record.topic == POLICY_RECORDED:
            p = record.typed()
            try:
                self.policies[p["content_hash"]] = Policy.from_record(p["record"])
            except LedgerError as e:
                self._problem(f"position {record.position}: policy version {p['content_hash']}: {e}")
            return
        self.checked += 1
        p = record.payload
        policy = self.policies.get(p["policy_version"])
        if policy is None:
            self._problem(f"position {record.position}: settlement {p['medins_setl_id']} uses policy "
                          f"{p['policy_version']}, which the log does not hold")
            return
        try:
            replayed = result_record(adjudicate(Claim.from_record(record.transcoder.typed(p["claim"])),
                                                Context.from_record(record.transcoder.typed(p["context"])), policy))
        except (LedgerError, KeyError, TypeError, ValueError) as e:
            self._problem(f"position {record.position}: settlement {p['medins_setl_id']}: cannot replay: {e}")
            return
        recorded, holds = p["result"], record.transcoder.holds
        for name, value in replayed.items():
            if not holds(recorded.get(name), value):
                self._problem(f"position {record.position}: settlement {p['medins_setl_id']}: {name} recorded "
                              f"{record.transcoder.typed(recorded.get(name))}, re-adjudicated {value}")

    def _problem(self, text: str) -> None:
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(text)


class AuditError(LedgerError):
    """Raised when the audit could not run to its end (not when it found a difference)."""


Where = tuple[Store, str] | str
"""The log a second process reads: a store and the application's name, or an export file."""


@dataclass
class Replayed:
    """What the replay found: settlements re-adjudicated and period events re-derived, and the problems of each."""

    settlements: int
    readjudication: list[str]
    period_events: int
    period_runs: list[str]

    @classmethod
    def of(cls, readjudication: ReadjudicationView, periods: PeriodRunsView, scratch: Engine) -> Replayed:
        """The views' findings, once they have read the whole log into ``scratch``."""
        with scratch.connect() as conn:
            periods.finish(conn)
        return cls(readjudication.checked, readjudication.problems, periods.checked, periods.problems)


@batch_collection()
def replay(where: Where, head: int | None, scratch: str) -> Replayed:
    """Re-adjudicate the log at ``where`` through position ``head`` and re-derive its period runs.

    What the second process does. ``scratch``: a directory for the runner's positions.
    """
    reader = None
    if isinstance(where, str):
        source = EventSource(select=ExportedLog(where).select, transcoder=make_transcoder(), head=lambda: None)
    else:
        store, application = where
        reader = store.log_application(application)
        source = EventSource(select=log_reader(reader.recorder), transcoder=make_transcoder(),
                             head=lambda: head, read_ahead=store.kind == "postgresql")
    readjudication, periods = ReadjudicationView(), PeriodRunsView()
    engine = _scratch_engine(Path(scratch) / "replay.db")
    try:
        ProjectionRunner(source, engine, [readjudication, periods]).catch_up()
        return Replayed.of(readjudication, periods, engine)
    finally:
        engine.dispose()
        if reader is not None:
            reader.close()


def replay_main(scratch: str) -> None:
    """The second process: the arguments of :func:`replay` and its result, pickled in files in ``scratch``.

    (Files, not the command line: a PostgreSQL URL may hold a password.)
    """
    folder = Path(scratch)
    where, head = pickle.loads((folder / "replay.args").read_bytes())
    (folder / "replay.result").write_bytes(pickle.dumps(replay(where, head, scratch)))


class Apart:
    """The replay (re-adjudication and period runs), in a second process for a long log, in this one for a short one."""

    def __init__(self, where: Where, events: int, head: int | None, scratch: str) -> None:
        self.here: tuple[ReadjudicationView, PeriodRunsView] | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._scratch = Path(scratch)
        if events < APART_FROM:
            self.here = (ReadjudicationView(), PeriodRunsView())
            return
        (self._scratch / "replay.args").write_bytes(pickle.dumps((where, head)))
        self._process = subprocess.Popen([sys.executable, "-c", BOOT, scratch, *sys.path], stdin=subprocess.DEVNULL,
                                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    @property
    def views(self) -> list[View]:
        """What this process's runner must read for it."""
        return [] if self.here is None else list(self.here)

    def result(self, scratch: Engine) -> Replayed:
        """What the replay found, once the whole log is read (into ``scratch``, when it ran in this process)."""
        if self.here is not None:
            return Replayed.of(*self.here, scratch)
        assert self._process is not None
        _, err = self._process.communicate()
        if self._process.returncode != 0:
            why = err.decode(errors="replace").strip().splitlines()
            raise AuditError(f"the replay process stopped: {why[-1] if why else self._process.returncode}")
        replayed = pickle.loads((self._scratch / "replay.result").read_bytes())
        assert isinstance(replayed, Replayed)
        return replayed

    def stop(self) -> None:
        """End the second process if it still runs (the audit failed before asking for its result)."""
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
            self._process.wait()


@dataclass
class AuditReport:
    """What an audit found; ``ok`` only when every check passed."""

    source: str
    events: int = 0
    chain_head: str = GENESIS
    checks: dict[str, list[str]] = field(default_factory=dict)
    settlements_replayed: int = 0
    period_events_rederived: int = 0
    journal: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """Every check passed."""
        return not any(self.checks.values())

    def as_dict(self) -> dict[str, Any]:
        """For ``--json``."""
        return {"ok": self.ok, "source": self.source, "events": self.events, "chain_head": self.chain_head,
                "settlements_replayed": self.settlements_replayed,
                "period_events_rederived": self.period_events_rederived,
                "journal": {k: self.journal.get(k) for k in ("debit", "credit", "balanced")},
                "checks": {name: {"ok": not problems, "problems": problems} for name, problems in self.checks.items()}}


@batch_collection()
def audit(app: AuditedLedger | None = None, *, export: str | None = None, progress: bool = False,
          transcoder: LedgerTranscoder | None = None, expect: Checkpoint | None = None,
          trusted: Ed25519PublicKey | None = None) -> AuditReport:
    """Audit the live store of ``app``, or the export file ``export``; ``expect``: an anchored head it must extend.

    ``trusted``: the key that must have signed ``expect``.
    """
    scratch_dir = tempfile.mkdtemp(prefix="ledger-audit-")
    scratch = _scratch_engine(Path(scratch_dir) / "scratch.db")
    try:
        report = _audit(app, export, scratch, scratch_dir, progress, transcoder, expect)
        if expect is not None:
            report.checks["anchor"] = expect.signature_problems(trusted) + report.checks["anchor"]
        return report
    finally:
        scratch.dispose()
        shutil.rmtree(scratch_dir, ignore_errors=True)


def _scratch_engine(path: Path) -> Engine:
    """A SQLite file for the rebuilt read models, with no rollback journal, never synced to disk.

    It is deleted when the audit ends, and made again from the log if the audit is run again,
    so nothing in it needs to survive a crash, and nothing written to it is rolled back (a
    failed batch ends the audit). SQLite's defaults would sync the file and a rollback
    journal at every batch: on a busy disk, most of an audit's time. A journal kept in memory
    instead held a copy of every page a batch changed: SQLite's memory in the audit's own
    process reached 65 MiB on a store of 208,333 members, 13 MiB without (docs/benchmarks.md,
    twentieth set).
    """
    return sqlite_engine(path, "journal_mode=OFF", "synchronous=OFF")


def _audit(app: AuditedLedger | None, export: str | None, scratch: Engine, scratch_dir: str, progress: bool,
           transcoder: LedgerTranscoder | None, expect: Checkpoint | None) -> AuditReport:
    if export is not None:
        log = ExportedLog(export, expect)
        source = EventSource(select=log.select, transcoder=transcoder or make_transcoder(), head=lambda: None)
        # A file's size stands in for its count of events; a transcoder of the caller's own stays in this process.
        apart = Apart(export, Path(export).stat().st_size // 1000 if transcoder is None else 0, None, scratch_dir)
    else:
        assert app is not None
        app.read_models.catch_up(progress=progress)
        live = app.event_source()
        last = live.head() or 0
        # Both processes read the log through the same position, whatever is booked meanwhile.
        source = EventSource(select=live.select, transcoder=live.transcoder, head=lambda: last,
                             read_ahead=live.read_ahead)
        apart = Apart((app.store, app.name), last, last, scratch_dir)
    try:
        if export is not None:
            report = AuditReport(source=export)
            # The file checks its own chain as it is read; the scratch store needs no second one.
            views = [v for v in [*all_views(), *apart.views] if v.rebuildable]
            ProjectionRunner(source, scratch, views).catch_up(progress=progress)
            report.events = log.records
            report.checks["file"] = log.problems
            report.checks["chain"] = log.chain_check()
            report.chain_head = log.link
            if expect is not None:
                report.checks["anchor"] = anchor_problems(expect, log.found, log.last)
            with scratch.connect() as conn:
                report.journal = trial_balance(conn)
        else:
            assert app is not None
            report = AuditReport(source=app.store.url)
            runner = ProjectionRunner(source, scratch, [*all_views(), *apart.views])
            compared = [table for view in all_views() if view.rebuildable for table in view.tables]
            with app.engine.connect() as live_conn, closing(Streamed(live_conn, expect)) as streamed:
                with streamed.diverting(scratch):
                    report.events = runner.rebuild(progress=progress, indexes=False)
                found = streamed.finish()
                with scratch.connect() as rebuilt:  # the tables not compared as they were made
                    found.update({table: first_difference(live_conn, rebuilt, table_query(table))
                                  for table in compared if table not in found})
            report.checks["chain"] = _chain_problems(found[log_chain])
            report.checks["read_models"] = [_row_problem(table, difference) for table in compared
                                            if (difference := found[table]) is not None]
            report.chain_head = streamed.head[1]
            report.journal = streamed.trial_balance()
            if expect is not None:
                report.checks["anchor"] = anchor_problems(expect, streamed.found_at_watch, streamed.head[0])
        replayed = apart.result(scratch)
    finally:
        apart.stop()
    report.settlements_replayed, report.checks["readjudication"] = replayed.settlements, replayed.readjudication
    report.period_events_rederived, report.checks["period_runs"] = replayed.period_events, replayed.period_runs
    report.checks["journal"] = [] if report.journal["balanced"] else [
        f"debits {report.journal['debit']} differ from credits {report.journal['credit']}"]
    return report


def _row_problem(table: Table, found: Found) -> str:
    """A read model's first row that differs, by its number in key order."""
    x, y, number = found
    return f"{table.name}: row {number} differs: live {x}, rebuilt {y}"


def _chain_problems(found: Found | None) -> list[str]:
    """The sealed chain against the one recomputed from the events: the first position that differs, and how."""
    if found is None:
        return []
    sealed, fresh, _ = found
    if fresh is None or (sealed is not None and sealed[0] < fresh[0]):
        assert sealed is not None
        return [f"position {sealed[0]}: sealed in the chain but missing from the log (deleted)"]
    if sealed is None or fresh[0] < sealed[0]:
        return [f"position {fresh[0]}: in the log but not in the sealed chain (inserted)"]
    if sealed[1] == fresh[1]:
        return [f"position {sealed[0]}: sealed as recorded at {sealed[2]}, the event says {fresh[2]}"]
    return [f"position {sealed[0]}: event differs from what was sealed (changed or reordered)"]
