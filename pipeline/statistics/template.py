"""Writes the Annex 2 template (templates/annex2.xlsx) from form.py.

Layout follows the seed: title, 填报单位, the period line, two header rows with merged group cells, the
units row, seven sectors, 合计, the footer. Only the input cells are unlocked; the sheet is protected
without a password so a unit can still unprotect it if it must.
"""
from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Mapping

from ..core import form
from ..core.form import (  # noqa: F401 -- the layout, re-exported where the template is written
    FIRST_SECTOR_ROW,
    FOOTER_ROW1,
    FOOTER_ROW2,
    FROM_CELL,
    HEAD_ROW1,
    HEAD_ROW2,
    LAST_COL,
    METRIC_COL,
    PERIOD_ROW,
    SHEET_NAME,
    TITLE_ROW,
    TO_CELL,
    TOTAL_ROW,
    UNIT_ROW,
    YEAR_CELL,
    Header,
)
from ..core.months import Month
from ..core.safe_names import safe_filename
from ..reading.locate import a1

if TYPE_CHECKING:  # imported where a workbook is written: starting a command need not load it
    import xlsxwriter

def default_filename(unit: str | None, month: Month | None) -> str:
    parts = ["附件2"]
    if unit:
        parts.append(unit)
    if month:
        parts.append(f"{month.year}年{month.month}月")
    return safe_filename("_".join(parts) + ".xlsx")


def write_template(path: Path, short_name: str, header: Header,
                   values: Mapping[str, Mapping[str, int | str]] | None = None) -> Path:
    """The template; with `values` (sector -> count metric -> number, or a text as a unit may type it) a
    filled-in Annex 2 whose formulas carry the cached results an office program would show."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    import xlsxwriter

    wb = xlsxwriter.Workbook(str(path), {"strings_to_formulas": False, "strings_to_urls": False})
    try:
        _write(wb, short_name, header, values)
    finally:
        wb.close()
    return path


def write_blank(path: Path, header: Header) -> Path:
    """The empty form with only `header` filled in: what a marked-up copy lays a unit's values on."""
    return write_template(path, "", header)


def _formats(wb: xlsxwriter.Workbook) -> dict:
    base = {"font_name": "宋体", "font_size": 11, "valign": "vcenter"}
    cell = {**base, "border": 1, "align": "center", "text_wrap": True}
    return {
        "title": wb.add_format({**base, "font_name": "黑体", "font_size": 18, "align": "center"}),
        "label": wb.add_format(base),
        "label_right": wb.add_format({**base, "align": "right"}),
        "input_text": wb.add_format({**base, "locked": False, "bottom": 1, "bg_color": "#FFF9DB"}),
        "input_num": wb.add_format({**base, "locked": False, "bottom": 1, "align": "center",
                                    "bg_color": "#FFF9DB", "num_format": "0"}),
        "input_date": wb.add_format({**base, "locked": False, "bottom": 1, "bg_color": "#FFF9DB",
                                     "num_format": "yyyy年m月d日"}),
        "head": wb.add_format({**cell, "bold": True, "bg_color": "#D9E1F2"}),
        "unit": wb.add_format({**cell, "font_size": 9, "italic": True}),
        "sector": wb.add_format({**cell, "align": "left"}),
        "count": wb.add_format({**cell, "locked": False, "num_format": "0", "bg_color": "#FFF9DB"}),
        "sum": wb.add_format({**cell, "bold": True, "num_format": "0", "bg_color": "#F2F2F2"}),
        "rate": wb.add_format({**cell, "num_format": "0.0", "bg_color": "#F2F2F2"}),
        "total_label": wb.add_format({**cell, "bold": True, "bg_color": "#F2F2F2"}),
    }


def _write(wb: xlsxwriter.Workbook, short_name: str, header: Header, values) -> None:
    wb.set_properties({"title": form.title(short_name), "subject": "附件2", "author": "annex2",
                       "created": datetime(2023, 1, 1)})
    wb.set_custom_property("annex2_template_version", form.TEMPLATE_VERSION)
    ws = wb.add_worksheet(SHEET_NAME)
    f = _formats(wb)

    ws.merge_range(TITLE_ROW, 0, TITLE_ROW, LAST_COL, form.title(short_name), f["title"])
    ws.set_row(TITLE_ROW, 36)
    ws.write_string(UNIT_ROW, 0, form.UNIT_LABEL, f["label"])
    ws.merge_range(UNIT_ROW, 1, UNIT_ROW, 5, header.unit or "", f["input_text"])
    _period_line(ws, f, header)
    write_form_header(ws, f)
    _body(ws, f, values)
    _footer(ws, f, header)
    _validations(ws)

    ws.set_column(0, 0, 17)
    ws.set_column(1, LAST_COL, 9.5)
    ws.set_row(HEAD_ROW1, 24)
    ws.set_row(HEAD_ROW2, 42)
    for r in range(FIRST_SECTOR_ROW, TOTAL_ROW + 1):
        ws.set_row(r, 22)
    ws.set_landscape()
    ws.set_paper(9)  # A4
    ws.fit_to_pages(1, 1)
    ws.center_horizontally()
    ws.set_margins(left=0.5, right=0.5, top=0.6, bottom=0.6)
    ws.print_area(0, 0, FOOTER_ROW2 + (2 if header.note else 0), LAST_COL)
    ws.protect("", {"select_locked_cells": True, "select_unlocked_cells": True, "format_columns": True,
                    "format_rows": True})
    ws.activate()


def _period_line(ws, f, header: Header) -> None:
    r = PERIOD_ROW
    ws.write_string(r, 0, "统计期间：", f["label_right"])
    _number_or_blank(ws, *YEAR_CELL, header.year, f["input_num"])
    ws.write_string(r, 2, "年", f["label"])
    _number_or_blank(ws, *FROM_CELL, 1 if header.month_to else None, f["input_num"])
    ws.write_string(r, 4, "月至", f["label"])
    _number_or_blank(ws, *TO_CELL, header.month_to, f["input_num"])
    ws.write_string(r, 6, "月" + form.PERIOD_SUFFIX, f["label"])


def _number_or_blank(ws, row: int, col: int, value: int | None, fmt) -> None:
    if value is None:
        ws.write_blank(row, col, None, fmt)
    else:
        ws.write_number(row, col, value, fmt)


def write_form_header(ws, f, top: int = HEAD_ROW1) -> None:
    """The form's two header rows (merged group cells) and its units row, starting at row `top`.
    The template and the leadership workbook's 汇总 sheet both draw the form with this."""
    ws.merge_range(top, 0, top + 1, 0, form.SECTOR_HEADER, f["head"])
    groups: dict[str, list[int]] = {}
    for m in form.METRICS:
        col = METRIC_COL[m.key]
        if m.group:
            groups.setdefault(m.group, []).append(col)
            ws.write_string(top + 1, col, m.label, f["head"])
        else:
            ws.merge_range(top, col, top + 1, col, m.label, f["head"])
        ws.write_string(top + 2, col, m.unit, f["unit"])
    for group, cols in groups.items():
        ws.merge_range(top, min(cols), top, max(cols), group, f["head"])
    ws.write_string(top + 2, 0, form.UNITS_ROW_LABEL, f["unit"])


def _rate_formula(row: int, metric: form.Metric) -> str:
    fixed, found = (a1(row, METRIC_COL[k]) for k in metric.rate_of)  # type: ignore[union-attr]
    return f'=IFERROR(IF(N({found})=0,"{form.NO_RATE}",ROUND(N({fixed})/N({found})*100,1)),"{form.NO_RATE}")'


def _cached(derived, sector: str, metric: form.Metric):
    """What the formula shows, so a reader that does not recalculate sees the right figure."""
    if derived is None:
        return form.NO_RATE if metric.is_rate else 0
    value = derived[sector][metric.key]
    return form.NO_RATE if value is None else value


def _body(ws, f, values) -> None:
    # A count typed as text (`１２`) is what a unit may type; the formulas' cached results then count it as
    # 0, as Excel's SUM does until the cell holds a number.
    numbers: dict[str, dict[str, float | None]] | None = None
    if values is not None:
        numbers = {s: {k: v if isinstance(v, (int, float)) else 0 for k, v in row.items()} for s, row in values.items()}
    derived = form.with_derived(numbers) if numbers is not None else None
    for i, sector in enumerate(form.SECTORS):
        row = FIRST_SECTOR_ROW + i
        ws.write_string(row, 0, sector.display, f["sector"])
        for m in form.METRICS:
            col = METRIC_COL[m.key]
            if m.is_rate:
                ws.write_formula(row, col, _rate_formula(row, m), f["rate"], _cached(derived, sector.key, m))
            elif values is not None and isinstance(values[sector.key][m.key], str):
                ws.write_string(row, col, values[sector.key][m.key], f["count"])
            elif values is not None:
                ws.write_number(row, col, values[sector.key][m.key], f["count"])
            else:
                ws.write_blank(row, col, None, f["count"])
    ws.write_string(TOTAL_ROW, 0, form.TOTAL.label, f["total_label"])
    for m in form.METRICS:
        col = METRIC_COL[m.key]
        if m.is_rate:
            ws.write_formula(TOTAL_ROW, col, _rate_formula(TOTAL_ROW, m), f["rate"], _cached(derived, "total", m))
        else:
            first = a1(FIRST_SECTOR_ROW, col)
            last = a1(TOTAL_ROW - 1, col)
            ws.write_formula(TOTAL_ROW, col, f"=SUM({first}:{last})", f["sum"], _cached(derived, "total", m))


def _footer(ws, f, header: Header) -> None:
    r1, r2 = FOOTER_ROW1, FOOTER_ROW2
    ws.write_string(r1, 0, form.FOOTER_HEAD, f["label"])
    ws.merge_range(r1, 1, r1, 3, header.head or "", f["input_text"])
    ws.merge_range(r1, 5, r1, 6, form.FOOTER_FILLER, f["label_right"])
    ws.merge_range(r1, 7, r1, 9, header.filler or "", f["input_text"])
    ws.write_string(r2, 0, form.FOOTER_DATE, f["label"])
    ws.merge_range(r2, 1, r2, 3, "", f["input_date"])
    if header.filled_on:
        ws.write_datetime(r2, 1, datetime.combine(header.filled_on, datetime.min.time()), f["input_date"])
    ws.merge_range(r2, 5, r2, 6, form.FOOTER_PHONE, f["label_right"])
    ws.merge_range(r2, 7, r2, 9, header.phone or "", f["input_text"])
    if header.note:
        ws.merge_range(r2 + 2, 0, r2 + 2, LAST_COL, header.note, f["label"])


def _validations(ws) -> None:
    count_msg = {
        "validate": "integer", "criteria": ">=", "value": 0,
        "input_title": "填写说明", "input_message": "请填写 1月至本月的累计数（整数，没有填 0 或留空）。",
        "error_title": "输入有误", "error_message": "这里只能填写不小于 0 的整数（累计数）。",
    }
    first, last = FIRST_SECTOR_ROW, TOTAL_ROW - 1
    for m in form.COUNT_METRICS:
        col = METRIC_COL[m.key]
        ws.data_validation(first, col, last, col, count_msg)
    month_msg = {
        "validate": "integer", "criteria": "between", "minimum": 1, "maximum": 12,
        "input_title": "月份", "input_message": "填写 1–12 的月份。起始月一般为 1（累计数从 1 月算起）。",
        "error_title": "月份有误", "error_message": "月份只能是 1 到 12 之间的整数。",
    }
    for cell in (FROM_CELL, TO_CELL):
        ws.data_validation(*cell, *cell, month_msg)
    ws.data_validation(*YEAR_CELL, *YEAR_CELL, {
        "validate": "integer", "criteria": "between", "minimum": 2000, "maximum": 2100,
        "input_title": "年份", "input_message": "填写四位年份，例如 2023。",
        "error_title": "年份有误", "error_message": "请填写四位数的年份，例如 2023。",
    })

