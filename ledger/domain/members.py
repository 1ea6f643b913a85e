"""The insured member (参保人): status over time, the annual cap used, and the personal account.

The member is the consistency boundary for money: the cap used and the account balance
live here, so two settlements for one member can never overspend either (optimistic
concurrency on the member's stream). Facts carry effective dates and are kept as
timelines, so a decision asks "what was true on the service date", and a fact recorded
late (a backdated admission) still lands on the right days.
"""

from __future__ import annotations

from bisect import insort
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from operator import itemgetter
from typing import TYPE_CHECKING, Any, NamedTuple

from ledger.domain.aggregate import Founded, LedgerAggregate, LedgerEvent, Received
from ledger.domain.ids import member_id
from ledger.errors import InputError
from ledger.money import ZERO, from_fen, to_fen
from ledger.periods import month_end, month_start
from ledger.refusals import RefusalCode
from ledger.rules.account import monthly_credit_xinyang_art8
from ledger.rules.facts import EMPLOYEE, FLEXIBLE, RETIRED, TEMPORARY

if TYPE_CHECKING:
    from collections.abc import Mapping
    from uuid import UUID

    from ledger.rules.reader import Reader


@dataclass(frozen=True)
class MonthlyCredit:
    """A month's personal-account credit and its basis."""

    amount: Decimal
    psn_type: str
    contribution_base: Decimal
    article: str


class LiveSettlement(NamedTuple):
    """A settlement the member holds as live, read back from its compact entry in ``Member.settlements``."""

    day: date
    hifp_pay: Decimal
    acct_pay: Decimal
    visit: str
    """``fixmedins_code/mdtrt_id``: the visit it was billed under."""

    @classmethod
    def of(cls, entry: list[Any]) -> LiveSettlement:
        """From the member's compact entry: [service date, pooling paid in fen, account paid in fen, visit]."""
        day, hifp_fen, acct_fen, visit = entry
        return cls(day, from_fen(hifp_fen), from_fen(acct_fen), visit)

    @property
    def year(self) -> int:
        """The insured year whose cap it counts against: its service date's (第五条)."""
        return self.day.year


class InsufficientBalanceError(InputError):
    """Raised when the personal account would go below zero."""

    def __init__(self, field: str, wanted: Decimal, balance: Decimal) -> None:
        super().__init__(field, f"{wanted} exceeds the personal-account balance {balance}",
                         code=RefusalCode.INSUFFICIENT_BALANCE, article="信政办〔2022〕23号 第九条")


class Member(LedgerAggregate):
    """An insured employee of one pooling region.

    A member's state stays in memory while it is cached between batches, and by December it
    holds a year of settlements and balance movements. So the entries kept per settlement,
    movement and month are lists of plain values with amounts in whole fen, not dicts of
    Decimals: a third smaller (``docs/benchmarks.md``, sixth set). The methods below read them
    back as yuan.
    """

    TOPIC = "yibao:Member"
    Event = LedgerEvent
    class_version = 2

    if TYPE_CHECKING:  # state, annotated for readers; the library must not see it as fields
        psn_no: str
        admdvs: str
        enrolled_on: date
        employment_category: str
        """``employee`` or ``flexible`` (a flexible worker is outside Xinyang's scheme, 第三条)."""
        psn_types: list[list[Any]]
        """[effective date, psn_type] in date order: benefit type from that day."""
        retired_on: date | None
        bases: list[list[Any]]
        """[first day of the month it applies from, contribution base]."""
        family_doctors: list[list[Any]]
        """[from date, fixmedins_code]: the contracted family-doctor institution."""
        suspensions: list[list[Any]]
        """[from, until or None]: benefits suspended on from <= day < until."""
        admissions: list[list[Any]]
        """[from, until or None, fixmedins_code]: in hospital on from <= day < until."""
        left: list[Any] | None
        """[date, "transferred_out" | "deceased", destination or heir] once the member has left."""
        remote: list[list[Any]]
        """[from, until or None, residence_admdvs, kind]: registered as living there on from <= day < until."""
        balance: Decimal
        movements: list[list[Any]]
        """[effective date, fen] of every change to the balance, in date order, for the balance on a date."""
        cap_used: dict[str, Decimal]
        """Pooling fund paid per insured year (calendar year, as a string key)."""
        credited: dict[str, int]
        """Personal-account credit per month ``YYYY-MM``, in fen (read it with :meth:`credited_in`)."""
        credit_types: dict[str, str]
        """The benefit type each month was credited as (which fund paid the credit)."""
        settlements: dict[str, list[Any]]
        """Live settlements by ``setl_id``: [service date, pooling paid in fen, account paid in fen, visit]
        (read them with :meth:`live_settlement` and :meth:`live_settlements`)."""

    @staticmethod
    def upcast_v1_v2(state: dict[str, Any]) -> None:
        """A snapshot of version 1 kept its amounts as Decimals and each settlement as a dict."""
        state["movements"] = [[day, to_fen(amount)] for day, amount in state["movements"]]
        state["credited"] = {month: to_fen(amount) for month, amount in state["credited"].items()}
        state["settlements"] = {setl_id: [e["date"], to_fen(e["hifp_pay"]), to_fen(e["acct_pay"]), e["visit"]]
                                for setl_id, e in state["settlements"].items()}

    # ----------------------------------------------------------------- events

    class Enrolled(Founded):
        """Enrolled in a region's employee scheme."""

        TOPIC = "yibao:Member.Enrolled"
        psn_no: str
        admdvs: str
        day: date
        psn_type: str
        contribution_base: Decimal
        family_doctor: str | None
        employment_category: str = EMPLOYEE

        def evolve(self, m: Member) -> None:
            m.psn_no, m.admdvs, m.enrolled_on = self.psn_no, self.admdvs, self.day
            m.employment_category = self.employment_category
            m.psn_types = [[self.day, self.psn_type]]
            m.retired_on = self.day if self.psn_type == RETIRED else None
            m.bases = [[self.day.replace(day=1), self.contribution_base]]
            m.family_doctors = [[self.day, self.family_doctor]] if self.family_doctor else []
            m.suspensions, m.admissions, m.left = [], [], None
            m.remote = []
            m.balance, m.movements = ZERO, []
            m.cap_used, m.credited, m.credit_types, m.settlements = {}, {}, {}, {}

    class Retired(Received):
        """Retirement processed; benefits switch on ``switch_on`` (信政办〔2022〕23号 第六条、第十一条)."""

        TOPIC = "yibao:Member.Retired"
        day: date
        switch_on: date

        def evolve(self, m: Member) -> None:
            m.retired_on = self.day
            m.psn_types = sorted([*m.psn_types, [self.switch_on, RETIRED]], key=lambda x: x[0])

    class FamilyDoctorSigned(Received):
        """A family-doctor contract with a primary institution, from ``day``."""

        TOPIC = "yibao:Member.FamilyDoctorSigned"
        day: date
        fixmedins_code: str

        def evolve(self, m: Member) -> None:
            m.family_doctors = sorted([*m.family_doctors, [self.day, self.fixmedins_code]], key=lambda x: x[0])

    class Suspended(Received):
        """Benefits suspended from ``day``."""

        TOPIC = "yibao:Member.Suspended"
        day: date
        reason: str

        def evolve(self, m: Member) -> None:
            m.suspensions = sorted([*m.suspensions, [self.day, None]], key=lambda x: x[0])

    class Resumed(Received):
        """Benefits resumed on ``day``: closes the suspension open on that day."""

        TOPIC = "yibao:Member.Resumed"
        day: date

        def evolve(self, m: Member) -> None:
            _close_interval(m.suspensions, self.day)

    class Admitted(Received):
        """Admitted to hospital on ``day``."""

        TOPIC = "yibao:Member.Admitted"
        day: date
        fixmedins_code: str

        def evolve(self, m: Member) -> None:
            m.admissions = sorted([*m.admissions, [self.day, None, self.fixmedins_code]], key=lambda x: x[0])

    class Discharged(Received):
        """Discharged on ``day``: closes the admission open on that day."""

        TOPIC = "yibao:Member.Discharged"
        day: date

        def evolve(self, m: Member) -> None:
            _close_interval(m.admissions, self.day)

    class ContributionBaseChanged(Received):
        """A new contribution base from the month of ``day``."""

        TOPIC = "yibao:Member.ContributionBaseChanged"
        day: date
        contribution_base: Decimal

        def evolve(self, m: Member) -> None:
            start = self.day.replace(day=1)
            kept = [b for b in m.bases if b[0] != start]
            m.bases = sorted([*kept, [start, self.contribution_base]], key=lambda x: x[0])

    class TransferredOut(Received):
        """Left the region; the balance ``paid_out`` is paid to the member (第十二条)."""

        TOPIC = "yibao:Member.TransferredOut"
        day: date
        destination: str
        paid_out: Decimal

        def evolve(self, m: Member) -> None:
            m.left = [self.day, "transferred_out", self.destination]
            _move(m, self.day, -self.paid_out)

    class Deceased(Received):
        """Died; the balance ``inherited`` passes to ``heir`` (第十二条)."""

        TOPIC = "yibao:Member.Deceased"
        day: date
        heir: str
        inherited: Decimal

        def evolve(self, m: Member) -> None:
            m.left = [self.day, "deceased", self.heir]
            _move(m, self.day, -self.inherited)

    class RemoteRegistered(Received):
        """A residence registered in ``residence_admdvs`` from ``day`` (异地就医备案)."""

        TOPIC = "yibao:Member.RemoteRegistered"
        day: date
        residence_admdvs: str
        kind: str
        until: date | None
        """The day after the registration's last day, when it is for a fixed term."""

        def evolve(self, m: Member) -> None:
            m.remote = sorted([*_remote(m), [self.day, self.until, self.residence_admdvs, self.kind]],
                              key=lambda x: x[0])

    class RemoteCancelled(Received):
        """The remote-area registration open on ``day`` ends that day."""

        TOPIC = "yibao:Member.RemoteCancelled"
        day: date

        def evolve(self, m: Member) -> None:
            for interval in _remote(m):
                if interval[0] <= self.day and (interval[1] is None or self.day < interval[1]):
                    interval[1] = self.day

    class AccountCredited(LedgerEvent):
        """The monthly personal-account credit (第八条), on closing ``month``."""

        TOPIC = "yibao:Member.AccountCredited"
        day: date
        month: str
        amount: Decimal
        psn_type: str
        contribution_base: Decimal
        policy_version: str
        article: str

        def apply(self, m: Member) -> None:
            m.credited[self.month] = m.credited.get(self.month, 0) + to_fen(self.amount)
            m.credit_types[self.month] = self.psn_type
            _move(m, self.day, self.amount)

    class CreditAdjusted(LedgerEvent):
        """A month's credit corrected after a backdated fact (a base change, a retirement, a suspension)."""

        TOPIC = "yibao:Member.CreditAdjusted"
        day: date
        month: str
        amount: Decimal
        """The change booked (negative takes back), never more than the balance holds."""
        unrecovered: Decimal
        """What a take-back could not recover because the balance was spent."""
        psn_type: str
        contribution_base: Decimal
        policy_version: str
        article: str
        reason: str

        def apply(self, m: Member) -> None:
            m.credited[self.month] = m.credited.get(self.month, 0) + to_fen(self.amount - self.unrecovered)
            m.credit_types[self.month] = self.psn_type
            _move(m, self.day, self.amount)

    class BalancePaidOut(LedgerEvent):
        """Money that reached the account after the member left, paid out as the rest was (第十二条)."""

        TOPIC = "yibao:Member.BalancePaidOut"
        day: date
        amount: Decimal
        how: str
        to: str

        def apply(self, m: Member) -> None:
            _move(m, self.day, -self.amount)

    class AccountUsed(Received):
        """A personal-account payment outside a claim (第九条)."""

        TOPIC = "yibao:Member.AccountUsed"
        day: date
        amount: Decimal
        beneficiary: str
        purpose: str
        reference: str
        article: str

        def evolve(self, m: Member) -> None:
            _move(m, self.day, -self.amount)

    class SettlementCharged(LedgerEvent):
        """A settlement's pooling payment counted against the cap, its account payment debited."""

        TOPIC = "yibao:Member.SettlementCharged"
        day: date
        setl_id: str
        fixmedins_code: str
        mdtrt_id: str
        year: int
        hifp_pay: Decimal
        acct_pay: Decimal
        act_pay_dedc: Decimal

        def apply(self, m: Member) -> None:
            year = str(self.year)
            m.cap_used[year] = m.cap_used.get(year, ZERO) + self.hifp_pay
            _move(m, self.day, -self.acct_pay)
            m.settlements[self.setl_id] = [self.day, to_fen(self.hifp_pay), to_fen(self.acct_pay),
                                           f"{self.fixmedins_code}/{self.mdtrt_id}"]

    class SettlementReleased(LedgerEvent):
        """A reversed settlement gives back its cap use and its account payment."""

        TOPIC = "yibao:Member.SettlementReleased"
        class_version = 2
        day: date
        setl_id: str
        fixmedins_code: str
        year: int
        hifp_pay: Decimal
        acct_pay: Decimal
        act_pay_dedc: Decimal
        charged_on: date | None
        """The reversed settlement's service date: its cap use is given back as of that day (第五条（三）).

        None in an event stored before version 2, which did not say it.
        """

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            """Version 1 did not carry the reversed settlement's date."""
            state["charged_on"] = None

        def apply(self, m: Member) -> None:
            year = str(self.year)
            m.cap_used[year] = m.cap_used.get(year, ZERO) - self.hifp_pay
            _move(m, self.day, self.acct_pay)
            m.settlements.pop(self.setl_id, None)

    class SettlementAdjusted(LedgerEvent):
        """A re-adjudicated settlement's difference in cap use and account payment."""

        TOPIC = "yibao:Member.SettlementAdjusted"
        day: date
        setl_id: str
        fixmedins_code: str
        year: int
        hifp_delta: Decimal
        acct_delta: Decimal
        dedc_delta: Decimal
        reason: str

        def apply(self, m: Member) -> None:
            year = str(self.year)
            m.cap_used[year] = m.cap_used.get(year, ZERO) + self.hifp_delta
            _move(m, self.day, -self.acct_delta)
            entry = m.settlements[self.setl_id]  # [date, hifp fen, acct fen, visit]
            entry[1] += to_fen(self.hifp_delta)
            entry[2] += to_fen(self.acct_delta)

    # --------------------------------------------------------------- commands

    @classmethod
    def enrol(cls, *, psn_no: str, admdvs: str, day: date, psn_type: str, contribution_base: Decimal,
              family_doctor: str | None, key: str, fingerprint: str, employment_category: str = EMPLOYEE) -> Member:
        """A new member, id derived from ``psn_no``."""
        return cls._create(
            cls.Enrolled, id=member_id(psn_no), psn_no=psn_no, admdvs=admdvs, day=day, psn_type=psn_type,
            contribution_base=contribution_base, family_doctor=family_doctor, key=key, fingerprint=fingerprint,
            employment_category=employment_category,
        )

    def retire(self, day: date, switch_on: date, key: str, fingerprint: str) -> None:
        """Record retirement; benefits switch on ``switch_on``."""
        self.check_present(day)
        if self.retired_on is not None:
            raise InputError("psn_no", f"{self.psn_no} is already retired (since {self.retired_on})",
                             code=RefusalCode.ALREADY_RETIRED)
        self.trigger_event(self.Retired, day=day, switch_on=switch_on, key=key, fingerprint=fingerprint)

    def sign_family_doctor(self, day: date, fixmedins_code: str, key: str, fingerprint: str) -> None:
        """Record a family-doctor contract."""
        self.check_present(day)
        self.trigger_event(self.FamilyDoctorSigned, day=day, fixmedins_code=fixmedins_code, key=key,
                           fingerprint=fingerprint)

    def suspend(self, day: date, reason: str, key: str, fingerprint: str) -> None:
        """Suspend benefits from ``day``."""
        self.check_present(day)
        if _open_on(self.suspensions, day) or any(s[0] >= day for s in self.suspensions):
            raise InputError("date", f"benefits are already suspended on or after {day}",
                             code=RefusalCode.ALREADY_SUSPENDED)
        self.trigger_event(self.Suspended, day=day, reason=reason, key=key, fingerprint=fingerprint)

    def resume(self, day: date, key: str, fingerprint: str) -> None:
        """Resume benefits on ``day``."""
        if not _open_on(self.suspensions, day):
            raise InputError("date", f"benefits are not suspended on {day}", code=RefusalCode.NOT_SUSPENDED)
        self.trigger_event(self.Resumed, day=day, key=key, fingerprint=fingerprint)

    def admit(self, day: date, fixmedins_code: str, key: str, fingerprint: str) -> None:
        """Record an admission on ``day``."""
        self.check_present(day)
        if _open_on(self.admissions, day) or any(a[0] >= day for a in self.admissions if a[1] is None):
            raise InputError("date", f"{self.psn_no} is already in hospital on {day}",
                             code=RefusalCode.ALREADY_ADMITTED)
        self.trigger_event(self.Admitted, day=day, fixmedins_code=fixmedins_code, key=key, fingerprint=fingerprint)

    def discharge(self, day: date, key: str, fingerprint: str) -> None:
        """Record a discharge on ``day``."""
        if not _open_on(self.admissions, day) and not any(
            a[0] == day and a[1] is None for a in self.admissions
        ):
            raise InputError("date", f"{self.psn_no} is not in hospital on {day}", code=RefusalCode.NOT_ADMITTED)
        self.trigger_event(self.Discharged, day=day, key=key, fingerprint=fingerprint)

    def register_remote(self, day: date, residence_admdvs: str, kind: str, until: date | None, key: str,
                        fingerprint: str) -> None:
        """Register a residence elsewhere from ``day`` (until the day before ``until``); none may overlap."""
        self.check_present(day)
        if residence_admdvs == self.admdvs:
            raise InputError("residence_admdvs", f"{residence_admdvs} is the member's own region",
                             code=RefusalCode.REMOTE_SAME_REGION)
        if any(start < (until or date.max) and (end is None or day < end) for start, end, *_ in _remote(self)):
            raise InputError("date", f"{self.psn_no} already has a remote-area registration in that time; "
                             "cancel it first", code=RefusalCode.REMOTE_ALREADY_REGISTERED)
        self.trigger_event(self.RemoteRegistered, day=day, residence_admdvs=residence_admdvs, kind=kind, until=until,
                           key=key, fingerprint=fingerprint)

    def cancel_remote(self, day: date, key: str, fingerprint: str) -> None:
        """End the remote-area registration open on ``day``."""
        if self.residence_on(day) is None:
            raise InputError("date", f"{self.psn_no} has no remote-area registration on {day}",
                             code=RefusalCode.REMOTE_NOT_REGISTERED)
        self.trigger_event(self.RemoteCancelled, day=day, key=key, fingerprint=fingerprint)

    def change_base(self, day: date, contribution_base: Decimal, key: str, fingerprint: str) -> None:
        """A new contribution base from the month of ``day``."""
        self.check_present(day)
        self.trigger_event(self.ContributionBaseChanged, day=day, contribution_base=contribution_base, key=key,
                           fingerprint=fingerprint)

    def transfer_out(self, day: date, destination: str, key: str, fingerprint: str) -> None:
        """Leave the region; the balance is paid out."""
        self.check_present(day)
        self.trigger_event(self.TransferredOut, day=day, destination=destination, paid_out=self.balance, key=key,
                           fingerprint=fingerprint)

    def decease(self, day: date, heir: str, key: str, fingerprint: str) -> None:
        """Record a death; the balance passes to the heir."""
        self.check_present(day)
        self.trigger_event(self.Deceased, day=day, heir=heir, inherited=self.balance, key=key,
                           fingerprint=fingerprint)

    def credit_month(self, *, day: date, month: str, amount: Decimal, psn_type: str, contribution_base: Decimal,
                     policy_version: str, article: str) -> None:
        """Credit the account for ``month`` (at most once)."""
        if month in self.credited:
            msg = f"{self.psn_no} was already credited for {month}"
            raise InputError("month", msg, code=RefusalCode.ALREADY_CREDITED)
        self.trigger_event(self.AccountCredited, day=day, month=month, amount=amount, psn_type=psn_type,
                           contribution_base=contribution_base, policy_version=policy_version, article=article)
        self._pay_out_if_left(day)

    def adjust_credit(self, *, day: date, month: str, delta: Decimal, psn_type: str, contribution_base: Decimal,
                      policy_version: str, article: str, reason: str) -> None:
        """Correct a month's credit by ``delta``; a take-back stops at the balance."""
        booked = max(delta, -self.balance)
        self.trigger_event(self.CreditAdjusted, day=day, month=month, amount=booked, unrecovered=booked - delta,
                           psn_type=psn_type, contribution_base=contribution_base, policy_version=policy_version,
                           article=article, reason=reason)
        self._pay_out_if_left(day)

    def use_account(self, *, day: date, amount: Decimal, beneficiary: str, purpose: str, reference: str,
                    article: str, key: str, fingerprint: str) -> None:
        """Pay ``amount`` from the account outside a claim; never below zero."""
        self.check_present(day)
        spendable = self.spendable_on(day)
        if amount > spendable:
            raise InsufficientBalanceError("amount", amount, spendable)
        self.trigger_event(self.AccountUsed, day=day, amount=amount, beneficiary=beneficiary, purpose=purpose,
                           reference=reference, article=article, key=key, fingerprint=fingerprint)

    def charge_settlement(self, *, setl_id: str, fixmedins_code: str, mdtrt_id: str, day: date, hifp_pay: Decimal,
                          acct_pay: Decimal, act_pay_dedc: Decimal) -> None:
        """Count a settlement against the cap and debit its account payment."""
        if acct_pay > self.spendable_on(day):
            raise InsufficientBalanceError("acct_used_flag", acct_pay, self.spendable_on(day))
        self.trigger_event(self.SettlementCharged, day=day, setl_id=setl_id, fixmedins_code=fixmedins_code,
                           mdtrt_id=mdtrt_id, year=day.year, hifp_pay=hifp_pay, acct_pay=acct_pay,
                           act_pay_dedc=act_pay_dedc)

    def release_settlement(self, *, setl_id: str, fixmedins_code: str, day: date, act_pay_dedc: Decimal) -> None:
        """Give back what a reversed settlement used."""
        entry = self.live_settlement(setl_id)
        self.trigger_event(self.SettlementReleased, day=day, setl_id=setl_id, fixmedins_code=fixmedins_code,
                           year=entry.year, hifp_pay=entry.hifp_pay, acct_pay=entry.acct_pay,
                           act_pay_dedc=act_pay_dedc, charged_on=entry.day)
        self._pay_out_if_left(day)

    def adjust_settlement(self, *, setl_id: str, fixmedins_code: str, day: date, hifp_delta: Decimal,
                          acct_delta: Decimal, dedc_delta: Decimal, reason: str) -> None:
        """Book a re-adjudicated settlement's difference."""
        if acct_delta > self.spendable_on(day):
            raise InsufficientBalanceError("acct_pay", acct_delta, self.spendable_on(day))
        self.trigger_event(self.SettlementAdjusted, day=day, setl_id=setl_id, fixmedins_code=fixmedins_code,
                           year=self.live_settlement(setl_id).year, hifp_delta=hifp_delta, acct_delta=acct_delta,
                           dedc_delta=dedc_delta, reason=reason)
        self._pay_out_if_left(day)

    def _pay_out_if_left(self, day: date) -> None:
        """After the member left, whatever reaches the account follows the rest (第十二条)."""
        if self.left is not None and self.balance > 0:
            self.trigger_event(self.BalancePaidOut, day=max(day, self.left[0]), amount=self.balance,
                               how=self.left[1], to=self.left[2])

    # ---------------------------------------------------------------- queries

    def check_present(self, day: date) -> None:
        """Refuse a fact dated before enrolment or after the member left."""
        if day < self.enrolled_on:
            raise InputError("date", f"{self.psn_no} enrolled only on {self.enrolled_on}",
                             code=RefusalCode.NOT_ENROLLED_YET)
        if self.left is not None and day >= self.left[0]:
            raise InputError("psn_no", f"{self.psn_no} left the region ({self.left[1]}) on {self.left[0]}",
                             code=RefusalCode.MEMBER_LEFT)

    def benefit_type_on(self, day: date) -> str:
        """In service or retired for benefits on ``day`` (the switch date applied)."""
        current = self.psn_types[0][1]
        for since, psn_type in self.psn_types:
            if since <= day:
                current = psn_type
        return current

    def hospitalised_on(self, day: date) -> bool:
        """Admitted and not yet discharged on ``day``."""
        return _open_on(self.admissions, day)

    def suspended_on(self, day: date) -> bool:
        """Benefits suspended on ``day``."""
        return _open_on(self.suspensions, day)

    def family_doctor_on(self, day: date) -> str | None:
        """The contracted family-doctor institution on ``day``, if any."""
        current = None
        for since, code in self.family_doctors:
            if since <= day:
                current = code
        return current

    def residence_on(self, day: date) -> tuple[str, str] | None:
        """(residence_admdvs, kind) of the remote-area registration covering ``day``, if any."""
        for start, until, admdvs, kind in _remote(self):
            if start <= day and (until is None or day < until):
                return admdvs, kind
        return None

    def base_for(self, month: str) -> Decimal:
        """The contribution base that applies to ``month``."""
        start = month_start(month)
        current = self.bases[0][1]
        for since, base in self.bases:
            if since <= start:
                current = base
        return current

    def active_at(self, day: date) -> bool:
        """Enrolled on ``day`` and not yet left."""
        return self.enrolled_on <= day and (self.left is None or day < self.left[0])

    def spendable_on(self, day: date) -> Decimal:
        """What the account can pay on ``day`` without its balance on that or any later date going below zero."""
        if not self.movements or self.movements[-1][0] <= day:
            return max(self.balance, ZERO)  # nothing dated later: the balance is the sum of the movements
        running, lowest = 0, None
        for when, fen in self.movements:
            if when > day and lowest is None:
                lowest = running
            running += fen
            if lowest is not None:
                lowest = min(lowest, running)
        return from_fen(max(running if lowest is None else lowest, 0))

    def claim_facts(self, day: date, where: str | None = None) -> dict[str, Any]:
        """What a claim on ``day`` needs of the member: benefit type, whether in hospital or suspended.

        For a claim at an institution of another region ``where``, also how the member is there:
        the kind of the remote-area registration covering ``day``, or ``temporary`` without one.
        """
        # A member snapshotted before employment categories were recorded is an employee.
        flexible = getattr(self, "employment_category", EMPLOYEE) == FLEXIBLE
        facts = {"psn_type": self.benefit_type_on(day), "hospitalised": self.hospitalised_on(day),
                 "suspended": self.suspended_on(day), "flexible_worker": flexible}
        if where is not None and where != self.admdvs:
            residence = self.residence_on(day)
            facts["institution_admdvs"] = where
            facts["remote_kind"] = residence[1] if residence and residence[0] == where else TEMPORARY
        return facts

    def credit_due(self, month: str, p: Reader) -> MonthlyCredit:
        """信政办〔2022〕23号 第八条、第十一条: the credit ``month`` owes this member (0.00 if none).

        Members active at the month's end are credited for the month, as the type they had on
        its first day (retirement switches the credit from the month after); not while benefits
        are suspended at its end, unless the policy says so (an assumed reading).
        """
        start, end = month_start(month), month_end(month)
        psn_type, base = self.benefit_type_on(start), self.base_for(month)
        owed = self.active_at(end) and not (self.suspended_on(end) and not p.flag("account_credit_while_suspended"))
        amount = monthly_credit_xinyang_art8(psn_type, base, p) if owed else ZERO
        return MonthlyCredit(amount, psn_type, base, credit_article(psn_type, p))

    def standing(self) -> dict[str, Any]:
        """What a month's credit reads of this member (:data:`STANDING`)."""
        return {name: self.__dict__[name] for name in STANDING}

    @classmethod
    def standing_only(cls, aggregate_id: UUID, version: int, standing: Mapping[str, Any]) -> Member:
        """The member as far as a month's credit reads it (:data:`STANDING`), at ``version``.

        Enough to compute a month's credit and book it, without reading the member's events
        back: a month close takes its members' standing from the ``standing`` read model.
        The balance, settlements and earlier credits are not there, so such a member is saved
        but never cached or snapshotted (``UnitOfWork.add_partial``), and only one who has not
        left is credited this way (a left member's credit is paid out at once, from the balance).
        """
        member = object.__new__(cls)
        member.__base_init__(aggregate_id, version, datetime.now(UTC))
        _hold(member, standing)
        return member

    def credited_in(self, month: str) -> Decimal:
        """What the account was credited for ``month``, corrections included (0.00 if nothing)."""
        return from_fen(self.credited.get(month, 0))

    def live_settlement(self, setl_id: str) -> LiveSettlement:
        """The live settlement ``setl_id`` (KeyError if it is not live)."""
        return LiveSettlement.of(self.settlements[setl_id])

    def live_settlements(self) -> dict[str, LiveSettlement]:
        """Every live settlement by ``setl_id``, in the order they were charged."""
        return {setl_id: LiveSettlement.of(entry) for setl_id, entry in self.settlements.items()}

    def cap_used_in(self, year: int) -> Decimal:
        """Pooling fund paid in ``year`` so far."""
        return self.cap_used.get(str(year), ZERO)

    def cap_used_through(self, day: date) -> Decimal:
        """Pooling fund paid for services of ``day``'s year dated up to ``day``: the cap is used in date order."""
        return from_fen(sum(hifp for on, hifp, _, _ in self.settlements.values() if on.year == day.year and on <= day))

    def visit_has_bills(self, fixmedins_code: str, mdtrt_id: str, *, besides: str = "") -> bool:
        """Whether a live settlement (other than ``besides``) was billed under this visit serial number."""
        visit = f"{fixmedins_code}/{mdtrt_id}"
        return any(billed == visit for sid, (_, _, _, billed) in self.settlements.items() if sid != besides)

    def settled_since(self, day: date) -> bool:
        """Whether a live settlement is dated on or after ``day`` (a fact effective that day may change it)."""
        return any(on >= day for on, _, _, _ in self.settlements.values())


STANDING = ("admdvs", "enrolled_on", "psn_types", "bases", "suspensions", "left")
"""The member's state a month's credit reads (:meth:`Member.credit_due`)."""

CREDIT_FACTS: tuple[type[Received], ...] = (
    Member.Enrolled, Member.Retired, Member.Suspended, Member.Resumed, Member.ContributionBaseChanged,
    Member.TransferredOut, Member.Deceased)
"""The facts that change :data:`STANDING`."""


def standing_after(standing: Mapping[str, Any] | None, fact: Received) -> dict[str, Any]:
    """A member's :data:`STANDING` once ``fact`` (one of :data:`CREDIT_FACTS`) is applied by its own ``evolve``.

    ``standing`` is None before the member's enrolment. The read model ``standing`` keeps every
    member's standing this way, so it changes by the rule that changes the member.
    """
    member = object.__new__(Member)
    _hold(member, standing or {})
    fact.evolve(member)
    return member.standing()


def _hold(member: Member, standing: Mapping[str, Any]) -> None:
    """Give ``member`` its standing, with an empty account beside it (a departure's evolve moves the balance)."""
    member.__dict__.update(standing)
    member.receipts, member.balance, member.movements = {}, ZERO, []
    member.credited, member.credit_types = {}, {}


def credit_article(psn_type: str, p: Reader) -> str:
    """The article a credit of ``psn_type`` rests on: 第八条（一） in service, 第八条（二） retired."""
    return p.cited("account_credit_retired" if psn_type == RETIRED else "account_credit_rate_in_service").citation()


def _remote(m: Member) -> list[list[Any]]:
    """The remote-area registrations (a member snapshotted before they existed has none)."""
    return m.__dict__.setdefault("remote", [])


def _move(m: Member, day: date, amount: Decimal) -> None:
    """Change the balance, remembering the change in date order (recording order within a day)."""
    m.balance += amount
    if amount:
        insort(m.movements, [day, to_fen(amount)], key=itemgetter(0))


def _open_on(intervals: list[list[Any]], day: date) -> bool:
    return any(start <= day and (until is None or day < until) for start, until, *_ in intervals)


def _close_interval(intervals: list[list[Any]], day: date) -> None:
    for interval in intervals:
        if interval[0] <= day and interval[1] is None:
            interval[1] = day
            return
