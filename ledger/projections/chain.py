"""The log's seal: a hash chain over every stored event, in log order.

Each link hashes the previous link with the event's position, stream, version, topic and
stored bytes. The chain is written as the log is read and never rebuilt: an audit
recomputes it from the events and names the first position where the two disagree, so a
row changed, deleted or reordered behind the ledger's back is found.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

from sqlalchemy import Column, String, Table, select

from ledger.projections.base import Record, View, diverted, insert_many, iso, metadata, position_column

if TYPE_CHECKING:
    from sqlalchemy import Connection

GENESIS = "0" * 64

log_chain = Table(
    "log_chain",
    metadata,
    position_column(primary_key=True),
    Column("recorded_at", String(40), nullable=False),
    Column("hash", String(64), nullable=False),
)


def link(previous: str, position: int, originator_id: Any, version: int, topic: str, state: bytes) -> str:
    """The chain's next link."""
    h = hashlib.sha256()
    h.update(f"{previous}|{position}|{originator_id}|{version}|{topic}|".encode())
    h.update(state)
    return h.hexdigest()


class ChainView(View):
    """Appends one link per event; excluded from rebuilds."""

    name = "chain"
    topics = ()
    tables = (log_chain,)
    rebuildable = False

    def __init__(self) -> None:
        self._rows: list[dict[str, Any]] = []
        self._head = GENESIS

    def reads(self, topic: str) -> tuple[str, ...]:
        """Of every event's payload, only when it was recorded (the link hashes the stored bytes)."""
        return ("timestamp",)

    def begin(self, conn: Connection) -> None:
        """Start from the stored head (a batch that did not commit left none of its links).

        Links handed on instead of stored (the audit's, :data:`~ledger.projections.base.DIVERTED`)
        are not there to read: the head carries over (a batch that fails ends an audit).
        """
        self._rows = []
        if diverted(conn, log_chain) is None:
            last = conn.execute(select(log_chain.c.hash).order_by(log_chain.c.position.desc()).limit(1)).scalar()
            self._head = last or GENESIS

    def process(self, conn: Connection, record: Record) -> None:  # noqa: D102
        self._head = link(self._head, record.position, record.originator_id, record.originator_version,
                          record.topic, record.state)
        self._rows.append({"position": record.position, "recorded_at": iso(record.payload["timestamp"]),
                           "hash": self._head})

    def flush(self, conn: Connection) -> None:  # noqa: D102
        insert_many(conn, log_chain, self._rows)
        self._rows = []


def position_at(conn: Connection, timestamp: str) -> int:
    """The last log position recorded at or before ``timestamp`` (ISO, UTC): "as the ledger knew it then"."""
    found = conn.execute(
        select(log_chain.c.position).where(log_chain.c.recorded_at <= timestamp)
        .order_by(log_chain.c.position.desc()).limit(1)
    ).scalar()
    return int(found or 0)


def head(conn: Connection) -> tuple[int, str]:
    """The chain's last position and hash."""
    row = conn.execute(select(log_chain.c.position, log_chain.c.hash).order_by(log_chain.c.position.desc())
                       .limit(1)).first()
    return (int(row[0]), str(row[1])) if row else (0, GENESIS)
