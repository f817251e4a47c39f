"""Moments as the clerk types them: a date-time (no offset = the bureau's zone) or a date (= its end).

ISO is the canonical spelling (2023-05-23T18:30); the date may also be written as people do —
2023/5/23, 2023.5.23, 20230523, 2023年5月23日 — with an optional time after a space or a T
(18:30, 18:30:15, 18时30分, 18点)."""
from __future__ import annotations

import re
import unicodedata
from datetime import date, datetime, time, tzinfo

from .months import FIRST_YEAR, LAST_YEAR


class BadMoment(ValueError):
    "Not a date or date-time the clerk could mean"


MOMENT_EXAMPLES = "2023-05-23、2023/5/23、2023年5月23日 或 2023-05-23T18:30、2023年5月23日 18:00"

_DATE = (r"(?P<y>\d{4})(?:[-/.](?P<m>\d{1,2})[-/.](?P<d>\d{1,2})|(?P<m2>\d{2})(?P<d2>\d{2})"
         r"|\s*年\s*(?P<m3>\d{1,2})\s*月\s*(?P<d3>\d{1,2})\s*[日号])")
_TIME = (r"(?:(?:\s*T\s*|\s+|(?<=[日号]))(?P<H>\d{1,2})\s*[:：时点]\s*"
         r"(?:(?P<M>\d{1,2})\s*分?\s*(?:[:：]?\s*(?P<S>\d{1,2})\s*秒?)?)?(?P<frac>\.\d+)?)?")
_OFFSET = r"(?P<tz>Z|[+-]\d{2}:?\d{2})?"
_MOMENT = re.compile(rf"^{_DATE}{_TIME}{_OFFSET}$")


def normalize_moment(text: str) -> str:
    """The ISO spelling of a moment as typed (date alone stays a date); BadMoment when it is not one."""
    cleaned = unicodedata.normalize("NFKC", str(text)).strip()
    m = _MOMENT.match(cleaned)
    if not m:
        raise BadMoment(f"“{text}” 不是日期或时间，请写成 {MOMENT_EXAMPLES}")
    y = int(m["y"])
    mo = int(m["m"] or m["m2"] or m["m3"])
    d = int(m["d"] or m["d2"] or m["d3"])
    if not FIRST_YEAR <= y <= LAST_YEAR:  # 0999-12-31 is a typo, and no time the ledger could hold or order
        raise BadMoment(f"“{text}” 的年份 {y} 不在 {FIRST_YEAR}–{LAST_YEAR} 年之间，请核对日期")
    if m["tz"] and m["tz"] != "Z":
        hours, minutes = int(m["tz"][1:3]), int(m["tz"][-2:])
        if hours > 14 or minutes > 59:  # no zone on earth is further than 14 hours from UTC
            raise BadMoment(f"“{text}” 的时区 {m['tz']} 不存在（应在 -14:00 到 +14:00 之间），请核对")
    try:
        day = date(y, mo, d)
        if m["H"] is None:
            if m["tz"]:
                raise ValueError
            return day.isoformat()
        clock = time(int(m["H"]), int(m["M"] or 0), int(m["S"] or 0))
    except ValueError:
        raise BadMoment(f"“{text}” 不是有效的日期或时间，请写成 {MOMENT_EXAMPLES}") from None
    out = f"{day.isoformat()}T{clock.isoformat()}{m['frac'] or ''}"
    if m["tz"]:
        tz = m["tz"] if m["tz"] == "Z" or ":" in m["tz"] else f"{m['tz'][:3]}:{m['tz'][3:]}"
        out += "+00:00" if tz == "Z" else tz
    return out


def parse_moment(text: str, tz: tzinfo) -> datetime:
    iso = normalize_moment(text)
    if len(iso) == 10:
        return datetime.combine(date.fromisoformat(iso), time.max, tz)
    moment = datetime.fromisoformat(iso)
    return moment.replace(tzinfo=tz) if moment.tzinfo is None else moment
