"""``ledger close-month`` and ``close-year``: each runs once per region and period; a second run is refused."""

from __future__ import annotations

from decimal import Decimal

from tests.cli.conftest import as_json
from tests.cli.test_ingest import log_head
from tests.exchange.scenario import KAIFENG, budget
from tests.support import institution, item, member, visit, write_jsonl


def _kaifeng(ledger, tmp_path):
    """Kaifeng (410200) with its 2024 budget, a level-2 hospital, a member and a visit in March."""
    path = write_jsonl(tmp_path / "kaifeng.jsonl", budget(KAIFENG), institution("K2", level=2, admdvs=KAIFENG),
                       member("K-M1", admdvs=KAIFENG),
                       visit("KS1", "K-M1", "K2", "2024-03-20", item("400.00", sn="1")))
    result = ledger("ingest", "--quiet", str(path))
    assert result.exit_code == 0, result.stderr


def test_close_month_twice_the_second_is_refused(ledger, db, tmp_path):
    _kaifeng(ledger, tmp_path)
    first = ledger("close-month", KAIFENG, "2024-01")
    assert first.exit_code == 0, first.stderr
    assert first.stdout.strip() == f"month.closed {KAIFENG} 2024-01: done"
    before = log_head(db)

    second = ledger("close-month", KAIFENG, "2024-01")

    assert second.exit_code == 1
    assert second.stderr.startswith(f"ledger: month: 2024-01 is already closed for region {KAIFENG}")
    assert log_head(db) == before
    # The member was credited once.
    history = as_json(ledger("history", "K-M1", "--json"))["rows"]
    assert [r["reference"] for r in history if r["kind"] == "credit"] == ["2024-01"]


def test_close_month_without_a_budget_credits_and_says_the_prepayment_waits_xinyang_art8(ledger, db, tmp_path):
    path = write_jsonl(tmp_path / "m.jsonl", member("K-M1", admdvs=KAIFENG))
    assert ledger("ingest", "--quiet", str(path)).exit_code == 0
    result = ledger("close-month", KAIFENG, "2024-01")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines() == [f"month.closed {KAIFENG} 2024-01: done",
                                          f"prepayment pending: no budget.set for {KAIFENG} 2024: the month's budget "
                                          "is the year's ÷ 12 [no_budget]"]
    assert as_json(ledger("balance", "K-M1", "--json"))["balc"] == "120.00"


def test_close_month_refusals(ledger, db, tmp_path):
    _kaifeng(ledger, tmp_path)
    for args, message, status in (
        (("close-month", KAIFENG, "2024-13"), "ledger: Invalid value for 'MONTH': '2024-13' is not a month", 2),
        (("close-month", KAIFENG, "2024-02", "--date", "2024-02-15"), "ledger: date: 2024-02 cannot close before", 1),
        (("close-month", "999999", "2024-01"), "ledger: admdvs: no policy profile for region 999999", 1),
        (("close-year", KAIFENG, "2024"), "ledger: year: close 2024-12 before clearing 2024", 1),
    ):
        before = log_head(db)
        result = ledger(*args)
        assert result.exit_code == status, args
        assert result.stderr.startswith(message), (args, result.stderr)
        assert log_head(db) == before


def test_a_year_closed_by_command_and_its_clearing(ledger, db, tmp_path):
    _kaifeng(ledger, tmp_path)
    for month in range(1, 13):
        result = ledger("close-month", KAIFENG, f"2024-{month:02d}")
        assert result.exit_code == 0, (month, result.stderr)
    closed = ledger("close-year", KAIFENG, "2024")
    assert closed.exit_code == 0, closed.stderr
    assert closed.stdout.strip() == f"year.closed {KAIFENG} 2024: done"

    out = as_json(ledger("clearing", KAIFENG, "2024", "--json"))
    assert (out["admdvs"], out["year"], out["scheme"]) == (KAIFENG, 2024, "kaifeng_global_budget")
    assert Decimal(out["usage_rate"]) > 0
    [row] = out["rows"]
    assert row["fixmedins_code"] == "K2"
    assert Decimal(row["due"]) == Decimal(row["final_amount"]) - Decimal(row["prepaid"])
    prepayments = as_json(ledger("prepayments", "K2", "--year", "2024", "--json"))["rows"]
    assert Decimal(row["prepaid"]) == sum(Decimal(r["paid"]) + Decimal(r["withheld"]) for r in prepayments)
    text = ledger("clearing", KAIFENG, "2024")
    assert text.exit_code == 0
    assert "K2" in text.stdout

    before = log_head(db)
    again = ledger("close-year", KAIFENG, "2024")
    assert again.exit_code == 1
    assert again.stderr.startswith(f"ledger: year: 2024 is already cleared for region {KAIFENG}")
    late = ledger("close-month", KAIFENG, "2024-12")
    assert late.exit_code == 1
    assert log_head(db) == before
