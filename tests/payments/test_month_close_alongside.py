"""A long month close has a second process read its credits into the read models as it books them.

The second process is one more catch-up (``ledger.projections.alongside``): a close that starts
it books what a close that does not books, event for event, and leaves the read models a
rebuild makes.
"""

from __future__ import annotations

import logging
import time
from decimal import Decimal

from ledger.adapters.store import Store
from ledger.domain.ids import region_id
from ledger.domain.regions import Region
from ledger.projections.alongside import Alongside
from ledger.services import closing
from ledger.services.audit import audit
from ledger.services.bootstrap import bootstrap
from tests.payments.flows import KAIFENG, booked, budget, month
from tests.payments.test_month_close_resume import clean_log, log
from tests.support import institution, item, member, visit

MEMBERS = 12
JANUARY = (institution("H1", level=3, admdvs=KAIFENG), *(member(f"M{i:02d}", admdvs=KAIFENG) for i in range(MEMBERS)),
           budget(KAIFENG, 2024, "12000.00"), visit("S1", "M00", "H1", "2024-01-10", item("400.00")))
"""Twelve members (credit 120.00 each), one 400.00 visit at level 3 (fund 175.00), a budget of 12 000.00."""
WAIT = 60.0
"""Seconds a page waits for the second process to have read the credits booked so far (it starts in about one)."""


def test_a_close_read_alongside_books_what_a_close_without_does_xinyang_art8(store, tmp_path, monkeypatch):
    """12 members × 120.00 → credits {members: 12, amount: 1 440.00}, in pages of 3.

    The second process starts after the first page; after each later page the read models
    reach the log's head while the close is still paging (only the second process reads
    then). The log is a clean run's without the second process, and the audit finds the read
    models a rebuild's.
    """
    monkeypatch.setattr(closing, "CREDIT_BATCH", 3)
    expected = clean_log(str(tmp_path / "clean.db"), *JANUARY, month(KAIFENG, "2024-01"))
    monkeypatch.setattr(closing, "ALONGSIDE_FROM", 3)

    app = bootstrap(store)
    pages: list[bool] = []
    credit = closing._credit

    def credit_then_watch(*args, **kwargs):
        credit(*args, **kwargs)
        pages.append(bool(pages) and _reached_head(app))  # the second process starts after the first page

    try:
        booked(app, *JANUARY)
        monkeypatch.setattr(closing, "_credit", credit_then_watch)
        booked(app, month(KAIFENG, "2024-01"))
        [closed] = [e for e in app.events.get(region_id(KAIFENG)) if isinstance(e, Region.MonthClosed)]
        assert closed.credits == {"members": MEMBERS, "amount": Decimal("1440.00")}
        assert pages == [False] + [True] * (MEMBERS // 3 - 1)
        assert log(app) == expected
        assert audit(app).ok
    finally:
        app.close()


def _reached_head(app) -> bool:
    """Whether the accounts view reaches the log's head within :data:`WAIT` seconds (no one else reads meanwhile)."""
    head = app.recorder.max_notification_id()
    deadline = time.monotonic() + WAIT
    while app.read_models.positions()["accounts"] < head:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def test_a_second_process_that_fails_is_logged_not_raised(caplog):
    """Its caller catches up next and meets any fault of the views there; the failure itself is a warning."""
    helper = Alongside(Store.parse("/nonexistent/folder/ledger.db"), "yibao")
    with caplog.at_level(logging.WARNING, logger="ledger.alongside"):
        helper.stop()
    assert any("second process stopped" in r.getMessage() for r in caplog.records)
