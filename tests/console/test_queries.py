"""The console's own queries where the CLI has no answer to compare with: worked out by hand."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from ledger.services import console_queries as q
from ledger.services.bootstrap import bootstrap
from tests.console.conftest import JIAOZUO, JIAOZUO_YEAR


@pytest.fixture(scope="module")
def jiaozuo(jiaozuo_demo_store):
    app = bootstrap(jiaozuo_demo_store)
    yield app
    app.close()


def test_cost_ceiling_of_a_level3_general_hospital_jiaozuo_4_1_3(jiaozuo):
    # 焦医保〔2024〕32号 四（一）3: the city's level-3 general hospitals' baseline is 265.00 a visit;
    # the ceiling is 265.00 × (1 + 6.5 %) = 282.225, shown to the fen as 282.23.
    found = q.cost_ceiling(jiaozuo, "H410800001", JIAOZUO_YEAR)
    assert (found["baseline"], found["growth_cap"], found["ceiling"]) == (Decimal("265.00"), Decimal("0.065"),
                                                                          Decimal("282.23"))
    assert found["citation"] == "焦医保〔2024〕32号 四（一）3（2）"
    clearing = jiaozuo.clearing(JIAOZUO, JIAOZUO_YEAR)
    basis = next(r["basis"] for r in clearing["rows"] if r["fixmedins_code"] == "H410800001")
    assert basis.startswith("city_level3_general: within 265.00×(1+0.065)")
    # The scheme starts in August 2024 (四（一）「自2024年8月1日起」): five months.
    assert [m["month"] for m in found["months"]] == [f"{JIAOZUO_YEAR}-{n:02d}" for n in range(8, 13)]


def test_a_specialist_baseline_is_the_one_its_clearing_used_jiaozuo_4_1_1(jiaozuo):
    found = q.cost_ceiling(jiaozuo, "H410800002", JIAOZUO_YEAR)
    rows = jiaozuo.clearing(JIAOZUO, JIAOZUO_YEAR)["rows"]
    basis = next(r["basis"] for r in rows if r["fixmedins_code"] == "H410800002")
    assert basis.startswith(f"{found['how']}: within {found['baseline']}×(1+0.065)")


def test_a_pharmacy_has_no_cost_ceiling(jiaozuo):
    found = q.cost_ceiling(jiaozuo, "P410800001", JIAOZUO_YEAR)
    assert found["scheme"] == "jiaozuo_conditional_ffs" and found["baseline"] is None


def test_watch_thresholds_are_dated_and_all_assumed():
    thresholds = q.watch_thresholds(date(2025, 6, 1))
    assert thresholds["watch_cost_per_visit_rise"].value == Decimal("0.20")
    assert all(c.assumed for c in thresholds.values())
    assert {c.since for c in thresholds.values()} == {date(2022, 7, 1)}


def test_watch_flags_exceed_their_threshold(jiaozuo):
    flags = q.watch_list(jiaozuo, JIAOZUO, JIAOZUO_YEAR)["flags"]
    assert flags
    for f in flags:
        assert f["value"] > f["reference"] * (1 + f["threshold"])
