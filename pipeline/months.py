"""Calendar months (`YYYY-MM`), the unit every report and deadline is counted in."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime

_MONTH = re.compile(r"^\s*(\d{4})-(\d{1,2})\s*$")


class BadMonth(ValueError):
    "A month is not written as YYYY-MM with a month from 1 to 12"


@dataclass(frozen=True, order=True)
class Month:
    year: int
    month: int

    def __post_init__(self) -> None:
        if not 1 <= self.month <= 12:
            raise BadMonth(f"月份 {self.month} 不在 1–12 之间")

    @classmethod
    def parse(cls, text: str) -> "Month":
        m = _MONTH.match(str(text))
        if not m:
            raise BadMonth(f"“{text}” 不是 YYYY-MM 格式的月份（例如 2023-05）")
        return cls(int(m.group(1)), int(m.group(2)))

    @classmethod
    def of(cls, moment: date | datetime) -> "Month":
        return cls(moment.year, moment.month)

    def plus(self, months: int) -> "Month":
        index = self.year * 12 + (self.month - 1) + months
        return Month(index // 12, index % 12 + 1)

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    @property
    def label(self) -> str:
        return f"{self.year}年{self.month}月"


def months_between(first: Month, last: Month) -> list[Month]:
    """Every month from first to last, both included (empty when last < first)."""
    out, cur = [], first
    while cur <= last:
        out.append(cur)
        cur = cur.plus(1)
    return out
