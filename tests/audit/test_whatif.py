"""What if: a reform file replayed over a year gives the difference per institution and books nothing.

The reform and the year, with each figure worked by hand, are in ``tests.audit.city.whatif_year``.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from ledger.services.whatif import whatif
from tests.audit.city import EXPECTED_WHATIF_ROWS, REFORM, D, booked, whatif_year


@pytest.fixture
def reform(tmp_path):
    path = tmp_path / "reform.yaml"
    path.write_text(REFORM, encoding="utf-8")
    return path


def test_the_year_as_booked(app):
    booked(app, *whatif_year())
    assert [app.get_settlement(k).result["hifp_pay"] for k in ("A1", "A2", "A3", "A4", "A6")] == [
        D("175.00"), D("110.00"), D("1500.00"), D("210.00"), D("0.00")]


def test_a_reform_replayed_over_the_year_gives_the_difference_per_institution_and_books_nothing(app, reform):
    booked(app, *whatif_year())
    last = app.recorder.max_notification_id()
    caps = [app.cap(p, 2024) for p in ("M1", "M2", "M3", "M4")]

    result = whatif(app, str(reform), "411500", 2024)

    assert (result["reform"], result["admdvs"], result["year"]) == ("信医保〔2024〕测算1号", "411500", 2024)
    assert result["rows"] == EXPECTED_WHATIF_ROWS
    assert result["totals"] == {"fund": D("1995.00"), "fund_whatif": D("2455.00"), "fund_difference": D("460.00"),
                                "member": D("2985.00"), "member_whatif": D("2525.00"),
                                "member_difference": D("-460.00")}
    assert all(isinstance(v, Decimal) for v in result["totals"].values())
    assert app.recorder.max_notification_id() == last
    assert [app.cap(p, 2024) for p in ("M1", "M2", "M3", "M4")] == caps
    assert app.get_settlement("A3").result["hifp_pay"] == D("1500.00")


def test_a_year_without_settlements_gives_no_rows(app, reform):
    booked(app, *whatif_year())
    result = whatif(app, str(reform), "411500", 2025)
    assert result["rows"] == []
    assert result["totals"]["fund_difference"] == D("0")
