"""Several processes booking at once: nothing lost, nothing booked twice, the cap and the balance hold.

Each process opens its own application on the same store; optimistic concurrency on each
member's stream makes a writer that read a member before another changed it retry from the
store (DESIGN.md §1: the cap and the account belong with the member).
"""

from __future__ import annotations

import multiprocessing
from decimal import Decimal

from ledger.exchange.messages import validate_message
from ledger.services.application import BOOKED, PRESENT, OutpatientPooling
from ledger.services.bootstrap import bootstrap
from tests.support import book, close_month, institution, item, member, visit

PROCESSES = 4


def _book_all(url: str, raw: list[dict], batch: int) -> list[str]:
    """In a child process: book ``raw`` in batches, return each outcome as text."""
    app = bootstrap(url)
    try:
        messages = [validate_message(m) for m in raw]
        out: list[str] = []
        for i in range(0, len(messages), batch):
            out.extend(o if isinstance(o, str) else f"refused {o}" for o in app.book(messages[i:i + batch]))
        return out
    finally:
        app.close()


def _run(url: str, jobs: list[list[dict]], batch: int = 5) -> list[list[str]]:
    with multiprocessing.get_context("spawn").Pool(len(jobs)) as pool:
        return pool.starmap(_book_all, [(url, job, batch) for job in jobs])


def _setup(app: OutpatientPooling, members: list[str]) -> None:
    book(app, institution("H3", level=3), *[member(p) for p in members],
         {"type": "budget.set", "date": "2024-01-01", "admdvs": "411500", "year": 2024, "amount": "1000000.00"},
         close_month("411500", "2024-01", "2024-01-31"))


def test_processes_settling_for_different_members_lose_and_duplicate_nothing(app):
    """40 members, 4 processes, each settling 5 visits for its own 10 members: 200 settlements, once each.

    Each visit of 400.00 at level 3 pays (400 − 50) × 50 % = 175.00; five of them use
    5 × 175 = 875.00 of each member's 1500.00 cap (信政办〔2022〕23号 第五条).
    """
    members = [f"M{i:03d}" for i in range(40)]
    _setup(app, members)
    jobs = [[visit(f"S{psn}-{n}", psn, "H3", f"2024-02-{n + 1:02d}", item("400.00"))
             for n in range(5) for psn in members[p * 10:(p + 1) * 10]] for p in range(PROCESSES)]
    outcomes = _run(app.store.url, jobs)
    assert all(o == BOOKED for job in outcomes for o in job), outcomes
    app.read_models.catch_up()
    assert app.region_totals("411500", 2024)["settlements"] == 200
    for psn in members:
        assert app.cap(psn, 2024)["used"] == Decimal("875.00")
    assert app.trial_balance()["balanced"]


def test_processes_settling_for_the_same_member_never_pass_the_cap_or_the_balance(app):
    """4 processes settle 6 bills each for one member, some of them the same bills sent twice.

    Each bill of 1050.00 at level 3 would pay (1050 − 50) × 50 % = 500.00; the member's cap of
    1500.00 admits three (第五条（三）), whatever the order; every bill is booked exactly once, and
    the account (120.00 credited in January) pays at most what it holds.
    """
    _setup(app, ["M1"])
    bills = [visit(f"S{n}", "M1", "H3", "2024-02-10", item("1050.00"), acct=True) for n in range(12)]
    jobs = [bills[p * 3:p * 3 + 6] for p in range(PROCESSES)]  # overlapping: bills 3..8 are sent twice
    outcomes = _run(app.store.url, jobs, batch=2)
    flat = [o for job in outcomes for o in job]
    assert all(o in (BOOKED, PRESENT) for o in flat), flat
    assert flat.count(BOOKED) == len({b["medins_setl_id"] for job in jobs for b in job})
    app.read_models.catch_up()
    cap = app.cap("M1", 2024)
    assert cap["used"] == Decimal("1500.00")
    assert cap["visits"] == flat.count(BOOKED)
    assert Decimal("0.00") <= app.balance("M1")["balc"]
    assert app.trial_balance()["balanced"]
