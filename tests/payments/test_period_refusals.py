"""Period runs are refused when they repeat or come out of order, and a refusal changes nothing.

DESIGN.md §3: a month or year run happens once per region and period. ``close_period(msg,
refuse_repeat=True)`` turns a repeat into a ``PeriodError``; a plain resubmission (an ingest
retried) is ``present``. Every refusal leaves the log's head where it was.
"""

from __future__ import annotations

from decimal import Decimal

from ledger.errors import InputError, PeriodError
from ledger.exchange.messages import validate_message
from ledger.services.application import BOOKED, PRESENT
from tests.payments.flows import (
    JIAOZUO,
    KAIFENG,
    booked,
    budget,
    close_year,
    month,
    months,
)
from tests.support import book, close_month, institution, item, member, visit

D = Decimal


def kaifeng_january(app, *, with_budget: bool = True) -> None:
    """One hospital, one member, one 400.00 visit at level 3 (fund 175.00) in January 2024."""
    booked(app, institution("H1", level=3, admdvs=KAIFENG), member("M1", admdvs=KAIFENG),
           *([budget(KAIFENG, 2024, "12000.00")] if with_budget else []),
           visit("S1", "M1", "H1", "2024-01-10", item("400.00")))


def jiaozuo_august(app) -> None:
    booked(app, institution("JC3", level=3, admdvs=JIAOZUO, day="2024-08-01", category="city_level3_general"),
           member("N1", admdvs=JIAOZUO, day="2024-08-01"),
           visit("J1", "N1", "JC3", "2024-08-10", item("400.00")))


def refused(app, raw, code: str) -> PeriodError:
    """Run a period close with repeats refused; it must be a PeriodError with ``code`` that books nothing."""
    head = app.recorder.max_notification_id()
    outcome = app.close_period(validate_message(raw), refuse_repeat=True)
    assert isinstance(outcome, PeriodError), outcome
    assert outcome.code == code
    assert app.recorder.max_notification_id() == head
    return outcome


def test_a_month_closed_twice_is_refused_and_changes_nothing(app):
    """汴医保〔2023〕29号 三（二） prepays a month once: a second run is refused, a resubmission is present."""
    kaifeng_january(app)
    assert book(app, month(KAIFENG, "2024-01")) == [BOOKED]
    before = app.prepayments("H1", 2024)
    refused(app, month(KAIFENG, "2024-01"), "month_closed")
    head = app.recorder.max_notification_id()
    assert book(app, month(KAIFENG, "2024-01")) == [PRESENT]
    # The same month closed again with another date is the same key with other content: refused too.
    [other] = book(app, close_month(KAIFENG, "2024-01", "2024-02-05"))
    assert isinstance(other, InputError)
    assert app.recorder.max_notification_id() == head
    assert app.prepayments("H1", 2024) == before
    assert app.balance("M1")["balc"] == D("120.00")  # credited once: 2 % × 6000


def test_a_year_cleared_twice_is_refused_and_changes_nothing(app):
    """焦医保〔2024〕32号 四（一）: one clearing per year."""
    jiaozuo_august(app)
    booked(app, *months(JIAOZUO, 2024, 8, 12), close_year(JIAOZUO, 2024))
    before = app.clearing(JIAOZUO, 2024)
    refused(app, close_year(JIAOZUO, 2024), "year_closed")
    assert book(app, close_year(JIAOZUO, 2024)) == [PRESENT]
    assert app.clearing(JIAOZUO, 2024) == before


def test_a_kaifeng_year_cleared_twice_is_refused_and_changes_nothing(app):
    kaifeng_january(app)
    booked(app, *months(KAIFENG, 2024), close_year(KAIFENG, 2024))
    refused(app, close_year(KAIFENG, 2024), "year_closed")
    assert book(app, close_year(KAIFENG, 2024)) == [PRESENT]


def test_a_year_before_its_december_is_closed_is_refused(app):
    """A clearing needs every month prepaid: year.closed with December open is refused."""
    jiaozuo_august(app)
    booked(app, *months(JIAOZUO, 2024, 8, 11))
    refused(app, close_year(JIAOZUO, 2024), "december_open")
    booked(app, month(JIAOZUO, "2024-12"), close_year(JIAOZUO, 2024))


def test_a_kaifeng_year_before_its_december_is_closed_is_refused_for_that_reason(app):
    """Refused as december_open (and not as a reuse of the budget's business key)."""
    kaifeng_january(app)
    booked(app, *months(KAIFENG, 2024, 1, 11))
    refused(app, close_year(KAIFENG, 2024), "december_open")


def test_a_month_before_an_already_closed_month_is_refused(app):
    """Closing March first prepays January's movements in March; February can no longer be closed."""
    kaifeng_january(app)
    booked(app, month(KAIFENG, "2024-03"))
    refused(app, month(KAIFENG, "2024-02"), "month_out_of_order")
    refused(app, month(KAIFENG, "2024-01"), "month_out_of_order")
    [row] = app.prepayments("H1", 2024)["rows"]
    assert (row["month"], row["actual"]) == ("2024-03", D("175.00"))


def test_a_month_is_not_closed_before_its_last_day(app):
    kaifeng_january(app)
    refused(app, close_month(KAIFENG, "2024-01", "2024-01-30"), "month_not_over")
