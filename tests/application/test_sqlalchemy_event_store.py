"""The same ledger on eventsourcing-sqlalchemy's recorder (LEDGER_EVENT_STORE=sqlalchemy), on both databases."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from ledger.services.application import BOOKED
from ledger.services.audit import audit
from ledger.services.bootstrap import bootstrap
from tests.support import book, close_month, institution, item, member, visit


def test_the_sqlalchemy_event_store_books_settles_closes_and_audits(store):
    app = bootstrap(replace(store, event_store="sqlalchemy"))
    try:
        outcomes = book(
            app, institution("H3", level=3), member("M1"),
            {"type": "budget.set", "date": "2024-01-01", "admdvs": "411500", "year": 2024, "amount": "100000.00"},
            close_month("411500", "2024-01", "2024-01-31"),
            visit("S1", "M1", "H3", "2024-02-05", item("400.00"), acct=True),
            close_month("411500", "2024-02", "2024-02-29"),
        )
        assert outcomes == [BOOKED] * 6
        # (400 − 50) × 50 % = 175.00 from the pool; the account pays 120.00 of the 225.00 left.
        settled = app.get_settlement("S1").result
        assert (settled["hifp_pay"], settled["acct_pay"]) == (Decimal("175.00"), Decimal("120.00"))
        assert app.balance("M1")["balc"] == Decimal("120.00")
        assert audit(app).ok
    finally:
        app.close()
