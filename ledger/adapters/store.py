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
import sqlite3
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from importlib.util import find_spec
from pathlib import Path
from typing import Any
from urllib.parse import quote

import psycopg
from eventsourcing.application import Application
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DisconnectionError

from ledger.errors import LedgerError
from ledger.refusals import RefusalCode

DEFAULT_DB = "./ledger.db"
SCHEMA_LOCK = 0x1ED6E8
"""The PostgreSQL advisory lock key taken while the ledger creates its tables."""
CATCH_UP_LOCK = 0x1ED6E9
"""The PostgreSQL advisory lock key held while a process catches the read models up."""
EVENT_STORES = ("core", "sqlalchemy")
SQLALCHEMY_STORE = "eventsourcing_sqlalchemy"
"""The module of the optional ``sqlalchemy-store`` extra."""
POSTGRES_DRIVERS = ("postgresql", "postgres", "postgresql+psycopg")
LEDGER_TABLES = frozenset({"log_chain", "yibao_events"})
"""Tables only a ledger has: the read models' chain, or the events table named for the application."""
BEGUN_TABLES = frozenset({"stored_events", "stored_snapshots"})
"""What the event store makes first on SQLite: a ledger stopped right after (a crash while it made
its tables) holds these alone, and a command that may make a ledger finishes it."""
CONNECT_TIMEOUT = 5
"""Seconds to wait for a PostgreSQL server before saying it cannot be reached."""


class StoreError(LedgerError):
    """Raised when a database URL cannot be used, or holds no ledger."""

    def __init__(self, message: str, code: RefusalCode = RefusalCode.BAD_DATABASE_URL) -> None:
        super().__init__(message)
        self.code = code


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
        if "://" not in url:
            return cls._sqlite(url, url, event_store)
        try:
            parsed = make_url(url)
        except (ArgumentError, ValueError):
            msg = f"{url!r} is not a database URL: give a file path, sqlite:///path or postgresql://…"
            raise StoreError(msg) from None
        if parsed.drivername == "sqlite":
            return cls._sqlite(url, parsed.database or "", event_store)
        if parsed.drivername not in POSTGRES_DRIVERS:
            msg = f"{url}: the ledger runs on SQLite or PostgreSQL (sqlite:///path or postgresql://…)"
            raise StoreError(msg)
        if not parsed.database:
            msg = f"{url}: name the database, postgresql://user@host:port/dbname"
            raise StoreError(msg)
        return cls(url=url, kind="postgresql", host=parsed.host or "localhost", port=str(parsed.port or 5432),
                   user=parsed.username or "postgres", password=parsed.password or "", dbname=parsed.database,
                   event_store=event_store)

    @classmethod
    def _sqlite(cls, url: str, path: str, event_store: str) -> Store:
        if path in ("", ":memory:"):
            msg = "an in-memory SQLite database cannot be shared by the event store and the read models"
            raise StoreError(msg)
        return cls(url=url, kind="sqlite", path=str(Path(path)), event_store=event_store)

    def check(self, *, create: bool) -> None:
        """Refuse a store that is not a ledger: missing (unless ``create``), foreign, damaged or unreachable.

        Only the commands that may make a ledger (``init``, ``ingest``, ``demo``, ``serve``) pass
        ``create``; for every other one a mistyped path must not become a new empty ledger.
        """
        tables = self._tables()
        if tables is not None and (tables & LEDGER_TABLES or (create and tables <= BEGUN_TABLES)):
            return
        if tables:
            msg = f"{self.where()} holds no ledger (it has other tables); give the ledger's own database"
            raise StoreError(msg, RefusalCode.STORE_FOREIGN)
        if not create:
            msg = f"no ledger at {self.where()} (create one with `ledger init`, or check --db)"
            raise StoreError(msg, RefusalCode.STORE_MISSING)
        if self.kind == "sqlite" and not Path(self.path).resolve().parent.is_dir():
            msg = f"{self.where()}: the folder {Path(self.path).parent} does not exist"
            raise StoreError(msg, RefusalCode.STORE_UNAVAILABLE)

    def where(self) -> str:
        """The store for a person: the file path, or the database, host and port (never the password)."""
        if self.kind == "sqlite":
            return self.path
        return f"PostgreSQL database {self.dbname} at {self.host}:{self.port}"

    def _tables(self) -> set[str] | None:
        """The database's tables, or ``None`` when the SQLite file does not exist."""
        if self.kind == "sqlite":
            path = Path(self.path)
            if not path.exists():
                return None
            if not path.is_file():
                msg = f"{self.path} is not a file"
                raise StoreError(msg, RefusalCode.STORE_UNAVAILABLE)
            try:
                with closing(sqlite3.connect(f"file:{quote(str(path.resolve()))}?mode=ro", uri=True)) as conn:
                    rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
            except sqlite3.DatabaseError as e:
                code = RefusalCode.STORE_UNAVAILABLE if "unable to open" in str(e) else RefusalCode.STORE_FOREIGN
                msg = f"{self.path} cannot be read as a SQLite database ({e})"
                raise StoreError(msg, code) from None
            return {r[0] for r in rows}
        try:
            with self.connect() as conn:
                rows = conn.execute("SELECT table_name FROM information_schema.tables "
                                    "WHERE table_schema = current_schema()").fetchall()
        except psycopg.Error as e:
            msg = f"cannot open {self.where()}: {first_line(e)}"
            raise StoreError(msg, RefusalCode.STORE_UNAVAILABLE) from None
        return {r[0] for r in rows}

    def connect(self) -> psycopg.Connection[Any]:
        """A PostgreSQL connection outside any transaction (each statement commits), for the store's own upkeep."""
        return psycopg.connect(host=self.host, port=self.port, user=self.user, password=self.password or None,
                               dbname=self.dbname, autocommit=True, connect_timeout=CONNECT_TIMEOUT)

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
        return URL.create("postgresql+psycopg", username=self.user, password=self.password or None, host=self.host,
                          port=int(self.port), database=self.dbname).render_as_string(hide_password=False)

    @contextmanager
    def schema_lock(self) -> Iterator[None]:
        """Held while tables are created, so processes starting together do not race.

        On a new PostgreSQL database, concurrent ``CREATE TABLE IF NOT EXISTS`` collide in the
        catalog ("tuple concurrently updated"); SQLite serialises them itself.
        """
        if self.kind != "postgresql":
            yield
            return
        with self.connect() as conn:
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

    def log_application(self, application: str) -> Application:
        """A bare ``eventsourcing`` application on the events the application named ``application`` keeps here.

        For another process that only reads the log (the audit's second process): the events
        table is named for the application, so the name is all it needs of it. Its recorder
        is open while it lives: keep it, and close it when done.
        """
        reader = type("LogReader", (Application,), {"name": application})
        return reader(env=self.event_store_env())

    def engine(self) -> Engine:
        """A SQLAlchemy engine for the read models."""
        if self.kind == "sqlite":
            return sqlite_engine(
                self.path,
                "journal_mode=WAL",
                # Read models are rebuilt from the log, so a lost last batch costs nothing but a re-read.
                "synchronous=NORMAL",
                # 8 MiB of pages a connection. SQLite's sorter, which makes the indexes at the end
                # of a rebuild, may take as much again; a larger cache cost memory and saved no
                # time (docs/benchmarks.md).
                "cache_size=-8192",
                "wal_autocheckpoint=16384",
                # Debian builds SQLite to overwrite freed pages with zeros: a rebuild's dropping of
                # the old tables then wrote every one of their pages again (docs/benchmarks.md).
                # What the views held is in the log still; FAST clears within pages only.
                "secure_delete=FAST",
            )
        return postgresql_engine(self.sqlalchemy_url())


IDLE_BEFORE_PING = 1.0
"""Seconds a pooled PostgreSQL connection may sit unused and still be handed out without a ping."""


def postgresql_engine(url: str, **options: Any) -> Engine:
    """An engine whose pool pings a connection before handing it out, if it sat idle for a while.

    SQLAlchemy's ``pool_pre_ping`` pings at every checkout: a round trip, and a query at the
    counter checks out two or three connections. A connection used less than
    ``IDLE_BEFORE_PING`` ago was alive then; a server that restarts is down for longer than
    that, so a connection it dropped has sat idle past the limit and is pinged, and one found
    dead is replaced (``DisconnectionError`` makes the pool take another) before anyone uses it.
    """
    engine = create_engine(url, **options)

    @event.listens_for(engine, "checkin")
    def _idle_from(_dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _ping_if_idle(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        if time.monotonic() - record.info.get("idle_since", 0.0) < IDLE_BEFORE_PING:
            return
        try:
            alive = engine.dialect.do_ping(dbapi_connection)
        except psycopg.Error:
            alive = False
        if not alive:
            raise DisconnectionError("a pooled connection was closed by the server")

    return engine


def autocommitting(engine: Engine) -> Engine:
    """``engine``'s pool, each statement committed as it runs: a read of one statement sends no BEGIN or ROLLBACK.

    On PostgreSQL each of those is a round trip, and a query at the counter is one statement
    (under READ COMMITTED a transaction gave each statement its own snapshot all the same).
    """
    return engine.execution_options(isolation_level="AUTOCOMMIT")


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


def first_line(error: BaseException) -> str:
    """A driver's error message without its hints and context lines."""
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
