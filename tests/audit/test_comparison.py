"""The audit's row-by-row comparison: the first difference, whatever chunks either side comes in."""

from __future__ import annotations

from contextlib import closing

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Column, Integer, MetaData, Table, create_engine, insert, select

from ledger.services import comparison
from ledger.services.comparison import Comparison

rows_table = Table("rows", MetaData(), Column("k", Integer, primary_key=True), Column("v", Integer, nullable=False))
QUERY = select(rows_table).order_by(rows_table.c.k)

values = st.lists(st.integers(0, 3), max_size=12)


def _first_difference(live: list[tuple[int, int]], rebuilt: list[tuple[int, int]]):
    """What the comparison must find: the first place the two lists differ (None past either's end)."""
    for number in range(max(len(live), len(rebuilt))):
        x = live[number] if number < len(live) else None
        y = rebuilt[number] if number < len(rebuilt) else None
        if x != y:
            return x, y, number + 1
    return None


@settings(max_examples=300, deadline=None)
@given(live_values=values, rebuilt_values=values, at_once=st.integers(1, 5), feeds=st.lists(st.integers(0, 4)))
def test_the_first_difference_is_found_whatever_the_chunks_of_either_side(live_values, rebuilt_values, at_once,
                                                                         feeds):
    """Live rows fetched ``at_once`` at a time, rebuilt rows fed in chunks of any size (an empty one too)."""
    live = list(enumerate(live_values))
    rebuilt = list(enumerate(rebuilt_values))
    engine = create_engine("sqlite://")
    rows_table.create(engine)
    with pytest.MonkeyPatch.context() as patch, engine.connect() as conn:
        patch.setattr(comparison, "COMPARED_AT_ONCE", at_once)
        if live:
            conn.execute(insert(rows_table), [{"k": k, "v": v} for k, v in live])
        with closing(Comparison(conn, QUERY, "rows")) as compared:
            fed = 0
            for size in [*feeds, len(rebuilt)]:
                compared.feed(rebuilt[fed:fed + size])
                fed += size
            assert compared.finish() == _first_difference(live, rebuilt)
    engine.dispose()
