"""The leadership workbook's 重点任务 sheet (spec 11): one row per task, one column per responsible unit, each
cell coloured by the task's state for that unit, the latest 进展 as a cell comment, windows ending soon
marked. Written with xlsxwriter into a workbook the caller owns (workbook.py's leadership workbook)."""
from __future__ import annotations

from typing import TYPE_CHECKING

from .state import (
    CLOSED,
    DONE,
    LAGGING,
    NOT_STARTED,
    ON_TRACK,
    OVERDUE,
    PENDING,
    PHASE_DONE,
    STATE_LABELS,
    UNREPORTED,
    TaskBoard,
)
from .window import window_label

if TYPE_CHECKING:  # the caller owns the workbook
    import xlsxwriter

SHEET_NAME = "重点任务"
MAX_TEXT = 32767
# green on track / done / closed, yellow lagging, red overdue, grey not started (spec 11); blue 阶段性完成 (the
# window met, carrying on); purple 未报送 (no form: a reporting failure, not a judgement on progress); pending white
STATE_COLOURS = {ON_TRACK: ("#C6EFCE", "#006100"), DONE: ("#C6EFCE", "#006100"), CLOSED: ("#C6EFCE", "#006100"),
                 PHASE_DONE: ("#BDD7EE", "#1F4E78"), LAGGING: ("#FFEB9C", "#9C5700"), OVERDUE: ("#FFC7CE", "#9C0006"),
                 UNREPORTED: ("#E4DFEC", "#5B2C6F"), NOT_STARTED: ("#D9D9D9", "#595959"),
                 PENDING: ("#FFFFFF", "#000000")}
FIXED_COLS = (("编号", 6), ("任务名称", 16), ("完成时限", 12))


def _formats(wb: xlsxwriter.Workbook) -> dict:
    base = {"font_name": "宋体", "font_size": 10, "valign": "vcenter", "border": 1, "text_wrap": True}
    f = {
        "title": wb.add_format({"font_name": "黑体", "font_size": 16, "align": "center", "valign": "vcenter"}),
        "subtitle": wb.add_format({"font_name": "宋体", "font_size": 10, "align": "center", "valign": "vcenter"}),
        "head": wb.add_format({**base, "bold": True, "align": "center", "bg_color": "#D9E1F2"}),
        "cell": wb.add_format(base),
        "center": wb.add_format({**base, "align": "center"}),
        "soon": wb.add_format({**base, "align": "center", "bold": True, "font_color": "#C00000", "bg_color": "#FCE4D6"}),
        "none": wb.add_format({**base, "bg_color": "#FFFFFF", "diag_type": 0}),
        "note": wb.add_format({"font_name": "宋体", "font_size": 9, "text_wrap": True, "valign": "top"}),
    }
    for state, (bg, fg) in STATE_COLOURS.items():
        f[state] = wb.add_format({**base, "align": "center", "bg_color": bg, "font_color": fg})
    return f


def _comment(cell) -> str | None:
    r = cell.latest
    lines = []
    if r is not None:
        lines.append(f"{r.month.month}月报送（{r.status_label}）：{r.progress or '（未写进展）'}")
        if r.evidence:
            lines.append(f"佐证材料：{r.evidence}")
    if cell.closed_note is not None:
        lines.append(f"已销号{('：' + cell.closed_note) if cell.closed_note else ''}")
    return "\n".join(lines)[:MAX_TEXT] if lines else None


def write_tasks_sheet(workbook: xlsxwriter.Workbook, board: TaskBoard, formats: dict | None = None,
                      name: str = SHEET_NAME):
    """Add the 重点任务 sheet for `board` (task_state.task_board) to an open xlsxwriter workbook; returns the
    worksheet. `formats` may override any of this sheet's formats by key (title, head, cell, center, …)."""
    f = {**_formats(workbook), **(formats or {})}
    ws = workbook.add_worksheet(name)
    units = board.units
    last_col = len(FIXED_COLS) + len(units) - 1
    tz = board.as_of.tzinfo
    ws.merge_range(0, 0, 0, last_col, f"{board.month.label}重点任务推进情况（附件1责任措施清单）", f["title"])
    ws.set_row(0, 28)
    ws.merge_range(1, 0, 1, last_col,
                   f"推进情况表截止 {board.due.last_day:%Y-%m-%d}，统计至 {board.as_of.astimezone(tz):%Y-%m-%d %H:%M}；"
                   f"“牵头”为牵头单位；红字完成时限为{board.ending_days}天内到期；单元格批注为最近一次报送的进展",
                   f["subtitle"])
    header = 2
    for c, (label, width) in enumerate(FIXED_COLS):
        ws.write_string(header, c, label, f["head"])
        ws.set_column(c, c, width)
    for i, unit in enumerate(units):
        col = len(FIXED_COLS) + i
        ws.write_string(header, col, unit, f["head"])
        ws.set_column(col, col, 10)
    ws.set_row(header, 42)
    r = header
    for task in board.tasks.tasks:
        cells = {u: board.cell(task.id, u) for u in units}
        if not any(cells.values()):
            continue
        r += 1
        ws.write_string(r, 0, task.id, f["center"])
        ws.write_string(r, 1, task.name, f["cell"])
        active = any(c is not None and c.state not in (DONE, CLOSED, PHASE_DONE) for c in cells.values())
        soon = board.ending_soon(task) and active
        ws.write_string(r, 2, window_label(task.window) + ("\n（即将到期）" if soon else ""), f["soon" if soon else "center"])
        for i, unit in enumerate(units):
            col = len(FIXED_COLS) + i
            cell = cells[unit]
            if cell is None:
                ws.write_blank(r, col, None, f["none"])
                continue
            text = STATE_LABELS[cell.state] + ("\n（牵头）" if cell.role == "lead" else "")
            ws.write_string(r, col, text, f[cell.state])
            comment = _comment(cell)
            if comment:
                ws.write_comment(r, col, comment, {"author": "annex2", "x_scale": 2.2, "y_scale": 1.6})
        ws.set_row(r, max(30, 13 * ((len(task.name) + 7) // 8)))  # a long heading (（一）'s) wraps in 任务名称
    r += 1  # the month's progress form of each unit: 按时 / 迟报N天 / 未报送
    ws.merge_range(r, 0, r, 2, f"{board.month.month}月推进情况表", f["head"])
    ws.set_row(r, 22)
    for i, unit in enumerate(units):
        form = board.forms.get(unit)
        ws.write_string(r, len(FIXED_COLS) + i, form.label if form else "—（本月无任务）",
                        f[UNREPORTED] if form is not None and form.state == "unreported" else f["center"])
    legend = r + 2
    ws.merge_range(legend, 0, legend, last_col,
                   "图例：绿色 正常推进/已完成/已销号；蓝色 阶段性完成（在完成时限内取得阶段性成效，此后长期坚持）；"
                   "黄色 滞后（已进入完成时限仍报“未启动”）；红色 逾期（完成时限已过，未报“已完成”或“阶段性完成”）；"
                   "紫色 未报送（截止时没有报送推进情况表，属材料报送不及时，不是进度判断）；灰色 未开始（尚未进入完成时限）；"
                   "白色 未到期（本月截止前尚未报送）。迟报的推进情况表按所报内容判断。",
                   f["note"])
    ws.set_row(legend, 45)
    ws.set_landscape()
    ws.set_paper(9)
    ws.fit_to_pages(1, 0)
    ws.center_horizontally()
    ws.set_margins(left=0.4, right=0.4, top=0.5, bottom=0.6)
    ws.set_footer("&C第 &P 页，共 &N 页")
    ws.repeat_rows(header)
    ws.freeze_panes(header + 1, len(FIXED_COLS))
    ws.print_area(0, 0, legend, last_col)
    return ws


REPORT_HEADERS = ["单位", "月份", "编号", "任务名称", "完成情况", "本月进展", "佐证材料", "收到时间", "当前有效", "文件编号",
                  "报送"]


def write_reports_sheet(workbook: xlsxwriter.Workbook, fmt: dict, rows: list[dict], tz, name: str = "重点任务推进情况"):
    """The master workbook's record of every progress report (task_state.report_rows), oldest first; rows of
    a form a later one replaced say so in 当前有效."""
    from ..documents.xlsx import table_sheet

    values = [[r["unit"], r["month"], r["task_id"], r["task_name"], r["status_label"], r["progress"], r["evidence"],
               r["received_at"].astimezone(tz), "是" if r["current"] else "否（已被替代）", r["arrival_id"],
               r.get("timeliness", "")] for r in rows]
    return table_sheet(workbook, fmt, name, "收到的全部重点任务推进情况表（每行一项任务；后报的同月表替代先报的；"
                        "迟报的表按所报内容判断）", REPORT_HEADERS, values, [24, 9, 7, 16, 10, 40, 20, 17, 10, 8, 10])
