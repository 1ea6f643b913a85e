"""The monthly prepayment ledger: per institution and month, actual, allocation, paid and withheld."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import Column, Integer, String, Table, and_, select

from ledger.projections.base import Record, View, fen, insert_many, metadata, money_column, position_column, yuan

if TYPE_CHECKING:
    from sqlalchemy import Connection

prepayments_ledger = Table(
    "prepayments_ledger",
    metadata,
    Column("fixmedins_code", String(64), primary_key=True),
    Column("month", String(7), primary_key=True),
    Column("admdvs", String(16), nullable=False),
    Column("scheme", String(40), nullable=False),
    position_column(),
    Column("count", Integer, nullable=False),
    Column("visits", Integer, nullable=False),
    money_column("medfee"),
    money_column("actual"),
    money_column("allocation", nullable=True),
    money_column("paid"),
    money_column("withheld"),
)

MONTH_CLOSED = "yibao:Region.MonthClosed"
MONTH_PREPAID = "yibao:Region.MonthPrepaid"


class PrepaymentsView(View):
    """One row per institution and prepaid month (at its close, or later when the close had to wait)."""

    name = "prepayments"
    topics = (MONTH_CLOSED, MONTH_PREPAID)
    tables = (prepayments_ledger,)

    def __init__(self) -> None:
        self._rows: list[dict[str, Any]] = []

    def begin(self, conn: Connection) -> None:  # noqa: D102
        self._rows = []

    def process(self, conn: Connection, record: Record) -> None:  # noqa: D102
        p = record.payload
        for row in p["payments"]:
            self._rows.append({
                "fixmedins_code": row["fixmedins_code"], "month": p["month"], "admdvs": p["admdvs"],
                "scheme": p["scheme"], "position": record.position, "count": row["count"], "visits": row["visits"],
                "medfee": fen(row["medfee"]), "actual": fen(row["actual"]), "allocation": fen(row["allocation"]),
                "paid": fen(row["paid"]), "withheld": fen(row["withheld"]),
            })

    def flush(self, conn: Connection) -> None:  # noqa: D102
        insert_many(conn, prepayments_ledger, self._rows)
        self._rows = []


def ledger_rows(conn: Connection, fixmedins_code: str, year: int, known_at: int | None = None) -> list[dict[str, Any]]:
    """The institution's months of ``year`` with running totals, as known at a log position."""
    c = prepayments_ledger.c
    conditions = [c.fixmedins_code == fixmedins_code, c.month.like(f"{year:04d}-%")]
    if known_at is not None:
        conditions.append(c.position <= known_at)
    rows = conn.execute(select(prepayments_ledger).where(and_(*conditions)).order_by(c.month)).mappings().all()
    out, paid, withheld = [], 0, 0
    for r in rows:
        paid += r["paid"]
        withheld += r["withheld"]
        out.append({
            "month": r["month"], "scheme": r["scheme"], "count": r["count"], "visits": r["visits"],
            "medfee": yuan(r["medfee"]),
            "actual": yuan(r["actual"]), "allocation": yuan(r["allocation"]), "paid": yuan(r["paid"]),
            "withheld": yuan(r["withheld"]), "cumulative_paid": yuan(paid), "cumulative_withheld": yuan(withheld),
            "position": r["position"],
        })
    return out
