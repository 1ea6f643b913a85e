"""焦医保〔2024〕32号 四（一）3: the baselines and the growth cap are set once a year, never carried over.

「每年核定一次门诊次均费用基数和次均费用增长率上限等指标，并在当年4月底之前以书面形式通知到各有关
单位和定点医疗机构」. The 2024 figures end with 2024; a year is cleared only under its own notice (a
dated policy file), and a year without one is refused with the article.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from ledger.errors import InputError, PeriodError
from ledger.policy.files import default_library
from tests.payments.flows import JIAOZUO, booked, close_year, jiaozuo_notice, months, with_notice
from tests.support import book, institution, item, member, visit

D = Decimal

def jiaozuo_two_years(app) -> None:
    """JC3 (city level-3 general) from 2024-08; one 400.00 visit in each year (fund (400 − 50) × 50 % = 175.00)."""
    day = "2024-08-01"
    booked(app, institution("JC3", level=3, admdvs=JIAOZUO, day=day, category="city_level3_general"),
           member("N1", admdvs=JIAOZUO, day=day),
           visit("J1", "N1", "JC3", "2024-08-10", item("400.00")),
           *months(JIAOZUO, 2024, 8, 12), close_year(JIAOZUO, 2024),
           visit("J2", "N1", "JC3", "2025-03-10", item("400.00")),
           *months(JIAOZUO, 2025))


def clearing_2025_refused(app, code: str, article: str) -> InputError:
    """year.closed 2025 is refused with ``code`` and ``article``, and books nothing."""
    head = app.recorder.max_notification_id()
    [outcome] = book(app, close_year(JIAOZUO, 2025))
    assert isinstance(outcome, InputError)
    assert (outcome.code, outcome.article) == (code, article)
    assert app.recorder.max_notification_id() == head
    return outcome


def test_policy_4_1_3_the_2024_baselines_end_with_2024():
    lib = default_library()
    assert lib.policy_for(JIAOZUO, date(2024, 12, 31)).get("cost_baselines").value["city_level3_general"] == D("265")
    later = lib.policy_for(JIAOZUO, date(2025, 1, 1))
    assert not later.has("cost_baselines")
    assert not later.has("cost_growth_cap")
    assert later.has("payment_scheme")  # the scheme goes on; only the year's figures are missing


def test_a_year_without_its_baselines_is_refused_jiaozuo_4_1_3(app):
    """2024 clears under its notice (400 > 265 × 1.065 = 282.225 → 282.225 × 175 ÷ 400 = 123.47); 2025 has none."""
    jiaozuo_two_years(app)
    [row] = app.clearing(JIAOZUO, 2024)["rows"]
    assert row["final_amount"] == D("123.47")
    outcome = clearing_2025_refused(app, "baselines_missing", "焦医保〔2024〕32号 四（一）3")
    assert isinstance(outcome, PeriodError)
    assert "每年核定一次" in outcome.reason


def test_a_year_with_its_own_notice_is_cleared_by_it_jiaozuo_4_1_3(app):
    """With the bureau's 2025 notice (270.00, 5 %).

    400 > 270 × 1.05 = 283.50 → 283.5 × 175 ÷ 400 = 124.03125 → 124.03.
    """
    with_notice(app, jiaozuo_notice(2025, {"city_level3_general": "270.00"}, "0.05"))
    jiaozuo_two_years(app)
    booked(app, close_year(JIAOZUO, 2025))
    [row] = app.clearing(JIAOZUO, 2025)["rows"]
    assert (row["visits"], row["medfee"], row["actual"], row["final_amount"]) == (
        1, D("400.00"), D("175.00"), D("124.03"))
    assert "270.00" in row["basis"]
    [row_2024] = app.clearing(JIAOZUO, 2024)["rows"]
    assert row_2024["final_amount"] == D("123.47")  # 2024 stays under 2024's figures


def test_a_class_the_notice_does_not_set_is_refused_jiaozuo_4_1_1(app):
    """「如以上类别的医疗机构仅1家，按其他专科医疗机构…核定办法处理」: the bureau places a class of one; a
    2025 notice without a county-general baseline cannot clear JCG, and says so with the article.
    """
    with_notice(app, jiaozuo_notice(2025, {"city_level3_general": "270.00"}, "0.05"))
    day = "2025-01-01"
    booked(app, institution("JCG", level=2, admdvs=JIAOZUO, day=day, category="county_general"),
           member("N2", admdvs=JIAOZUO, day=day), visit("G1", "N2", "JCG", "2025-01-10", item("200.00")),
           *months(JIAOZUO, 2025))
    outcome = clearing_2025_refused(app, "category_missing", "焦医保〔2024〕32号 四（一）1")
    assert "no baseline for category county_general (JCG)" in outcome.reason
