"""Each institution's monthly settlement applications: when the bureau received and paid them.

The overdue report (:mod:`ledger.services.deadlines`) reads it: the national notice counts
30 working days from the day a pharmacy's application is received (医保办发〔2023〕4号 三（四））.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import Column, String, Table, select

from ledger.projections.base import Record, View, date_column, fen, insert_many, metadata, money_column, yuan

if TYPE_CHECKING:
    from sqlalchemy import Connection

institution_months = Table(
    "institution_months",
    metadata,
    Column("fixmedins_code", String(64), primary_key=True),
    Column("month", String(7), primary_key=True),
    Column("admdvs", String(16), nullable=False, index=True),
    Column("kind", String(10), nullable=False),
    date_column("received_on"),
    money_column("received_amount", nullable=True),
    date_column("paid_on", nullable=True),
    money_column("paid_amount", nullable=True),
)

RECEIVED = "yibao:Institution.MonthReceived"
PAID = "yibao:Institution.MonthPaid"


class DeadlinesView(View):
    """One row per institution and month applied for."""

    name = "deadlines"
    topics = (RECEIVED, PAID)
    tables = (institution_months,)

    def __init__(self) -> None:
        self._rows: list[dict[str, Any]] = []

    def begin(self, conn: Connection) -> None:  # noqa: D102
        self._rows = []

    def process(self, conn: Connection, record: Record) -> None:  # noqa: D102
        p = record.payload
        if record.topic == RECEIVED:
            self._rows.append({"fixmedins_code": p["fixmedins_code"], "month": p["month"], "admdvs": p["admdvs"],
                               "kind": p["kind"], "received_on": record.day, "received_amount": fen(p["amount"]),
                               "paid_on": None, "paid_amount": None})
            return
        self.flush(conn)  # the application may be in this very batch
        c = institution_months.c
        conn.execute(institution_months.update()
                     .where(c.fixmedins_code == p["fixmedins_code"], c.month == p["month"])
                     .values(paid_on=record.day, paid_amount=fen(p["amount"])))

    def flush(self, conn: Connection) -> None:  # noqa: D102
        insert_many(conn, institution_months, self._rows)
        self._rows = []


def months_of(conn: Connection, admdvs: str, kind: str) -> list[dict[str, Any]]:
    """The applications of a region's institutions of ``kind``, by institution and month."""
    c = institution_months.c
    rows = conn.execute(select(institution_months).where(c.admdvs == admdvs, c.kind == kind)
                        .order_by(c.fixmedins_code, c.month)).mappings().all()
    return [{**r, "received_amount": yuan(r["received_amount"]), "paid_amount": yuan(r["paid_amount"])}
            for r in rows]
