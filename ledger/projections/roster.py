"""Who is insured where: members by region, with their benefit type over time."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import Column, ColumnElement, Index, String, Table, and_, func, or_, select

from ledger.projections.base import Record, View, date_column, insert_many, iso, metadata, position_column

if TYPE_CHECKING:
    from sqlalchemy import BindParameter, Connection, ScalarSelect

roster_members = Table(
    "roster_members",
    metadata,
    Column("member_id", String(36), primary_key=True),
    Column("psn_no", String(64), nullable=False, unique=True),
    Column("admdvs", String(16), nullable=False),
    date_column("enrolled_on"),
    Column("psn_type", String(2), nullable=False),
    date_column("left_on", nullable=True),
    Column("left_how", String(20), nullable=True),
    position_column(),
    # A region's members in id order, with what says they are on the roll: a month close's pages
    # walk it (``members_page``) without reading the rows, which lie in enrolment order.
    Index("ix_roster_members_page", "admdvs", "member_id", "enrolled_on", "left_on"),
)

roster_types = Table(
    "roster_types",
    metadata,
    Column("member_id", String(36), primary_key=True),
    position_column(primary_key=True),
    date_column("since"),
    Column("psn_type", String(2), nullable=False),
)
"""Benefit type from ``since`` (retirement switches from the next month), as learnt at ``position``."""

ENROLLED = "yibao:Member.Enrolled"
RETIRED = "yibao:Member.Retired"
TRANSFERRED = "yibao:Member.TransferredOut"
DECEASED = "yibao:Member.Deceased"


class RosterView(View):
    """Members and their benefit types."""

    name = "roster"
    topics = (ENROLLED, RETIRED, TRANSFERRED, DECEASED)
    tables = (roster_members, roster_types)

    def __init__(self) -> None:
        self._members: list[dict[str, Any]] = []
        self._types: list[dict[str, Any]] = []

    def begin(self, conn: Connection) -> None:  # noqa: D102
        self._members, self._types = [], []

    def process(self, conn: Connection, record: Record) -> None:  # noqa: D102
        p, member = record.payload, record.originator_id
        if record.topic == ENROLLED:
            self._members.append({"member_id": member, "psn_no": p["psn_no"], "admdvs": p["admdvs"],
                                  "enrolled_on": record.day, "psn_type": p["psn_type"], "left_on": None,
                                  "left_how": None, "position": record.position})
            self._types.append({"member_id": member, "position": record.position, "since": record.day,
                                "psn_type": p["psn_type"]})
        elif record.topic == RETIRED:
            self._types.append({"member_id": member, "position": record.position, "since": iso(p["switch_on"]),
                                "psn_type": "12"})
        else:
            self.flush(conn)
            how = "transferred_out" if record.topic == TRANSFERRED else "deceased"
            conn.execute(roster_members.update().where(roster_members.c.member_id == member)
                         .values(left_on=record.day, left_how=how))

    def flush(self, conn: Connection) -> None:  # noqa: D102
        insert_many(conn, roster_members, self._members)
        insert_many(conn, roster_types, self._types)
        self._members, self._types = [], []


def members_of(conn: Connection, admdvs: str, on: str) -> list[str]:
    """``psn_no`` of the region's members enrolled on ``on`` and not gone before it, in order."""
    r = roster_members.c
    rows = conn.execute(select(r.psn_no).where(r.admdvs == admdvs, *_on_roll(on)).order_by(r.psn_no))
    return list(rows.scalars())


def members_page(conn: Connection, admdvs: str, on: str, after: str, limit: int) -> list[str]:
    """The ids of the next ``limit`` members of :func:`members_of`, in id order past member id ``after``.

    A month close reads a region's members a page at a time: a million never sit in memory at
    once. In id order, because the event store and the read models keep a member's rows by its
    id: a page's lookups and writes then fall in one stretch of each index, not all over it
    (docs/benchmarks.md). The region's index on (admdvs, member_id, enrolled_on, left_on) serves
    the page as it stands, rows unread, so neither database can plan it as a scan and a sort of
    the whole roster.
    """
    r = roster_members.c
    rows = conn.execute(select(r.member_id).where(r.admdvs == admdvs, r.member_id > after, *_on_roll(on))
                        .order_by(r.member_id).limit(limit))
    return list(rows.scalars())


def in_region(admdvs: str) -> ColumnElement[bool]:
    """A member of ``admdvs``, as a condition no index serves, for queries walking another index in order.

    SQLite keeps no statistics: offered the region's index, it takes it, then reads and sorts
    the whole region to find the newest row. Without it, it walks the index the query is
    ordered by and stops at the first row in the region (a database holds one region, or a few).
    """
    return func.coalesce(roster_members.c.admdvs, "") == admdvs


def _on_roll(on: str) -> list[ColumnElement[bool]]:
    """Enrolled on ``on`` and not gone before it."""
    r = roster_members.c
    return [r.enrolled_on <= on, or_(r.left_on.is_(None), r.left_on > on)]


def member_row(conn: Connection, member_id: str) -> dict[str, Any] | None:
    """The roster row of a member."""
    row = conn.execute(select(roster_members).where(roster_members.c.member_id == member_id)).mappings().first()
    return dict(row) if row else None


def psn_type_on(member_id: str | BindParameter[str], on: str | BindParameter[str],
                known_at: int | BindParameter[int] | None = None) -> ScalarSelect[str]:
    """The member's benefit type on ``on``, as the ledger knew it at position ``known_at`` (NULL if none)."""
    conditions = [roster_types.c.member_id == member_id, roster_types.c.since <= on]
    if known_at is not None:
        conditions.append(roster_types.c.position <= known_at)
    return (select(roster_types.c.psn_type).where(and_(*conditions))
            .order_by(roster_types.c.since.desc(), roster_types.c.position.desc()).limit(1).scalar_subquery())
