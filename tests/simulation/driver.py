"""A seeded simulation of several writers on one store, with crashes, checked against invariants and a reference.

One seed gives one run, exactly reproducible in what is sent (the interleaving of the
processes is the machine's): a city is set up; then several ``ledger ingest`` processes book
streams of visits, late and backdated bills, duplicates, conflicting resubmissions,
reversals, backdated admissions, suspensions, base changes and account payments at once; some are killed (SIGKILL) at
random moments and run again, and one first fails a commit in process. After every step the
store must hold: debits equal credits, no balance below zero, no member past the cap. At the
end: every line acknowledged is present exactly once (a second ingest books nothing and
refuses exactly the lines the reference refuses), each member's cap and balance equal the
reference model's (:mod:`tests.simulation.model`), the audit passes (rebuild equals
incremental, the chain, the re-adjudication, the period runs), and a clean run of the same
files by one writer without crashes holds the same money.
"""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from ledger.adapters import seam
from ledger.projections.accounts import accounts_balances
from ledger.projections.base import yuan
from ledger.projections.caps import caps_usage
from ledger.projections.roster import roster_members
from ledger.services.application import OutpatientPooling
from ledger.services.audit import audit
from ledger.services.bootstrap import bootstrap
from ledger.services.ingest import ingest_file
from tests.simulation.model import CAP, Bill, Reference
from tests.support import close_month, fact, institution, item, member, visit, write_jsonl

REGION = "411500"
LEVELS = {"H3": 3, "H2": 2}
INGEST = "import sys; from ledger.entrypoints.cli import main; sys.exit(main())"
FIRST_DAY, DAYS = date(2024, 2, 1), 150  # bills from February to June; January is closed before
MONTHS = [f"2024-{m:02d}" for m in range(2, 13)]  # closed after the writers: then the year is cleared


class SimulationFailure(AssertionError):
    """A run broke an invariant or disagreed with the reference; the message says how to replay it."""


@dataclass
class Figures:
    """What the runs did, for docs/reliability.md."""

    seeds: int = 0
    messages: int = 0
    crashes: int = 0
    invariant_checks: int = 0
    failures: list[str] = field(default_factory=list)


@dataclass
class Plan:
    """One seed's messages: the setup, each writer's stream with the refusals the reference expects, the period runs.

    The period runs (February to December closed, the year cleared, the institutions assessed before
    and after) come after the writers, so that the credits the reference expects do not hang on the
    interleaving.
    """

    setup: list[dict[str, Any]]
    streams: list[list[dict[str, Any]]]
    refused: list[set[int]]
    """Per stream, the line numbers the reference refuses."""
    closes: list[dict[str, Any]]
    reference: Reference


def plan(seed: int, steps: int, writers: int, members: int = 8) -> Plan:
    """Messages for ``steps`` random steps over ``writers`` streams, and what the reference makes of them."""
    rng = random.Random(seed)
    ref = Reference()
    people = [f"S{seed}P{i}" for i in range(members)]
    setup: list[dict[str, Any]] = [institution("H3", level=3), institution("H2", level=2),
                                   {"type": "budget.set", "date": "2024-01-01", "admdvs": REGION, "year": 2024,
                                    "amount": "1000000.00"}]
    for psn in people:
        psn_type = rng.choice(["11", "11", "12"])
        setup.append(member(psn, psn_type=psn_type))
        ref.enrol(psn, psn_type)
    setup.append(close_month(REGION, "2024-01", "2024-01-31"))
    ref.close_month(date(2024, 1, 1), date(2024, 1, 31))
    streams: list[list[dict[str, Any]]] = [[] for _ in range(writers)]
    refused: list[set[int]] = [set() for _ in range(writers)]
    mine: list[list[str]] = [[] for _ in range(writers)]
    admitted: set[str] = set()
    suspended: set[str] = set()
    rebased: set[str] = set()

    def send(w: int, message: dict[str, Any], outcome: str) -> None:
        streams[w].append(message)
        if outcome == "refused":
            refused[w].add(len(streams[w]))

    for n in range(steps):
        w = rng.randrange(writers)
        roll = rng.random()
        if roll < 0.55 or not mine[w]:
            key, psn, code = f"S{seed}-{n}", rng.choice(people), rng.choice(list(LEVELS))
            day = FIRST_DAY + timedelta(days=rng.randrange(DAYS))  # out of date order: late bills re-adjudicate
            amount = Decimal(rng.randrange(2000, 90000)) / 100
            send(w, visit(key, psn, code, day.isoformat(), item(f"{amount:.2f}", sn="1")),
                 ref.settle(key, Bill(psn, LEVELS[code], day, amount)))
            mine[w].append(key)
        elif roll < 0.65:
            original = _find(streams[w], rng.choice(mine[w]))
            send(w, original, "present")
        elif roll < 0.72:
            original = _find(streams[w], rng.choice(mine[w]))
            conflicting = {**original, "items": [item("999.99", sn="1")]}
            send(w, conflicting, "refused")
        elif roll < 0.85:
            key = rng.choice(mine[w])
            send(w, {"type": "settlement.reversed", "date": "2024-07-01", "medins_setl_id": key,
                     "reason": "entered twice"}, ref.reverse(key))
        elif roll < 0.92 and len(admitted) < len(people):
            psn = rng.choice([p for p in people if p not in admitted])
            admitted.add(psn)
            start = FIRST_DAY + timedelta(days=rng.randrange(DAYS))
            end = start + timedelta(days=rng.randrange(1, 12))
            ref.admit(psn, start, end)
            send(w, fact("admitted", psn, start.isoformat(), fixmedins_code="H3"), "booked")
            send(w, fact("discharged", psn, end.isoformat()), "booked")
        elif roll < 0.95 and len(suspended) < len(people):  # benefits suspended (arrears), then resumed
            psn = rng.choice([p for p in people if p not in suspended])
            suspended.add(psn)
            start = FIRST_DAY + timedelta(days=rng.randrange(DAYS))
            end = start + timedelta(days=rng.randrange(1, 60))
            ref.suspend(psn, start, end)
            send(w, fact("suspended", psn, start.isoformat(), reason="arrears"), "booked")
            send(w, fact("resumed", psn, end.isoformat()), "booked")
        elif roll < 0.97 and len(rebased) < len(people):  # a new contribution base from a month
            psn = rng.choice([p for p in people if p not in rebased])
            rebased.add(psn)
            day, base = FIRST_DAY + timedelta(days=rng.randrange(DAYS)), Decimal(rng.randrange(30, 120)) * 100
            ref.change_base(psn, day, base)
            send(w, fact("contribution_base_changed", psn, day.isoformat(), contribution_base=f"{base:.2f}"),
                 "booked")
        else:
            psn, amount = rng.choice(people), Decimal(rng.randrange(100, 9000)) / 100
            send(0, {"type": "account.used", "date": "2024-01-31", "psn_no": psn, "amount": f"{amount:.2f}",
                     "beneficiary": "child", "purpose": "medical", "reference": f"R{seed}-{n}"},
                 ref.use_account(psn, amount))
    closes = [{"type": "institution.assessed", "date": "2024-12-31", "fixmedins_code": "H3", "year": 2024,
               "score": "88.50"}, *[close_month(REGION, m, _last_day(m)) for m in MONTHS],
              {"type": "year.closed", "date": "2024-12-31", "admdvs": REGION, "year": 2024},
              {"type": "institution.assessed", "date": "2025-01-20", "fixmedins_code": "H2", "year": 2024,
               "score": "92.00"}]
    for m in MONTHS:
        ref.close_month(date.fromisoformat(f"{m}-01"), date.fromisoformat(_last_day(m)))
    return Plan(setup, streams, refused, closes, ref)


def _find(stream: list[dict[str, Any]], key: str) -> dict[str, Any]:
    return next(m for m in stream if m.get("medins_setl_id") == key and m["type"] == "visit.settled")


def _last_day(month: str) -> str:
    year, mon = (int(x) for x in month.split("-"))
    return (date(year + mon // 12, mon % 12 + 1, 1) - timedelta(days=1)).isoformat()


def check_invariants(app: OutpatientPooling, ref: Reference) -> None:
    """Debits equal credits, no balance below zero, no member past the cap: at any moment."""
    app.read_models.catch_up()
    trial = app.trial_balance()
    if not trial["balanced"]:
        raise SimulationFailure(f"debits {trial['debit']} differ from credits {trial['credit']}")
    with app.engine.connect() as conn:
        lowest = conn.execute(select(func.min(accounts_balances.c.balc))).scalar()
        if lowest is not None and lowest < 0:
            raise SimulationFailure(f"a balance below zero: {yuan(lowest)}")
        rows = conn.execute(select(roster_members.c.psn_no, caps_usage.c.pooled)
                            .join(caps_usage, caps_usage.c.member_id == roster_members.c.member_id)).all()
    for psn_no, pooled in rows:
        cap = CAP[ref.people[psn_no].psn_type]
        if yuan(pooled) > cap:
            raise SimulationFailure(f"{psn_no} is past the cap: {yuan(pooled)} > {cap}")


def money(app: OutpatientPooling, ref: Reference) -> dict[str, Any]:
    """Each member's cap used and balance, and the region's live settlements."""
    out: dict[str, Any] = {psn: (app.cap(psn, 2024)["used"], app.balance(psn)["balc"]) for psn in sorted(ref.people)}
    out["settlements"] = app.region_totals(REGION, 2024)["settlements"]
    return out


def _spawn(url: str, path: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-c", INGEST, "--db", url, "ingest", "--quiet", str(path)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


class FailingCommit(RuntimeError):
    """Injected: the store failed to commit."""


def _ingest_failing(url: str, path: Path, after: int) -> None:
    """Ingest in this process until the store fails the ``after``-th commit (if it gets that far).

    Every append of the ledger goes through ``seam.insert_events`` (a batch's events and its
    snapshots in one transaction, past the recorder on PostgreSQL), so that is where it fails.
    """
    app = bootstrap(url)
    insert = seam.insert_events
    calls = {"n": 0}

    def failing(*args: Any, **kw: Any) -> Any:
        calls["n"] += 1
        if calls["n"] >= after:
            raise FailingCommit
        return insert(*args, **kw)

    seam.insert_events = failing
    try:
        ingest_file(app, str(path))
    except FailingCommit:
        pass
    finally:
        seam.insert_events = insert
        app.close()


def run_seed(seed: int, url: str, clean_url: str, folder: Path, *, steps: int = 60, writers: int = 3,
             kills: int = 2, figures: Figures | None = None) -> Figures:
    """One seed: raise :class:`SimulationFailure` naming the seed if anything does not hold."""
    figures = figures or Figures()
    try:
        _run(seed, url, clean_url, folder, steps, writers, kills, figures)
    except Exception as e:
        note = (f"seed {seed} failed ({type(e).__name__}: {e}); "
                f"replay: scripts/simulate.py --seed {seed} --steps {steps}")
        figures.failures.append(note)
        raise SimulationFailure(note) from e
    return figures


def _run(seed: int, url: str, clean_url: str, folder: Path, steps: int, writers: int, kills: int,
         figures: Figures) -> None:
    rng = random.Random(seed * 7919)
    p = plan(seed, steps, writers)
    figures.seeds += 1
    figures.messages += len(p.setup) + sum(map(len, p.streams)) + len(p.closes)
    setup = write_jsonl(folder / f"setup-{seed}.jsonl", *p.setup)
    files = [write_jsonl(folder / f"writer-{seed}-{w}.jsonl", *s) for w, s in enumerate(p.streams)]
    closes = write_jsonl(folder / f"closes-{seed}.jsonl", *p.closes)

    app = bootstrap(url)
    try:
        assert ingest_file(app, str(setup)).refused == 0
        failing = rng.randrange(writers)  # this writer first fails a commit part-way, in process
        _ingest_failing(url, files[failing], after=rng.randrange(1, 4))
        figures.crashes += 1
        running = {w: _spawn(url, f) for w, f in enumerate(files)}
        left = kills
        while running:
            time.sleep(rng.uniform(0.05, 0.5))
            if left and rng.random() < 0.5:
                w = rng.choice(sorted(running))
                if running[w].poll() is None:
                    running[w].send_signal(signal.SIGKILL)
                    running[w].wait()
                    figures.crashes += 1
                    left -= 1
                    running[w] = _spawn(url, files[w])  # resumed: the same file again
            for w in [w for w, proc in running.items() if proc.poll() is not None]:
                if running.pop(w).returncode not in (0, 1):
                    raise SimulationFailure(f"writer {w} ended with an error")
            check_invariants(app, p.reference)
            figures.invariant_checks += 1
        for w, f in enumerate(files):  # everything acknowledged is there once; only the reference's refusals refused
            again = ingest_file(app, str(f))
            refused = {int(line.removeprefix(f"{f}:").split(":", 1)[0]) for line in again.errors}
            if again.booked or refused != p.refused[w]:
                raise SimulationFailure(f"writer {w}: a second ingest booked {again.booked}, refused lines "
                                        f"{sorted(refused)}; the reference refuses {sorted(p.refused[w])}")
        assert ingest_file(app, str(closes)).refused == 0
        check_invariants(app, p.reference)
        figures.invariant_checks += 1
        found = money(app, p.reference)
        expected: dict[str, Any] = {psn: (p.reference.cap_used(psn), p.reference.balance(psn))
                                    for psn in sorted(p.reference.people)}
        expected["settlements"] = p.reference.live_settlements()
        if found != expected:
            diff = {k: (found.get(k), v) for k, v in expected.items() if found.get(k) != v}
            raise SimulationFailure(f"the ledger against the reference (ledger, reference): {diff}")
        report = audit(app)
        if not report.ok:
            raise SimulationFailure(f"audit: { {k: v for k, v in report.checks.items() if v} }")
        figures.invariant_checks += 1
    finally:
        app.close()
    clean = bootstrap(clean_url)
    try:
        for f in (setup, *files, closes):
            ingest_file(clean, str(f))
        if money(clean, p.reference) != found:
            raise SimulationFailure("the clean run by one writer holds other money than the crashed, concurrent one")
        figures.invariant_checks += 1
    finally:
        clean.close()
