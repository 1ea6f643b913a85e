"""Settlement deadlines (医保办发〔2023〕4号 三（四）): a pharmacy's month is paid within 30 working days.

Hand count for an application received Thursday 2024-09-05 (the day itself not counted):
Sep 6 (1); Sep 9-13 (2-6); Saturday Sep 14, a working day for Mid-Autumn (7); Sep 15-17 off;
Sep 18-20 (8-10); Sep 23-27 (11-15); Sunday Sep 29, a working day for National Day (16);
Sep 30 (17); Oct 1-7 off; Oct 8-11 (18-21); Saturday Oct 12, a working day (22); Oct 14-18
(23-27); Oct 21-23 (28-30). The 30th working day is 2024-10-23.
"""

from __future__ import annotations

import json
from datetime import date

import pytest
from click.testing import CliRunner

from ledger.entrypoints.cli import main
from ledger.errors import InputError
from ledger.rules.deadlines import HolidayCalendarError, working_day_deadline, working_days_between
from ledger.services.application import BOOKED, PRESENT
from ledger.services.deadlines import overdue
from tests.support import book, institution, pharmacy

XINYANG = "411500"


def received(code: str, month: str, day: str, **extra):
    return {"type": "institution.month_received", "date": day, "fixmedins_code": code, "month": month, **extra}


def paid(code: str, month: str, day: str, **extra):
    return {"type": "institution.month_paid", "date": day, "fixmedins_code": code, "month": month, **extra}


def region(*messages):
    return [pharmacy("P1"), pharmacy("P2"), institution("H1", level=2), *messages]


def booked(app, *messages):
    outcomes = book(app, *messages)
    assert outcomes == [BOOKED] * len(messages), outcomes


def rows(app, as_of: str):
    return overdue(app, XINYANG, date.fromisoformat(as_of))["rows"]


def test_the_thirtieth_working_day_counts_holidays_and_adjusted_days_national_3_4():
    assert working_day_deadline(date(2024, 9, 5), 30) == date(2024, 10, 23)
    assert working_days_between(date(2024, 9, 5), date(2024, 10, 23)) == 30
    # Spring Festival 2025: Jan 28 - Feb 4 off, Sunday Jan 26 and Saturday Feb 8 worked.
    assert working_day_deadline(date(2025, 1, 24), 2) == date(2025, 1, 27)
    assert working_days_between(date(2025, 1, 27), date(2025, 2, 8)) == 4  # Feb 5, 6, 7 and Saturday Feb 8
    assert working_days_between(date(2024, 10, 23), date(2024, 10, 23)) == 0


def test_unpaid_on_the_thirtieth_working_day_is_not_yet_overdue_national_3_4(app):
    booked(app, *region(received("P1", "2024-08", "2024-09-05", amount="12000.00")))
    assert rows(app, "2024-10-23") == []


def test_unpaid_the_day_after_is_overdue_national_3_4(app):
    booked(app, *region(received("P1", "2024-08", "2024-09-05", amount="12000.00")))
    [row] = rows(app, "2024-10-24")
    assert (row["fixmedins_code"], row["month"], row["status"], row["due_on"]) == (
        "P1", "2024-08", "overdue", date(2024, 10, 23))
    assert (row["working_days"], row["working_days_late"]) == (31, 1)
    assert str(row["received_amount"]) == "12000.00"
    assert row["article"] == "医保办发〔2023〕4号 三（四）"


def test_paid_after_the_deadline_is_reported_as_paid_late_national_3_4(app):
    """Paid Friday 2024-10-25: 32 working days after receipt, 2 late; as of 10-24 it was still overdue."""
    booked(app, *region(received("P1", "2024-08", "2024-09-05"), paid("P1", "2024-08", "2024-10-25")))
    [late] = rows(app, "2024-11-01")
    assert (late["status"], late["paid_on"], late["working_days"], late["working_days_late"]) == (
        "paid_late", date(2024, 10, 25), 32, 2)
    [before] = rows(app, "2024-10-24")
    assert (before["status"], before["paid_on"]) == ("overdue", None)


def test_paid_on_time_and_hospitals_are_not_reported_national_3_4(app):
    booked(app, *region(received("P1", "2024-08", "2024-09-05"), paid("P1", "2024-08", "2024-10-23"),
                        received("H1", "2024-08", "2024-09-05"), received("P2", "2024-09", "2024-10-09")))
    assert rows(app, "2024-10-24") == []


def test_month_messages_that_cannot_be_are_refused(app):
    booked(app, *region(received("P1", "2024-08", "2024-09-05")))
    cases = [
        (received("P2", "2024-08", "2024-08-31"), "month_not_ended"),
        (received("P1", "2024-08", "2024-09-06"), "key_reused"),
        (paid("P2", "2024-08", "2024-09-10"), "month_not_received"),
        (paid("P1", "2024-08", "2024-09-04"), "paid_before_received"),
        (received("X9", "2024-08", "2024-09-05"), "unknown_institution"),
    ]
    for message, code in cases:
        [outcome] = book(app, message)
        assert isinstance(outcome, InputError) and outcome.code == code, (message, outcome)
    assert book(app, received("P1", "2024-08", "2024-09-05")) == [PRESENT]
    booked(app, paid("P1", "2024-08", "2024-10-20"))
    [outcome] = book(app, paid("P1", "2024-08", "2024-10-21"))
    assert isinstance(outcome, InputError) and outcome.code == "key_reused"


def test_past_the_holiday_calendar_is_an_error_not_a_guess(app):
    booked(app, *region(received("P1", "2026-11", "2026-12-10")))
    with pytest.raises(HolidayCalendarError, match="2027-01-01 is outside the holiday calendar"):
        rows(app, "2027-02-01")


def test_the_overdue_command(app, store):
    booked(app, *region(received("P1", "2024-08", "2024-09-05"), received("P1", "2026-11", "2026-12-10")))
    run = CliRunner()
    out = run.invoke(main, ["--db", store.url, "overdue", XINYANG, "--as-of", "2024-10-24", "--json"])
    assert out.exit_code == 0, out.stderr
    data = json.loads(out.stdout)
    assert [(r["month"], r["due_on"], r["working_days_late"]) for r in data["rows"]] == [("2024-08", "2024-10-23", 1)]
    text = run.invoke(main, ["--db", store.url, "overdue", XINYANG, "--as-of", "2024-10-24"])
    assert "P1 2024-08: received 2024-09-05, due 2024-10-23, unpaid" in text.stdout
    beyond = run.invoke(main, ["--db", store.url, "overdue", XINYANG, "--as-of", "2027-02-01"])
    assert beyond.exit_code == 1
    assert beyond.stderr.count("\n") == 1 and "outside the holiday calendar" in beyond.stderr
    unknown = run.invoke(main, ["--db", store.url, "overdue", "999999", "--as-of", "2024-10-24"])
    assert unknown.exit_code == 1 and "unknown_region" in unknown.stderr
