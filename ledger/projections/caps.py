"""Annual cap usage per member and year, shaped like the platform's 5206 cumulative figures."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

from sqlalchemy import Column, Index, Integer, String, Table, and_, bindparam, func, select, true
from sqlalchemy.schema import CreateIndex

from ledger.projections.base import (
    Record,
    Totals,
    View,
    date_column,
    fen,
    insert_many,
    iso,
    metadata,
    money_column,
    position_column,
    yuan,
)
from ledger.projections.roster import psn_type_on, roster_members

if TYPE_CHECKING:
    from sqlalchemy import BindParameter, Connection, Select

caps_usage = Table(
    "caps_usage",
    metadata,
    Column("member_id", String(36), primary_key=True),
    Column("year", Integer, primary_key=True),
    money_column("pooled"),
    money_column("deductible"),
    Column("visits", Integer, nullable=False),
)

caps_movements = Table(
    "caps_movements",
    metadata,
    position_column(primary_key=True),
    Column("member_id", String(36), nullable=False),
    Column("year", Integer, nullable=False),
    date_column("day"),
    Column("setl_id", String(36), nullable=False),
    Column("kind", String(12), nullable=False),
    money_column("pooled"),
    money_column("deductible"),
    Column("visits", Integer, nullable=False),
)
by_member = Index("ix_caps_movements_member_id", *(caps_movements.c[name] for name in (
    "member_id", "year", "day", "pooled", "deductible", "visits")))
"""For the cap queries (5206 and ``ledger cap``), which it answers alone: a member's movements
of a year are neighbouring entries of the index, where the rows lie wherever the log put them,
a page each to read from disk on a store not cached (docs/benchmarks.md, twenty-fifth set).
A rebuild makes it last; only a reversal stored before it carried its bill's date needs it
earlier (:meth:`CapsView._looked_up`), and makes it then. A store made before it covered the
query keeps the narrower index of the same name until its next rebuild."""

P = "yibao:Member."
MOVEMENTS = {
    P + "SettlementCharged": ("settlement", "hifp_pay", "act_pay_dedc", 1),
    P + "SettlementReleased": ("reversal", "hifp_pay", "act_pay_dedc", -1),
    P + "SettlementAdjusted": ("adjustment", "hifp_delta", "dedc_delta", 0),
}


class CapsView(View):
    """What the pooling fund paid each member each year, and the deductibles paid."""

    name = "caps"
    topics = tuple(MOVEMENTS)
    tables = (caps_usage, caps_movements)

    def __init__(self) -> None:
        self._moves: list[dict[str, Any]] = []
        self._indexed = False
        """Whether this batch has made sure of the member index (a rebuild drops it, a rollback may too)."""
        self._usage = Totals(["member_id", "year"], ["pooled", "deductible", "visits"])

    def begin(self, conn: Connection) -> None:  # noqa: D102
        self._moves, self._indexed = [], False
        self._usage.clear()

    def process(self, conn: Connection, record: Record) -> None:  # noqa: D102
        p = record.payload
        kind, pooled, dedc, visits = MOVEMENTS[record.topic]
        sign = -1 if visits < 0 else 1
        day = record.day
        if kind == "reversal":
            day = self._charged_on(conn, record) or day
        row = {"position": record.position, "member_id": record.originator_id, "year": p["year"], "day": day,
               "setl_id": p["setl_id"], "kind": kind, "pooled": sign * fen(p[pooled]),
               "deductible": sign * fen(p[dedc]), "visits": visits}
        self._moves.append(row)
        self._usage.add((row["member_id"], row["year"]), row["pooled"], row["deductible"], visits)

    def _charged_on(self, conn: Connection, record: Record) -> str | None:
        """信政办〔2022〕23号 第五条（三）, DESIGN.md §1: a reversal gives the cap back as of the bill's own date.

        The cap is used in service-date order: the member's later bills, re-adjudicated when
        one before them is reversed, are adjusted as of their own dates, so the reversed
        bill's use must leave as of its date too. Dated on the reversal, a reversal booked
        in a later month left the cap as of the months between both used by the reversed
        bill and given to the later ones: more than the cap.

        The event says that date (``charged_on``, from class version 2). One stored before
        takes the date of the charge: from this batch's rows not yet written, or from the table.
        """
        p = record.payload
        charged_on = p.get("charged_on")
        if charged_on is not None:
            return iso(charged_on)
        setl_id = p["setl_id"]
        pending = (m["day"] for m in reversed(self._moves) if m["setl_id"] == setl_id and m["kind"] == "settlement")
        return next(pending, None) or self._looked_up(conn, record.originator_id, setl_id)

    def _looked_up(self, conn: Connection, member_id: str, setl_id: str) -> str | None:
        """The date of a settlement charged in an earlier batch, by the member index (made first if missing)."""
        if not self._indexed:
            conn.execute(CreateIndex(by_member, if_not_exists=True))
            self._indexed = True
        m = caps_movements.c
        return conn.execute(select(m.day).where(m.member_id == member_id, m.setl_id == setl_id,
                                                m.kind == "settlement").order_by(m.position.desc()).limit(1)).scalar()

    def flush(self, conn: Connection) -> None:  # noqa: D102
        insert_many(conn, caps_movements, self._moves)
        self._usage.upsert(conn, caps_usage)
        self._moves = []


@cache
def _usage(as_of: bool, known_at: bool) -> Select[Any]:
    """``usage``'s statement for which of its limits it is given, built once (building it cost more than running it)."""
    m = caps_movements.c
    member: BindParameter[str] = bindparam("member_id")
    conditions = [m.member_id == member, m.year == bindparam("year")]
    if as_of:
        conditions.append(m.day <= bindparam("as_of"))
    if known_at:
        conditions.append(m.position <= bindparam("known_at"))
    used = select(func.coalesce(func.sum(m.pooled), 0).label("used"),
                  func.coalesce(func.sum(m.deductible), 0).label("deductible_paid"),
                  func.coalesce(func.sum(m.visits), 0).label("visits")).where(and_(*conditions)).subquery()
    type_on = psn_type_on(member, bindparam("on"), bindparam("known_at") if known_at else None)
    return (select(roster_members, type_on.label("type_on"), used)
            .join_from(roster_members, used, true()).where(roster_members.c.member_id == member))


def usage(conn: Connection, member_id: str, year: int, on: str, as_of: str | None = None,
          known_at: int | None = None) -> dict[str, Any] | None:
    """The member's roster row, benefit type on ``on``, and pooling paid, deductible paid and visits in ``year``.

    As of a date and as known at a position; None for a member the roster does not know. One
    statement: on PostgreSQL each is a round trip, and the counter asks this at every 5206.
    """
    limits = {name: value for name, value in (("as_of", as_of), ("known_at", known_at)) if value is not None}
    row = conn.execute(_usage("as_of" in limits, "known_at" in limits),
                       {"member_id": member_id, "year": year, "on": on, **limits}).mappings().first()
    if row is None:
        return None
    return {**row, "used": yuan(int(row["used"])), "deductible_paid": yuan(int(row["deductible_paid"])),
            "visits": int(row["visits"])}
