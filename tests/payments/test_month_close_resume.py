"""A month close that fails between its credits and its record, resumed, leaves the log a clean run leaves.

The close commits the members' credits (信政办〔2022〕23号 第八条) in transactions of their own before
``Region.MonthClosed``. A resumed close credits only those not yet credited and reports the
month's credits from the log, so its record says what a clean run's says, event for event.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from ledger.domain.ids import region_id
from ledger.domain.members import Member
from ledger.domain.regions import Region
from ledger.services import closing
from ledger.services.application import OutpatientPooling
from ledger.services.bootstrap import bootstrap
from tests.payments.flows import KAIFENG, booked, budget, month
from tests.support import book, institution, item, member, visit

D = Decimal


class Crash(Exception):
    """Stands for the process dying."""


JANUARY = (institution("H1", level=3, admdvs=KAIFENG), *(member(f"M{i}", admdvs=KAIFENG) for i in range(5)),
           budget(KAIFENG, 2024, "12000.00"), visit("S1", "M0", "H1", "2024-01-10", item("400.00")))
"""Five members (credit 120.00 each), one 400.00 visit at level 3 (fund 175.00), a budget of 12 000.00."""


def log(app: OutpatientPooling) -> list[tuple]:
    """Every event as (aggregate, version, topic, state without its wall-clock timestamp)."""
    out = []
    for n in app.recorder.select_notifications(1, 10_000):
        state = app.mapper.transcoder.decode(n.state)
        state.pop("timestamp", None)
        out.append((n.id, str(n.originator_id), n.originator_version, n.topic, state))
    return out


def clean_log(db: str, *messages: dict) -> list[tuple]:
    """The log a clean run of ``messages`` leaves in a new store at ``db``."""
    clean = bootstrap(db)
    try:
        booked(clean, *messages)
        return log(clean)
    finally:
        clean.close()


@pytest.mark.parametrize("crash_at", ["between_credits", "after_credits"])
def test_a_resumed_month_close_records_what_a_clean_one_does_xinyang_art8(store, tmp_path, monkeypatch, crash_at):
    """Clean: 5 members × 120.00 → credits {members: 5, amount: 600.00}; H1 prepaid 175.00 (< 1 000.00 a month).

    Crashed after the second credit batch (of two members each), or after every credit but
    before the record, then resumed in a new process: the same events, with the same contents.
    """
    monkeypatch.setattr(closing, "CREDIT_BATCH", 2)
    expected = clean_log(str(tmp_path / "clean.db"), *JANUARY, month(KAIFENG, "2024-01"))

    app = bootstrap(store)
    try:
        booked(app, *JANUARY)
        with monkeypatch.context() as m:
            if crash_at == "between_credits":
                calls = iter(range(100))

                def credit_then_crash(self, **kw):
                    if next(calls) == 2:  # the third member: batches one (M0, M1) are committed
                        raise Crash
                    return original_credit(self, **kw)

                original_credit = Member.credit_month
                m.setattr(Member, "credit_month", credit_then_crash)
            else:
                m.setattr(Region, "close_month", lambda self, **kw: (_ for _ in ()).throw(Crash()))
            with pytest.raises(Crash):
                book(app, month(KAIFENG, "2024-01"))
        app.catch_up()  # the crashed close did not; queries only read
        credited_before_resume = sum(1 for i in range(5) if app.balance(f"M{i}")["balc"] == D("120.00"))
        assert credited_before_resume == (2 if crash_at == "between_credits" else 5)
    finally:
        app.close()

    resumed = bootstrap(store)
    try:
        booked(resumed, month(KAIFENG, "2024-01"))
        got = log(resumed)
        [closed] = [e for e in resumed.events.get(region_id(KAIFENG)) if isinstance(e, Region.MonthClosed)]
        assert closed.credits == {"members": 5, "amount": D("600.00")}
        assert [(p["fixmedins_code"], p["actual"], p["paid"]) for p in closed.payments] == [
            ("H1", D("175.00"), D("166.25"))]
    finally:
        resumed.close()
    assert got == expected

