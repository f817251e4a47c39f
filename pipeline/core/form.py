"""The one description of Annex 2 (安全生产督查情况统计表).

The template, the reader, the validator and every writer read these definitions; no other module
spells a label of the form.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import lru_cache


@dataclass(frozen=True)
class Sector:
    key: str
    label: str
    number: int | None  # the row's number in the seed ("1.建设领域"); None for 合计
    variants: tuple[str, ...] = ()

    @property
    def display(self) -> str:
        """The label as the template prints it."""
        return f"{self.number}.{self.label}" if self.number else self.label


@dataclass(frozen=True)
class Metric:
    key: str
    label: str
    unit: str  # unit of measure, the form's units row
    group: str | None = None
    # A rate is derived: numerator / denominator × 100. Never taken as data.
    rate_of: tuple[str, str] | None = None  # (fixed key, found key)
    variants: tuple[str, ...] = ()  # other headers people type for this column

    @property
    def is_rate(self) -> bool:
        return self.rate_of is not None


SECTORS: tuple[Sector, ...] = (
    Sector("construction", "建设领域", 1),
    Sector("fireworks", "烟花爆竹安全", 2, ("烟花爆竹",)),
    Sector("traffic", "交通安全", 3),
    Sector("culture_tourism", "文化体育旅游", 4, ("文体旅游", "文化体育旅游安全")),
    Sector("student", "学生安全", 5),
    Sector("natural_disaster", "自然灾害", 6, ("自然灾害防治",)),
    Sector("other", "其他", 7, ("其它",)),
)
TOTAL = Sector("total", "合计", None, ("总计", "合并", "小计"))
ROWS: tuple[Sector, ...] = SECTORS + (TOTAL,)

GROUP_HAZARDS = "排查治理隐患"
GROUP_ENFORCEMENT = "监管执法"

METRICS: tuple[Metric, ...] = (
    Metric("inspection_teams", "组织督查组", "个", variants=("组织督查组数", "督查组", "督查组数")),
    Metric("inspectors", "组织督查人员", "人次", variants=("组织督查人数", "督查人员", "组织督查人员数")),
    Metric("units_inspected", "督查检查单位数", "家", variants=("督查检查单位", "检查单位数")),
    Metric("major_hazards", "重大隐患数", "项", GROUP_HAZARDS, variants=("重大隐患",)),
    Metric("other_hazards", "其他隐患数", "项", GROUP_HAZARDS, variants=("其他隐患", "一般隐患数", "其它隐患数")),
    Metric("major_fixed", "重大隐患已整改数", "项", GROUP_HAZARDS, variants=("重大隐患已整改", "重大隐患整改数")),
    Metric("other_fixed", "其他隐患已整改数", "项", GROUP_HAZARDS,
           variants=("其他隐患已整改", "其他隐患整改数", "其它隐患已整改数", "一般隐患已整改数")),
    Metric("major_fix_rate", "重大隐患整改率", "%", GROUP_HAZARDS, ("major_fixed", "major_hazards")),
    Metric("other_fix_rate", "其他隐患整改率", "%", GROUP_HAZARDS, ("other_fixed", "other_hazards"),
           variants=("其它隐患整改率", "一般隐患整改率")),
    Metric("rectification_orders", "责令限期整改", "家", GROUP_ENFORCEMENT, variants=("责令限期整改数",)),
    Metric("penalties", "行政处罚", "家", GROUP_ENFORCEMENT, variants=("行政处罚数",)),
    Metric("suspensions", "停产停业整顿", "家", GROUP_ENFORCEMENT, variants=("停产停业整顿数",)),
)
METRIC_BY_KEY = {m.key: m for m in METRICS}
SECTOR_BY_KEY = {s.key: s for s in ROWS}
COUNT_METRICS: tuple[Metric, ...] = tuple(m for m in METRICS if not m.is_rate)
RATE_METRICS: tuple[Metric, ...] = tuple(m for m in METRICS if m.is_rate)
# (fixed, found) pairs that E_FIXED_GT_FOUND checks; the same pairs the rates derive from.
FIXED_FOUND_PAIRS: tuple[tuple[str, str], ...] = tuple(m.rate_of for m in RATE_METRICS)  # type: ignore[misc]

SECTOR_HEADER = "行业领域"
UNIT_LABEL = "填报单位（章）："
PERIOD_SUFFIX = "（累计数）"
FOOTER_HEAD = "单位负责人（签字）："
FOOTER_FILLER = "填表人（签字）："
FOOTER_DATE = "填报日期："
FOOTER_PHONE = "联系电话："
UNITS_ROW_LABEL = "计量单位"
UNITS_OF_MEASURE = frozenset(m.unit for m in METRICS) | {"单位", "人"}
TITLE_SUFFIX = "交通运输系统安全生产督查情况统计表"
NO_RATE = "—"  # shown where a rate has no denominator
TEMPLATE_VERSION = "1"


def title(short_name: str) -> str:
    """The form's title for an issuing body: 云溪区交通运输系统安全生产督查情况统计表."""
    return f"{short_name}{TITLE_SUFFIX}"


def rate(fixed: float | None, found: float | None) -> float | None:
    """fixed / found × 100 to one decimal; None when nothing was found."""
    if not found:
        return None
    return round_half_up(fixed or 0, found)


@lru_cache(maxsize=65536, typed=True)  # two dozen rates a file, most seen before; typed: True is not 1
def round_half_up(fixed: float, found: float) -> float:
    # Python's round() is banker's rounding on binary floats; a clerk checks by hand with half-up.
    from decimal import ROUND_HALF_UP, Decimal

    return float((Decimal(str(fixed)) * 100 / Decimal(str(found))).quantize(Decimal("0.1"), ROUND_HALF_UP))


def with_derived(values: dict[str, dict[str, float | None]]) -> dict[str, dict[str, float | None]]:
    """Complete sector counts with the 合计 row and every rate, computed — never taken from input."""
    counts: dict[str, dict[str, float]] = {}
    for sector in _SECTOR_KEYS:
        given = values.get(sector, {})
        counts[sector] = {m: given.get(m) or 0 for m in _COUNT_KEYS}
    columns = zip(*(row.values() for row in counts.values()))  # each metric down the seven sectors
    counts[TOTAL.key] = {m: sum(column) for m, column in zip(_COUNT_KEYS, columns)}
    return {row_key: {m: rate(row[of[0]], row[of[1]]) if of else row[m] for m, of in _METRIC_PLAN}
            for row_key, row in counts.items()}


_SECTOR_KEYS = tuple(s.key for s in SECTORS)
_COUNT_KEYS = tuple(m.key for m in COUNT_METRICS)
_METRIC_PLAN = tuple((m.key, m.rate_of) for m in METRICS)  # each column in order: a count, or a rate's two counts


# --- our template's layout (statistics/template.py writes it; the marked-up copy draws on it) ---------------

SHEET_NAME = "附件2"
# Where things sit (0-based rows/cols for xlsxwriter; the A1 names are what users see).
TITLE_ROW, UNIT_ROW, PERIOD_ROW, HEAD_ROW1, HEAD_ROW2 = 0, 1, 2, 3, 4  # then the units row (计量单位)
FIRST_SECTOR_ROW = 6  # row 7
TOTAL_ROW = FIRST_SECTOR_ROW + len(SECTORS)  # row 14
FOOTER_ROW1 = TOTAL_ROW + 2  # row 16
FOOTER_ROW2 = FOOTER_ROW1 + 1  # row 17
LAST_COL = len(METRICS)  # column M
METRIC_COL = {m.key: i + 1 for i, m in enumerate(METRICS)}  # B..M
YEAR_CELL, FROM_CELL, TO_CELL = (PERIOD_ROW, 1), (PERIOD_ROW, 3), (PERIOD_ROW, 5)


@dataclass(frozen=True)
class Header:
    """What --unit / --month pre-fill."""

    unit: str | None = None
    year: int | None = None
    month_to: int | None = None
    head: str | None = None  # the footer, for an Annex 2 the tool fills in itself (export --annex2)
    filler: str | None = None
    phone: str | None = None
    filled_on: date | None = None
    note: str | None = None  # a line under the footer (export --annex2: how many units the total covers)
