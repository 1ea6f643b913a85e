"""The audit's second look at the period runs: every credit, prepayment, clearing and deposit from the log alone.

A month close credits the accounts and prepays the institutions from what the read models
said at the time; a year close clears from the months recorded. The audit does not trust
either: it reads the log in order, keeps the members, regions and institutions as their
events left them, and the institutions' movements as the settlements left them, and at
each period event works out again, with the rule functions and the policy version the
event names, what it should have recorded:

- each ``Member.AccountCredited``: the credit the member was due (信政办〔2022〕23号 第八条),
  from the member's facts before it; each ``Member.CreditAdjusted`` likewise: the month's credit
  brought to what was due, or, credited as the other benefit type, taken back first;
- each ``Region.MonthClosed``: that every member of the region due a credit for the month
  got one, that the close's credit summary adds up the credits, and that each institution's
  prepayment follows from its movements not yet prepaid through the close's position
  (汴医保〔2023〕29号 三（二）, 焦医保〔2024〕32号 四（二）);
- each ``Region.YearClosed``: what each institution was prepaid and withheld, its final
  amount (under the global budget, 汴医保〔2023〕29号 三（三）, or within the growth cap on the
  cost per visit, 焦医保〔2024〕32号 四（一）), what is due, and the deposit returned;
- each ``Region.DepositReturned``: the scale's rate for the score, applied to what was withheld.

So a close that lost its credits in a crash, or prepaid from a stale read model, is named
with its position.

The members are not held while the log is read: a city's million would not fit in memory.
Their credit facts are put aside in a scratch table, and once the log is read each member is
taken in turn, its facts in order with its region's closes between them, so the credits are
checked member by member with the same state the reading in order would have given.
Problems are listed in the order of their positions.
"""

from __future__ import annotations

import copy
from array import array
from collections import defaultdict
from collections.abc import Callable
from contextlib import closing
from decimal import Decimal
from itertools import chain
from operator import itemgetter
from typing import TYPE_CHECKING, Any
from uuid import UUID

from eventsourcing.persistence import Mapper, StoredEvent
from sqlalchemy import Column, Integer, LargeBinary, PrimaryKeyConstraint, String, Table, select

from ledger.adapters.cursors import chunks
from ledger.adapters.transcodings import make_transcoder
from ledger.domain.aggregate import topics_of
from ledger.domain.ids import institution_id
from ledger.domain.institutions import Institution
from ledger.domain.members import Member
from ledger.domain.policy_versions import PolicyVersion
from ledger.domain.regions import Region
from ledger.errors import LedgerError
from ledger.money import ZERO, from_fen, round_fen, to_fen
from ledger.periods import month_end
from ledger.policy.parameters import Policy
from ledger.projections.base import View, insert_many, metadata, text
from ledger.rules.clearing import (
    clear_jiaozuo_4_1,
    clear_kaifeng_3_3,
    deposit_return_rate,
)
from ledger.rules.facts import REIMBURSED
from ledger.rules.payments import KAIFENG, Actual, prepay_jiaozuo_4_2, prepay_kaifeng_3_2
from ledger.rules.reader import Reader
from ledger.services.closing import jiaozuo_baseline

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from ledger.projections.base import Record

MEMBER = "yibao:Member."
CREDITED = f"{MEMBER}AccountCredited"
ADJUSTED = f"{MEMBER}CreditAdjusted"
MONTH_CLOSED = "yibao:Region.MonthClosed"
POLICY_RECORDED = PolicyVersion.Recorded.TOPIC
HELD = frozenset((*topics_of(Region), *topics_of(Institution)))
"""The events of the aggregates kept as their events leave them while the log is read (a few regions, institutions)."""
CREDIT_FACTS = frozenset(f"{MEMBER}{name}" for name in (
    "Enrolled", "Retired", "Suspended", "Resumed", "ContributionBaseChanged", "TransferredOut", "Deceased",
    "AccountCredited", "CreditAdjusted"))
"""The member's events a credit depends on (:meth:`Member.credit_due` and the months credited): the
audit puts these aside, and a member's visits, bills and account payments, most of its history,
are not read at all."""

member_facts = Table(
    "audit_member_facts", metadata,
    Column("originator_id", String(36), nullable=False),
    Column("position", Integer, nullable=False),
    Column("originator_version", Integer, nullable=False),
    Column("topic", String, nullable=False),
    Column("state", LargeBinary, nullable=False),
    PrimaryKeyConstraint("originator_id", "position"),
)
"""The members' credit facts, put aside in the audit's scratch database, read back member by member."""
MOVEMENTS = {"yibao:Settlement.Settled": 1, "yibao:Settlement.Reversed": -1, "yibao:Settlement.Adjusted": 0}
FACTS_AT_ONCE = 2000
"""Members' credit facts read back from the scratch database at a time."""
NAMED = 5
"""Members a close's problem names when several were due a credit and not given it."""
MAX_PROBLEMS = 50
"""Problems an audit check lists before it stops listing (it still fails on the rest)."""
Check = Callable[["PeriodRunsView", int, Any, Any], None]


class Unprepaid:
    """A region's movements not yet prepaid, in fen, one array of machine integers per column.

    A whole month of a large city's movements waits here for its close, about 180,000 at ten
    million events: 62 bytes each here, where a tuple of Python integers took 253
    (docs/benchmarks.md, twentieth set). A movement's day and institution code are indexes
    into the view's tables of the days and codes seen.
    """

    COLUMNS = ("position", "day", "code", "counted", "visits", "medfee", "fund", "acct")

    def __init__(self) -> None:
        self.columns = tuple(array("q") for _ in self.COLUMNS)

    def add(self, *values: int) -> None:
        """One movement: its position, its day's and code's indexes, then the counts and amounts of :attr:`COLUMNS`."""
        for column, value in zip(self.columns, values, strict=True):
            column.append(value)

    def take(self, days: list[str], codes: list[str], through_day: str, through_position: int) -> list[Actual]:
        """Each institution's movements dated through ``through_day`` and booked through ``through_position``.

        They are prepaid now and leave; the others wait for a later close.
        """
        sums: dict[str, list[int]] = {}
        left = Unprepaid()
        for row in zip(*self.columns, strict=True):
            if days[row[1]] <= through_day and row[0] <= through_position:
                total = sums.setdefault(codes[row[2]], [0, 0, 0, 0, 0])
                for k, value in enumerate(row[3:]):
                    total[k] += value
            else:
                left.add(*row)
        self.columns = left.columns
        return [Actual(code, counted, visits, from_fen(medfee), from_fen(fund), from_fen(acct))
                for code, (counted, visits, medfee, fund, acct) in sorted(sums.items())]


class PeriodRunsView(View):
    """Re-derives the period runs while the audit reads the log, and the members' credits once it is read.

    Its one table, in the audit's scratch database, holds the members' credit facts meanwhile.
    """

    name = "audit_period_runs"
    topics = (POLICY_RECORDED, *MOVEMENTS, *sorted(CREDIT_FACTS), *sorted(HELD))
    """What it reads: the members' visits, bills and prescriptions, most of the log, are passed over in the query."""
    tables = (member_facts,)

    def __init__(self) -> None:
        self.mapper: Mapper[UUID] = Mapper(transcoder=make_transcoder())
        self.aggregates: dict[Any, Any] = {}
        """The regions and institutions by id, as their events left them."""
        self.policies: dict[str, Policy] = {}
        self.pending: dict[str, Unprepaid] = defaultdict(Unprepaid)
        """Per region, the institutions' movements not yet prepaid."""
        self.days: dict[str, int] = {}
        """Each day a movement had, numbered in the order first seen (:class:`Unprepaid` holds the numbers)."""
        self.codes: dict[str, int] = {}
        """Each institution code a movement had, numbered likewise."""
        self.credits: dict[tuple[str, str], tuple[int, Decimal]] = {}
        """Per region and month, how many credits were booked before its close and their total."""
        self.closes: dict[str, list[tuple[int, str, str]]] = defaultdict(list)
        """Per region, its month closes in log order: (position, month, policy version)."""
        self.recorded: dict[tuple[str, str], dict[str, Any]] = {}
        """Per region and month, the credit summary its close recorded."""
        self.missing: dict[tuple[str, str], tuple[int, list[str]]] = {}
        """Per region and month, how many members due a credit the close did not give, and the first few."""
        self.facts: list[dict[str, Any]] = []
        """The batch's member credit facts, written at its end."""
        self.year_policies: dict[tuple[str, int], str] = {}
        """The policy version each region's year was cleared under (a later deposit return uses it)."""
        self.waiting: dict[str, list[tuple[Check, int, Any, Any]]] = defaultdict(list)
        """Checks waiting for their policy version, which a transaction may record after the events using it."""
        self.checked = 0
        self.found: list[tuple[int, str]] = []
        """(position, problem): the earliest found, whatever order they are found in."""
        self.problems: list[str] = []
        """What :meth:`finish` reports: the problems found, in log order, each naming its position."""

    def process(self, conn: Connection, record: Record) -> None:  # noqa: D102
        if record.topic == POLICY_RECORDED:
            p = record.typed()
            try:
                self.policies[p["content_hash"]] = Policy.from_record(p["record"])
            except LedgerError:  # the re-adjudication names it; the runs that use it wait in vain, and are named
                return
            for waiting in self.waiting.pop(p["content_hash"], []):
                self._check(*waiting)
        elif record.topic in MOVEMENTS:
            self._move(record)
        elif record.topic in CREDIT_FACTS:
            self.facts.append({"originator_id": record.originator_id, "position": record.position,
                               "originator_version": record.originator_version, "topic": record.topic,
                               "state": record.state})
        elif record.topic in HELD:
            event: Any = self.mapper.to_domain_event(StoredEvent(record.originator_id, record.originator_version,
                                                            record.topic, record.state))
            before: Any = self.aggregates.get(event.originator_id)
            check = CHECKS.get(record.topic)
            if record.topic == MONTH_CLOSED:
                self.closes[event.admdvs].append((record.position, event.month, event.policy_version))
            if check is not None:
                self.checked += 1
                version = self._version(before, event)
                if version in self.policies:
                    self._check(check, record.position, before, event)
                else:  # recorded later in the same transaction: check it then, on the state as it is now
                    self.waiting[version].append((check, record.position, copy.deepcopy(before), event))
            try:
                self.aggregates[event.originator_id] = event.mutate(before)
            except Exception as e:  # a stream with a gap, or a stranger's event: say so, and go on
                self._problem(record.position, f"{record.topic}: cannot apply: {type(e).__name__}: {e}")

    def begin(self, conn: Connection) -> None:  # noqa: D102
        self.facts = []

    def flush(self, conn: Connection) -> None:  # noqa: D102
        insert_many(conn, member_facts, self.facts)
        self.facts = []

    def _version(self, before: Any, event: Any) -> str:
        if isinstance(event, Region.DepositReturned):
            return self.year_policies.get((before.admdvs, event.year), "")
        return str(event.policy_version)

    def _check(self, check: Check, position: int, before: Any, event: Any) -> None:
        try:
            check(self, position, before, event)
        except (LedgerError, KeyError, TypeError, ValueError) as e:
            self._problem(position, f"{event.TOPIC}: cannot re-derive: {e}")

    def finish(self, conn: Connection) -> None:
        """After the last event: the members' credits, the closes' credits, and the runs whose policy never came."""
        for version, waiting in self.waiting.items():
            for _, position, _, event in waiting:
                self._problem(position, f"{event.TOPIC}: policy version {version!r} is not in the log")
        self.waiting.clear()
        self._members(conn)
        for admdvs, closes in self.closes.items():
            for position, month, _ in closes:
                if (admdvs, month) in self.recorded:
                    self._credits_of_close(position, admdvs, month, self.recorded[(admdvs, month)])
        self.problems = [f"position {position}: {text}" for position, text in sorted(self.found, key=itemgetter(0))]

    def _problem(self, position: int, text: str) -> None:
        """Keep the earliest problems in the log, whatever order they are found in (members come last)."""
        if len(self.found) < MAX_PROBLEMS:
            self.found.append((position, text))
            return
        latest = max(self.found, key=itemgetter(0))
        if position < latest[0]:
            self.found[self.found.index(latest)] = (position, text)

    # ------------------------------------------------------------------ the members, one at a time

    def _members(self, conn: Connection) -> None:
        """Each member's credit facts in log order, its region's closes between them (第八条)."""
        f = member_facts.c
        query = select(f.originator_id, f.position, f.originator_version, f.topic, f.state).order_by(f.originator_id,
                                                                                                     f.position)
        member: Any = None
        stream, i = "", 0
        closes: list[tuple[int, str, str]] = []
        with closing(chunks(conn, query, "audit_member_facts", FACTS_AT_ONCE)) as rows:
            for originator_id, position, version, topic, state in chain.from_iterable(rows):
                if originator_id != stream:
                    self._closes_until(member, closes, i, None)
                    stream, member = originator_id, None
                event: Any = self.mapper.to_domain_event(StoredEvent(UUID(originator_id), version, topic, state))
                if member is not None:
                    i = self._closes_until(member, closes, i, position)
                    if topic == CREDITED:
                        self._credit(position, member, event, closes)
                    elif topic == ADJUSTED:
                        self._member_check(PeriodRunsView.credit_adjusted, position, member, event)
                try:
                    if member is None:
                        member = event.mutate(None)
                        closes = self.closes.get(member.admdvs, [])
                        i = sum(1 for close in closes if close[0] < position)
                    else:
                        event.apply(member)
                except Exception as e:  # a stranger's event, or a stream that does not begin with its enrolment
                    self._problem(position, f"{topic}: cannot apply: {type(e).__name__}: {e}")
        self._closes_until(member, closes, i, None)

    def _closes_until(self, member: Member | None, closes: list[tuple[int, str, str]], i: int,
                      position: int | None) -> int:
        """Each close of the member's region before ``position`` (all for None): is the member due a credit it lacks?"""
        while member is not None and i < len(closes) and (position is None or closes[i][0] < position):
            _, month, version = closes[i]
            if version in self.policies and month not in member.credited and \
                    member.credit_due(month, self._reader(version)).amount:
                count, first = self.missing.get((member.admdvs, month), (0, []))
                self.missing[(member.admdvs, month)] = (count + 1, sorted([*first, member.psn_no])[:NAMED])
            i += 1
        return i

    def _credit(self, position: int, member: Member, event: Any, closes: list[tuple[int, str, str]]) -> None:
        """A month's credit: checked against what was due, and counted for its month's close if it came before."""
        key = (member.admdvs, event.month)
        if any(close[0] > position for close in closes if close[1] == event.month):
            count, total = self.credits.get(key, (0, ZERO))
            self.credits[key] = (count + 1, total + event.amount)
        self._member_check(PeriodRunsView.credited, position, member, event)

    def _member_check(self, check: Check, position: int, member: Member, event: Any) -> None:
        """One of a member's credit events, against the member's facts before it and the policy version it names."""
        self.checked += 1
        if event.policy_version not in self.policies:
            self._problem(position, f"{event.TOPIC}: policy version {event.policy_version!r} "
                          "is not in the log")
            return
        self._check(check, position, member, event)

    def _credits_of_close(self, position: int, admdvs: str, month: str, recorded: dict[str, Any]) -> None:
        """A close's credits: every member due one got one, and its summary adds up the credits before it."""
        where = f"{admdvs} {month}"
        missing, first = self.missing.get((admdvs, month), (0, []))
        if missing:
            self._problem(position, f"{where}: {missing} members due a credit were not credited "
                          f"({', '.join(first)}{' …' if missing > NAMED else ''})")
        members, amount = self.credits.get((admdvs, month), (0, ZERO))
        if (recorded.get("members"), recorded.get("amount")) != (members, amount):
            self._problem(position, f"{where}: the close records {recorded.get('members')} members credited "
                          f"{recorded.get('amount')}, the log holds {members} credited {amount}")

    def _reader(self, version: str) -> Reader:
        return Reader(self.policies[version])

    def _move(self, record: Record) -> None:
        """An institution's movement, read from the plain payload (decoding the whole claim costs more)."""
        p = record.payload
        if p["kind"] == REIMBURSED:
            return  # paid to the member, not the institution (as the settlements view counts it)
        sign = MOVEMENTS[record.topic]
        amounts = p["delta"] if sign == 0 else p["result"]
        visits = sign if p.get("opens_visit" if sign > 0 else "closes_visit") else 0
        day = self.days.setdefault(str(record.day), len(self.days))
        code = self.codes.setdefault(p["fixmedins_code"], len(self.codes))
        self.pending[p["admdvs"]].add(record.position, day, code, sign, visits, *(
            to_fen(Decimal(text(amounts[name]))) * (-1 if sign < 0 else 1)
            for name in ("medfee_sumamt", "fund_pay_sumamt", "acct_pay")))

    # ------------------------------------------------------------------ the checks, one per period event

    def credited(self, position: int, member: Member, event: Any) -> None:
        """A month's credit: what the member was due before it (第八条)."""
        due = member.credit_due(event.month, self._reader(event.policy_version))
        if (due.amount, due.psn_type, due.contribution_base) != (event.amount, event.psn_type,
                                                                 event.contribution_base):
            self._problem(position, f"{member.psn_no} credited {event.amount} for {event.month} "
                          f"({event.psn_type}, base {event.contribution_base}); due {due.amount} "
                          f"({due.psn_type}, base {due.contribution_base})")

    def credit_adjusted(self, position: int, member: Member, event: Any) -> None:
        """A month's credit corrected after a backdated fact (第八条): brought to what is due now.

        Credited as the other benefit type, the month is first taken back to nothing from that
        type, then credited as the right one. What a take-back could not recover (the balance was
        spent) still counts as taken back.
        """
        due = member.credit_due(event.month, self._reader(event.policy_version))
        before = member.credited_in(event.month)
        change = event.amount - event.unrecovered
        if event.psn_type != due.psn_type:
            expected = (-before, member.credit_types.get(event.month), due.contribution_base)
        else:
            expected = (due.amount - before, due.psn_type, due.contribution_base)
        if (change, event.psn_type, event.contribution_base) != expected:
            self._problem(position, f"{member.psn_no} credit for {event.month} adjusted by {change} "
                          f"({event.psn_type}, base {event.contribution_base}) from {before}; due {due.amount} "
                          f"({due.psn_type}, base {due.contribution_base})")

    def month_closed(self, position: int, region: Region, event: Any) -> None:
        """A month close: each prepayment from the movements (its credits are checked once the members are read)."""
        reader = self._reader(event.policy_version)
        where = f"{event.admdvs} {event.month}"
        self.recorded[(event.admdvs, event.month)] = event.credits
        actuals = self.pending[event.admdvs].take(list(self.days), list(self.codes),
                                                  month_end(event.month).isoformat(), event.through_position)
        if event.scheme == KAIFENG:
            prepaid = prepay_kaifeng_3_2(actuals, region.budgets.get(event.month[:4], ZERO), reader)
        else:
            prepaid = prepay_jiaozuo_4_2(actuals, reader)
        expected = [p.as_record() for p in prepaid]
        if expected != event.payments:
            self._problem(position, f"{where}: prepayments recorded {_codes(event.payments)}, "
                                    f"re-derived {_codes(expected)}")

    def year_closed(self, position: int, region: Region, event: Any) -> None:
        """A year's clearing: prepaid and withheld from the months, the final amounts, what is due, the deposits."""
        reader = self._reader(event.policy_version)
        self.year_policies[(event.admdvs, event.year)] = event.policy_version
        where = f"{event.admdvs} {event.year}"
        totals: dict[str, dict[str, Any]] = defaultdict(
            lambda: {"visits": 0, "medfee": ZERO, "actual": ZERO, "granted": ZERO, "withheld": ZERO})
        for month in region.months_of(event.year):
            for row in region.months[month]["payments"]:
                t = totals[row["fixmedins_code"]]
                t["visits"] += row["visits"]
                t["medfee"] += row["medfee"]
                t["actual"] += row["actual"]
                t["granted"] += row["paid"] + row["withheld"]
                t["withheld"] += row["withheld"]
        if event.scheme == KAIFENG:
            finals = clear_kaifeng_3_3({c: t["actual"] for c, t in totals.items()},
                                       region.budgets[str(event.year)], reader).finals
        else:
            finals = {c: self._final_jiaozuo(c, t, event.year, reader) for c, t in totals.items()}
        for row in event.rows:
            code = row["fixmedins_code"]
            if code not in totals:
                self._problem(position, f"{where}: {code} cleared but never prepaid")
                continue
            t = totals[code]
            final = finals[code]
            expected = {"actual": t["actual"], "prepaid": t["granted"], "deposit_withheld": t["withheld"],
                        "final_amount": final, "due": final - t["granted"],
                        "deposit_returned": None if row["score"] is None else
                        round_fen(t["withheld"] * deposit_return_rate(row["score"], reader)[0])}
            wrong = {k: (row[k], v) for k, v in expected.items() if row[k] != v}
            if wrong:
                self._problem(position, f"{where}: {code}: " + "; ".join(f"{k} recorded {a}, re-derived {b}"
                                                              for k, (a, b) in wrong.items()))
        if set(totals) != {row["fixmedins_code"] for row in event.rows}:
            self._problem(position, f"{where}: cleared {sorted(r['fixmedins_code'] for r in event.rows)}, "
                          f"prepaid {sorted(totals)}")

    def _final_jiaozuo(self, code: str, t: dict[str, Any], year: int, p: Reader) -> Decimal:
        """焦医保〔2024〕32号 四（一）、六（一）: the fund's share within the growth cap on the cost per visit.

        A pharmacy and an exempt category are paid their actual; the baseline is chosen as the
        clearing chooses it (:func:`ledger.services.closing.jiaozuo_baseline`).
        """
        institution: Institution = self.aggregates[institution_id(code)]
        found = None if institution.kind == "pharmacy" else jiaozuo_baseline(institution, year, p)
        if found is None:
            return Decimal(t["actual"])
        final, _ = clear_jiaozuo_4_1(t["visits"], t["medfee"], t["actual"], found[0], p,
                                     institution.reviews.get(str(year)))
        return final

    def deposit_returned(self, position: int, region: Region, event: Any) -> None:
        """A deposit returned after the clearing: the rate for the score (passing or failing), of what was withheld."""
        cleared = region.years[str(event.year)]
        reader = self._reader(self._version(region, event))
        held = region.deposits[str(event.year)][event.fixmedins_code]["withheld"]
        rate, _ = deposit_return_rate(event.score, reader)
        due = round_fen(held * rate)
        if (event.withheld, event.rate, event.returned) != (held, rate, due) or not cleared:
            self._problem(position, f"{event.fixmedins_code} {event.year}: returned {event.returned} "
                          f"of {event.withheld} at {event.rate}; re-derived {due} of {held} at {rate}")



def _codes(rows: list[dict[str, Any]]) -> str:
    return ", ".join(f"{r['fixmedins_code']} {r['paid']}+{r['withheld']}" for r in rows) or "none"


CHECKS: dict[str, Check] = {
    "yibao:Region.MonthClosed": PeriodRunsView.month_closed,
    "yibao:Region.YearClosed": PeriodRunsView.year_closed,
    "yibao:Region.DepositReturned": PeriodRunsView.deposit_returned,
}
