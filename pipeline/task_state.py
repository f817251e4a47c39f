"""The state of each Annex 1 key task for each responsible unit and month, as of a moment (spec 11), and
what the monthly loop says about it (status lists, the 通报 section, reminders, strikes).

State of (task, unit) for month M as of T, using only forms received by T and 销号 made by T:

    closed       the clerk closed it (annex2 tasks close) by T
    not_started  the window begins after M
    done         the latest report for it (months up to M) says 已完成
    overdue      the window ended before M's deadline and the latest report is not 已完成
    on_track     M's form, received by the deadline, says 推进中 (or 未启动 in the window's first month)
    lagging      by the deadline M's form does not report it, or says 未启动 although the window began before M
    pending      (before the deadline, nothing reported for M yet: not yet judged)

The form is due with the materials: day `[tasks] day` (default 16) of M, by timeliness.deadline's rules.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import datetime

from .config import Config
from .ledger import Ledger, from_utc_text, utc_text
from .months import Month, months_between
from .supersession import FileKind, standings
from .task_form import STATUS_WORDS
from .task_window import window_label
from .tasks_list import Task, TaskList
from .timeliness import Deadline, deadline

CLOSED, NOT_STARTED, DONE, OVERDUE, ON_TRACK, LAGGING, PENDING = (
    "closed", "not_started", "done", "overdue", "on_track", "lagging", "pending")
STATES = (ON_TRACK, LAGGING, OVERDUE, DONE, CLOSED, NOT_STARTED, PENDING)
STATE_LABELS = {CLOSED: "已销号", NOT_STARTED: "未开始", DONE: "已完成", OVERDUE: "逾期", ON_TRACK: "正常推进",
                LAGGING: "滞后", PENDING: "未到期"}
STRIKE_STATES = (LAGGING, OVERDUE)


def task_deadline(cfg: Config, month: Month) -> Deadline:
    """When the month's progress form is due: the [tasks] day/month_offset/inclusive/grace_days rule."""
    return deadline(dataclasses.replace(cfg, deadline=cfg.tasks.deadline), month)


# --- what the ledger holds --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Reported:
    """One task's row in one accepted progress form."""

    arrival_id: int
    unit: str
    month: Month
    received_at: datetime
    task_id: str
    status: str  # unstarted | in_progress | completed
    progress: str
    evidence: str

    @property
    def status_label(self) -> str:
        return STATUS_WORDS[self.status]


@dataclass(frozen=True)
class Form:
    arrival_id: int
    unit: str
    month: Month
    received_at: datetime
    rows: dict[str, Reported]


@dataclass
class TaskData:
    """Accepted progress forms and 销号 received/made by `as_of`."""

    as_of: datetime
    forms: list[Form] = field(default_factory=list)  # in received order
    closes: dict[tuple[str, str], tuple[datetime, str]] = field(default_factory=dict)  # (task, unit) -> (at, note)

    def current(self, unit: str, month: Month, cutoff: datetime | None = None) -> Form | None:
        """The unit's form for the month received last by `cutoff` (a later form supersedes)."""
        found = None
        for f in self.forms:
            if f.unit == unit and f.month == month and (cutoff is None or f.received_at < cutoff):
                found = f
        return found

    def latest(self, task_id: str, unit: str, up_to: Month) -> Reported | None:
        """The task's row in the unit's latest current form for a month up to `up_to`."""
        best: Reported | None = None
        months = sorted({f.month for f in self.forms if f.unit == unit and f.month <= up_to}, reverse=True)
        for m in months:
            form = self.current(unit, m)
            if form and task_id in form.rows:
                best = form.rows[task_id]
                break
        return best


def load_task_data(ledger: Ledger, as_of: datetime) -> TaskData:
    cut = utc_text(as_of)
    data = TaskData(as_of)
    forms: dict[int, Form] = {}
    # The forms that count (supersession.py's view: accepted, not voided); a later one supersedes (current()).
    for aid, unit, year, month, received in ledger.db.execute(
            "SELECT id, unit, year, month_to, received_utc FROM counted WHERE file_kind = ? "
            "AND received_utc <= ? ORDER BY received_utc, id", (FileKind.TASK_FORM.value, cut)):
        forms[aid] = Form(aid, unit, Month(year, month), from_utc_text(received), {})
    if forms:
        for aid, task_id, status, progress, evidence in ledger.db.execute(
                "SELECT r.arrival_id, r.task_id, r.status, r.progress, r.evidence FROM task_reports r "
                "JOIN counted c ON c.id = r.arrival_id WHERE c.file_kind = ? "
                "AND c.received_utc <= ?", (FileKind.TASK_FORM.value, cut)):
            f = forms[aid]
            f.rows[task_id] = Reported(aid, f.unit, f.month, f.received_at, task_id, status, progress, evidence)
    data.forms = list(forms.values())
    for task_id, unit, at, note in ledger.db.execute(
            "SELECT task_id, unit, at_utc, note FROM task_closes WHERE at_utc <= ? ORDER BY at_utc, id", (cut,)):
        data.closes.setdefault((task_id, unit), (from_utc_text(at), note))
    return data


class CloseRefused(ValueError):
    "The task id or the unit does not fit the task list"


def close_task(ledger: Ledger, task_list: TaskList, task_id: str, unit: str, note: str, now: datetime) -> int:
    """销号: the clerk confirms a (task, unit) finished. Kept in task_closes and the event log."""
    task = task_list.by_id.get(task_id.strip().upper())
    if task is None:
        raise CloseRefused(f"编号 {task_id} 不在重点任务清单中")
    if unit not in task.responsible:
        raise CloseRefused(f"{task.id}（{task.name}）的责任单位中没有“{unit}”（有：{'、'.join(task.responsible)}）")
    with ledger.transaction() as db:
        cur = db.execute("INSERT INTO task_closes (task_id, unit, at_utc, note, command) VALUES (?, ?, ?, ?, ?)",
                         (task.id, unit, utc_text(now), note, ledger.command))
        ledger.event(db, "task_closed", now, None, {"task": task.id, "unit": unit, "note": note})
    return cur.lastrowid  # type: ignore[return-value]


# --- states ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class TaskCell:
    task: Task
    unit: str
    state: str
    latest: Reported | None = None  # the latest report of the task by this unit (months up to M)
    closed_note: str | None = None

    @property
    def role(self) -> str:
        return self.task.role(self.unit) or ""

    def to_dict(self) -> dict:
        out: dict[str, object] = {"id": self.task.id, "unit": self.unit, "state": self.state,
                                  "state_label": STATE_LABELS[self.state],
               "role": self.role}
        if self.latest:
            out["latest"] = {"month": str(self.latest.month), "status": self.latest.status,
                             "progress": self.latest.progress,
                             "received_at": self.latest.received_at.isoformat(timespec="seconds")}
        return out


def cell_state(task: Task, unit: str, month: Month, data: TaskData, due: Deadline) -> TaskCell:
    closed = data.closes.get((task.id, unit))
    if closed is not None:
        return TaskCell(task, unit, CLOSED, data.latest(task.id, unit, month), closed[1])
    if task.window.first > month:
        return TaskCell(task, unit, NOT_STARTED)
    latest = data.latest(task.id, unit, month)
    if latest is not None and latest.status == "completed":
        return TaskCell(task, unit, DONE, latest)
    if task.window.end < due.last_day:
        return TaskCell(task, unit, OVERDUE, latest)
    by_deadline = data.current(unit, month, due.boundary)
    row = by_deadline.rows.get(task.id) if by_deadline else None
    if row is not None:
        late_start = row.status == "unstarted" and task.window.first < month
        return TaskCell(task, unit, LAGGING if late_start else ON_TRACK, latest)
    return TaskCell(task, unit, PENDING if data.as_of < due.boundary else LAGGING, latest)


@dataclass
class TaskBoard:
    """Every (task, responsible unit) for a month as of a moment."""

    month: Month
    as_of: datetime
    due: Deadline
    tasks: TaskList
    units: list[str]  # responsible units expected to report this month, in config order
    cells: dict[tuple[str, str], TaskCell]
    ending_days: int = 30

    def cell(self, task_id: str, unit: str) -> TaskCell | None:
        return self.cells.get((task_id, unit))

    def of_unit(self, unit: str) -> list[TaskCell]:
        return [c for (t, u), c in self.cells.items() if u == unit]

    def unit_lists(self, unit: str) -> dict[str, list[str]]:
        """status --json's `tasks` object of one unit: ids per state (spec 12; not_started/pending/closed added)."""
        out: dict[str, list[str]] = {s: [] for s in (LAGGING, OVERDUE, ON_TRACK, DONE, CLOSED, PENDING, NOT_STARTED)}
        for c in self.of_unit(unit):
            out[c.state].append(c.task.id)
        return out

    def summary_text(self, unit: str) -> str:
        """The status table's 重点任务 column: "滞后 2 / 逾期 1", "正常", or "—" for a unit without tasks."""
        cells = self.of_unit(unit)
        if not cells:
            return "—"
        lagging = sum(1 for c in cells if c.state == LAGGING)
        overdue = sum(1 for c in cells if c.state == OVERDUE)
        if lagging or overdue:
            return " / ".join(p for p in (f"滞后 {lagging}" if lagging else "", f"逾期 {overdue}" if overdue else "") if p)
        if any(c.state == PENDING for c in cells):
            return "未到期"
        return "正常"

    def ending_soon(self, task: Task) -> bool:
        """The window ends within `ending_days` of the moment asked about (and has not ended)."""
        days = (task.window.end - self.as_of.date()).days
        return 0 <= days <= self.ending_days

    def to_dict(self) -> dict:
        return {"month": str(self.month), "as_of": self.as_of.isoformat(timespec="seconds"),
                "deadline": self.due.last_moment.isoformat(timespec="seconds"),
                "tasks": [c.to_dict() for c in self.cells.values()]}


def task_board(cfg: Config, task_list: TaskList, data: TaskData, month: Month) -> TaskBoard:
    """The states of every task and responsible unit for `month`, as of `data.as_of`."""
    due = task_deadline(cfg, month)
    expected = {u.name for u in cfg.units if u.expected_in(month)}
    order = [u.name for u in cfg.units]
    units = [u for u in order if u in expected and u in task_list.responsible_units]
    cells = {}
    for task in task_list.tasks:
        for unit in sorted(task.responsible, key=order.index):
            if unit in expected:
                cells[(task.id, unit)] = cell_state(task, unit, month, data, due)
    return TaskBoard(month, data.as_of.astimezone(cfg.bureau.tz), due, task_list, units, cells, cfg.tasks.ending_days)


def tasks_status(cfg: Config, ledger: Ledger, task_list: TaskList, month: Month, as_of: datetime) -> TaskBoard:
    return task_board(cfg, task_list, load_task_data(ledger, as_of), month)


# --- the monthly loop ------------------------------------------------------------------------------------

def task_strike_cells(cfg: Config, task_list: TaskList, data: TaskData, month: Month) -> dict[str, dict[Month, list[TaskCell]]]:
    """unit -> month of the year up to `month` -> its lagging or overdue tasks then (as of data.as_of)."""
    out: dict[str, dict[Month, list[TaskCell]]] = {}
    for m in months_between(max(Month(month.year, 1), cfg.start), month):
        board = task_board(cfg, task_list, data, m)
        for (_task_id, unit), c in board.cells.items():
            if c.state in STRIKE_STATES:
                out.setdefault(unit, {}).setdefault(m, []).append(c)
    return out


def task_strike_months(cfg: Config, task_list: TaskList, data: TaskData, month: Month) -> dict[str, list[Month]]:
    """unit -> the months of the year up to `month` in which it had a lagging or overdue task (as of
    data.as_of). Spec 12: such a month is a strike when `[escalation] count_tasks` is true."""
    return {unit: list(months) for unit, months in task_strike_cells(cfg, task_list, data, month).items()}


def _ids(cells: list[TaskCell]) -> str:
    return "、".join(f"{c.task.id}“{c.task.name}”" for c in cells)


def bulletin_paragraphs(board: TaskBoard) -> list[str]:
    """The 通报's section on the key tasks: who lags or is overdue, on which tasks."""
    m = board.month
    lines = [f"重点任务推进情况（附件1责任措施清单，{m.month}月推进情况表截止{board.due.last_day.month}月"
             f"{board.due.last_day.day}日）："]
    named = False
    for unit in board.units:
        cells = board.of_unit(unit)
        lagging = [c for c in cells if c.state == LAGGING]
        overdue = [c for c in cells if c.state == OVERDUE]
        if not lagging and not overdue:
            continue
        named = True
        parts = []
        if lagging:
            parts.append(f"推进滞后{len(lagging)}项（{_ids(lagging)}）")
        if overdue:
            parts.append(f"超过完成时限未完成{len(overdue)}项（{_ids(overdue)}）")
        lines.append(f"{unit}：" + "，".join(parts) + "。")
    waiting = [u for u in board.units if any(c.state == PENDING for c in board.of_unit(u))]
    if named:
        lines.append("对重点任务进度滞后的单位予以通报批评，请相关单位对照责任措施清单加快推进，按月如实报送推进情况。")
    elif waiting:  # before the deadline: nothing to judge yet for these units, which is not "all on track"
        lines.append(f"目前无逾期任务；{'、'.join(waiting)}的{m.month}月推进情况表尚未报送，请于截止时间前报送。")
    else:
        lines.append("各单位重点任务均按计划推进，无滞后、逾期任务。")
    return lines


def reminder_lines(board: TaskBoard, unit: str) -> list[str]:
    """For a unit's reminder: its tasks to report this month, and windows ending within `ending_days`."""
    cells = board.of_unit(unit)
    active = [c for c in cells if c.task.window.covers(board.month) and c.state not in (DONE, CLOSED)]
    lines = []
    if active:
        lines.append(f"你单位{board.month.label}应报送推进情况的重点任务{len(active)}项："
                     + "；".join(f"{c.task.id}“{c.task.name}”（完成时限{window_label(c.task.window)}，"
                                f"{STATE_LABELS[c.state]}）" for c in active) + "。")
    soon = [c for c in cells if board.ending_soon(c.task) and c.state not in (DONE, CLOSED)]
    if soon:
        lines.append(f"其中{board.ending_days}天内到期的：" + "；".join(
            f"{c.task.id}“{c.task.name}”（{c.task.window.end.month}月{c.task.window.end.day}日到期）" for c in soon)
            + "，请抓紧推进，完成后在推进情况表中填报“已完成”。")
    overdue = [c for c in cells if c.state == OVERDUE]
    if overdue:
        lines.append("已超过完成时限仍未完成的：" + _ids(overdue) + "，请尽快完成并报送。")
    return lines


def report_rows(ledger: Ledger, task_list: TaskList, as_of: datetime) -> list[dict]:
    """Every accepted progress-form row received by `as_of`, for the master workbook (which keeps every
    report): oldest first; `current` is false for rows of a form a later one for the same unit and month
    replaced."""
    data = load_task_data(ledger, as_of)
    standing = standings(ledger.db, utc_text(as_of), kind=FileKind.TASK_FORM)
    rows = []
    for f in data.forms:
        for r in f.rows.values():
            task = task_list.by_id.get(r.task_id)
            rows.append({"unit": f.unit, "month": str(f.month), "task_id": r.task_id,
                         "task_name": task.name if task else "", "status": r.status, "status_label": r.status_label,
                         "progress": r.progress, "evidence": r.evidence, "received_at": r.received_at,
                         "arrival_id": f.arrival_id, "current": standing[f.arrival_id].current})
    return rows


def replaced_form_time(ledger: Ledger, unit: str, month: Month, before: datetime) -> datetime | None:
    """When the unit's current form for the month, received before `before`, arrived: the one a new form
    replaces (for the receipt's “本表替代 …” line), or None. Voided forms count for nothing (supersession.py)."""
    row = ledger.db.execute(
        "SELECT received_utc FROM counted WHERE file_kind = ? AND unit = ? AND year = ? "
        "AND month_to = ? AND received_utc < ? ORDER BY received_utc DESC, id DESC LIMIT 1",
        (FileKind.TASK_FORM.value, unit, month.year, month.month, utc_text(before))).fetchone()
    return from_utc_text(row[0]) if row else None
