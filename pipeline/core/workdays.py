"""Working days of the State Council's calendar (国务院办公厅 holiday notices, 调休 working weekends included),
from the maintained `chinese-calendar` library — never a table of our own. A year the library does not cover
yet (its release predates that year's notice) is counted by weekends only, and the caller is told."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

LIBRARY = "chinese-calendar"


@dataclass(frozen=True)
class Shift:
    day: date  # the first working day on or after the asked day
    uncovered_years: tuple[int, ...] = ()  # years the library has no holiday notice for: weekends only there


def _is_workday(day: date) -> bool | None:
    """True/False from the State Council calendar; None when the library does not cover the day's year."""
    import chinese_calendar

    try:
        return bool(chinese_calendar.is_workday(day))
    except NotImplementedError:  # "no available data for year 2027"
        return None


def next_workday(day: date) -> Shift:
    """`day` itself when it is a working day, else the next one (a holiday week is at most ~9 days long)."""
    uncovered: set[int] = set()
    current = day
    for _ in range(40):
        work = _is_workday(current)
        if work is None:
            uncovered.add(current.year)
            work = current.weekday() < 5
        if work:
            return Shift(current, tuple(sorted(uncovered)))
        current += timedelta(days=1)
    return Shift(day, tuple(sorted(uncovered)))  # unreachable with any real calendar
