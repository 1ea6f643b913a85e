"""What every read model shares: its tables, the events it follows, and batched writes.

A view reads stored events as plain records (topic and the stored JSON, parsed), never the
ledger's classes: it depends on the stored format only, as any outside consumer would. In
that format a decimal is ``{"_type_": "decimal_str", "_data_": "12.50"}`` and a date
``{"_type_": "date_iso", "_data_": "2024-03-20"}``; :func:`fen` and :func:`iso` read them.
Money is kept in integer fen, exact on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from functools import cache
from operator import itemgetter
from typing import TYPE_CHECKING, Any, ClassVar, NamedTuple, cast, overload

from sqlalchemy import BigInteger, Column, Integer, MetaData, String, Table, any_, bindparam
from sqlalchemy import cast as sql_cast
from sqlalchemy.dialects import postgresql

from ledger.adapters.arrays import array_literal
from ledger.adapters.writer import Deferred
from ledger.money import from_fen, to_fen

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping, Sequence

    from psycopg import Cursor
    from sqlalchemy import ColumnElement, Connection, Engine

    from ledger.adapters.transcodings import LedgerTranscoder

metadata = MetaData()

positions = Table(
    "projection_positions",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("position", BigInteger, nullable=False),
)
"""How far each view has read the log, written in the same transaction as its rows."""


@overload
def fen(amount: Decimal | dict[str, str]) -> int: ...
@overload
def fen(amount: None) -> None: ...
def fen(amount: Decimal | dict[str, str] | None) -> int | None:
    """Yuan (a Decimal, or a stored decimal) to integer fen, exactly."""
    if amount is None:
        return None
    if isinstance(amount, dict):
        return _fen_of_text(amount["_data_"])
    return to_fen(amount)


def _fen_of_text(digits: str) -> int:
    """``"-12.50"`` to ``-1250`` without building a Decimal (the read models' hottest conversion)."""
    if len(digits) > 3 and digits[-3] == ".":  # the stored form of a settled amount: two places
        return int(digits[:-3] + digits[-2:])
    whole, _, part = digits.lstrip("-").partition(".")
    if len(part) > 2 or "E" in whole or "e" in whole:
        return fen(Decimal(digits))
    value = int(whole) * 100 + int((part + "00")[:2])
    return -value if digits.startswith("-") else value


@overload
def yuan(amount: int) -> Decimal: ...
@overload
def yuan(amount: None) -> None: ...
def yuan(amount: int | None) -> Decimal | None:
    """Integer fen back to yuan with two decimals."""
    if amount is None:
        return None
    return from_fen(amount)


def money_column(name: str, *, nullable: bool = False) -> Column[Any]:
    """An amount in integer fen."""
    return Column(name, BigInteger, nullable=nullable)


def date_column(name: str, *, nullable: bool = False, index: bool = False) -> Column[Any]:
    """A date as ``YYYY-MM-DD`` text: sorts and compares as dates, identical on both databases."""
    return Column(name, String(10), nullable=nullable, index=index)


POSITION = BigInteger().with_variant(Integer, "sqlite")
"""A log position: on SQLite declared ``INTEGER``, so that a table keyed by it alone keeps its rows
by it (the rowid) instead of in a second b-tree beside them."""


def position_column(*, primary_key: bool = False) -> Column[Any]:
    """The log position an entry comes from."""
    return Column("position", POSITION, nullable=False, primary_key=primary_key, index=not primary_key)


@dataclass(slots=True)
class Record:
    """One stored event as views see it: its place in the log, and its stored JSON parsed.

    Made once per event read (slots, not frozen: a frozen dataclass pays for every field it sets).
    """

    position: int
    originator_id: str
    """As text (``8-4-4-4-12`` hex digits): the key the views store."""
    originator_version: int
    topic: str
    state: bytes
    payload: dict[str, Any]
    day: str | None
    """The event's effective date as text, where it has one (read once: most views store it)."""
    transcoder: LedgerTranscoder
    """The event store's transcoder: types what was parsed (``typed``), or compares it with a value (``holds``)."""

    def typed(self) -> dict[str, Any]:
        """The payload with Python types (Decimal, date), as the event store decodes it."""
        return self.transcoder.typed(self.payload)


def iso(value: date | datetime | str | dict[str, str]) -> str:
    """ISO text of a date: a stored one, a date object, or text already."""
    if isinstance(value, dict):
        return value["_data_"]
    return value if isinstance(value, str) else value.isoformat()


def text(value: Any) -> str:
    """A stored scalar as text (a decimal's digits, a date's ISO form)."""
    return value["_data_"] if isinstance(value, dict) else str(value)


class View(ABC):
    """A read model: tables, the topics it follows, and how each event changes it."""

    name: ClassVar[str]
    """The view's name: the prefix of its tables and its key in ``projection_positions``."""
    topics: ClassVar[tuple[str, ...]]
    """The event topics it follows; an empty tuple follows every event."""
    tables: ClassVar[tuple[Table, ...]]
    rebuildable: ClassVar[bool] = True
    """False for the log's seal (the hash chain), which a rebuild must never recompute."""
    fields: ClassVar[Mapping[str, tuple[str, ...]]] = {}
    """Per topic, the only payload fields the view reads, where it names them (see :meth:`reads`)."""

    def reads(self, topic: str) -> tuple[str, ...] | None:
        """The payload fields of a ``topic`` event this view reads; None: any of them.

        When every view following an event names its fields, the event is parsed for those
        alone (:mod:`ledger.projections.payloads`); a field left out is simply not there.
        """
        return self.fields.get(topic)

    def begin(self, conn: Connection) -> None:
        """Start a batch: forget anything buffered by a batch that did not commit."""

    @abstractmethod
    def process(self, conn: Connection, record: Record) -> None:
        """Take one event into the batch (writes may be buffered until :meth:`flush`)."""

    def flush(self, conn: Connection) -> None:
        """Write what the batch buffered."""


def among(conn: Connection, column: Column[Any], values: Iterable[Any]) -> ColumnElement[bool]:
    """``column IN values``; on PostgreSQL one array parameter, where an ``IN`` list binds one a value.

    A page of a month close asks about 2,000 members at once: binding 2,000 parameters cost
    more than the query (:mod:`ledger.adapters.arrays`).
    """
    if conn.dialect.name == "postgresql":
        return column == any_(sql_cast(bindparam(None, array_literal(values), type_=String),
                                   postgresql.ARRAY(column.type)))
    return column.in_(list(values))


class Diversion(NamedTuple):
    """Tables whose rows, inserted through a connection of ``engine``, go to a function instead."""

    engine: Engine
    tables: Mapping[Table, Callable[[Sequence[dict[str, Any]]], None]]


DIVERTED: ContextVar[Diversion | None] = ContextVar("diverted", default=None)
"""The diversion in force in this context (thread): the audit compares the rows of the tables the
views make in key order and never read back as its rebuild makes them, instead of storing them
in its scratch database and reading them back (:mod:`ledger.services.comparison`). Only that
engine's writes are diverted: the live store's, in the same thread, are not."""


def diverted(conn: Connection, table: Table) -> Callable[[Sequence[dict[str, Any]]], None] | None:
    """Where rows of ``table`` written through ``conn`` go instead of its database (:data:`DIVERTED`), if anywhere."""
    diversion = DIVERTED.get()
    if diversion is None or getattr(conn, "engine", None) is not diversion.engine:
        return None
    return diversion.tables.get(table)


def insert_many(conn: Connection, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """Insert rows (every column given in each row) in few round trips (or hand them on: :data:`DIVERTED`)."""
    divert = diverted(conn, table)
    if divert is not None:
        divert(rows)
        return
    if rows:
        pick = _columns(table)
        _write(conn, table, [pick(row) for row in rows])


def _write(conn: Connection, table: Table, rows: Sequence[tuple[Any, ...]], keys: tuple[str, ...] = (),
           added: tuple[str, ...] = ()) -> None:
    """Write rows (tuples in the table's column order) straight to the driver, without SQLAlchemy's per-row work.

    With ``keys``, a row whose keys are there already has its ``added`` columns added to
    that row's instead. SQLite, in process, takes the rows through ``executemany``.
    PostgreSQL takes plain inserts by ``COPY``, and upserts as one array a column unnested by
    the server: psycopg's ``executemany`` costs a round trip a row.
    """
    how, statement = _plan(table, conn.dialect.name, keys, added)
    if how == "copy":
        in_order(conn, _copy, statement, rows)
    elif how == "unnest":
        conn.exec_driver_sql(statement, tuple(list(column) for column in zip(*rows, strict=True)))
    else:
        conn.exec_driver_sql(statement, rows)


@cache
def _columns(table: Table) -> Callable[[Mapping[str, Any]], tuple[Any, ...]]:
    """A row's values in the table's column order, from a dict of them."""
    return itemgetter(*(c.name for c in table.columns))


def in_order(conn: Connection, write: Callable[..., None], *args: Any) -> None:
    """``write(conn, *args)``: here, or, through a rebuild's :class:`Deferred`, in its writer process.

    There it runs after the writes recorded before it, in the same transaction, so it sees
    them: a view whose writes depend on what it wrote before has them worked out where those
    are, instead of asking the writer for them and waiting. ``write`` is a module-level
    function (the writer process is handed it by name) and ``args`` plain data.
    """
    if isinstance(conn, Deferred):
        conn.defer(write, *args)
    else:
        write(conn, *args)


def _copy(conn: Connection, statement: str, rows: Sequence[tuple[Any, ...]]) -> None:
    """PostgreSQL's ``COPY … FROM STDIN`` of ``rows`` (in a rebuild, by the writer: it needs the driver's cursor)."""
    with cast("Cursor[Any]", conn.connection.cursor()) as cursor, cursor.copy(statement) as copy:
        for row in rows:
            copy.write_row(row)


@cache
def _plan(table: Table, dialect: str, keys: tuple[str, ...], added: tuple[str, ...]) -> tuple[str, str]:
    """How a table's rows are written on ``dialect`` (``copy``, ``unnest`` or ``executemany``), made once."""
    names = tuple(c.name for c in table.columns)
    columns = f"{_q(table.name)} ({','.join(map(_q, names))})"
    conflict = "" if not keys else (
        f" ON CONFLICT ({','.join(map(_q, keys))}) DO UPDATE SET "
        + ", ".join(f"{_q(a)} = {_q(table.name)}.{_q(a)} + excluded.{_q(a)}" for a in added))
    if dialect == "postgresql" and not keys:
        return "copy", f"COPY {columns} FROM STDIN"
    if dialect == "postgresql":
        types = (c.type.compile(dialect=postgresql.dialect()) for c in table.columns)
        arrays = ", ".join(f"%b::{type_}[]" for type_ in types)
        return "unnest", f"INSERT INTO {columns} SELECT * FROM unnest({arrays}){conflict}"
    return "executemany", f"INSERT INTO {columns} VALUES ({','.join('?' * len(names))}){conflict}"


def _q(name: str) -> str:
    """A quoted name (the views' names are lower-case, so quoting never changes them)."""
    return f'"{name}"'


@cache
def _reordering(table: Table, names: tuple[str, ...]) -> Callable[[tuple[Any, ...]], tuple[Any, ...]]:
    """A row of values named ``names`` (every column once) in the table's column order instead."""
    return itemgetter(*(names.index(c.name) for c in table.columns))


class Totals:
    """Amounts summed per key over a batch, so that the batch upserts each key once."""

    def __init__(self, keys: Sequence[str], added: Sequence[str]) -> None:
        self.keys = tuple(keys)
        self.added = tuple(added)
        self._sums: dict[tuple[Any, ...], list[int]] = {}

    def add(self, key: tuple[Any, ...], *amounts: int) -> None:
        """Add ``amounts`` (in the order of ``added``) to the sums of ``key``."""
        sums = self._sums.get(key)
        if sums is None:
            self._sums[key] = list(amounts)
        else:
            for i, amount in enumerate(amounts):
                sums[i] += amount

    def upsert(self, conn: Connection, table: Table, **fixed: Any) -> None:
        """Add the sums to ``table`` (``fixed`` fills the other columns of a new row), and start again."""
        order = _reordering(table, (*self.keys, *self.added, *fixed))
        values = tuple(fixed.values())
        rows = [order((*key, *sums, *values)) for key, sums in self._sums.items()]
        if rows:
            _write(conn, table, rows, self.keys, self.added)
        self._sums = {}

    def clear(self) -> None:
        """Forget the sums of a batch that did not commit."""
        self._sums = {}
