"""The rules of spec section 5 that need only the file itself. Rules yield Issues; nothing here raises them."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Iterator

from ..core import form
from ..core.config import Config, Unit
from ..core.issues import Issue, has_errors, issue
from ..core.months import Month
from ..core.normalize import MAX_COUNT, count, is_whole, looks_like_phone, rate
from ..core.safe_names import display_name
from ..reading.locate import LocatedForm, Slot, as_text, choose_form
from ..reading.reader import ReadProblem, WorkbookData, read_workbook

Values = dict[str, dict[str, float | None]]


@dataclass
class Validation:
    issues: list[Issue] = field(default_factory=list)
    unit: str | None = None  # canonical name from config
    declared_unit: str | None = None  # as typed
    year: int | None = None
    month_from: int | None = None
    month_to: int | None = None
    counts: dict[str, dict[str, int]] = field(default_factory=dict)  # the seven sectors, counts only
    sheet: str | None = None
    located: LocatedForm | None = None
    workbook: WorkbookData | None = None

    @property
    def ok(self) -> bool:
        return not has_errors(self.issues)

    @property
    def month(self) -> Month | None:
        if self.year and self.month_to and 1 <= self.month_to <= 12:
            return Month(self.year, self.month_to)
        return None

    @property
    def values(self) -> Values:
        """The pipeline's own figures: counts as read, 合计 and rates computed."""
        return form.with_derived(self.counts) if self.counts else {}  # type: ignore[arg-type]


def label(sector: str, metric: str | None = None) -> str:
    text = form.SECTOR_BY_KEY[sector].label
    return f"{text}·{form.METRIC_BY_KEY[metric].label}" if metric else text


def fmt(value: float | None) -> str:
    if value is None:
        return "—"
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def validate_bytes(data: bytes, cfg: Config, now: datetime, folder_unit: Unit | None = None,
                   owner_says: str | None = None, read=read_workbook, isolated: bool = False) -> Validation:
    """Check one workbook's bytes. `folder_unit` is the unit the file is known to come from (the owner of its
    inbox sub-folder, or of the sender's address); `owner_says` tells how we know, for the message. `read`
    parses the bytes; `isolated` (or intake's reader) parses them in the sandbox's child process, where a
    reader that aborts, hangs or eats memory costs this file an E_UNREADABLE, not the process."""
    from ..reading.sandbox import SandboxFailure, read_workbook_isolated

    try:
        try:
            book = (read_workbook_isolated if isolated else read)(data, cfg.limits)
        except SandboxFailure as failure:
            return Validation([issue("E_UNREADABLE", failure.reason_zh)])
    except ReadProblem as problem:
        return Validation([issue(problem.code, problem.reason)])
    return validate_workbook(book, cfg, now, folder_unit, owner_says)


def validate_workbook(book: WorkbookData, cfg: Config, now: datetime, folder_unit: Unit | None = None,
                      owner_says: str | None = None) -> Validation:
    result = Validation(workbook=book)
    located, problem = choose_form(book)
    if problem:
        result.issues.append(problem)
        return result
    assert located is not None
    result.located, result.sheet = located, located.sheet.name
    sheet = located.sheet.name
    if located.missing_metrics:
        names = "、".join(form.METRIC_BY_KEY[k].label for k in located.missing_metrics)
        result.issues.append(issue("E_NOT_ANNEX2", f"工作表“{sheet}”的表头缺少 {names} 列", sheet=sheet))
        return result
    result.issues += list(unit_rules(result, located, cfg, folder_unit, owner_says))
    result.issues += list(period_rules(result, located, cfg, now))
    result.issues += list(row_rules(located))
    result.issues += list(value_rules(result, located, cfg.limits.max_count))
    result.issues += list(footer_rules(located))
    return result


def unit_rules(result: Validation, located: LocatedForm, cfg: Config, folder_unit: Unit | None,
               owner_says: str | None = None) -> Iterator[Issue]:
    sheet = located.sheet.name
    found = located.fields.get("unit")
    declared = found.text if found else None
    cell = found.cell if found else None
    result.declared_unit = declared
    unit = cfg.unit_named(declared)
    if folder_unit is not None:
        result.unit = folder_unit.name
        if unit is not None and unit.name != folder_unit.name:
            how = owner_says or f"文件放在“{folder_unit.name}”的文件夹里"
            yield issue("E_UNIT_MISMATCH", f"填报单位写的是“{declared}”，但{how}", sheet=sheet, cell=cell)
        elif cfg.is_bureau(declared):
            yield issue("E_UNIT_MISMATCH", bureau_form_text(declared, folder_unit.name), sheet=sheet, cell=cell)
        return
    if unit is None:
        what = f"填报单位“{declared}”不在报送单位名单中" if declared else "填报单位未填写"
        yield issue("E_UNIT_UNKNOWN", what, sheet=sheet, cell=cell)
        return
    result.unit = unit.name


def bureau_form_text(declared: str | None, unit: str) -> str:
    """A form in a unit's folder whose 填报单位 is the bureau itself: the district total (our own export), or a
    header that names the bureau; counted as the unit's report it would add the whole district to one unit."""
    return f"填报单位写的是本局“{declared}”，这是全区合计（本局导出的附件2），不是“{unit}”的报表"


def period_rules(result: Validation, located: LocatedForm, cfg: Config, now: datetime) -> Iterator[Issue]:
    sheet, period = located.sheet.name, located.period
    if period is None or period.month_to is None:
        cell = period.cell if period else None
        yield issue("E_PERIOD", "统计期间（年、起止月份）未填写或无法识别", sheet=sheet, cell=cell)
        return
    cell = period.cell
    m_from = period.month_from if period.month_from is not None else 1
    result.year, result.month_from, result.month_to = period.year, m_from, period.month_to
    if period.year is None:
        yield issue("E_PERIOD", f"统计期间“{period.text}”中的年份不是四位数", sheet=sheet, cell=cell)
        return
    if not (1 <= m_from <= 12 and 1 <= period.month_to <= 12):
        yield issue("E_PERIOD", f"统计期间的月份 {m_from}月至{period.month_to}月 不在 1–12 之间", sheet=sheet, cell=cell)
        return
    if period.month_to < m_from:
        yield issue("E_PERIOD", f"统计期间的截止月 {period.month_to} 早于起始月 {m_from}", sheet=sheet, cell=cell)
        return
    month = Month(period.year, period.month_to)
    current = Month.of(now.astimezone(cfg.bureau.tz))
    if month > current:
        yield issue("E_PERIOD", f"统计期间截至 {month.label}，晚于本月（{current.label}），年份或月份可能填错了",
                    sheet=sheet, cell=cell)
    elif month < cfg.start:
        yield issue("E_PERIOD", f"统计期间截至 {month.label}，早于开始报送的月份 {cfg.start.label}，年份可能填错了",
                    sheet=sheet, cell=cell)
    elif m_from != 1:
        yield issue("W_FROM_MONTH", f"统计期间为 {m_from}月至{period.month_to}月，不是从 1 月开始", sheet=sheet, cell=cell)


def row_rules(located: LocatedForm) -> Iterator[Issue]:
    sheet = located.sheet.name
    for p in located.row_problems:
        if p.kind == "missing":
            yield issue("E_SECTOR_MISSING", f"缺少行业领域“{p.text}”这一行", sheet=sheet, cell=p.cell, sector=p.sector)
        else:
            what = f"“{p.text}”不是附件2的行业领域" if p.text else "这一行没有写行业领域却填了数"
            yield issue("E_SECTOR_MISSING", what, sheet=sheet, cell=p.cell)


def _count(slot: Slot, sheet: str, sector: str, metric: str,
           max_count: int = MAX_COUNT) -> tuple[float | None, Issue | None]:
    def where() -> dict:
        return dict(sheet=sheet, cell=slot.cell, sector=sector, metric=metric)

    if slot.no_cached_value:
        return None, issue("E_VALUE_TYPE", f"{label(sector, metric)} 是一个没有计算结果的公式，无法得知数值", **where())
    parsed = count(slot.raw, max_count)
    value = parsed.value
    if value is None:
        shown = display_name(as_text(slot.raw), 40)  # a cell's text may be 32,000 characters, or hold a line break
        return None, issue("E_VALUE_TYPE", f"{label(sector, metric)} 填的是“{shown}”，{parsed.problem}", **where())
    if value < 0:
        return None, issue("E_NEGATIVE", f"{label(sector, metric)} 为 {fmt(value)}，不能小于 0", **where())
    if not is_whole(value):
        return None, issue("E_FRACTION", f"{label(sector, metric)} 为 {fmt(value)}，不是整数", **where())
    return int(round(value)), None


def value_rules(result: Validation, located: LocatedForm, max_count: int = MAX_COUNT) -> Iterator[Issue]:
    sheet = located.sheet.name
    counts: dict[str, dict[str, float | None]] = {}
    grid, uncached = located.sheet.rows, located.sheet.no_cached_value
    columns = [(metric.key, located.metric_cols.get(metric.key)) for metric in form.COUNT_METRICS]
    for sector in form.SECTORS:
        r = located.rows.get(sector.key)
        if r is None:
            continue
        line = grid[r] if r < len(grid) else []
        row: dict[str, float | None] = {}
        for metric, c in columns:
            raw = line[c] if c is not None and c < len(line) else None
            if type(raw) is float and 0 <= raw <= max_count and raw.is_integer() and (r, c) not in uncached:
                row[metric] = int(raw)  # most cells: read from the grid as it is, a whole number as _count finds it
                continue
            slot = located.slot(sector.key, metric)
            value, problem = _count(slot, sheet, sector.key, metric, max_count) if slot else (0, None)
            if problem:
                yield problem
            row[metric] = value
        counts[sector.key] = row
        yield from _row_checks(located, sector.key, row)
    yield from _total_checks(located, counts)
    if all(v is not None for row in counts.values() for v in row.values()) and len(counts) == len(form.SECTORS):
        result.counts = counts  # type: ignore[assignment]


def _row_checks(located: LocatedForm, sector: str, row: dict[str, float | None]) -> Iterator[Issue]:
    sheet = located.sheet.name
    for fixed, found in form.FIXED_FOUND_PAIRS:
        n_fixed, n_found = row[fixed], row[found]
        if n_fixed is not None and n_found is not None and n_fixed > n_found:
            slot = located.slot(sector, fixed)
            yield issue("E_FIXED_GT_FOUND",
                        f"{label(sector, fixed)} 为 {fmt(row[fixed])}，大于 {form.METRIC_BY_KEY[found].label} {fmt(row[found])}",
                        sheet=sheet, cell=slot.cell if slot else None, sector=sector, metric=fixed)
    teams, inspectors = row["inspection_teams"], row["inspectors"]
    if teams is not None and inspectors is not None and inspectors < teams:
        slot = located.slot(sector, "inspectors")
        yield issue("W_INSPECTORS_LT_TEAMS",
                    f"{label(sector, 'inspectors')} 为 {fmt(inspectors)}，少于 组织督查组 {fmt(teams)}",
                    sheet=sheet, cell=slot.cell if slot else None, sector=sector, metric="inspectors")
    yield from _rate_checks(located, sector, row)


def _rate_checks(located: LocatedForm, sector: str, row: dict[str, float | None]) -> Iterator[Issue]:
    """A typed rate only feeds W_RATE; a formula there is never a statement (its cache may be stale)."""
    for metric in form.RATE_METRICS:
        fixed, found = metric.rate_of  # type: ignore[misc]
        if row.get(fixed) is None or not row.get(found) or located.holds_formula(sector, metric.key):
            continue  # no rate to compare with, or a formula
        slot = located.slot(sector, metric.key)
        if slot is None:
            continue
        stated = rate(slot.raw).value
        if stated is None:
            continue
        computed = form.rate(row[fixed], row[found])
        if computed is not None and abs(stated - computed) > 0.1 + 1e-9:
            yield issue("W_RATE", f"{label(sector, metric.key)} 填的是 {fmt(stated)}%，按已整改数÷隐患数计算应为 {fmt(computed)}%",
                        sheet=located.sheet.name, cell=slot.cell, sector=sector, metric=metric.key)


def _total_checks(located: LocatedForm, counts: dict[str, dict[str, float | None]]) -> Iterator[Issue]:
    if form.TOTAL.key not in located.rows:
        return
    complete = len(counts) == len(form.SECTORS)
    sums: dict[str, float | None] = {}
    for metric in form.COUNT_METRICS:
        column = [counts[s.key][metric.key] for s in form.SECTORS if s.key in counts]
        sums[metric.key] = sum(column) if complete and None not in column else None  # type: ignore[arg-type]
        # Only a typed number is a statement: a formula's cached value may be stale (spec 8.13).
        if sums[metric.key] is None or located.holds_formula(form.TOTAL.key, metric.key):
            continue
        slot = located.slot(form.TOTAL.key, metric.key)
        if slot is None or as_text(slot.raw).strip() == "":
            continue
        stated = count(slot.raw).value
        if stated is not None and abs(stated - sums[metric.key]) > 1e-9:  # type: ignore[operator]
            yield issue("E_TOTAL", f"合计·{metric.label} 填的是 {fmt(stated)}，但七个行业领域相加为 {fmt(sums[metric.key])}",
                        sheet=located.sheet.name, cell=slot.cell, sector=form.TOTAL.key, metric=metric.key)
    yield from _rate_checks(located, form.TOTAL.key, sums)


def footer_rules(located: LocatedForm) -> Iterator[Issue]:
    sheet = located.sheet.name
    for name, what in (("head", "单位负责人"), ("filler", "填表人")):
        f = located.fields.get(name)
        if f is None or not f.text:
            detail = f"{what}未填写" if f else f"表格下方没有“{what}”栏"
            yield issue("W_UNSIGNED", detail, sheet=sheet, cell=f.cell if f else None)
    phone = located.fields.get("phone")
    if phone is None or not phone.text:
        yield issue("W_PHONE", "联系电话未填写" if phone else "表格下方没有“联系电话”栏", sheet=sheet,
                    cell=phone.cell if phone else None)
    elif not looks_like_phone(phone.text):
        yield issue("W_PHONE", f"联系电话“{phone.text}”不像电话号码", sheet=sheet, cell=phone.cell)
