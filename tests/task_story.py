"""The key-task story the task tests share: the units' names, a task form filled in with openpyxl, and a working
folder with a four-task list whose forms are written, filled, checked and recorded as intake would."""
import hashlib

import openpyxl
from helpers import at

from pipeline.core import config
from pipeline.core.months import Month
from pipeline.reading.reader import read_workbook
from pipeline.storage.ledger import Ledger
from pipeline.tasks.form import check_task_form, record_task_form, task_form_arrival, write_task_form
from pipeline.tasks.state import task_deadline, task_strikes, tasks_status
from pipeline.tasks.task_list import read_task_list, write_task_list

SAFETY, TRANSPORT, QUALITY, ENFORCE = "局安全监督股", "区道路运输服务中心", "交通质量和安全监督站", "交通运输综合行政执法大队"
LOGISTICS, ROADS, BUILD, PLAN, APPROVAL = "现代物流中心", "区公路建设养护中心", "局基本建设股", "局计划统计股", "行政审批股"


def filled(path, cfg, tl, unit, month, values, out=None):
    """The unit's form for the month, filled in with openpyxl: values = {cell: text}."""
    src = write_task_form(path, cfg, tl, unit, month, task_deadline(cfg, month).last_day)
    wb = openpyxl.load_workbook(src)
    for cell, value in values.items():
        wb.active[cell] = value
    wb.save(out or src)
    return out or src



def task_strike_months(cfg, task_list, data, month):
    """unit -> the months of the year up to `month` that are strikes because of the key tasks (spec 12): the
    months of tasks.state.task_strikes, as the tests compare them."""
    return {unit: list(months) for unit, months in task_strikes(cfg, task_list, data, month).items()}


# --- states over several months --------------------------------------------------------------------------

SCENARIO_LIST = [
    {"id": "T01", "project": "全面提升安全监管效能", "name": "开展隐患清零行动", "window": "5月至8月",
     "units": "局安全监督股牵头，区道路运输服务中心落实", "measure": "全年完成至少一轮次的“隐患清零”工作。"},
    {"id": "T02", "project": "全面提升安全监管效能", "name": "严格监管执法", "window": "3月至6月",
     "units": "区道路运输服务中心落实", "measure": "组织对汽车客运站等人员密集场所全面排查。"},
    {"id": "T03", "project": "深化专项整治", "name": "学生安全专项整治", "window": "4月至10月",
     "units": "运输中心落实", "measure": "推进水上交通安全知识进校园。"},
    {"id": "T04", "project": "深化专项整治", "name": "烟花爆竹专项整治", "window": "6月至12月",
     "units": "现代物流中心落实", "measure": "严查港口码头非法储存烟花爆竹。"},
]


class Scenario:
    """A working folder with a four-task list; forms are written, filled, checked and recorded as intake would."""

    def __init__(self, workdir):
        self.work = workdir
        write_task_list(workdir / "templates" / "annex1_tasks.xlsx", SCENARIO_LIST)
        self.cfg = config.load(workdir / "config.toml")
        self.tl = read_task_list(self.cfg)
        self.n = 0

    def report(self, unit, month, received, rows):
        """rows = {task id: (完成情况, 本月进展)} in the form's order."""
        m = Month.parse(month)
        self.n += 1
        path = self.work / f"form{self.n}.xlsx"
        write_task_form(path, self.cfg, self.tl, unit, m)
        wb = openpyxl.load_workbook(path)
        ws = wb.active
        for r in range(4, 4 + len(self.tl.active(unit, m))):
            task = ws.cell(r, 1).value
            if task in rows:
                ws.cell(r, 6).value, ws.cell(r, 5).value = rows[task]
            else:
                ws.cell(r, 1).value = None  # the unit deleted the row
        wb.save(path)
        data = path.read_bytes()
        j = check_task_form(read_workbook(data, self.cfg.limits), self.cfg, unit, at(received), self.tl)
        assert j.ok, j.issues
        with Ledger(self.cfg.ledger) as ledger, ledger.transaction() as db:
            arrival = ledger.record(db, now=at(received), original_name=path.name, source="inbox",
                                    source_path=f"inbox/{unit}/{path.name}", sha256=hashlib.sha256(data).hexdigest(),
                                    size=len(data), received_at=at(received), received_rule="inbox_ctime",
                                    folder_unit=unit, archived_path=f"archive/{path.name}", issues=j.issues,
                                    event=j.outcome, **task_form_arrival(j))
            record_task_form(db, arrival, j)
        return j

    def states(self, month, as_of):
        with Ledger(self.cfg.ledger) as ledger:
            board = tasks_status(self.cfg, ledger, self.tl, Month.parse(month), at(as_of))
        return {(t, u): c.state for (t, u), c in board.cells.items()}, board


def transport_may_to_july(s: "Scenario") -> None:
    """运输中心's forms for May (a 未启动 corrected the next day) and July (T03 still 未启动); June skipped."""
    s.report(TRANSPORT, "2023-05", "2023-05-08T10:00", {"T01": ("推进中", "已部署"), "T02": ("推进中", "排查客运站12处"),
                                                        "T03": ("未启动", "")})
    s.report(TRANSPORT, "2023-05", "2023-05-10T09:00", {"T01": ("推进中", "已部署"), "T02": ("推进中", "排查客运站12处"),
                                                        "T03": ("推进中", "进校园宣传1次")})
    s.report(TRANSPORT, "2023-07", "2023-07-12T09:00", {"T01": ("推进中", "整改隐患8处"), "T03": ("未启动", "")})
