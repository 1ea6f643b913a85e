"""Period runs in a file: a month closes once, a year clears once after December, budgets first where needed."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from ledger.services.ingest import ingest_file
from tests.exchange.scenario import KAIFENG, budget, head, month_closed, year_closed
from tests.support import institution, item, member, visit, write_jsonl

if TYPE_CHECKING:
    from pathlib import Path

    from ledger.services.application import OutpatientPooling


def _year_of(admdvs: str) -> list[dict]:
    """A Kaifeng-scheme region's year: budget, one hospital, one member, a visit, twelve closes, the clearing."""
    return [
        budget(admdvs),
        institution(f"H{admdvs}", level=2, admdvs=admdvs),
        member(f"M{admdvs}", admdvs=admdvs),
        visit(f"S{admdvs}", f"M{admdvs}", f"H{admdvs}", "2024-03-20", item("400.00", sn="1")),
        *[month_closed(f"2024-{m:02d}", admdvs) for m in range(1, 13)],
        year_closed(2024, admdvs),
    ]


def test_a_budget_region_clears_its_year_after_its_budget(app: OutpatientPooling, tmp_path: Path) -> None:
    """DESIGN.md §3's own example: budget.set 410200 2024, then year.closed 410200 2024.

    ``budget.set`` and ``year.closed`` of one region and year are two messages with two keys:
    neither may be taken for a resubmission of the other.
    """
    admdvs = KAIFENG
    messages = _year_of(admdvs)
    report = ingest_file(app, str(write_jsonl(tmp_path / "year.jsonl", *messages)))
    assert report.errors == []
    assert report.booked == len(messages)
    cleared = app.clearing(admdvs, 2024)
    assert cleared["scheme"] == "kaifeng_global_budget"
    assert cleared["budget"] == Decimal("12000000.00")
    assert cleared["usage_rate"] is not None
    [row] = cleared["rows"]
    assert row["fixmedins_code"] == f"H{admdvs}"
    assert row["due"] == row["final_amount"] - row["prepaid"]


def test_the_same_closes_again_are_present_and_other_content_refused(app: OutpatientPooling,
                                                                          tmp_path: Path) -> None:
    first = ingest_file(app, str(write_jsonl(tmp_path / "year.jsonl", *_year_of(KAIFENG))))
    assert first.errors == []
    before = head(app)
    path = write_jsonl(tmp_path / "again.jsonl", year_closed(2024, KAIFENG), month_closed("2024-12", KAIFENG),
                       {**year_closed(2024, KAIFENG), "date": "2025-01-05"})
    report = ingest_file(app, str(path))
    assert (report.booked, report.present, report.refused) == (0, 2, 1)
    [error] = report.errors
    assert error.startswith(f"{path}:3: year.closed: year: ")
    assert "different content" in error
    assert head(app) == before


def test_a_budget_region_closes_a_month_before_its_budget_and_prepays_it_when_it_comes(
        app: OutpatientPooling, tmp_path: Path) -> None:
    """信政办〔2022〕23号 第八条: the credit does not wait for the budget; the prepayment does, then follows it."""
    path = write_jsonl(tmp_path / "close.jsonl", member("M1"), month_closed("2024-01"), budget(),
                       month_closed("2024-01"))
    report = ingest_file(app, str(path))
    assert (report.booked, report.present, report.refused) == (3, 1, 0)
    assert app.balance("M1")["balc"] == Decimal("120.00")
    topics = [n.topic for n in app.recorder.select_notifications(1, 100)]
    assert topics.index("yibao:Region.MonthClosed") < topics.index("yibao:Region.MonthPrepaid")
