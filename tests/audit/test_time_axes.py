"""Two time axes (DESIGN.md §1): the effective date (``as_of``) and what the ledger knew (``known_at``).

A fact carries its business date; the store stamps the recorded time. A backdated fact changes
the past on the first axis but not on the second: "as the ledger knew it on 04-10" still shows
the visit paid. The wall clock is frozen with freezegun, so ``known_at`` can be an ISO timestamp,
mapped through the hash chain's recorded times to the last position recorded by then.

The story (Xinyang, 信政办〔2022〕23号), each step recorded at the time shown (UTC):

- 2024-04-01 01:00: M1 enrolled on a base of 6000.00; January–March closed, 3 × 120.00 (第八条).
- 2024-04-05 02:00: S1 M1@H3 04-05, 400.00: (400 − 50) × 50 % = 175.00 from the pooling fund.
- 2024-04-20 02:00: M1's admission from 04-03 is recorded: S1 refused (第十九条（二）), 0.00.
- 2024-05-10 02:00: M1's base becomes 9000.00 from 02-01: February and March +60.00 each.
"""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from ledger.projections.chain import log_chain
from tests.audit.city import D, admitted, base_changed, booked, budget, months, wall_clock
from tests.support import institution, item, member, visit


@pytest.fixture
def story(app):
    """The story booked; the log positions after each recorded step."""
    at = {}
    with wall_clock(app, "2024-04-01T01:00:00+00:00"):
        booked(app, budget(), institution("H3", level=3), institution("H2", level=2), member("M1"),
               *months("2024-01", "2024-02", "2024-03"))
    at["closed"] = app.recorder.max_notification_id()
    with wall_clock(app, "2024-04-05T02:00:00+00:00"):
        booked(app, visit("S1", "M1", "H3", "2024-04-05", item("400.00")))
    at["visit"] = app.recorder.max_notification_id()
    with wall_clock(app, "2024-04-20T02:00:00+00:00"):
        booked(app, admitted("M1", "2024-04-03"))
    at["admission"] = app.recorder.max_notification_id()
    with wall_clock(app, "2024-05-10T02:00:00+00:00"):
        booked(app, base_changed("M1", "2024-02-01", "9000.00"))
    at["base"] = app.recorder.max_notification_id()
    return app, at


def _used(app, **kw):
    return app.cap("M1", 2024, **kw)["used"]


def _balc(app, **kw):
    return app.balance("M1", **kw)["balc"]


def test_the_cap_as_known_before_the_backdated_admission_shows_the_visit_paid(story):
    app, at = story
    assert _used(app) == D("0.00")  # now: S1 refused
    before = app.cap("M1", 2024, known_at=str(at["visit"]))
    assert (before["used"], before["remaining"], before["visits"], before["known_at"]) == (
        D("175.00"), D("1325.00"), 1, at["visit"])


def test_the_cap_as_of_a_day_before_the_visit_shows_nothing_used_on_either_axis(story):
    app, at = story
    assert _used(app, as_of=date(2024, 4, 4)) == D("0.00")
    assert _used(app, as_of=date(2024, 4, 4), known_at=str(at["visit"])) == D("0.00")
    # The axes differ: as of the visit's day, now 0.00; as of the same day as known on 04-10, 175.00.
    assert _used(app, as_of=date(2024, 4, 5)) == D("0.00")
    assert _used(app, as_of=date(2024, 4, 5), known_at=str(at["visit"])) == D("175.00")


def test_known_at_an_iso_timestamp_is_the_last_position_recorded_by_then(story):
    app, at = story
    assert app.known_position("2024-03-31T23:59:59+00:00") == 0
    assert app.known_position("2024-04-01T01:00:00+00:00") == at["closed"]
    assert app.known_position("2024-04-10T00:00:00+00:00") == at["visit"]
    assert app.known_position("2024-04-20T01:59:59+00:00") == at["visit"]
    assert app.known_position("2024-04-20T02:00:00+00:00") == at["admission"]
    assert app.known_position("2030-01-01T00:00:00+00:00") == at["base"]
    assert _used(app, known_at="2024-04-10T00:00:00+00:00") == D("175.00")
    assert _used(app, known_at="2024-04-20T01:59:59+00:00") == D("175.00")
    assert _used(app, known_at="2024-04-20T02:00:00+00:00") == D("0.00")
    assert _used(app, known_at="2024-04-01T01:00:00+00:00") == D("0.00")  # before the visit was recorded


def test_known_at_in_beijing_time_means_the_same_instant(story):
    """09:00+08:00 on 04-20 is 01:00 UTC, an hour before the admission was recorded (02:00 UTC)."""
    app, at = story
    assert app.known_position("2024-04-20T09:00:00+08:00") == at["visit"]
    assert _used(app, known_at="2024-04-20T09:00:00+08:00") == D("175.00")
    assert app.known_position("2024-04-20T10:00:00+08:00") == at["admission"]


def test_balances_on_both_axes_with_backdated_credits(story):
    """Credits are dated on their month's end; the base change's corrections too (+60.00 on 02-29
    and 03-31), though recorded on 05-10."""
    app, at = story
    assert _balc(app) == D("480.00")  # 120 + 180 + 180
    assert _balc(app, as_of=date(2024, 1, 31)) == D("120.00")
    assert _balc(app, as_of=date(2024, 2, 29)) == D("300.00")  # 120 + 120 + 60
    assert _balc(app, as_of=date(2024, 2, 29), known_at="2024-05-01T00:00:00+00:00") == D("240.00")
    assert _balc(app, known_at=str(at["admission"])) == D("360.00")
    assert _balc(app, known_at="2024-04-01T01:00:00+00:00") == D("360.00")
    assert _balc(app, known_at="2024-03-31T23:59:59+00:00") == D("0.00")
    assert _balc(app, as_of=date(2024, 3, 31), known_at="2024-05-10T02:00:00+00:00") == D("480.00")


def test_the_recorded_times_are_the_frozen_wall_clock(story):
    app, at = story
    with app.engine.connect() as conn:
        recorded = dict(conn.execute(select(log_chain.c.position, log_chain.c.recorded_at)).all())
    assert recorded[at["closed"]] == "2024-04-01T01:00:00+00:00"
    assert recorded[at["visit"]] == "2024-04-05T02:00:00+00:00"
    assert recorded[at["admission"]] == "2024-04-20T02:00:00+00:00"
    assert recorded[at["base"]] == "2024-05-10T02:00:00+00:00"
