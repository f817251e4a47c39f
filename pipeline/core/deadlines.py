"""Deadlines every obligation shares (spec 4): when a month's report is due, the four states a report can be
in, and the months a unit owes. The moment is a parameter; nothing here reads the clock."""
from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from .config import Config, Unit
from .months import Month, months_between

ON_TIME, LATE, OVERDUE, PENDING = "on_time", "late", "overdue", "pending"


@dataclass(frozen=True)
class Deadline:
    month: Month
    last_day: date  # the last calendar day on which a report is on time
    boundary: datetime  # the first moment at which it is late (start of the next day, bureau's zone)
    shifted_from: date | None = None  # holiday_shift: the day it fell on, a holiday or weekend
    uncovered_years: tuple[int, ...] = ()  # holiday_shift in a year the calendar library does not cover yet

    @property
    def last_moment(self) -> datetime:
        return self.boundary - timedelta(seconds=1)

    @property
    def note(self) -> str:
        """What a clerk must know about how the day was found ('' when nothing)."""
        parts = []
        if self.shifted_from is not None:
            parts.append(f"截止日{chinese_date(self.shifted_from)}为法定节假日或周末，顺延至{chinese_date(self.last_day)}")
        if self.uncovered_years:
            from .workdays import LIBRARY

            years = "、".join(f"{y}年" for y in self.uncovered_years)
            parts.append(f"节假日库 {LIBRARY} 尚无{years}的国务院放假安排，截止日只按周末顺延，"
                         f"请核对放假通知并升级 {LIBRARY}（pip install -U {LIBRARY}）")
        return "；".join(parts)


def chinese_date(day: date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


def deadline(cfg: Config, month: Month) -> Deadline:
    """Due on `day` of month + month_offset (clamped to the month's length), end of day when inclusive; with
    holiday_shift, a last day on a statutory holiday or a weekend moves to the next working day (调休 Saturdays
    and Sundays are working days)."""
    rule = cfg.deadline
    due_month = month.plus(rule.month_offset)
    day = min(rule.day, calendar.monthrange(due_month.year, due_month.month)[1])
    last = date(due_month.year, due_month.month, day) + timedelta(days=rule.grace_days)
    if not rule.inclusive:
        last -= timedelta(days=1)
    shifted_from: date | None = None
    uncovered: tuple[int, ...] = ()
    if rule.holiday_shift:
        from .workdays import next_workday

        shift = next_workday(last)
        shifted_from = last if shift.day != last else None
        last, uncovered = shift.day, shift.uncovered_years
    boundary = datetime.combine(last + timedelta(days=1), time.min, cfg.bureau.tz)
    return Deadline(month, last, boundary, shifted_from, uncovered)


def expected_months(cfg: Config, unit: Unit, up_to: Month) -> list[Month]:
    """The months up to `up_to` the unit owes a report for: inside the reporting period and its own from/until."""
    first = max(cfg.start, unit.first) if unit.first else cfg.start
    last = min(up_to, unit.last) if unit.last else up_to
    if cfg.end is not None:
        last = min(last, cfg.end)
    return months_between(first, last)
