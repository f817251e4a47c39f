"""Writing xlsx files that people print (xlsxwriter): a checked cell writer, the bureau's formats, A4
landscape print setup and a plain titled table. Values only: a text is written as text, never a formula or
a link, and every write's return code is checked."""
from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import xlsxwriter

from ..core import form
from ..core.deadlines import LATE, ON_TIME, OVERDUE, PENDING
from ..core.safe_names import xml_text
from ..core.textable import display_width as text_cols

MAX_TEXT = 32767  # Excel's limit for one cell


class WorkbookError(Exception):
    "xlsxwriter refused a write (a bug: the data should have been checked before)"


@dataclass
class Sheet:
    """A worksheet whose writes are checked: xlsxwriter returns a code instead of raising."""

    ws: Any  # an xlsxwriter Worksheet (xlsxwriter ships no type information)
    fmt: dict

    def put(self, row: int, col: int, value, fmt=None) -> None:
        fmt = fmt if fmt is not None else self.fmt["cell"]
        if value is None or (isinstance(value, float) and math.isnan(value)):
            rc = self.ws.write_blank(row, col, None, fmt)
        elif isinstance(value, bool):
            rc = self.ws.write_string(row, col, "是" if value else "否", fmt)
        elif isinstance(value, (int, float)):
            rc = self.ws.write_number(row, col, value, fmt)
        elif isinstance(value, datetime):
            rc = self.ws.write_string(row, col, value.strftime("%Y-%m-%d %H:%M"), fmt)
        else:
            rc = self.ws.write_string(row, col, xml_text(str(value)[:MAX_TEXT]), fmt)
        if rc not in (0, None):
            raise WorkbookError(f"write({row}, {col}) returned {rc}")

    def row(self, row: int, values: list, fmt=None) -> None:
        for col, value in enumerate(values):
            self.put(row, col, value, fmt)

    def rate(self, row: int, col: int, value, fmt=None, low=None) -> None:
        """A rate held as per cent (85.7): shown in % format, `—` when nothing was found."""
        if value is None or (isinstance(value, float) and math.isnan(value)):
            self.put(row, col, form.NO_RATE, self.fmt["center"])
        else:
            self.put(row, col, value / 100, low if (low is not None and value < 100) else (fmt or self.fmt["pct"]))


def new_workbook(path: Path, moment: datetime, title: str) -> tuple[xlsxwriter.Workbook, dict]:
    wb = xlsxwriter.Workbook(str(path), {"strings_to_formulas": False, "strings_to_urls": False,
                                         "strings_to_numbers": False})
    wb.set_properties({"title": title, "author": "annex2", "created": moment.replace(tzinfo=None)})
    base = {"font_name": "宋体", "font_size": 10, "valign": "vcenter", "border": 1}
    fmt = {
        "cell": wb.add_format(base),
        "center": wb.add_format({**base, "align": "center"}),
        "num": wb.add_format({**base, "num_format": "#,##0"}),
        "pct": wb.add_format({**base, "num_format": "0.0%", "align": "center"}),
        "pct_low": wb.add_format({**base, "num_format": "0.0%", "align": "center", "bg_color": "#FFC7CE",
                                  "font_color": "#9C0006"}),
        "head": wb.add_format({**base, "bold": True, "bg_color": "#D9E1F2", "align": "center", "text_wrap": True}),
        "unit": wb.add_format({**base, "font_size": 9, "italic": True, "align": "center"}),
        "bold": wb.add_format({**base, "bold": True, "bg_color": "#F2F2F2"}),
        "bold_num": wb.add_format({**base, "bold": True, "bg_color": "#F2F2F2", "num_format": "#,##0"}),
        "title": wb.add_format({"font_name": "黑体", "font_size": 16, "align": "center", "valign": "vcenter"}),
        "title_wrap": wb.add_format({"font_name": "黑体", "font_size": 14, "align": "center", "valign": "vcenter",
                                     "text_wrap": True}),
        "note": wb.add_format({"font_name": "宋体", "font_size": 10, "text_wrap": True, "valign": "top"}),
        ON_TIME: wb.add_format({**base, "bg_color": "#C6EFCE", "font_color": "#006100"}),
        LATE: wb.add_format({**base, "bg_color": "#FFEB9C", "font_color": "#9C5700"}),
        OVERDUE: wb.add_format({**base, "bg_color": "#FFC7CE", "font_color": "#9C0006"}),
        PENDING: wb.add_format({**base, "bg_color": "#EDEDED"}),
    }
    return wb, fmt


def print_setup(ws, header_rows: int, last_col: int, one_page: bool = False) -> None:
    ws.set_landscape()
    ws.set_paper(9)
    ws.fit_to_pages(1, 1 if one_page else 0)
    ws.center_horizontally()
    ws.set_margins(left=0.4, right=0.4, top=0.5, bottom=0.6)
    ws.set_footer("&C第 &P 页，共 &N 页")
    if header_rows:
        ws.repeat_rows(0, header_rows - 1)
        ws.freeze_panes(header_rows, 0)


def table_sheet(wb, fmt, name: str, title: str, headers: list[str], rows: list[list], widths: list[float],
                 row_formats: list | None = None) -> Sheet:
    ws = wb.add_worksheet(name)
    sheet = Sheet(ws, fmt)
    ws.merge_range(0, 0, 0, len(headers) - 1, title, fmt["title"])
    ws.set_row(0, 28)
    sheet.row(1, headers, fmt["head"])
    for r, values in enumerate(rows, start=2):
        for c, value in enumerate(values):
            if row_formats:
                cell_fmt = row_formats[r - 2]
            elif isinstance(value, (int, float)) and not isinstance(value, bool):
                cell_fmt = fmt["num"]
            else:
                cell_fmt = fmt["cell"]
            sheet.put(r, c, value, cell_fmt)
    for c, w in enumerate(fit_widths(headers, rows, widths)):
        ws.set_column(c, c, w)
    print_setup(ws, 2, len(headers) - 1)
    return sheet


def fit_widths(headers: list[str], rows: list[list], minimum: list[float], cap: float = 60) -> list[float]:
    """Column widths (Excel's units: a Chinese character takes two) that show each header on one line and
    each value up to `cap` wide, never narrower than `minimum`."""
    out = []
    for c, (header, least) in enumerate(zip(headers, minimum)):
        values = [text_cols(_shown(r[c])) for r in rows if c < len(r)]
        out.append(max(least, text_cols(header) + 2, min(cap, max(values, default=0) + 2)))
    return out


def _shown(value) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float):
        return f"{value:,.1f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    return str(value)
