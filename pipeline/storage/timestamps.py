"""Moments as the ledger stores them: ISO 8601 in UTC, fixed width, so that text order is time order."""
from __future__ import annotations

from datetime import datetime, timezone


def utc_text(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("received times must carry a time zone")
    u = moment.astimezone(timezone.utc)  # %Y does not pad years below 1000 on every platform: text order is time order
    return f"{u.year:04d}-{u.month:02d}-{u.day:02d}T{u.hour:02d}:{u.minute:02d}:{u.second:02d}.{u.microsecond:06d}Z"


def from_utc_text(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc)
