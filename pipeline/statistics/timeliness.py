"""The Annex 2 form's state for a month, as of a moment (spec section 4): on time, late, overdue or pending
by the first accepted form of the unit and month. The moment is a parameter."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from ..core.config import Config
from ..core.deadlines import LATE, ON_TIME, OVERDUE, PENDING, deadline
from ..core.months import Month
from ..storage.ledger import Arrival

STATE_LABELS = {ON_TIME: "按时", LATE: "迟报", OVERDUE: "逾期未报", PENDING: "未到期"}


@dataclass(frozen=True)
class MonthState:
    month: Month
    state: str
    received_at: datetime | None = None
    days_late: int | None = None  # late: calendar days after the deadline day
    days_overdue: int | None = None  # overdue: calendar days from the deadline day to the moment asked about


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
