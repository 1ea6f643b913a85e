"""A deterministic synthetic city: one pooling region's exchange messages over some months.

Why: benchmarks, demos and end-to-end tests need traffic at realistic volumes that the ledger
accepts line for line. Hand-written fixtures never reach a million events, and random data the
ledger refuses measures only the refusal path. So the generator keeps every fact inside the rules
the ledger enforces, reading the limits (days supplied, prescription validity, deductibles, caps,
account uses, payment scheme) from the same policy files: bills with catalog classes 甲/乙/丙 and
payment standards, two bills under one visit serial number, e-prescriptions (normal, emergency,
chronic 30 days, long-term 84 days) filled at pharmacies within their validity, sometimes in two
purchases, reversals, retirements, suspensions, admissions (with an outpatient visit the pool
refuses to pay), base changes, account uses the balance can cover, transfers and deaths, the
institutions' assessments, and the month and year closes that pay the institutions.

How: one seeded ``random.Random`` drives everything; no global state, no clock, no iteration over
unordered sets, so the same :class:`CitySpec` gives byte-identical output. Each calendar year is
planned before any of it is written, as compact records (a builder's name and its arguments,
filed by day, to disk past ``SPOOL_LIMIT``), so the region's annual budget can be sized from the
year's claims before January closes (a month cannot close under Kaifeng's scheme without
``budget.set``) without holding a year in memory. The months are then rendered in date order,
each followed by its ``month.closed``, and December by ``year.closed``. What stays in memory is
each member's planning state, about 350 bytes (ints in fen, shared dates and bases): a million
members fit in under 400 MB.
"""

from __future__ import annotations

import heapq
import json
import math
import pickle
import random
import tempfile
from bisect import bisect
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_CEILING, Decimal
from itertools import accumulate
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar

from ledger.errors import InputError, PolicyNotInForceError
from ledger.money import FEN, ZERO, money_str, to_fen
from ledger.periods import month_end
from ledger.policy.files import default_library
from ledger.rules.account import check_use_xinyang_art9_10, monthly_credit_xinyang_art8
from ledger.rules.annual_cap import annual_cap_xinyang_art5_3
from ledger.rules.deductible import (
    Deductible,
    deductible_charged_datong_art21,
    pharmacy_standard,
    standard_by_level_xinyang_art5_1,
)
from ledger.rules.facts import IN_SERVICE, RETIRED
from ledger.rules.payments import JIAOZUO, KAIFENG
from ledger.rules.prescriptions import EMERGENCY, days_limit_jiaozuo_2_2, valid_through_datong_art10
from ledger.rules.reader import Reader

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence
    from pathlib import Path

    from ledger.policy.parameters import Policy

Message = dict[str, Any]
Chance = float
"""A probability or a rate of events (never an amount: every amount is a ``Decimal``)."""
T = TypeVar("T")

# ------------------------------------------------------------------------------------ the spec


@dataclass(frozen=True)
class CitySpec:
    """What to generate: one region, its size, its period and the mix of behaviours.

    The shares and rates are probabilities, not amounts; every amount is a ``Decimal``.
    """

    admdvs: str = "410200"
    members: int = 200
    hospitals: int = 6
    pharmacies: int = 3
    year: int = 2025
    months: int = 12
    seed: int = 7
    visits_per_member_month: Chance = 0.6
    start_month: int = 1
    """The first month (1–12) of ``year``; Jiaozuo (410800) cannot start before 2024-08."""
    share_retired: Chance = 0.25
    share_chronic: Chance = 0.3
    """Members with a chronic disease: more visits, 30- and 84-day prescriptions."""
    share_family_doctor: Chance = 0.3
    share_account_payers: Chance = 0.5
    """Members who let their claims draw on the personal account (``acct_used_flag``)."""
    share_late_enrolment: Chance = 0.05
    """Members who join after the first month."""
    target_usage: Chance = 0.95
    """Where the budget aims the year's usage rate (actual pooled ÷ budget)."""

    def __post_init__(self) -> None:
        for name in ("members", "hospitals", "pharmacies", "months"):
            if getattr(self, name) < 1:
                msg = f"{name} must be at least 1"
                raise ValueError(msg)
        if not 1 <= self.start_month <= 12:
            msg = "start_month must be 1–12"
            raise ValueError(msg)
        if not 0 < self.target_usage <= 2:
            msg = "target_usage must be in (0, 2]"
            raise ValueError(msg)
        if self.visits_per_member_month < 0:
            msg = "visits_per_member_month must not be negative"
            raise ValueError(msg)
        for name in ("share_retired", "share_chronic", "share_family_doctor", "share_account_payers",
                     "share_late_enrolment"):
            if not 0 <= getattr(self, name) <= 1:
                msg = f"{name} must be between 0 and 1"
                raise ValueError(msg)

    def periods(self) -> list[_Month]:
        """The months generated, in order."""
        index = self.year * 12 + self.start_month - 1
        return [_Month.of(i // 12, i % 12 + 1) for i in range(index, index + self.months)]


class _Month(NamedTuple):
    key: str
    year: int
    number: int
    start: date
    end: date

    @classmethod
    def of(cls, year: int, number: int) -> _Month:
        key = f"{year:04d}-{number:02d}"
        return cls(key, year, number, date(year, number, 1), month_end(key))


# ---------------------------------------------------------------------------- the catalog


class _Item(NamedTuple):
    """A catalog entry: a service, consumable or drug, with its price as written on bills."""

    place: int
    """Its place in ``_CATALOG``: bill lines refer to items by index (see ``Line``)."""
    code: str
    name: str
    lv: str
    pric: str
    std: str | None
    per_day: int
    price: Decimal
    scope: Decimal
    """The unit amount that can be in policy scope: the lesser of price and standard; 0 for 丙."""


_CATALOG: list[_Item] = []
"""Every item, in the order defined below (built once, at import)."""


def _item(code: str, name: str, lv: str, pric: str, std: str | None = None, per_day: int = 1) -> _Item:
    price = Decimal(pric)
    scope = ZERO if lv == "03" else min(price, Decimal(std)) if std else price
    item = _Item(len(_CATALOG), code, name, lv, pric, std, per_day, price, scope)
    _CATALOG.append(item)
    return item


_CONSULTATION = {
    3: _item("XB0101003", "普通门诊诊查费（三级）", "01", "12.00"),
    2: _item("XB0101002", "普通门诊诊查费（二级）", "01", "8.00"),
    1: _item("XB0101001", "一般诊疗费（基层）", "01", "10.00"),
}
_TESTS = (
    _item("XC0201001", "血常规", "01", "20.00"),
    _item("XC0201002", "尿常规", "01", "10.00"),
    _item("XC0201003", "肝功能", "01", "60.00"),
    _item("XC0201004", "血脂四项", "01", "45.00"),
    _item("XC0201005", "糖化血红蛋白", "02", "65.00"),
    _item("XC0201006", "C反应蛋白", "01", "25.00"),
    _item("XD0301001", "常规心电图", "01", "25.00"),
    _item("XD0301002", "胸部DR", "01", "90.00"),
    _item("XD0301003", "腹部彩超", "02", "140.00"),
    _item("XD0301004", "颈动脉彩超", "02", "180.00"),
)
_TREATMENTS = (
    _item("XE0401001", "静脉输液", "01", "12.00"),
    _item("XE0401002", "雾化吸入", "02", "15.00"),
    _item("XE0401003", "普通针刺", "02", "35.00"),
    _item("XE0401004", "推拿治疗", "02", "40.00"),
    _item("XF0501001", "一次性输液器", "02", "8.50", "6.00"),
    _item("XF0501002", "医用敷贴", "02", "3.20", "2.50"),
)
_SELF_PAID = (
    _item("XZ0901001", "特需门诊诊查费", "03", "50.00"),
    _item("XZ0901002", "医用冷敷贴", "03", "68.00"),
    _item("XZ0901003", "口腔洁治", "03", "120.00"),
    _item("XZ0901004", "辅酶Q10胶囊", "03", "1.50", per_day=2),
)
_ACUTE_DRUGS: tuple[_Item, ...] = (
    _item("XJ01CAA0001", "阿莫西林胶囊", "01", "0.45", per_day=3),
    _item("XJ01DDA0002", "头孢克肟分散片", "02", "2.80", "1.90", per_day=2),
    _item("XJ01MAA0003", "左氧氟沙星片", "01", "1.20"),
    _item("XM01AEA0004", "布洛芬缓释胶囊", "01", "0.60", per_day=2),
    _item("ZA01BAL0005", "连花清瘟胶囊", "02", "0.95", per_day=6),
    _item("XR05CBA0006", "盐酸氨溴索片", "01", "0.35", per_day=3),
    _item("XA02BCA0007", "奥美拉唑肠溶胶囊", "01", "0.50", per_day=2),
    _item("XA07BCA0008", "蒙脱石散", "01", "1.10", per_day=3),
    _item("XA02BCE0009", "艾司奥美拉唑镁肠溶片", "02", "4.20", "2.30"),
)
_CHRONIC_DRUGS: tuple[_Item, ...] = (
    _item("XA10BAA0101", "盐酸二甲双胍缓释片", "01", "0.60", per_day=2),
    _item("XC08CAA0102", "苯磺酸氨氯地平片", "01", "0.90"),
    _item("XC10AAA0103", "阿托伐他汀钙片", "01", "3.20", "1.80"),
    _item("XC09CAV0104", "缬沙坦胶囊", "01", "2.40", "1.60"),
    _item("XA10BBG0105", "格列美脲片", "02", "1.35"),
    _item("XB01ACA0106", "阿司匹林肠溶片", "01", "0.25"),
    _item("XC08CAN0107", "硝苯地平控释片", "02", "3.50", "2.20"),
    _item("XC10AAR0108", "瑞舒伐他汀钙片", "02", "2.10", "1.30"),
    _item("XC09CAI0109", "厄贝沙坦片", "01", "1.85"),
    _item("XA10BFA0110", "阿卡波糖片", "02", "0.90", per_day=3),
)

Line = tuple[int, int]
"""A bill line: the item's index in ``_CATALOG`` and how many units.

Plain ints, not the item itself: a year of planned bills is millions of tuples, and tuples of
atoms drop out of the garbage collector's sight, where tuples holding items (a tuple subclass,
never untracked) were walked by every full collection: a third of the generator's time.
"""

# ---------------------------------------------------------------------- rates of behaviour
# Probabilities per member-month, per visit, per bill or per prescription; tuned so a
# 60-member year shows every kind of fact and a large city keeps realistic proportions.

P_EMERGENCY = 0.04
P_SECOND_BILL = 0.08
P_LATE_UPLOAD = 0.01
P_REVERSAL = 0.012
P_RX_CHRONIC_MEMBER, P_RX_OTHER = 0.55, 0.2
P_LONG_TERM = 0.25
P_UNFILLED = 0.06
P_SPLIT_SAME_PHARMACY, P_SPLIT_TWO_PHARMACIES = 0.12, 0.05
P_DELIVERY = 0.12
P_ACCOUNT_PAYS = 0.9
P_ACCOUNT_USE = 0.03
P_BASE_CHANGE_JULY = 0.3
P_VISIT_WHILE_ADMITTED = 0.6
P_OWN_FAMILY_DOCTOR = 0.6
P_RX_CHRONIC_KIND = 0.8
P_TREATMENT, P_SELF_PAID = 0.25, 0.15
LIFE_EVENTS = (("retire", 0.004), ("suspend", 0.003), ("admit", 0.005), ("sign", 0.004),
               ("rebase", 0.002), ("transfer", 0.0012), ("die", 0.001))
"""Rare facts: at most one a member-month; each year has at least one of each (see ``_top_up``)."""
LIFE_EVENT_RATE = sum(rate for _, rate in LIFE_EVENTS)
CHRONIC_ACTIVITY = 1.5
"""Members with a chronic disease visit this many times the average."""
FUND_SHARE = Decimal("0.53")
"""The budget's rough estimate of the pooling fund's share of in-scope cost above the deductible: about
half (the ratios run from 50 % at level 3 to 65 % for retirees at level 2 and below)."""
MIN_ACCOUNT_USE = Decimal(20)
REVIEW_SAMPLE = 100
"""The costliest visits sampled by an overspend review (焦医保〔2024〕32号 六（一）)."""
COVID_YEARS = (2020, 2021, 2022)
PROVINCIAL_SPECIALIST_AVERAGE = Decimal("235.00")

_HOSPITAL_PROFILES = (
    (3, "city_level3_general", "第一人民医院"),
    (2, "specialist", "眼科医院"),
    (1, "community_health_center", "东城社区卫生服务中心"),
    (1, "township_health_center", "城郊乡卫生院"),
    (2, "county_general", "县人民医院"),
    (3, "city_tcm", "中医院"),
    (1, "village_clinic", "李庄村卫生室"),
    (2, "county_tcm", "县中医院"),
    (3, "city_maternal_child", "妇幼保健院"),
    (1, "community_health_center", "西城社区卫生服务中心"),
    (2, "county_maternal_child", "县妇幼保健院"),
    (1, "township_health_center", "河口镇卫生院"),
)
"""Level, Jiaozuo category and name of each hospital, in order (cycled beyond twelve)."""
_HOSPITAL_WEIGHT = {3: 5, 2: 3, 1: 2}
_TEST_COUNTS = {3: (0, 1, 1, 2, 3), 2: (0, 1, 1, 2, 2), 1: (0, 0, 0, 1, 1)}
"""How many tests a visit orders, by hospital level: primary care orders few."""
_PHARMACY_CHAINS = ("老百姓大药房", "大参林药房", "益丰大药房", "张仲景大药房", "国大药房", "海王星辰药房")
_DISTRICTS = ("人民路店", "解放路店", "建设路店", "中山路店", "新华路店", "文化路店", "胜利路店")
_ACCOUNT_USES = (("child", "resident_contribution"), ("parent", "resident_contribution"),
                 ("spouse", "medical"), ("parent", "pharmacy"), ("child", "medical"),
                 ("self", "supplementary_insurance"))
_REVERSAL_REASONS = ("收费项目录入错误", "重复结算", "患者退费", "医保类别选择错误")
_SPLIT_REASON = "药品缺货，剩余药品转其他药店配药"
_DESTINATIONS = ("郑州市", "北京市", "上海市", "广州市", "洛阳市", "武汉市")
_HEIRS = ("配偶", "子女", "父母")
_SUSPENSION_REASONS = ("arrears", "arrears", "waiting_period")
_DELIVERY_FEES = ("5.00", "6.00", "8.00", "10.00")
_VIOLATION_PERCENT = (0, 5, 12, 25, 65)

_SN = tuple(str(i) for i in range(64))
_COUNT = tuple(str(i) for i in range(1000))
"""Quantities as written, made once."""


def _qty(cnt: int) -> str:
    return _COUNT[cnt] if cnt < len(_COUNT) else str(cnt)

# ----------------------------------------------------------------------------- the policy

NEEDED = ("payment_scheme", "pharmacy_scheme", "rx_days_normal", "rx_days_emergency", "rx_days_chronic",
          "rx_days_long_term", "rx_validity_days", "rx_validity_counts_issue_day", "deductible_level1",
          "deductible_level2", "deductible_level3", "annual_cap_in_service", "annual_cap_retired",
          "account_credit_rate_in_service", "account_credit_retired", "account_purposes_self",
          "account_purposes_family", "account_family_beneficiaries", "account_forbidden_purposes",
          "late_settlement_window_days", "retirement_switch_months", "account_transfer_out",
          "account_inheritable")
"""The parameters the generated facts rely on: each must be in force over the whole period."""


_RX_KINDS = {"normal": ("11", False, False), "emergency": (EMERGENCY, False, False),
             "chronic": ("11", True, False), "long_term": ("11", True, True)}
"""Each kind of prescription the city writes, as (med_type, chronic, long_term)."""


@dataclass(frozen=True, slots=True)
class _Terms:
    """The policy values one day's facts are kept within."""

    scheme: str
    days_limit: dict[str, int]
    """The most days a prescription may supply: normal, emergency, chronic, long_term."""
    deductible: dict[int, Decimal]
    """A visit's deductible standard by hospital level."""
    pharmacy: dict[int, Deductible]
    """A purchase's deductible standard by the prescriber's level."""
    reader: Reader
    """The policy, for the rules the terms call (a reader keeps one entry per parameter read)."""
    account_uses: tuple[tuple[str, str], ...]
    """The (beneficiary, purpose) pairs of ``_ACCOUNT_USES`` the policy permits."""

    @classmethod
    def of(cls, policy: Policy) -> _Terms:
        reader = Reader(policy)
        return cls(
            scheme=str(reader.value("payment_scheme")),
            days_limit={kind: days_limit_jiaozuo_2_2(*facts, reader)[0] for kind, facts in _RX_KINDS.items()},
            deductible={level: standard_by_level_xinyang_art5_1(level, reader) for level in (1, 2, 3)},
            pharmacy={level: pharmacy_standard(level, reader) for level in (1, 2, 3)},
            reader=reader,
            account_uses=tuple(use for use in _ACCOUNT_USES if _permitted(reader, *use)),
        )

    def purchase_deductible(self, prescriber_level: int, paid_at_visit: Decimal) -> tuple[Decimal, Decimal]:
        """A pharmacy purchase's deductible standard, and what its prescribing visit already paid of it."""
        standard = self.pharmacy[prescriber_level]
        return standard.standard, paid_at_visit if standard.shared_with_prescriber else ZERO

    def credit_floor(self, base: Decimal) -> Decimal:
        """The least a month credits the account, whichever of retired or in service applies."""
        return min(monthly_credit_xinyang_art8(psn_type, base, self.reader) for psn_type in (IN_SERVICE, RETIRED))


def _permitted(reader: Reader, beneficiary: str, purpose: str) -> bool:
    """Whether the personal account may pay ``purpose`` for ``beneficiary``, as the ledger decides it."""
    try:
        check_use_xinyang_art9_10(beneficiary, purpose, reader)
    except InputError:
        return False
    return True


class _Rules:
    """The policy in force day by day, read from the ledger's own policy files."""

    def __init__(self, admdvs: str, months: list[_Month]) -> None:
        self.library = default_library()
        self.admdvs = admdvs
        self._by_day: dict[date, _Terms] = {}
        self._by_version: dict[str, _Terms] = {}
        self._check(months)

    def _check(self, months: list[_Month]) -> None:
        """Refuse a period in which the region lacks a parameter the generated facts rely on."""
        if self.admdvs not in self.library.regions:
            known = ", ".join(self.library.regions_known())
            msg = f"no policy profile for region {self.admdvs} (known: {known})"
            raise ValueError(msg)
        for month in months:
            for day in (month.start, month.end):
                missing = self._missing(day)
                if missing:
                    msg = (f"region {self.admdvs}: no policy in force on {day} gives {', '.join(missing)}; "
                           f"start on or after {self._earliest(months[0])}")
                    raise ValueError(msg)

    def _missing(self, day: date) -> list[str]:
        try:
            policy = self.library.policy_for(self.admdvs, day)
        except PolicyNotInForceError:
            return ["anything"]
        return [name for name in NEEDED if not policy.has(name)]

    def _earliest(self, month: _Month) -> str:
        index = month.year * 12 + month.number - 1
        for i in range(index, index + 240):
            candidate = _Month.of(i // 12, i % 12 + 1)
            if not self._missing(candidate.start):
                return candidate.key
        return "(no month in the next twenty years)"

    def on(self, day: date) -> _Terms:
        """The terms in force on ``day`` (cached: asked for every fact)."""
        terms = self._by_day.get(day)
        if terms is None:
            policy = self.library.policy_for(self.admdvs, day)
            terms = self._by_version.get(policy.version)
            if terms is None:
                terms = self._by_version[policy.version] = _Terms.of(policy)
            self._by_day[day] = terms
        return terms


# ------------------------------------------------------------------------------ the dice


class _Dice:
    """Draws from one seeded ``random.Random``, through ``random()`` alone.

    The library's ``choice``, ``randint`` and ``sample`` are several times slower than one
    uniform draw, and the generator makes millions of them.
    """

    __slots__ = ("random",)

    def __init__(self, seed: str) -> None:
        self.random = random.Random(seed).random

    def chance(self, p: Chance) -> bool:
        return self.random() < p

    def between(self, lo: int, hi: int) -> int:
        """An integer in [lo, hi]."""
        return lo + int(self.random() * (hi - lo + 1))

    def pick(self, seq: Sequence[T]) -> T:
        return seq[int(self.random() * len(seq))]

    def some(self, seq: Sequence[T], k: int) -> list[T]:
        """``k`` distinct elements of ``seq`` (k much smaller than len(seq))."""
        chosen: list[T] = []
        while len(chosen) < k:
            candidate = seq[int(self.random() * len(seq))]
            if candidate not in chosen:
                chosen.append(candidate)
        return chosen

    def day(self, lo: date, hi: date) -> date:
        """A day in [lo, hi]."""
        return lo + timedelta(days=int(self.random() * ((hi - lo).days + 1)))

    def early_day(self, lo: date, hi: date) -> date:
        """A day in [lo, hi], most often near ``lo``."""
        return lo + timedelta(days=int(self.random() ** 2 * ((hi - lo).days + 1)))


# ----------------------------------------------------------------------------- the actors


@dataclass(slots=True)
class _Institution:
    code: str
    name: str
    kind: str
    level: int | None
    category: str | None
    settlements: int = 0
    visits: int = 0

    def next_settlement(self) -> str:
        self.settlements += 1
        return f"{self.code}-S{self.settlements:07d}"

    def next_visit(self) -> str:
        self.visits += 1
        return f"{self.code}-V{self.visits:07d}"


@dataclass(slots=True)
class _Member:
    prefix: str
    """``M`` and the region's code, one string for every member."""
    number: int
    """The member's number in the city, from 1: the rest of ``psn_no`` (a string each was 60 MB)."""
    retired: bool
    base: Decimal
    chronic: bool
    pays_by_account: bool
    no_visit: Chance
    """exp(−visit rate): the chance of a month without a visit (Poisson)."""
    family_doctor: _Institution | None
    pharmacy: _Institution
    enrolled_on: date
    last_day: date
    """The last day a fact about the member may carry: the period's end, or the day before leaving."""
    left: bool = False
    busy_until: date = date.min
    """The latest date of any fact planned for the member: a departure must come after it."""
    rebased_on: date = date.min
    """The day of the member's latest contribution-base change: a fact's key is the member, its
    type and its day, so a second change the same day would be refused as the first reused."""
    admitted: tuple[date, date] | None = None
    suspended: tuple[date, date] | None = None
    balance_floor: int = 0
    """A balance the account is sure to hold, in fen: credits closed so far, less every account use
    and the whole cost of every claim allowed to draw on the account (it draws at most that).

    It may go below zero. Claims are planned ahead of their dates (a purchase next month), so
    clamping at zero here would forget a debit that the ledger makes after a later credit."""
    fund_year: int = 0
    """The year of ``fund_used``; ``fund_next`` is the year after's (a purchase planned into January)."""
    fund_used: int = 0
    """The pooling fund's estimated spending on the member in ``fund_year``, within the annual cap,
    in ten-thousandths of a yuan (a share is 53 % of an amount in fen: four places, exact)."""
    fund_next: int = 0

    def fund_in(self, year: int) -> Decimal:
        """The fund's estimated spending on the member in ``year`` (planning never looks back a year)."""
        if year == self.fund_year + 2:
            self.fund_year, self.fund_used, self.fund_next = year - 1, self.fund_next, 0
        elif year > self.fund_year + 2:
            self.fund_year, self.fund_used, self.fund_next = year, 0, 0
        return Decimal(self.fund_used if year == self.fund_year else self.fund_next).scaleb(-4)

    def add_fund(self, year: int, share: Decimal) -> None:
        """Add ``share`` (negative for a reversal) to the year's estimate; ``fund_in(year)`` came first."""
        units = int(share.scaleb(4))
        if year == self.fund_year:
            self.fund_used += units
        else:
            self.fund_next += units

    @property
    def psn_no(self) -> str:
        return f"{self.prefix}{self.number:06d}"

    def in_hospital(self, day: date) -> bool:
        return self.admitted is not None and self.admitted[0] <= day < self.admitted[1]

    def suspended_on(self, day: date) -> bool:
        return self.suspended is not None and self.suspended[0] <= day < self.suspended[1]


Record = tuple[str, tuple[Any, ...]]
"""A planned message: the name of its builder in ``_BUILDERS`` and the builder's arguments (its date
is the day it is filed under in the :class:`_Spool`).

Only atoms and tuples of atoms, so the garbage collector stops tracking a planned year."""


SPOOL_LIMIT = 50_000
"""Planned records held in memory before they are filed to disk (about 30 MB of them)."""


class _Spool:
    """The planned records, filed by day: in memory up to ``limit``, then appended to a file per day.

    A year is planned before any of it is written (see the module's docstring); at a million
    members that is ten million records, gigabytes as objects. Filing each record under its day,
    in the order planned, is the stable sort by date the writer needs, so the days are read back
    one at a time, each file in the order its records were planned. A small city never touches
    the disk.
    """

    def __init__(self) -> None:
        self.limit = SPOOL_LIMIT
        self.pending: dict[date, list[Record]] = {}
        self.held = 0
        self.folder: tempfile.TemporaryDirectory[str] | None = None
        self.on_disk: set[date] = set()

    def add(self, day: date, record: Record) -> None:
        self.pending.setdefault(day, []).append(record)
        self.held += 1
        if self.held >= self.limit:
            self._flush()

    def take(self, day: date) -> Iterator[Record]:
        """The records filed under ``day``, in the order planned; forgotten once read."""
        if day in self.on_disk and self.folder is not None:
            self.on_disk.discard(day)
            path = f"{self.folder.name}/{day}"
            with open(path, "rb") as f:
                while True:
                    try:
                        yield from pickle.load(f)
                    except EOFError:
                        break
        records = self.pending.pop(day, [])
        self.held -= len(records)
        yield from records

    def close(self) -> None:
        if self.folder is not None:
            self.folder.cleanup()

    def _flush(self) -> None:
        if self.folder is None:
            self.folder = tempfile.TemporaryDirectory(prefix="ledger-city-")
        for day, records in self.pending.items():
            with open(f"{self.folder.name}/{day}", "ab") as f:
                pickle.dump(records, f, protocol=pickle.HIGHEST_PROTOCOL)
            self.on_disk.add(day)
        self.pending.clear()
        self.held = 0

# --------------------------------------------------------------------------- the builders


def _lines(lines: tuple[Line, ...]) -> list[dict[str, str]]:
    out = []
    for sn, (index, cnt) in enumerate(lines, 1):
        item = _CATALOG[index]
        line = {"feedetl_sn": _SN[sn], "med_list_codg": item.code, "name": item.name, "cnt": _qty(cnt),
                "pric": item.pric, "chrgitm_lv": item.lv}
        if item.std is not None:
            line["pric_uplmt_amt"] = item.std
        out.append(line)
    return out


def _registered(day: date, inst: _Institution, admdvs: str, extra: dict[str, Any]) -> Message:
    msg: Message = {"type": "institution.registered", "date": day.isoformat(), "fixmedins_code": inst.code,
                    "fixmedins_name": inst.name, "admdvs": admdvs, "kind": inst.kind}
    if inst.level is not None:
        msg["level"] = inst.level
    msg["pooling_designated"] = True
    msg.update(extra)
    return msg


def _enrolled(day: date, psn_no: str, admdvs: str, psn_type: str, base: str,
              family_doctor: str | None) -> Message:
    msg = {"type": "member.enrolled", "date": day.isoformat(), "psn_no": psn_no, "admdvs": admdvs,
           "psn_type": psn_type, "contribution_base": base}
    if family_doctor is not None:
        msg["family_doctor_fixmedins_code"] = family_doctor
    return msg


def _fact(day: date, type_: str, psn_no: str, extra: tuple[tuple[str, str], ...] = ()) -> Message:
    msg = {"type": f"member.{type_}", "date": day.isoformat(), "psn_no": psn_no}
    msg.update(extra)
    return msg


def _visit(day: date, setl: str, mdtrt: str, psn_no: str, code: str, med_type: str, acct: bool,
           lines: tuple[Line, ...], setl_date: date | None) -> Message:
    msg = {"type": "visit.settled", "date": day.isoformat(), "medins_setl_id": setl, "mdtrt_id": mdtrt,
           "psn_no": psn_no, "fixmedins_code": code, "med_type": med_type, "acct_used_flag": acct,
           "items": _lines(lines)}
    if setl_date is not None:
        msg["setl_date"] = setl_date.isoformat()
    return msg


def _prescription(day: date, rx_no: str, mdtrt: str, psn_no: str, code: str, med_type: str,
                  drugs: tuple[tuple[int, int, int], ...], chronic: bool, long_term: bool) -> Message:
    return {"type": "prescription.issued", "date": day.isoformat(), "rx_no": rx_no, "mdtrt_id": mdtrt,
            "psn_no": psn_no, "fixmedins_code": code, "med_type": med_type,
            "drugs": [{"med_list_codg": _CATALOG[i].code, "cnt": _qty(cnt), "days": days}
                      for i, cnt, days in drugs],
            "chronic": chronic, "long_term": long_term}


def _purchase(day: date, setl: str, rx_no: str, psn_no: str, code: str, acct: bool, lines: tuple[Line, ...],
              delivery_fee: str, split_reason: str) -> Message:
    msg = {"type": "purchase.settled", "date": day.isoformat(), "medins_setl_id": setl, "rx_no": rx_no,
           "psn_no": psn_no, "fixmedins_code": code, "acct_used_flag": acct, "items": _lines(lines),
           "delivery_fee": delivery_fee}
    if split_reason:
        msg["split_reason"] = split_reason
    return msg


def _reversal(day: date, setl: str, reason: str) -> Message:
    return {"type": "settlement.reversed", "date": day.isoformat(), "medins_setl_id": setl, "reason": reason}


def _account_used(day: date, psn_no: str, amount: str, beneficiary: str, purpose: str,
                  reference: str) -> Message:
    return {"type": "account.used", "date": day.isoformat(), "psn_no": psn_no, "amount": amount,
            "beneficiary": beneficiary, "purpose": purpose, "reference": reference}


def _assessed(day: date, code: str, year: int, score: str) -> Message:
    return {"type": "institution.assessed", "date": day.isoformat(), "fixmedins_code": code, "year": year,
            "score": score}


def _reviewed(day: date, code: str, year: int, sampled: str, violation: str) -> Message:
    return {"type": "institution.reviewed", "date": day.isoformat(), "fixmedins_code": code, "year": year,
            "sampled_total": sampled, "violation_amount": violation}


def _reimbursement(day: date, claim_id: str, psn_no: str, code: str, served: date, lines: tuple[Line, ...]) -> Message:
    return {"type": "reimbursement.claimed", "date": day.isoformat(), "claim_id": claim_id, "psn_no": psn_no,
            "fixmedins_code": code, "service_date": served.isoformat(), "items": _lines(lines)}


def _institution_month(day: date, type_: str, code: str, month: str) -> Message:
    return {"type": f"institution.{type_}", "date": day.isoformat(), "fixmedins_code": code, "month": month}


_BUILDERS: dict[str, Callable[..., Message]] = {
    "enrolled": _enrolled, "fact": _fact, "visit": _visit, "prescription": _prescription,
    "purchase": _purchase, "reversal": _reversal, "account_used": _account_used, "assessed": _assessed,
    "reviewed": _reviewed, "reimbursement": _reimbursement, "institution_month": _institution_month,
}
"""The builder each planned record names."""


def _totals(lines: tuple[Line, ...]) -> tuple[Decimal, Decimal]:
    """A bill's total cost and the part that can be in policy scope."""
    medfee = scope = ZERO
    for index, cnt in lines:
        item = _CATALOG[index]
        medfee += item.price * cnt
        scope += item.scope * cnt
    return medfee, scope


# ------------------------------------------------------------------------------- the city


class _City:
    """The simulation: institutions, members, and the months planned but not yet written."""

    def __init__(self, spec: CitySpec) -> None:
        self.spec = spec
        self.months = spec.periods()
        self.first_day, self.last_day = self.months[0].start, self.months[-1].end
        self.rules = _Rules(spec.admdvs, self.months)
        self.dice = _Dice(f"yibao-synthetic/{spec.admdvs}/{spec.seed}")
        self.jiaozuo = any(self.rules.on(m.end).scheme == JIAOZUO for m in self.months)
        self.city_name = self.rules.library.regions[spec.admdvs].name
        self.spool = _Spool()
        self.fund_estimate: dict[int, Decimal] = {}
        self.review_sample: dict[int, list[Decimal]] = {}
        """The specialist's costliest visits of each year so far, at most ``REVIEW_SAMPLE`` (a min-heap)."""
        self.life_counts: dict[str, int] = {}
        self.rx_serial = self.reference_serial = 0
        self.hospitals = [self._hospital(i) for i in range(spec.hospitals)]
        self.pharmacies = [self._pharmacy(i) for i in range(spec.pharmacies)]
        self.primaries = [h for h in self.hospitals if h.level == 1]
        self.inpatient = [h for h in self.hospitals if h.level != 1]
        self.specialist = next((h for h in self.hospitals if h.category == "specialist"), None)
        """The institution whose overspend is reviewed each year (Jiaozuo only)."""
        self.hospital_weights = list(accumulate(_HOSPITAL_WEIGHT[h.level or 1] for h in self.hospitals))
        others = max(1 - CHRONIC_ACTIVITY * spec.share_chronic, 0.05) / max(1 - spec.share_chronic, 0.05)
        self.no_visit = {chronic: math.exp(-spec.visits_per_member_month * (CHRONIC_ACTIVITY if chronic else others))
                         for chronic in (False, True)}
        """exp(−visit rate) of a member without and with a chronic disease (see ``_Member.no_visit``)."""
        self.interned: dict[Any, Any] = {}
        """One object for each date and contribution base members hold: a million members share a few hundred."""
        self.psn_prefix = f"M{spec.admdvs}"
        self.members = [self._member(i) for i in range(1, spec.members + 1)]
        self.residence = self._residence()
        self.remote_hospitals = [
            _Institution(f"H{self.residence}{i:03d}", f"{self.rules.library.regions[self.residence].name}{label}",
                         "hospital", 2, None)
            for i, label in ((901, "异地就医直接结算医院"), (902, "异地就医定点医院"))]
        """A member lives in ``residence`` for a while: one hospital there settles directly, one does not."""

    def _residence(self) -> str:
        """A neighbouring region with a profile: one of the same province if there is one."""
        others = [a for a in self.rules.library.regions_known() if a != self.spec.admdvs]
        return next((a for a in others if a[:2] == self.spec.admdvs[:2]), others[0])

    # ------------------------------------------------------------------ actors

    def _hospital(self, i: int) -> _Institution:
        level, category, label = _HOSPITAL_PROFILES[i % len(_HOSPITAL_PROFILES)]
        branch = i // len(_HOSPITAL_PROFILES)
        name = f"{self.city_name}{label}" + (f"第{branch + 1}分院" if branch else "")
        return _Institution(f"H{self.spec.admdvs}{i + 1:03d}", name, "hospital", level,
                            category if self.jiaozuo else None)

    def _pharmacy(self, i: int) -> _Institution:
        chain = _PHARMACY_CHAINS[i % len(_PHARMACY_CHAINS)]
        name = f"{chain}（{self.city_name}{_DISTRICTS[i % len(_DISTRICTS)]}）"
        return _Institution(f"P{self.spec.admdvs}{i + 1:03d}", name, "pharmacy", None, None)

    def _member(self, i: int) -> _Member:
        spec, dice = self.spec, self.dice
        chronic = dice.chance(spec.share_chronic)
        family_doctor = None
        if self.primaries and dice.chance(spec.share_family_doctor):
            family_doctor = dice.pick(self.primaries)
        enrolled_on = self.first_day
        if len(self.months) > 1 and dice.chance(spec.share_late_enrolment):
            month = self.months[dice.between(1, len(self.months) - 1)]
            enrolled_on = dice.day(month.start, month.end)
        return _Member(
            prefix=self.psn_prefix, number=i, retired=dice.chance(spec.share_retired),
            base=self._intern(Decimal(100 * dice.between(30, 120)).quantize(FEN)), chronic=chronic,
            pays_by_account=dice.chance(spec.share_account_payers), no_visit=self.no_visit[chronic],
            family_doctor=family_doctor, pharmacy=dice.pick(self.pharmacies), enrolled_on=enrolled_on,
            last_day=self.last_day,
        )

    def _intern(self, value: T) -> T:
        return self.interned.setdefault(value, value)

    def _registration_extra(self, inst: _Institution) -> dict[str, Any]:
        """Jiaozuo's category, and for a specialist its own cost per visit of past years (四（一）1)."""
        if inst.category is None:
            return {}
        extra: dict[str, Any] = {"category": inst.category}
        if inst.category == "specialist":
            years = range(self.months[0].year - 5, self.months[-1].year)
            covid = [y for y in years if y in COVID_YEARS]
            extra["cost_history"] = {
                str(y): money_str(Decimal(self.dice.between(11000, 15000) if y in covid else
                                          self.dice.between(15000, 17500)) / 100)
                for y in years
            }
            extra["covid_depressed_years"] = covid
            extra["provincial_class_average"] = money_str(PROVINCIAL_SPECIALIST_AVERAGE)
        return extra

    # ---------------------------------------------------------------- messages

    def messages(self) -> Iterator[Message]:
        """Every message of the city, in an order the ledger accepts."""
        for inst in (*self.hospitals, *self.pharmacies):
            yield _registered(self.first_day, inst, self.spec.admdvs, self._registration_extra(inst))
        direct, other = self.remote_hospitals
        # Prepaid and cleared by this region like its own institutions: Jiaozuo's clearing needs a category.
        category = {"category": "county_general"} if self.jiaozuo else {}
        yield _registered(self.first_day, direct, self.residence, {"remote_direct_settlement": True, **category})
        yield _registered(self.first_day, other, self.residence, category)
        for m in self.members:
            facts = (m.psn_no, self.spec.admdvs, "12" if m.retired else "11", money_str(m.base),
                     m.family_doctor.code if m.family_doctor else None)
            if m.enrolled_on == self.first_day:
                yield _enrolled(m.enrolled_on, *facts)
            else:
                self._add_record(m.enrolled_on, "enrolled", facts)
        try:
            yield from self._years()
        finally:
            self.spool.close()

    def _years(self) -> Iterator[Message]:
        """Each year planned, then written month by month."""
        for year in dict.fromkeys(m.year for m in self.months):
            months = [m for m in self.months if m.year == year]
            for month in months:
                self._plan_month(month, top_up=month is months[len(months) // 2])
            if any(self.rules.on(m.end).scheme == KAIFENG for m in months):
                yield self._budget(year, months[0].start)
            for month in months:
                yield from self._render(month)
            if months[-1].number == 12:
                yield {"type": "year.closed", "date": months[-1].end.isoformat(), "admdvs": self.spec.admdvs,
                       "year": year}

    def _render(self, month: _Month) -> Iterator[Message]:
        day = month.start
        while day <= month.end:
            for kind, args in self.spool.take(day):  # same-day facts in the order they were planned
                yield _BUILDERS[kind](day, *args)
            day += timedelta(days=1)
        yield {"type": "month.closed", "date": month.end.isoformat(), "admdvs": self.spec.admdvs,
               "month": month.key}

    def _budget(self, year: int, day: date) -> Message:
        """The annual budget, sized so the estimated pooled total uses ``target_usage`` of it."""
        estimate = self.fund_estimate.get(year, ZERO) / Decimal(str(self.spec.target_usage))
        amount = max((estimate / 100).to_integral_value(ROUND_CEILING) * 100, Decimal(100))
        return {"type": "budget.set", "date": day.isoformat(), "admdvs": self.spec.admdvs, "year": year,
                "amount": money_str(amount)}

    def _add_record(self, day: date, kind: str, args: tuple[Any, ...]) -> None:
        self.spool.add(day, (kind, args))

    def _add(self, m: _Member, day: date, kind: str, args: tuple[Any, ...]) -> None:
        """Plan a fact about ``m``: it must fall while the member is present."""
        if not m.enrolled_on <= day <= m.last_day:
            msg = f"{m.psn_no}: {kind} on {day} is outside {m.enrolled_on}..{m.last_day}"
            raise AssertionError(msg)
        if day > m.busy_until:
            m.busy_until = self._intern(day)
        self._add_record(day, kind, args)

    # ---------------------------------------------------------------- planning

    def _plan_month(self, month: _Month, *, top_up: bool) -> None:
        if top_up:
            self._top_up(month)
        if month is self.months[0]:
            self._plan_remote_stay(month)
        else:
            self._plan_pharmacy_payments(month)
        for m in self.members:
            if not m.left and m.enrolled_on <= month.end:
                self._plan_member_month(m, month)
        if month.number == 12:
            self._plan_year_end(month)

    def _plan_member_month(self, m: _Member, month: _Month) -> None:
        dice = self.dice
        lo = max(month.start, m.enrolled_on)
        credit = self.rules.on(month.end).credit_floor(m.base)
        if month.number == 7 and dice.chance(P_BASE_CHANGE_JULY):
            self._life_event("rebase", m, lo, month.end)
        u = dice.random()
        if u < LIFE_EVENT_RATE:
            for kind, rate in LIFE_EVENTS:
                if u < rate:
                    self._life_event(kind, m, lo, month.end)
                    break
                u -= rate
        hi = min(month.end, m.last_day)
        if lo <= hi:
            self._plan_visits(m, lo, hi)
            self._plan_account_use(m, lo, hi)
        if m.last_day >= month.end and not m.suspended_on(month.end):
            m.balance_floor += to_fen(credit)

    def _plan_remote_stay(self, month: _Month) -> None:
        """A member registered in the neighbouring region for the first month (信政办〔2022〕23号 第十五条).

        A visit at the hospital there that settles directly, one paid in full at the other and
        claimed back, then the registration cancelled.
        """
        m = next((m for m in self.members if m.enrolled_on == self.first_day), None)
        if m is None:
            return
        direct, other = self.remote_hospitals
        lines = ((_CONSULTATION[2].place, 1), (_TESTS[0].place, 1), (_TESTS[8].place, 1))
        self._add(m, month.start, "fact", ("remote_registered", m.psn_no,
                                           (("residence_admdvs", self.residence), ("kind", "resident"))))
        self._add(m, month.start.replace(day=10), "visit", (direct.next_settlement(), direct.next_visit(), m.psn_no,
                                                            direct.code, "11", False, lines, None))
        self._add(m, month.start.replace(day=20), "reimbursement", (f"{other.code}-C0000001", m.psn_no, other.code,
                                                                    month.start.replace(day=12), lines))
        self._add(m, month.start.replace(day=25), "fact", ("remote_cancelled", m.psn_no))

    def _plan_pharmacy_payments(self, month: _Month) -> None:
        """Each pharmacy's previous month received on the 5th and paid on the 25th (医保办发〔2023〕4号 三（四））."""
        previous = f"{month.start - timedelta(days=1):%Y-%m}"
        for pharmacy in self.pharmacies:
            self._add_record(month.start.replace(day=5), "institution_month", ("month_received", pharmacy.code,
                                                                               previous))
            self._add_record(month.start.replace(day=25), "institution_month", ("month_paid", pharmacy.code,
                                                                                previous))

    def _top_up(self, month: _Month) -> None:
        """Make sure each year shows every rare fact at least once, however small the city."""
        for kind, _ in LIFE_EVENTS:
            if self.life_counts.get(f"{month.year}/{kind}"):
                continue
            for _attempt in range(20):
                m = self.dice.pick(self.members)
                present = not m.left and m.enrolled_on <= month.start
                if present and self._life_event(kind, m, month.start, month.end):
                    break

    # ------------------------------------------------------------- life events

    def _life_event(self, kind: str, m: _Member, lo: date, hi: date) -> bool:
        """Plan a rare fact if the member's state allows it; whether it was planned."""
        hi = min(hi, m.last_day)
        if lo > hi:
            return False
        planned = getattr(self, f"_{kind}")(m, lo, hi)
        if planned:
            key = f"{lo.year}/{kind}"
            self.life_counts[key] = self.life_counts.get(key, 0) + 1
        return planned

    def _retire(self, m: _Member, lo: date, hi: date) -> bool:
        if m.retired:
            return False
        m.retired = True
        self._add(m, self.dice.day(lo, hi), "fact", ("retired", m.psn_no))
        return True

    def _suspend(self, m: _Member, lo: date, hi: date) -> bool:
        if m.suspended is not None and m.suspended[1] >= lo:
            return False
        dice = self.dice
        start = dice.day(lo, hi)
        until = start + timedelta(days=dice.between(15, 75))
        self._add(m, start, "fact", ("suspended", m.psn_no, (("reason", dice.pick(_SUSPENSION_REASONS)),)))
        if until <= m.last_day:
            self._add(m, until, "fact", ("resumed", m.psn_no))
            m.suspended = (start, until)
        else:
            m.suspended = (start, date.max)
        return True

    def _admit(self, m: _Member, lo: date, hi: date) -> bool:
        if not self.inpatient or (m.admitted is not None and m.admitted[1] >= lo):
            return False
        dice = self.dice
        start = dice.day(lo, hi)
        until = start + timedelta(days=dice.between(3, 15))
        hospital = dice.pick(self.inpatient)
        self._add(m, start, "fact", ("admitted", m.psn_no, (("fixmedins_code", hospital.code),)))
        if until <= m.last_day:
            self._add(m, until, "fact", ("discharged", m.psn_no))
            m.admitted = (start, until)
        else:
            m.admitted = (start, date.max)
        if dice.chance(P_VISIT_WHILE_ADMITTED):  # booked, but not paid by the pool
            self._plan_visit(m, dice.day(start, min(until - timedelta(days=1), m.last_day)))
        return True

    def _sign(self, m: _Member, lo: date, hi: date) -> bool:
        if m.family_doctor is not None or not self.primaries:
            return False
        m.family_doctor = self.dice.pick(self.primaries)
        self._add(m, self.dice.day(lo, hi), "fact",
                  ("family_doctor_signed", m.psn_no, (("fixmedins_code", m.family_doctor.code),)))
        return True

    def _transfer(self, m: _Member, lo: date, hi: date) -> bool:
        destination = self.dice.pick(_DESTINATIONS)
        return self._leave(m, lo, hi, ("transferred_out", m.psn_no, (("destination", destination),)))

    def _die(self, m: _Member, lo: date, hi: date) -> bool:
        return self._leave(m, lo, hi, ("deceased", m.psn_no, (("heir", self.dice.pick(_HEIRS)),)))

    def _leave(self, m: _Member, lo: date, hi: date, args: tuple[Any, ...]) -> bool:
        """The member's last fact: after everything already planned for them."""
        lo = max(lo, m.busy_until + timedelta(days=1))
        if lo > hi:
            return False
        day = self.dice.day(lo, hi)
        self._add(m, day, "fact", args)
        m.left, m.last_day = True, day - timedelta(days=1)
        return True

    def _rebase(self, m: _Member, lo: date, hi: date) -> bool:
        """A new contribution base, 2–8 % up to the 10 yuan: the July adjustment, or a correction."""
        if m.retired or lo > hi:
            return False
        raised = m.base * (100 + self.dice.between(2, 8)) / 1000
        day = self.dice.day(lo, hi)
        if day == m.rebased_on:  # a correction drawn for the day of July's adjustment: the next day, if any
            day += timedelta(days=1)
            if day > hi:
                return False
        m.base = self._intern((raised.to_integral_value() * 10).quantize(FEN))
        m.rebased_on = self._intern(day)
        self._add(m, day, "fact", ("contribution_base_changed", m.psn_no, (("contribution_base", money_str(m.base)),)))
        return True

    # ------------------------------------------------------------------ visits

    def _plan_visits(self, m: _Member, lo: date, hi: date) -> None:
        """The month's visits: a Poisson count (Knuth's product of uniforms), on sorted days."""
        dice = self.dice
        count, p = 0, dice.random()
        while p > m.no_visit:
            count += 1
            p *= dice.random()
        if count:
            for day in sorted(dice.day(lo, hi) for _ in range(count)):
                self._plan_visit(m, day)

    def _choose_hospital(self, m: _Member) -> _Institution:
        if m.family_doctor is not None and self.dice.chance(P_OWN_FAMILY_DOCTOR):
            return m.family_doctor
        return self.hospitals[bisect(self.hospital_weights, self.dice.random() * self.hospital_weights[-1])]

    def _plan_visit(self, m: _Member, day: date) -> None:
        """A visit: one or two bills under its serial number, maybe a prescription filled later."""
        dice, terms = self.dice, self.rules.on(day)
        hospital = self._choose_hospital(m)
        level = hospital.level or 1
        emergency = level > 1 and dice.chance(P_EMERGENCY)
        med_type = "13" if emergency else "11"
        mdtrt = hospital.next_visit()
        rx_kind = self._rx_kind(m, emergency)
        deductible = terms.deductible[level]
        days_limit = terms.days_limit["emergency" if emergency else "normal"]
        lines = self._visit_lines(level, rx_kind is None, days_limit)
        paid = self._bill(m, day, hospital, mdtrt, med_type, lines, (deductible, ZERO))
        if dice.chance(P_SECOND_BILL):
            lines = self._second_bill_lines()
            paid += self._bill(m, day, hospital, mdtrt, med_type, lines, (deductible, paid))
        if rx_kind is not None:
            self._plan_prescription(m, day, hospital, mdtrt, med_type, rx_kind, paid)

    def _rx_kind(self, m: _Member, emergency: bool) -> str | None:
        dice = self.dice
        if not dice.chance(P_RX_CHRONIC_MEMBER if m.chronic else P_RX_OTHER):
            return None
        if emergency:
            return "emergency"
        if m.chronic and dice.chance(P_RX_CHRONIC_KIND):
            return "long_term" if dice.chance(P_LONG_TERM) else "chronic"
        return "normal"

    def _visit_lines(self, level: int, with_drugs: bool, days_limit: int) -> tuple[Line, ...]:
        """Consultation, some tests, maybe a treatment, drugs dispensed here, maybe a self-paid line."""
        dice = self.dice
        lines: list[Line] = [(_CONSULTATION[level].place, 1)]
        lines += [(test.place, 1) for test in dice.some(_TESTS, dice.pick(_TEST_COUNTS[level]))]
        if dice.chance(P_TREATMENT):
            lines.append((dice.pick(_TREATMENTS).place, dice.between(1, 3)))
        if with_drugs:
            for drug in dice.some(_ACUTE_DRUGS, dice.between(1, 3)):
                lines.append((drug.place, drug.per_day * dice.between(min(3, days_limit), days_limit)))
        if dice.chance(P_SELF_PAID):
            item = dice.pick(_SELF_PAID)
            lines.append((item.place, item.per_day * (30 if item.per_day > 1 else 1)))
        return tuple(lines)

    def _second_bill_lines(self) -> tuple[Line, ...]:
        dice = self.dice
        lines: list[Line] = [(test.place, 1) for test in dice.some(_TESTS, dice.between(1, 2))]
        if dice.chance(0.5):
            lines.append((dice.pick(_TREATMENTS).place, dice.between(1, 2)))
        return tuple(lines)

    def _bill(self, m: _Member, day: date, hospital: _Institution, mdtrt: str, med_type: str,
              lines: tuple[Line, ...], deductible: tuple[Decimal, Decimal]) -> Decimal:
        """One ``visit.settled``; the deductible it is estimated to meet (``deductible``: standard, paid before)."""
        dice = self.dice
        setl = hospital.next_settlement()
        acct = m.pays_by_account and dice.chance(P_ACCOUNT_PAYS)
        setl_date = self._late_upload(day) if dice.chance(P_LATE_UPLOAD) else None
        self._add(m, day, "visit", (setl, mdtrt, m.psn_no, hospital.code, med_type, acct, lines, setl_date))
        medfee, scope = _totals(lines)
        if hospital is self.specialist:
            sample = self.review_sample.setdefault(day.year, [])
            if len(sample) < REVIEW_SAMPLE:
                heapq.heappush(sample, medfee)
            elif medfee > sample[0]:
                heapq.heapreplace(sample, medfee)
        return self._settled(m, day, setl, medfee, scope, deductible, acct)

    def _late_upload(self, day: date) -> date | None:
        """A settlement a few days after the visit, within the month (焦医保〔2024〕32号 一（一）)."""
        settled = min(day + timedelta(days=self.dice.between(1, 5)), month_end(f"{day:%Y-%m}"), self.last_day)
        return settled if settled > day else None

    def _settled(self, m: _Member, day: date, setl: str, medfee: Decimal, scope: Decimal,
                 deductible: tuple[Decimal, Decimal], acct: bool) -> Decimal:
        """Account for a claim: the balance it may draw, the fund it may cost, a possible reversal."""
        if acct:
            m.balance_floor -= to_fen(medfee)  # never clamped at zero: see ``_Member.balance_floor``
        charged = deductible_charged_datong_art21(scope, *deductible)
        share = self._estimate(m, day, scope - charged)
        if self.dice.chance(P_REVERSAL):
            self._plan_reversal(m, day, setl, share)
        return charged

    def _estimate(self, m: _Member, day: date, above_deductible: Decimal) -> Decimal:
        """The pooling fund's rough share of a claim, within the member's annual cap."""
        if above_deductible <= 0 or m.in_hospital(day) or m.suspended_on(day):
            return ZERO
        terms = self.rules.on(day)
        used = m.fund_in(day.year)
        cap = annual_cap_xinyang_art5_3(RETIRED if m.retired else IN_SERVICE, terms.reader)
        share = min(above_deductible * FUND_SHARE, max(cap - used, ZERO))
        m.add_fund(day.year, share)
        self.fund_estimate[day.year] = self.fund_estimate.get(day.year, ZERO) + share
        return share

    def _plan_reversal(self, m: _Member, day: date, setl: str, share: Decimal) -> None:
        """2208: the settlement undone a few days later; its estimated fund share with it."""
        when = min(day + timedelta(days=self.dice.between(0, 3)), m.last_day)
        self._add(m, when, "reversal", (setl, self.dice.pick(_REVERSAL_REASONS)))
        if share:
            m.fund_in(day.year)
            m.add_fund(day.year, -share)
            self.fund_estimate[day.year] -= share

    # ----------------------------------------------------------- prescriptions

    def _plan_prescription(self, m: _Member, day: date, hospital: _Institution, mdtrt: str, med_type: str,
                           kind: str, paid: Decimal) -> None:
        """An e-prescription within its days limit, usually filled at a pharmacy."""
        dice = self.dice
        limit = self.rules.on(day).days_limit[kind]
        if kind in ("chronic", "long_term"):
            choices: tuple[_Item, ...] = _CHRONIC_DRUGS
            days = dice.pick((limit, limit, limit - limit // 4))
        else:
            choices, days = _ACUTE_DRUGS, dice.between(min(3, limit), limit)
        drugs = tuple((d.place, d.per_day * days, days) for d in dice.some(choices, dice.between(1, 3)))
        self.rx_serial += 1
        rx_no = f"RX{self.spec.admdvs}{self.rx_serial:07d}"
        chronic = kind in ("chronic", "long_term")
        self._add(m, day, "prescription",
                  (rx_no, mdtrt, m.psn_no, hospital.code, med_type, drugs, chronic, kind == "long_term"))
        if not dice.chance(P_UNFILLED):
            self._plan_purchases(m, day, rx_no, hospital.level or 1, drugs, paid)

    def _plan_purchases(self, m: _Member, issued: date, rx_no: str, prescriber_level: int,
                        drugs: tuple[tuple[int, int, int], ...], paid: Decimal) -> None:
        """Fill the prescription within its validity: at once, in two halves, or at two pharmacies.

        The same drug is never bought at two institutions (同医保办发〔2022〕1号 第十三条).
        """
        dice = self.dice
        last = min(valid_through_datong_art10(issued, self.rules.on(issued).reader)[0], m.last_day)
        first = dice.early_day(issued, last)
        lines = tuple((d, cnt) for d, cnt, _ in drugs)
        u = dice.random()
        if u < P_SPLIT_SAME_PHARMACY and all(cnt > 1 for _, cnt in lines):
            half = tuple((d, cnt // 2) for d, cnt in lines)
            rest = tuple((d, cnt - cnt // 2) for d, cnt in lines)
            fills = [(first, m.pharmacy, half, ""), (dice.day(first, last), m.pharmacy, rest, "")]
        elif (u < P_SPLIT_SAME_PHARMACY + P_SPLIT_TWO_PHARMACIES and len(lines) > 1
              and len(self.pharmacies) > 1):
            other = dice.pick([p for p in self.pharmacies if p is not m.pharmacy])
            second = dice.day(first, last)
            fills = [(first, m.pharmacy, lines[:1], ""), (second, other, lines[1:], _SPLIT_REASON)]
        else:
            fills = [(first, m.pharmacy, lines, "")]
        for day, pharmacy, part, reason in fills:
            paid += self._purchase(m, day, rx_no, prescriber_level, pharmacy, part, reason, paid)

    def _purchase(self, m: _Member, day: date, rx_no: str, prescriber_level: int, pharmacy: _Institution,
                  lines: tuple[Line, ...], reason: str, paid: Decimal) -> Decimal:
        """One ``purchase.settled``; the deductible it is estimated to meet."""
        dice = self.dice
        setl = pharmacy.next_settlement()
        acct = m.pays_by_account and dice.chance(P_ACCOUNT_PAYS)
        delivery = dice.pick(_DELIVERY_FEES) if dice.chance(P_DELIVERY) else "0.00"
        self._add(m, day, "purchase", (setl, rx_no, m.psn_no, pharmacy.code, acct, lines, delivery, reason))
        medfee, scope = _totals(lines)
        deductible = self.rules.on(day).purchase_deductible(prescriber_level, paid)
        return self._settled(m, day, setl, medfee + Decimal(delivery), scope, deductible, acct)

    # ----------------------------------------------------------------- account

    def _plan_account_use(self, m: _Member, lo: date, hi: date) -> None:
        """A family member's bill or contribution paid from the account, well within its balance."""
        dice = self.dice
        if not dice.chance(P_ACCOUNT_USE) or m.balance_floor < MIN_ACCOUNT_USE * 100:
            return
        uses = self.rules.on(lo).account_uses
        if not uses:
            return
        beneficiary, purpose = dice.pick(uses)
        yuan = m.balance_floor * dice.between(20, 80) // 10_000  # 20–80 % of it, down to the yuan
        m.balance_floor -= yuan * 100
        amount = Decimal(yuan)
        self.reference_serial += 1
        reference = f"AU{self.spec.admdvs}{self.reference_serial:07d}"
        self._add(m, dice.day(lo, hi), "account_used",
                  (m.psn_no, money_str(amount), beneficiary, purpose, reference))

    # ---------------------------------------------------------------- year end

    def _plan_year_end(self, month: _Month) -> None:
        """Every institution assessed, and in Jiaozuo the specialist's overspend reviewed (六（一））."""
        dice = self.dice
        day = date(month.year, 12, 20)
        for inst in (*self.hospitals, *self.pharmacies):
            score = Decimal(dice.between(7500, 9950)).scaleb(-2)
            self._add_record(day, "assessed", (inst.code, month.year, str(score)))
        sample = self.review_sample.pop(month.year, [])
        if self.jiaozuo and self.specialist is not None and sample:
            sampled = sum(sample, ZERO)
            violation = (sampled * dice.pick(_VIOLATION_PERCENT) / 100).quantize(FEN)
            self._add_record(day, "reviewed",
                             (self.specialist.code, month.year, money_str(sampled), money_str(violation)))


# ------------------------------------------------------------------------------------- API


def generate(spec: CitySpec) -> Iterator[Message]:
    """The city's messages as JSON-ready dicts, in an order the ledger accepts.

    Raises ``ValueError`` at once (not on the first ``next``) when the region has no policy in
    force for some of the period, e.g. Jiaozuo before 2024-08.
    """
    return _City(spec).messages()


_ENCODE = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
"""``json.dumps(message, ensure_ascii=False, separators=(",", ":"))``, without rebuilding the encoder."""


def write_city(spec: CitySpec, path: str | Path) -> int:
    """Write the city as JSONL to ``path``; the number of lines written."""
    count = 0
    chunk: list[str] = []
    with open(path, "w", encoding="utf-8") as f:
        for message in generate(spec):
            chunk.append(_ENCODE(message))
            count += 1
            if len(chunk) == 10_000:
                f.write("\n".join(chunk) + "\n")
                chunk.clear()
        if chunk:
            f.write("\n".join(chunk) + "\n")
    return count
