"""The monthly progress form of the Annex 1 key tasks (重点任务推进情况表, spec 11): writing it for a unit and
month, recognising it among incoming workbooks, checking it, recording it, and its receipt.

Intake calls, for a workbook it has read (reader.read_workbook):

    if is_task_form(book):
        j = check_task_form(book, cfg, folder_unit, now, task_list)      # pure; picklable result
        ledger.record(db, ..., **task_form_arrival(j), issues=j.issues, event=j.outcome)  # in the transaction
        record_task_form(db, arrival_id, j)                                # same transaction
        text = task_form_receipt_text(cfg, ...)

A later accepted form for the same unit and month supersedes an earlier one (task_state reads the latest).
"""
from __future__ import annotations

import re
import sqlite3
import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

from ..core.config import Config
from ..core.deadlines import Deadline
from ..core.issues import CATALOGUE, ERROR, Issue, has_errors, issue
from ..core.months import Month
from ..core.safe_names import display_name, safe_filename
from ..reading.locate import a1
from ..reading.reader import SheetData, WorkbookData
from .task_list import TaskList
from .task_list import cell_label as _label  # one reading of a cell, shared with the list
from .task_list import cell_text as _text
from .window import window_label

KIND = "task_form"  # arrivals.kind of a progress form
TITLE_TEXT = "重点任务推进情况表"
SHEET_NAME = "重点任务推进情况表"
MARKER = "annex2:task_form:v1"  # in the hidden column I, row 1: recognises our own form after any office saved it
MARKER_CELL = (0, 8)
UNIT_LABEL, MONTH_LABEL = "填报单位：", "报告月份："
# status word on the form -> key in the ledger
STATUSES = {"未启动": "unstarted", "推进中": "in_progress", "阶段性完成": "phase_done", "已完成": "completed"}
STATUS_WORDS = {v: k for k, v in STATUSES.items()}
COLUMNS = (("id", "编号", 7), ("name", "任务名称", 14), ("measure", "具体措施", 46), ("window", "完成时限", 11),
           ("progress", "本月进展", 40), ("status", "完成情况", 10), ("evidence", "佐证材料", 20))
LABELS = {k: label for k, label, _w in COLUMNS}
HEADER_ROW, FIRST_ROW = 2, 3  # 0-based: the header on row 3, tasks from row 4


def form_title(short_name: str) -> str:
    return f"{short_name}交通运输系统{TITLE_TEXT}"


def default_filename(unit: str, month: Month) -> str:
    return safe_filename(f"重点任务推进情况表_{unit}_{month.year}年{month.month}月.xlsx")


# --- writing -------------------------------------------------------------------------------------------

def write_task_form(path: Path, cfg: Config, tasks: TaskList, unit: str, month: Month,
                    due: date | None = None) -> Path:
    """One row per task of `unit` whose window covers `month`; only 本月进展, 完成情况, 佐证材料 and the
    footer are open for input, the sheet is protected without a password (like the Annex 2 template)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = tasks.active(unit, month)
    import xlsxwriter

    wb = xlsxwriter.Workbook(str(path), {"strings_to_formulas": False, "strings_to_urls": False,
                                         "strings_to_numbers": False})
    try:
        wb.set_properties({"title": form_title(cfg.bureau.short_name), "subject": TITLE_TEXT, "author": "annex2",
                           "created": datetime(month.year, month.month, 1)})
        wb.set_custom_property("annex2_task_form", "1")
        wb.set_custom_property("annex2_task_form_unit", unit)
        wb.set_custom_property("annex2_task_form_month", str(month))
        ws = wb.add_worksheet(SHEET_NAME)
        base = {"font_name": "宋体", "font_size": 10, "valign": "vcenter", "text_wrap": True}
        f = {
            "title": wb.add_format({**base, "font_name": "黑体", "font_size": 16, "align": "center"}),
            "label": wb.add_format({**base, "align": "right"}),
            "fixed": wb.add_format({**base, "bold": True}),
            "head": wb.add_format({**base, "border": 1, "bold": True, "align": "center", "bg_color": "#D9E1F2"}),
            "cell": wb.add_format({**base, "border": 1}),
            "center": wb.add_format({**base, "border": 1, "align": "center"}),
            "input": wb.add_format({**base, "border": 1, "locked": False, "bg_color": "#FFF9DB"}),
            "input_center": wb.add_format({**base, "border": 1, "locked": False, "bg_color": "#FFF9DB",
                                           "align": "center"}),
            "footer_input": wb.add_format({**base, "locked": False, "bottom": 1, "bg_color": "#FFF9DB"}),
            "note": wb.add_format({**base, "font_size": 9, "italic": True}),
        }
        last_col = len(COLUMNS) - 1
        ws.merge_range(0, 0, 0, last_col, form_title(cfg.bureau.short_name), f["title"])
        ws.set_row(0, 32)
        ws.write_string(1, 0, UNIT_LABEL, f["label"])
        ws.merge_range(1, 1, 1, 2, unit, f["fixed"])
        ws.write_string(1, 3, MONTH_LABEL, f["label"])
        ws.write_string(1, 4, month.label, f["fixed"])
        if due is not None:
            ws.write_string(1, 5, "报送截止：", f["label"])
            ws.write_string(1, 6, f"{due.year}年{due.month}月{due.day}日", f["fixed"])
        for c, (_key, label, width) in enumerate(COLUMNS):
            ws.write_string(HEADER_ROW, c, label, f["head"])
            ws.set_column(c, c, width)
        for r, task in enumerate(rows, start=FIRST_ROW):
            ws.write_string(r, 0, task.id, f["center"])
            ws.write_string(r, 1, task.name, f["cell"])
            ws.write_string(r, 2, task.measure, f["cell"])
            ws.write_string(r, 3, window_label(task.window), f["center"])
            ws.write_blank(r, 4, None, f["input"])
            ws.write_blank(r, 5, None, f["input_center"])
            ws.write_blank(r, 6, None, f["input"])
            ws.set_row(r, 15 * max(2, min(12, len(task.measure) // 22 + 1)))
        end = FIRST_ROW + len(rows) - 1
        if rows:
            ws.data_validation(FIRST_ROW, 5, end, 5, {
                "validate": "list", "source": list(STATUSES),
                "input_title": "完成情况", "input_message": "请选择：未启动、推进中、阶段性完成、已完成。",
                "error_title": "完成情况有误", "error_message": "只能选择“未启动”“推进中”“阶段性完成”“已完成”之一。"})
            ws.data_validation(FIRST_ROW, 4, end, 4, {
                "validate": "any", "input_title": "本月进展",
                "input_message": "写明本月做了什么（推进中、阶段性完成、已完成时必填）。"})
        else:
            ws.write_blank(FIRST_ROW, 0, None, f["cell"])  # the 编号 column stays empty: nothing to report
            ws.merge_range(FIRST_ROW, 1, FIRST_ROW, last_col, f"本单位{month.label}没有处于完成时限内的重点任务。", f["cell"])
            end = FIRST_ROW
        foot = end + 2
        ws.write_string(foot, 0, "填表人：", f["label"])
        ws.merge_range(foot, 1, foot, 2, "", f["footer_input"])
        ws.write_string(foot, 3, "联系电话：", f["label"])
        ws.write_blank(foot, 4, None, f["footer_input"])
        ws.merge_range(foot + 1, 0, foot + 1, last_col,
                       "说明：完成情况从下拉框选择；有完成时限的任务，在时限内取得阶段性成效的选“阶段性完成”（此后作为长期坚持的工作继续报送）；"
                       "选“推进中”“阶段性完成”“已完成”的须填写本月进展；佐证材料写明文件名称，文件可与本表一并报送。"
                       "请勿改动编号和任务内容。", f["note"])
        ws.write_string(*MARKER_CELL, MARKER)
        ws.set_column(MARKER_CELL[1], MARKER_CELL[1], None, None, {"hidden": True})
        ws.repeat_rows(HEADER_ROW)
        ws.freeze_panes(FIRST_ROW, 0)
        ws.set_landscape()
        ws.set_paper(9)
        ws.fit_to_pages(1, 0)
        ws.set_margins(left=0.4, right=0.4, top=0.5, bottom=0.6)
        ws.print_area(0, 0, foot + 1, last_col)
        ws.protect("", {"select_locked_cells": True, "select_unlocked_cells": True, "format_columns": True,
                        "format_rows": True})
    finally:
        wb.close()
    return path


# --- recognising and reading ---------------------------------------------------------------------------



def _header_row(sheet: SheetData) -> tuple[int, dict[str, int]] | None:
    for r, row in enumerate(sheet.rows[:12]):
        labels = [_label(v) for v in row]
        if all(LABELS[k] in labels for k in ("id", "progress", "status")):
            return r, {k: labels.index(label) for k, label in LABELS.items() if label in labels}
    return None


def _is_form_sheet(sheet: SheetData) -> bool:
    top = [_label(v) for row in sheet.rows[:3] for v in row[:12] if isinstance(v, str) and v]  # labels are text
    if MARKER in top:
        return True
    return any(TITLE_TEXT in t for t in top) and _header_row(sheet) is not None


def is_task_form(wb: WorkbookData) -> bool:
    """A progress form: our hidden marker, or the title 重点任务推进情况表 above a 编号/本月进展/完成情况 header."""
    return any(_is_form_sheet(s) for s in wb.sheets)


@dataclass(frozen=True)
class TaskReport:
    task_id: str
    status: str  # unstarted | in_progress | phase_done | completed
    progress: str
    evidence: str
    cell: str  # the 编号 cell of its row

    def to_dict(self) -> dict:
        return {"task_id": self.task_id, "status": self.status, "status_label": STATUS_WORDS[self.status],
                "progress": self.progress, "evidence": self.evidence, "cell": self.cell}


@dataclass
class TaskFormJudgement:
    ok: bool
    unit: str | None
    year: int | None
    month: int | None
    rows: list[TaskReport] = field(default_factory=list)
    issues: list[Issue] = field(default_factory=list)
    declared_unit: str | None = None
    sheet: str | None = None

    @property
    def outcome(self) -> str:
        return "accepted" if self.ok else "rejected"

    def to_dict(self, path: str | None = None) -> dict:
        out = {"ok": self.ok, "kind": KIND, "unit": self.unit, "year": self.year, "month_from": self.month,
               "month_to": self.month, "issues": [i.to_dict() for i in self.issues],
               "tasks": [r.to_dict() for r in self.rows]}
        return {"path": path, **out} if path is not None else out


def _field(sheet: SheetData, label: str, above: int) -> tuple[str, str | None]:
    """The text after a label (in its own cell after '：' or in the next filled cell) and that cell's name."""
    key = _label(label).rstrip(":")
    for r in range(min(above, len(sheet.rows))):
        row = sheet.rows[r]
        for c, value in enumerate(row):
            text = _label(value)
            if text.startswith(key):
                rest = re.sub(r"^\((盖?章|公章)\)", "", text[len(key):]).lstrip(":")  # 填报单位（章）：
                if rest:
                    return rest, a1(r, c)
                for c2 in range(c + 1, len(row)):
                    if _text(row[c2]):
                        return _text(row[c2]), a1(r, c2)
                return "", a1(r, c + 1)
    return "", None


_MONTH_TEXT = re.compile(r"^(\d{4})(?:年|-|/|\.)(\d{1,2})月?(?:份)?$")


def _parse_month(value) -> tuple[int, int] | None:
    if isinstance(value, (date, datetime)):
        return value.year, value.month
    m = _MONTH_TEXT.match(_label(value))
    return (int(m.group(1)), int(m.group(2))) if m else None


def check_task_form(wb: WorkbookData, cfg: Config, folder_unit: str | None, now: datetime,
                    task_list: TaskList) -> TaskFormJudgement:
    """Every rule of spec 11 for a progress form; issues name their cells. `folder_unit` is the canonical
    name of the unit the file is known to come from (inbox sub-folder, sender's address), or None."""
    sheet = next((s for s in wb.sheets if _is_form_sheet(s)), None)
    if sheet is None:
        return TaskFormJudgement(False, None, None, None,
                                 issues=[issue("E_NOT_ANNEX2", f"文件中没有找到{TITLE_TEXT}（表头“编号、本月进展、完成情况”）")])
    j = TaskFormJudgement(False, None, None, None, sheet=sheet.name)
    found = _header_row(sheet)
    if found is None:
        j.issues.append(issue("E_NOT_ANNEX2", f"工作表“{sheet.name}”中没有找到表头“编号、本月进展、完成情况”",
                              sheet=sheet.name))
        return j
    header, cols = found
    _unit_rules(j, sheet, header, cfg, folder_unit)
    # Whose tasks these are is only asked when the unit is certain (a mismatch would flag every row).
    owner = None if any(i.code.startswith("E_UNIT") for i in j.issues) else j.unit
    _period_rules(j, sheet, header, cfg, now)
    _row_rules(j, sheet, header, cols, task_list, owner)
    j.ok = not has_errors(j.issues)
    return j


def _unit_rules(j: TaskFormJudgement, sheet: SheetData, header: int, cfg: Config, folder_unit: str | None) -> None:
    declared, cell = _field(sheet, UNIT_LABEL, header)
    j.declared_unit = declared or None
    unit = cfg.unit_named(declared)
    if folder_unit is not None:
        j.unit = folder_unit
        if unit is not None and unit.name != folder_unit:
            j.issues.append(issue("E_UNIT_MISMATCH", f"填报单位写的是“{declared}”，但文件来自“{folder_unit}”",
                                  sheet=sheet.name, cell=cell))
        elif cfg.is_bureau(declared):
            j.issues.append(issue("E_UNIT_MISMATCH", f"填报单位写的是本局“{declared}”，不是“{folder_unit}”的报表",
                                  sheet=sheet.name, cell=cell))
        return
    if unit is None:
        what = f"填报单位“{declared}”不在报送单位名单中" if declared else "填报单位未填写"
        j.issues.append(issue("E_UNIT_UNKNOWN", what, sheet=sheet.name, cell=cell))
        return
    j.unit = unit.name


def _period_rules(j: TaskFormJudgement, sheet: SheetData, header: int, cfg: Config, now: datetime) -> None:
    text, cell = _field(sheet, MONTH_LABEL, header)
    if cell is not None:
        r, c = _cell_index(cell)
        parsed = _parse_month(sheet.value(r, c)) or _parse_month(text)
    else:
        parsed = None
    if parsed is None:
        what = f"报告月份“{text}”无法识别（应写成“2023年5月”）" if text else "报告月份未填写"
        j.issues.append(issue("E_PERIOD", what, sheet=sheet.name, cell=cell))
        return
    year, month = parsed
    j.year = year
    if not 1 <= month <= 12:
        j.issues.append(issue("E_PERIOD", f"报告月份 {month} 不在 1–12 之间", sheet=sheet.name, cell=cell))
        return
    j.month = month
    current = Month.of(now.astimezone(cfg.bureau.tz))
    if year != cfg.task_year:
        j.issues.append(issue("E_PERIOD", f"报告月份是{year}年，重点任务清单是{cfg.task_year}年的",
                              sheet=sheet.name, cell=cell))
    elif Month(year, month) > current:
        j.issues.append(issue("E_PERIOD", f"报告月份{year}年{month}月还没有到（现在是{current.label}）",
                              sheet=sheet.name, cell=cell))
    elif Month(year, month) < cfg.start:
        j.issues.append(issue("E_PERIOD", f"报告月份{year}年{month}月早于开始报送的月份{cfg.start.label}",
                              sheet=sheet.name, cell=cell))


def _cell_index(name: str) -> tuple[int, int]:
    m = re.match(r"^([A-Z]+)(\d+)$", name)
    assert m, name
    col = 0
    for ch in m.group(1):
        col = col * 26 + ord(ch) - 64
    return int(m.group(2)) - 1, col - 1


_FOOTER = ("填表人", "说明", "联系电话", "单位负责人")


def _row_rules(j: TaskFormJudgement, sheet: SheetData, header: int, cols: dict[str, int],
               task_list: TaskList, owner: str | None) -> None:
    name = sheet.name
    seen: dict[str, str] = {}
    for r in range(header + 1, len(sheet.rows)):
        cells = {k: _text(sheet.value(r, c)) for k, c in cols.items()}
        if any(_label(cells.get(k, "")).startswith(_FOOTER) for k in ("id", "name")):
            break
        if not any(cells.get(k) for k in ("id", "progress", "status", "evidence")):
            continue
        id_cell = a1(r, cols["id"])
        status_cell = a1(r, cols["status"])
        progress_cell = a1(r, cols["progress"])
        task_id = unicodedata.normalize("NFKC", cells["id"]).upper().replace(" ", "")
        task = task_list.by_id.get(task_id)
        if not task_id:
            j.issues.append(issue("E_TASK_UNKNOWN", "编号未填写", sheet=name, cell=id_cell))
            continue
        if task is None:
            j.issues.append(issue("E_TASK_UNKNOWN", f"编号“{cells['id']}”不在重点任务清单中", sheet=name, cell=id_cell))
            continue
        if owner is not None and owner not in task.responsible:
            j.issues.append(issue("E_TASK_UNKNOWN", f"{task_id}（{task.name}）不是{owner}的任务", sheet=name,
                                  cell=id_cell))
            continue
        if task_id in seen:
            j.issues.append(issue("E_TASK_UNKNOWN", f"{task_id} 在表中出现了两次（另见 {seen[task_id]}）", sheet=name,
                                  cell=id_cell))
            continue
        seen[task_id] = id_cell
        word = _label(cells["status"])
        status = STATUSES.get(word)
        if status is None:
            what = f"{task_id} 的完成情况“{cells['status']}”不是可选的四项之一" if word else f"{task_id} 的完成情况未填写"
            j.issues.append(issue("E_TASK_STATUS", what, sheet=name, cell=status_cell))
            continue
        if status != "unstarted" and not cells["progress"]:
            j.issues.append(issue("E_TASK_NO_PROGRESS", f"{task_id} 填了“{word}”，但本月进展是空的", sheet=name,
                                  cell=progress_cell))
            continue
        j.rows.append(TaskReport(task_id, status, cells["progress"], cells.get("evidence", ""), id_cell))
    if owner is not None and j.year == task_list.year and j.month is not None:
        head = a1(header, cols["id"])
        for task in task_list.active(owner, Month(j.year, j.month)):
            if task.id not in seen:
                j.issues.append(issue("W_TASK_MISSING", f"{task.id}（{task.name}，完成时限{window_label(task.window)}）"
                                      f"本月应报，但表中没有", sheet=name, cell=head))


# --- recording ----------------------------------------------------------------------------------------

def task_form_arrival(j: TaskFormJudgement) -> dict:
    """The arrivals columns intake passes to Ledger.record for a progress form."""
    return {"kind": KIND, "outcome": j.outcome, "unit": j.unit, "declared_unit": j.declared_unit, "year": j.year,
            "month_from": j.month, "month_to": j.month, "sheet": j.sheet}


def record_task_form(db: sqlite3.Connection, arrival_id: int, j: TaskFormJudgement) -> int:
    """The rows of an accepted form (call inside the transaction that recorded the arrival); returns how many."""
    if not j.ok:
        return 0
    from .store import insert_reports

    insert_reports(db, arrival_id, j.rows)
    return len(j.rows)


# --- receipt ------------------------------------------------------------------------------------------

def task_form_receipt_text(cfg: Config, *, original_name: str, received_at: datetime, judgement: TaskFormJudgement,
                           task_list: TaskList, due: Deadline | None = None, replaces: datetime | None = None) -> str:
    """What the unit reads in its 回执/ folder. `due`: the month's deadline (task_state.task_deadline);
    `replaces`: when the form this one supersedes was received."""
    tz = cfg.bureau.tz
    j = judgement
    period = f"{j.year}年{j.month}月" if j.year and j.month else "—"
    outcome = "已受理" if j.ok else "退回 —— 请按下列说明修改后重新报送"
    lines = [f"回执 —— {form_title(cfg.bureau.short_name)}", "",
             f"文件：{display_name(original_name)}",
             f"收到时间：{received_at.astimezone(tz):%Y-%m-%d %H:%M:%S}（{cfg.bureau.timezone}）",
             f"填报单位：{j.unit or '未能确定'}",
             f"报告月份：{period}",
             f"结果：{outcome}"]
    if j.ok and due is not None:
        when = "按时" if received_at < due.boundary else "晚于截止时间"
        lines.append(f"报送时间：{when}（截止 {due.last_day.month}月{due.last_day.day}日）")
    if replaces is not None:
        lines.append(f"（本表替代 {replaces.astimezone(tz):%Y-%m-%d %H:%M:%S} 收到的同月推进情况表）")
    if j.ok and j.rows:
        lines += ["", "已登记的任务进展："]
        for r in j.rows:
            task = task_list.by_id.get(r.task_id)
            lines.append(f"  {r.task_id} {task.name if task else ''}：{STATUS_WORDS[r.status]}")
    errors = [i for i in j.issues if i.severity == ERROR]
    warnings = [i for i in j.issues if i.severity != ERROR]
    for title, group in (("需要改正的错误", errors), ("请核对的提示（不影响受理）", warnings)):
        if group:
            lines += ["", f"{title}："]
            lines += [f"  {n}. {CATALOGUE[i.code][1]} —— {i.message}（{i.code}）" for n, i in enumerate(group, 1)]
    if j.ok:
        lines += ["", "如需更正，请重新报送同一月份的推进情况表：新表会替换本表。"]
    c = cfg.contact
    lines += ["", f"联系人：{c.department} {c.person}  电话：{c.phone}  邮箱：{c.email}", ""]
    return "\r\n".join(lines)


def task_form_waiting_text(cfg: Config, *, original_name: str, received_at: datetime, unit: str | None) -> str:
    """The receipt of a form that could not be judged because the bureau's task list is being corrected: it
    is kept and judged once the list is valid (a second receipt then replaces this one)."""
    c = cfg.contact
    lines = [f"回执 —— {form_title(cfg.bureau.short_name)}", "",
             f"文件：{display_name(original_name)}",
             f"收到时间：{received_at.astimezone(cfg.bureau.tz):%Y-%m-%d %H:%M:%S}（{cfg.bureau.timezone}）",
             f"填报单位：{unit or '未能确定'}",
             "结果：已收到，暂未校验 —— 局重点任务清单正在更正，清单更正后系统将自动校验本表并更新本回执"
             "（不需要重新报送，收到时间按本次计算）（E_TASK_LIST）",
             "", f"联系人：{c.department} {c.person}  电话：{c.phone}  邮箱：{c.email}", ""]
    return "\r\n".join(lines)
