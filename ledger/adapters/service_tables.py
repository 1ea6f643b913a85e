"""The online service's own tables, in the ledger's database beside the read models.

They hold what is not a fact of the ledger and cannot be rebuilt from the log: the callers'
credentials, the nonces seen in the signature window, the answers already given (so a
retried ``msgid`` gets the same bytes), and a counter's work in progress: visits registered
(2201) and fee lines uploaded (2204) but not yet settled. A rebuild of the read models
leaves them alone.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import Column, Index, Integer, LargeBinary, MetaData, String, Table, Text, delete

from ledger.adapters.store import postgresql_engine

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from ledger.adapters.store import Store

service_metadata = MetaData()

credentials = Table(
    "service_credentials",
    service_metadata,
    Column("paasid", String(64), primary_key=True),
    Column("role", String(16), nullable=False),
    Column("secret", String(128), nullable=False),
    Column("issued_at", String(32), nullable=False),
    Column("revoked_at", String(32), nullable=True),
)

nonces = Table(
    "service_nonces",
    service_metadata,
    Column("paasid", String(64), primary_key=True),
    Column("nonce", String(128), primary_key=True),
    Column("seen_at", Integer, nullable=False, index=True),
)

answers = Table(
    "service_answers",
    service_metadata,
    Column("paasid", String(64), primary_key=True),
    Column("msgid", String(64), primary_key=True),
    Column("infno", String(8), nullable=False),
    Column("body_hash", String(64), nullable=False),
    Column("response", LargeBinary, nullable=False),
)

visits = Table(
    "service_visits",
    service_metadata,
    Column("mdtrt_id", String(64), primary_key=True),
    Column("fixmedins_code", String(64), nullable=False),
    Column("psn_no", String(64), nullable=False),
    Column("day", String(10), nullable=False),
    Column("insutype", String(8), nullable=False),
    Column("record", Text, nullable=False),  # the 2201 input as registered (JSON)
)

IN_FLIGHT = b""
"""The response of a msgid claimed by a request still running (the answer replaces it)."""

fee_lines = Table(
    "service_fee_lines",
    service_metadata,
    Column("mdtrt_id", String(64), primary_key=True),
    Column("feedetl_sn", String(64), primary_key=True),
    Column("seq", Integer, nullable=False),  # upload order: a bill lists its lines as uploaded
    Column("record", Text, nullable=False),  # the line as a bill item with its rx_no (JSON)
    # The settlement that took the line; none while it waits (and again after a reversal).
    Column("setl_id", String(64), nullable=True),
    Index("ix_service_fee_lines_setl", "setl_id"),
)


def create_service_tables(store: Store, engine: Engine) -> None:
    """Create the tables once (under the store's schema lock, as the read models are)."""
    with store.schema_lock():
        service_metadata.create_all(engine)


def forget_unanswered(store: Store, engine: Engine) -> None:
    """Drop the claims of msgids whose request never answered: its worker stopped mid-request.

    Run by ``ledger serve`` before its workers start, when no request can be running; a retry
    of such a msgid then runs afresh (every booking is idempotent by its key).
    """
    create_service_tables(store, engine)
    with engine.begin() as conn:
        conn.execute(delete(answers).where(answers.c.response == IN_FLIGHT))


def bookkeeping_engine(store: Store, engine: Engine) -> Engine:
    """The engine for nonces, answers and a counter's waiting work, whose commits need not wait for the disk.

    A settlement is a fact of the ledger and its commit is durable; what these tables hold can
    be lost in a crash at no cost to the ledger: a forgotten nonce only matters for a replay
    within the signature window, a forgotten answer makes a retry book nothing new (every
    booking is idempotent by its key), and a forgotten registration or upload is refused when
    settled and made again. On PostgreSQL their commits are asynchronous (``synchronous_commit
    = off``: lost, never corrupted, in a crash); the read models' SQLite engine already commits
    without syncing (WAL, ``synchronous=NORMAL``).
    """
    if store.kind != "postgresql":
        return engine
    return postgresql_engine(store.sqlalchemy_url(), connect_args={"options": "-c synchronous_commit=off"})
