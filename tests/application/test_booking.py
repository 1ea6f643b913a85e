"""Booking messages: idempotent by business key, refusals change nothing, same on both stores."""

from __future__ import annotations

from decimal import Decimal

from ledger.errors import ConflictError, UnknownError
from ledger.services.application import BOOKED, PRESENT
from tests.support import book, institution, item, member, visit


def test_a_visit_is_booked_once_and_a_resubmission_is_present(app):
    setup = [institution("H1", level=3), member("M1")]
    claim = visit("S1", "M1", "H1", "2024-03-20", item("400.00"))
    assert book(app, *setup, claim) == [BOOKED, BOOKED, BOOKED]
    assert book(app, claim) == [PRESENT]
    settled = app.get_settlement("S1")
    assert settled.result["hifp_pay"] == Decimal("175.00")
    assert app.cap("M1", 2024)["used"] == Decimal("175.00")


def test_the_same_key_with_other_content_is_refused_and_changes_nothing(app):
    book(app, institution("H1"), member("M1"), visit("S1", "M1", "H1", "2024-03-20", item("400.00")))
    head = app.recorder.max_notification_id()
    [outcome] = book(app, visit("S1", "M1", "H1", "2024-03-20", item("500.00")))
    assert isinstance(outcome, ConflictError)
    assert app.recorder.max_notification_id() == head


def test_an_unknown_member_is_refused(app):
    [_, outcome] = book(app, institution("H1"), visit("S1", "M404", "H1", "2024-03-20", item("10.00")))
    assert isinstance(outcome, UnknownError)
    assert outcome.field == "psn_no"
