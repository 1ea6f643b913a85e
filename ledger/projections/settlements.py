"""Settlements and every money movement they cause at an institution (3201 reconciliation).

Each settlement, reversal and adjustment is a movement dated on its effective date. When a
region's month is prepaid, the movements not yet prepaid, dated up to the month's end and
recorded by the position the close counted, become that month's: a correction to a month
already prepaid therefore flows into the next month's prepayment. The prepayment is kept as
one row of what it covered (``settlements_prepaid``), not written onto each movement: marking
every movement rewrote a month's rows, 1.6–1.8 s a close on PostgreSQL at ten million events
and a tenth of a rebuild's time there (docs/benchmarks.md, twenty-third set).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from sqlalchemy import Column, Index, Integer, String, Table, and_, case, exists, func, or_, select

from ledger.periods import month_end, month_start
from ledger.projections.base import (
    POSITION,
    Record,
    View,
    date_column,
    fen,
    insert_many,
    metadata,
    money_column,
    position_column,
    yuan,
)
from ledger.rules.facts import REIMBURSED

if TYPE_CHECKING:
    from collections.abc import Mapping

    from sqlalchemy import ColumnElement, Connection

settlements_index = Table(
    "settlements_index",
    metadata,
    Column("setl_id", String(36), nullable=False),
    Column("medins_setl_id", String(64), nullable=False),
    Column("psn_no", String(64), nullable=False),
    Column("fixmedins_code", String(64), nullable=False),
    Column("admdvs", String(16), nullable=False),
    Column("kind", String(10), nullable=False),
    Column("mdtrt_id", String(64), nullable=False),
    date_column("day"),
    Column("status", String(10), nullable=False),
    Column("refusal_code", String(40), nullable=True),
    # Keyed by position, so rows are kept in the order they come. Both ids are random, and an
    # index over random keys is cheaper made once, by sorting, than kept row by row: a rebuild
    # makes the second at the end. It keeps the first, by which a reversal marks its settlement.
    position_column(primary_key=True),
    Index("settlements_index_setl_id", "setl_id", unique=True, info={"rebuild_reads": True}),
    Index("settlements_index_medins_setl_id", "medins_setl_id", unique=True),
)

settlements_movements = Table(
    "settlements_movements",
    metadata,
    position_column(primary_key=True),
    Column("setl_id", String(36), nullable=False),
    Column("fixmedins_code", String(64), nullable=False),
    Column("admdvs", String(16), nullable=False),
    date_column("day"),
    Column("kind", String(10), nullable=False),
    Column("count", Integer, nullable=False),
    Column("visits", Integer, nullable=False),
    money_column("medfee"),
    money_column("fund"),
    money_column("acct"),
    money_column("cash"),
    # What the month close and the region's totals ask for, and the 3201 reconciliation.
    Index("settlements_movements_region", "admdvs", "day"),
    Index("settlements_movements_institution", "fixmedins_code", "day"),
)

settlements_prepaid = Table(
    "settlements_prepaid",
    metadata,
    position_column(primary_key=True),
    Column("admdvs", String(16), nullable=False),
    Column("month", String(7), nullable=False),
    date_column("through_day"),
    Column("through_position", POSITION, nullable=False),
    date_column("counted_from", nullable=True),
)
"""Each month prepaid: the movements of its region it covered (see :func:`_prepaid`) and are no one else's."""

SETTLED = "yibao:Settlement.Settled"
REVERSED = "yibao:Settlement.Reversed"
ADJUSTED = "yibao:Settlement.Adjusted"
MONTH_CLOSED = "yibao:Region.MonthClosed"
MONTH_PREPAID = "yibao:Region.MonthPrepaid"

AMOUNTS = {"medfee": "medfee_sumamt", "fund": "fund_pay_sumamt", "acct": "acct_pay", "cash": "psn_cash_pay"}
EMPTY = {"count": 0, "visits": 0, "settled": 0, "reversed": 0, "medfee": yuan(0), "fund": yuan(0), "acct": yuan(0),
         "cash": yuan(0)}


class SettlementsView(View):
    """The settlement index and institution money movements."""

    name = "settlements"
    topics = (SETTLED, REVERSED, ADJUSTED, MONTH_CLOSED, MONTH_PREPAID)
    tables = (settlements_index, settlements_movements, settlements_prepaid)
    fields: ClassVar[Mapping[str, tuple[str, ...]]] = {
        SETTLED: ("medins_setl_id", "psn_no", "fixmedins_code", "admdvs", "kind", "mdtrt_id", "opens_visit",
                  "result.refusal_code", *(f"result.{name}" for name in AMOUNTS.values())),
    }

    def __init__(self) -> None:
        self._index: list[dict[str, Any]] = []
        self._moves: list[dict[str, Any]] = []
        self._reversed: list[str] = []
        self._prepaid: list[dict[str, Any]] = []

    def begin(self, conn: Connection) -> None:  # noqa: D102
        self._index, self._moves, self._reversed, self._prepaid = [], [], [], []

    def process(self, conn: Connection, record: Record) -> None:  # noqa: D102
        p = record.payload
        if record.topic in (MONTH_CLOSED, MONTH_PREPAID):
            if p.get("pending"):
                return  # nothing prepaid yet: the movements wait for the month's MonthPrepaid
            self._prepaid.append({"position": record.position, "admdvs": p["admdvs"], "month": p["month"],
                                  "through_day": month_end(p["month"]).isoformat(),
                                  "through_position": p["through_position"], "counted_from": p.get("counted_from")})
            return
        sid = record.originator_id
        if record.topic == SETTLED:
            self._index.append({"setl_id": sid, "medins_setl_id": p["medins_setl_id"], "psn_no": p["psn_no"],
                                "fixmedins_code": p["fixmedins_code"], "admdvs": p["admdvs"], "kind": p["kind"],
                                "mdtrt_id": p["mdtrt_id"], "day": record.day, "status": "settled",
                                "refusal_code": p["result"]["refusal_code"], "position": record.position})
            amounts, count = {col: fen(p["result"][name]) for col, name in AMOUNTS.items()}, 1
            visits = 1 if p["opens_visit"] else 0
        elif record.topic == REVERSED:
            self._reversed.append(sid)
            amounts, count = {col: -fen(p["result"][name]) for col, name in AMOUNTS.items()}, -1
            visits = -1 if p["closes_visit"] else 0
        else:
            amounts, count, visits = {col: fen(p["delta"][name]) for col, name in AMOUNTS.items()}, 0, 0
        if p["kind"] == REIMBURSED:
            return  # paid to the member, not the institution: nothing for its prepayment or reconciliation
        self._moves.append({"position": record.position, "setl_id": sid, "fixmedins_code": p["fixmedins_code"],
                            "admdvs": p["admdvs"], "day": record.day, "kind": record.topic.rsplit(".", 1)[1].lower(),
                            "count": count, "visits": visits, **amounts})

    def flush(self, conn: Connection) -> None:  # noqa: D102
        insert_many(conn, settlements_index, self._index)
        insert_many(conn, settlements_movements, self._moves)
        insert_many(conn, settlements_prepaid, self._prepaid)
        for i in range(0, len(self._reversed), 1000):  # a thousand ids a statement, well within any driver's limit
            conn.execute(settlements_index.update().where(settlements_index.c.setl_id.in_(self._reversed[i:i + 1000]))
                         .values(status="reversed"))
        self._index, self._moves, self._reversed, self._prepaid = [], [], [], []


def _totals(conn: Connection, group: Any, *conditions: Any) -> list[dict[str, Any]]:
    m = settlements_movements.c
    rows = conn.execute(
        select(group, func.sum(m.count), func.sum(m.medfee), func.sum(m.fund), func.sum(m.acct), func.sum(m.cash),
               func.sum(m.visits), func.sum(case((m.count > 0, 1), else_=0)), func.sum(case((m.count < 0, 1), else_=0)))
        .where(and_(*conditions)).group_by(group).order_by(group)
    ).all()
    return [{"key": r[0], "count": int(r[1]), "medfee": yuan(int(r[2])), "fund": yuan(int(r[3])),
             "acct": yuan(int(r[4])), "cash": yuan(int(r[5])), "visits": int(r[6]), "settled": int(r[7]),
             "reversed": int(r[8])} for r in rows]


def _counted(counted_from: str | None) -> list[Any]:
    """Only the movements of settlements whose service is dated from ``counted_from`` (the scheme's first day).

    A reversal or adjustment of an earlier bill is not the scheme's either.
    """
    m, i = settlements_movements.c, settlements_index.c
    return [] if counted_from is None else [exists().where(i.setl_id == m.setl_id, i.day >= counted_from)]


def _prepaid() -> ColumnElement[bool]:
    """Whether a movement is prepaid: a month of its region covered it, dated by then and known at its close."""
    m, i, k = settlements_movements.c, settlements_index.c, settlements_prepaid.c
    counted = exists().where(i.setl_id == m.setl_id, i.day >= k.counted_from).correlate_except(settlements_index)
    return exists().where(k.admdvs == m.admdvs, m.day <= k.through_day, m.position <= k.through_position,
                          or_(k.counted_from.is_(None), counted))


def pending_actuals(conn: Connection, admdvs: str, through_day: str, through_position: int,
                    counted_from: str | None = None, after: tuple[str, int] | None = None) -> list[dict[str, Any]]:
    """Per institution, what its movements not yet prepaid charged the funds (bills, visits, medfee, fund, acct).

    The movements are those dated to ``through_day`` and known at ``through_position``. ``after``
    leaves out an earlier month's movements (its last day and position), for a month prepaid
    together with an earlier one before either is recorded.

    The region's last prepaid month covered every movement dated by its end and known at its
    close, unless its scheme's first day left the movement out. So only two stretches are
    read: the movements recorded since that close, and those recorded before it but dated
    after its month (checked against every prepaid month). When this month counts from an
    earlier first day than that month's, or from none, everything is checked.
    """
    m, k = settlements_movements.c, settlements_prepaid.c
    region = m.admdvs == admdvs
    wanted = [m.day <= through_day, m.position <= through_position, *_counted(counted_from)]
    if after is not None:
        wanted.append(or_(m.day > after[0], m.position > after[1]))
    last = conn.execute(select(k.through_day, k.through_position, k.counted_from).where(k.admdvs == admdvs)
                        .order_by(k.through_position.desc()).limit(1)).first()
    if last is None:
        return _added(_totals(conn, m.fixmedins_code, region, *wanted))
    day, position, first_day = last
    if first_day is not None and (counted_from is None or counted_from < first_day):
        return _added(_totals(conn, m.fixmedins_code, region, *wanted, ~_prepaid()))
    # The region compared as an expression, so that no index serves it: SQLite, without
    # statistics, would read the region's whole history by its index, not the positions since.
    since = _totals(conn, m.fixmedins_code, m.admdvs.concat("") == admdvs, *wanted, m.position > position)
    dated_later = _totals(conn, m.fixmedins_code, region, *wanted, m.position <= position, m.day > day, ~_prepaid())
    return _added(since, dated_later)


def _added(*parts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Totals of disjoint sets of movements added up per key, in code point order whatever the collation."""
    out: dict[str, dict[str, Any]] = {}
    for row in (row for part in parts for row in part):
        if row["key"] in out:
            total = out[row["key"]]
            for name, value in row.items():
                if name != "key":
                    total[name] += value
        else:
            out[row["key"]] = dict(row)
    return [out[key] for key in sorted(out)]


def reconcile(conn: Connection, fixmedins_code: str, month: str) -> dict[str, Any]:
    """3201: the totals of an institution's settlements dated in ``month``, net of reversals and adjustments."""
    m = settlements_movements.c
    start, end = month_start(month).isoformat(), month_end(month).isoformat()
    rows = _totals(conn, m.fixmedins_code, m.fixmedins_code == fixmedins_code, m.day >= start, m.day <= end)
    totals = rows[0] if rows else EMPTY
    return {
        "fixmedins_code": fixmedins_code,
        "month": month,
        "setl_cnt": totals["settled"],
        "revs_cnt": totals["reversed"],
        "net_cnt": totals["count"],
        "visit_cnt": totals["visits"],
        "medfee_sumamt": totals["medfee"],
        "fund_pay_sumamt": totals["fund"],
        "acct_pay": totals["acct"],
        "psn_cash_pay": totals["cash"],
    }


def find(conn: Connection, setl_id: str | None = None, medins_setl_id: str | None = None) -> dict[str, Any] | None:
    """The index row of a settlement, by either key."""
    c = settlements_index.c
    condition = c.setl_id == setl_id if setl_id else c.medins_setl_id == medins_setl_id
    row = conn.execute(select(settlements_index).where(condition)).mappings().first()
    return dict(row) if row else None


def region_totals(conn: Connection, admdvs: str, year: int) -> dict[str, Any]:
    """A region's settlements dated in ``year``: how many, refused by the pooling rules, and the money."""
    m, i = settlements_movements.c, settlements_index.c
    start, end = f"{year:04d}-01-01", f"{year:04d}-12-31"
    rows = _totals(conn, m.admdvs, m.admdvs == admdvs, m.day >= start, m.day <= end)
    refused = conn.execute(select(func.count()).where(i.admdvs == admdvs, i.day >= start, i.day <= end,
                                                      i.status == "settled", i.refusal_code.is_not(None))).scalar()
    totals = rows[0] if rows else EMPTY
    return {"admdvs": admdvs, "year": year, "settlements": totals["count"], "refused": int(refused or 0),
            "medfee": totals["medfee"], "fund": totals["fund"], "acct": totals["acct"], "cash": totals["cash"]}
