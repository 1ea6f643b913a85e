"""What if: a reform file replayed over a year gives the difference per institution and books nothing.

The reform (a parameter file in the shape of ``ledger/policy/documents``) raises, from
2024-01-01, the in-service annual cap 1500.00 → 2000.00 and the level-3 ratio 50 % → 55 %
(信政办〔2022〕23号 第五条（二）（三） as they stand). The year in Xinyang 411500:

| settlement | member | now | what if |
|---|---|---|---|
| A1 H3 03-10 400.00 | M1 in service | (400 − 50) × 50 % = 175.00 | × 55 % = 192.50 |
| A2 H2 03-12 230.00 | M1 | (230 − 30) × 55 % = 110.00 | 110.00 (level 2 unchanged) |
| A3 H3 04-01 3550.00 | M3 in service | 3500 × 50 % = 1750.00, cap 1500.00 | 3500 × 55 % = 1925.00 < 2000 |
| A4 H3 05-01 400.00 | M2 retired | 350 × 60 % = 210.00 | 350 × 65 % = 227.50 |
| A5 H2 06-01 130.00 | M1 | reversed: drops out | — |
| A6 H2 07-01 400.00 | M4 | refused after a backdated admission from 06-30: 0.00 | 0.00 |

H3: fund 175 + 1500 + 210 = 1885.00 → 192.50 + 1925 + 227.50 = 2345.00 (+460.00); members
225 + 2050 + 190 = 2465.00 → 2005.00 (−460.00). H2: fund 110.00 both; members 120 + 400 = 520.00.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from ledger.whatif import whatif
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
