"""Working-day deadlines: the 30 working days in which a pharmacy's claims are settled.

医保办发〔2023〕4号 三（四）: 「原则上医保经办机构自收到定点零售药店结算申请之日起30个工作日内
完成医保结算，并及时拨付结算费用」. Working days are China's: weekends and official holidays off,
adjusted weekend working days (调休) on, from the ``chinesecalendar`` package. The day of receipt
is not counted (the period runs 「自……之日起」, from the day after). A date past the years the
package knows is an error, never a guess.
"""

from __future__ import annotations

from datetime import date, timedelta

import chinese_calendar

from ledger.errors import LedgerError


class HolidayCalendarError(LedgerError):
    """Raised when a working day is asked of a year the holiday calendar does not cover."""


def is_working_day(day: date) -> bool:
    """Whether ``day`` is a working day in China (weekends, holidays and 调休 applied)."""
    try:
        return bool(chinese_calendar.is_workday(day))
    except NotImplementedError:
        years = sorted({d.year for d in chinese_calendar.holidays})
        msg = (f"{day.isoformat()} is outside the holiday calendar (chinesecalendar knows {years[0]}-{years[-1]}); "
               "update the chinesecalendar package to count working days in that year")
        raise HolidayCalendarError(msg) from None


def working_day_deadline(received: date, working_days: int) -> date:
    """The last day of a period of ``working_days`` working days counted from the day after ``received``."""
    day, left = received, working_days
    while left:
        day += timedelta(days=1)
        if is_working_day(day):
            left -= 1
    return day


def working_days_between(start: date, end: date) -> int:
    """Working days after ``start`` up to and including ``end`` (0 when ``end`` is not after ``start``)."""
    count, day = 0, start
    while day < end:
        day += timedelta(days=1)
        count += is_working_day(day)
    return count
