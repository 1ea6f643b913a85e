"""The service layer: book exchange messages, close periods, answer queries.

``OutpatientPooling`` is an ``eventsourcing`` application whose store is chosen by the
database URL (``ledger.adapters.store``). Messages are booked in batches, one transaction each: a
refused message is reported and books nothing, and never takes another down with it. If
another writer changed an aggregate the batch read, the batch is retried one message at a
time. Read models are kept by ``ledger.projections`` in the same database.
"""

from __future__ import annotations

import random
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.persistence import IntegrityError

from ledger.adapters.seam import Aggregates, stream_heads
from ledger.adapters.transcodings import LedgerTranscoder, make_transcoder
from ledger.domain.aggregate import LedgerAggregate, LedgerEvent, submitted_by
from ledger.domain.claims import Settlement
from ledger.domain.ids import (
    institution_id,
    member_id,
    policy_version_id,
    prescription_id,
    region_id,
    settlement_id,
    visit_id,
)
from ledger.domain.institutions import Institution
from ledger.domain.members import Member
from ledger.domain.policy_versions import PolicyVersion
from ledger.domain.prescriptions import Prescription
from ledger.domain.regions import Region
from ledger.errors import InputError, LedgerError, UnknownError
from ledger.exchange import messages as m
from ledger.money import ZERO
from ledger.policy.parameters import Policy, PolicyLibrary
from ledger.projections import accounts, caps, chain, clearing, journal, prepayments, roster, settlements, standing
from ledger.projections.alongside import Alongside
from ledger.projections.runner import EventSource, ProjectionRunner
from ledger.refusals import RefusalCode
from ledger.rules.adjudication import SETLINFO_FIELDS, Adjudication, adjudicate, result_record, setldetail
from ledger.rules.annual_cap import annual_cap_xinyang_art5_3
from ledger.rules.facts import Claim, Context
from ledger.rules.reader import Reader
from ledger.services import closing, handlers, settling
from ledger.services.ports import BOOKED, PERIOD_TYPES, PRESENT, CreditPage, Outcome
from ledger.services.unit_of_work import AggregateCache, Services, UnitOfWork

if TYPE_CHECKING:
    from collections.abc import Callable, Collection, Iterator, Mapping, Sequence

    from sqlalchemy import Connection, Engine

    from ledger.adapters.store import Store
    from ledger.domain.aggregate import LedgerAggregate

__all__ = ["BOOKED", "PERIOD_TYPES", "PRESENT", "Outcome", "OutpatientPooling"]

RETRIES = 20
"""Attempts of one message against writers that keep getting there first (each waits a little longer)."""
LOOKBACK = 256
"""Events read back from the log's end to find its present (the latest effective date)."""
CACHE_SIZE = 10_000
"""Aggregates of each kind kept in memory between batches (prescriptions a fifth of it).

A member of the synthetic city (about ten claims a year) holds 9.7 KB by December, since its
state is kept compactly (15.7 KB before; ``Member``), and the settlements and visits kept
beside them take their share: the 1M-event city's ingest peaked at 279 MiB with 10,000 (348
before the compact state); a whole year of 25,000 members at seven claims a year had peaked at
341 MiB with 10,000 and 513 MiB with 20,000 (which had been chosen from January alone). A
larger cache only helps a city that fits in it: at a million members it hits 1 % of members at
10,000 and 5 % at 50,000 (``LEDGER_CACHE_SIZE`` sets it; docs/benchmarks.md has the figures)."""
SNAPSHOT_INTERVALS: dict[type[LedgerAggregate], int] = {Member: 10, Region: 12}
"""Snapshot a member every 10 events and a region every 12; other aggregates are short and replayed.

A member has about 48 events a year in the synthetic city, so at 40 most members had no
snapshot and one read back past the cache replayed its whole year. At 10, booking was 13–27 %
faster where members outnumber the cache and within the noise where all fit; the snapshots
take about a tenth of the log's size (docs/benchmarks.md, sixth set)."""

HANDLERS: dict[str, Callable[[Services, Any], bool]] = {
    "institution.registered": handlers.register_institution,
    "member.enrolled": handlers.enrol_member,
    "member.retired": handlers.retire_member,
    "member.family_doctor_signed": handlers.sign_family_doctor,
    "member.suspended": handlers.suspend_member,
    "member.resumed": handlers.resume_member,
    "member.admitted": handlers.admit_member,
    "member.discharged": handlers.discharge_member,
    "member.contribution_base_changed": handlers.change_contribution_base,
    "member.transferred_out": handlers.transfer_out_member,
    "member.deceased": handlers.record_death,
    "account.used": handlers.use_account,
    "prescription.issued": handlers.issue_prescription,
    "budget.set": handlers.set_budget,
    "institution.reviewed": handlers.review_institution,
    "institution.assessed": closing.assess_institution,
    "visit.settled": settling.settle_visit,
    "purchase.settled": settling.settle_purchase,
    "settlement.reversed": settling.reverse_settlement,
    "member.remote_registered": handlers.register_remote,
    "member.remote_cancelled": handlers.cancel_remote,
    "reimbursement.claimed": settling.settle_reimbursement,
    "institution.month_received": handlers.record_month,
    "institution.month_paid": handlers.record_month,
}
"""One handler per message type booked in batches; period runs are handled on their own."""

MEMBER_FACTS = tuple(sorted(
    str(vars(kind)["TOPIC"]) for kind in vars(Member).values()
    if isinstance(kind, type) and issubclass(kind, LedgerEvent) and "TOPIC" in vars(kind)
    and kind not in (Member.AccountCredited, Member.CreditAdjusted)))
"""Every topic of a member's events but its credits (a month close's last look passes over its own)."""


def new_ids(msg: m.Message) -> list[UUID]:
    """The aggregate ids a message may create: a batch asks the store about them all at once."""
    if isinstance(msg, m.VisitSettled):
        return [settlement_id(msg.medins_setl_id), visit_id(msg.fixmedins_code, msg.mdtrt_id)]
    if isinstance(msg, m.PurchaseSettled):
        return [settlement_id(msg.medins_setl_id)]
    if isinstance(msg, m.ReimbursementClaimed):
        return [settlement_id(msg.claim_id), visit_id(msg.fixmedins_code, msg.mdtrt_id or msg.claim_id)]
    if isinstance(msg, m.PrescriptionIssued):
        return [prescription_id(msg.rx_no)]
    if isinstance(msg, m.MemberEnrolled):
        return [member_id(msg.psn_no)]
    if isinstance(msg, m.InstitutionRegistered):
        return [institution_id(msg.fixmedins_code)]
    return []


@dataclass(frozen=True)
class Explanation:
    """A settlement re-adjudicated from its recorded facts, beside what was recorded."""

    settlement: Settlement
    adjudication: Adjudication
    matches: bool


class OutpatientPooling(Application[UUID]):
    """The claims ledger of employee outpatient pooling (built by ``ledger.services.bootstrap``)."""

    name = "yibao"
    is_snapshotting_enabled = True

    def __init__(self, store: Store, *, library: PolicyLibrary, cache_size: int = CACHE_SIZE,
                 snapshot_intervals: Mapping[type[LedgerAggregate], int] | None = None,
                 env: dict[str, str] | None = None) -> None:
        self.store = store
        with self.store.schema_lock():
            super().__init__(env={**self.store.event_store_env(), **(env or {})})
        self.library = library
        self.aggregates = Aggregates(self, SNAPSHOT_INTERVALS if snapshot_intervals is None else snapshot_intervals)
        self.cache = AggregateCache({Member: cache_size, Institution: cache_size, Region: cache_size,
                                     PolicyVersion: cache_size, Prescription: cache_size // 5})
        self._engine: Engine | None = None
        self._read_models: ProjectionRunner | None = None

    def construct_transcoder(self) -> LedgerTranscoder:
        """The library's JSON format, written with orjson, with effective dates added."""
        return make_transcoder()

    @property
    def engine(self) -> Engine:
        """The SQLAlchemy engine of the read models (same database as the events)."""
        if self._engine is None:
            self._engine = self.store.engine()
        return self._engine

    @property
    def read_models(self) -> ProjectionRunner:
        """The projection runner over this application's log."""
        if self._read_models is None:
            self._read_models = ProjectionRunner(self.event_source(), self.engine, store=self.store)
            with self.store.schema_lock():
                self._read_models.setup()
        return self._read_models

    def event_source(self) -> EventSource:
        """This application's event log, as the read models read it."""
        return EventSource.of(self)

    def log_present(self) -> date | None:
        """The latest effective date among the log's last events: where the log's present is."""
        head = self.recorder.max_notification_id()
        if not head:
            return None
        events = (self.mapper.to_domain_event(n)
                  for n in self.recorder.select_notifications(start=max(1, head - LOOKBACK + 1), limit=LOOKBACK))
        return max((day for e in events if isinstance(day := getattr(e, "day", None), date)), default=None)

    def catch_up(self, *, progress: bool = False) -> int:
        """Bring the read models up to the log; returns how many events were read.

        Every writer calls this after it commits, so a query only reads. Writers in other
        processes may catch up at the same time: the store's lock lets one at a time through
        (``ProjectionRunner.catch_up`` takes it).
        """
        return self.read_models.catch_up(progress=progress)

    def close(self) -> None:
        """Release the event store and the read models' connections."""
        if self._engine is not None:
            self._engine.dispose()
        super().close()

    def services(self) -> Services:
        """A fresh unit of work with the policy library, for one batch."""
        return Services(UnitOfWork(self.aggregates, self.cache), self.library, self)

    # ---------------------------------------------------------------- booking

    def book(self, messages: Sequence[m.Message], *, catch_up: bool = True,
             submitters: Sequence[dict[str, str]] | None = None) -> list[Outcome]:
        """Book a batch of messages in one transaction; one outcome per message.

        The read models are caught up afterwards, unless ``catch_up`` is False (an ingest
        catches up once, at its end). ``submitters``, one per message, stamp each message's
        events with who submitted it (the online service books settlements arriving together
        as one batch).
        """
        outcomes = self._book(messages, submitters)
        if catch_up:
            self.catch_up()
        return outcomes

    def _book(self, messages: Sequence[m.Message], submitters: Sequence[dict[str, str]] | None) -> list[Outcome]:
        refused: dict[int, LedgerError] = {}
        candidates = {i for msg in messages for i in new_ids(msg)}
        members = {member_id(psn_no) for msg in messages if (psn_no := getattr(msg, "psn_no", None))}
        prescriptions = {prescription_id(msg.rx_no) for msg in messages if isinstance(msg, m.PurchaseSettled)}

        def stamped(i: int) -> AbstractContextManager[None]:
            return submitted_by(submitters[i]) if submitters else nullcontext()

        def one_at_a_time(s: Services) -> list[Outcome]:
            """Another writer got there first: each message on its own, retried against the store."""
            s.uow.abandon()
            self.cache.clear()
            return [refused[i] if i in refused else self._book_stamped(msg, stamped(i))
                    for i, msg in enumerate(messages)]

        while True:
            s = self.services()
            s.uow.prefetch(candidates)
            s.uow.load(Member, members)
            # A purchase's prescription, issued days before, has often left the cache (a fifth of the members').
            s.uow.load(Prescription, prescriptions)
            outcomes: list[Outcome] = []
            for i, msg in enumerate(messages):
                if i in refused:
                    outcomes.append(refused[i])
                    continue
                s.uow.begin_message()
                try:
                    with stamped(i):
                        outcomes.append(BOOKED if HANDLERS[msg.type](s, msg) else PRESENT)
                except IntegrityError:
                    return one_at_a_time(s)
                except LedgerError as e:
                    if s.uow.message_changed_anything():
                        # The handler changed something before refusing: start the batch over without it.
                        refused[i] = e
                        s.uow.abandon()
                        break
                    outcomes.append(e)
            else:
                try:
                    s.uow.commit()
                except IntegrityError:
                    return one_at_a_time(s)
                return outcomes

    def _book_stamped(self, msg: m.Message, stamp: AbstractContextManager[None]) -> Outcome:
        with stamp:
            return self._book_one(msg)

    def book_one(self, msg: m.Message) -> Outcome:
        """Book one message in its own transaction, retrying when another writer got there first."""
        outcome = self._book_one(msg)
        self.catch_up()
        return outcome

    def _book_one(self, msg: m.Message) -> Outcome:
        if msg.type in PERIOD_TYPES:
            return self.close_period(msg, catch_up=False)
        for attempt in range(RETRIES):
            s = self.services()
            try:
                booked = HANDLERS[msg.type](s, msg)
                s.uow.commit()
            except LedgerError as e:
                s.uow.abandon()
                return e
            except IntegrityError:
                s.uow.abandon()
                self.cache.clear()
                time.sleep(random.uniform(0, 0.002 * (attempt + 1)))
                continue
            return BOOKED if booked else PRESENT
        return InputError("-", f"gave up after {RETRIES} write conflicts", code=RefusalCode.WRITE_CONFLICT)

    def close_period(self, msg: m.Message, *, refuse_repeat: bool = False, catch_up: bool = True,
                     between_pages: Callable[[], None] | None = None) -> Outcome:
        """Run a month or year close (``refuse_repeat``: a repeat is an error, not "present").

        ``between_pages`` runs between a month close's pages of credits (``closing.close_month``).
        """
        outcome: Outcome = InputError("-", f"gave up after {RETRIES} write conflicts", code=RefusalCode.WRITE_CONFLICT)
        for attempt in range(RETRIES):
            try:
                if isinstance(msg, m.MonthClosed):
                    done = closing.close_month(self, msg, refuse_repeat=refuse_repeat, between_pages=between_pages)
                elif isinstance(msg, m.YearClosed):
                    done = closing.close_year(self, msg, refuse_repeat=refuse_repeat)
                else:
                    raise TypeError(f"{msg.type} is not a period close")
                outcome = BOOKED if done else PRESENT
            except LedgerError as e:
                outcome = PRESENT if not refuse_repeat and self._closed_meanwhile(msg) else e
            except IntegrityError:
                # Another writer closed it, or credited a member, first: run it again on what is stored.
                self.cache.clear()
                time.sleep(random.uniform(0, 0.002 * (attempt + 1)))
                continue
            break
        if catch_up:
            self.catch_up()
        return outcome

    def _closed_meanwhile(self, msg: m.Message) -> bool:
        """Whether another writer booked this very close while this one ran (it is then present, not refused)."""
        try:
            region: Region = self.repository.get(region_id(msg.admdvs))  # type: ignore[attr-defined]
        except AggregateNotFoundError:
            return False
        return bool(region.receipts.get(msg.key()) == msg.fingerprint())

    def presettle(self, messages: Sequence[m.Message]) -> list[dict[str, Any] | LedgerError]:
        """2206: adjudicate claims as settling would, in order, and book nothing."""
        s = self.services()
        out: list[dict[str, Any] | LedgerError] = []
        for msg in messages:
            if not isinstance(msg, m.VisitSettled | m.PurchaseSettled):
                out.append(InputError("type", f"presettle takes visit.settled and purchase.settled, not {msg.type}",
                                      code=RefusalCode.NOT_A_CLAIM))
                continue
            try:
                HANDLERS[msg.type](s, msg)
            except LedgerError as e:
                out.append(e)
                continue
            found = s.uow.get(Settlement, settling.settlement_key(msg.medins_setl_id))
            assert found is not None
            out.append(self.settlement_view(found))
        s.uow.abandon()
        return out

    # ---------------------------------------------------------------- queries

    def get_settlement(self, key: str) -> Settlement:
        """A settlement by our ``setl_id`` or the sender's ``medins_setl_id``."""
        found = self.services().uow.get(Settlement, settling.settlement_key(key))
        if found is None:
            raise UnknownError("key", "settlement", key)
        return found

    def policy_version(self, version: str) -> Policy:
        """A policy version as the log recorded it."""
        found = self.services().uow.get(PolicyVersion, policy_version_id(version))
        if found is None:
            raise UnknownError("policy_version", "policy version", version)
        return Policy.from_record(found.record)

    def explain(self, settlement: Settlement) -> Explanation:
        """Re-adjudicate a settlement from its recorded claim, context and policy version."""
        adj = adjudicate(Claim.from_record(settlement.claim), Context.from_record(settlement.context),
                         self._policy_of(settlement), explain=True)
        return Explanation(settlement, adj, result_record(adj) == settlement.result)

    def _policy_of(self, settlement: Settlement) -> Policy:
        """The settlement's policy version; a pre-settlement's may not be in the log yet, the library has it."""
        try:
            return self.policy_version(settlement.policy_version)
        except UnknownError:
            policy = self.library.policy_for(settlement.admdvs, settlement.service_date)
            if policy.version != settlement.policy_version:
                raise
            return policy

    def settlement_summary(self, settlement: Settlement) -> dict[str, Any]:
        """The settlement as recorded: who, where, when, status, setlinfo and setldetail (no re-adjudication)."""
        result = settlement.result
        return {
            "setl_id": settlement.setl_id,
            "medins_setl_id": settlement.medins_setl_id,
            "psn_no": settlement.psn_no,
            "fixmedins_code": settlement.fixmedins_code,
            "admdvs": settlement.admdvs,
            "mdtrt_id": settlement.mdtrt_id,
            "rx_no": settlement.rx_no,
            "kind": settlement.kind,
            "date": settlement.service_date,
            "setl_date": settlement.setl_date,
            "status": "reversed" if settlement.reversed_on else "settled",
            "reversed_on": settlement.reversed_on,
            "adjustments": settlement.adjustments,
            **{name: result[name] for name in SETLINFO_FIELDS},
            "refusal": None if result["refusal_code"] is None else {
                "code": result["refusal_code"], "article": result["refusal_article"]},
            "annual_cap": result["annual_cap"],
            "setldetail": setldetail(result),
        }

    def settlement_view(self, settlement: Settlement) -> dict[str, Any]:
        """The settlement as ``ledger settlement --json`` prints it (setlinfo at the top level)."""
        explanation = self.explain(settlement)
        adj = explanation.adjudication
        return {
            **self.settlement_summary(settlement),
            "setl_proc_info": adj.setl_proc_info(),
            "policy_version": settlement.policy_version,
            "trace": [step.as_record() for step in adj.trace],
            "lines": [dict(line) for line in adj.lines],
            "replay_matches": explanation.matches,
            "submitted_by": self.submissions(settlement),
        }

    def submissions(self, settlement: Settlement) -> list[dict[str, str]]:
        """Who submitted the messages that booked or reversed the settlement (the online service records it)."""
        found = []
        for event in self.events.get(settlement.id):
            submitter = getattr(event, "submitted_by", None)
            if submitter:
                found.append({"event": type(event).__name__, **submitter})
        return found

    def _read(self) -> Connection:
        """A connection to the read models, as the writers left them (a query never projects)."""
        self.read_models  # noqa: B018 - makes the tables on a ledger nothing has written to yet
        return self.read_models.reader.connect()

    def members_of(self, admdvs: str, on: str) -> list[str]:
        """Members of a region on a date (from the roster)."""
        with self.engine.connect() as conn:
            return roster.members_of(conn, admdvs, on)

    def members_page(self, admdvs: str, on: str, after: str, limit: int) -> list[str]:
        """The ids of the next ``limit`` members of a region on a date, in id order past member id ``after``."""
        with self._read() as conn:
            return roster.members_page(conn, admdvs, on, after, limit)

    def pages_to_credit(self, admdvs: str, on: str, after: str, month: str, size: int) -> Iterator[CreditPage]:
        """A region's members on ``on`` past member id ``after``, ``size`` at a time in id order, with their standings.

        Each page comes with :meth:`standings_to_credit` for those of its members this process
        has not cached (a cached member is credited from its aggregate). On PostgreSQL the
        next page is read while the caller credits this one: the reads wait on the server, a
        fifth of a million-member close there. A page's members are none of the pages' before
        it, so reading it early reads what reading it then would; another writer's event
        meanwhile fails the page's commit, as it does after any look.
        """
        def read(after: str) -> CreditPage:
            ids = [UUID(member) for member in self.members_page(admdvs, on, after, size)]
            uncached = [i for i in ids if i not in self.cache]
            return ids, (self.standings_to_credit(uncached, month) if uncached else {})

        if self.store.kind != "postgresql":
            while (page := read(after))[0]:
                yield page
                after = str(page[0][-1])
            return
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="close-reader") as reader:
            ahead = reader.submit(read, after)
            while (page := ahead.result())[0]:
                ahead = reader.submit(read, str(page[0][-1]))
                yield page

    def members_written_since(self, position: int) -> list[UUID]:
        """The members whose streams took an event other than a credit past ``position``, in the order they did."""
        seen: dict[UUID, None] = {}
        for notifications in self.event_source().batches(position + 1, None, MEMBER_FACTS, 5000):
            seen.update((UUID(str(n.originator_id)), None) for n in notifications)
        return list(seen)

    def standings_to_credit(self, ids: Collection[UUID], month: str) -> dict[UUID, tuple[dict[str, Any], int]]:
        """Those of ``ids`` a credit for ``month`` can be booked for from their standing: (standing, version).

        A member qualifies when the read models have read its stream through its latest event,
        so the standing is the member's as it stands, and show no credit for the month. The
        version is the stream's head: a write by another process after this look takes that
        version first, and the close's commit fails as on any write conflict.
        """
        read = self.read_models.positions()
        through = min(read["standing"], read["accounts"])
        texts = {i: str(i) for i in ids}
        with self._read() as conn:
            held = standing.standings(conn, texts.values())
            credited = accounts.credited_among(conn, texts.values(), month)
        heads = stream_heads(self.recorder, ids) or {}
        return {i: (held[texts[i]], version) for i, (version, position) in heads.items()
                if position <= through and texts[i] in held and texts[i] not in credited}

    def last_credited(self, admdvs: str, month: str, since: int) -> str | None:
        """The member of a region credited last for ``month`` (past position ``since``), if any."""
        with self.engine.connect() as conn:
            return accounts.last_credited(conn, admdvs, month, since)

    def pending_actuals(self, admdvs: str, through_day: str, through_position: int, counted_from: str | None = None,
                        after: tuple[str, int] | None = None) -> list[dict[str, Any]]:
        """Institutions' movements not yet prepaid (for closing a month)."""
        with self.engine.connect() as conn:
            return settlements.pending_actuals(conn, admdvs, through_day, through_position, counted_from, after)

    def pending_prepayment(self, admdvs: str, month: str) -> dict[str, str] | None:
        """Why a closed month's prepayment still waits (code, reason, article), or None."""
        uow = self.services().uow
        region = uow.get(Region, region_id(admdvs))
        uow.commit()  # nothing to save: hands the region back to the cache
        return region.months.get(month, {}).get("pending") if region is not None else None

    @contextmanager
    def projecting_alongside(self) -> Iterator[None]:
        """A second process catches the read models up with the log while the block runs (``projections.alongside``)."""
        helper = Alongside(self.store, self.name)
        try:
            yield
        finally:
            helper.stop()

    def credits_of_month(self, admdvs: str, month: str) -> dict[str, Any]:
        """How many of the region's accounts the log shows credited for ``month``, and the total.

        Through the autocommitting reader: on PostgreSQL the statistics the count refreshes
        (``accounts.credits_of_month``) are kept for the queries after it, not rolled back with it.
        """
        with self._read() as conn:
            return accounts.credits_of_month(conn, admdvs, month)

    def known_position(self, known_at: str | None) -> int | None:
        """A log position from ``--known-at`` (a position, or an ISO timestamp)."""
        with self._read() as conn:
            return self._position(conn, known_at)

    @staticmethod
    def _position(conn: Connection, known_at: str | None) -> int | None:
        if known_at is None:
            return None
        if known_at.isdigit():
            return int(known_at)
        try:
            moment = datetime.fromisoformat(known_at)
        except ValueError:
            raise InputError("known_at", f"{known_at!r} is neither a log position nor an ISO timestamp",
                             code=RefusalCode.BAD_KNOWN_AT) from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        # Recorded times are stored as UTC ISO text, which sorts as time does.
        return chain.position_at(conn, moment.astimezone(UTC).isoformat(timespec="microseconds"))

    def _member_row(self, conn: Connection, psn_no: str) -> dict[str, Any]:
        row = roster.member_row(conn, str(member_id(psn_no)))
        if row is None:
            raise UnknownError("psn_no", "member", psn_no)
        return row

    def balance(self, psn_no: str, as_of: date | None = None, known_at: str | None = None) -> dict[str, Any]:
        """The personal-account balance, now, as of a date, or as known at a position."""
        with self._read() as conn:
            position = self._position(conn, known_at)
            found = accounts.balance(conn, str(member_id(psn_no)), as_of.isoformat() if as_of else None, position)
        if found is None:
            raise UnknownError("psn_no", "member", psn_no)
        return {"psn_no": psn_no, "balc": found["balc"], "as_of": as_of, "known_at": position}

    def history(self, psn_no: str) -> list[dict[str, Any]]:
        """The account's movements with the running balance."""
        with self._read() as conn:
            self._member_row(conn, psn_no)
            return accounts.history(conn, str(member_id(psn_no)))

    def cap(self, psn_no: str, year: int, as_of: date | None = None, known_at: str | None = None) -> dict[str, Any]:
        """5206: the annual cap, what the pooling fund paid against it, and what remains."""
        on = as_of or date(year, 12, 31)
        with self._read() as conn:
            position = self._position(conn, known_at)
            row = caps.usage(conn, str(member_id(psn_no)), year, on.isoformat(), as_of.isoformat() if as_of else None,
                             position)
        if row is None:
            raise UnknownError("psn_no", "member", psn_no)
        psn_type = row["type_on"] or row["psn_type"]
        self.services().policy(row["admdvs"], date(year, 12, 31), "year")  # refuses a year no policy covers
        policy = self.library.policy_for(row["admdvs"], max(on, date.fromisoformat(row["enrolled_on"])))
        cap = annual_cap_xinyang_art5_3(psn_type, Reader(policy))
        return {"psn_no": psn_no, "year": year, "psn_type": psn_type, "cap": cap, "used": row["used"],
                "remaining": max(cap - row["used"], ZERO), "deductible_paid": row["deductible_paid"],
                "visits": row["visits"], "as_of": as_of, "known_at": position}

    def prepayments(self, fixmedins_code: str, year: int, known_at: str | None = None) -> dict[str, Any]:
        """The institution's monthly prepayment ledger for a year."""
        self.services().institution(fixmedins_code)
        with self._read() as conn:
            position = self._position(conn, known_at)
            rows = prepayments.ledger_rows(conn, fixmedins_code, year, position)
        return {"fixmedins_code": fixmedins_code, "year": year, "known_at": position, "rows": rows}

    def clearing(self, admdvs: str, year: int) -> dict[str, Any]:
        """The region's year-end clearing."""
        if admdvs not in self.library.regions:
            raise UnknownError("admdvs", "region", admdvs)
        with self._read() as conn:
            found = clearing.region_clearing(conn, admdvs, year)
        if found is None:
            raise InputError("year", f"{year} is not cleared for region {admdvs}", code=RefusalCode.NOT_CLEARED)
        return found

    def reconcile(self, fixmedins_code: str, month: str) -> dict[str, Any]:
        """3201: an institution's totals for a month."""
        self.services().institution(fixmedins_code)
        with self._read() as conn:
            return settlements.reconcile(conn, fixmedins_code, month)

    def region_totals(self, admdvs: str, year: int) -> dict[str, Any]:
        """What a region's settlements of a year cost and who paid it, net of reversals and adjustments."""
        with self._read() as conn:
            return settlements.region_totals(conn, admdvs, year)

    def trial_balance(self) -> dict[str, Any]:
        """The journal's trial balance."""
        with self._read() as conn:
            return journal.trial_balance(conn)
