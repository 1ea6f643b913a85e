"""Calendar helpers for months and insured years (参保年度 = calendar year)."""

from __future__ import annotations

import calendar
from datetime import date
from functools import lru_cache


def month_key(day: date) -> str:
    """The month a date falls in, as ``YYYY-MM``."""
    return f"{day.year:04d}-{day.month:02d}"


def parse_month(month: str) -> tuple[int, int]:
    """Split ``YYYY-MM`` into (year, month), refusing anything else."""
    year_s, sep, month_s = month.partition("-")
    if not sep or len(year_s) != 4 or len(month_s) != 2:
        msg = f"{month!r} is not a month written YYYY-MM"
        raise ValueError(msg)
    year, mon = int(year_s), int(month_s)
    if not 1 <= mon <= 12:
        msg = f"{month!r} is not a month written YYYY-MM"
        raise ValueError(msg)
    return year, mon


@lru_cache(maxsize=1024)
def month_start(month: str) -> date:
    """The first day of month ``YYYY-MM``.

    Kept for the months asked about: a month close asks it of the same month for every member.
    """
    year, mon = parse_month(month)
    return date(year, mon, 1)


@lru_cache(maxsize=1024)
def month_end(month: str) -> date:
    """The last day of month ``YYYY-MM`` (kept, as :func:`month_start`)."""
    year, mon = parse_month(month)
    return date(year, mon, calendar.monthrange(year, mon)[1])


def first_of_month_after(day: date, months: int = 1) -> date:
    """The first day of the month ``months`` after the one ``day`` falls in."""
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def next_month(month: str) -> str:
    """The month after ``YYYY-MM``."""
    return month_key(first_of_month_after(month_start(month)))
