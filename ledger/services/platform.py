"""The national platform's interface over the ledger: one call, dispatched on ``infno``.

A request is answered once: its answer is kept under the caller's ``msgid``, so a retry gets
the same bytes and books nothing again, and a ``msgid`` reused with another body is refused.
Each transaction checks the caller's role, translates the platform's input into the ledger's
exchange messages (``ledger.exchange.messages``) and books them as the batch ingest would,
stamping each event with who submitted it. A counter's work before settling (the visit
registered by 2201, the fee lines uploaded by 2204) waits in the service's tables
(``ledger.services.counter``) until 2207 settles it.

Transactions (docs/service.md has the full list): the platform's 9001, 1101, 2201, 2204,
2205, 2206, 2207, 2208, 3201, 5203, 5206; ours, 8101-8701, each books one kind of exchange
message of the ledger's contract.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
import uuid
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam, delete, select, text, update

from ledger.adapters.service_tables import IN_FLIGHT, answers, create_service_tables
from ledger.domain.aggregate import submitted_by
from ledger.errors import InputError, LedgerError
from ledger.money import FEN
from ledger.refusals import RefusalCode
from ledger.services import transactions as t
from ledger.services.application import PERIOD_TYPES
from ledger.services.booker import Booker
from ledger.services.calls import Call, as_message, validated
from ledger.services.counter import Counter
from ledger.services.ingest import describe

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from sqlalchemy import Connection, Engine

    from ledger.exchange.messages import Message
    from ledger.services.application import Outcome, OutpatientPooling
    from ledger.services.credentials import Credentials, Signed
    from ledger.services.follower import Follower

ANYONE = frozenset({"institution", "operator", "regulator"})
COUNTER = frozenset({"institution", "operator"})
BUREAU = frozenset({"operator"})

BOOKINGS: dict[str, tuple[str, frozenset[str], tuple[str, ...]]] = {
    "8101": ("e-prescription", COUNTER, ("prescription.issued",)),
    "8201": ("member facts", BUREAU, ("member.enrolled", "member.retired", "member.family_doctor_signed",
                                      "member.suspended", "member.resumed", "member.admitted", "member.discharged",
                                      "member.contribution_base_changed", "member.transferred_out",
                                      "member.deceased", "account.used")),
    "8301": ("institution facts", BUREAU, ("institution.registered", "institution.assessed",
                                           "institution.reviewed")),
    "8401": ("budget", BUREAU, ("budget.set",)),
    "8501": ("period close", BUREAU, PERIOD_TYPES),
    "8601": ("backfill and correction", BUREAU, ("visit.settled", "purchase.settled", "settlement.reversed")),
}
"""Our numbered transactions: each books exchange messages of the listed types, given as ``input.data``."""

AT_ONCE_ON_POSTGRESQL = 4
"""Transactions a worker process runs at once on PostgreSQL (each holds one connection to the service tables)."""
CLAIM = text(f"INSERT INTO {answers.name} (paasid, msgid, infno, body_hash, response) "
             "VALUES (:paasid, :msgid, :infno, :body_hash, :response) ON CONFLICT DO NOTHING RETURNING msgid")
"""A ``msgid`` claimed unless another request claimed it first (then no row comes back). As text, the
same on both stores: SQLAlchemy 2.0 cannot cache its dialects' ``on_conflict_do_nothing`` inserts, so
that form was compiled again at every request."""
CLAIMED = (answers.c.paasid == bindparam("claimant"), answers.c.msgid == bindparam("claimed"))
ANSWER = update(answers).where(*CLAIMED)
UNCLAIM = delete(answers).where(*CLAIMED, answers.c.response == IN_FLIGHT)
ANSWERED = select(answers.c.body_hash, answers.c.response).where(
    answers.c.paasid == bindparam("paasid"), answers.c.msgid == bindparam("msgid"))
"""The statements every request runs, built once."""
QUERIES = frozenset({"9001", "1101", "2206", "3201", "5203", "5206"})
"""Transactions that change nothing but their answer: run first, their answer then kept under the
``msgid`` (``Platform._query``); the others claim the ``msgid`` before they run (``Platform._once``)."""
CLAIM_WAIT = timedelta(seconds=60)
"""How long a request waits for the answer to a msgid another request (another worker) is answering."""
CLAIM_POLL = timedelta(milliseconds=5)
PAGE_PAUSE = timedelta(milliseconds=1)
"""How long a month close waits between its pages for the requests waiting to take their turn."""


def body_hash(envelope: dict[str, Any]) -> str:
    """The request's content, for telling a retry from a ``msgid`` reused with another body."""
    return hashlib.sha256(json.dumps(envelope, sort_keys=True, default=str).encode()).hexdigest()


def plain(value: Any) -> Any:
    """JSON-ready output: amounts as decimal strings with two places (finer prices as they are)."""
    if isinstance(value, Decimal):
        return str(value.quantize(FEN)) if value == value.quantize(FEN) else str(value)
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, date):
        return value.isoformat()
    return value


def stamp() -> str:
    """The platform's time of a message: yyyyMMddHHmmssSSS, UTC."""
    return datetime.now(UTC).strftime("%Y%m%d%H%M%S%f")[:17]


class Platform:
    """The service's transactions over one ledger application."""

    def __init__(self, ledger: OutpatientPooling, follower: Follower, credentials: Credentials, *,
                 books: Engine | None = None, today: Callable[[], date] | None = None) -> None:
        self.ledger = ledger
        self.credentials = credentials
        self.follower = follower
        self.today = today or date.today
        create_service_tables(ledger.store, ledger.engine)
        self.books = books or ledger.engine
        """Where nonces, answers and waiting work are kept (``service_tables.bookkeeping_engine``)."""
        self.writing = follower.writing
        self.booker = Booker(ledger, self.writing)
        self.counter = Counter(ledger, follower, self.today, self.book_together)
        self._places = threading.BoundedSemaphore(1 if ledger.store.kind == "sqlite" else AT_ONCE_ON_POSTGRESQL)
        """How many transactions run at once in this process: one on SQLite, which takes one writer;
        a few on PostgreSQL, so one's round trips to the server overlap another's work (their races,
        a msgid sent twice at once among them, are settled as between worker processes)."""
        self.transactions: dict[str, tuple[Callable[[Call], dict[str, Any]], frozenset[str]]] = {
            "9001": (self.sign_in, ANYONE),
            "1101": (self.counter.person, ANYONE),
            "2201": (self.counter.register, COUNTER),
            "2204": (self.counter.upload, COUNTER),
            "2205": (self.counter.cancel, COUNTER),
            "2206": (self.counter.presettle, COUNTER),
            "2207": (self.counter.settle, COUNTER),
            "2208": (self.counter.reverse, COUNTER),
            "3201": (self.counter.statement, ANYONE),
            "5203": (self.counter.settlement, ANYONE),
            "5206": (self.counter.cumulative, ANYONE),
            **{infno: (self.book_message, roles) for infno, (_, roles, _) in BOOKINGS.items()},
        }

    def book_together(self, call: Call, msg: Message) -> Outcome:
        """Book a settlement in the booker's next batch, letting other requests run while it waits.

        Called from a transaction, which holds one of the places to run (``_places``): given up
        while waiting, so the settlements of concurrent requests reach the same batch (their
        lines are reserved, their msgids not yet answered). The call's connection is given back
        meanwhile.
        """
        with self._aside(call):
            return self.booker.book(msg, call.submitter)

    @contextmanager
    def _aside(self, call: Call, *, writing: bool = False) -> Iterator[None]:
        """Wait on other requests inside the block, the call's place to run and connection given up.

        With ``writing``, its turn to write too.
        """
        call.release()
        if writing:
            self.writing.__exit__(None, None, None)
        self._places.release()
        try:
            yield
        finally:
            self._places.acquire()
            if writing:
                self.writing.__enter__()

    def _let_others_in(self, call: Call) -> None:
        """Between the pages of a month close's credits: the requests waiting run, then the close goes on.

        The close gives up its place and its turn to write (``book_together`` does the same
        while a settlement waits for its batch) and pauses for the waiting to take them.
        """
        with self._aside(call, writing=True):
            time.sleep(PAGE_PAUSE.total_seconds())

    def close(self) -> None:
        """Stop the booker, once the settlements handed to it are booked."""
        self.booker.stop()

    # ---------------------------------------------------------------- the call

    def call(self, signed: Signed, raw: dict[str, Any]) -> bytes:
        """Answer one signed request (its envelope decoded, amounts as Decimal); the bytes to send back."""
        received = stamp()
        try:
            envelope = validated(t.RequestEnvelope, raw)
        except InputError as e:
            return self.refuse(signed, e)
        infno = envelope.infno
        known = self.transactions.get(infno)
        if known is None:
            return self.refuse(signed, InputError(
                "infno", f"unknown transaction {infno} (known: {', '.join(sorted(self.transactions))})",
                code=RefusalCode.UNKNOWN_INFNO))
        run, roles = known
        respond = self._query if infno in QUERIES else self._once
        with self._places:
            return respond(signed, envelope, body_hash(raw), received, run, roles)

    def refuse(self, signed: Signed, error: LedgerError) -> bytes:
        """Refuse a signed request that names no transaction; its nonce is spent all the same."""
        received = stamp()
        with self._places, self.writing, self.books.begin() as conn:
            self.credentials.admit(signed, conn)
        return self.answer(received, None, error=error)

    def _once(self, signed: Signed, envelope: t.RequestEnvelope, digest: str, received: str,
              run: Callable[[Call], dict[str, Any]], roles: frozenset[str]) -> bytes:
        """The first answer to this ``msgid``, given now or earlier.

        One connection to the service tables serves the request: the nonce is recorded, then the
        ``msgid`` claimed, each statement committed as it runs (a nonce spent by a request that
        then finds its ``msgid`` claimed stays spent); the call's changes and its answer are
        committed together. Only the request that claims the ``msgid`` runs it; the others (a
        retry, or the same request sent twice at once) wait for its answer.
        """
        call = Call(signed.principal, envelope, self.books, self.writing)
        try:
            with call.transaction(one_statement_each=True) as conn:
                self.credentials.admit(signed, conn)
                claimed = self._claim(conn, call, digest, IN_FLIGHT)
            if claimed:
                try:
                    return self._keep_answer(call, received, run, roles)
                except BaseException:  # no answer to give: a retry runs it again
                    with call.transaction() as conn:
                        conn.execute(UNCLAIM, {"claimant": call.principal.paasid, "claimed": envelope.msgid})
                    raise
            return self._earlier(call, digest, received)
        finally:
            call.release()

    def _query(self, signed: Signed, envelope: t.RequestEnvelope, digest: str, received: str,
               run: Callable[[Call], dict[str, Any]], roles: frozenset[str]) -> bytes:
        """The first answer to this ``msgid`` of a transaction that changes nothing: run, then kept.

        Its nonce is recorded and its answer kept under the ``msgid`` after it runs, each
        statement committed as it runs (on PostgreSQL a round trip fewer than claiming first and
        answering after). Of the same ``msgid`` sent twice at once both may run; the answer kept
        first is the one both send.
        """
        call = Call(signed.principal, envelope, self.books, self.writing)
        try:
            response, _ = self._respond(call, received, run, roles)
            with call.transaction(one_statement_each=True) as conn:
                self.credentials.admit(signed, conn)
                kept = self._claim(conn, call, digest, response)
            return response if kept else self._earlier(call, digest, received)
        finally:
            call.release()

    @staticmethod
    def _claim(conn: Connection, call: Call, digest: str, response: bytes) -> bool:
        """Whether the call's ``msgid`` is now the call's, with ``response`` (``IN_FLIGHT`` until answered)."""
        return conn.execute(CLAIM, {
            "paasid": call.principal.paasid, "msgid": call.envelope.msgid, "infno": call.envelope.infno,
            "body_hash": digest, "response": response}).first() is not None

    def _earlier(self, call: Call, digest: str, received: str) -> bytes:
        """The answer given to the call's ``msgid`` before, once the request answering it is done.

        It waits without its place to run: the request it waits for may need one again (a
        settlement coming back from its batch).
        """
        with self._aside(call):
            return self._wait_for_answer(call, digest, received)

    def _wait_for_answer(self, call: Call, digest: str, received: str) -> bytes:
        paasid, msgid = call.principal.paasid, call.envelope.msgid
        deadline = time.monotonic() + CLAIM_WAIT.total_seconds()
        while True:
            if call.conn.in_transaction():
                call.conn.commit()  # each look sees what was committed since
            earlier = self._answered(call.conn, paasid, msgid)
            assert earlier is not None  # a claim is never taken back while a worker runs
            if earlier[0] != digest:
                return self.answer(received, None, error=InputError(
                    "msgid", f"{msgid} was already used with another body", code=RefusalCode.MSGID_REUSED))
            if earlier[1] != IN_FLIGHT:
                return earlier[1]
            if time.monotonic() > deadline:
                return self.answer(received, None, error=InputError(
                    "msgid", f"{msgid} is still being answered by the first request that sent it: send it again "
                    "later", code=RefusalCode.MSGID_IN_FLIGHT))
            time.sleep(CLAIM_POLL.total_seconds())

    def _respond(self, call: Call, received: str, run: Callable[[Call], dict[str, Any]],
                 roles: frozenset[str]) -> tuple[bytes, bool]:
        """The answer's bytes (what the transaction gives the caller, or why it refuses), and whether it ran."""
        principal, envelope = call.principal, call.envelope
        try:
            if principal.role not in roles:
                raise InputError("infno", f"a {principal.role} may not call {envelope.infno}",
                                 code=RefusalCode.FORBIDDEN_ROLE)
            if principal.role == "institution" and envelope.fixmedins_code not in ("", principal.paasid):
                raise InputError("fixmedins_code", f"{envelope.fixmedins_code} is not the caller "
                                 f"{principal.paasid}", code=RefusalCode.FOREIGN_INSTITUTION)
            output, error = run(call), None
        except LedgerError as e:
            output, error = None, e
        return self.answer(received, output, error=error), error is None

    def _keep_answer(self, call: Call, received: str, run: Callable[[Call], dict[str, Any]],
                     roles: frozenset[str]) -> bytes:
        """Run a claimed call; its changes to the service tables and its answer committed together."""
        response, ran = self._respond(call, received, run, roles)
        writes = call.writes if ran else []  # a refused call changes nothing
        with call.transaction(one_statement_each=not writes) as conn:
            for write in writes:
                write(conn)
            conn.execute(ANSWER, {"claimant": call.principal.paasid, "claimed": call.envelope.msgid,
                                  "response": response})
        return response

    @staticmethod
    def _answered(conn: Connection, paasid: str, msgid: str) -> tuple[str, bytes] | None:
        row = conn.execute(ANSWERED, {"paasid": paasid, "msgid": msgid}).first()
        return None if row is None else (row.body_hash, bytes(row.response))

    @staticmethod
    def answer(received: str, output: dict[str, Any] | None, *, error: LedgerError | None = None) -> bytes:
        """The response envelope's bytes: ``infcode`` 0 with the output, or -1 with the reason."""
        body = {
            "infcode": -1 if error else 0,
            "inf_refmsgid": uuid.uuid4().hex,
            "refmsg_time": received,
            "respond_time": stamp(),
            "err_msg": describe(error) if error else None,
            "output": None if error else plain(output),
        }
        return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()

    # ---------------------------------------------------------------- transactions

    def sign_in(self, call: Call) -> dict[str, Any]:
        """9001: a sign-in number for the operator's session (kept by the caller, checked by no one)."""
        validated(t.SignInInput, call.envelope.input)
        return {"signinoutb": {"sign_time": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S"),
                               "sign_no": uuid.uuid4().hex}}

    def book_message(self, call: Call) -> dict[str, Any]:
        """8101-8601: book one exchange message of the kinds the transaction takes."""
        name, _, types = BOOKINGS[call.envelope.infno]
        msg = as_message(validated(t.MessageInput, call.envelope.input).data)
        if msg.type not in types:
            raise InputError("input.data.type", f"{call.envelope.infno} ({name}) books {', '.join(types)}, "
                             f"not {msg.type}", code=RefusalCode.WRONG_MESSAGE_TYPE)
        if call.principal.role == "institution":
            call.check_owns(getattr(msg, "fixmedins_code", ""), f"{msg.type} {msg.key()}")
        with submitted_by(call.submitter), self.writing:
            if msg.type in PERIOD_TYPES:
                outcome = self.ledger.close_period(msg, between_pages=lambda: self._let_others_in(call))
            else:
                outcome = self.ledger.book_one(msg)
        if isinstance(outcome, LedgerError):
            raise outcome
        return {"type": msg.type, "key": msg.key(), "outcome": outcome}
