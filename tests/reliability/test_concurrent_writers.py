"""Several ``ledger ingest`` runs at once on one store: none crashes, nothing is lost or booked twice.

Each process books, closes months and catches the read models up on the same store; the
read models' batches are serialised by a lock on their positions, the bookings by optimistic
concurrency on each stream, a month close is run again when another writer got there first.
"""

from __future__ import annotations

import multiprocessing
from decimal import Decimal
from typing import TYPE_CHECKING

from ledger.exchange.messages import validate_message
from ledger.services import closing
from ledger.services.audit import audit
from ledger.services.bootstrap import bootstrap
from ledger.services.ingest import ingest_file
from tests.support import book, close_month, institution, item, member, visit, write_jsonl

if TYPE_CHECKING:
    from pathlib import Path

PROCESSES = 3
BUDGET = {"type": "budget.set", "date": "2024-01-01", "admdvs": "411500", "year": 2024, "amount": "1000000.00"}


def _ingest(url: str, path: str) -> tuple[int, int, int]:
    """In a child process: ingest a file as ``ledger ingest`` does; booked, present, refused."""
    app = bootstrap(url)
    try:
        report = ingest_file(app, path, batch_size=4)
        return report.booked, report.present, report.refused
    finally:
        app.close()


def _ingest_at_once(url: str, files: list[Path]) -> list[tuple[int, int, int]]:
    with multiprocessing.get_context("spawn").Pool(len(files)) as pool:
        return pool.starmap(_ingest, [(url, str(f)) for f in files])


def test_three_ingests_of_one_file_for_one_member_book_it_once_and_hold_the_cap_xinyang_art5_art8(app, tmp_path):
    """12 bills of 1050.00 for M1 at a level-3 hospital, then February closed, ingested by 3 processes at once.

    Each bill would pay (1050 − 50) × 50 % = 500.00 from the pool; the cap of 1500.00 admits
    three (信政办〔2022〕23号 第五条（三）). January's credit, 6000.00 × 2 % = 120.00 (第八条（一）),
    pays the first bill's own share; February's close credits 120.00 again, after every bill.
    """
    lines = [institution("H3", level=3), member("M1"), BUDGET, close_month("411500", "2024-01", "2024-01-31"),
             *[visit(f"S{n}", "M1", "H3", "2024-02-10", item("1050.00"), acct=True) for n in range(12)],
             close_month("411500", "2024-02", "2024-02-29")]
    shared = write_jsonl(tmp_path / "shared.jsonl", *lines)
    reports = _ingest_at_once(app.store.url, [shared] * PROCESSES)
    assert all(present + booked == len(lines) and refused == 0 for booked, present, refused in reports), reports
    assert sum(booked for booked, _, _ in reports) == len(lines)
    app.read_models.catch_up()
    assert app.cap("M1", 2024)["used"] == Decimal("1500.00")
    assert app.cap("M1", 2024)["visits"] == 12
    assert app.balance("M1")["balc"] == Decimal("120.00")
    assert audit(app).ok


def test_three_ingests_for_disjoint_members_lose_nothing_xinyang_art5(app, tmp_path):
    """3 processes, each settling 4 visits of 400.00 for its own 5 members: (400 − 50) × 50 % = 175.00 each.

    Every member has used 4 × 175.00 = 700.00 of the cap (第五条); 60 settlements, once each.
    """
    groups = [[f"P{p}M{i}" for i in range(5)] for p in range(PROCESSES)]
    book(app, institution("H3", level=3), *[member(psn) for g in groups for psn in g], BUDGET)
    files = [write_jsonl(tmp_path / f"region-{p}.jsonl",
                         *[visit(f"S{psn}-{n}", psn, "H3", f"2024-02-{n + 1:02d}", item("400.00"))
                           for n in range(4) for psn in group]) for p, group in enumerate(groups)]
    reports = _ingest_at_once(app.store.url, files)
    assert reports == [(20, 0, 0)] * PROCESSES
    assert app.region_totals("411500", 2024)["settlements"] == 60
    for psn in (psn for g in groups for psn in g):
        assert app.cap(psn, 2024)["used"] == Decimal("700.00")
    assert audit(app).ok


def test_a_writer_whose_region_is_stale_sees_the_close_another_writer_booked_xinyang_art8(app):
    """Two writers on one store; the second still holds the region as it was before March closed.

    The first closes March. The second then enrols M2 dated 03-20: M2 was active on March's
    last day, so March's 6000.00 × 2 % = 120.00 is due at once (第八条（一）). Its unit of work
    read the region without March, so its commit is refused and run again on the region as
    stored, which credits March.
    """
    book(app, institution("H3", level=3), member("M1"), BUDGET)
    other = bootstrap(app.store)
    try:
        assert other.book([validate_message(member("M0"))]) == ["booked"]  # holds the region read here
        book(app, close_month("411500", "2024-03", "2024-03-31"))

        assert other.book([validate_message(member("M2", day="2024-03-20"))]) == ["booked"]
    finally:
        other.close()
    app.read_models.catch_up()
    assert app.balance("M2")["balc"] == Decimal("120.00")
    assert audit(app).ok


def test_a_member_enrolled_by_another_writer_just_before_the_close_is_recorded_is_credited_xinyang_art8(
        app, monkeypatch):
    """March's close has looked for members written meanwhile; before its record, another writer enrols M2.

    M2 is dated 03-20, so March is due it: 6000.00 × 2 % = 120.00 (第八条（一）). The other
    writer's batch read the region before the close was recorded, so it did not credit March
    itself; the close's record, which checks that no member was enrolled past its last look,
    is refused once, and the close looks again and credits M2 before it records 2 members.
    """
    book(app, institution("H3", level=3), member("M1"), BUDGET)
    other = bootstrap(app.store)
    record = closing._record_close
    enrolled: list[object] = []  # the other writer's outcome

    def meanwhile(*args, **kw):
        if not enrolled:
            enrolled.extend(other.book([validate_message(member("M2", day="2024-03-20"))]))
        return record(*args, **kw)

    monkeypatch.setattr(closing, "_record_close", meanwhile)
    try:
        assert other.book([validate_message(member("M0", day="2024-04-01"))]) == ["booked"]  # holds the region
        book(app, close_month("411500", "2024-03", "2024-03-31"))
    finally:
        other.close()
    assert enrolled == ["booked"]
    app.read_models.catch_up()
    assert app.history("M2")[0]["kind"] == "credit"
    assert app.balance("M2")["balc"] == Decimal("120.00")
    assert app.credits_of_month("411500", "2024-03")["members"] == 2
    assert audit(app).ok


def test_enrolments_that_cannot_be_due_the_month_do_not_make_its_close_look_again_xinyang_art8(app, monkeypatch):
    """Before March's record another writer enrols M3 in Kaifeng and M4 in Xinyang dated April.

    Neither can be due March's credit in Xinyang (第八条: members of the region on the month's
    last day), so the record is written at its first try and counts M1 alone; the audit agrees.
    """
    book(app, institution("H3", level=3), member("M1"), BUDGET)
    other = bootstrap(app.store)
    record = closing._record_close
    tries: list[object] = []

    def meanwhile(*args, **kw):
        if not tries:
            other.book([validate_message(member("M3", admdvs="410200", day="2024-03-05")),
                        validate_message(member("M4", day="2024-04-01"))])
        tries.append(args[-1])
        return record(*args, **kw)

    monkeypatch.setattr(closing, "_record_close", meanwhile)
    try:
        book(app, close_month("411500", "2024-03", "2024-03-31"))
    finally:
        other.close()
    assert len(tries) == 1
    assert app.credits_of_month("411500", "2024-03")["members"] == 1
    assert audit(app).ok
