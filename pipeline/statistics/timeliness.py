"""Deadlines and each unit's state for a month, as of a moment (spec section 4). The moment is a parameter."""
from __future__ import annotations

from typing import TYPE_CHECKING

import calendar
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from ..core.config import Config, Unit
from ..storage.ledger import Arrival, Ledger
from ..core.months import Month, months_between

ON_TIME, LATE, OVERDUE, PENDING = "on_time", "late", "overdue", "pending"
STATE_LABELS = {ON_TIME: "按时", LATE: "迟报", OVERDUE: "逾期未报", PENDING: "未到期"}
OUTSIDE_PERIOD = "不在报送期内"  # a month before [reporting] start or after its end: never judged (spec 4)

if TYPE_CHECKING:
    from ..materials.state import MaterialState


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
            from ..core.workdays import LIBRARY

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
        from ..core.workdays import next_workday

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


@dataclass(frozen=True)
class MonthState:
    month: Month
    state: str
    received_at: datetime | None = None
    days_late: int | None = None  # late: calendar days after the deadline day
    days_overdue: int | None = None  # overdue: calendar days from the deadline day to the moment asked about


@dataclass
class UnitStatus:
    unit: Unit
    current: MonthState
    strikes: int
    escalate: bool
    year_history: list[MonthState] = field(default_factory=list)
    attempts: list[Arrival] = field(default_factory=list)  # rejected files for the month (not submissions)
    materials: "MaterialState | None" = None  # the month's work materials (None: the unit owes none)
    strike_months: list[Month] = field(default_factory=list)  # months of the year with an obligation late
    # months that are strikes because of a further obligation (obligations.py) -> the reasons, for the 报告
    other_strikes: dict[Month, list[str]] = field(default_factory=dict)
    extra: dict[str, object] = field(default_factory=dict)  # each further obligation's key in status --json

    @property
    def name(self) -> str:
        return self.unit.name

    def to_dict(self, tz=None) -> dict:
        c = self.current
        out: dict[str, object] = {"unit": self.unit.name, "state": c.state, "state_label": STATE_LABELS[c.state],
               "received_at": c.received_at.isoformat(timespec="seconds") if c.received_at else None,
               "days_late": c.days_late, "days_overdue": c.days_overdue, "strikes": self.strikes,
               "escalate": self.escalate, "rejected_attempts": len(self.attempts),
               "strike_months": [str(m) for m in self.strike_months]}
        if self.materials is not None:
            out["materials"] = self.materials.summary_dict(tz)
        out.update(self.extra)
        return out


@dataclass
class MonthStatus:
    month: Month
    deadline: Deadline
    as_of: datetime
    units: list[UnitStatus]
    obligations: list = field(default_factory=list)  # obligations.Obligation, beyond Annex 2
    period: str = ""  # the reporting period, e.g. 2023年4月起, when the month lies outside it ('' inside)

    @property
    def in_period(self) -> bool:
        return not self.period

    def count(self, state: str) -> int:
        return sum(1 for u in self.units if u.current.state == state)

    @property
    def reported(self) -> int:
        return self.count(ON_TIME) + self.count(LATE)

    @property
    def summary(self) -> str:
        if not self.in_period:
            return f"{self.month.label}{OUTSIDE_PERIOD}（报送期：{self.period}），不判断按时、迟报和逾期"
        text = (f"已报 {self.reported}/{len(self.units)}，按时 {self.count(ON_TIME)}，迟报 {self.count(LATE)}，"
                f"逾期未报 {self.count(OVERDUE)}")
        return text + (f"，未到期 {self.count(PENDING)}" if self.count(PENDING) else "")

    def to_dict(self) -> dict:
        """status --json. A month outside the reporting period has no units and `in_period` false."""
        return {"year": self.month.year, "month": self.month.month,
                "deadline": self.deadline.last_moment.isoformat(timespec="seconds"),
                "as_of": self.as_of.isoformat(timespec="seconds"),
                "in_period": self.in_period, "deadline_note": self.deadline.note or None,
                "summary": self.summary, "units": [u.to_dict(self.as_of.tzinfo) for u in self.units]}


def days_behind(h: MonthState) -> int:
    """Days a report came late or is overdue: the bureau's days rule counts either (spec 4)."""
    return (h.days_late if h.state == LATE else h.days_overdue if h.state == OVERDUE else None) or 0


def month_state(cfg: Config, month: Month, first: Arrival | None, as_of: datetime) -> MonthState:
    due = deadline(cfg, month)
    tz = cfg.bureau.tz
    if first is not None:
        received = first.received_at.astimezone(tz)
        if received < due.boundary:
            return MonthState(month, ON_TIME, received)
        return MonthState(month, LATE, received, days_late=(received.date() - due.last_day).days)
    if as_of >= due.boundary:
        return MonthState(month, OVERDUE, days_overdue=(as_of.astimezone(tz).date() - due.last_day).days)
    return MonthState(month, PENDING)


def status(cfg: Config, ledger: Ledger, month: Month, as_of: datetime, obligations: list | None = None) -> MonthStatus:
    """Every unit expected to report for `month`, considering only files received at or before `as_of`.
    The existing keys describe Annex 2; each unit also carries its materials state, and a month is one
    strike when any of its obligations was late or overdue (spec 12). `obligations`
    (obligations.load_obligations: the key tasks) add their strike months, with reasons, and their JSON keys."""
    from ..materials.state import material_states, strike_months

    obligations = list(obligations or [])
    if not cfg.in_period(month):
        return MonthStatus(month, deadline(cfg, month), as_of, [], obligations, period=cfg.period_text)
    materials = {s.unit: s for s in material_states(cfg, ledger, month, as_of)}
    material_strikes = strike_months(cfg, ledger, month, as_of)
    firsts = ledger.first_accepted(as_of)
    rejected = [a for a in ledger.arrivals(as_of) if a.outcome == "rejected" and a.kind == "workbook"]
    units = []
    for unit in cfg.units:
        if not unit.expected_in(month):
            continue
        year_months = [m for m in expected_months(cfg, unit, month) if m.year == month.year]
        history = [month_state(cfg, m, firsts.get((unit.name, m.year, m.month)), as_of) for m in year_months]
        current = history[-1]
        late = {h.month for h in history if h.state in (LATE, OVERDUE)}
        other: dict[Month, list[str]] = {}  # month -> why it is a strike besides Annex 2 (for the 报告)
        for m in material_strikes.get(unit.name, []):
            if m.year == month.year and m <= month:
                other.setdefault(m, []).append("月度工作材料未按时报齐")
        for ob in obligations:
            for m, reason in ob.strike_months(unit.name).items():
                if m.year == month.year and m <= month:
                    other.setdefault(m, []).append(reason)
        late |= set(other)
        strikes = len(late)  # one per month, whatever the number of obligations late in it
        long_overdue = any(days_behind(h) > cfg.escalation.overdue_days for h in history)
        attempts = [a for a in rejected if a.unit == unit.name and (a.year, a.month_to) == (month.year, month.month)]
        units.append(UnitStatus(unit, current, strikes, strikes >= cfg.escalation.strikes or long_overdue,
                                history, attempts, materials.get(unit.name), sorted(late), dict(sorted(other.items())),
                                {ob.key: ob.unit_json(unit.name) for ob in obligations if ob.key}))
    return MonthStatus(month, deadline(cfg, month), as_of, units, obligations)
