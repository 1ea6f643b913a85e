"""Steps 1–4 of the cascade, line by line (POLICY.md §2).

- 信政办〔2022〕23号 第十九条（一）: lines outside the catalog (丙) and excluded costs are fully self-paid.
- 同医保办发〔2022〕1号 第二十条: the part of a price above the payment standard is self-paid
  (also 信政办〔2022〕23号 第十八条: for centrally procured drugs the procurement price is the standard).
- 同医保办发〔2022〕1号 第十九条: category-B items first pay a self-pay share; the share is the
  assumed parameter ``class_b_preselfpay_ratio`` (10 %, POLICY.md §9).
"""

from __future__ import annotations

from datetime import date

import pytest

from ledger.rules.items import (
    CLASS_A,
    CLASS_B,
    OUTSIDE_CATALOG,
    class_b_preselfpay_datong_art19,
    line_amount,
    outside_catalog_xinyang_art19_1,
    over_payment_standard_datong_art20,
    split_line,
)
from tests.rules import DATONG, D, at_hospital, line, reader, settle, visit


def _parts(split):
    return (split.det_item_fee_sumamt, split.fulamt_ownpay_amt, split.overlmt_selfpay, split.preselfpay_amt,
            split.inscp_scp_amt)


def test_line_amount_is_quantity_times_price_rounded_half_up_to_the_fen():
    # 3 × 0.335 = 1.005 → 1.01 (half up, money.round_fen)
    assert line_amount(line("0.335", cnt="3")) == D("1.01")
    # 2 × 12.50 = 25.00
    assert line_amount(line("12.50", cnt="2")) == D("25.00")
    # 0.5 × 7.77 = 3.885 → 3.89
    assert line_amount(line("7.77", cnt="0.5")) == D("3.89")


def test_category_a_line_within_its_payment_standard_is_wholly_in_scope_datong_art20():
    """同医保办发〔2022〕1号 第二十条「支付标准以内的按比例报销」: 2 × 12.50 = 25.00 in scope."""
    split = split_line(line("12.50", cnt="2", std="12.50"), reader())
    assert _parts(split) == (D("25.00"), D("0.00"), D("0.00"), D("0.00"), D("25.00"))


def test_part_above_payment_standard_is_self_paid_datong_art20():
    """同医保办发〔2022〕1号 第二十条: 1 × 120.00 with standard 100.00.

    over = 1 × (120.00 − 100.00) = 20.00; in scope 120.00 − 20.00 = 100.00
    """
    p = reader()
    assert over_payment_standard_datong_art20(line("120.00", std="100.00"), p) == D("20.00")
    split = split_line(line("120.00", std="100.00"), p)
    assert _parts(split) == (D("120.00"), D("0.00"), D("20.00"), D("0.00"), D("100.00"))


def test_part_above_payment_standard_counts_every_unit_datong_art20():
    """同医保办发〔2022〕1号 第二十条: 30 × 3.20 with standard 2.85 (a procurement price, 信政办 第十八条).

    amount 30 × 3.20 = 96.00; over 30 × (3.20 − 2.85) = 10.50; in scope 85.50
    """
    split = split_line(line("3.20", cnt="30", std="2.85"), reader())
    assert _parts(split) == (D("96.00"), D("0.00"), D("10.50"), D("0.00"), D("85.50"))


def test_price_at_or_below_payment_standard_has_nothing_over_datong_art20():
    p = reader()
    assert over_payment_standard_datong_art20(line("100.00", std="100.00"), p) == D("0.00")
    assert over_payment_standard_datong_art20(line("80.00", std="100.00"), p) == D("0.00")
    assert over_payment_standard_datong_art20(line("80.00"), p) == D("0.00")


def test_payment_standard_rule_cites_datong_art20_as_the_regions_own_in_datong():
    """In Datong (140200) 同医保办发〔2022〕1号 第二十条 is the region's own document, not assumed."""
    p = reader(DATONG)
    over_payment_standard_datong_art20(line("120.00", std="100.00"), p)
    [cited] = p.take()
    assert cited.name == "payment_standard_applies"
    assert cited.citation() == "同医保办发〔2022〕1号 第二十条"


def test_payment_standard_rule_is_borrowed_and_assumed_in_xinyang_datong_art20():
    """Xinyang's handling procedure is not in the seeds: Datong's 第二十条 stands in, marked assumed."""
    p = reader()
    over_payment_standard_datong_art20(line("120.00", std="100.00"), p)
    [cited] = p.take()
    assert cited.citation() == "同医保办发〔2022〕1号 第二十条（假设）"
    assert cited.assumed


def test_category_b_pays_the_first_self_pay_share_datong_art19():
    """同医保办发〔2022〕1号 第十九条 with the assumed share 10 %.

    pre-self-pay 100.00 × 10 % = 10.00; in scope 100.00 − 10.00 = 90.00
    """
    split = split_line(line("100.00", lv=CLASS_B), reader())
    assert _parts(split) == (D("100.00"), D("0.00"), D("0.00"), D("10.00"), D("90.00"))


def test_category_b_share_is_rounded_half_up_datong_art19():
    # 33.35 × 10 % = 3.335 → 3.34; in scope 33.35 − 3.34 = 30.01
    assert class_b_preselfpay_datong_art19(D("33.35"), reader()) == D("3.34")
    split = split_line(line("33.35", lv=CLASS_B), reader())
    assert (split.preselfpay_amt, split.inscp_scp_amt) == (D("3.34"), D("30.01"))


def test_category_b_share_is_an_assumed_parameter_with_a_note_datong_art19():
    """POLICY.md §9: the share is not in the seeds; the parameter says so."""
    p = reader()
    class_b_preselfpay_datong_art19(D("100.00"), p)
    cited = {c.name: c for c in p.take()}
    share = cited["class_b_preselfpay_ratio"]
    assert share.value == D("0.10")
    assert share.assumed
    assert "第十九条" in share.article
    assert share.note


def test_category_b_share_applies_only_to_the_part_within_the_standard_datong_art19_20():
    """Payment standard first (第二十条), then the category-B share (第十九条) on what is within it.

    amount 2 × 120.00 = 240.00; over 2 × (120.00 − 100.00) = 40.00; within 200.00
    pre-self-pay 200.00 × 10 % = 20.00; in scope 200.00 − 20.00 = 180.00
    """
    split = split_line(line("120.00", cnt="2", std="100.00", lv=CLASS_B), reader())
    assert _parts(split) == (D("240.00"), D("0.00"), D("40.00"), D("20.00"), D("180.00"))


def test_category_a_pays_no_first_self_pay_share_datong_art19():
    split = split_line(line("100.00", lv=CLASS_A), reader())
    assert split.preselfpay_amt == D("0.00")


def test_outside_catalog_line_is_fully_self_paid_even_with_a_standard_xinyang_art19_1():
    """信政办〔2022〕23号 第十九条（一）: 丙 is outside the catalog; 2 × 60.00 = 120.00 all self-paid."""
    item = line("60.00", cnt="2", std="50.00", lv=OUTSIDE_CATALOG)
    assert outside_catalog_xinyang_art19_1(item)
    split = split_line(item, reader())
    assert _parts(split) == (D("120.00"), D("120.00"), D("0.00"), D("0.00"), D("0.00"))


@pytest.mark.parametrize("kind", ["health_checkup", "work_injury", "third_party", "public_health"])
def test_excluded_line_is_fully_self_paid_jiaozuo_3(kind):
    """焦医保〔2024〕32号 三: an excluded cost on one line is paid by the member in full."""
    item = line("80.00", lv=CLASS_B, exclusion=kind)
    assert outside_catalog_xinyang_art19_1(item)
    split = split_line(item, reader())
    assert _parts(split) == (D("80.00"), D("80.00"), D("0.00"), D("0.00"), D("0.00"))


def test_mixed_bill_splits_into_four_parts_that_add_up_datong_art19_20_xinyang_art19():
    """A level-3 visit, in service, 2024-03-20 in Xinyang.

    line 1 甲 2 × 12.50          = 25.00 in scope
    line 2 甲 120.00, std 100.00 = 20.00 over + 100.00 in scope
    line 3 乙 50.00              = 5.00 pre-self-pay (10 %) + 45.00 in scope
    line 4 丙 30.00              = 30.00 fully self-paid
    line 5 work injury 40.00     = 40.00 fully self-paid
    total 265.00 = 70.00 + 20.00 + 5.00 + 170.00
    fund (170.00 − 50.00) × 50 % = 60.00; member 265.00 − 60.00 = 205.00
    """
    adj = settle(
        visit(
            line("12.50", cnt="2"),
            line("120.00", std="100.00"),
            line("50.00", lv=CLASS_B),
            line("30.00", lv=OUTSIDE_CATALOG),
            line("40.00", exclusion="work_injury"),
        ),
        at_hospital(3),
    )
    info = adj.setlinfo
    assert info["medfee_sumamt"] == D("265.00")
    assert info["fulamt_ownpay_amt"] == D("70.00")
    assert info["overlmt_selfpay"] == D("20.00")
    assert info["preselfpay_amt"] == D("5.00")
    assert info["inscp_scp_amt"] == D("170.00")
    assert info["act_pay_dedc"] == D("50.00")
    assert info["hifp_pay"] == D("60.00")
    assert info["psn_part_amt"] == D("205.00")
    # An excluded line does not refuse the whole claim: the rest is pooled.
    assert adj.refusal_code is None
    assert [
        (ln["det_item_fee_sumamt"], ln["fulamt_ownpay_amt"], ln["overlmt_selfpay"], ln["preselfpay_amt"],
         ln["inscp_scp_amt"])
        for ln in adj.lines
    ] == [
        (D("25.00"), D("0.00"), D("0.00"), D("0.00"), D("25.00")),
        (D("120.00"), D("0.00"), D("20.00"), D("0.00"), D("100.00")),
        (D("50.00"), D("0.00"), D("0.00"), D("5.00"), D("45.00")),
        (D("30.00"), D("30.00"), D("0.00"), D("0.00"), D("0.00")),
        (D("40.00"), D("40.00"), D("0.00"), D("0.00"), D("0.00")),
    ]


def test_design_md_example_bill_design_md_3_datong_art20():
    """DESIGN.md §3's visit.settled example at a level-3 hospital, in service.

    阿莫西林 2 × 12.50 = 25.00 in scope; 阿托伐他汀 120.00, standard 100.00 → 20.00 over, 100.00 in scope
    total 145.00; in scope 125.00; fund (125.00 − 50.00) × 50 % = 37.50; member 107.50
    """
    adj = settle(visit(line("12.50", cnt="2"), line("120.00", std="100.00")), at_hospital(3))
    info = adj.setlinfo
    assert (info["medfee_sumamt"], info["overlmt_selfpay"], info["inscp_scp_amt"]) == (
        D("145.00"), D("20.00"), D("125.00"))
    assert (info["hifp_pay"], info["psn_part_amt"]) == (D("37.50"), D("107.50"))


def test_category_b_line_in_xinyang_before_2023_settles_with_the_first_self_pay_share_datong_art19():
    """Xinyang's benefits (信政办〔2022〕23号) are in force from 2022-07-01; a 乙 line must settle then too.

    Reading with the assumed share from 2022-07-01: pre-self-pay 100.00 × 10 % = 10.00; in scope 90.00
    fund (90.00 − 50.00) × 50 % = 20.00
    """
    adj = settle(visit(line("100.00", lv=CLASS_B), day=date(2022, 9, 1)), at_hospital(3))
    assert adj.setlinfo["preselfpay_amt"] == D("10.00")
    assert adj.setlinfo["hifp_pay"] == D("20.00")
