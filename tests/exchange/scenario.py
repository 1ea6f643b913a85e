"""The exchange tests' material: builders for every message type, one file that holds them all, probes.

``every_type()`` is a file with at least one valid instance of each of the 26 message types
of DESIGN.md §3, in an order the ledger accepts. Xinyang (411500) carries the member and
claim facts; it borrows Kaifeng's budget scheme, so its months close only after a
``budget.set``. The year is cleared in Jiaozuo (410800), the one region whose scheme needs
no budget: a Kaifeng-scheme region cannot clear a year after its ``budget.set`` (see
``test_known_bugs.py``). Jiaozuo's payment scheme is in force from 2024-08-01, so its months
close from August through December.
"""

from __future__ import annotations

import calendar
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast
from uuid import UUID

from eventsourcing.persistence import DatetimeAsISO, JSONTranscoder
from freezegun import freeze_time
from freezegun.api import FakeDate, FakeDatetime
from sqlalchemy import select

from ledger.adapters.transcodings import DateAsISO
from ledger.projections.runner import all_views
from tests.support import fact, institution, item, member, pharmacy, prescription, purchase, visit

if TYPE_CHECKING:
    from collections.abc import Iterator

    from ledger.services.application import OutpatientPooling

XINYANG = "411500"
JIAOZUO = "410800"
KAIFENG = "410200"


# ------------------------------------------------------------------ builders


def budget(admdvs: str = XINYANG, year: int = 2024, amount: str = "12000000.00") -> dict[str, Any]:
    return {"type": "budget.set", "date": f"{year}-01-01", "admdvs": admdvs, "year": year, "amount": amount}


def month_closed(month: str, admdvs: str = XINYANG, day: str | None = None) -> dict[str, Any]:
    """month.closed dated on the month's last day unless ``day`` is given."""
    year, mon = (int(x) for x in month.split("-"))
    last = f"{month}-{calendar.monthrange(year, mon)[1]:02d}"
    return {"type": "month.closed", "date": day or last, "admdvs": admdvs, "month": month}


def year_closed(year: int = 2024, admdvs: str = JIAOZUO) -> dict[str, Any]:
    return {"type": "year.closed", "date": f"{year}-12-31", "admdvs": admdvs, "year": year}


def account_used(psn_no: str, amount: str, *, ref: str, day: str = "2024-04-02", beneficiary: str = "child",
                 purpose: str = "medical") -> dict[str, Any]:
    return {"type": "account.used", "date": day, "psn_no": psn_no, "amount": amount, "beneficiary": beneficiary,
            "purpose": purpose, "reference": ref}


def reversal(medins_setl_id: str, day: str, reason: str = "bill entered twice") -> dict[str, Any]:
    return {"type": "settlement.reversed", "date": day, "medins_setl_id": medins_setl_id, "reason": reason}


def assessed(code: str, score: str, year: int = 2024, day: str = "2024-12-31") -> dict[str, Any]:
    return {"type": "institution.assessed", "date": day, "fixmedins_code": code, "year": year, "score": score}


def reviewed(code: str, sampled_total: str, violation_amount: str, year: int = 2024,
             day: str = "2024-12-31") -> dict[str, Any]:
    return {"type": "institution.reviewed", "date": day, "fixmedins_code": code, "year": year,
            "sampled_total": sampled_total, "violation_amount": violation_amount}


def enrolled(psn_no: str, **kw: Any) -> dict[str, Any]:
    return member(psn_no, **kw)


# ------------------------------------------------------------------ the file with every type


def every_type() -> list[dict[str, Any]]:
    """At least one valid message of each type, in an order the ledger accepts.

    Members: M1 (in service, base 6000, family doctor at H1, retires in May), M2 (base 5000,
    7000 from May, transferred out in June), M3 (retired, base 4000, dies in June), J-M1
    (Jiaozuo). Institutions: H1 primary, H3 level 3, P1 pharmacy (Xinyang); J1 level 3
    (Jiaozuo, category city_level3_general); K3 level 3 with remote direct settlement and K2
    level 2 without (Kaifeng), where M1 lives in July.
    """
    return [
        institution("H1", level=1),
        institution("H3", level=3),
        pharmacy("P1"),
        budget(),
        member("M1", base="6000.00"),
        member("M2", base="5000.00"),
        member("M3", psn_type="12", base="4000.00"),
        fact("family_doctor_signed", "M1", "2024-01-05", fixmedins_code="H1"),
        month_closed("2024-01"),
        month_closed("2024-02"),
        visit("S1", "M1", "H3", "2024-03-20", item("400.00", sn="1"), mdtrt="V1"),
        prescription("RX1", "M1", "H3", "2024-03-20", "V1", [("XC10AAA0002", "30", 30)], chronic=True),
        purchase("PS1", "RX1", "M1", "P1", "2024-03-21", item("3.20", cnt="30", code="XC10AAA0002", sn="1"),
                 acct=True, delivery_fee="5.00"),
        visit("S6", "M1", "H1", "2024-03-25", item("100.00", sn="1"), mdtrt="V6"),
        visit("S2", "M2", "H1", "2024-03-21", item("100.00", sn="1"), mdtrt="V2"),
        reversal("S2", "2024-03-22"),
        month_closed("2024-03"),
        account_used("M1", "10.00", ref="R-77"),
        fact("suspended", "M1", "2024-04-10", reason="arrears"),
        visit("S3", "M1", "H3", "2024-04-15", item("100.00", sn="1"), mdtrt="V3"),
        fact("resumed", "M1", "2024-04-20"),
        visit("S5", "M1", "H3", "2024-04-22", item("100.00", sn="1"), mdtrt="V5"),
        fact("admitted", "M1", "2024-04-25", fixmedins_code="H3"),
        visit("S4", "M1", "H3", "2024-04-26", item("100.00", sn="1"), mdtrt="V4"),
        fact("discharged", "M1", "2024-04-28"),
        month_closed("2024-04"),
        fact("contribution_base_changed", "M2", "2024-05-01", contribution_base="7000.00"),
        fact("retired", "M1", "2024-05-14"),
        month_closed("2024-05"),
        fact("transferred_out", "M2", "2024-06-01", destination=KAIFENG),
        fact("deceased", "M3", "2024-06-15", heir="HEIR-1"),
        month_closed("2024-06"),
        institution("K3", level=3, admdvs=KAIFENG, remote_direct_settlement=True, day="2024-07-01"),
        institution("K2", level=2, admdvs=KAIFENG, day="2024-07-01"),
        fact("remote_registered", "M1", "2024-07-01", residence_admdvs=KAIFENG, kind="resident"),
        {"type": "institution.month_received", "date": "2024-07-05", "fixmedins_code": "P1", "month": "2024-06"},
        visit("S7", "M1", "K3", "2024-07-10", item("100.00", sn="1"), mdtrt="V7"),
        {"type": "reimbursement.claimed", "date": "2024-07-20", "claim_id": "C1", "psn_no": "M1",
         "fixmedins_code": "K2", "service_date": "2024-07-12", "items": [item("100.00", sn="1")]},
        {"type": "institution.month_paid", "date": "2024-07-25", "fixmedins_code": "P1", "month": "2024-06"},
        fact("remote_cancelled", "M1", "2024-07-31"),
        institution("J1", level=3, admdvs=JIAOZUO, category="city_level3_general", day="2024-08-01"),
        member("J-M1", admdvs=JIAOZUO, day="2024-08-01"),
        visit("JS1", "J-M1", "J1", "2024-08-05", item("400.00", sn="1"), mdtrt="JV1"),
        *[month_closed(f"2024-{m:02d}", JIAOZUO) for m in range(8, 13)],
        assessed("J1", "95.00"),
        reviewed("J1", "1000.00", "10.00"),
        year_closed(2024, JIAOZUO),
    ]


# ------------------------------------------------------------------ probes


@dataclass(frozen=True)
class Logged:
    """One stored event, as the tests look at it."""

    position: int
    topic: str
    originator_id: UUID
    payload: dict[str, Any]

    @property
    def key(self) -> str | None:
        return self.payload.get("key")


def logged(app: OutpatientPooling, after: int = 0) -> list[Logged]:
    """Every event stored after position ``after``, in log order."""
    out: list[Logged] = []
    start = after + 1
    decode = app.mapper.transcoder.decode
    while True:
        batch = app.recorder.select_notifications(start, 500)
        if not batch:
            return out
        out.extend(Logged(n.id, n.topic, cast("UUID", n.originator_id), decode(n.state)) for n in batch)
        start = batch[-1].id + 1


def head(app: OutpatientPooling) -> int:
    """The log's last position (0 when empty)."""
    return app.recorder.max_notification_id() or 0


def read_model_rows(app: OutpatientPooling) -> dict[str, list[dict[str, Any]]]:
    """Every row of every read-model table, ordered by primary key; the log's recorded_at left out."""
    app.read_models.catch_up()
    tables = [t for view in all_views() for t in view.tables]
    with app.engine.connect() as conn:
        dump = {}
        for table in tables:
            rows = [dict(r._mapping) for r in conn.execute(select(table).order_by(*table.primary_key.columns))]
            if table.name == "log_chain":
                for row in rows:
                    row.pop("recorded_at")
            dump[table.name] = rows
        return dump


class _FakeDatetimeAsISO(DatetimeAsISO):
    type = FakeDatetime


class _FakeDateAsISO(DateAsISO):
    type = FakeDate


@contextmanager
def frozen_clock(app: OutpatientPooling, when: str = "2025-01-15T08:00:00+00:00") -> Iterator[None]:
    """Freeze the wall clock that stamps events, so two stores can store byte-identical events.

    freezegun's stand-in classes are registered under the real ones' names: what is stored
    is unchanged.
    """
    transcoder = app.mapper.transcoder
    assert isinstance(transcoder, JSONTranscoder)
    transcoder.register(_FakeDatetimeAsISO())
    transcoder.register(_FakeDateAsISO())
    with freeze_time(when):
        yield
