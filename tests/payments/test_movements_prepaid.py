"""Which movements are not yet prepaid (``projections.settlements.pending_actuals``), against marking them one by one.

The read models once wrote each prepaid month onto its movements, the first month whose close
covered a movement marking it; now each prepaid month is one row of what it covered, and a
close reads only two stretches of the movements. For any movements and any months prepaid
(their last days, positions and schemes' first days drawn freely), the totals must be those
of the movements left unmarked by the old way.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import create_engine

from ledger.projections.base import metadata
from ledger.projections.settlements import (
    pending_actuals,
    settlements_index,
    settlements_movements,
    settlements_prepaid,
)

DAY0 = date(2024, 1, 1)
TABLES = [settlements_index, settlements_movements, settlements_prepaid]


@dataclass(frozen=True)
class Movement:
    position: int
    setl: int
    institution: str
    admdvs: str
    day: str
    fund: int


def _day(n: int) -> str:
    return (DAY0 + timedelta(days=n)).isoformat()


days = st.integers(0, 120)
first_days = st.none() | st.sampled_from([_day(20), _day(50), _day(80)])


@st.composite
def histories(draw: st.DrawFn) -> tuple[list[Movement], dict[int, str], list[dict], dict]:
    """Movements of two regions (some settlements with several), months prepaid among them, and a close's question."""
    setl_days = draw(st.lists(days, min_size=1, max_size=8))
    movements, marks, position = [], [], 0
    for _ in range(draw(st.integers(1, 40))):
        position += 1
        if draw(st.integers(0, 5)) == 0:  # a month prepaid here, covering what was known before it
            marks.append({"position": position, "admdvs": draw(st.sampled_from(["A", "B"])), "month": "2024-01",
                          "through_day": _day(draw(days)), "through_position": position - 1,
                          "counted_from": draw(first_days)})
            continue
        setl = draw(st.integers(0, len(setl_days) - 1))
        movements.append(Movement(position, setl, draw(st.sampled_from(["H1", "H2"])),
                                  draw(st.sampled_from(["A", "B"])), _day(draw(days)), draw(st.integers(-500, 500))))
    ask = {"admdvs": draw(st.sampled_from(["A", "B"])), "through_day": _day(draw(days)),
           "through_position": position, "counted_from": draw(first_days),
           "after": draw(st.none() | st.tuples(days.map(_day), st.integers(0, position)))}
    return movements, dict(enumerate(map(_day, setl_days))), marks, ask


def _covers(mark: dict, m: Movement, setl_days: dict[int, str]) -> bool:
    return (m.admdvs == mark["admdvs"] and m.day <= mark["through_day"] and m.position <= mark["through_position"]
            and (mark["counted_from"] is None or setl_days[m.setl] >= mark["counted_from"]))


def _marked_one_by_one(movements: list[Movement], setl_days: dict[int, str], marks: list[dict], ask: dict) -> dict:
    """The old way: each month prepaid marks what it covers; the totals of what is left, per institution."""
    marked = {m.position for m in movements if any(_covers(k, m, setl_days) for k in marks)}
    totals: dict[str, int] = {}
    for m in movements:
        if m.position in marked or m.admdvs != ask["admdvs"] or m.day > ask["through_day"]:
            continue
        if ask["counted_from"] is not None and setl_days[m.setl] < ask["counted_from"]:
            continue
        after = ask["after"]
        if after is not None and not (m.day > after[0] or m.position > after[1]):
            continue
        totals[m.institution] = totals.get(m.institution, 0) + m.fund
    return totals


@settings(max_examples=150, deadline=None)
@given(histories())
def test_the_movements_not_yet_prepaid_are_those_no_prepaid_month_covered(history):
    movements, setl_days, marks, ask = history
    engine = create_engine("sqlite://")
    metadata.create_all(engine, tables=TABLES)
    with engine.begin() as conn:
        conn.execute(settlements_index.insert(), [
            {"setl_id": f"S{n}", "medins_setl_id": f"M{n}", "psn_no": "P", "fixmedins_code": "H1", "admdvs": "A",
             "kind": "visit", "mdtrt_id": "V", "day": day, "status": "settled", "refusal_code": None, "position": n + 1}
            for n, day in setl_days.items()])
        if movements:
            conn.execute(settlements_movements.insert(), [
                {"position": m.position, "setl_id": f"S{m.setl}", "fixmedins_code": m.institution,
                 "admdvs": m.admdvs, "day": m.day, "kind": "settled", "count": 1, "visits": 1, "medfee": m.fund,
                 "fund": m.fund, "acct": 0, "cash": 0} for m in movements])
        if marks:
            conn.execute(settlements_prepaid.insert(), marks)
        rows = pending_actuals(conn, ask["admdvs"], ask["through_day"], ask["through_position"],
                               ask["counted_from"], ask["after"])
    engine.dispose()

    expected = _marked_one_by_one(movements, setl_days, marks, ask)
    assert {r["key"]: int(r["fund"] * 100) for r in rows} == expected
    assert [r["key"] for r in rows] == sorted(expected)
