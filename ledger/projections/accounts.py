"""Personal-account balances and every movement behind them.

A movement carries its effective date and its log position, so a balance can be asked
for as of a date ("as of 2024-06-30") and as the ledger knew it at a position.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import Column, String, Table, and_, func, select

from ledger.projections.base import (
    Record,
    Totals,
    View,
    among,
    date_column,
    fen,
    insert_many,
    metadata,
    money_column,
    position_column,
    yuan,
)
from ledger.projections.roster import in_region, roster_members

if TYPE_CHECKING:
    from collections.abc import Collection

    from sqlalchemy import Connection

accounts_balances = Table(
    "accounts_balances",
    metadata,
    Column("member_id", String(36), primary_key=True),
    Column("psn_no", String(64), nullable=False, unique=True),
    money_column("balc"),
    sqlite_with_rowid=False,
)
"""Each member's balance; on SQLite in member id order (``WITHOUT ROWID``), as a month close's credits come."""

accounts_movements = Table(
    "accounts_movements",
    metadata,
    position_column(primary_key=True),
    Column("member_id", String(36), nullable=False, index=True),
    date_column("day"),
    Column("kind", String(20), nullable=False),
    money_column("amount"),
    Column("reference", String(64), nullable=False),
)

P = "yibao:Member."
MOVEMENTS = {
    # topic: (kind, field with the amount, sign, field with the reference)
    P + "AccountCredited": ("credit", "amount", 1, "month"),
    P + "CreditAdjusted": ("credit_adjustment", "amount", 1, "month"),
    P + "AccountUsed": ("use", "amount", -1, "reference"),
    P + "SettlementCharged": ("settlement", "acct_pay", -1, "setl_id"),
    P + "SettlementReleased": ("reversal", "acct_pay", 1, "setl_id"),
    P + "SettlementAdjusted": ("adjustment", "acct_delta", -1, "setl_id"),
    P + "TransferredOut": ("transfer_out", "paid_out", -1, "destination"),
    P + "Deceased": ("inheritance", "inherited", -1, "heir"),
    P + "BalancePaidOut": ("paid_out", "amount", -1, "to"),
}
ENROLLED = P + "Enrolled"


class AccountsView(View):
    """Balances and movements of personal accounts."""

    name = "accounts"
    topics = (ENROLLED, *MOVEMENTS)
    tables = (accounts_balances, accounts_movements)

    def __init__(self) -> None:
        self._opened: list[dict[str, Any]] = []
        self._moves: list[dict[str, Any]] = []
        self._balances = Totals(["member_id"], ["balc"])

    def begin(self, conn: Connection) -> None:  # noqa: D102
        self._opened, self._moves = [], []
        self._balances.clear()

    def process(self, conn: Connection, record: Record) -> None:  # noqa: D102
        member, p = record.originator_id, record.payload
        if record.topic == ENROLLED:
            self._opened.append({"member_id": member, "psn_no": p["psn_no"], "balc": 0})
            return
        kind, field, sign, ref = MOVEMENTS[record.topic]
        amount = fen(p[field]) * sign
        if amount:
            self._moves.append({"position": record.position, "member_id": member, "day": record.day, "kind": kind,
                                "amount": amount, "reference": str(p[ref])})
            self._balances.add((member,), amount)

    def flush(self, conn: Connection) -> None:  # noqa: D102
        insert_many(conn, accounts_balances, self._opened)
        insert_many(conn, accounts_movements, self._moves)
        self._balances.upsert(conn, accounts_balances, psn_no="")
        self._opened, self._moves = [], []


def balance(conn: Connection, member_id: str, as_of: str | None = None,
            known_at: int | None = None) -> dict[str, Any] | None:
    """``balc``, now or as of an effective date, as known at a log position (None: no account yet).

    None for a member the roster does not know. One statement with the roster's check: on
    PostgreSQL each is a round trip.
    """
    if as_of is None and known_at is None:
        amount = select(accounts_balances.c.balc).where(accounts_balances.c.member_id == member_id).scalar_subquery()
    else:
        m = accounts_movements.c
        conditions = [m.member_id == member_id]
        if as_of is not None:
            conditions.append(m.day <= as_of)
        if known_at is not None:
            conditions.append(m.position <= known_at)
        amount = select(func.coalesce(func.sum(m.amount), 0)).where(and_(*conditions)).scalar_subquery()
    found = conn.execute(select(amount).where(roster_members.c.member_id == member_id)).first()
    if found is None:
        return None
    return {"balc": None if found[0] is None else yuan(int(found[0]))}


def history(conn: Connection, member_id: str) -> list[dict[str, Any]]:
    """Every movement in log order, with the running balance."""
    m = accounts_movements.c
    rows = conn.execute(select(m.position, m.day, m.kind, m.amount, m.reference)
                        .where(m.member_id == member_id).order_by(m.position)).all()
    running, out = 0, []
    for position, day, kind, amount, reference in rows:
        running += amount
        out.append({"position": position, "date": day, "kind": kind, "amount": yuan(amount), "reference": reference,
                    "balc": yuan(running)})
    return out


def last_credited(conn: Connection, admdvs: str, month: str, since: int) -> str | None:
    """The id of the member whose credit for ``month`` the log holds last, looking past position ``since``.

    A month close credits the region's members in id order, a batch a transaction, and
    none before the previous month's close (at ``since``): the last credit booked is where a
    close stopped by a crash resumes. Read from the newest movement back, it is found at once.
    """
    m, r = accounts_movements.c, roster_members.c
    return conn.execute(
        select(r.member_id).select_from(accounts_movements.join(roster_members, r.member_id == m.member_id))
        .where(m.position > since, m.kind == "credit", m.reference == month, in_region(admdvs))
        .order_by(m.position.desc()).limit(1)
    ).scalar()


def credited_among(conn: Connection, member_ids: Collection[str], month: str) -> set[str]:
    """Those of ``member_ids`` whose credit for ``month`` the view holds."""
    m = accounts_movements.c
    rows = conn.execute(select(m.member_id).where(among(conn, m.member_id, member_ids), m.kind == "credit",
                                                  m.reference == month))
    return set(rows.scalars())


def credits_of_month(conn: Connection, admdvs: str, month: str) -> dict[str, Any]:
    """The monthly credits booked for ``month`` to the region's members: how many, and the total.

    A month close reports these, so a close resumed after a crash reports what a clean run would.
    On PostgreSQL the movements' statistics are refreshed first (``ANALYZE`` reads a sample):
    the close has just added a row per member that the planner's figures from before it do not
    know of, and from those it would probe the roster a member at a time instead of joining the
    two by hash (figures in docs/benchmarks.md).
    """
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(f"ANALYZE {accounts_movements.name}")
    m, r = accounts_movements.c, roster_members.c
    count, total = conn.execute(
        select(func.count(), func.coalesce(func.sum(m.amount), 0))
        .select_from(accounts_movements.join(roster_members, r.member_id == m.member_id))
        .where(m.kind == "credit", m.reference == month, r.admdvs == admdvs)
    ).one()
    return {"members": int(count), "amount": yuan(int(total))}
