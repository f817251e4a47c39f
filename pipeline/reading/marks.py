"""Marking problems on a workbook (openpyxl): each offending cell filled red (a warning amber) with the messages as
a comment, and the 错误说明 sheet first. Shared by the copy of a unit's own workbook (derived.py, in the
sandbox) and the copy on our template's layout (markup.py)."""
from __future__ import annotations

import re
from dataclasses import dataclass

from ..core.issues import CATALOGUE, Issue

NOTES = "错误说明"
RED, AMBER = "FFFF7C80", "FFFFE699"
A1 = re.compile(r"^([A-Z]+)(\d+)$")
# Functions a form's own formulas use; anything else (WEBSERVICE, HYPERLINK, INDIRECT, CALL …) is dropped.
SAFE_FUNCTIONS = frozenset({
    "SUM", "ROUND", "ROUNDUP", "ROUNDDOWN", "INT", "ABS", "IF", "IFERROR", "ISERROR", "ISNUMBER", "ISBLANK",
    "N", "AND", "OR", "NOT", "AVERAGE", "MAX", "MIN", "COUNT", "COUNTA", "COUNTIF", "SUMIF", "SUMPRODUCT",
    "VALUE", "TEXT", "LEN", "TRIM"})


@dataclass(frozen=True)
class Mark:
    """Where an issue is shown in the copy: a sheet and cell of the copy, or nowhere (listed only)."""

    issue: Issue
    sheet: str | None
    cell: str | None


# --- the unit's own workbook (derived.own_workbook_copy takes it apart, in the sandbox) ----------------------

def defuse(ws, cached) -> None:
    """Keep the form's own formulas; replace any other by its cached value; drop hyperlinks. Only the cells
    the sheet holds are visited (iter_rows would make every cell between A1 and the farthest one)."""
    for cell in list(ws._cells.values()):
        if cell.hyperlink is not None:
            cell.hyperlink = None
        # an array formula is an object holding its text
        if cell.data_type == "f" and not safe_formula(str(getattr(cell.value, "text", cell.value))):
            cell.value = cached[cell.coordinate].value


def safe_formula(text: str) -> bool:
    """Arithmetic over cells of this workbook with the plain functions a form uses; no link outward."""
    upper = text.upper()
    if re.search(r"[\[|]", upper):  # another workbook ([1]Sheet!A1) or DDE (cmd|' /c …'!A1)
        return False
    names = set(re.findall(r"([A-Z][A-Z0-9._]*)\s*\(", upper))
    return names <= SAFE_FUNCTIONS


def top_left(ws, ref: str) -> str:
    """A merged cell's top-left cell (where its value and fill live), or the cell itself."""
    for rng in ws.merged_cells.ranges:
        if ref in rng:
            return rng.start_cell.coordinate
    return ref


# --- shared: marks and the notes sheet ---------------------------------------------------------------

def mark(wb, marks: list[Mark]) -> None:
    from openpyxl.comments import Comment
    from openpyxl.styles import PatternFill

    by_cell: dict[tuple[str, str], list[Issue]] = {}
    for m in marks:
        if m.sheet and m.cell:
            by_cell.setdefault((m.sheet, m.cell), []).append(m.issue)
    for (sheet, ref), its in by_cell.items():
        cell = wb[sheet][ref]
        colour = RED if any(i.severity == "error" for i in its) else AMBER
        cell.fill = PatternFill(fill_type="solid", fgColor=colour, bgColor=colour)
        text = "\n".join(i.message for i in its)
        if cell.comment is not None:
            text = f"{cell.comment.text}\n——\n{text}"
        comment = Comment(text, "annex2")
        comment.width, comment.height = 360, 150
        cell.comment = comment


def notes_sheet(wb, marks: list[Mark], original_name: str, own: bool, reason: str | None = None) -> None:
    from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
    from openpyxl.worksheet.page import PageMargins

    ws = wb.create_sheet(NOTES, 0)
    for other in wb.worksheets:
        other.sheet_view.tabSelected = False  # only the notes selected: no grouped sheets when it opens
    ws.sheet_view.tabSelected = True
    wb.active = 0
    where = "后面是你单位原来的表格" if own else \
        f"后面是按附件2模板重新排版的你单位报表（原表格式无法保留{'：' + reason if reason else ''}）"
    headers = ["序号", "级别", "问题", "工作表", "单元格", "说明", "代码"]
    ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(headers))
    ws["A1"] = (f"文件“{original_name}”未通过校验，请按下列说明修改后重新报送。{where}："
                "红色单元格为错误，黄色为提示，鼠标移到单元格上可看到说明。")
    ws["A1"].font = Font(name="宋体", size=12, bold=True)
    ws["A1"].alignment = Alignment(wrap_text=True, vertical="top")
    ws.row_dimensions[1].height = 48
    thin = Side(style="thin")
    box = Border(left=thin, right=thin, top=thin, bottom=thin)
    for c, text in enumerate(headers, start=1):
        cell = ws.cell(3, c, text)
        cell.font = Font(name="宋体", bold=True)
        cell.fill = PatternFill(fill_type="solid", fgColor="FFD9E1F2")
        cell.border = box
    for n, m in enumerate(marks, start=1):
        it = m.issue
        original = it.cell or ""
        if m.cell and (m.cell != it.cell or m.sheet != it.sheet):
            original = f"{m.cell}（原表 {it.cell}）" if it.cell else m.cell
        values = [n, "错误" if it.severity == "error" else "提示", CATALOGUE[it.code][1],
                  m.sheet or it.sheet or "", original, it.message, it.code]
        for c, value in enumerate(values, start=1):
            cell = ws.cell(3 + n, c, value)
            cell.font = Font(name="宋体")
            cell.alignment = Alignment(wrap_text=True, vertical="top")
            cell.border = box
    for letter, w in zip("ABCDEFG", (6, 6, 20, 12, 16, 70, 20)):
        ws.column_dimensions[letter].width = w
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.fitToWidth, ws.page_setup.fitToHeight = 1, 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.print_title_rows = "3:3"
    ws.page_margins = PageMargins(left=0.4, right=0.4, top=0.5, bottom=0.5)
