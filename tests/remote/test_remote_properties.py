"""Properties of remote-area care over random bills (信政办〔2022〕23号 第十五条; 同医保办发〔2022〕1号 第二十三条).

A registered member's bill at a designated institution of the residence is settled under the
insured region's benefits: settled directly or claimed back, it gives exactly what the same
bill at a home institution of that level would (the claim without the personal account, since
the member paid in cash). On a temporary trip the fund pays nothing.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.money import ZERO
from ledger.rules.facts import TEMPORARY
from tests.rules import DATONG, KAIFENG, XINYANG, at_hospital, line, settle, visit

BILLS = st.lists(st.tuples(st.decimals(min_value=Decimal("0.01"), max_value=Decimal("300"), places=2),
                           st.sampled_from(["01", "02", "03"])), min_size=1, max_size=5)


@settings(max_examples=150, deadline=None, database=None)
@given(bill=BILLS, level=st.integers(1, 3), retired=st.booleans(), used=st.integers(0, 2100),
       kind=st.sampled_from(["resident", "resettled_retiree", "posted_worker"]),
       admdvs=st.sampled_from([XINYANG, KAIFENG, DATONG]))
def test_a_remote_bill_gets_the_insured_regions_benefits(bill, level, retired, used, kind, admdvs):
    claim = visit(*(line(str(p), lv=lv, sn=str(i)) for i, (p, lv) in enumerate(bill, 1)))
    facts: dict[str, Any] = {"psn_type": "12" if retired else "11", "cap_used_before": Decimal(used)}
    home = settle(claim, at_hospital(level, **facts), admdvs).setlinfo
    direct = settle(claim, at_hospital(level, institution_admdvs="000000", remote_kind=kind, **facts), admdvs)
    claimed = settle(claim, at_hospital(level, institution_admdvs="000000", remote_kind=kind, reimbursed=True,
                                        **facts), admdvs)
    assert direct.setlinfo == home
    assert claimed.setlinfo == home
    assert direct.refusal_code is None


@settings(max_examples=100, deadline=None, database=None)
@given(bill=BILLS, level=st.integers(1, 3), admdvs=st.sampled_from([XINYANG, KAIFENG, DATONG]))
def test_a_temporary_trip_pays_nothing(bill, level, admdvs):
    claim = visit(*(line(str(p), lv=lv, sn=str(i)) for i, (p, lv) in enumerate(bill, 1)))
    adj = settle(claim, at_hospital(level, institution_admdvs="000000", remote_kind=TEMPORARY), admdvs)
    assert (adj.setlinfo["hifp_pay"], adj.refusal_code) == (ZERO, "temporary_trip")
    assert adj.setlinfo["psn_part_amt"] == adj.setlinfo["medfee_sumamt"]
