"""Properties of the catalogue over random bills: a listed item is settled as the catalogue says.

Whatever class and standard the sender declares for a listed item, the settlement is the one a
line declaring exactly the catalogue's values would get (信政办〔2022〕23号 第十八条; 同医保办发
〔2022〕1号 第二十条); a claim recorded with its listings and read back settles the same.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.policy.catalogues import Listing
from ledger.rules.facts import Claim
from tests.rules import DATONG, KAIFENG, XINYANG, at_hospital, line, settle, visit

LEVELS = st.sampled_from(["01", "02", "03"])
PRICES = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("500"), places=2)
STANDARDS = st.none() | PRICES


@settings(max_examples=150, deadline=None, database=None)
@given(listed_lv=LEVELS, listed_std=STANDARDS, procured=st.booleans(), declared_lv=LEVELS, declared_std=STANDARDS,
       pric=PRICES, cnt=st.integers(1, 30), level=st.integers(1, 3), admdvs=st.sampled_from([XINYANG, KAIFENG, DATONG]))
def test_a_listed_item_settles_by_the_catalogue_whatever_is_declared(listed_lv, listed_std, procured, declared_lv,
                                                                      declared_std, pric, cnt, level, admdvs):
    listing = Listing(listed_lv, listed_std, procured and listed_std is not None, None, None, date(2022, 7, 1), "")
    declared = replace(line(str(pric), cnt=str(cnt), lv=declared_lv, std=None if declared_std is None
                            else str(declared_std), code="X1"), listing=listing)
    as_listed = line(str(pric), cnt=str(cnt), lv=listed_lv, std=None if listed_std is None else str(listed_std),
                     code="X1")
    ctx = at_hospital(level)
    got = settle(replace(visit(declared), catalogue="目录"), ctx, admdvs)
    expected = settle(visit(as_listed), ctx, admdvs)
    assert got.setlinfo == expected.setlinfo
    recorded = Claim.from_record(replace(visit(declared), catalogue="目录").as_record())
    assert settle(recorded, ctx, admdvs).setlinfo == got.setlinfo
