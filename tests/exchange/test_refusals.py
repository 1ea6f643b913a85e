"""Refused input: every kind is reported as ``FILE:LINE: type: field: reason``, books nothing, and the run goes on.

Each case ingests a file of two lines on a ledger holding a small region (``SETUP``): the
refused line first, then a valid enrolment. The report must name line 1 with the message
type and field; the log must hold exactly one new event, the enrolment of line 2.
"""

from __future__ import annotations

import json
from itertools import count
from typing import TYPE_CHECKING, Any

import pytest

from ledger.domain.ids import member_id
from ledger.services.application import OutpatientPooling
from ledger.services.bootstrap import bootstrap
from ledger.services.ingest import ingest_file
from tests.exchange.scenario import (
    account_used,
    assessed,
    budget,
    head,
    logged,
    month_closed,
    reviewed,
    year_closed,
)
from tests.support import fact, institution, item, member, pharmacy, prescription, purchase, visit, write_jsonl

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from ledger.adapters.store import Store

SETUP = [
    institution("H3", level=3),
    institution("H1", level=1),
    pharmacy("P1"),
    budget(),
    member("M1"),
    member("M2"),
    month_closed("2024-01"),
    visit("S1", "M1", "H3", "2024-03-20", item("400.00", sn="1"), mdtrt="V1"),
    prescription("RX1", "M1", "H3", "2024-03-20", "V1", [("XC10", "30", 7)]),
]
AFTER_THE_CLOSE = "2024-02-01"
"""The good lines' enrolment date: one in January, which SETUP closed, would also book its credit."""

_ok = count(1)


def line(raw: dict[str, Any] | bytes) -> bytes:
    return raw if isinstance(raw, bytes) else json.dumps(raw, ensure_ascii=False).encode() + b"\n"


def without(raw: dict[str, Any], name: str) -> dict[str, Any]:
    return {k: v for k, v in raw.items() if k != name}


def drugs_visit(**extra: Any) -> dict[str, Any]:
    return visit("S9", "M1", "H3", "2024-03-20", item("10.00", sn="1"), **extra)


def buy(day: str = "2024-03-21", *, rx: str = "RX1", psn_no: str = "M1", at: str = "P1",
        **extra: Any) -> dict[str, Any]:
    return purchase("PS9", rx, psn_no, at, day, item("3.20", cnt="10", code="XC10", sn="1"), **extra)


GBK = '{"type":"member.enrolled","date":"2024-01-01","psn_no":"张三","admdvs":"411500","psn_type":"11",' \
      '"contribution_base":"1.00"}\n'

# (id, the refused line, type, field, a fragment of the reason)
CASES: list[tuple[str, dict[str, Any] | bytes, str, str, str]] = [
    # --- shape: the message itself is wrong
    ("missing field", without(member("X"), "psn_no"), "member.enrolled", "psn_no", "Field required"),
    ("missing bill lines", without(drugs_visit(), "items"), "visit.settled", "items", "Field required"),
    ("missing date", without(member("X"), "date"), "member.enrolled", "date", "Field required"),
    ("wrong type: amount", member("X", base="six thousand"), "member.enrolled", "contribution_base", "decimal"),
    ("wrong type: level", {**institution("HX"), "level": "three"}, "institution.registered", "level", "1, 2 or 3"),
    ("wrong type: flag", drugs_visit(acct_used_flag="sometimes"), "visit.settled", "acct_used_flag", "boolean"),
    ("wrong type: date", member("X", day="2024-02-30"), "member.enrolled", "date", "date"),
    ("wrong type: bill lines", {**drugs_visit(), "items": "400.00"}, "visit.settled", "items", "list"),
    ("malformed JSON", b'{"type": "member.enrolled", "date": \n', "-", "-", "not JSON"),
    ("not UTF-8 (GBK)", GBK.encode("gbk"), "-", "-", "not UTF-8"),
    ("not UTF-8 (stray bytes)", b'{"type":"member.enrolled","psn_no":"\xff\xfe"}\n', "-", "-", "not UTF-8"),
    ("not an object", b'["member.enrolled"]\n', "-", "-", "JSON object"),
    ("no type", without(member("X"), "type"), "-", "type", "missing"),
    ("unknown type", {**member("X"), "type": "member.promoted"}, "member.promoted", "type", "unknown message type"),
    # --- amounts
    ("negative amount", member("X", base="-1.00"), "member.enrolled", "contribution_base", "must not be negative"),
    ("negative price", visit("S9", "M1", "H3", "2024-03-20", item("-10.00", sn="1")), "visit.settled",
     "items.0.pric", "must not be negative"),
    ("negative account use", account_used("M1", "-5.00", ref="R-9"), "account.used", "amount", "negative"),
    ("negative delivery fee", buy(delivery_fee="-5.00"), "purchase.settled", "delivery_fee", "must not be negative"),
    ("not a number", member("X", base="NaN"), "member.enrolled", "contribution_base", "plain decimal"),
    ("zero quantity", visit("S9", "M1", "H3", "2024-03-20", item("10.00", cnt="0", sn="1")), "visit.settled",
     "items.0.cnt", "greater than zero"),
    ("three decimals", member("X", base="6000.001"), "member.enrolled", "contribution_base",
     "at most 2 decimal places"),
    ("three decimals: budget", budget(amount="1000000.005"), "budget.set", "amount", "at most 2 decimal places"),
    ("three decimals: delivery fee", buy(delivery_fee="5.001"), "purchase.settled", "delivery_fee",
     "at most 2 decimal places"),
    ("three decimals: account use", account_used("M1", "1.001", ref="R-9"), "account.used", "amount",
     "at most 2 decimal places"),
    # --- what the ledger does not hold
    ("unknown member", visit("S9", "M404", "H3", "2024-03-20", item("10.00")), "visit.settled", "psn_no",
     "unknown member M404"),
    ("unknown member: a fact", fact("retired", "M404", "2024-05-14"), "member.retired", "psn_no",
     "unknown member M404"),
    ("unknown member: account use", account_used("M404", "1.00", ref="R-9"), "account.used", "psn_no",
     "unknown member M404"),
    ("unknown institution", visit("S9", "M1", "H404", "2024-03-20", item("10.00")), "visit.settled",
     "fixmedins_code", "unknown institution H404"),
    ("unknown institution: assessed", assessed("H404", "90.00"), "institution.assessed", "fixmedins_code",
     "unknown institution H404"),
    ("unknown institution: reviewed", reviewed("H404", "100.00", "1.00"), "institution.reviewed",
     "fixmedins_code", "unknown institution H404"),
    ("unknown institution: family doctor", fact("family_doctor_signed", "M1", "2024-02-01",
                                                fixmedins_code="H404"),
     "member.family_doctor_signed", "fixmedins_code", "unknown institution H404"),
    ("unknown region", member("X", admdvs="999999"), "member.enrolled", "admdvs",
     "no policy profile for region 999999"),
    ("unknown region: budget", budget(admdvs="999999"), "budget.set", "admdvs", "no policy profile"),
    ("family doctor not primary", member("X", family_doctor_fixmedins_code="H3"), "member.enrolled",
     "family_doctor_fixmedins_code", "not a primary institution"),
    ("unknown prescription", buy(rx="RX404"), "purchase.settled", "rx_no", "unknown prescription RX404"),
    ("unknown settlement", {"type": "settlement.reversed", "date": "2024-03-22", "medins_setl_id": "S404"},
     "settlement.reversed", "medins_setl_id", "unknown settlement S404"),
    # --- the same key with other content
    ("duplicate key: member", member("M1", base="7000.00"), "member.enrolled", "psn_no",
     "already booked with different content"),
    ("duplicate key: visit", visit("S1", "M1", "H3", "2024-03-20", item("500.00", sn="1"), mdtrt="V1"),
     "visit.settled", "medins_setl_id", "already booked with different content"),
    ("duplicate key: prescription", prescription("RX1", "M1", "H3", "2024-03-20", "V1", [("XC10", "20", 7)]),
     "prescription.issued", "rx_no", "already booked with different content"),
    ("duplicate key: institution", institution("H3", level=2), "institution.registered", "fixmedins_code",
     "already booked with different content"),
    ("duplicate key: budget", budget(amount="1.00"), "budget.set", "year", "already booked with different content"),
    ("duplicate key: month close", month_closed("2024-01", day="2024-02-01"), "month.closed", "month",
     "already booked with different content"),
    # --- periods
    ("month before a closed one", month_closed("2023-12"), "month.closed", "month", "2024-01"),
    ("month closed before its end", month_closed("2024-02", day="2024-02-28"), "month.closed", "date", "last day"),
    ("year with December open", year_closed(2024, "411500"), "year.closed", "year", "2024-12"),
    # --- institutions of the wrong kind, prescriptions that do not fit
    ("visit at a pharmacy", visit("S9", "M1", "P1", "2024-03-20", item("10.00")), "visit.settled",
     "fixmedins_code", "pharmacy"),
    ("purchase at a hospital", buy(at="H3"), "purchase.settled", "fixmedins_code", "hospital"),
    ("prescription at a pharmacy", prescription("RX9", "M1", "P1", "2024-03-20", "V1", [("XC10", "7", 7)]),
     "prescription.issued", "fixmedins_code", "pharmacy"),
    ("prescription of another member", buy(psn_no="M2"), "purchase.settled", "rx_no", "another member"),
    ("expired prescription", buy("2024-03-27"), "purchase.settled", "rx_no", "expired after 2024-03-26"),
    ("purchase before the prescription", buy("2024-03-19"), "purchase.settled", "date", "issued later"),
    ("a drug not prescribed", purchase("PS9", "RX1", "M1", "P1", "2024-03-21", item("3.20", code="XJ99", sn="1")),
     "purchase.settled", "items.0.med_list_codg", "not on prescription"),
    ("more than prescribed", purchase("PS9", "RX1", "M1", "P1", "2024-03-21",
                                      item("3.20", cnt="31", code="XC10", sn="1")),
     "purchase.settled", "items.0.cnt", "exceeds"),
    ("days over the limit", prescription("RX9", "M1", "H3", "2024-03-20", "V1", [("XC10", "8", 8)]),
     "prescription.issued", "drugs.0.days", "more than the 7 allowed"),
    ("days over the limit: emergency", prescription("RX9", "M1", "H3", "2024-03-20", "V1", [("XC10", "4", 4)],
                                                    med_type="13"),
     "prescription.issued", "drugs.0.days", "more than the 3 allowed"),
    ("days over the limit: chronic", prescription("RX9", "M1", "H3", "2024-03-20", "V1",
                                                  [("XC10", "7", 7), ("XC20", "31", 31)], chronic=True),
     "prescription.issued", "drugs.1.days", "more than the 30 allowed"),
    ("days over the limit: long-term", prescription("RX9", "M1", "H3", "2024-03-20", "V1", [("XC10", "85", 85)],
                                                    chronic=True, long_term=True),
     "prescription.issued", "drugs.0.days", "more than the 84 allowed"),
    # --- members who cannot have the fact
    ("account use over the balance", account_used("M1", "500.00", ref="R-9"), "account.used", "amount",
     "exceeds the personal-account balance"),
    ("account use for fitness", account_used("M1", "1.00", ref="R-9", beneficiary="self", purpose="fitness"),
     "account.used", "purpose", "fitness"),
    ("fact before enrolment", fact("suspended", "M1", "2023-12-01"), "member.suspended", "date", "enrolled"),
    ("resumed while not suspended", fact("resumed", "M1", "2024-02-01"), "member.resumed", "date",
     "not suspended"),
]


@pytest.fixture(scope="module")
def ledger(module_store: Store, tmp_path_factory: pytest.TempPathFactory) -> Iterator[OutpatientPooling]:
    """A small Xinyang ledger, shared by the cases: each refused line must leave it as it was."""
    app = bootstrap(module_store)
    try:
        report = ingest_file(app, str(write_jsonl(tmp_path_factory.mktemp("setup") / "setup.jsonl", *SETUP)))
        assert report.errors == []
        assert report.booked == len(SETUP)
        yield app
    finally:
        app.close()


@pytest.mark.parametrize(("refused", "type_", "field", "reason"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_a_refused_line_is_reported_books_nothing_and_the_run_goes_on(
        ledger: OutpatientPooling, tmp_path: Path, refused: dict[str, Any] | bytes, type_: str, field: str,
        reason: str) -> None:
    psn_no = f"OK{next(_ok):03d}"
    path = tmp_path / "input.jsonl"
    path.write_bytes(line(refused) + line(member(psn_no, day=AFTER_THE_CLOSE)))
    before = head(ledger)

    report = ingest_file(ledger, str(path), batch_size=200)

    assert (report.lines, report.booked, report.present, report.refused) == (2, 1, 0, 1), report.errors
    [error] = report.errors
    assert error.startswith(f"{path}:1: {type_}: {field}: "), error
    assert reason in error, error
    # Only line 2 was booked: one event, the enrolment.
    new = logged(ledger, before)
    assert [(e.topic, e.originator_id) for e in new] == [("yibao:Member.Enrolled", member_id(psn_no))]
    assert ledger.balance(psn_no)["psn_no"] == psn_no


def test_a_file_of_refusals_names_each_line_and_books_every_good_one(app: OutpatientPooling,
                                                                     tmp_path: Path) -> None:
    """All the cases in one file, each followed by a good line: every refusal has its own line number."""
    write_jsonl(tmp_path / "setup.jsonl", *SETUP)
    assert ingest_file(app, str(tmp_path / "setup.jsonl")).errors == []
    path = tmp_path / "input.jsonl"
    expected: dict[int, tuple[str, str]] = {}
    content = b""
    for i, (_, refused, type_, field, _reason) in enumerate(CASES):
        content += line(refused) + line(member(f"GOOD{i:03d}", day=AFTER_THE_CLOSE))
        expected[2 * i + 1] = (type_, field)
    path.write_bytes(content)
    before = head(app)

    report = ingest_file(app, str(path), batch_size=7)

    assert (report.lines, report.booked, report.refused) == (2 * len(CASES), len(CASES), len(CASES))
    reported = {}
    for error in report.errors:
        assert error.startswith(f"{path}:"), error
        lineno, type_, field = error.removeprefix(f"{path}:").split(": ")[:3]
        reported[int(lineno)] = (type_, field)
    assert reported == expected
    new = logged(app, before)
    assert sorted(e.originator_id for e in new) == sorted(member_id(f"GOOD{i:03d}") for i in range(len(CASES)))
