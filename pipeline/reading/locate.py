"""Finds Annex 2 on a sheet by its labels, wherever it sits and however it was retyped."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, NamedTuple

from ..core import form
from ..core.issues import Issue, issue
from ..core.normalize import clean_text, header_key, label_key, row_label_key
from .reader import SheetData, WorkbookData

HEADER_SEARCH_ROWS = 3  # metric headers sit in the anchor's row or the next two (group headers)
FIELD_LABELS = {"unit": "填报单位", "head": "单位负责人", "filler": "填表人", "date": "填报日期", "phone": "联系电话"}
_FIELD_STARTS = tuple(FIELD_LABELS.values())
_STOP_LABELS = ("单位负责人", "填表人", "填报日期", "联系电话", "注", "备注", "说明")
_PERIOD = re.compile(r"(\d{2,4})年度?(?:(\d{1,2})月?份?)?(?:至|到|~|-|—|－|–|―)(\d{1,2})月")
_PERIOD_ONE = re.compile(r"(\d{2,4})年度?(\d{1,2})月")
_YEAR_CUT = re.compile(r"\d{4}年")
_NOTE_FIRST = re.compile(r"^[（(][^)）]*[)）]")  # `填报单位（盖章）：…`
_DIGIT = re.compile(r"\d")


@lru_cache(maxsize=65536)
def a1(row: int, col: int) -> str:
    letters, n = "", col + 1
    while n:
        n, rem = divmod(n - 1, 26)
        letters = chr(65 + rem) + letters
    return f"{letters}{row + 1}"


def as_text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return "" if value is None else str(value)


_UNSET: Any = object()


class Slot(NamedTuple):
    """One value cell of the table (a tuple: a hundred are made for every file)."""

    raw: Any
    cell: str
    formula: bool
    no_cached_value: bool


class Field(NamedTuple):
    """A header or footer field: its text (None when blank) and the cell to name in messages."""

    text: str | None
    cell: str | None
    label_found: bool


@dataclass(frozen=True)
class Period:
    year: int | None
    month_from: int | None
    month_to: int | None
    cell: str | None
    text: str  # the period line as written, for messages


@dataclass
class RowProblem:
    kind: str  # missing | unknown
    cell: str
    sector: str | None  # the missing sector's key
    text: str


@dataclass
class LocatedForm:
    sheet: SheetData
    anchor: tuple[int, int]
    label_col: int
    metric_cols: dict[str, int]
    rows: dict[str, int] = field(default_factory=dict)  # sector key (or "total") -> row
    row_problems: list[RowProblem] = field(default_factory=list)
    fields: dict[str, Field] = field(default_factory=dict)
    period: Period | None = None
    _slots: dict = field(default_factory=dict, repr=False)

    @property
    def missing_metrics(self) -> list[str]:
        return [m.key for m in form.COUNT_METRICS if m.key not in self.metric_cols]

    def holds_formula(self, sector: str, metric: str) -> bool:
        """slot(sector, metric).formula, without making the slot (most rates and totals are formulas)."""
        row, col = self.rows.get(sector), self.metric_cols.get(metric)
        return row is not None and col is not None and (row, col) in self.sheet.formulas

    def slot(self, sector: str, metric: str) -> Slot | None:
        key = (sector, metric)
        found = self._slots.get(key, _UNSET)
        if found is not _UNSET:
            return found
        row, col = self.rows.get(sector), self.metric_cols.get(metric)
        if row is None or col is None:
            found = None
        else:
            cell, sheet = (row, col), self.sheet
            found = Slot(sheet.value(row, col), a1(row, col), cell in sheet.formulas, cell in sheet.no_cached_value)
        self._slots[key] = found
        return found


_METRIC_KEYS = {header_key(t): m.key for m in form.METRICS for t in (m.label, *m.variants)}
_SECTOR_KEYS = {row_label_key(t): s.key for s in form.ROWS for t in (s.label, *s.variants)}
_ANCHORS = {"行业领域", "领域", "行业", "行业(领域)", "项目"}
_ANCHOR_CHARS = re.compile("[域业目]")  # a corner label holds one of these


def sector_for(raw: Any) -> str | None:
    key = row_label_key(raw)
    if not key:
        return None
    if key in _SECTOR_KEYS:
        return _SECTOR_KEYS[key]
    bare = re.sub(r"[（(].*[)）]$", "", key)  # `建设领域（含房建）`
    return _SECTOR_KEYS.get(bare)


def locate_all(sheet: SheetData) -> list[LocatedForm]:
    """Every Annex 2 table on the sheet (usually one)."""
    found = []
    for r, row in enumerate(sheet.rows):
        for c, value in enumerate(row):
            # most cells are blank, numbers or other text: only normalize what could be the corner label
            if value and isinstance(value, str) and len(value) < 40 and _ANCHOR_CHARS.search(value) \
                    and label_key(value) in _ANCHORS:
                located = _from_anchor(sheet, r, c)
                if located:
                    found.append(located)
    if not found:
        located = _from_header_row(sheet)
        if located:
            found.append(located)
    return found


def _headers(sheet: SheetData, r0: int, c_from: int) -> dict[str, tuple[int, int]]:
    cols: dict[str, tuple[int, int]] = {}
    for r in range(r0, min(r0 + HEADER_SEARCH_ROWS, len(sheet.rows))):
        for c in range(c_from, len(sheet.rows[r])):
            value = sheet.rows[r][c]
            if isinstance(value, str) and value:
                key = _METRIC_KEYS.get(header_key(value))
                if key and key not in cols:
                    cols[key] = (r, c)
    return cols


def _enough(cols: dict) -> bool:
    return sum(1 for m in form.COUNT_METRICS if m.key in cols) >= 6


def _from_anchor(sheet: SheetData, r0: int, c0: int) -> LocatedForm | None:
    cols = _headers(sheet, r0, c0 + 1)
    if not _enough(cols):
        return None
    return _build(sheet, (r0, c0), c0, cols)


def _from_header_row(sheet: SheetData) -> LocatedForm | None:
    """A retyped table whose corner cell is blank: the row holding most metric headers."""
    for r in range(len(sheet.rows)):
        cols = _headers(sheet, r, 0)
        if _enough(cols) and min(rc[0] for rc in cols.values()) == r:
            label_col = max(min(c for _r, c in cols.values()) - 1, 0)
            return _build(sheet, (r, label_col), label_col, cols)
    return None


def _build(sheet: SheetData, anchor: tuple[int, int], label_col: int, cols: dict) -> LocatedForm:
    located = LocatedForm(sheet, anchor, label_col, {k: c for k, (_r, c) in cols.items()})
    header_last = max(r for r, _c in cols.values())
    table_last = _rows(located, header_last + 1)
    _fields(located, anchor[0], table_last)
    return located


def _is_units_row(sheet: SheetData, r: int, cols: dict[str, int]) -> bool:
    """Most of the metric cells hold a unit of measure (项, 人, 个…): the line under the headers."""
    line = sheet.rows[r] if r < len(sheet.rows) else []
    filled = units = 0
    for c in cols.values():
        raw = line[c] if c < len(line) else ""
        if type(raw) is float:  # a number: filled, and no unit (most rows are figures)
            filled += 1
        elif raw != "" and (text := clean_text(raw)):
            filled += 1
            units += text in form.UNITS_OF_MEASURE
    return filled > 0 and units * 2 >= filled


def _has_values(sheet: SheetData, r: int, cols: dict[str, int]) -> bool:
    return any(clean_text(sheet.value(r, c)) for c in cols.values())


def _rows(located: LocatedForm, first: int) -> int:
    """Assign the sector rows; returns the last row of the table."""
    sheet, col, cols = located.sheet, located.label_col, located.metric_cols
    order = [s.key for s in form.SECTORS]
    last_row, blanks, r = first - 1, 0, first
    while r < len(sheet.rows) and r < first + 40:
        raw = sheet.value(r, col)
        key = sector_for(raw)
        text = label_key(raw)
        if key is None and _is_units_row(sheet, r, cols):
            r += 1
            continue
        if not text:
            if _has_values(sheet, r, cols) and located.rows:
                located.row_problems.append(RowProblem("unknown", a1(r, col), None, ""))
                last_row = r
            elif located.rows:
                blanks += 1
                if blanks >= 2:
                    break
            r += 1
            continue
        blanks = 0
        if key == form.TOTAL.key:
            located.rows[key] = r
            last_row = r
            break
        if key is not None and key not in located.rows:
            located.rows[key] = r
            last_row = r
        elif text.startswith(_STOP_LABELS) or text.startswith(_FIELD_STARTS):
            break
        elif key is None and not located.rows and not _has_values(sheet, r, cols):
            pass  # a note or a blank label above the data
        elif key is None and all(k in located.rows for k in order) and not _has_values(sheet, r, cols):
            break
        else:
            located.row_problems.append(RowProblem("unknown", a1(r, col), None, as_text(raw).strip()))
            last_row = r
        r += 1
    _missing_rows(located, first)
    return last_row


def _missing_rows(located: LocatedForm, first: int) -> None:
    previous = None
    for sector in form.SECTORS:
        if sector.key in located.rows:
            previous = located.rows[sector.key]
            continue
        row = previous + 1 if previous is not None else first
        located.row_problems.append(RowProblem("missing", a1(row, located.label_col), sector.key, sector.display))


def _row_text(sheet: SheetData, r: int) -> tuple[str, list[tuple[int, int, int]]]:
    """The row's cells joined as one text, with (start, end, col) spans to find a piece's cell."""
    text, spans = "", []
    for c, value in enumerate(sheet.rows[r]):
        if value == "":
            continue
        piece = clean_text(as_text(value))
        if piece:
            spans.append((len(text), len(text) + len(piece), c))
            text += piece
    return text, spans


def _col_at(spans: list[tuple[int, int, int]], index: int) -> int:
    return next((c for start, end, c in spans if start <= index < end), spans[0][2] if spans else 0)


def _search_rows(located: LocatedForm, top: int, bottom: int) -> list[int]:
    sheet = located.sheet
    above = range(max(0, top - 8), top)
    below = range(bottom + 1, min(len(sheet.rows), bottom + 10))
    return [*above, *below]


def _fields(located: LocatedForm, top: int, bottom: int) -> None:
    sheet = located.sheet
    rows = _search_rows(located, top, bottom)
    for r in rows:
        for c, value in enumerate(sheet.rows[r]):
            if not value or not isinstance(value, str) or not value.strip():
                continue
            key = label_key(value)
            if not key.startswith(_FIELD_STARTS):
                continue
            for name, label in FIELD_LABELS.items():
                if key.startswith(label) and name not in located.fields:
                    located.fields[name] = _field_value(sheet, r, c, value, label)
    for r in reversed([x for x in rows if x < top]) or []:
        period = _period_in_row(sheet, r)
        if period:
            located.period = period
            break
    if located.period is None:
        for r in rows:
            period = _period_in_row(sheet, r)
            if period:
                located.period = period
                break


def _is_label(value: Any) -> bool:
    key = label_key(value)
    return bool(key) and (key.startswith(_FIELD_STARTS) or key.startswith("统计期间")
                          or bool(_PERIOD.search(key)))


def _field_value(sheet: SheetData, r: int, c: int, raw: str, label: str) -> Field:
    rest = clean_text(raw)
    rest = rest[rest.index(label) + len(label):] if label in rest else ""
    rest = _NOTE_FIRST.sub("", rest).lstrip(":：")
    if label == "填报单位":
        rest = _YEAR_CUT.split(rest)[0]
    if label == "填报日期" and not _DIGIT.search(rest):
        rest = ""
    if rest:
        return Field(rest, a1(r, c), True)
    row = sheet.rows[r]
    first = sheet.merge_end(r, c) + 1
    for cc in range(first, len(row)):
        value = row[cc]
        if as_text(value).strip() == "":
            continue
        if _is_label(value):
            break
        text = as_text(value).strip()
        if label == "填报日期" and isinstance(value, str) and not _DIGIT.search(value):
            break
        return Field(text, a1(r, cc), True)
    return Field(None, a1(r, first), True)


def _period_in_row(sheet: SheetData, r: int) -> Period | None:
    text, spans = _row_text(sheet, r)
    if "年" not in text or "月" not in text or text.startswith("填报日期"):
        return None
    m = _PERIOD.search(text)
    if m:
        year, m_from, m_to = m.group(1), m.group(2), m.group(3)
        cell = a1(r, _col_at(spans, m.start(3)))
        return Period(_year(year), int(m_from) if m_from else None, int(m_to), cell, text)
    m = _PERIOD_ONE.search(text)
    single = not re.search(r"至|到|[-~—－–―]\D*月", text[m.end():]) if m else False  # `1月至月`: the to-month is blank
    if m and single and ("累计" in text or "统计" in text):
        return Period(_year(m.group(1)), 1, int(m.group(2)), a1(r, _col_at(spans, m.start(2))), text)
    if "累计" in text or "至" in text:
        return Period(None, None, None, _blank_to_month_cell(r, text, spans), text)
    return None


def _blank_to_month_cell(r: int, text: str, spans: list[tuple[int, int, int]]) -> str | None:
    """Where the missing to-month should be typed: the cell after `至` (or the one holding it)."""
    if not spans:
        return None
    at = text.find("至")
    if at < 0:
        return a1(r, spans[0][2])
    span = next(s for s in spans if s[0] <= at < s[1])
    return a1(r, span[2] + 1 if span[1] == at + 1 else span[2])


def _year(text: str) -> int | None:
    return int(text) if len(text) == 4 else None


def choose_form(book: WorkbookData) -> tuple[LocatedForm | None, Issue | None]:
    """The sheet with the latest period is the submission; two sheets with that period are ambiguous."""
    forms = [f for sheet in book.sheets for f in locate_all(sheet)]
    if not forms:
        return None, issue("E_NOT_ANNEX2", "文件中没有找到附件2表格（表头“行业领域、组织督查组、组织督查人员……”）")
    if len(forms) == 1:
        return forms[0], None
    dated = [f for f in forms if f.period and f.period.year and f.period.month_to]
    if not dated:
        return forms[0], None
    latest = max((f.period.year, f.period.month_to) for f in dated)  # type: ignore[union-attr]
    best = [f for f in dated if (f.period.year, f.period.month_to) == latest]  # type: ignore[union-attr]
    if len(best) > 1:
        names = "”和“".join(f.sheet.name for f in best)
        period = f"{latest[0]}年{latest[1]}月"
        return None, issue("E_NOT_ANNEX2", f"工作表“{names}”都是截至{period}的报表，无法确定以哪一张为准（请只保留一张）",
                           sheet=best[0].sheet.name)
    return best[0], None
