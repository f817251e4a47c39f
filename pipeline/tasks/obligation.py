"""The Annex 1 key tasks (spec 11, 12) as one obligation of the monthly loop: the task states of the month are
read from the ledger once, when it is built, and every answer is made from them."""
from __future__ import annotations

from datetime import datetime
from pathlib import Path

from ..core.config import Config
from ..core.deadlines import chinese_date
from ..core.months import Month
from ..documents.notice import XLSX_TYPE, Section
from ..documents.obligation import Attachment, Obligation, Warn
from ..storage.ledger import Ledger
from ..storage.supersession import FileKind
from .report import bulletin_paragraphs, form_paragraphs, reminder_lines
from .state import (
    ACTION_STATES,
    FORM_LATE,
    FORM_UNREPORTED,
    LAGGING,
    OVERDUE,
    PROGRESS_STATES,
    load_task_data,
    report_rows,
    task_board,
    task_strikes,
)
from .task_list import TaskListError, read_task_list


class TasksObligation(Obligation):
    """The Annex 1 key tasks (spec 11): progress forms due with the materials, lagging and overdue tasks."""

    kinds = (FileKind.TASK_FORM,)
    key = "tasks"
    column = "重点任务"
    escalation_title = ("和重点任务", "推进滞后")
    reporting_title = "重点任务推进情况表报送情况"

    def __init__(self, cfg: Config, ledger: Ledger, task_list, month: Month, as_of: datetime):
        self.cfg, self.task_list, self.month = cfg, task_list, month
        self.data = load_task_data(ledger, as_of)
        self.board = task_board(cfg, task_list, self.data, month)
        self.reports = report_rows(ledger, task_list, as_of, cfg, self.data)  # every report, for the master workbook
        self._strikes: dict | None = None  # unit -> month -> StrikeMonth, computed when first asked
        self.strike_rule = ("重点任务推进情况表迟报、未报送或重点任务滞后、逾期" if cfg.escalation.count_tasks
                            else "重点任务推进情况表迟报、未报送")

    @classmethod
    def load(cls, cfg: Config, ledger: Ledger, month: Month, as_of: datetime, warn: Warn) -> TasksObligation | None:
        """None when the task list cannot be read or is another year's (said through `warn`)."""
        try:
            task_list = read_task_list(cfg)
        except TaskListError as exc:
            more = f"（另有 {len(exc.problems) - 1} 处，运行 annex2 tasks list 查看全部）" if len(exc.problems) > 1 else ""
            warn(f"任务清单有误，本次不含重点任务：{exc.problems[0]}{more}")
            return None
        if task_list.year != month.year:  # last year's windows would make every unfinished task overdue all year
            warn(f"重点任务清单是{task_list.year}年的（config.toml 中 [tasks] year），{month.label}不含重点任务；"
                 f"新的一年请更新任务清单和 [tasks] year。")
            return None
        return cls(cfg, ledger, task_list, month, as_of)

    def cell_text(self, unit: str) -> str:
        return self.board.summary_text(unit)

    def unit_json(self, unit: str) -> dict[str, object]:
        return self.board.unit_lists(unit)

    def strike_months(self, unit: str) -> dict[Month, str]:
        """Months whose progress form was late or not sent, or (when `[escalation] count_tasks`) with a lagging
        or overdue task (spec 12; task_state.task_strikes), each with its reason for the 报告."""
        if self._strikes is None:
            self._strikes = task_strikes(self.cfg, self.task_list, self.data, self.month, self.board)
        return {m: strike.reason for m, strike in self._strikes.get(unit, {}).items()}

    def _action_cells(self, unit: str):
        return self.board.in_state(unit, *ACTION_STATES)

    def bulletin_section(self) -> Section:
        late = any(self.board.in_state(u, *PROGRESS_STATES) for u in self.board.units)
        words = [w for w, state in (("推进滞后", LAGGING), ("逾期未完成", OVERDUE))
                 if any(self.board.in_state(u, state) for u in self.board.units)]
        return Section("重点任务推进情况", bulletin_paragraphs(self.board), criticise=late,
                       criticised="重点任务" + "或".join(words))

    def bulletin_duty(self) -> tuple[int, str]:
        return self.cfg.tasks.day, "重点任务推进情况表"

    def reporting_paragraphs(self) -> tuple[list[str], str]:
        """The progress forms sent late or not at all: filed with 材料报送不及时 (spec 12), never 进度滞后."""
        words = [w for w, state in (("迟报", FORM_LATE), ("未报送", FORM_UNREPORTED))
                 if any(f.state == state for f in self.board.forms.values())]
        return form_paragraphs(self.board), ("重点任务推进情况表" + "或".join(words)) if words else ""

    def needs_reminder(self, unit: str) -> bool:
        """After the progress form's deadline, a unit with an unreported, lagging or overdue task is reminded."""
        return self.board.as_of >= self.board.due.boundary and bool(self._action_cells(unit))

    def reminder_title(self) -> list[str]:
        return ["重点任务", "推进情况表"]

    def reminder_section(self, unit: str) -> Section | None:
        lines = reminder_lines(self.board, unit)
        if not lines:
            return None
        due = self.board.due.last_day
        first = (f"{self.month.year}年{self.month.month}月重点任务推进情况表（附件1责任措施清单）的报送截止时间为"
                 f"{chinese_date(due)}24时，与月度工作材料一并报送。")
        return Section("重点任务推进情况", [first, *lines])

    def reminder_attachments(self, unit: str, folder: Path) -> list[Attachment]:
        """The unit's progress form for the month, ready to fill in (when it has tasks to report)."""
        if not self.task_list.active(unit, self.month):
            return []
        from .form import default_filename, write_task_form  # loaded when a 催报 attaches the form

        path = write_task_form(folder / default_filename(unit, self.month), self.cfg, self.task_list, unit,
                               self.month, self.board.due.last_day)
        data = path.read_bytes()
        path.unlink()
        return [(path.name, data, XLSX_TYPE)]

    def leadership_sheets(self, wb) -> None:
        from .sheet import write_tasks_sheet  # the sheets load when a merge writes them, not for `annex2 status`

        if self.board.cells:
            write_tasks_sheet(wb, self.board)

    def master_sheets(self, wb, fmt: dict) -> None:
        from .sheet import write_reports_sheet

        write_reports_sheet(wb, fmt, self.reports, self.cfg.bureau.tz)
