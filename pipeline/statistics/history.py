"""The rules that need the unit's own history: W_CUMULATIVE_DROP and W_OUTLIER (spec 8.14, 8.15)."""
from __future__ import annotations

from dataclasses import dataclass
from statistics import median
from typing import Iterator, Sequence

from ..core import form
from ..core.issues import Issue, issue
from ..core.months import Month
from ..reading.locate import LocatedForm
from .validate import fmt, label

Counts = dict[str, dict[str, int]]


@dataclass(frozen=True)
class Increment:
    month: Month
    span: int  # how many months it covers: > 1 after a skipped month (or a late first report of the year)
    value: int | None  # None when the previous cumulative figure is unknown


def increments(series: list[tuple[Month, Counts]], sector: str, metric: str) -> list[Increment]:
    """Monthly increments from cumulative reports, in month order; the cumulative count restarts each January."""
    out, previous = [], None
    for month, counts in sorted(series, key=lambda item: item[0]):
        value = counts.get(sector, {}).get(metric)
        if previous is not None and previous[0].year == month.year:
            span = month.month - previous[0].month
            base = previous[1]
        else:
            span, base = month.month, 0
        out.append(Increment(month, span, None if value is None or base is None else value - base))
        previous = (month, value)
    return out


def outlier(x: float, history: Sequence[float]) -> bool:
    """Modified z-score 0.6745·(x − median)/MAD above 3.5, with ≥ 3 earlier increments; MAD 0: a fixed margin."""
    if len(history) < 3:
        return False
    mid = median(history)
    mad = median(abs(h - mid) for h in history)
    if mad == 0:
        return abs(x - mid) > max(5, 3 * mid)
    return abs(0.6745 * (x - mid) / mad) > 3.5


def history_rules(located: LocatedForm, month: Month, counts: Counts,
                  earlier: list[tuple[Month, Counts]]) -> Iterator[Issue]:
    """`earlier`: the unit's current submissions for months before `month`."""
    sheet = located.sheet.name
    same_year = [(m, c) for m, c in earlier if m.year == month.year and m < month]
    # the same series for every cell: built and put in month order once, not seventy times
    series = sorted([*[(m, c) for m, c in earlier if m < month], (month, counts)], key=lambda item: item[0])
    for sector in form.SECTORS:
        for metric in form.COUNT_METRICS:
            slot = located.slot(sector.key, metric.key)
            cell = slot.cell if slot else None
            value = counts[sector.key][metric.key]
            higher = [(m, c[sector.key][metric.key]) for m, c in same_year
                      if c.get(sector.key, {}).get(metric.key, 0) > value]
            if higher:
                m, before = max(higher, key=lambda item: item[0])
                yield issue("W_CUMULATIVE_DROP",
                            f"{label(sector.key, metric.key)} 累计 {fmt(value)}，比 {m.label}报送的累计 {fmt(before)} 少",
                            sheet=sheet, cell=cell, sector=sector.key, metric=metric.key)
                continue
            steps = increments(series, sector.key, metric.key)
            current = steps[-1]
            past = [s.value for s in steps[:-1] if s.span == 1 and s.value is not None]
            if current.span == 1 and current.value is not None and outlier(current.value, past):
                yield issue("W_OUTLIER",
                            f"{label(sector.key, metric.key)} 本月增量 {fmt(current.value)}，"
                            f"远离本单位以往月增量（中位数 {fmt(median(past))}）",
                            sheet=sheet, cell=cell, sector=sector.key, metric=metric.key)
