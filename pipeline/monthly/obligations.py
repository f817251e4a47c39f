"""The monthly obligations beyond the Annex 2 statistics (spec 9, 12), each one object the monthly loop asks
the same questions:

    column / cell_text(unit)      its column in the `annex2 status` table
    key / unit_json(unit)         its key in each unit object of `status --json`
    strike_months(unit)           the months of the year that are strikes because of it, each with its reason
                                  (timeliness.status joins them with the Annex 2 months: one strike a month)
    bulletin_section()            its section of the monthly 通报
    reporting_paragraphs()        what it adds to the 通报's part on 材料报送不及时 (files sent late or not at all)
    needs_reminder(unit)          whether the unit gets a 催报 because of it (after its own deadline)
    reminder_section(unit)        what the unit's 催报 says about it (reminder_title: the title's phrases;
                                  reminder_attachments: what its e-mail carries, e.g. the form to fill in)
    leadership_sheets(wb)         its sheets in the month's leadership workbook
    master_sheets(wb, fmt)        its sheets in the master workbook

`load_obligations` builds the list for a month and a moment; status, notices, merge and the workbooks loop
over it and know nothing of any one obligation. Another obligation (the monthly materials, spec 10) is one
more class here and one more line in `load_obligations`. An obligation whose own files cannot be used (a
broken task list) is left out with one warning: the rest of the loop carries on.
"""
from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from ..core.config import Config
from ..storage.ledger import Ledger
from ..core.months import Month

if TYPE_CHECKING:
    from .notices import Section

Warn = Callable[[str], None]


class Obligation:
    """What every obligation answers; the defaults say "nothing to add"."""

    key = ""  # its key in each unit of status --json
    column = ""  # its column in the status table
    strike_rule = ""  # what of it counts as a strike, for the 报告 (empty: it never does)

    def cell_text(self, unit: str) -> str:
        return ""

    def unit_json(self, unit: str) -> object:
        return None

    def strike_months(self, unit: str) -> dict[Month, str]:
        """The months of the year up to the month asked about that are strikes because of it -> the reason."""
        return {}

    def bulletin_section(self) -> Section | None:
        return None

    def reporting_paragraphs(self) -> tuple[list[str], str]:
        """Paragraphs for the 通报's part on 材料报送不及时, and what they criticise ('' : they name no unit late or
        not reporting)."""
        return [], ""

    def needs_reminder(self, unit: str) -> bool:
        return False

    def reminder_title(self) -> list[str]:
        """What the 催报 asks for, as title phrases (the title breaks only between them)."""
        return []

    def reminder_section(self, unit: str) -> Section | None:
        return None

    def reminder_attachments(self, unit: str, folder: Path) -> list[tuple[str, bytes, tuple[str, str]]]:
        """Files the 催报's e-mail carries for the unit (name, bytes, MIME type); `folder` is scratch space."""
        return []

    def leadership_sheets(self, wb) -> None:
        pass

    def master_sheets(self, wb, fmt: dict) -> None:
        pass


class TasksObligation(Obligation):
    """The Annex 1 key tasks (spec 11): progress forms due with the materials, lagging and overdue tasks."""

    key = "tasks"
    column = "重点任务"

    def __init__(self, cfg: Config, ledger: Ledger, task_list, month: Month, as_of: datetime):
        from ..tasks.state import load_task_data, report_rows, task_board

        self.cfg, self.task_list, self.month = cfg, task_list, month
        self.data = load_task_data(ledger, as_of)
        self.board = task_board(cfg, task_list, self.data, month)
        self.reports = report_rows(ledger, task_list, as_of, cfg)  # every report, for the master workbook
        self._strikes: dict | None = None  # unit -> month -> StrikeMonth, computed when first asked
        self.strike_rule = ("重点任务推进情况表迟报、未报送或重点任务滞后、逾期" if cfg.escalation.count_tasks
                            else "重点任务推进情况表迟报、未报送")

    def cell_text(self, unit: str) -> str:
        return self.board.summary_text(unit)

    def unit_json(self, unit: str) -> dict[str, object]:
        return self.board.unit_lists(unit)

    def strike_months(self, unit: str) -> dict[Month, str]:
        """Months whose progress form was late or not sent, or (when `[escalation] count_tasks`) with a lagging
        or overdue task (spec 12; task_state.task_strikes), each with its reason for the 报告."""
        from ..tasks.state import task_strikes

        if self._strikes is None:
            self._strikes = task_strikes(self.cfg, self.task_list, self.data, self.month)
        return {m: strike.reason for m, strike in self._strikes.get(unit, {}).items()}

    def _action_cells(self, unit: str):
        from ..tasks.state import ACTION_STATES

        return self.board.in_state(unit, *ACTION_STATES)

    def bulletin_section(self) -> Section:
        from .notices import Section
        from ..tasks.state import PROGRESS_STATES, bulletin_paragraphs

        from ..tasks.state import LAGGING, OVERDUE

        late = any(self.board.in_state(u, *PROGRESS_STATES) for u in self.board.units)
        words = [w for w, state in (("推进滞后", LAGGING), ("逾期未完成", OVERDUE))
                 if any(self.board.in_state(u, state) for u in self.board.units)]
        return Section("重点任务推进情况", bulletin_paragraphs(self.board), criticise=late,
                       criticised="重点任务" + "或".join(words))

    def reporting_paragraphs(self) -> tuple[list[str], str]:
        """The progress forms sent late or not at all: filed with 材料报送不及时 (spec 12), never 进度滞后."""
        from ..tasks.state import FORM_LATE, FORM_UNREPORTED, form_paragraphs

        words = [w for w, state in (("迟报", FORM_LATE), ("未报送", FORM_UNREPORTED))
                 if any(f.state == state for f in self.board.forms.values())]
        return form_paragraphs(self.board), ("重点任务推进情况表" + "或".join(words)) if words else ""

    def needs_reminder(self, unit: str) -> bool:
        """After the progress form's deadline, a unit with an unreported, lagging or overdue task is reminded."""
        return self.board.as_of >= self.board.due.boundary and bool(self._action_cells(unit))

    def reminder_title(self) -> list[str]:
        return ["重点任务", "推进情况表"]

    def reminder_section(self, unit: str) -> "Section | None":
        from ..documents.officialdoc import chinese_date
        from ..tasks.state import reminder_lines

        lines = reminder_lines(self.board, unit)
        if not lines:
            return None
        due = self.board.due.last_day
        first = (f"{self.month.year}年{self.month.month}月重点任务推进情况表（附件1责任措施清单）的报送截止时间为"
                 f"{chinese_date(due)}24时，与月度工作材料一并报送。")
        from .notices import Section

        return Section("重点任务推进情况", [first, *lines])

    def reminder_attachments(self, unit: str, folder: Path) -> list[tuple[str, bytes, tuple[str, str]]]:
        """The unit's progress form for the month, ready to fill in (when it has tasks to report)."""
        from ..tasks.form import default_filename, write_task_form

        if not self.task_list.active(unit, self.month):
            return []
        path = write_task_form(folder / default_filename(unit, self.month), self.cfg, self.task_list, unit,
                               self.month, self.board.due.last_day)
        data = path.read_bytes()
        path.unlink()
        from .notices import XLSX_TYPE

        return [(path.name, data, XLSX_TYPE)]

    def leadership_sheets(self, wb) -> None:
        from ..tasks.sheet import write_tasks_sheet

        if self.board.cells:
            write_tasks_sheet(wb, self.board)

    def master_sheets(self, wb, fmt: dict) -> None:
        from ..tasks.sheet import write_reports_sheet

        write_reports_sheet(wb, fmt, self.reports, self.cfg.bureau.tz)


def load_obligations(cfg: Config, ledger: Ledger, month: Month, as_of: datetime,
                     warn: Warn | None = None) -> list[Obligation]:
    """The obligations tracked for `month` as of `as_of`. One whose own inputs are broken is left out, said
    once through `warn` (default: the log)."""
    from ..tasks.task_list import TaskListError, read_task_list

    warn = warn or logging.getLogger("annex2").warning
    out: list[Obligation] = []
    try:
        task_list = read_task_list(cfg)
    except TaskListError as exc:
        more = f"（另有 {len(exc.problems) - 1} 处，运行 annex2 tasks list 查看全部）" if len(exc.problems) > 1 else ""
        warn(f"任务清单有误，本次不含重点任务：{exc.problems[0]}{more}")
    else:
        if task_list.year == month.year:
            out.append(TasksObligation(cfg, ledger, task_list, month, as_of))
        else:  # last year's windows would make every unfinished task overdue all of this year
            warn(f"重点任务清单是{task_list.year}年的（config.toml 中 [tasks] year），{month.label}不含重点任务；"
                 f"新的一年请更新任务清单和 [tasks] year。")
    return out
