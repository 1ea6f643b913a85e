"""Queries only read: the writers catch the read models up after they commit."""

from __future__ import annotations

from decimal import Decimal

import pytest

from ledger.errors import UnknownError
from ledger.exchange.messages import validate_message
from tests.support import book, close_month, institution, member


def test_a_query_reads_what_the_writers_projected_and_projects_nothing_itself(app):
    """January's credit of 6000.00 × 2 % = 120.00 (信政办〔2022〕23号 第八条), seen once a writer caught up."""
    book(app, institution("H3"), member("M1"),
         {"type": "budget.set", "date": "2024-01-01", "admdvs": "411500", "year": 2024, "amount": "1000.00"},
         close_month("411500", "2024-01", "2024-01-31"))
    assert app.balance("M1")["balc"] == Decimal("120.00")

    assert app.book([validate_message(member("M2", day="2024-02-01"))], catch_up=False) == ["booked"]
    positions = app.read_models.positions()
    with pytest.raises(UnknownError):
        app.balance("M2")  # booked, but no writer has projected it yet
    app.history("M1")
    app.trial_balance()
    assert app.read_models.positions() == positions, "a query moved the read models"

    assert app.catch_up() > 0
    assert set(app.read_models.positions().values()) == {app.recorder.max_notification_id()}
    assert app.balance("M2")["balc"] == Decimal("0.00")


def test_booking_catches_the_read_models_up_after_it_commits(app):
    assert app.book([validate_message(institution("H3")), validate_message(member("M1"))]) == ["booked"] * 2
    assert set(app.read_models.positions().values()) == {app.recorder.max_notification_id()}
    assert app.history("M1") == []
