"""Where the ledger lives: one database URL gives the event store and the read models.

``--db`` or ``LEDGER_DB`` takes a file path or ``sqlite:///path`` (the embedded default,
``./ledger.db``) or ``postgresql://user:password@host:port/dbname``. The events go through
``eventsourcing``'s own recorder for that database (its SQLite and PostgreSQL modules), or
through ``eventsourcing-sqlalchemy`` (the optional ``sqlalchemy-store`` extra) when
``LEDGER_EVENT_STORE=sqlalchemy``; the read
models are SQLAlchemy tables in the same database.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib.util import find_spec
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import psycopg
from sqlalchemy import Engine, create_engine, event

from ledger.errors import LedgerError

DEFAULT_DB = "./ledger.db"
SCHEMA_LOCK = 0x1ED6E8
"""The PostgreSQL advisory lock key taken while the ledger creates its tables."""
CATCH_UP_LOCK = 0x1ED6E9
"""The PostgreSQL advisory lock key held while a process catches the read models up."""
EVENT_STORES = ("core", "sqlalchemy")
SQLALCHEMY_STORE = "eventsourcing_sqlalchemy"
"""The module of the optional ``sqlalchemy-store`` extra."""


class StoreError(LedgerError):
    """Raised when a database URL cannot be used."""


@dataclass(frozen=True)
class Store:
    """A parsed database location."""

    url: str
    kind: str
    """``sqlite`` or ``postgresql``."""
    path: str = ""
    host: str = ""
    port: str = ""
    user: str = ""
    password: str = ""
    dbname: str = ""
    event_store: str = "core"

    @classmethod
    def parse(cls, url: str | None = None, event_store: str | None = None) -> Store:
        """Read ``url`` (or ``LEDGER_DB``, or the default file)."""
        url = url or os.environ.get("LEDGER_DB") or DEFAULT_DB
        event_store = event_store or os.environ.get("LEDGER_EVENT_STORE") or "core"
        if event_store not in EVENT_STORES:
            msg = f"LEDGER_EVENT_STORE must be one of {EVENT_STORES}, not {event_store!r}"
            raise StoreError(msg)
        if event_store == "sqlalchemy" and find_spec(SQLALCHEMY_STORE) is None:
            msg = ("LEDGER_EVENT_STORE=sqlalchemy needs the sqlalchemy-store extra: "
                   "pip install 'yibao-ledger[sqlalchemy-store]'")
            raise StoreError(msg)
        if url.startswith(("postgresql://", "postgres://", "postgresql+psycopg://")):
            parts = urlsplit(url)
            dbname = parts.path.lstrip("/")
            if not dbname:
                msg = f"{url}: name the database, postgresql://user@host:port/dbname"
                raise StoreError(msg)
            return cls(url=url, kind="postgresql", host=parts.hostname or "localhost", port=str(parts.port or 5432),
                       user=unquote(parts.username or "postgres"), password=unquote(parts.password or ""),
                       dbname=dbname, event_store=event_store)
        if url.startswith("sqlite:///"):
            path = url.removeprefix("sqlite:///")
        elif "://" in url:
            msg = f"{url}: give a file path, sqlite:///path or postgresql://…"
            raise StoreError(msg)
        else:
            path = url
        if path == ":memory:":
            msg = "an in-memory SQLite database cannot be shared by the event store and the read models"
            raise StoreError(msg)
        return cls(url=url, kind="sqlite", path=str(Path(path)), event_store=event_store)

    def event_store_env(self) -> dict[str, str]:
        """The ``eventsourcing`` environment for this store."""
        if self.event_store == "sqlalchemy":
            return {"PERSISTENCE_MODULE": SQLALCHEMY_STORE, "SQLALCHEMY_URL": self.sqlalchemy_url()}
        if self.kind == "sqlite":
            return {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": self.path,
                    "SQLITE_LOCK_TIMEOUT": "30"}
        return {
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
            "POSTGRES_DBNAME": self.dbname,
            "POSTGRES_HOST": self.host,
            "POSTGRES_PORT": self.port,
            "POSTGRES_USER": self.user,
            "POSTGRES_PASSWORD": self.password,
            "POSTGRES_LOCK_TIMEOUT": "30",
        }

    def sqlalchemy_url(self) -> str:
        """The SQLAlchemy URL of the same database."""
        if self.kind == "sqlite":
            return f"sqlite:///{self.path}"
        auth = self.user + (f":{self.password}" if self.password else "")
        return f"postgresql+psycopg://{auth}@{self.host}:{self.port}/{self.dbname}"

    @contextmanager
    def schema_lock(self) -> Iterator[None]:
        """Held while tables are created, so processes starting together do not race.

        On a new PostgreSQL database, concurrent ``CREATE TABLE IF NOT EXISTS`` collide in the
        catalog ("tuple concurrently updated"); SQLite serialises them itself.
        """
        if self.kind != "postgresql":
            yield
            return
        with psycopg.connect(host=self.host, port=self.port, user=self.user, password=self.password or None,
                             dbname=self.dbname, autocommit=True) as conn:
            conn.execute("SELECT pg_advisory_lock(%s)", (SCHEMA_LOCK,))
            try:
                yield
            finally:
                conn.execute("SELECT pg_advisory_unlock(%s)", (SCHEMA_LOCK,))

    @contextmanager
    def catch_up_lock(self, engine: Engine) -> Iterator[None]:
        """Held while the read models catch up, so two writers never project the same events.

        PostgreSQL: an advisory lock on one of ``engine``'s connections. SQLite: an exclusive
        ``flock`` on the database's directory (not on the file itself: closing any descriptor of
        the file would drop SQLite's own POSIX locks in this process).
        """
        if self.kind == "postgresql":
            with engine.connect() as conn:
                conn.exec_driver_sql(f"SELECT pg_advisory_lock({CATCH_UP_LOCK})")
                conn.commit()  # the lock is the session's: no transaction stays open meanwhile
                try:
                    yield
                finally:
                    conn.exec_driver_sql(f"SELECT pg_advisory_unlock({CATCH_UP_LOCK})")
                    conn.commit()
            return
        fd = os.open(Path(self.path).resolve().parent, os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def engine(self) -> Engine:
        """A SQLAlchemy engine for the read models."""
        if self.kind == "sqlite":
            return sqlite_engine(
                self.path,
                "journal_mode=WAL",
                # Read models are rebuilt from the log, so a lost last batch costs nothing but a re-read.
                "synchronous=NORMAL",
                # 8 MiB of pages a connection. SQLite's sorter, which makes the indexes at the end
                # of a rebuild, may take as much again. A rebuild of 1M events peaked at 196 MiB
                # with 64 MiB, at 110 MiB with 8 MiB, in the same CPU time (within the noise).
                "cache_size=-8192",
                "wal_autocheckpoint=16384",
            )
        return create_engine(self.sqlalchemy_url(), pool_pre_ping=True)


def sqlite_engine(path: str | Path, *pragmas: str) -> Engine:
    """A SQLAlchemy engine on a SQLite file whose every new connection first sets ``pragmas``.

    SQLite keeps journal, sync and cache settings per connection, so they are set as each
    connection opens; the 30 s timeout lets a reader wait out another process's commit.
    """
    engine = create_engine(f"sqlite:///{path}", connect_args={"timeout": 30})

    @event.listens_for(engine, "connect")
    def _set_pragmas(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        for pragma in pragmas:
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()

    return engine
