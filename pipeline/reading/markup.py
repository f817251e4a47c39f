"""The marked-up copy of a rejected workbook, in the shape the unit knows: 错误说明 first (the problems in
Chinese, the codes after), then the form with each offending cell red (a warning amber) and the message as a
comment.

- An .xlsx (or .xlsm) whose original bytes are given: the unit's own workbook, opened by openpyxl with the XML
  defences on — in the sandbox's worker, under its memory and time caps (derived.own_workbook_copy, marking
  with marks.py), never in this process — so its borders, merged cells and formulas stay as they were. What could reach out of the file
  goes: external links, hyperlinks, macros, and any formula beyond plain arithmetic over cells (replaced by
  its cached value).
- An .xls/.ods (openpyxl cannot write them), an .xlsx without its bytes, or one over a cap (merged ranges of
  more cells than a form has, memory, time): the unit's values, as the sandbox extracted them, on our
  template's layout, each problem marked on the template's cell for the same sector and metric or field.
- No form found (or unreadable): the problems, and the sheets' values as read.
"""
from __future__ import annotations

import io
import re
import warnings
from dataclasses import dataclass, replace
from datetime import date, datetime, time
from pathlib import Path
from typing import Callable

from ..core import form
from ..core.config import Limits
from ..core.issues import CATALOGUE, Issue
from ..core.safe_names import display_name, xml_text
from .locate import LocatedForm
from .marks import A1, NOTES, Mark, mark, notes_sheet
from .reader import WorkbookData, col_index

_BAD_SHEET_CHARS = re.compile(r"[\[\]:*?/\\]")
@dataclass(frozen=True)
class MarkupCopy:
    """A marked-up copy that was written, and how: `own` (the unit's workbook), `template` (its values on our
    template) or `values` (the sheets as read); `reason`: why the unit's own workbook could not be kept."""

    path: Path
    layout: str
    reason: str | None = None


BlankTemplate = Callable[[Path, form.Header], object]  # writes our empty form, the header filled in


def write_markup(path: Path, book: WorkbookData | None, issues: list[Issue], original_name: str,
                 source: bytes | None = None, now: datetime | None = None, limits: Limits | None = None,
                 located: LocatedForm | None = None, blank: BlankTemplate | None = None) -> Path:
    """Write the copy to `path` (.xlsx). `source`: the original file's bytes (needed to keep an .xlsx's form);
    `now`: the moment the copy is dated (its document properties), else the clock's."""
    return make_markup(path, book, issues, original_name, source, now, limits, located, blank).path


def make_markup(path: Path, book: WorkbookData | None, issues: list[Issue], original_name: str,
                source: bytes | None = None, now: datetime | None = None, limits: Limits | None = None,
                located: LocatedForm | None = None, blank: BlankTemplate | None = None) -> MarkupCopy:
    """`write_markup`, telling how the copy was made, from the judged result: `book` (the values the sandbox
    extracted), `issues`, and `located` (the form judging found in it). The unit's own .xlsx is taken apart
    only in the sandbox (derived.own_workbook_copy, under `limits`' memory and time caps); the template's
    layout is drawn here from `located` on the empty form `blank` writes (statistics' template writer: reading/
    sits below it, so the writer is handed in); without either, the values as read."""
    from ..storage.durable import write_atomic
    from .derived import Refused, own_workbook_copy
    from .sandbox import SandboxFailure, run_untrusted

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    original_name = display_name(original_name)
    issues = [replace(it, message=xml_text(it.message)) for it in issues]
    done, reason = None, None
    if book is not None and book.kind == "xlsx" and source is not None:
        try:
            write_atomic(path, run_untrusted(own_workbook_copy, source, issues, original_name, limits or Limits(), now,
                                             limits=limits or Limits()), durable=False)
            done = "own"
        except (Refused, SandboxFailure) as exc:  # a cap hit: the unit's values on our template instead
            reason = exc.reason if isinstance(exc, Refused) else exc.reason_zh
        except Exception:  # a workbook openpyxl cannot take apart: fall back to the template's layout
            reason = "原表无法按原格式打开"
    if done is None:
        if book is not None and blank is not None and located is not None and not located.missing_metrics:
            try:
                _on_template(path, located, issues, original_name, blank, reason)
                done = "template"
            except Exception:  # whatever the form held, the unit still gets its list of problems
                pass
    if done is None:
        _values_only(path, book, issues, original_name)
        done = "values"
    if now is not None and done != "own":  # the sandbox dated the unit's own workbook
        from ..core.docprops import stamp

        stamp(path, now)
    return MarkupCopy(path, done, reason)


# --- our template's layout -------------------------------------------------------------------------------

def _on_template(path: Path, located: LocatedForm, issues: list[Issue], original_name: str, blank: BlankTemplate,
                 reason: str | None = None) -> None:
    import openpyxl

    t = form  # the template's layout
    period = located.period
    fields = located.fields
    def text(key: str) -> str | None:
        found = fields[key].text if key in fields else None
        return xml_text(found) if found else found

    header = form.Header(text("unit"), _int(period.year) if period else None, _int(period.month_to) if period else None,
                      text("head"), text("filler"), text("phone"))
    empty = path.with_name(".tmp-template-" + path.name)
    try:
        blank(empty, header)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            wb = openpyxl.load_workbook(io.BytesIO(empty.read_bytes()))  # our own form, not the unit's bytes
    finally:
        empty.unlink(missing_ok=True)
    ws = wb[t.SHEET_NAME]
    ws["A1"] = _title_of(located)
    if period is not None:
        ws.cell(t.FROM_CELL[0] + 1, t.FROM_CELL[1] + 1, _int(period.month_from))
    if "date" in fields and fields["date"].text:
        ws.cell(t.FOOTER_ROW2 + 1, 2, xml_text(fields["date"].text))
    where: dict[str, str] = {}  # the original's cell -> the template's
    for i, sector in enumerate(form.SECTORS):
        row = t.FIRST_SECTOR_ROW + i
        for m in form.COUNT_METRICS:
            slot = located.slot(sector.key, m.key)
            target = ws.cell(row + 1, t.METRIC_COL[m.key] + 1)
            if slot is not None:
                target.value = _cell_value(slot.raw)
                where[slot.cell] = target.coordinate
    for key, (r, c) in {"unit": (t.UNIT_ROW, 1), "head": (t.FOOTER_ROW1, 1), "filler": (t.FOOTER_ROW1, 7),
                        "date": (t.FOOTER_ROW2, 1), "phone": (t.FOOTER_ROW2, 7)}.items():
        found = fields.get(key)
        if found is not None and found.cell:
            where[found.cell] = ws.cell(r + 1, c + 1).coordinate
    if period is not None and period.cell:
        where[period.cell] = ws.cell(t.TO_CELL[0] + 1, t.TO_CELL[1] + 1).coordinate
    marks = []
    for it in issues:
        cell = None
        if it.sector and it.metric and it.sector in {s.key for s in form.ROWS}:
            row = t.TOTAL_ROW if it.sector == form.TOTAL.key else \
                t.FIRST_SECTOR_ROW + [s.key for s in form.SECTORS].index(it.sector)
            cell = ws.cell(row + 1, t.METRIC_COL[it.metric] + 1).coordinate
        elif it.sector and it.sector in {s.key for s in form.SECTORS}:
            cell = ws.cell(t.FIRST_SECTOR_ROW + [s.key for s in form.SECTORS].index(it.sector) + 1, 1).coordinate
        elif it.sheet == located.sheet.name and it.cell in where:
            cell = where[it.cell]
        marks.append(Mark(it, ws.title if ws is not None and cell else None, cell))
    ws.protection.sheet = False  # the unit corrects the copy in place if it likes
    mark(wb, marks)
    notes_sheet(wb, marks, original_name, own=False, reason=reason)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        wb.save(path)


def _title_of(located) -> str:
    from .locate import as_text

    for r in range(0, located.anchor[0]):
        for value in located.sheet.rows[r]:
            text = as_text(value).strip()
            if "统计表" in text:
                return xml_text(text)
    return form.title("")


def _int(value):
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _cell_value(raw):
    if isinstance(raw, bool):
        return str(raw).upper()
    if isinstance(raw, (int, float)):
        return int(raw) if isinstance(raw, float) and raw.is_integer() else raw
    if isinstance(raw, (datetime, date, time)):
        return raw.isoformat()
    return None if raw in (None, "") else xml_text(str(raw))


# --- nothing to lay out: the values as read ------------------------------------------------------------

def _sheet_name(name: str, taken: set[str]) -> str:
    base = _BAD_SHEET_CHARS.sub("_", xml_text(name)).strip("'")[:31] or "Sheet"
    out, n = base, 2
    while out.lower() in taken:
        out = f"{base[:28]}~{n}"
        n += 1
    taken.add(out.lower())
    return out


def _values_only(path: Path, book: WorkbookData | None, issues: list[Issue], original_name: str) -> None:
    """Values only (never a formula, never a link): the copy must be as safe to open as it is to read."""
    import xlsxwriter

    wb = xlsxwriter.Workbook(str(path), {"strings_to_formulas": False, "strings_to_urls": False,
                                         "strings_to_numbers": False})
    try:
        wrap = wb.add_format({"text_wrap": True, "valign": "top", "font_name": "宋体", "border": 1})
        head = wb.add_format({"bold": True, "bg_color": "#D9E1F2", "border": 1, "font_name": "宋体"})
        red = wb.add_format({"bg_color": "#FF7C80", "border": 2, "border_color": "#C00000", "font_name": "宋体"})
        amber = wb.add_format({"bg_color": "#FFE699", "border": 2, "border_color": "#BF8F00", "font_name": "宋体"})
        plain = wb.add_format({"font_name": "宋体"})
        taken: set[str] = {NOTES.lower()}
        notes = wb.add_worksheet(NOTES)
        intro = wb.add_format({"text_wrap": True, "valign": "top", "font_name": "宋体", "font_size": 12, "bold": True})
        notes.merge_range(0, 0, 0, 6, f"文件“{display_name(original_name)}”未通过校验，请按下列说明修改后重新报送。"
                                      "后面的工作表是原表的内容：红色单元格为错误，黄色为提示，鼠标移到单元格上可看到说明。", intro)
        notes.set_row(0, 48)
        for c, text in enumerate(("序号", "级别", "问题", "工作表", "单元格", "说明", "代码")):
            notes.write_string(2, c, text, head)
        for i, it in enumerate(issues, start=1):
            row = (str(i), "错误" if it.severity == "error" else "提示", CATALOGUE[it.code][1],
                   it.sheet or "", it.cell or "", it.message, it.code)
            for c, text in enumerate(row):
                notes.write_string(2 + i, c, xml_text(text), wrap)
        for c, w in enumerate((6, 6, 20, 12, 10, 70, 20)):
            notes.set_column(c, c, w)
        notes.set_landscape()
        notes.set_paper(9)
        notes.fit_to_pages(1, 0)  # the message column must reach the paper
        notes.repeat_rows(2)
        notes.activate()
        by_cell: dict[tuple[str, int, int], list[Issue]] = {}
        for it in issues:
            m = A1.match(it.cell or "")
            if it.sheet and m:
                by_cell.setdefault((it.sheet, int(m.group(2)) - 1, col_index(m.group(1))), []).append(it)
        for sheet in (book.sheets if book else []):
            ws = wb.add_worksheet(_sheet_name(sheet.name, taken))
            marked = {(r, c): its for (s, r, c), its in by_cell.items() if s == sheet.name}
            for r, cells in enumerate(sheet.rows):
                for c, value in enumerate(cells):
                    its = marked.get((r, c))
                    fmt = (red if any(i.severity == "error" for i in its) else amber) if its else plain
                    _write_value(ws, r, c, value, fmt, bool(its))
            for (r, c), its in marked.items():
                if r >= len(sheet.rows) or c >= len(sheet.rows[r]):
                    ws.write_blank(r, c, None, red)
                ws.write_comment(r, c, "\n".join(i.message for i in its), {"x_scale": 3, "y_scale": 2.5})
            ws.set_column(0, 0, 18)
            ws.set_landscape()
            ws.set_paper(9)
            ws.fit_to_pages(1, 0)
    finally:
        wb.close()


def _write_value(ws, r: int, c: int, value, fmt, force: bool) -> None:
    if isinstance(value, bool):
        ws.write_string(r, c, str(value).upper(), fmt)
    elif isinstance(value, (int, float)):
        ws.write_number(r, c, value, fmt)
    elif isinstance(value, (datetime, date, time)):
        ws.write_string(r, c, value.isoformat(), fmt)
    elif value is None or value == "":
        if force:
            ws.write_blank(r, c, None, fmt)
    else:
        ws.write_string(r, c, xml_text(str(value)), fmt)
