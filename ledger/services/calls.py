"""What every transaction of the online service shares: the call, its input, its checks."""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel, ValidationError

from ledger.errors import InputError
from ledger.exchange.messages import MessageError, validate_message
from ledger.periods import month_end
from ledger.refusals import RefusalCode
from ledger.rules.adjudication import SETLINFO_FIELDS

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from contextlib import AbstractContextManager

    from sqlalchemy import Connection, Engine

    from ledger.exchange.messages import Message
    from ledger.services import transactions as t
    from ledger.services.credentials import Principal

M = TypeVar("M", bound=BaseModel)


@dataclass
class Call:
    """One authenticated request, as the transactions see it."""

    principal: Principal
    envelope: t.RequestEnvelope
    books: Engine
    """Where the service tables are (``service_tables.bookkeeping_engine``)."""
    writing: AbstractContextManager[object]
    """Held while writing (``Follower.writing``)."""
    writes: list[Callable[[Connection], object]] = field(default_factory=list)
    """The service tables' changes of an answered call, committed with its answer in one transaction."""
    _conn: Connection | None = None

    @property
    def conn(self) -> Connection:
        """The request's one connection to the service tables, taken when first needed."""
        if self._conn is None:
            self._conn = self.books.connect()
        return self._conn

    def release(self) -> None:
        """Give the connection back (when done, or while waiting for a booking: no one waits on the pool)."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def write_with_answer(self, write: Callable[[Connection], object]) -> None:
        """Have ``write`` committed with the answer: a refused call, or one answered before, writes nothing."""
        self.writes.append(write)

    @contextmanager
    def transaction(self, *, one_statement_each: bool = False) -> Iterator[Connection]:
        """A transaction of its own on the request's connection, once what was read so far is let go.

        With ``one_statement_each``, for writes that need not stand or fall together, each
        statement commits as it runs instead on PostgreSQL, sparing the round trips of ``BEGIN``
        and ``COMMIT``. SQLite has no round trips to spare: there a commit per statement writes
        the log more often, and switching the connection's mode costs statements of its own.
        """
        if self.conn.in_transaction():
            self.conn.commit()
        with self.writing:
            if not one_statement_each or self.conn.dialect.name == "sqlite":
                with self.conn.begin():
                    yield self.conn
                return
            self.conn.execution_options(isolation_level="AUTOCOMMIT")
            try:
                yield self.conn
            finally:
                self.conn.commit()  # nothing left to commit: only the connection's own bookkeeping
                self.conn.execution_options(isolation_level=self.conn.default_isolation_level)

    @property
    def fixmedins_code(self) -> str:
        """The institution the request acts for (an institution's own code)."""
        return self.envelope.fixmedins_code or (self.principal.paasid if self.principal.role == "institution" else "")

    @property
    def submitter(self) -> dict[str, str]:
        """What each booked event records of who submitted it."""
        return {"paasid": self.principal.paasid, "opter": self.envelope.opter, "msgid": self.envelope.msgid}

    def institution(self) -> str:
        """The acting institution, which a counter transaction needs."""
        if not self.fixmedins_code:
            raise InputError("fixmedins_code", "required: the institution this transaction is for",
                             code=RefusalCode.MISSING_FIXMEDINS_CODE)
        return self.fixmedins_code

    def check_owns(self, fixmedins_code: str, what: str) -> None:
        """An institution reads and changes only its own business."""
        if self.principal.role == "institution" and fixmedins_code != self.principal.paasid:
            raise InputError("fixmedins_code", f"{what} belongs to another institution",
                             code=RefusalCode.FOREIGN_INSTITUTION)


def validated(model: type[M], raw: Any) -> M:
    """``input`` as the transaction's model, or a refusal naming the first bad field."""
    try:
        return model.model_validate(raw)
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(p) for p in ("input", *first["loc"]))
        raise InputError(where, first["msg"].removeprefix("Value error, "), code=RefusalCode.INVALID_INPUT) from None


def as_message(raw: dict[str, Any]) -> Message:
    """An exchange message, or a refusal in the ledger's words."""
    try:
        return validate_message(raw)
    except MessageError as e:
        raise InputError(e.field, e.reason, code=RefusalCode.INVALID_MESSAGE) from None


def setlinfo(view: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """2207's ``setlinfo`` and ``setldetail`` from a settlement as the ledger shows it."""
    info = {"setl_id": view["setl_id"], "mdtrt_id": view["mdtrt_id"], "psn_no": view["psn_no"],
            **{name: view[name] for name in SETLINFO_FIELDS}, "setl_time": view["setl_date"],
            "medins_setl_id": view["medins_setl_id"], "status": view["status"], "refusal": view["refusal"],
            **extra}
    return {"setlinfo": info, "setldetail": view["setldetail"]}


def statement_month(stmt: t.Statement) -> str:
    """3201 reconciles one calendar month: its ``YYYY-MM``."""
    month = stmt.stmt_begndate.strftime("%Y-%m")
    if stmt.stmt_begndate.day != 1 or stmt.stmt_enddate != month_end(month):
        raise InputError("input.data.stmt_enddate", "a statement runs from a month's first day to its last",
                         code=RefusalCode.STATEMENT_NOT_A_MONTH)
    return month
