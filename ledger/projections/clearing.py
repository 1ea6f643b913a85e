"""Year-end clearing results per institution, and each region's summary (usage rate, scheme)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import Column, Integer, String, Table, and_, select

from ledger.projections.base import Record, View, fen, insert_many, metadata, money_column, position_column, text, yuan

if TYPE_CHECKING:
    from sqlalchemy import Connection

clearing_regions = Table(
    "clearing_regions",
    metadata,
    Column("admdvs", String(16), primary_key=True),
    Column("year", Integer, primary_key=True),
    Column("scheme", String(40), nullable=False),
    Column("usage_rate", String(24), nullable=True),
    Column("tier", String(40), nullable=True),
    money_column("budget", nullable=True),
    money_column("actual"),
    money_column("final_amount"),
    position_column(),
)

clearing_results = Table(
    "clearing_results",
    metadata,
    Column("admdvs", String(16), primary_key=True),
    Column("year", Integer, primary_key=True),
    Column("fixmedins_code", String(64), primary_key=True),
    position_column(),
    Column("basis", String(200), nullable=False),
    Column("visits", Integer, nullable=False),
    money_column("medfee"),
    money_column("actual"),
    money_column("final_amount"),
    money_column("prepaid"),
    money_column("due"),
    money_column("deposit_withheld"),
    money_column("deposit_returned", nullable=True),
    Column("score", String(8), nullable=True),
)

YEAR_CLOSED = "yibao:Region.YearClosed"
DEPOSIT_RETURNED = "yibao:Region.DepositReturned"
ROW_MONEY = ("medfee", "actual", "final_amount", "prepaid", "due", "deposit_withheld", "deposit_returned")


class ClearingView(View):
    """Clearing results, with deposits returned after the clearing."""

    name = "clearing"
    topics = (YEAR_CLOSED, DEPOSIT_RETURNED)
    tables = (clearing_regions, clearing_results)

    def __init__(self) -> None:
        self._regions: list[dict[str, Any]] = []
        self._rows: list[dict[str, Any]] = []

    def begin(self, conn: Connection) -> None:  # noqa: D102
        self._regions, self._rows = [], []

    def process(self, conn: Connection, record: Record) -> None:  # noqa: D102
        p = record.payload
        if record.topic == DEPOSIT_RETURNED:
            self.flush(conn)
            c = clearing_results.c
            conn.execute(clearing_results.update().where(
                c.admdvs == p["admdvs"], c.year == p["year"], c.fixmedins_code == p["fixmedins_code"]
            ).values(deposit_returned=fen(p["returned"]), score=text(p["score"])))
            return
        summary = p["summary"]
        self._regions.append({
            "admdvs": p["admdvs"], "year": p["year"], "scheme": p["scheme"], "usage_rate": summary.get("usage_rate"),
            "tier": summary.get("tier"), "budget": fen(summary.get("budget")), "actual": fen(summary["actual"]),
            "final_amount": fen(summary["final_amount"]), "position": record.position,
        })
        for row in p["rows"]:
            self._rows.append({
                "admdvs": p["admdvs"], "year": p["year"], "fixmedins_code": row["fixmedins_code"],
                "position": record.position, "basis": row["basis"], "visits": row["visits"],
                "score": None if row["score"] is None else text(row["score"]),
                **{name: fen(row[name]) for name in ROW_MONEY},
            })

    def flush(self, conn: Connection) -> None:  # noqa: D102
        insert_many(conn, clearing_regions, self._regions)
        insert_many(conn, clearing_results, self._rows)
        self._regions, self._rows = [], []


def region_clearing(conn: Connection, admdvs: str, year: int) -> dict[str, Any] | None:
    """The clearing of a region's year: the summary and one row per institution."""
    r = conn.execute(select(clearing_regions).where(
        and_(clearing_regions.c.admdvs == admdvs, clearing_regions.c.year == year))).mappings().first()
    if r is None:
        return None
    c = clearing_results.c
    rows = conn.execute(select(clearing_results).where(c.admdvs == admdvs, c.year == year)
                        .order_by(c.fixmedins_code)).mappings().all()
    return {
        "admdvs": admdvs, "year": year, "scheme": r["scheme"], "usage_rate": r["usage_rate"], "tier": r["tier"],
        "budget": yuan(r["budget"]), "actual": yuan(r["actual"]), "final_amount": yuan(r["final_amount"]),
        "rows": [{"fixmedins_code": row["fixmedins_code"], "basis": row["basis"], "visits": row["visits"],
                  "score": row["score"], **{name: yuan(row[name]) for name in ROW_MONEY}} for row in rows],
    }
