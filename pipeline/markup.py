"""The marked-up copy of a rejected workbook: 错误说明 first, then the sheets with each offending cell red."""
from __future__ import annotations

import re
from datetime import date, datetime, time
from pathlib import Path

import xlsxwriter

from .issues import CATALOGUE, Issue
from .reader import WorkbookData, col_index
from .safe_names import display_name

_BAD_SHEET_CHARS = re.compile(r"[\[\]:*?/\\]")
_A1 = re.compile(r"^([A-Z]+)(\d+)$")


def _sheet_name(name: str, taken: set[str]) -> str:
    base = _BAD_SHEET_CHARS.sub("_", name).strip("'")[:31] or "Sheet"
    out, n = base, 2
    while out.lower() in taken:
        out = f"{base[:28]}~{n}"
        n += 1
    taken.add(out.lower())
    return out


def write_markup(path: Path, book: WorkbookData | None, issues: list[Issue], original_name: str) -> Path:
    """Values only (never a formula, never a link): the copy must be as safe to open as it is to read."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    wb = xlsxwriter.Workbook(str(path), {"strings_to_formulas": False, "strings_to_urls": False,
                                         "strings_to_numbers": False})
    try:
        wrap = wb.add_format({"text_wrap": True, "valign": "top", "font_name": "宋体"})
        head = wb.add_format({"bold": True, "bg_color": "#D9E1F2", "border": 1, "font_name": "宋体"})
        red = wb.add_format({"bg_color": "#FF7C80", "border": 2, "border_color": "#C00000", "font_name": "宋体"})
        amber = wb.add_format({"bg_color": "#FFE699", "border": 2, "border_color": "#BF8F00", "font_name": "宋体"})
        plain = wb.add_format({"font_name": "宋体"})
        taken: set[str] = {"错误说明"}
        notes = wb.add_worksheet("错误说明")
        intro = wb.add_format({"text_wrap": True, "valign": "top", "font_name": "宋体", "font_size": 12, "bold": True})
        notes.merge_range(0, 0, 0, 6, f"文件“{display_name(original_name)}”未通过校验，请按下列说明修改后重新报送。"
                                      "后面的工作表是原表的内容：红色单元格为错误，黄色为提示，鼠标移到单元格上可看到说明。", intro)
        notes.set_row(0, 36)
        for c, text in enumerate(("序号", "级别", "代码", "问题", "工作表", "单元格", "说明")):
            notes.write_string(2, c, text, head)
        for i, it in enumerate(issues, start=1):
            row = (str(i), "错误" if it.severity == "error" else "提示", it.code, CATALOGUE[it.code][1],
                   it.sheet or "", it.cell or "", it.message)
            for c, text in enumerate(row):
                notes.write_string(2 + i, c, text, wrap)
        notes.set_column(0, 1, 6)
        notes.set_column(2, 2, 20)
        notes.set_column(3, 3, 18)
        notes.set_column(4, 5, 10)
        notes.set_column(6, 6, 70)
        notes.set_landscape()
        notes.set_paper(9)
        notes.fit_to_pages(1, 0)  # the message column must reach the paper
        notes.repeat_rows(2)
        notes.activate()
        by_cell: dict[tuple[str, int, int], list[Issue]] = {}
        for it in issues:
            m = _A1.match(it.cell or "")
            if it.sheet and m:
                by_cell.setdefault((it.sheet, int(m.group(2)) - 1, col_index(m.group(1))), []).append(it)
        for sheet in (book.sheets if book else []):
            ws = wb.add_worksheet(_sheet_name(sheet.name, taken))
            marked = {(r, c): its for (s, r, c), its in by_cell.items() if s == sheet.name}
            for r, row in enumerate(sheet.rows):
                for c, value in enumerate(row):
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
    return path


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
        ws.write_string(r, c, str(value), fmt)
