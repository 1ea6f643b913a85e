"""Properties of the working-day count (医保办发〔2023〕4号 三（四）) over the calendar's whole range."""

from __future__ import annotations

from datetime import date, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.rules.deadlines import is_working_day, working_day_deadline, working_days_between


@settings(max_examples=200, deadline=None, database=None)
@given(received=st.dates(min_value=date(2004, 1, 1), max_value=date(2026, 10, 31)), days=st.integers(1, 40))
def test_the_deadline_is_the_nth_working_day_after_receipt(received, days):
    due = working_day_deadline(received, days)
    assert is_working_day(due)
    assert working_days_between(received, due) == days
    assert working_days_between(received, due - timedelta(days=1)) == days - 1
    assert due - received <= timedelta(days=days * 7 // 5 + 12)  # Golden Week and Spring Festival at most
