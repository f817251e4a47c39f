"""The master workbook and the month's leadership workbook (xlsxwriter). Values only: every text from a
submission is written as text (never a formula or a link), every write's return code is checked."""
from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pandas as pd
import xlsxwriter

from . import form
from .config import Config
from .dataset import COUNT_KEYS, Dataset
from .months import Month
from .template import FIRST_SECTOR_ROW, HEAD_ROW1, LAST_COL, METRIC_COL, TOTAL_ROW, write_form_header
from .timeliness import LATE, ON_TIME, OVERDUE, PENDING, STATE_LABELS, MonthStatus

MAX_TEXT = 32767  # Excel's limit for one cell
STATUS_LABELS = {"accepted": "受理", "rejected": "退回", "duplicate": "重复", "material": "材料",
                 "superseded": "已被更正替代", "email": "邮件", "voided": "已撤销"}
SECTOR_LABEL = {s.key: s.label for s in form.ROWS}


class WorkbookError(Exception):
    "xlsxwriter refused a write (a bug: the data should have been checked before)"


@dataclass
class Sheet:
    """A worksheet whose writes are checked: xlsxwriter returns a code instead of raising."""

    ws: object
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
            rc = self.ws.write_string(row, col, str(value)[:MAX_TEXT], fmt)
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


def _workbook(path: Path, moment: datetime, title: str) -> tuple[xlsxwriter.Workbook, dict]:
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
        "note": wb.add_format({"font_name": "宋体", "font_size": 10, "text_wrap": True, "valign": "top"}),
        ON_TIME: wb.add_format({**base, "bg_color": "#C6EFCE", "font_color": "#006100"}),
        LATE: wb.add_format({**base, "bg_color": "#FFEB9C", "font_color": "#9C5700"}),
        OVERDUE: wb.add_format({**base, "bg_color": "#FFC7CE", "font_color": "#9C0006"}),
        PENDING: wb.add_format({**base, "bg_color": "#EDEDED"}),
    }
    return wb, fmt


def _print_setup(ws, header_rows: int, last_col: int, one_page: bool = False) -> None:
    ws.set_landscape()
    ws.set_paper(9)
    ws.fit_to_pages(1, 1 if one_page else 0)
    ws.center_horizontally()
    ws.set_margins(left=0.4, right=0.4, top=0.5, bottom=0.6)
    ws.set_footer("&C第 &P 页，共 &N 页")
    if header_rows:
        ws.repeat_rows(0, header_rows - 1)
        ws.freeze_panes(header_rows, 0)


def _table_sheet(wb, fmt, name: str, title: str, headers: list[str], rows: list[list], widths: list[float],
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
    for c, w in enumerate(widths):
        ws.set_column(c, c, w)
    _print_setup(ws, 2, len(headers) - 1)
    return sheet


# --- the leadership workbook -------------------------------------------------------------------------

def write_leadership(path: Path, cfg: Config, data: Dataset, st: MonthStatus, warnings: list[dict]) -> None:
    month = st.month
    wb, fmt = _workbook(path, data.as_of.astimezone(cfg.bureau.tz), f"{month.label}安全生产督查情况汇总")
    try:
        _summary(wb, fmt, cfg, data, st)
        _timeliness(wb, fmt, cfg, st)
        _details(wb, fmt, data, month)
        _rectification(wb, fmt, data, month)
        _trend(wb, fmt, data, month)
        _warnings(wb, fmt, warnings)
    finally:
        wb.close()


def coverage_line(st: MonthStatus, reported: list[str]) -> str:
    missing = [u for u in st.units if u.name not in reported]
    text = f"已报 {len(reported)}/{len(st.units)} 家"
    if missing:
        text += "；未纳入：" + "、".join(f"{u.name}（{STATE_LABELS[u.current.state]}）" for u in missing)
    return text


def _summary(wb, fmt, cfg: Config, data: Dataset, st: MonthStatus) -> None:
    month = st.month
    ws = wb.add_worksheet("汇总")
    sheet = Sheet(ws, fmt)
    ws.merge_range(0, 0, 0, LAST_COL, form.title(cfg.bureau.short_name), fmt["title"])
    ws.set_row(0, 32)
    ws.merge_range(1, 0, 1, LAST_COL, f"{form.UNIT_LABEL}{cfg.bureau.name}（全区合计）", wb.add_format({"font_name": "宋体"}))
    ws.merge_range(2, 0, 2, LAST_COL, f"{month.year}年 1月至 {month.month}月{form.PERIOD_SUFFIX}",
                   wb.add_format({"font_name": "宋体", "align": "center"}))
    write_form_header(ws, {"head": fmt["head"], "unit": fmt["unit"]}, HEAD_ROW1)
    district = data.district(month)
    for i, row_def in enumerate(form.ROWS):
        r = FIRST_SECTOR_ROW + i
        bold = row_def.key == form.TOTAL.key
        sheet.put(r, 0, row_def.display if not bold else row_def.label, fmt["bold"] if bold else fmt["cell"])
        for m in form.METRICS:
            value = district.loc[row_def.key, m.key]
            if m.is_rate:
                sheet.rate(r, METRIC_COL[m.key], value)
            else:
                sheet.put(r, METRIC_COL[m.key], int(value), fmt["bold_num"] if bold else fmt["num"])
    reported = data.reported_units(month)
    note_row = TOTAL_ROW + 2
    ws.merge_range(note_row, 0, note_row, LAST_COL, coverage_line(st, reported),
                   wb.add_format({"font_name": "宋体", "font_size": 11, "bold": True, "text_wrap": True, "valign": "top"}))
    ws.set_row(note_row, 36)
    tz = cfg.bureau.tz
    ws.merge_range(note_row + 1, 0, note_row + 1, LAST_COL,
                   f"说明：合计与整改率由系统根据各单位报送的累计数计算；只含本月已受理的报表，未报单位不结转。"
                   f"数据截至 {data.as_of.astimezone(tz):%Y-%m-%d %H:%M}。{st.summary}。", fmt["note"])
    ws.set_row(note_row + 1, 32)
    ws.set_column(0, 0, 16)
    ws.set_column(1, LAST_COL, 9)
    ws.set_row(HEAD_ROW1, 26)
    ws.set_row(HEAD_ROW1 + 1, 44)
    for r in range(FIRST_SECTOR_ROW, TOTAL_ROW + 1):
        ws.set_row(r, 30)  # leadership reads it on paper: the page is filled, not a strip at the top
    _print_setup(ws, 0, LAST_COL, one_page=True)
    ws.print_area(0, 0, note_row + 1, LAST_COL)
    ws.activate()


def _timeliness(wb, fmt, cfg: Config, st: MonthStatus) -> None:
    tz = cfg.bureau.tz
    rows, formats = [], []
    for i, u in enumerate(st.units, start=1):
        c = u.current
        rows.append([i, u.name, STATE_LABELS[c.state],
                     c.received_at.astimezone(tz).strftime("%Y-%m-%d %H:%M") if c.received_at else "",
                     c.days_late, c.days_overdue, u.strikes, "是" if u.escalate else "", len(u.attempts)])
        formats.append(fmt[c.state])
    _table_sheet(wb, fmt, "报送情况", f"{st.month.label}报送情况（截止 {st.deadline.last_day:%Y-%m-%d}）——{st.summary}",
                 ["序号", "单位", "状态", "收到时间", "迟报天数", "逾期天数", "本年迟报/逾期（月）", "上报局领导",
                  "被退回次数"], rows, [6, 26, 10, 17, 9, 9, 12, 10, 10], formats)


def _metric_row(sheet: Sheet, r: int, leading: list, values: pd.Series, bold: bool = False) -> None:
    fmt = sheet.fmt
    for c, v in enumerate(leading):
        sheet.put(r, c, v, fmt["bold"] if bold else fmt["cell"])
    for j, m in enumerate(form.METRICS):
        col = len(leading) + j
        if m.is_rate:
            sheet.rate(r, col, values[m.key])
        else:
            sheet.put(r, col, int(values[m.key]), fmt["bold_num"] if bold else fmt["num"])


def _details(wb, fmt, data: Dataset, month: Month) -> None:
    from .dataset import with_rates

    ws = wb.add_worksheet("分单位明细")
    sheet = Sheet(ws, fmt)
    headers = ["单位", "期间", "行业领域", *[f"{m.label}（{m.unit}）" for m in form.METRICS]]
    ws.merge_range(0, 0, 0, len(headers) - 1, f"{month.label}各单位分行业明细（1月至{month.month}月累计）", fmt["title"])
    sheet.row(1, headers, fmt["head"])
    rows = data.for_month(month)
    r = 2
    for unit, group in rows.groupby("unit", sort=True):
        period = f"{group['month_from'].iloc[0]}–{month.month}月"
        frame = with_rates(group.set_index("sector")[COUNT_KEYS].reindex([s.key for s in form.SECTORS]).reset_index())
        for _, row in frame.iterrows():
            _metric_row(sheet, r, [unit, period, SECTOR_LABEL[row["sector"]]], row)
            r += 1
        total = with_rates(pd.DataFrame([group[COUNT_KEYS].sum()])).iloc[0]
        _metric_row(sheet, r, [unit, period, form.TOTAL.label], total, bold=True)
        r += 1
    ws.autofilter(1, 0, max(r - 1, 1), len(headers) - 1)
    ws.set_column(0, 0, 24)
    ws.set_column(1, 2, 12)
    ws.set_column(3, len(headers) - 1, 9)
    ws.set_row(1, 42)
    _print_setup(ws, 2, len(headers) - 1)


def _rectification(wb, fmt, data: Dataset, month: Month) -> None:
    from .dataset import with_rates

    ws = wb.add_worksheet("整改进度")
    sheet = Sheet(ws, fmt)
    keys = ["major_hazards", "major_fixed", "major_fix_rate", "other_hazards", "other_fixed", "other_fix_rate"]
    headers = ["单位", "行业领域", *[form.METRIC_BY_KEY[k].label for k in keys]]
    ws.merge_range(0, 0, 0, len(headers) - 1,
                   f"隐患整改进度（1月至{month.month}月累计；隐患清零目标 100%，未达到的标红）", fmt["title"])
    sheet.row(1, headers, fmt["head"])
    district = data.district(month)
    r = 2
    for sector in [*form.SECTORS, form.TOTAL]:
        sheet.put(r, 0, "全区", fmt["bold"])
        sheet.put(r, 1, sector.label, fmt["bold"])
        for j, k in enumerate(keys):
            value = district.loc[sector.key, k]
            if form.METRIC_BY_KEY[k].is_rate:
                sheet.rate(r, 2 + j, value, low=fmt["pct_low"])
            else:
                sheet.put(r, 2 + j, int(value), fmt["bold_num"])
        r += 1
    rows = with_rates(data.for_month(month)[["unit", "sector", *COUNT_KEYS]])
    found = rows[(rows["major_hazards"] > 0) | (rows["other_hazards"] > 0)].sort_values(["unit", "sector"])
    for _, row in found.iterrows():
        sheet.put(r, 0, row["unit"])
        sheet.put(r, 1, SECTOR_LABEL[row["sector"]])
        for j, k in enumerate(keys):
            if form.METRIC_BY_KEY[k].is_rate:
                sheet.rate(r, 2 + j, row[k], low=fmt["pct_low"])
            else:
                sheet.put(r, 2 + j, int(row[k]), fmt["num"])
        r += 1
    ws.set_column(0, 0, 24)
    ws.set_column(1, 1, 14)
    ws.set_column(2, len(headers) - 1, 13)
    _print_setup(ws, 2, len(headers) - 1)


def _trend(wb, fmt, data: Dataset, month: Month) -> None:
    ws = wb.add_worksheet("月度趋势")
    sheet = Sheet(ws, fmt)
    trend = data.trend(month.year, month.month)
    headers = ["月份", "报送单位数", "其中跨月增量单位数", "发现隐患（增量）", "已整改隐患（增量）", "组织督查人员（增量）",
               "督查检查单位数（增量）", "重大隐患整改率（累计）", "其他隐患整改率（累计）"]
    ws.merge_range(0, 0, 0, len(headers) - 1, f"{month.year}年月度趋势（各单位累计数相减得出的月增量之和）", fmt["title"])
    sheet.row(1, headers, fmt["head"])
    for i, t in trend.iterrows():
        r = 2 + i
        sheet.put(r, 0, f"{int(t['month'])}月", fmt["center"])
        sheet.put(r, 1, int(t["units"]), fmt["num"])
        sheet.put(r, 2, int(t["spanning_units"]), fmt["num"])
        for c, key in ((3, "found"), (4, "fixed"), (5, "inspectors"), (6, "units_inspected")):
            sheet.put(r, c, None if pd.isna(t[key]) else int(t[key]), fmt["num"])
        sheet.rate(r, 7, t["major_fix_rate"])
        sheet.rate(r, 8, t["other_fix_rate"])
    last = 2 + len(trend) - 1
    columns = wb.add_chart({"type": "column"})
    for c, name, color in ((3, "发现隐患", "#4472C4"), (4, "已整改隐患", "#70AD47")):
        columns.add_series({"name": name, "categories": ["月度趋势", 2, 0, last, 0],
                            "values": ["月度趋势", 2, c, last, c], "fill": {"color": color}})
    columns.set_title({"name": "每月发现与整改的隐患（项）", "name_font": {"name": "黑体", "size": 11}})
    columns.set_legend({"position": "bottom"})
    ws.insert_chart(last + 2, 0, columns, {"x_scale": 1.3, "y_scale": 1.0})
    line = wb.add_chart({"type": "line"})
    for c, name in ((7, "重大隐患整改率"), (8, "其他隐患整改率")):
        line.add_series({"name": name, "categories": ["月度趋势", 2, 0, last, 0],
                         "values": ["月度趋势", 2, c, last, c], "marker": {"type": "circle"}})
    line.set_title({"name": "隐患整改率（累计）", "name_font": {"name": "黑体", "size": 11}})
    line.set_y_axis({"num_format": "0%", "min": 0, "max": 1})
    line.set_legend({"position": "bottom"})
    ws.insert_chart(last + 2, 5, line, {"x_scale": 1.1, "y_scale": 1.0})
    # each unit's increments, so a skipped month shows as a span, never as a 0
    inc = data.increments()
    inc = inc[(inc["year"] == month.year) & (inc["month"] <= month.month)]
    per_unit = inc.groupby(["unit", "month", "label"], sort=True)[COUNT_KEYS].sum().reset_index()
    start = last + 19
    sheet.put(start, 0, "各单位月增量（跨月的增量注明所跨月份；漏报月份本身的增量不可知，留空）", fmt["bold"])
    unit_headers = ["单位", "月份", "发现隐患", "已整改隐患", "组织督查人员", "督查检查单位数"]
    sheet.row(start + 1, unit_headers, fmt["head"])
    for i, row in per_unit.iterrows():
        r = start + 2 + i
        sheet.put(r, 0, row["unit"])
        sheet.put(r, 1, row["label"])
        sheet.put(r, 2, int(row["major_hazards"] + row["other_hazards"]), fmt["num"])
        sheet.put(r, 3, int(row["major_fixed"] + row["other_fixed"]), fmt["num"])
        sheet.put(r, 4, int(row["inspectors"]), fmt["num"])
        sheet.put(r, 5, int(row["units_inspected"]), fmt["num"])
    ws.set_column(0, 0, 24)
    ws.set_column(1, 1, 18)
    ws.set_column(2, len(headers) - 1, 14)
    ws.set_row(1, 44)
    _print_setup(ws, 2, len(headers) - 1)


def _warnings(wb, fmt, warnings: list[dict]) -> None:
    rows = [[w["unit"], w["period"], w["code"], w["title"], w["cell"], w["message"]] for w in warnings]
    _table_sheet(wb, fmt, "校验提示", "已受理报表中仍待核对的提示（不影响受理）",
                 ["单位", "期间", "代码", "问题", "单元格", "说明"], rows, [24, 14, 22, 18, 8, 80])


# --- the master workbook -----------------------------------------------------------------------------

def write_master(path: Path, cfg: Config, data: Dataset) -> None:
    from .dataset import with_rates

    wb, fmt = _workbook(path, data.as_of.astimezone(cfg.bureau.tz), "安全生产督查情况统计台账")
    try:
        ws = wb.add_worksheet("台账")
        sheet = Sheet(ws, fmt)
        subs = with_rates(data.submissions.sort_values(["year", "month_to", "unit", "sector"], kind="stable"))
        columns = ["单位", "年度", "起始月", "截止月", "行业领域", *[m.label for m in form.METRICS], "收到时间", "文件"]
        for r, (_, row) in enumerate(subs.iterrows(), start=1):
            values = [row["unit"], int(row["year"]), int(row["month_from"]), int(row["month_to"]),
                      SECTOR_LABEL[row["sector"]]]
            for c, v in enumerate(values):
                sheet.put(r, c, v)
            for j, m in enumerate(form.METRICS):
                if m.is_rate:
                    sheet.rate(r, 5 + j, row[m.key])
                else:
                    sheet.put(r, 5 + j, int(row[m.key]), fmt["num"])
            sheet.put(r, 17, row["received_at"])
            sheet.put(r, 18, row["file"])
        last = max(len(subs), 1)
        ws.add_table(0, 0, last, len(columns) - 1, {
            "name": "台账", "style": "Table Style Light 9", "autofilter": True,
            "columns": [{"header": c} for c in columns]})
        ws.freeze_panes(1, 0)
        ws.set_column(0, 0, 24)
        ws.set_column(1, 4, 8)
        ws.set_column(5, 16, 10)
        ws.set_column(17, 18, 18)
        _print_setup(ws, 1, len(columns) - 1)
        audit = [[int(a["id"]), a["received_at"], a["rule"], a["unit"] or "", a["file"], a["period"],
                  STATUS_LABELS.get(a["status"], a["status"]), a["codes"], a["archived"]]
                 for _, a in data.arrivals.iterrows()]
        _table_sheet(wb, fmt, "文件记录", "收到的全部文件（受理、退回、重复、被更正替代、材料）",
                     ["编号", "收到时间", "时间依据", "单位", "原文件名", "期间", "结果", "问题代码", "存档位置"],
                     audit, [7, 17, 12, 24, 30, 18, 12, 30, 50])
    finally:
        wb.close()
