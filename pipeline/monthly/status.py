"""Each unit's state for a month as of a moment (spec 4, 12): its Annex 2 form, then what every registered
obligation says of it (its status column and JSON key, its strike months). A month is one strike when any
obligation was late or overdue in it."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from ..core.config import Config, Unit
from ..core.deadlines import LATE, ON_TIME, OVERDUE, PENDING, Deadline, deadline, expected_months
from ..core.months import Month
from ..documents.obligation import Obligation
from ..statistics.timeliness import STATE_LABELS, MonthState, days_behind, month_state
from ..storage.ledger import Arrival, Ledger

OUTSIDE_PERIOD = "不在报送期内"  # a month before [reporting] start or after its end: never judged (spec 4)


@dataclass
class UnitStatus:
    unit: Unit
    current: MonthState
    strikes: int
    escalate: bool
    year_history: list[MonthState] = field(default_factory=list)
    attempts: list[Arrival] = field(default_factory=list)  # rejected files for the month (not submissions)
    strike_months: list[Month] = field(default_factory=list)  # months of the year with an obligation late
    # months that are strikes because of a further obligation -> the reasons, for the 报告
    other_strikes: dict[Month, list[str]] = field(default_factory=dict)
    extra: dict[str, object] = field(default_factory=dict)  # each obligation's key in status --json

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
        out.update(self.extra)
        return out


@dataclass
class MonthStatus:
    month: Month
    deadline: Deadline
    as_of: datetime
    units: list[UnitStatus]
    obligations: list[Obligation] = field(default_factory=list)  # beyond Annex 2 (monthly/obligations.py)
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


def status(cfg: Config, ledger: Ledger, month: Month, as_of: datetime,
           obligations: list[Obligation] | None = None) -> MonthStatus:
    """Every unit expected to report for `month`, considering only files received at or before `as_of`.
    The existing keys describe Annex 2; each obligation (default: every registered one, see
    obligations.load_obligations) adds its strike months, with reasons, and its JSON key."""
    if obligations is None:
        from .obligations import load_obligations

        obligations = load_obligations(cfg, ledger, month, as_of)
    obligations = list(obligations)
    if not cfg.in_period(month):
        return MonthStatus(month, deadline(cfg, month), as_of, [], obligations, period=cfg.period_text)
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
        for ob in obligations:
            for m, reason in ob.strike_months(unit.name).items():
                if m.year == month.year and m <= month:
                    other.setdefault(m, []).append(reason)
        late |= set(other)
        strikes = len(late)  # one per month, whatever the number of obligations late in it
        long_overdue = any(days_behind(h) > cfg.escalation.overdue_days for h in history)
        attempts = [a for a in rejected if a.unit == unit.name and (a.year, a.month_to) == (month.year, month.month)]
        extra = {ob.key: value for ob in obligations if ob.key and (value := ob.unit_json(unit.name)) is not None}
        units.append(UnitStatus(unit, current, strikes, strikes >= cfg.escalation.strikes or long_overdue,
                                history, attempts, sorted(late), dict(sorted(other.items())), extra))
    return MonthStatus(month, deadline(cfg, month), as_of, units, obligations)
