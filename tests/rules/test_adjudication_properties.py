"""Properties of ``adjudicate`` over random bills and member states (DESIGN.md §3, POLICY.md §2).

For any bill (lines of random quantity, price, payment standard and class 甲/乙/丙, some excluded),
any member state (in service or retired, level 1–3, cap used, balance, deductible already paid,
account allowed or not, delivery fee) and each pharmacy scheme (411500 as level 2, 410200 as the
prescriber, 140200 Shanxi combined):

- medfee_sumamt = fulamt_ownpay_amt + overlmt_selfpay + preselfpay_amt + inscp_scp_amt
- psn_part_amt = medfee_sumamt − fund_pay_sumamt = acct_pay + psn_cash_pay
- no amount is negative, every amount is a whole number of fen
- hifp_pay ≤ cap − cap_used_before (when cap_used_before ≤ cap)
- acct_pay ≤ balance_before and balc = balance_before − acct_pay
- the same inputs give the same result, also after the claim, context and policy are recorded and read back
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Literal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.money import ZERO, round_fen
from ledger.policy.parameters import Policy
from ledger.rules.adjudication import SETLINFO_FIELDS, adjudicate
from ledger.rules.facts import IN_SERVICE, PURCHASE, RETIRED, VISIT, Claim, Context
from ledger.rules.lines import Line
from tests.rules import DATONG, KAIFENG, XINYANG, policy

DAY = date(2024, 3, 20)
REGIONS = (XINYANG, KAIFENG, DATONG)
"""One region per pharmacy scheme: as level 2, as the prescriber, Shanxi combined."""

PROPERTIES = settings(max_examples=200, deadline=None, database=None,
                      suppress_health_check=[HealthCheck.too_slow])
FEN = Decimal("0.01")


def money(low: str, high: str) -> st.SearchStrategy[Decimal]:
    return st.decimals(min_value=Decimal(low), max_value=Decimal(high), places=2, allow_nan=False,
                       allow_infinity=False)


@st.composite
def lines(draw: st.DrawFn) -> tuple[Line, ...]:
    count = draw(st.integers(min_value=1, max_value=6))
    out = []
    for sn in range(1, count + 1):
        cnt = draw(st.decimals(min_value=Decimal("0.0001"), max_value=Decimal("120"), places=4))
        pric = draw(st.decimals(min_value=Decimal("0.000001"), max_value=Decimal("800"), places=6))
        standard = draw(st.none() | st.decimals(min_value=Decimal("0"), max_value=Decimal("800"), places=6))
        lv = draw(st.sampled_from(["01", "02", "03"]))
        exclusion = draw(st.none() | st.none() | st.none() | st.sampled_from(["health_checkup", "work_injury"]))
        out.append(Line(str(sn), f"X{sn}", f"item {sn}", cnt, pric, standard, lv, exclusion))
    return tuple(out)


@st.composite
def cases(draw: st.DrawFn) -> tuple[Claim, Context, str]:
    admdvs = draw(st.sampled_from(REGIONS))
    kind: Literal["visit", "purchase"] = draw(st.sampled_from([VISIT, PURCHASE]))
    claim = Claim(
        kind=kind,
        date=DAY,
        med_type=draw(st.sampled_from(["11", "13"])) if kind == VISIT else "11",
        acct_used_flag=draw(st.booleans()),
        lines=draw(lines()),
        delivery_fee=draw(money("0", "20")) if kind == PURCHASE else ZERO,
        exclusion=draw(st.sampled_from([None] * 9 + ["health_checkup", "public_health"])) if kind == VISIT else None,
    )
    level = draw(st.integers(min_value=1, max_value=3))
    rare = st.sampled_from([False] * 9 + [True])
    ctx = Context(
        psn_type=draw(st.sampled_from([IN_SERVICE, RETIRED])),
        institution_kind="hospital" if kind == VISIT else "pharmacy",
        institution_level=level if kind == VISIT else None,
        institution_designated=not draw(rare),
        hospitalised=draw(rare),
        suspended=draw(rare),
        family_doctor_here=draw(st.booleans()) if kind == VISIT else False,
        prescriber_level=draw(st.integers(min_value=1, max_value=3)) if kind == PURCHASE else None,
        prescriber_designated=(not draw(rare)) if kind == PURCHASE else None,
        prescriber_family_doctor=draw(st.booleans()) if kind == PURCHASE else False,
        cap_used_before=draw(money("0", "2100")),
        balance_before=draw(money("0", "3000")),
        deductible_paid_before=draw(money("0", "60")),
    )
    return claim, ctx, admdvs


def _fen(amount: Decimal) -> bool:
    return amount == amount.quantize(FEN)


@PROPERTIES
@given(cases())
def test_settlement_parts_add_up_to_the_total_design_md_3(case):
    """medfee_sumamt = fulamt_ownpay_amt + overlmt_selfpay + preselfpay_amt + inscp_scp_amt."""
    claim, ctx, admdvs = case
    info = adjudicate(claim, ctx, policy(admdvs)).setlinfo
    assert info["medfee_sumamt"] == (info["fulamt_ownpay_amt"] + info["overlmt_selfpay"] + info["preselfpay_amt"]
                                     + info["inscp_scp_amt"])
    # The total is the bill: each line rounded to the fen, plus the delivery fee.
    assert info["medfee_sumamt"] == sum((round_fen(ln.cnt * ln.pric) for ln in claim.lines), ZERO) + claim.delivery_fee


@PROPERTIES
@given(cases())
def test_members_part_is_total_minus_fund_and_is_paid_by_account_and_cash_design_md_3(case):
    """psn_part_amt = medfee_sumamt − fund_pay_sumamt = acct_pay + psn_cash_pay."""
    claim, ctx, admdvs = case
    info = adjudicate(claim, ctx, policy(admdvs)).setlinfo
    assert info["fund_pay_sumamt"] == info["hifp_pay"]
    assert info["psn_part_amt"] == info["medfee_sumamt"] - info["fund_pay_sumamt"]
    assert info["psn_part_amt"] == info["acct_pay"] + info["psn_cash_pay"]


@PROPERTIES
@given(cases())
def test_no_amount_is_negative_and_every_amount_is_whole_fen(case):
    claim, ctx, admdvs = case
    adj = adjudicate(claim, ctx, policy(admdvs), explain=True)
    for name in SETLINFO_FIELDS:
        value = adj.setlinfo[name]
        assert value >= 0, name
        if name != "pool_prop_selfpay":
            assert _fen(value), (name, value)
    assert adj.cap_remaining >= 0
    assert _fen(adj.cap_remaining)
    for ln in adj.lines:
        parts = (ln["fulamt_ownpay_amt"], ln["overlmt_selfpay"], ln["preselfpay_amt"], ln["inscp_scp_amt"])
        assert all(part >= 0 and _fen(part) for part in parts)
        assert sum(parts) == ln["det_item_fee_sumamt"]


@PROPERTIES
@given(cases())
def test_line_splits_add_up_to_the_settlement_totals(case):
    claim, ctx, admdvs = case
    adj = adjudicate(claim, ctx, policy(admdvs), explain=True)
    info = adj.setlinfo
    assert sum((ln["det_item_fee_sumamt"] for ln in adj.lines), ZERO) + claim.delivery_fee == info["medfee_sumamt"]
    for name in ("overlmt_selfpay", "preselfpay_amt", "inscp_scp_amt"):
        assert sum((ln[name] for ln in adj.lines), ZERO) == info[name]
    assert sum((ln["fulamt_ownpay_amt"] for ln in adj.lines), ZERO) + claim.delivery_fee == info["fulamt_ownpay_amt"]


@PROPERTIES
@given(cases())
def test_fund_never_pays_past_the_annual_cap_xinyang_art5_3(case):
    """hifp_pay ≤ cap − cap_used_before when cap_used_before ≤ cap; nothing at all once it is passed."""
    claim, ctx, admdvs = case
    adj = adjudicate(claim, ctx, policy(admdvs))
    hifp = adj.setlinfo["hifp_pay"]
    assert adj.annual_cap == (Decimal("2000.00") if ctx.psn_type == RETIRED else Decimal("1500.00"))
    if ctx.cap_used_before <= adj.annual_cap:
        assert hifp <= adj.annual_cap - ctx.cap_used_before
        assert adj.cap_remaining == adj.annual_cap - ctx.cap_used_before - hifp
    else:
        assert hifp == ZERO


@PROPERTIES
@given(cases())
def test_fund_pays_at_most_the_ratio_of_what_is_in_scope_above_the_deductible_xinyang_art5(case):
    """hifp_pay ≤ round((inscp − deductible) × ratio) ≤ inscp; the deductible charged ≤ its standard and ≤ inscp."""
    claim, ctx, admdvs = case
    adj = adjudicate(claim, ctx, policy(admdvs))
    info = adj.setlinfo
    assert info["act_pay_dedc"] <= info["inscp_scp_amt"]
    assert info["act_pay_dedc"] <= max(adj.deductible_standard - ctx.deductible_paid_before, ZERO)
    share = round_fen((info["inscp_scp_amt"] - info["act_pay_dedc"]) * info["pool_prop_selfpay"])
    assert info["hifp_pay"] == min(share, max(adj.annual_cap - ctx.cap_used_before, ZERO))
    assert info["hifp_pay"] <= info["inscp_scp_amt"]


@PROPERTIES
@given(cases())
def test_refused_claims_pay_nothing_and_the_member_pays_all_xinyang_art19(case):
    claim, ctx, admdvs = case
    adj = adjudicate(claim, ctx, policy(admdvs))
    info = adj.setlinfo
    refused = (claim.exclusion is not None or ctx.hospitalised or ctx.suspended or not ctx.institution_designated
               or (claim.kind == PURCHASE and not ctx.prescriber_designated))
    assert (adj.refusal_code is not None) == refused
    if refused:
        assert adj.refusal_article
        assert info["hifp_pay"] == ZERO
        assert info["act_pay_dedc"] == ZERO
        assert info["inscp_scp_amt"] == ZERO
        assert info["fulamt_ownpay_amt"] == info["medfee_sumamt"] == info["psn_part_amt"]


@PROPERTIES
@given(cases())
def test_account_pays_at_most_its_balance_and_never_the_delivery_fee_datong_art22(case):
    """acct_pay ≤ balance_before; balc = balance_before − acct_pay; nothing without the member's consent.

    Never the delivery fee (医保办发〔2023〕4号 三（一）) nor a public-health cost (信政办〔2022〕23号 第十条).
    """
    claim, ctx, admdvs = case
    adj = adjudicate(claim, ctx, policy(admdvs), explain=True)
    info = adj.setlinfo
    assert info["acct_pay"] <= ctx.balance_before
    assert info["balc"] == ctx.balance_before - info["acct_pay"]
    assert info["acct_pay"] <= info["psn_part_amt"] - claim.delivery_fee
    public_health = sum((line["det_item_fee_sumamt"] for line, billed in zip(adj.lines, claim.lines, strict=True)
                         if billed.exclusion == "public_health"), ZERO)
    if claim.exclusion == "public_health":
        public_health = info["medfee_sumamt"] - claim.delivery_fee
    if not claim.acct_used_flag:
        assert info["acct_pay"] == ZERO
    else:
        expected = max(min(info["psn_part_amt"] - claim.delivery_fee - public_health, ctx.balance_before), ZERO)
        assert info["acct_pay"] == expected


@PROPERTIES
@given(cases())
def test_adjudication_is_deterministic_and_replays_from_its_records(case):
    """Same inputs, same result; and the same after recording claim, context and policy (audit replay)."""
    claim, ctx, admdvs = case
    pol = policy(admdvs)
    first = adjudicate(claim, ctx, pol, explain=True)
    assert adjudicate(claim, ctx, pol, explain=True) == first
    assert adjudicate(claim, ctx, pol).setlinfo == first.setlinfo
    replayed = adjudicate(Claim.from_record(claim.as_record()), Context.from_record(ctx.as_record()),
                          Policy.from_record(pol.as_record()), explain=True)
    assert replayed.setlinfo == first.setlinfo
    assert replayed.lines == first.lines
    assert replayed.policy_version == first.policy_version == pol.version
    assert replayed.setl_proc_info() == first.setl_proc_info()
