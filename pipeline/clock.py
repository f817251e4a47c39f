"""Moments as the clerk types them: an ISO date-time (no offset = the bureau's zone) or a date (= its end)."""
from __future__ import annotations

from datetime import date, datetime, time, tzinfo


class BadMoment(ValueError):
    "Not an ISO date or date-time"


def parse_moment(text: str, tz: tzinfo) -> datetime:
    text = text.strip()
    try:
        if len(text) == 10:
            return datetime.combine(date.fromisoformat(text), time.max, tz)
        moment = datetime.fromisoformat(text.replace(" ", "T", 1))
    except ValueError:
        raise BadMoment(f"“{text}” 不是日期或时间（例如 2023-05-23 或 2023-05-23T18:30）") from None
    return moment.replace(tzinfo=tz) if moment.tzinfo is None else moment
