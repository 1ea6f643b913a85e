"""Builders and the two cities' years used by the payment tests (POLICY.md §6–§8).

Every figure a flow produces is worked by hand in the test that checks it; this module only
books the facts. The benefit figures of each settlement (Xinyang's values, borrowed by both
cities: POLICY.md §9) are:

- level 3: deductible 50, ratio 50 %: a 400.00 bill → fund (400 − 50) × 50 % = 175.00;
  300.00 → 125.00; 100.00 → 25.00.
- level 2: deductible 30, ratio 55 %: 200.00 → (200 − 30) × 55 % = 93.50; 150.00 → 66.00;
  300.00 → 148.50.
- level 1 (primary): deductible 0, ratio 55 %: 300.00 → 165.00.
- a Kaifeng pharmacy follows its prescriber (汴医保〔2023〕29号 二（二））: 96.00 on a level-3
  prescription → (96 − 50) × 50 % = 23.00.
- a Jiaozuo pharmacy is a level-2 institution (Xinyang art. 13, borrowed): 96.00 → (96 − 30) × 55 % = 36.30.

Members are in service with a contribution base of 6000.00: each closed month credits
2 % × 6000 = 120.00 to each account (Xinyang art. 8).
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from ledger.periods import month_end
from ledger.policy.parameters import PolicyFile
from ledger.projections.journal import balances_by_sub
from ledger.projections.runner import all_views
from tests.support import book, close_month, institution, item, member, pharmacy, prescription, purchase, visit

if TYPE_CHECKING:
    from ledger.services.application import Outcome, OutpatientPooling

KAIFENG = "410200"
JIAOZUO = "410800"


# ---------------------------------------------------------------- message builders


def budget(admdvs: str, year: int, amount: str, day: str | None = None) -> dict[str, Any]:
    return {"type": "budget.set", "date": day or f"{year}-01-01", "admdvs": admdvs, "year": year, "amount": amount}


def month(admdvs: str, ym: str) -> dict[str, Any]:
    """A month closed on its last day."""
    return close_month(admdvs, ym, month_end(ym).isoformat())


def months(admdvs: str, year: int, first: int = 1, last: int = 12) -> list[dict[str, Any]]:
    return [month(admdvs, f"{year}-{m:02d}") for m in range(first, last + 1)]


def close_year(admdvs: str, year: int, day: str | None = None) -> dict[str, Any]:
    return {"type": "year.closed", "date": day or f"{year}-12-31", "admdvs": admdvs, "year": year}


def reversal(setl: str, day: str, reason: str = "bill entered in error") -> dict[str, Any]:
    return {"type": "settlement.reversed", "date": day, "medins_setl_id": setl, "reason": reason}


def assessed(code: str, year: int, score: str, day: str) -> dict[str, Any]:
    return {"type": "institution.assessed", "date": day, "fixmedins_code": code, "year": year, "score": score}


def reviewed(code: str, year: int, sampled_total: str, violation_amount: str, day: str) -> dict[str, Any]:
    return {"type": "institution.reviewed", "date": day, "fixmedins_code": code, "year": year,
            "sampled_total": sampled_total, "violation_amount": violation_amount}


def booked(app: OutpatientPooling, *messages: dict[str, Any]) -> list[Outcome]:
    """Book messages and insist that every one was booked (a flow that silently refuses proves nothing)."""
    outcomes = book(app, *messages)
    refused = [(m["type"], o) for m, o in zip(messages, outcomes, strict=True) if o != "booked"]
    assert not refused, refused
    return outcomes


# ---------------------------------------------------------------- Kaifeng 2024 (汴医保〔2023〕29号)


def kaifeng_first_quarter(app: OutpatientPooling, *, annual_budget: str = "660.00") -> None:
    """Kaifeng, January to March 2024: three institutions, a reversal in a later month, one in the same month.

    Jan: S1 M1@H1 400.00 (fund 175.00); S2 M2@H2 200.00 (93.50); PS1 M1@P1 96.00 on H1's prescription (23.00).
    Feb: S3 M1@H1 400.00 (175.00); S2 reversed on 02-12 (H2 −93.50).
    Mar: S4 M3@H1 300.00 (125.00); S5 M3@H2 200.00 paid from the account (fund 93.50, account 106.50);
         S6 M4@H2 200.00 (93.50) reversed on 03-25 in the same month.
    """
    k = KAIFENG
    booked(app,
           institution("H1", level=3, admdvs=k), institution("H2", level=2, admdvs=k), pharmacy("P1", admdvs=k),
           *(member(f"M{i}", admdvs=k) for i in range(1, 5)),
           budget(k, 2024, annual_budget),
           visit("S1", "M1", "H1", "2024-01-10", item("400.00")),
           visit("S2", "M2", "H2", "2024-01-11", item("200.00")),
           prescription("RX1", "M1", "H1", "2024-01-10", "V-S1", [("XC10", "30", 30)], chronic=True),
           purchase("PS1", "RX1", "M1", "P1", "2024-01-12", item("3.20", cnt="30", code="XC10")),
           month(k, "2024-01"),
           visit("S3", "M1", "H1", "2024-02-10", item("400.00")),
           reversal("S2", "2024-02-12"),
           month(k, "2024-02"),
           visit("S4", "M3", "H1", "2024-03-05", item("300.00")),
           visit("S5", "M3", "H2", "2024-03-06", item("200.00"), acct=True),
           visit("S6", "M4", "H2", "2024-03-07", item("200.00")),
           reversal("S6", "2024-03-25"),
           month(k, "2024-03"))


def kaifeng_april_to_december(app: OutpatientPooling) -> None:
    """April to December 2024, nothing cleared yet.

    After March closed: S7 M4@H1 400.00 dated 03-28 arrives late (175.00), and S4 (prepaid in
    March) is reversed on 04-03 (H1 −125.00): both are counted in April. May to December are empty.
    """
    k = KAIFENG
    booked(app,
           visit("S7", "M4", "H1", "2024-03-28", item("400.00")),
           reversal("S4", "2024-04-03"),
           *months(k, 2024, 4, 12))


def kaifeng_clearing(app: OutpatientPooling) -> None:
    """H1 is assessed 90.00 before the clearing (H2 only after it, P1 never); the year is cleared."""
    booked(app, assessed("H1", 2024, "90.00", "2024-12-31"), close_year(KAIFENG, 2024))


def kaifeng_late_assessment(app: OutpatientPooling) -> None:
    """H2 is assessed 85.00 after the year was cleared."""
    booked(app, assessed("H2", 2024, "85.00", "2025-02-10"))


# ---------------------------------------------------------------- Jiaozuo Aug–Dec 2024 (焦医保〔2024〕32号)


def jiaozuo_year(app: OutpatientPooling) -> None:
    """Jiaozuo under conditional fee-for-service, August to December 2024.

    JC3 city level-3 general (baseline 265): J1 Aug N1 400 (175.00); J2 Sep N2 400 (175.00);
        J4 Sep N3 400 (175.00) reversed in Oct; J3 Oct N3 100 (25.00). Reviewed: 25 % violating.
    JCG county general, level 2 (204): G1 Aug N4 200 (93.50); G2 Nov N4 150 (66.00).
    JSP specialist, level 2, COVID years, provincial average 240: K1 Nov N5 300 (148.50); K2 Dec N5 200 (93.50).
    JVC village clinic, level 1 (exempt): V1 Dec N6 300 (165.00).
    JP pharmacy: PJ1 Aug N1 96.00 on JC3's prescription (36.30).
    Assessed before the clearing: JC3 75.00, JCG 90.00, JSP 59.99; JVC and JP not at all.
    """
    j = JIAOZUO
    day = "2024-08-01"
    booked(app,
           institution("JC3", level=3, admdvs=j, day=day, category="city_level3_general"),
           institution("JCG", level=2, admdvs=j, day=day, category="county_general"),
           institution("JSP", level=2, admdvs=j, day=day, category="specialist",
                       cost_history={"2019": "250.00", "2020": "180.00", "2021": "150.00", "2022": "120.00",
                                     "2023": "260.00"},
                       covid_depressed_years=[2020, 2021, 2022], provincial_class_average="240.00"),
           institution("JVC", level=1, admdvs=j, day=day, category="village_clinic"),
           pharmacy("JP", admdvs=j, day=day),
           *(member(f"N{i}", admdvs=j, day=day) for i in range(1, 7)),
           visit("J1", "N1", "JC3", "2024-08-10", item("400.00")),
           prescription("RXJ1", "N1", "JC3", "2024-08-10", "V-J1", [("XC10", "30", 30)], chronic=True),
           purchase("PJ1", "RXJ1", "N1", "JP", "2024-08-12", item("3.20", cnt="30", code="XC10")),
           visit("G1", "N4", "JCG", "2024-08-20", item("200.00")),
           month(j, "2024-08"),
           visit("J2", "N2", "JC3", "2024-09-12", item("400.00")),
           visit("J4", "N3", "JC3", "2024-09-15", item("400.00")),
           month(j, "2024-09"),
           reversal("J4", "2024-10-02"),
           visit("J3", "N3", "JC3", "2024-10-05", item("100.00")),
           month(j, "2024-10"),
           visit("G2", "N4", "JCG", "2024-11-03", item("150.00")),
           visit("K1", "N5", "JSP", "2024-11-10", item("300.00")),
           month(j, "2024-11"),
           visit("K2", "N5", "JSP", "2024-12-10", item("200.00")),
           visit("V1", "N6", "JVC", "2024-12-05", item("300.00")),
           month(j, "2024-12"),
           reviewed("JC3", 2024, "800.00", "200.00", "2024-12-31"),
           assessed("JC3", 2024, "75.00", "2024-12-31"),
           assessed("JCG", 2024, "90.00", "2024-12-31"),
           assessed("JSP", 2024, "59.99", "2024-12-31"),
           close_year(j, 2024))


def jiaozuo_notice(year: int, baselines: dict[str, str], growth_cap: str) -> PolicyFile:
    """A year's baselines and growth cap as the bureau notifies them (四（一）3「每年核定一次」), for tests."""
    day = f"{year}-01-01"
    return PolicyFile.model_validate({
        "document": {"id": f"jiaozuo-{year}-test", "issuer": "焦作市医疗保障局", "number": f"焦医保〔{year}〕（测试）",
                     "title": f"{year}年门诊次均费用基数和增长率上限（测试用）", "in_force": day},
        "parameters": {
            "cost_baselines": {"description": f"{year}年门诊次均费用基数", "unit": "map_CNY",
                               "values": {day: {"value": baselines, "article": "一"}}},
            "cost_growth_cap": {"description": f"{year}年门诊次均费用增长率上限", "unit": "/1",
                                "values": {day: {"value": growth_cap, "article": "二"}}},
        },
    })


def with_notice(app: OutpatientPooling, notice: PolicyFile, admdvs: str = JIAOZUO) -> OutpatientPooling:
    """The application reading ``notice`` first for ``admdvs`` (the library is swapped in place, before booking)."""
    app.library = app.library.with_overrides(notice, admdvs)
    return app


# ---------------------------------------------------------------- journal and read models


def balances(app: OutpatientPooling) -> dict[str, Decimal]:
    """Each account's balance (debit − credit) from the trial balance."""
    return {a["account"]: a["balance"] for a in app.trial_balance()["accounts"]}


def journal_by_institution(app: OutpatientPooling, account: str) -> dict[str, Decimal]:
    """An account's balance per sub-ledger key (the institution), in yuan."""
    app.read_models.catch_up()
    with app.engine.connect() as conn:
        return balances_by_sub(conn, account)


def assert_journal_balanced(app: OutpatientPooling) -> dict[str, Any]:
    """Debits equal credits, in total and as the trial balance reports it."""
    tb = app.trial_balance()
    assert tb["balanced"] is True
    assert tb["debit"] == tb["credit"]
    assert tb["difference"] == Decimal("0.00")
    assert sum((a["balance"] for a in tb["accounts"]), Decimal("0.00")) == Decimal("0.00")
    return tb


def dump_read_models(app: OutpatientPooling) -> dict[str, list[tuple[Any, ...]]]:
    """Every read-model table, rows ordered by primary key."""
    app.read_models.catch_up()
    out: dict[str, list[tuple[Any, ...]]] = {}
    with app.engine.connect() as conn:
        for view in all_views():
            for table in view.tables:
                key = list(table.primary_key.columns)
                out[table.name] = [tuple(r) for r in conn.execute(select(table).order_by(*key)).all()]
    return out


def assert_rebuild_equals_incremental(app: OutpatientPooling) -> None:
    """DESIGN.md §1: a rebuild from zero gives exactly what incremental processing gave."""
    before = dump_read_models(app)
    assert any(before.values())
    app.read_models.rebuild()
    after = dump_read_models(app)
    assert after.keys() == before.keys()
    for name in before:
        assert after[name] == before[name], name
