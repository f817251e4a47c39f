"""Calendar months (`YYYY-MM`), the unit every report and deadline is counted in."""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime

# 2023-05, 2023-5, 2023/5, 2023.5, 202305, 2023年5月, 2023年05月 (full-width digits and spaces allowed)
_MONTH_FORMS = (
    re.compile(r"^(\d{4})\s*[-/.]\s*(\d{1,2})$"),
    re.compile(r"^(\d{4})(\d{2})$"),
    re.compile(r"^(\d{4})\s*年\s*(\d{1,2})\s*月(?:份)?$"),
)
MONTH_EXAMPLES = "2023-05、2023/5、2023.5、202305 或 2023年5月"


# The months a clerk can mean: the tool's own documents (zip dates end in 2107, the ledger's text needs four
# digits) and the bureau's reporting are all in this range; a year outside it is a typo (0000-01, 9999-12).
FIRST_YEAR, LAST_YEAR = 2000, 2099


class BadMonth(ValueError):
    "A month is not written as a year and a month from 1 to 12 (YYYY-MM, 2023/5, 2023年5月 …)"


@dataclass(frozen=True, order=True)
class Month:
    year: int
    month: int

    def __post_init__(self) -> None:
        if not 1 <= self.month <= 12:
            raise BadMonth(f"月份 {self.month} 不在 1–12 之间")

    @classmethod
    def parse(cls, text: str) -> "Month":
        """A month as people type it: 2023-05, 2023/5, 2023.5, 202305, 2023年5月 (see MONTH_EXAMPLES)."""
        cleaned = unicodedata.normalize("NFKC", str(text)).strip()
        for form in _MONTH_FORMS:
            m = form.match(cleaned)
            if m:
                month = cls(int(m.group(1)), int(m.group(2)))
                if not FIRST_YEAR <= month.year <= LAST_YEAR:
                    raise BadMonth(f"“{text}” 的年份 {month.year} 不在 {FIRST_YEAR}–{LAST_YEAR} 年之间，请核对")
                return month
        raise BadMonth(f"“{text}” 不是月份，请写成 {MONTH_EXAMPLES}")

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


def period_label(year: int | None, month_from: int | None, month_to: int | None, missing: str = "") -> str:
    """The period a cumulative report covers, as the bureau writes it: `2023年1月至5月` (a report with no
    from-month runs from January); `missing` when the year or the to-month is unknown."""
    if not year or not month_to:
        return missing
    return f"{year}年{month_from or 1}月至{month_to}月"
