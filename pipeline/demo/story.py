"""`annex2 demo`: a newcomer's first run. Sample units report April and May 2023 the ways units really do
(our template, a retyped table, an .xls, full-width digits) at scripted times — most on time, one late, one
unit overdue, one file rejected and then corrected — then May is merged as of 31 May."""
from __future__ import annotations

import functools
import hashlib
import os
import random
import shutil
from dataclasses import dataclass
from datetime import datetime, timedelta
from importlib import resources
from pathlib import Path

from ..core import config as config_mod
from ..core import docprops, form
from ..core.clock import parse_moment
from ..core.files import RECEIPTS_DIR
from ..core.months import Month
from ..intake.ingest import BatchResult, Candidate, Ingester
from ..intake.workspace import init
from ..monthly.merge import MergeResult, merge
from ..statistics.template import Header, write_template
from ..storage.session import session
from .material_samples import write_sample_material

DEMO_XLS = "demo_公路中心_2023年5月.xls"
AS_OF = "2023-05-31"
RULE = "demo_script"  # recorded as the received-time rule, so nobody mistakes the demo for real arrivals

# (unit, month, received at, style); style: template | retyped | fullwidth | xls | mistake
SCENARIO = [
    ("局安全监督股", 4, "2023-04-18T09:30", "template"),
    ("局基本建设股", 4, "2023-04-20T15:10", "retyped"),
    ("局计划统计股", 4, "2023-04-19T10:00", "template"),
    ("行政审批股", 4, "2023-04-21T11:45", "template"),
    ("交通质量和安全监督站", 4, "2023-04-23T17:20", "template"),
    ("区道路运输服务中心", 4, "2023-04-17T16:05", "template"),
    ("交通运输综合行政执法大队", 4, "2023-04-20T08:50", "retyped"),
    ("现代物流中心", 4, "2023-04-26T10:30", "template"),  # late: 3 days
    ("区公路建设养护中心", 4, "2023-04-22T09:15", "template"),
    ("局安全监督股", 5, "2023-05-20T09:12", "template"),
    ("局基本建设股", 5, "2023-05-22T16:40", "retyped"),
    ("局计划统计股", 5, "2023-05-19T10:05", "fullwidth"),
    ("行政审批股", 5, "2023-05-23T23:30", "template"),  # half an hour before the deadline
    ("交通质量和安全监督站", 5, "2023-05-21T11:00", "mistake"),  # rejected: 已整改 > 隐患
    ("交通质量和安全监督站", 5, "2023-05-22T09:30", "template"),  # the corrected file
    ("区道路运输服务中心", 5, "2023-05-25T10:20", "template"),  # late: 2 days
    ("交通运输综合行政执法大队", 5, "2023-05-18T15:00", "retyped"),
    # 现代物流中心 sends nothing for May: overdue, and with April late that is two strikes
    ("区公路建设养护中心", 5, "2023-05-22T14:00", "xls"),
]
# The key tasks (Annex 1): every unit with tasks sends its 重点任务推进情况表 by the 16th, except as noted.
# (unit, month, received at, {task id: (完成情况, 本月进展)} for rows that differ from 推进中 with a line of progress)
# The plan's own windows end in June at the earliest, so May cannot show a window met: the demo's clerk sets T02's
# 完成时限 to 3月至5月 (the only change to the list), and both its units report 阶段性完成 in May. No window is
# changed to make a task overdue: the real list has none by May.
PHASE_TASK, PHASE_WINDOW = "T02", "3月至5月"
_PHASE = {PHASE_TASK: ("阶段性完成", "客运站安全出口、疏散通道排查整改完毕，转入日常检查")}
TASK_FORMS = [
    ("局安全监督股", 4, "2023-04-12T10:00", {}),
    ("局基本建设股", 4, "2023-04-13T15:30", {}),
    ("局计划统计股", 4, "2023-04-14T09:20", {}),
    ("行政审批股", 4, "2023-04-14T16:00", {}),
    ("交通质量和安全监督站", 4, "2023-04-15T11:10", {}),
    ("区道路运输服务中心", 4, "2023-04-16T17:40", {}),
    # 4月 is the first month of T14 (水上交通安全知识进校园, 4月至10月): 未启动 is fine then
    ("交通运输综合行政执法大队", 4, "2023-04-11T08:45", {"T14": ("未启动", "")}),
    ("现代物流中心", 4, "2023-04-16T10:05", {}),
    ("区公路建设养护中心", 4, "2023-04-14T10:40", {}),
    ("局安全监督股", 5, "2023-05-12T09:40", _PHASE),  # T02 reaches its phase in its last month
    ("局基本建设股", 5, "2023-05-15T14:20", {}),
    ("局计划统计股", 5, "2023-05-10T10:30", {}),
    ("行政审批股", 5, "2023-05-16T11:00", {}),
    ("交通质量和安全监督站", 5, "2023-05-16T15:30", {}),
    ("区道路运输服务中心", 5, "2023-05-14T16:15", _PHASE),
    # still 未启动 a month into T14's window: lagging, and the 催报 asks the 执法大队 for it
    ("交通运输综合行政执法大队", 5, "2023-05-13T09:00", {"T14": ("未启动", "")}),
    ("区公路建设养护中心", 5, "2023-05-15T10:10", {}),
    # 现代物流中心 sends no progress form for May: its tasks are 未报送 (材料报送不及时), not 进度滞后
]
# The monthly work materials (due the 16th, stamped and electronic): (unit, month, kind, received at).
# April: every unit sends both versions in time. May: most do; 区道路运输服务中心 sends no stamped version
# (overdue, missing ["stamped"]), 交通运输综合行政执法大队 sends its stamped version two days late, and
# 现代物流中心 sends nothing.
_ON_TIME_IN_MAY = ["局安全监督股", "局基本建设股", "局计划统计股", "行政审批股", "交通质量和安全监督站", "区公路建设养护中心"]
MATERIALS = [
    *[(unit, 4, kind, f"2023-04-{6 + i:02d}T{9 + j:02d}:30") for i, (unit, *_r) in enumerate(SCENARIO[:9])
      for j, kind in enumerate(("electronic", "stamped"))],
    *[(unit, 5, kind, f"2023-05-{8 + i:02d}T{10 + j:02d}:15") for i, unit in enumerate(_ON_TIME_IN_MAY)
      for j, kind in enumerate(("electronic", "stamped"))],
    ("区道路运输服务中心", 5, "electronic", "2023-05-14T11:20"),
    ("交通运输综合行政执法大队", 5, "electronic", "2023-05-15T09:40"),
    ("交通运输综合行政执法大队", 5, "stamped", "2023-05-18T08:50"),
]
PEOPLE = ["李明", "王芳", "张伟", "刘洋", "陈静", "杨帆", "赵磊", "黄敏", "周建国"]


class DemoFolderNotEmpty(Exception):
    "The demo folder exists and holds files"


def demo_values(unit: str, month: int) -> dict[str, dict[str, int]]:
    """A unit's plausible cumulative figures for 1月至`month`月: the same unit always gets the same ones."""
    rng = random.Random(int(hashlib.sha256(unit.encode()).hexdigest()[:8], 16))
    values: dict[str, dict[str, int]] = {}
    for sector in form.SECTORS:
        active = rng.random() < 0.6
        per_month = {m.key: (rng.randint(0, 3) if active else 0) for m in form.COUNT_METRICS}
        row = {k: v * month for k, v in per_month.items()}
        row["inspectors"] = max(row["inspectors"], row["inspection_teams"] * 3)
        row["major_hazards"] = row["major_hazards"] // 2
        for fixed, found in form.FIXED_FOUND_PAIRS:
            row[fixed] = min(row[fixed], row[found])
        values[sector.key] = row
    return values


def _fullwidth(values: dict[str, dict[str, int]]) -> dict[str, dict[str, str]]:
    table = str.maketrans("0123456789", "０１２３４５６７８９")
    return {s: {k: str(v).translate(table) for k, v in row.items()} for s, row in values.items()}


def retyped_file(unit: str, month: int) -> str:
    """The shipped file of a unit that retyped the table (scripts/make_demo_files.py made them)."""
    return f"demo_retyped_{unit}_2023年{month}月.xlsx"


def _write(cfg: config_mod.Config, unit: str, month: int, style: str, n: int) -> Path:
    """The unit's Annex 2 for `month`: the template filled in by the template writer, or a file a unit made
    itself (a retyped table, an .xls) as the package ships it."""
    folder = cfg.inbox / next(u.folder for u in cfg.units if u.name == unit)
    if style in ("xls", "retyped"):
        shipped = DEMO_XLS if style == "xls" else retyped_file(unit, month)
        target = folder / f"附件2_{unit}_2023年{month}月{Path(shipped).suffix}"
        with resources.files("pipeline.demo").joinpath(f"samples/{shipped}").open("rb") as src, \
                open(target, "wb") as dst:
            shutil.copyfileobj(src, dst)
        return target
    values: dict = demo_values(unit, month)
    suffix = ""
    if style == "fullwidth":
        values = _fullwidth(values)
    if style == "mistake":
        values["traffic"]["major_fixed"] = values["traffic"]["major_hazards"] + 2  # more fixed than found
        suffix = "（初稿）"
    person, filler, phone = demo_people(n)
    header = Header(unit=unit, year=2023, month_to=month, head=person, filler=filler, phone=phone)
    return write_template(folder / f"附件2_{unit}_2023年{month}月{suffix}.xlsx", cfg.bureau.short_name, header,
                          values)


def demo_people(n: int) -> tuple[str, str, str]:
    """The head, the filler and the phone on the `n`th file of the story."""
    return PEOPLE[n % len(PEOPLE)], PEOPLE[(n + 3) % len(PEOPLE)], f"0730-84{10000 + n * 137:05d}"


def _demo_task_list(cfg: config_mod.Config) -> None:
    """The seed's list as `annex2 init` wrote it, with T02's 完成时限 set to 3月至5月 (the clerk edits the list)."""
    # openpyxl outside reading/: the demo plays the clerk, editing our own task list (no unit's bytes)
    import openpyxl

    wb = openpyxl.load_workbook(cfg.task_list_path)
    ws = wb.active
    for row in ws.iter_rows():
        if row[0].value == PHASE_TASK:
            row[5].value = PHASE_WINDOW
    wb.save(cfg.task_list_path)


def _write_task_form(cfg: config_mod.Config, task_list, unit: str, month: int, rows: dict, n: int) -> Path:
    """The unit's progress form from `annex2 template --tasks`, filled in as a clerk would (openpyxl)."""
    # openpyxl outside reading/: the demo plays a unit, filling in the form our own template wrote
    import openpyxl

    from ..tasks.form import default_filename, write_task_form
    from ..tasks.state import task_deadline

    m = Month(2023, month)
    folder = cfg.inbox / next(u.folder for u in cfg.units if u.name == unit)
    path = write_task_form(folder / default_filename(unit, m), cfg, task_list, unit, m, task_deadline(cfg, m).last_day)
    wb = openpyxl.load_workbook(path)
    ws = wb.active
    for r in range(4, ws.max_row + 1):
        task = task_list.by_id.get(str(ws.cell(r, 1).value or ""))
        if task is None:
            continue
        status, progress = rows.get(task.id, ("推进中", f"{month}月按计划推进“{task.name}”，已开展检查{(n + r) % 4 + 1}次"))
        ws.cell(r, 5).value = progress or None
        ws.cell(r, 6).value = status
    wb.save(path)
    return path


@dataclass
class Demo:
    root: Path
    ingested: BatchResult
    merged: MergeResult

    def summary(self) -> str:
        m = self.merged
        rel = lambda p: p.relative_to(self.root.parent) if p.is_relative_to(self.root.parent) else p
        receipts = sorted(self.root.glob(f"inbox/*/{RECEIPTS_DIR}"))
        return "\n".join([
            f"演示工作目录：{self.root}",
            f"模拟了 {len(SCENARIO)} 份报表（4月、5月；模板、重新录入的表格、.xls、全角数字）"
            f"和 {len(TASK_FORMS)} 份重点任务推进情况表，"
            f"受理 {self.ingested.count('accepted')}、退回 {self.ingested.count('rejected')}，"
            f"并按 2023-05-31 汇总了 5 月；另有 {len(MATERIALS)} 份月度工作材料（盖章版、电子版，每月16日前报送）。",
            f"5月统计表：{m.status.summary}",
            f"5月工作材料：{materials_line(m)}",
            f"5月重点任务：{self.tasks_line()}（附件1的完成时限最早6月到期，演示把 {PHASE_TASK} 的完成时限改成了"
            f"“{PHASE_WINDOW}”，以演示“阶段性完成”；见领导汇总表的“重点任务”表）",
            "",
            "先打开：",
            f"  1. 领导汇总表  {rel(m.leadership.path)}（第一页是全区合计，第二页是月度趋势，其后是谁按时报送）",
            f"  2. 通报        {rel(m.notices_dir / '通报_2023年5月报送情况.docx')}",
            f"  3. 退回的回执  {rel(receipts[0].parent.parent / '交通质量和安全监督站' / RECEIPTS_DIR)}（红色标注的副本）",
            f"  4. 材料汇编    {rel(m.materials.pdf) if m.materials and m.materials.pdf else '（无）'}（封面列出谁报了什么、谁还缺）",
            f"其他：台账总表 {rel(m.master.path)}；通知文书 {rel(m.notices_dir)}；原件存档 {rel(self.root / 'archive')}",
            "",
            f"试试：cd {rel(self.root)} && annex2 status --month 2023-05 --as-of 2023-05-31",
        ])

    def tasks_line(self) -> str:
        from ..tasks.obligation import TasksObligation

        ob = next((o for o in self.merged.status.obligations if isinstance(o, TasksObligation)), None)
        if ob is None:
            return "任务清单有误，未纳入"
        named = [f"{u}{ob.cell_text(u)}" for u in ob.board.units if ob.cell_text(u) not in ("正常", "—", "未到期")]
        phase = [u for u in ob.board.units if ob.board.in_state(u, "phase_done")]
        if phase:
            named.append("阶段性完成：" + "、".join(phase))
        return "；".join(named) or "各单位均正常推进"


def materials_line(m: MergeResult) -> str:
    from collections import Counter

    from ..materials.obligation import MaterialsObligation
    from ..statistics.timeliness import STATE_LABELS

    states = [s for ob in m.status.obligations if isinstance(ob, MaterialsObligation) for s in ob.states]
    counts = Counter(s.state for s in states)
    return "，".join(f"{STATE_LABELS[state]} {n}" for state, n in sorted(counts.items())) or "—"


def _arrived_at(moment: datetime):
    """A stat() that says every file reached the inbox at `moment` (see _Arrived)."""
    def stat(path: Path) -> os.stat_result:
        return _Arrived(os.stat(path), moment)  # type: ignore[return-value]
    return stat


class _Arrived:
    """A file's stat() as the story has it: it reached the inbox at its scripted moment (the inode change time
    ingest reads as the arrival), everything else as on disk. The archive, receipts and ledger then carry
    the story's dates, not the day the demo was run."""

    def __init__(self, real: os.stat_result, moment: datetime):
        self._real = real
        self.st_ctime_ns = self.st_birthtime_ns = int(round(moment.timestamp() * 1e9))

    def __getattr__(self, name: str):
        return getattr(self._real, name)


def _saved_at(path: Path, moment: datetime) -> None:
    """Stamp a sample workbook as saved by its unit at `moment`: its document properties and its mtime."""
    if path.suffix == ".xlsx":
        docprops.stamp(path, moment)
    os.utime(path, (moment.timestamp(), moment.timestamp()))


def run_demo(root: Path) -> Demo:
    root = Path(root)
    if root.exists() and any(root.iterdir()):
        raise DemoFolderNotEmpty(f"{root} 已存在且不是空目录；请换一个目录名，或先删除它")
    # the story starts in April 2023; the clerk has reserved 岳云交安〔2023〕12号 in the register for May's 通报
    text = config_mod.default_config_text().replace('start = "2023-01"', 'start = "2023-04"', 1)
    text = text.replace("# next_number = 12 ", "next_number = 12   ", 1)
    init(root, config_text=text)
    cfg = config_mod.load(root / config_mod.CONFIG_NAME)
    tz = cfg.bureau.tz
    as_of = parse_moment(AS_OF, tz)
    _demo_task_list(cfg)
    from ..tasks.task_list import read_task_list

    task_list = read_task_list(cfg)
    scripted = []
    for n, (unit, month, received, rows) in enumerate(TASK_FORMS):
        moment = parse_moment(received, tz)
        path = _write_task_form(cfg, task_list, unit, month, rows, n)
        _saved_at(path, moment - timedelta(minutes=5))
        owner = next(u for u in cfg.units if u.name == unit)
        scripted.append((moment, Candidate(path, "inbox", owner, moment, RULE, settled=True)))
    for n, (unit, month, received, style) in enumerate(SCENARIO):
        moment = parse_moment(received, tz)
        path = _write(cfg, unit, month, style, n)
        _saved_at(path, moment - timedelta(minutes=7))  # the unit saved it a few minutes before sending
        owner = next(u for u in cfg.units if u.name == unit)
        scripted.append((moment, Candidate(path, "inbox", owner, moment, RULE, settled=True)))
    for unit, month, kind, received in MATERIALS:
        moment = parse_moment(received, tz)
        owner = next(u for u in cfg.units if u.name == unit)
        path = write_sample_material(cfg.inbox / owner.folder, unit, Month(2023, month), kind)
        _saved_at(path, moment - timedelta(minutes=7))
        scripted.append((moment, Candidate(path, "inbox", owner, moment, RULE, settled=True)))
    ingested = BatchResult()
    # a folder just made, that nothing else works in: no lock file beside its ledger, no program log in its outbox
    with session(cfg, "demo", lock=False, program_log=False) as ledger:
        # one file at a time, each at its own moment: validated, recorded and archived as of then
        for moment, cand in sorted(scripted, key=lambda t: t[0]):
            clock = functools.partial(lambda m: m, moment)  # the story's moment is "now" for this file
            ingested.files += Ingester(cfg, ledger, clock, stat=_arrived_at(moment)).run([cand]).files
        merged = merge(cfg, ledger, Month(2023, 5), as_of, as_of)
    return Demo(root.resolve(), ingested, merged)
