"""The master workbook and the month's leadership workbook (xlsxwriter). Values only: every text from a
submission is written as text (never a formula or a link), every write's return code is checked."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..core import form
from ..core.config import Config
from ..core.months import Month
from ..core.received_rules import RULE_LABELS
from ..documents.obligation import Obligation
from ..documents.xlsx import Sheet, fit_widths, new_workbook, print_setup, table_sheet
from ..statistics.template import FIRST_SECTOR_ROW, HEAD_ROW1, LAST_COL, METRIC_COL, TOTAL_ROW, write_form_header
from ..statistics.timeliness import STATE_LABELS
from .dataset import COUNT_KEYS, Dataset, carry_text
from .status import MonthStatus

STATUS_LABELS = {"accepted": "受理", "current": "受理", "rejected": "退回", "duplicate": "重复", "material": "材料",
                 "superseded": "已被更正替代", "email": "邮件", "voided": "已撤销", "failed": "处理出错"}
SECTOR_LABEL = {s.key: s.label for s in form.ROWS}


# --- the leadership workbook -------------------------------------------------------------------------

def write_leadership(path: Path, cfg: Config, data: Dataset, st: MonthStatus, warnings: list[dict]) -> None:
    month = st.month
    wb, fmt = new_workbook(path, data.as_of.astimezone(cfg.bureau.tz), f"{month.label}安全生产督查情况汇总")
    try:
        # printed in this order: the form (page 1), the trend (page 2), then who reported and the details
        _summary(wb, fmt, cfg, data, st)
        _trend(wb, fmt, cfg, data, month)
        _timeliness(wb, fmt, cfg, st)
        for ob in st.obligations:  # the key tasks' sheet (spec 11), and any other obligation's
            ob.leadership_sheets(wb)
        _details(wb, fmt, data, month)
        _rectification(wb, fmt, data, month)
        _unit_increments(wb, fmt, data, month)
        _warnings(wb, fmt, warnings)
    finally:
        wb.close()


def coverage_line(st: MonthStatus, reported: list[str], carried: list[tuple[str, int]] | None = None) -> str:
    """“已报 8/9 家；含沿用：现代物流中心（沿用4月累计数）”, or “…；未纳入：现代物流中心（逾期未报）” for a unit
    the total leaves out (carry-forward off, or nothing reported earlier this year)."""
    carried = carried or []
    held = {u for u, _ in carried}
    missing = [u for u in st.units if u.name not in reported and u.name not in held]
    text = f"已报 {len(reported)}/{len(st.units)} 家"
    if carried:
        text += "；" + carry_text(carried)
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
    ws.merge_range(note_row, 0, note_row, LAST_COL, coverage_line(st, reported, data.carried_from(month)),
                   wb.add_format({"font_name": "宋体", "font_size": 11, "bold": True, "text_wrap": True, "valign": "top"}))
    ws.set_row(note_row, 36)
    tz = cfg.bureau.tz
    carry = ("本月未报的单位沿用其本年最近一次受理的累计数（见上行“含沿用”）" if cfg.merge.carry_forward
             else "只含本月已受理的报表，未报单位不结转")
    ws.merge_range(note_row + 1, 0, note_row + 1, LAST_COL,
                   f"说明：合计与整改率由系统根据各单位报送的累计数计算；{carry}。"
                   f"数据截至 {data.as_of.astimezone(tz):%Y-%m-%d %H:%M}。{st.summary}。", fmt["note"])
    ws.set_row(note_row + 1, 32)
    ws.set_column(0, 0, 16)
    ws.set_column(1, LAST_COL, 9)
    ws.set_row(HEAD_ROW1, 26)
    ws.set_row(HEAD_ROW1 + 1, 44)
    for r in range(FIRST_SECTOR_ROW, TOTAL_ROW + 1):
        ws.set_row(r, 30)  # leadership reads it on paper: the page is filled, not a strip at the top
    print_setup(ws, 0, LAST_COL, one_page=True)
    ws.print_area(0, 0, note_row + 1, LAST_COL)
    ws.activate()


def _timeliness(wb, fmt, cfg: Config, st: MonthStatus) -> None:
    tz = cfg.bureau.tz
    rows, formats = [], []
    # each obligation's columns: a file due by a day beside the form's state (工作材料), the others last (重点任务)
    beside = [ob for ob in st.obligations if ob.beside_form]
    last = [ob for ob in st.obligations if not ob.beside_form]
    for i, u in enumerate(st.units, start=1):
        c = u.current
        rows.append([i, u.name, STATE_LABELS[c.state],
                     c.received_at.astimezone(tz).strftime("%Y-%m-%d %H:%M") if c.received_at else "",
                     c.days_late, c.days_overdue, *[v for ob in beside for v in ob.sheet_cells(u.name)],
                     u.strikes, "是" if u.escalate else "", len(u.attempts),
                     *[v for ob in last for v in ob.sheet_cells(u.name)]])
        formats.append(fmt[c.state])
    title = (f"{st.month.label}报送情况（统计表截止 {st.deadline.last_day:%Y-%m-%d} 24:00；"
             f"统计截至 {st.as_of.astimezone(tz):%Y-%m-%d %H:%M}）——{st.summary}")
    columns = [*[("序号", 6), ("单位", 26), ("统计表", 10), ("统计表收到时间", 17), ("迟报天数", 9), ("逾期天数", 9)],
               *[c for ob in beside for c in ob.sheet_columns],
               *[("本年迟报/逾期（月）", 12), ("上报局领导", 10), ("被退回次数", 10)],
               *[c for ob in last for c in ob.sheet_columns]]
    table_sheet(wb, fmt, "报送情况", title, [h for h, _w in columns], rows, [w for _h, w in columns], formats)


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
    rows = data.in_total(month)  # with carry-forward, a unit that has not reported shows the figures it counts with
    r = 2
    for unit, group in rows.groupby("unit", sort=True):
        last = int(group["month_to"].iloc[0])
        period = f"{group['month_from'].iloc[0]}–{last}月" + ("（沿用）" if last != month.month else "")
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
    ws.set_column(3, len(headers) - 1, 10)  # headers wrap: five characters a line, three lines
    ws.set_row(1, 44)
    print_setup(ws, 2, len(headers) - 1)


def _rectification(wb, fmt, data: Dataset, month: Month) -> None:
    from .dataset import with_rates

    ws = wb.add_worksheet("整改进度")
    sheet = Sheet(ws, fmt)
    keys = ["major_hazards", "major_fixed", "major_fix_rate", "other_hazards", "other_fixed", "other_fix_rate"]
    headers = ["单位", "行业领域", *[form.METRIC_BY_KEY[k].label for k in keys]]
    carried = data.carry_note(month)
    ws.merge_range(0, 0, 0, len(headers) - 1,
                   f"隐患整改进度（1月至{month.month}月累计；隐患清零目标 100%，未达到的标红）"
                   + (f"\n全区{carried}" if carried else ""), fmt["title_wrap"] if carried else fmt["title"])
    if carried:
        ws.set_row(0, 48)
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
    rows = with_rates(data.in_total(month)[["unit", "month_to", "sector", *COUNT_KEYS]])
    found = rows[(rows["major_hazards"] > 0) | (rows["other_hazards"] > 0)].sort_values(["unit", "sector"])
    for _, row in found.iterrows():
        carried_from = int(row["month_to"])
        sheet.put(r, 0, row["unit"] if carried_from == month.month else f"{row['unit']}（沿用{carried_from}月累计数）")
        sheet.put(r, 1, SECTOR_LABEL[row["sector"]])
        for j, k in enumerate(keys):
            if form.METRIC_BY_KEY[k].is_rate:
                sheet.rate(r, 2 + j, row[k], low=fmt["pct_low"])
            else:
                sheet.put(r, 2 + j, int(row[k]), fmt["num"])
        r += 1
    for c, w in enumerate(fit_widths(headers, [], [24, 14, *[13] * len(keys)])):
        ws.set_column(c, c, w)
    print_setup(ws, 2, len(headers) - 1)


def trend_rows(cfg: Config, data: Dataset, month: Month) -> list[dict]:
    """The trend table: one row per month from the first month reports were expected this year to `month`.
    Months before `[reporting] start` have no row; a month without reports keeps its row with no figures
    (None, never 0). When reporting began after January, the first month's increment is the cumulative
    from January and says so (`1–4月累计`)."""
    first = max(cfg.start, Month(month.year, 1))
    if first > month:
        return []
    trend = data.trend(month.year, month.month)
    rows = []
    for _, t in trend[trend["month"] >= first.month].iterrows():
        m = int(t["month"])
        cumulative = m == first.month and m > 1
        reported = int(t["units"]) > 0

        def figure(key, t=t):  # this row's figure (bound now, not at the loop's end)
            value = t[key]
            return None if value is None or pd.isna(value) else value

        rows.append({
            "label": f"1–{m}月累计" if cumulative else f"{m}月", "month": m, "cumulative": cumulative,
            "units": int(t["units"]), "spanning_units": int(t["spanning_units"]),
            **{k: (None if figure(k) is None else int(figure(k)))
               for k in ("found", "fixed", "inspectors", "units_inspected")},
            "major_fix_rate": figure("major_fix_rate") if reported else None,
            "other_fix_rate": figure("other_fix_rate") if reported else None,
        })
    return rows


def _blanks_as_gaps(chart) -> None:
    """Say `dispBlanksAs gap` in the file: xlsxwriter leaves it out as Excel's default, but a reader that
    does not take the file for Excel's (LibreOffice) then draws a blank as 0."""
    chart.show_blanks_as("gap")
    chart._write_disp_blanks_as = lambda: chart._xml_empty_tag("c:dispBlanksAs", [("val", "gap")])


def _trend(wb, fmt, cfg: Config, data: Dataset, month: Month) -> None:
    """One printed page: the table (a row per month), then the two charts beside each other."""
    name = "月度趋势"
    ws = wb.add_worksheet(name)
    sheet = Sheet(ws, fmt)
    rows = trend_rows(cfg, data, month)
    groups = [("月增量（各单位累计数相减）", 3, 6), ("整改率（1月起累计）", 7, 8)]
    headers = ["月份", "报送单位数", "其中跨月增量的单位数", "发现隐患", "已整改隐患", "组织督查人员", "督查检查单位数",
               "重大隐患", "其他隐患"]
    last_col = len(headers) - 1
    ws.merge_range(0, 0, 0, last_col, f"{month.year}年月度趋势", fmt["title"])
    ws.set_row(0, 28)
    for c in range(3):
        ws.merge_range(1, c, 2, c, headers[c], fmt["head"])
    for label, first, last in groups:
        ws.merge_range(1, first, 1, last, label, fmt["head"])
        for c in range(first, last + 1):
            sheet.put(2, c, headers[c], fmt["head"])
    top = 3
    for i, t in enumerate(rows):
        r = top + i
        sheet.put(r, 0, t["label"], fmt["center"])
        sheet.put(r, 1, t["units"], fmt["num"])
        sheet.put(r, 2, t["spanning_units"], fmt["num"])
        for c, key in ((3, "found"), (4, "fixed"), (5, "inspectors"), (6, "units_inspected")):
            sheet.put(r, c, t[key], fmt["num"])  # None stays blank: unknown is not 0
        for c, key in ((7, "major_fix_rate"), (8, "other_fix_rate")):
            value = t[key]
            sheet.put(r, c, None if value is None else value / 100, fmt["pct"])
    last = top + len(rows) - 1
    notes = ["说明：空白表示该月没有报表（或没有发现隐患，整改率无从计算），不是 0；各单位的月增量见“各单位月增量”表。"]
    carried = [f"{t['month']}月{note}" for t in rows
               if t["units"] and (note := data.carry_note(Month(month.year, t["month"])))]
    if carried:
        notes.append(f"整改率按全区合计计算，{'；'.join(carried)}。")
    if rows and rows[0]["cumulative"]:
        notes.append(f"{rows[0]['label']}：{cfg.start.month}月起报，第一份报表是 1 月至 {rows[0]['month']} 月的累计数，"
                     "不是一个月的增量，因此不画入月度柱形图。")
    ws.merge_range(last + 1, 0, last + 1, last_col, "".join(notes), fmt["note"])
    ws.set_row(last + 1, 30)
    chart_row = last + 3
    monthly_first = top + (1 if rows and rows[0]["cumulative"] else 0)  # the cumulative row is left out of the bars
    widths = [14, 12, 12, 12, 12, 14, 16, 12, 12]
    table_px = sum(int(w * 7 + 5) for w in widths)  # Excel's pixels for a column width (default font)
    chart_px = (table_px - 10) // 2  # two charts side by side under the table, as wide as it
    size = {"x_scale": chart_px / 480, "y_scale": 1.3}  # 480 × 288 px is xlsxwriter's chart size
    if rows and monthly_first <= last:
        monthly = rows[monthly_first - top:]
        columns = wb.add_chart({"type": "column"})
        for c, key, label, color in ((3, "found", "发现隐患", "#4472C4"), (4, "fixed", "已整改隐患", "#70AD47")):
            columns.add_series({"name": label, "categories": [name, monthly_first, 0, last, 0],
                                "values": [name, monthly_first, c, last, c], "fill": {"color": color},
                                # the cached points: xlsxwriter would cache a bordered blank cell as 0
                                "values_data": [t[key] for t in monthly]})
        title = "每月新发现与整改的隐患（项）"
        if rows[0]["cumulative"]:
            title += f"，{rows[0]['label']}见表"
        columns.set_title({"name": title, "name_font": {"name": "黑体", "size": 11}})
        columns.set_legend({"position": "bottom"})
        _blanks_as_gaps(columns)
        ws.insert_chart(chart_row, 0, columns, size)
    if rows:
        line = wb.add_chart({"type": "line"})
        for c, key, label in ((7, "major_fix_rate", "重大隐患整改率"), (8, "other_fix_rate", "其他隐患整改率")):
            line.add_series({"name": label, "categories": [name, top, 0, last, 0],
                             "values": [name, top, c, last, c], "marker": {"type": "circle"},
                             "values_data": [None if t[key] is None else t[key] / 100 for t in rows]})
        line.set_title({"name": "隐患整改率（1月起累计）", "name_font": {"name": "黑体", "size": 11}})
        line.set_y_axis({"num_format": "0%", "min": 0, "max": 1})
        line.set_legend({"position": "bottom"})
        _blanks_as_gaps(line)
        ws.insert_chart(chart_row, 0, line, {**size, "x_offset": chart_px + 10})
    for c, w in enumerate(widths):
        ws.set_column(c, c, w)
    ws.set_row(2, 20)
    print_setup(ws, 3, last_col, one_page=True)


def _unit_increments(wb, fmt, data: Dataset, month: Month) -> None:
    """Each unit's increments: a skipped month shows as a span (3–4月), never as a 0."""
    inc = data.increments()
    inc = inc[(inc["year"] == month.year) & (inc["month"] <= month.month)]
    per_unit = inc.groupby(["unit", "month", "label"], sort=True)[COUNT_KEYS].sum().reset_index()
    rows = [[row["unit"], row["label"], int(row["major_hazards"] + row["other_hazards"]),
             int(row["major_fixed"] + row["other_fixed"]), int(row["inspectors"]), int(row["units_inspected"])]
            for _, row in per_unit.iterrows()]
    table_sheet(wb, fmt, "各单位月增量", f"{month.year}年各单位月增量（跨月的增量注明所跨月份；漏报月份本身的增量不可知）",
                 ["单位", "月份", "发现隐患", "已整改隐患", "组织督查人员", "督查检查单位数"], rows, [24, 18, 12, 12, 14, 16])


def _warnings(wb, fmt, warnings: list[dict]) -> None:
    if not warnings:  # one line that says so, not a header over nothing (which prints as a blank-looking page)
        ws = wb.add_worksheet("校验提示")
        ws.merge_range(0, 0, 0, 5, "本月无校验提示：已受理的报表没有待核对的问题。", fmt["title"])
        ws.set_row(0, 28)
        ws.set_column(0, 5, 16)
        print_setup(ws, 0, 5)
        return
    rows = [[w["unit"], w["period"], w["title"], w["cell"], w["message"], w["code"]] for w in warnings]
    table_sheet(wb, fmt, "校验提示", "已受理报表中仍待核对的提示（不影响受理）",
                 ["单位", "期间", "问题", "单元格", "说明", "代码"], rows, [24, 14, 18, 8, 80, 22])


# --- the master workbook -----------------------------------------------------------------------------

def write_master(path: Path, cfg: Config, data: Dataset, obligations: list[Obligation] | None = None) -> None:
    """The master workbook: every submission's figures, every file received, then each obligation's records
    (every monthly work material, every progress report on the key tasks)."""
    from .dataset import with_rates

    wb, fmt = new_workbook(path, data.as_of.astimezone(cfg.bureau.tz), "安全生产督查情况统计台账")
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
        print_setup(ws, 1, len(columns) - 1)
        audit = [[int(a["id"]), a["received_at"], RULE_LABELS.get(a["rule"], a["rule"]), a["unit"] or "", a["file"], a["period"],
                  STATUS_LABELS.get(a["status"], a["status"]), a["codes"], a["archived"]]
                 for _, a in data.arrivals.iterrows()]
        table_sheet(wb, fmt, "文件记录", "收到的全部文件（受理、退回、重复、被更正替代、材料）",
                     ["编号", "收到时间", "时间依据", "单位", "原文件名", "期间", "结果", "问题代码", "存档位置"],
                     audit, [7, 17, 22, 24, 30, 18, 12, 30, 50])
        for ob in obligations or []:
            ob.master_sheets(wb, fmt)
    finally:
        wb.close()
