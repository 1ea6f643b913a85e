"""The catalogue (医保目录), worked by hand from the articles.

A listed item settles by the catalogue's class and payment standard, for a centrally procured
drug the procurement price (信政办〔2022〕23号 第十八条); a sender's value that disagrees is
noted in the trace; an unlisted item falls back to the sender's declaration, marked so. A listed
item outside its restriction (同医保办发〔2022〕1号 第十六条, by institution level or indication)
is fully self-paid. Xinyang member M1 in service; H2 is level 2 (deductible 30, 55 %), H1 level 1;
category B first pays 10 % (Datong 第十九条, an assumed share).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from textwrap import dedent

import pytest

from ledger.errors import PolicyError
from ledger.policy.files import load_catalogue
from ledger.services.application import BOOKED
from tests.support import book, institution, item, member, visit

D = Decimal
ATORVASTATIN, CTA, LINEZOLID = "XC10AAA0103", "XD0301009", "XJ01XXL0201"


def settle(app, *items, hospital="H2"):
    outcomes = book(app, institution("H1", level=1), institution("H2", level=2), member("M1"),
                    visit("S1", "M1", hospital, "2024-03-20", *items))
    assert outcomes == [BOOKED] * 4, outcomes
    settlement = app.get_settlement("S1")
    return settlement.result, app.settlement_view(settlement)


def money(result, *names):
    return tuple(result[n] for n in names)


def test_procured_drug_standard_is_the_procurement_price_xinyang_art18(app):
    """30 × 3.20 = 96.00; above the procurement price 1.80: 30 × 1.40 = 42.00; (54.00 − 30) × 55 % = 13.20."""
    result, view = settle(app, item("3.20", cnt="30", code=ATORVASTATIN, lv="01", pric_uplmt_amt="1.80", sn="1"))
    assert money(result, "overlmt_selfpay", "inscp_scp_amt", "hifp_pay") == (D("42.00"), D("54.00"), D("13.20"))
    [note] = [s["text"] for s in view["trace"] if s["rule"] == "catalogue"]
    assert "集中采购中选价1.80元（信政办〔2022〕23号 第十八条）" in note
    assert "不符" not in note
    assert view["lines"][0]["catalogue"] == "listed"
    assert view["replay_matches"]


def test_a_sender_that_disagrees_is_overruled_and_noted_xinyang_art18(app):
    """Declared B with no standard: the catalogue's A at 1.80 gives 13.20 (the declaration would give 31.02)."""
    result, view = settle(app, item("3.20", cnt="30", code=ATORVASTATIN, lv="02", sn="1"))
    assert money(result, "preselfpay_amt", "overlmt_selfpay", "hifp_pay") == (D("0.00"), D("42.00"), D("13.20"))
    [note] = [s["text"] for s in view["trace"] if s["rule"] == "catalogue"]
    assert "申报乙类、申报支付标准无与目录不符，按目录" in note


def test_an_unlisted_item_falls_back_to_the_declaration_datong_art19(app):
    """Unlisted, declared B at 100.00: 10 % first, 90.00 in scope, (90 − 30) × 55 % = 33.00."""
    result, view = settle(app, item("100.00", code="XJ99", lv="02", sn="1"))
    assert money(result, "preselfpay_amt", "inscp_scp_amt", "hifp_pay") == (D("10.00"), D("90.00"), D("33.00"))
    [note] = [s["text"] for s in view["trace"] if s["rule"] == "catalogue"]
    assert "1 XJ99未列入目录，按申报乙类" in note
    assert view["lines"][0]["catalogue"] == "declared"


def test_an_item_restricted_to_level_two_is_self_paid_at_a_primary_datong_art16(app):
    result, view = settle(app, item("500.00", code=CTA, lv="01", sn="1"), hospital="H1")
    assert money(result, "fulamt_ownpay_amt", "inscp_scp_amt", "hifp_pay") == (D("500.00"), D("0.00"), D("0.00"))
    assert view["lines"][0]["restricted"] == "限2级及以上医疗机构使用"


def test_an_item_restricted_to_level_two_is_paid_at_level_two_datong_art16(app):
    """Listed as B (declared A): 500.00 − 10 % = 450.00 in scope; (450 − 30) × 55 % = 231.00."""
    result, _ = settle(app, item("500.00", code=CTA, lv="01", sn="1"))
    assert money(result, "preselfpay_amt", "inscp_scp_amt", "hifp_pay") == (D("50.00"), D("450.00"), D("231.00"))


@pytest.mark.parametrize(("flag", "fulamt", "hifp"), [(None, "200.00", "0.00"), (False, "200.00", "0.00"),
                                                       (True, "0.00", "82.50")])
def test_an_item_restricted_by_indication_needs_the_prescribers_statement_datong_art16(app, flag, fulamt, hifp):
    """Stated within the indication: 200.00 − 10 % = 180.00; (180 − 30) × 55 % = 82.50; otherwise all self-paid."""
    extra = {} if flag is None else {"lmt_used_flag": flag}
    result, _ = settle(app, item("200.00", code=LINEZOLID, lv="02", sn="1", **extra))
    assert money(result, "fulamt_ownpay_amt", "hifp_pay") == (D(fulamt), D(hifp))


def test_entries_take_effect_on_their_dates_and_null_delists(tmp_path):
    (tmp_path / "c.yaml").write_text(dedent("""
        catalogue: {id: c, issuer: 局, number: 目录1号, title: 目录, regions: ["411500"]}
        items:
          X1:
            name: 某药
            values:
              2024-01-01: {chrgitm_lv: "02", pric_uplmt_amt: "2.00"}
              2024-04-01: {chrgitm_lv: "01", procurement_price: "1.20", article: 信政办〔2022〕23号 第十八条}
              2024-07-01: null
        """), encoding="utf-8")
    c = load_catalogue(tmp_path)
    assert c.listing("411500", date(2023, 12, 31), "X1") is None
    march, april = c.listing("411500", date(2024, 3, 31), "X1"), c.listing("411500", date(2024, 4, 1), "X1")
    assert march is not None and (march.chrgitm_lv, march.pric_uplmt_amt, march.procured) == ("02", D("2.00"), False)
    assert april is not None and (april.chrgitm_lv, april.pric_uplmt_amt, april.procured) == ("01", D("1.20"), True)
    assert c.listing("411500", date(2024, 7, 1), "X1") is None
    assert c.listing("410200", date(2024, 4, 1), "X1") is None
    assert c.name("411500") == "目录1号"


@pytest.mark.parametrize("entry", ['{chrgitm_lv: "01", pric_uplmt_amt: 1.5}',
                                   '{chrgitm_lv: "01", pric_uplmt_amt: "1", procurement_price: "1"}',
                                   '{chrgitm_lv: "04"}', '{chrgitm_lv: "01", restriction: {}}'])
def test_a_malformed_catalogue_is_refused_with_its_file(tmp_path, entry):
    (tmp_path / "c.yaml").write_text(dedent(f"""
        catalogue: {{id: c, issuer: 局, number: 目录1号, title: 目录, regions: ["411500"]}}
        items:
          X1: {{name: 某药, values: {{2024-01-01: {entry}}}}}
        """), encoding="utf-8")
    with pytest.raises(PolicyError, match=r"c\.yaml"):
        load_catalogue(tmp_path)


def test_the_shipped_catalogue_agrees_with_the_demo_city():
    """Every item the demo bills is listed with the class and standard the demo declares."""
    from ledger.demo.city import _CATALOG
    from ledger.policy.files import default_catalogue

    for admdvs in ("411500", "410200", "410800", "140200"):
        for demo in _CATALOG:
            listed = default_catalogue().listing(admdvs, date(2024, 6, 1), demo.code)
            assert listed is not None, demo.code
            assert listed.chrgitm_lv == demo.lv
            assert listed.pric_uplmt_amt == (D(demo.std) if demo.std else None)
            assert listed.min_level is None and listed.indication is None
