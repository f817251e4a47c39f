"""The master workbook's 材料 sheet (spec 12): every material file that arrived — unit, month, version, type,
received time and its rule, current / replaced / refused — as an Excel table the clerk can filter."""
from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from .report import SHEET_COLUMNS

if TYPE_CHECKING:  # the caller owns the workbook; starting a command need not load xlsxwriter
    import xlsxwriter

SHEET_NAME = "材料"
_WIDTHS = {"编号": 7, "单位": 24, "材料月份": 11, "文件名": 40, "类型": 12, "文件格式": 16, "页数": 6, "收到时间": 19,
           "时间依据": 14, "月份依据": 14, "状态": 9, "问题": 22}


def _formats(workbook: xlsxwriter.Workbook) -> dict:
    base = {"font_name": "宋体", "font_size": 10, "border": 1, "valign": "vcenter"}
    return {
        "title": workbook.add_format({"font_name": "黑体", "font_size": 14, "align": "center", "valign": "vcenter"}),
        "head": workbook.add_format({**base, "bold": True, "align": "center", "bg_color": "#D9D9D9", "text_wrap": True}),
        "cell": workbook.add_format({**base, "text_wrap": True}),
        "num": workbook.add_format({**base, "align": "center"}),
        "refused": workbook.add_format({**base, "text_wrap": True, "font_color": "#C00000"}),
        "replaced": workbook.add_format({**base, "text_wrap": True, "font_color": "#808080"}),
    }


def write_materials_sheet(workbook: xlsxwriter.Workbook, rows: list[dict], as_of: datetime,
                          formats: dict | None = None, name: str = SHEET_NAME):
    """Add the 材料 sheet for `rows` (materials_report.workbook_rows) to an open xlsxwriter workbook; returns
    the worksheet. Refused files are red, replaced ones grey; `formats` may override any format by key."""
    f = {**_formats(workbook), **(formats or {})}
    ws = workbook.add_worksheet(name)
    last_col = len(SHEET_COLUMNS) - 1
    ws.merge_range(0, 0, 0, last_col, f"月度工作情况材料收文记录（统计至 {as_of:%Y-%m-%d %H:%M}）", f["title"])
    ws.set_row(0, 28)
    for c, label in enumerate(SHEET_COLUMNS):
        ws.write_string(1, c, label, f["head"])
        ws.set_column(c, c, _WIDTHS.get(label, 12))
    for r, row in enumerate(rows, start=2):
        style = f["refused"] if row["状态"] == "退回" else f["replaced"] if row["状态"] == "已被替换" else f["cell"]
        for c, label in enumerate(SHEET_COLUMNS):
            value = row[label]
            if value is None or value == "":
                ws.write_blank(r, c, None, style)
            elif isinstance(value, int):
                ws.write_number(r, c, value, f["num"])
            else:
                ws.write_string(r, c, str(value), style)
    last_row = max(len(rows) + 1, 2)
    ws.autofilter(1, 0, last_row, last_col)
    ws.freeze_panes(2, 0)
    ws.set_landscape()
    ws.set_paper(9)
    ws.fit_to_pages(1, 0)
    ws.repeat_rows(1)
    ws.set_footer("&C第 &P 页，共 &N 页")
    return ws
