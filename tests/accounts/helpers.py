"""Builders and probes shared by the personal-account, annual-cap and retirement tests.

Message builders extend ``tests.support`` with the facts these tests need (budget, account
use, retirement, leaving, reversal); the probes read what the ledger holds: every read-model
table (to compare a rebuild with incremental processing) and the member aggregate itself
(to compare the write side with the read side).
"""

from __future__ import annotations

import calendar
from contextlib import contextmanager
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from eventsourcing.persistence import DatetimeAsISO, JSONTranscoder
from freezegun import freeze_time
from freezegun.api import FakeDate, FakeDatetime
from sqlalchemy import select

from ledger.adapters.transcodings import DateAsISO
from ledger.domain.ids import member_id
from ledger.domain.members import Member
from ledger.exchange.messages import validate_message
from ledger.projections.base import positions
from ledger.projections.runner import all_views
from tests.support import book, institution, item, member, pharmacy, prescription, purchase, visit

if TYPE_CHECKING:
    from collections.abc import Iterator

    from ledger.exchange.messages import Message
    from ledger.services.application import OutpatientPooling

XINYANG = "411500"
KAIFENG = "410200"


def D(text: str) -> Decimal:
    """A money amount, exactly as written."""
    return Decimal(text)


# ------------------------------------------------------------------ messages


def budget(year: int = 2024, amount: str = "10000000.00", admdvs: str = XINYANG) -> dict[str, Any]:
    """budget.set: Xinyang borrows Kaifeng's budget scheme, so closing a month needs a budget."""
    return {
        "type": "budget.set",
        "date": f"{year}-01-01",
        "admdvs": admdvs,
        "year": year,
        "amount": amount,
    }


def month_closed(month: str, admdvs: str = XINYANG) -> dict[str, Any]:
    """month.closed dated on the month's last day."""
    year, mon = (int(x) for x in month.split("-"))
    return {
        "type": "month.closed",
        "date": f"{month}-{calendar.monthrange(year, mon)[1]:02d}",
        "admdvs": admdvs,
        "month": month,
    }


def closes(*months: str) -> list[dict[str, Any]]:
    """month.closed for each month, in the order given."""
    return [month_closed(m) for m in months]


def use(
    psn_no: str,
    amount: str,
    beneficiary: str = "self",
    purpose: str = "medical",
    *,
    ref: str,
    day: str = "2024-04-02",
) -> dict[str, Any]:
    """account.used: a personal-account payment outside a claim."""
    return {
        "type": "account.used",
        "date": day,
        "psn_no": psn_no,
        "amount": amount,
        "beneficiary": beneficiary,
        "purpose": purpose,
        "reference": ref,
    }


def retired(psn_no: str, day: str) -> dict[str, Any]:
    return {"type": "member.retired", "date": day, "psn_no": psn_no}


def base_changed(psn_no: str, day: str, base: str) -> dict[str, Any]:
    return {
        "type": "member.contribution_base_changed",
        "date": day,
        "psn_no": psn_no,
        "contribution_base": base,
    }


def transferred_out(psn_no: str, day: str, destination: str = KAIFENG) -> dict[str, Any]:
    return {
        "type": "member.transferred_out",
        "date": day,
        "psn_no": psn_no,
        "destination": destination,
    }


def deceased(psn_no: str, day: str, heir: str = "HEIR-1") -> dict[str, Any]:
    return {"type": "member.deceased", "date": day, "psn_no": psn_no, "heir": heir}


def suspended(psn_no: str, day: str) -> dict[str, Any]:
    return {"type": "member.suspended", "date": day, "psn_no": psn_no, "reason": "arrears"}


def resumed(psn_no: str, day: str) -> dict[str, Any]:
    return {"type": "member.resumed", "date": day, "psn_no": psn_no}


def reversed_(medins_setl_id: str, day: str, reason: str = "bill entered twice") -> dict[str, Any]:
    return {
        "type": "settlement.reversed",
        "date": day,
        "medins_setl_id": medins_setl_id,
        "reason": reason,
    }


def xinyang_region() -> list[dict[str, Any]]:
    """A budget and designated institutions: H1 primary, H2 level 2, H3 level 3, P1 pharmacy."""
    return [
        budget(),
        institution("H1", level=1),
        institution("H2", level=2),
        institution("H3", level=3),
        pharmacy("P1"),
    ]


def enrolled(*psn_nos: str, **kw: Any) -> list[dict[str, Any]]:
    return [member(p, **kw) for p in psn_nos]


def message(raw: dict[str, Any]) -> Message:
    """A validated message, for calling the application directly."""
    return validate_message(raw)


def booked_ok(app: OutpatientPooling, *messages: dict[str, Any]) -> None:
    """Book messages that must all be accepted (booked or present)."""
    outcomes = book(app, *messages)
    refused = [
        (m["type"], o) for m, o in zip(messages, outcomes, strict=True) if not isinstance(o, str)
    ]
    assert not refused, refused


# ------------------------------------------------------------------ probes


def balc(app: OutpatientPooling, psn_no: str, **kw: Any) -> Decimal:
    return app.balance(psn_no, **kw)["balc"]


def movements(app: OutpatientPooling, psn_no: str) -> list[tuple[str, str, Decimal, Decimal]]:
    """(kind, date, amount, running balance) of every movement, in log order."""
    return [(m["kind"], m["date"], m["amount"], m["balc"]) for m in app.history(psn_no)]


def aggregate(app: OutpatientPooling, psn_no: str) -> Member:
    """The member as its event stream (and snapshots) say, read fresh from the store."""
    found: object = app.repository.get(member_id(psn_no))
    assert isinstance(found, Member)
    return found


def every_movement(app: OutpatientPooling) -> None:
    """Book a scenario that touches every account and cap movement.

    Credits in service and retired, a base change, a suspension, permitted uses, settlements
    paying from the account (a visit and a pharmacy purchase with a delivery fee), a reversal,
    a transfer out and a death, over four closed months of Xinyang.
    """
    booked_ok(
        app,
        *xinyang_region(),
        *(member(p) for p in ("M1", "M2", "M3", "T1", "X1")),
        member("R1", psn_type="12"),
        *closes("2024-01"),
        use("M1", "30.00", "spouse", "resident_contribution", ref="R-1", day="2024-02-03"),
        visit("S1", "M1", "H3", "2024-02-05", item("400.00"), acct=True),
        visit("S2", "M2", "H1", "2024-02-06", item("250.00"), item("12.34", lv="03"), acct=True),
        prescription("RX1", "R1", "H2", "2024-02-07", "V-R1", [("XC10", "30", 7)]),
        purchase(
            "S3",
            "RX1",
            "R1",
            "P1",
            "2024-02-08",
            item("3.20", cnt="30", code="XC10"),
            acct=True,
            delivery_fee="5.00",
        ),
        suspended("M3", "2024-02-10"),
        *closes("2024-02"),
        reversed_("S2", "2024-03-01"),
        retired("M1", "2024-03-14"),
        base_changed("M2", "2024-03-20", "7777.77"),
        resumed("M3", "2024-03-21"),
        transferred_out("T1", "2024-03-25"),
        *closes("2024-03"),
        visit("S4", "M1", "H2", "2024-04-03", item("200.00"), acct=True),
        deceased("X1", "2024-04-10", heir="HEIR-X1"),
        *closes("2024-04"),
    )


def dump_read_models(app: OutpatientPooling) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every read-model table (and the views' positions), ordered by primary key."""
    app.read_models.catch_up()
    tables = [positions, *(t for view in all_views() for t in view.tables)]
    with app.engine.connect() as conn:
        return {
            t.name: [tuple(r) for r in conn.execute(select(t).order_by(*t.primary_key.columns))]
            for t in tables
        }


# ------------------------------------------------------------------ wall clock


class _FakeDatetimeAsISO(DatetimeAsISO):
    type = FakeDatetime


class _FakeDateAsISO(DateAsISO):
    type = FakeDate


@contextmanager
def wall_clock(app: OutpatientPooling, when: str) -> Iterator[None]:
    """Freeze the wall clock (the events' recorded time) at ``when``.

    The store's transcoder looks types up exactly, so freezegun's stand-in classes are
    registered under the same names as the real ones: what is stored is unchanged.
    """
    transcoder = app.mapper.transcoder
    assert isinstance(transcoder, JSONTranscoder)
    transcoder.register(_FakeDatetimeAsISO())
    transcoder.register(_FakeDateAsISO())
    with freeze_time(when):
        yield
