"""A small city to audit, the facts the correction tests book, and the tools a tamperer would use.

Every figure below is Xinyang's (信政办〔2022〕23号), region 411500, which borrows Kaifeng's
global budget for paying institutions (汴医保〔2023〕29号 三（二）), so each year needs a
``budget.set`` before its months close:

- 第五条（一）deductible per visit: level 3 50.00, level 2 30.00, primary 0;
- 第五条（二）ratio: level 3 50 %, level 2 55 %; retired + 10 points;
- 第五条（三）annual cap: in service 1500.00, retired 2000.00;
- 第八条 monthly credit: in service 2 % of the base (6000.00 → 120.00), retired 60.00;
- 第十三条 a pharmacy is a level-2 institution (deductible 30.00, 55 %);
- 汴医保〔2023〕29号 三（二）: with a budget of 1 200 000.00 the month's allocation is
  100 000.00 × share, far above any actual here, so each institution is granted its actual and
  5 % of it is withheld as the deposit (a negative actual is recovered whole, nothing withheld).
"""

from __future__ import annotations

import calendar
import json
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from eventsourcing.persistence import DatetimeAsISO, JSONTranscoder
from freezegun import freeze_time
from freezegun.api import FakeDate, FakeDatetime
from sqlalchemy import inspect, text, update

from ledger.adapters.transcodings import DateAsISO
from ledger.domain.ids import member_id, settlement_id
from ledger.projections.chain import GENESIS, link, log_chain
from tests.support import (
    book,
    close_month,
    fact,
    institution,
    item,
    member,
    pharmacy,
    prescription,
    purchase,
    visit,
)

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from eventsourcing.persistence import Notification
    from sqlalchemy import Engine

    from ledger.services.application import Outcome, OutpatientPooling

XINYANG = "411500"
JIAOZUO = "410800"



def D(value: str) -> Decimal:
    """An exact amount."""
    return Decimal(value)


# ---------------------------------------------------------------- messages


def budget(year: int = 2024, admdvs: str = XINYANG, amount: str = "1200000.00") -> dict[str, Any]:
    return {"type": "budget.set", "date": f"{year}-01-01", "admdvs": admdvs, "year": year, "amount": amount}


def month(ym: str, admdvs: str = XINYANG) -> dict[str, Any]:
    """month.closed on the month's last day."""
    year, mon = (int(x) for x in ym.split("-"))
    return close_month(admdvs, ym, f"{ym}-{calendar.monthrange(year, mon)[1]:02d}")


def months(*yms: str, admdvs: str = XINYANG) -> list[dict[str, Any]]:
    return [month(ym, admdvs) for ym in yms]


def year_closed(year: int, admdvs: str = XINYANG) -> dict[str, Any]:
    return {"type": "year.closed", "date": f"{year}-12-31", "admdvs": admdvs, "year": year}


def reversal(setl: str, day: str, reason: str = "bill entered twice") -> dict[str, Any]:
    return {"type": "settlement.reversed", "date": day, "medins_setl_id": setl, "reason": reason}


def account_used(psn_no: str, amount: str, day: str, *, ref: str, beneficiary: str = "child",
                 purpose: str = "medical") -> dict[str, Any]:
    return {"type": "account.used", "date": day, "psn_no": psn_no, "amount": amount, "beneficiary": beneficiary,
            "purpose": purpose, "reference": ref}


def admitted(psn_no: str, day: str, hospital: str = "H2") -> dict[str, Any]:
    return fact("admitted", psn_no, day, fixmedins_code=hospital)


def discharged(psn_no: str, day: str) -> dict[str, Any]:
    return fact("discharged", psn_no, day)


def suspended(psn_no: str, day: str) -> dict[str, Any]:
    return fact("suspended", psn_no, day, reason="arrears")


def resumed(psn_no: str, day: str) -> dict[str, Any]:
    return fact("resumed", psn_no, day)


def retired(psn_no: str, day: str) -> dict[str, Any]:
    return fact("retired", psn_no, day)


def base_changed(psn_no: str, day: str, base: str) -> dict[str, Any]:
    return fact("contribution_base_changed", psn_no, day, contribution_base=base)


def booked(app: OutpatientPooling, *messages: dict[str, Any]) -> list[Outcome]:
    """Book messages that must every one be booked: a flow that silently refuses proves nothing."""
    outcomes = book(app, *messages)
    refused = [(m["type"], m.get("medins_setl_id") or m.get("psn_no") or m.get("month") or m.get("year"), o)
               for m, o in zip(messages, outcomes, strict=True) if o != "booked"]
    assert not refused, refused
    return outcomes


# ---------------------------------------------------------------- the small city


def small_city() -> list[dict[str, Any]]:
    """Two months of a small city, every figure worked by hand.

    Institutions: H3 level 3, H2 level 2, P1 a pharmacy. Members: M1 in service, M2 retired,
    both on a base of 6000.00.

    - S1 M1@H3 01-10, 400.00: (400 − 50) × 50 % = 175.00 fund, 225.00 cash.
    - S3 M2@H2 01-15, 200.00: (200 − 30) × (55 + 10) % = 110.50 fund, 89.50 cash.
    - January closes: M1 credited 120.00 (2 % × 6000), M2 60.00; H3 granted 175.00 (8.75
      withheld, 166.25 paid), H2 110.50 (5.53 withheld, 104.97 paid).
    - RX1 issued by H3 on 02-01; S2 M1@P1 02-03 on it: 30 × 3.20 = 96.00 plus a 5.00
      delivery fee (fully self-paid): (96 − 30) × 55 % = 36.30 fund; member 64.70, of which
      the account pays 59.70 (not the delivery fee) and cash 5.00; M1's balance 120 − 59.70 = 60.30.
    - S3 reversed on 02-06 (2208).
    - M2 pays 50.00 for a child's treatment from the account on 02-10: balance 60 − 50 = 10.00.
    - S4 M2@H3 02-20, 300.00: (300 − 50) × 60 % = 150.00; then M2's admission from 02-19 is
      recorded: S4 is re-adjudicated to a refusal (hospitalised), an adjustment of −150.00.
    - February closes: M1 +120.00 = 180.30, M2 +60.00 = 70.00; H2 recovers 110.50 (nothing
      withheld), P1 granted 36.30 (1.82 withheld, 34.48 paid), H3 0.00 (S4 and its adjustment).
    """
    return [
        budget(2024),
        institution("H3", level=3), institution("H2", level=2), pharmacy("P1"),
        member("M1"), member("M2", psn_type="12"),
        visit("S1", "M1", "H3", "2024-01-10", item("400.00")),
        visit("S3", "M2", "H2", "2024-01-15", item("200.00")),
        month("2024-01"),
        prescription("RX1", "M1", "H3", "2024-02-01", "V-S1", [("XC10", "30", 30)], chronic=True),
        purchase("S2", "RX1", "M1", "P1", "2024-02-03", item("3.20", cnt="30", code="XC10"), acct=True,
                 delivery_fee="5.00"),
        reversal("S3", "2024-02-06"),
        account_used("M2", "50.00", "2024-02-10", ref="R-1"),
        visit("S4", "M2", "H3", "2024-02-20", item("300.00")),
        admitted("M2", "2024-02-19"),
        month("2024-02"),
    ]


SMALL_CITY_SETTLEMENTS_REPLAYED = 5
"""S1, S3, S2, S4 settled and S4's adjustment."""

SMALL_CITY_JOURNAL_TOTAL = D("1754.30")
"""Debits (= credits) of the small city's journal, entry by entry (同医保办发〔2022〕1号 第二十七条):
S1 175.00; S3 110.50; January credits 120.00 (M1) + 2 × 60.00 (M2: the pooling fund pays it
into the account, two entries); January prepayments 175.00 + 110.50; S2 36.30 + 59.70; S3's
reversal 110.50; M2's account use 50.00; S4 150.00; S4's adjustment 150.00; February credits
120.00 + 2 × 60.00; February prepayments 110.50 (H2's recovery) + 36.30 (P1).
175 + 110.50 + 240 + 285.50 + 96 + 110.50 + 50 + 150 + 150 + 240 + 146.80 = 1754.30."""


def build_small_city(app: OutpatientPooling) -> None:
    booked(app, *small_city())


# ---------------------------------------------------------------- reading the log


def notifications(app: OutpatientPooling) -> list[Notification]:
    """The whole log, in order."""
    return list(app.recorder.select_notifications(1, 100_000))


def positions_of(app: OutpatientPooling, topic: str, psn_no: str | None = None) -> list[int]:
    """The positions of every event of ``topic`` (in member ``psn_no``'s stream, if given)."""
    stream = None if psn_no is None else member_id(psn_no)
    return [n.id for n in notifications(app) if n.topic == topic and stream in (None, n.originator_id)]


def settlement_events(app: OutpatientPooling, medins_setl_id: str) -> list[tuple[str, bytes]]:
    """A settlement's stored events (topic, stored bytes), in version order."""
    return [(e.topic, bytes(e.state)) for e in app.recorder.select_events(settlement_id(medins_setl_id))]


def decoded(app: OutpatientPooling, state: bytes) -> dict[str, Any]:
    return app.mapper.transcoder.decode(state)


# ---------------------------------------------------------------- tampering behind the ledger's back


@dataclass(frozen=True)
class EventsTable:
    """Where the store keeps the events, found by inspecting the database."""

    name: str
    position: str
    """The column holding the log position (``rowid`` on the core SQLite store)."""


def events_table(engine: Engine) -> EventsTable:
    """The table of stored events: the one (not snapshots) with the stored-event columns."""
    found = []
    inspector = inspect(engine)
    for name in inspector.get_table_names():
        columns = {c["name"] for c in inspector.get_columns(name)}
        if {"originator_id", "originator_version", "topic", "state"} <= columns and "snapshot" not in name:
            position = next((c for c in ("notification_id", "id") if c in columns), "rowid")
            found.append(EventsTable(name, position))
    assert len(found) == 1, found
    return found[0]


def _row(conn: Any, table: EventsTable, position: int) -> dict[str, Any]:
    row = conn.execute(text(f"SELECT originator_id, originator_version, topic, state FROM {table.name} "
                            f"WHERE {table.position} = :p"), {"p": position}).mappings().one()
    return dict(row)


def stored_state(app: OutpatientPooling, position: int) -> bytes:
    """The stored bytes of the event at ``position``, read straight from the table."""
    table = events_table(app.engine)
    with app.engine.connect() as conn:
        return bytes(_row(conn, table, position)["state"])


def stored_row(app: OutpatientPooling, position: int) -> dict[str, Any]:
    """The stored columns of the event at ``position``, as the table holds them."""
    table = events_table(app.engine)
    with app.engine.connect() as conn:
        return _row(conn, table, position)


def insert_row(app: OutpatientPooling, position: int, row: dict[str, Any]) -> None:
    """SQL INSERT of an event at a free ``position``."""
    table = events_table(app.engine)
    with app.engine.begin() as conn:
        conn.execute(text(f"INSERT INTO {table.name} ({table.position}, originator_id, originator_version, topic, "
                          f"state) VALUES (:p, :originator_id, :originator_version, :topic, :state)"),
                     {**row, "p": position})


def overwrite_state(app: OutpatientPooling, position: int, state: bytes) -> None:
    """SQL UPDATE of one event's stored payload."""
    table = events_table(app.engine)
    with app.engine.begin() as conn:
        done = conn.execute(text(f"UPDATE {table.name} SET state = :s WHERE {table.position} = :p"),
                            {"s": state, "p": position})
        assert done.rowcount == 1


def edit_payload(app: OutpatientPooling, position: int, old: bytes, new: bytes) -> None:
    """Replace ``old`` by ``new`` (exactly once) in the stored payload at ``position``."""
    state = stored_state(app, position)
    assert state.count(old) == 1, (old, state)
    overwrite_state(app, position, state.replace(old, new))


def delete_event(app: OutpatientPooling, position: int) -> None:
    """SQL DELETE of one event."""
    table = events_table(app.engine)
    with app.engine.begin() as conn:
        assert conn.execute(text(f"DELETE FROM {table.name} WHERE {table.position} = :p"),
                            {"p": position}).rowcount == 1


def swap_events(app: OutpatientPooling, a: int, b: int) -> None:
    """Swap the contents of two rows, leaving the positions where they were (a reordering)."""
    table = events_table(app.engine)
    update = text(f"UPDATE {table.name} SET originator_id = :originator_id, originator_version = :originator_version, "
                  f"topic = :topic, state = :state WHERE {table.position} = :p")
    with app.engine.begin() as conn:
        row_a, row_b = _row(conn, table, a), _row(conn, table, b)
        # Park row a out of the way of the (originator_id, originator_version) key first.
        conn.execute(text(f"UPDATE {table.name} SET originator_version = :v WHERE {table.position} = :p"),
                     {"v": -1_000_000 - a, "p": a})
        conn.execute(update, {**row_a, "p": b})
        conn.execute(update, {**row_b, "p": a})


def reseal(app: OutpatientPooling) -> None:
    """What a tamperer with the database can also do: recompute every link of the chain, then the read models."""
    previous = GENESIS
    with app.engine.begin() as conn:
        for n in notifications(app):
            previous = link(previous, n.id, n.originator_id, n.originator_version, n.topic, n.state)
            conn.execute(update(log_chain).where(log_chain.c.position == n.id).values(hash=previous))
    app.read_models.rebuild()


# ---------------------------------------------------------------- tampering with an export file


def export_lines(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines(keepends=True)


def line_position(line: bytes) -> int | None:
    """The position an exported line holds (None for the chain-head line)."""
    head = json.loads(line[:line.find(b',"payload":')] + b"}") if b',"payload":' in line else None
    return None if head is None else int(head["position"])


def line_index(lines: list[bytes], position: int) -> int:
    return next(i for i, line in enumerate(lines) if line_position(line) == position)


# ---------------------------------------------------------------- the wall clock


class _FakeDatetimeAsISO(DatetimeAsISO):
    type = FakeDatetime


class _FakeDateAsISO(DateAsISO):
    type = FakeDate


@contextmanager
def wall_clock(app: OutpatientPooling, when: str) -> Iterator[None]:
    """Freeze the wall clock, which stamps each event's recorded time, at ``when``.

    The store's transcoder looks types up exactly, so freezegun's stand-ins are registered under
    the same names as the real classes: what is stored is the same as without the freeze.
    """
    transcoder = app.mapper.transcoder
    assert isinstance(transcoder, JSONTranscoder)
    transcoder.register(_FakeDatetimeAsISO())
    transcoder.register(_FakeDateAsISO())
    with freeze_time(when):
        yield



# ---------------------------------------------------------------- a year for the what-if


REFORM = """\
document:
  id: xinyang-reform-2024
  issuer: 信阳市医疗保障局
  number: 信医保〔2024〕测算1号
  title: 职工门诊统筹待遇调整测算方案
  issued: 2023-12-01
  in_force: 2024-01-01
parameters:
  annual_cap_in_service:
    description: 在职职工普通门诊统筹年度最高支付限额（调整测算）
    unit: CNY
    values:
      2024-01-01: {value: "2000.00", article: 第一条}
  ratio_level3:
    description: 在三级定点医疗机构就医的统筹基金支付比例（调整测算）
    unit: /1
    values:
      2024-01-01: {value: "0.55", article: 第二条}
"""

EXPECTED_WHATIF_ROWS = [
    {"fixmedins_code": "H2", "settlements": 2, "fund": D("110.00"), "fund_whatif": D("110.00"),
     "member": D("520.00"), "member_whatif": D("520.00"), "fund_difference": D("0.00"),
     "member_difference": D("0.00")},
    {"fixmedins_code": "H3", "settlements": 3, "fund": D("1885.00"), "fund_whatif": D("2345.00"),
     "member": D("2465.00"), "member_whatif": D("2005.00"), "fund_difference": D("460.00"),
     "member_difference": D("-460.00")},
]


def whatif_year() -> list[dict[str, Any]]:
    """A small year of Xinyang 411500 for the what-if, and what ``REFORM`` changes.

    The reform raises, from 2024-01-01, the in-service annual cap 1500.00 → 2000.00 and the level-3
    ratio 50 % → 55 % (信政办〔2022〕23号 第五条（二）（三） as they stand). The year in Xinyang 411500:

    | settlement | member | now | what if |
    |---|---|---|---|
    | A1 H3 03-10 400.00 | M1 in service | (400 − 50) × 50 % = 175.00 | × 55 % = 192.50 |
    | A2 H2 03-12 230.00 | M1 | (230 − 30) × 55 % = 110.00 | 110.00 (level 2 unchanged) |
    | A3 H3 04-01 3550.00 | M3 in service | 3500 × 50 % = 1750.00, cap 1500.00 | 3500 × 55 % = 1925.00 < 2000 |
    | A4 H3 05-01 400.00 | M2 retired | 350 × 60 % = 210.00 | 350 × 65 % = 227.50 |
    | A5 H2 06-01 130.00 | M1 | reversed: drops out | — |
    | A6 H2 07-01 400.00 | M4 | refused after a backdated admission from 06-30: 0.00 | 0.00 |

    H3: fund 175 + 1500 + 210 = 1885.00 → 192.50 + 1925 + 227.50 = 2345.00 (+460.00); members
    225 + 2050 + 190 = 2465.00 → 2005.00 (−460.00). H2: fund 110.00 both; members 120 + 400 = 520.00.
    """
    return [
        institution("H3", level=3), institution("H2", level=2),
        member("M1"), member("M2", psn_type="12"), member("M3"), member("M4"),
        visit("A1", "M1", "H3", "2024-03-10", item("400.00")),
        visit("A2", "M1", "H2", "2024-03-12", item("230.00")),
        visit("A3", "M3", "H3", "2024-04-01", item("3550.00")),
        visit("A4", "M2", "H3", "2024-05-01", item("400.00")),
        visit("A5", "M1", "H2", "2024-06-01", item("130.00")),
        reversal("A5", "2024-06-02"),
        visit("A6", "M4", "H2", "2024-07-01", item("400.00")),
        admitted("M4", "2024-06-30", "H3"),
    ]
