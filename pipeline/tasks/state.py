"""The state of each Annex 1 key task for each responsible unit and month, as of a moment (spec 11): status
lists and strikes (what the notices say of it: tasks/report.py).

State of (task, unit) for month M as of T, judged on the *content* of the forms received by T (a form that came
after the deadline is judged the same way, and is itself 迟报) and the 销号 made by T. Once M's deadline has
passed, M is judged on what had come by then (judged_view): a form received later, for M or an earlier month,
does not rewrite it — unless no form for M had come at all, then M's late form is judged on what it says:

    closed       the clerk closed it (annex2 tasks close) by T, in or before M or before M's deadline
    not_started  the window begins after M
    done         the latest report for it (months up to M) says 已完成
    phase_done   a report for the window's last month or later says 阶段性完成: the window is met (the seed:
                 “标注具体时间的任务，应在该时间内取得阶段性成效”) and the task carries on as 长期坚持
    overdue      the window ended before M and neither of the above
    on_track     M's form says 推进中 or 阶段性完成 (or 未启动 in the window's first month)
    lagging      M's form says 未启动 although the window began before M
    unreported   the deadline passed and no form for M reports the task: a *reporting* failure (未报送推进情况表),
                 never 进度滞后
    pending      before the deadline, nothing reported for M yet: not yet judged

The form of (unit, month) has its own timeliness (FormState): on_time / late (days_late) / unreported / pending,
from the first accepted form for the month; a unit with no task in its window that month owes no form.
The form is due with the materials: day `[tasks] day` (default 16) of M, by timeliness.deadline's rules.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import date, datetime, time

from ..core.config import Config
from ..core.deadlines import Deadline, deadline
from ..core.months import Month, months_between
from ..storage.ledger import Ledger, utc_text
from ..storage.supersession import FileKind, standings
from . import store
from .form import STATUS_WORDS
from .task_list import Task, TaskList

CLOSED, NOT_STARTED, DONE, PHASE_DONE, OVERDUE, ON_TRACK, LAGGING, UNREPORTED, PENDING = (
    "closed", "not_started", "done", "phase_done", "overdue", "on_track", "lagging", "unreported", "pending")
STATE_LABELS = {CLOSED: "已销号", NOT_STARTED: "未开始", DONE: "已完成", PHASE_DONE: "阶段性完成", OVERDUE: "逾期",
                ON_TRACK: "正常推进", LAGGING: "滞后", UNREPORTED: "未报送", PENDING: "未到期"}
PROGRESS_STATES = (LAGGING, OVERDUE)  # 重点任务进度滞后 (counted as strikes when [escalation] count_tasks)
ACTION_STATES = (UNREPORTED, LAGGING, OVERDUE)  # what a 催报 asks the unit to do something about

# the progress form's own timeliness for (unit, month)
FORM_ON_TIME, FORM_LATE, FORM_UNREPORTED, FORM_PENDING = "on_time", "late", "unreported", "pending"
FORM_LABELS = {FORM_ON_TIME: "按时", FORM_LATE: "迟报", FORM_UNREPORTED: "未报送", FORM_PENDING: "未到期"}


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

    def first(self, unit: str, month: Month) -> Form | None:
        """The unit's first accepted form for the month: its time is the form's timeliness (a corrected form
        keeps the first one's, as for Annex 2)."""
        return next((f for f in self.forms if f.unit == unit and f.month == month), None)

    def phase_met(self, task: Task, unit: str, up_to: Month) -> Reported | None:
        """The current report, for the window's last month or a later one up to `up_to`, that says 阶段性完成."""
        for m in sorted({f.month for f in self.forms if f.unit == unit and task.window.last <= f.month <= up_to}):
            form = self.current(unit, m)
            row = form.rows.get(task.id) if form else None
            if row is not None and row.status == "phase_done":
                return row
        return None


def load_task_data(ledger: Ledger, as_of: datetime) -> TaskData:
    data = TaskData(as_of)
    forms: dict[int, Form] = {}
    # The forms that count (supersession.py's view: accepted, not voided); a later one supersedes (current()).
    for aid, unit, year, month, received in store.counted_forms(ledger, as_of):
        forms[aid] = Form(aid, unit, Month(year, month), received, {})
    if forms:
        for aid, task_id, status, progress, evidence in store.counted_rows(ledger, as_of):
            f = forms[aid]
            f.rows[task_id] = Reported(aid, f.unit, f.month, f.received_at, task_id, status, progress, evidence)
    data.forms = list(forms.values())
    for task_id, unit, at, note in store.closes(ledger, as_of):
        data.closes.setdefault((task_id, unit), (at, note))
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
        row_id = store.insert_close(db, task.id, unit, now, note, ledger.command)
        ledger.event(db, "task_closed", now, None, {"task": task.id, "unit": unit, "note": note})
    return row_id


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


def judged_view(data: TaskData, unit: str, month: Month, due: Deadline) -> TaskData:
    """What (unit, month) is judged on once its deadline has passed: the forms received before the deadline
    (a later form, for this or an earlier month, does not rewrite what was judged then; spec 11), or, when no
    form for the month had come by then, also the month's own late forms (judged on what they say, 迟报);
    a 销号 counts from the moment it is made: for the months it was made in or before whose deadline."""
    if data.as_of < due.boundary:
        return data
    on_time = any(f.unit == unit and f.month == month and f.received_at < due.boundary for f in data.forms)
    forms = [f for f in data.forms if f.received_at < due.boundary or (not on_time and f.month == month)]
    after = month.plus(1)
    month_end = datetime.combine(date(after.year, after.month, 1), time.min, due.boundary.tzinfo)
    closes = {k: v for k, v in data.closes.items() if v[0] < max(due.boundary, month_end)}
    return TaskData(data.as_of, forms, closes)


def cell_state(task: Task, unit: str, month: Month, data: TaskData, due: Deadline) -> TaskCell:
    shown = data.latest(task.id, unit, month)  # the latest report, whenever it came (shown, not judged)
    cell = _judged_cell(task, unit, month, judged_view(data, unit, month, due), due)
    return cell if cell.state == NOT_STARTED else dataclasses.replace(cell, latest=shown)


def _judged_cell(task: Task, unit: str, month: Month, data: TaskData, due: Deadline) -> TaskCell:
    closed = data.closes.get((task.id, unit))
    if closed is not None:
        return TaskCell(task, unit, CLOSED, data.latest(task.id, unit, month), closed[1])
    if task.window.first > month:
        return TaskCell(task, unit, NOT_STARTED)
    latest = data.latest(task.id, unit, month)
    if latest is not None and latest.status == "completed":
        return TaskCell(task, unit, DONE, latest)
    if data.phase_met(task, unit, month) is not None:
        return TaskCell(task, unit, PHASE_DONE, latest)
    if task.window.last < month:
        return TaskCell(task, unit, OVERDUE, latest)
    form = data.current(unit, month)  # judged on what it says, also when it came after the deadline
    row = form.rows.get(task.id) if form else None
    if row is not None:
        late_start = row.status == "unstarted" and task.window.first < month
        return TaskCell(task, unit, LAGGING if late_start else ON_TRACK, latest)
    return TaskCell(task, unit, PENDING if data.as_of < due.boundary else UNREPORTED, latest)


@dataclass(frozen=True)
class FormState:
    """The progress form of (unit, month): due when the unit has a task in its window that month."""

    unit: str
    month: Month
    state: str  # on_time | late | unreported | pending
    received_at: datetime | None = None
    days_late: int | None = None
    days_overdue: int | None = None  # unreported: calendar days from the deadline day to the moment asked about

    @property
    def label(self) -> str:
        if self.state == FORM_LATE:
            return f"迟报{self.days_late}天"
        return FORM_LABELS[self.state]

    def to_dict(self) -> dict:
        return {"state": self.state, "received_at": self.received_at.isoformat(timespec="seconds")
                if self.received_at else None, "days_late": self.days_late}


def form_state(unit: str, month: Month, data: TaskData, due: Deadline) -> FormState:
    first = data.first(unit, month)
    tz = due.boundary.tzinfo
    if first is not None:
        received = first.received_at.astimezone(tz)
        if first.received_at < due.boundary:
            return FormState(unit, month, FORM_ON_TIME, received)
        return FormState(unit, month, FORM_LATE, received, (received.date() - due.last_day).days)
    if data.as_of < due.boundary:
        return FormState(unit, month, FORM_PENDING)
    return FormState(unit, month, FORM_UNREPORTED, days_overdue=(data.as_of.astimezone(tz).date() - due.last_day).days)


@dataclass
class TaskBoard:
    """Every (task, responsible unit) for a month as of a moment, and each unit's progress form."""

    month: Month
    as_of: datetime
    due: Deadline
    tasks: TaskList
    units: list[str]  # responsible units expected to report this month, in config order
    cells: dict[tuple[str, str], TaskCell]
    ending_days: int = 30
    forms: dict[str, FormState] = field(default_factory=dict)  # units with a task in its window this month

    def cell(self, task_id: str, unit: str) -> TaskCell | None:
        return self.cells.get((task_id, unit))

    def of_unit(self, unit: str) -> list[TaskCell]:
        return [c for (t, u), c in self.cells.items() if u == unit]

    def in_state(self, unit: str, *states: str) -> list[TaskCell]:
        return [c for c in self.of_unit(unit) if c.state in states]

    def unit_lists(self, unit: str) -> dict[str, object]:
        """status --json's `tasks` object of one unit: ids per state (spec 12: `done` holds done and closed;
        closed, pending and not_started added) and `form`, the month's progress form (null: none due)."""
        out: dict[str, list[str]] = {s: [] for s in (LAGGING, OVERDUE, ON_TRACK, DONE, UNREPORTED, PHASE_DONE, CLOSED,
                                                     PENDING, NOT_STARTED)}
        for c in self.of_unit(unit):
            out[c.state].append(c.task.id)
            if c.state == CLOSED:
                out[DONE].append(c.task.id)
        form = self.forms.get(unit)
        return {**out, "form": form.to_dict() if form else None}

    def summary_text(self, unit: str) -> str:
        """The status table's 重点任务 column: "未报送", "迟报 2 天 / 滞后 1", "滞后 2 / 逾期 1", "正常", or "—" for a
        unit without tasks."""
        cells = self.of_unit(unit)
        if not cells:
            return "—"
        form = self.forms.get(unit)
        parts = []
        if form is not None and form.state == FORM_UNREPORTED:
            parts.append("未报送")
        elif form is not None and form.state == FORM_LATE:
            parts.append(f"迟报 {form.days_late} 天")
        for state, label in ((LAGGING, "滞后"), (OVERDUE, "逾期")):
            n = sum(1 for c in cells if c.state == state)
            if n:
                parts.append(f"{label} {n}")
        if parts:
            return " / ".join(parts)
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
                "tasks": [c.to_dict() for c in self.cells.values()],
                "forms": [{"unit": f.unit, **f.to_dict()} for f in self.forms.values()]}


def task_board(cfg: Config, task_list: TaskList, data: TaskData, month: Month) -> TaskBoard:
    """The states of every task and responsible unit for `month`, as of `data.as_of`."""
    due = task_deadline(cfg, month)
    expected = {u.name for u in cfg.units if u.expected_in(month)}
    order = [u.name for u in cfg.units]
    units = [u for u in order if u in expected and u in task_list.responsible_units]
    cells = {}
    for task in task_list.tasks:
        if task.window.last < cfg.start:
            # its window closed before the reporting period began: nothing was ever asked of anyone, so nothing is
            # overdue (a folder made in December of the plan's year would otherwise start with every unit struck)
            continue
        for unit in sorted(task.responsible, key=order.index):
            if unit in expected:
                cells[(task.id, unit)] = cell_state(task, unit, month, data, due)
    forms = {u: form_state(u, month, data, due) for u in units if task_list.active(u, month)}
    return TaskBoard(month, data.as_of.astimezone(cfg.bureau.tz), due, task_list, units, cells, cfg.tasks.ending_days,
                     forms)


def tasks_status(cfg: Config, ledger: Ledger, task_list: TaskList, month: Month, as_of: datetime) -> TaskBoard:
    return task_board(cfg, task_list, load_task_data(ledger, as_of), month)


# --- the monthly loop ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class StrikeMonth:
    """Why a month is a strike for a unit because of the key tasks: its form was late or not sent (always a
    strike, like late materials), and its lagging or overdue tasks (a strike when [escalation] count_tasks)."""

    form: FormState | None
    cells: list[TaskCell]

    @property
    def reason(self) -> str:
        parts = []
        if self.form is not None:
            parts.append(f"重点任务推进情况表{self.form.label}")
        counts = [f"{label}{len(ids)}项（{'、'.join(ids)}）" for label, ids in (
            ("滞后", [c.task.id for c in self.cells if c.state == LAGGING]),
            ("逾期", [c.task.id for c in self.cells if c.state == OVERDUE])) if ids]
        if counts:
            parts.append("重点任务" + "、".join(counts))
        return "，".join(parts)


def task_strikes(cfg: Config, task_list: TaskList, data: TaskData, month: Month,
                 board_of_month: TaskBoard | None = None) -> dict[str, dict[Month, StrikeMonth]]:
    """unit -> month of the year up to `month` -> why the key tasks make it a strike (as of data.as_of).
    `board_of_month`: `month`'s board when the caller has it already (it is not judged twice)."""
    out: dict[str, dict[Month, StrikeMonth]] = {}
    for m in months_between(max(Month(month.year, 1), cfg.start), month):
        board = board_of_month if board_of_month is not None and m == month else task_board(cfg, task_list, data, m)
        for unit in board.units:
            form = board.forms.get(unit)
            bad = form if form is not None and form.state in (FORM_LATE, FORM_UNREPORTED) else None
            cells = board.in_state(unit, *PROGRESS_STATES) if cfg.escalation.count_tasks else []
            if bad is not None or cells:
                out.setdefault(unit, {})[m] = StrikeMonth(bad, cells)
    return out


def report_rows(ledger: Ledger, task_list: TaskList, as_of: datetime, cfg: Config | None = None,
                data: TaskData | None = None) -> list[dict]:
    """Every accepted progress-form row received by `as_of`, for the master workbook (which keeps every
    report): oldest first; `current` is false for rows of a form a later one for the same unit and month
    replaced; `timeliness` (with `cfg`): 按时 or 迟报N天 for the form the row came in. `data`: the forms as of
    `as_of` when the caller has read them already."""
    if data is None:
        data = load_task_data(ledger, as_of)
    standing = standings(ledger.db, utc_text(as_of), kind=FileKind.TASK_FORM)
    rows = []
    for f in data.forms:
        timeliness = ""
        if cfg is not None:
            due = task_deadline(cfg, f.month)
            received = f.received_at.astimezone(cfg.bureau.tz).date()
            timeliness = "按时" if f.received_at < due.boundary else f"迟报{(received - due.last_day).days}天"
        for r in f.rows.values():
            task = task_list.by_id.get(r.task_id)
            rows.append({"unit": f.unit, "month": str(f.month), "task_id": r.task_id,
                         "task_name": task.name if task else "", "status": r.status, "status_label": r.status_label,
                         "progress": r.progress, "evidence": r.evidence, "received_at": r.received_at,
                         "arrival_id": f.arrival_id, "current": standing[f.arrival_id].current,
                         "timeliness": timeliness})
    return rows


def replaced_form_time(ledger: Ledger, unit: str, month: Month, before: datetime) -> datetime | None:
    """When the unit's current form for the month, received before `before`, arrived: the one a new form
    replaces (for the receipt's “本表替代 …” line), or None. Voided forms count for nothing (supersession.py)."""
    return store.latest_form_before(ledger, unit, month.year, month.month, before)
