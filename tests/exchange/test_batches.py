"""A batch is one transaction, but a refused message never takes the others of its batch down with it."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

import pytest

from ledger.errors import ConflictError, InputError, UnknownError
from ledger.exchange.messages import validate_message
from ledger.services.application import BOOKED, PRESENT, OutpatientPooling
from ledger.services.bootstrap import bootstrap
from ledger.services.ingest import ingest_file
from tests.exchange.scenario import budget, every_type, month_closed
from tests.support import institution, item, member, pharmacy, prescription, purchase, visit, write_jsonl

if TYPE_CHECKING:
    from pathlib import Path

D = Decimal

# Good and refused lines mixed; the refused ones (lines 5, 7, 9, 11, 13) need what earlier lines of
# the same batch booked to be told apart from good ones.
MIXED = [
    institution("H3", level=3),                                                   # 1
    pharmacy("P1"),                                                                # 2
    member("M1"),                                                                  # 3
    visit("S1", "M1", "H3", "2024-03-20", item("400.00", sn="1"), mdtrt="V1"),     # 4
    visit("S2", "M404", "H3", "2024-03-20", item("10.00", sn="1")),                # 5 unknown member
    prescription("RX1", "M1", "H3", "2024-03-20", "V1", [("XC10", "30", 7)]),     # 6
    visit("S3", "M1", "P1", "2024-03-21", item("10.00", sn="1")),                  # 7 a visit at a pharmacy
    purchase("PS1", "RX1", "M1", "P1", "2024-03-21", item("3.20", cnt="10", code="XC10", sn="1")),  # 8
    purchase("PS2", "RX1", "M1", "P1", "2024-03-28", item("3.20", cnt="10", code="XC10", sn="1")),  # 9 expired
    member("M2"),                                                                  # 10
    member("M1", base="9000.00"),                                                  # 11 M1 again, other content
    visit("S4", "M2", "H3", "2024-03-22", item("200.00", sn="1"), mdtrt="V4"),     # 12
    visit("S1", "M1", "H3", "2024-03-20", item("401.00", sn="1"), mdtrt="V1"),     # 13 S1 again, other content
    visit("S5", "M1", "H3", "2024-03-23", item("100.00", sn="1"), mdtrt="V5"),     # 14
]
REFUSED_LINES = [5, 7, 9, 11, 13]


@pytest.mark.parametrize("batch_size", [1000, 1, 3])
def test_refused_lines_in_the_middle_of_a_batch_leave_the_others_booked(
        app: OutpatientPooling, tmp_path: Path, batch_size: int) -> None:
    path = write_jsonl(tmp_path / "mixed.jsonl", *MIXED)

    report = ingest_file(app, str(path), batch_size=batch_size)

    assert (report.lines, report.booked, report.refused) == (len(MIXED), len(MIXED) - len(REFUSED_LINES),
                                                            len(REFUSED_LINES))
    assert sorted(int(e.removeprefix(f"{path}:").split(":")[0]) for e in report.errors) == REFUSED_LINES
    for key in ("S1", "S4", "S5", "PS1"):
        assert app.get_settlement(key).medins_setl_id == key
    # S1 kept its first content; the cap counts S1, PS1 and S5 for M1, S4 for M2.
    assert app.get_settlement("S1").result["medfee_sumamt"] == D("400.00")
    used = sum((app.get_settlement(k).result["hifp_pay"] for k in ("S1", "PS1", "S5")), D(0))
    assert app.cap("M1", 2024)["used"] == used
    assert app.cap("M2", 2024)["used"] == app.get_settlement("S4").result["hifp_pay"]
    assert app.reconcile("H3", "2024-03")["setl_cnt"] == 3


def test_a_batch_answers_as_single_messages_do(tmp_path: Path) -> None:
    """Booked in one batch or one message at a time, every query answers the same (SQLite)."""
    path = write_jsonl(tmp_path / "mixed.jsonl", *MIXED, budget(), month_closed("2024-03"))
    answers = []
    for batch_size in (1000, 1):
        app = bootstrap(str(tmp_path / f"batch-{batch_size}.db"))
        try:
            report = ingest_file(app, str(path), batch_size=batch_size)
            answers.append({
                "errors": [e.split(": ", 1)[1] for e in report.errors],
                "settlements": {k: app.settlement_view(app.get_settlement(k)) for k in ("S1", "S4", "S5", "PS1")},
                "balances": [app.balance(p)["balc"] for p in ("M1", "M2")],
                "caps": [app.cap(p, 2024) for p in ("M1", "M2")],
                "history": [[(m["kind"], m["amount"]) for m in app.history(p)] for p in ("M1", "M2")],
                "prepayments": [[{k: v for k, v in r.items() if k != "position"}
                                 for r in app.prepayments(c, 2024)["rows"]] for c in ("H3", "P1")],
                "reconcile": app.reconcile("H3", "2024-03"),
                "journal": app.trial_balance(),
            })
        finally:
            app.close()
    assert answers[0] == answers[1]


def test_within_a_batch_messages_see_each_other(app: OutpatientPooling) -> None:
    """``book`` directly: the same message twice in one batch is present; other content is refused."""
    messages = [validate_message(m) for m in (
        institution("H3", level=3), member("M1"), member("M1"), member("M1", base="1.00"),
        visit("S1", "M1", "H3", "2024-03-20", item("400.00", sn="1")),
        visit("S2", "M9", "H3", "2024-03-20", item("400.00", sn="1")),
        visit("S1", "M1", "H3", "2024-03-20", item("400.00", sn="1")),
        member("M9"),
    )]
    outcomes = app.book(messages)
    assert outcomes[:3] == [BOOKED, BOOKED, PRESENT]
    assert isinstance(outcomes[3], ConflictError)
    assert outcomes[4] == BOOKED
    assert isinstance(outcomes[5], UnknownError)
    assert outcomes[6:] == [PRESENT, BOOKED]
    assert all(isinstance(o, InputError) for o in outcomes if not isinstance(o, str))


def test_every_type_in_one_batch_larger_than_the_file(app: OutpatientPooling, tmp_path: Path) -> None:
    messages = every_type()
    report = ingest_file(app, str(write_jsonl(tmp_path / "all.jsonl", *messages)), batch_size=10_000)
    assert (report.booked, report.refused) == (len(messages), 0)
