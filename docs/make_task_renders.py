"""Renders what people see of the Annex 1 key tasks into docs/: a unit's progress form and the leadership
workbook's 重点任务 sheet, from a made-up June–August 2023 in a temporary working folder. Run from the
repository root (needs LibreOffice and pdftoppm):

    python docs/make_task_renders.py
"""
from __future__ import annotations

import hashlib
import subprocess
import sys
import tempfile
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import openpyxl
import xlsxwriter

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from office import convert  # noqa: E402

from pipeline.core import config  # noqa: E402
from pipeline.core.months import Month  # noqa: E402
from pipeline.intake.workspace import init  # noqa: E402
from pipeline.reading.reader import read_workbook  # noqa: E402
from pipeline.storage.ledger import Ledger  # noqa: E402
from pipeline.tasks.form import check_task_form, record_task_form, task_form_arrival, write_task_form  # noqa: E402
from pipeline.tasks.sheet import write_tasks_sheet  # noqa: E402
from pipeline.tasks.state import close_task, task_deadline, tasks_status  # noqa: E402
from pipeline.tasks.task_list import read_task_list  # noqa: E402

SH = ZoneInfo("Asia/Shanghai")


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=SH)


def report(cfg, tl, folder: Path, unit: str, month: str, received: str, status: dict[str, tuple[str, str]],
           default=("推进中", "按计划推进")) -> None:
    m = Month.parse(month)
    path = folder / f"{unit}_{month}_{received[:10]}.xlsx"
    write_task_form(path, cfg, tl, unit, m)
    wb = openpyxl.load_workbook(path)
    ws = wb.active
    for r in range(4, 4 + len(tl.active(unit, m))):
        ws.cell(r, 6).value, ws.cell(r, 5).value = status.get(ws.cell(r, 1).value, default)
    wb.save(path)
    data = path.read_bytes()
    j = check_task_form(read_workbook(data, cfg.limits), cfg, unit, at(received), tl)
    assert j.ok, j.issues
    with Ledger(cfg.ledger) as ledger, ledger.transaction() as db:
        aid = ledger.record(db, now=at(received), original_name=path.name, source="inbox", source_path=path.name,
                            sha256=hashlib.sha256(data).hexdigest(), size=len(data), received_at=at(received),
                            received_rule="inbox_ctime", folder_unit=unit, archived_path=path.name, issues=j.issues,
                            event=j.outcome, **task_form_arrival(j))
        record_task_form(db, aid, j)


def png(src: Path, name: str, tmp: Path) -> None:
    pdf = convert(src, "pdf", tmp / "pdf")
    subprocess.run(["pdftoppm", "-png", "-r", "80", "-f", "1", "-l", "1", str(pdf), str(ROOT / "docs" / name)],
                   check=True)


def main() -> None:
    with tempfile.TemporaryDirectory() as t:
        tmp = Path(t)
        init(tmp / "work")
        cfg = config.load(tmp / "work" / "config.toml")
        tl = read_task_list(cfg)
        form = write_task_form(tmp / "重点任务推进情况表_区道路运输服务中心_2023年6月.xlsx", cfg, tl, "区道路运输服务中心",
                               Month(2023, 6), task_deadline(cfg, Month(2023, 6)).last_day)
        png(form, "task-form-page1", tmp)
        forms = tmp / "forms"
        forms.mkdir()
        # Three units report every month; 运输中心 skips July and says 未启动 for T14 in August; 执法大队 reports late;
        # 局安全监督股 reports T02 阶段性完成 in June; the other units send nothing (未报送).
        for month, day in (("2023-06", "12"), ("2023-07", "14"), ("2023-08", "15")):
            done = {"T11": ("已完成", "专用线督查完成")}
            if month == "2023-06":  # T02's window (3月至6月) ends in June: 阶段性完成 meets it
                done["T02"] = ("阶段性完成", "客运站安全出口、疏散通道排查整改完毕，转入日常检查")
            report(cfg, tl, forms, "局安全监督股", month, f"{month}-{day}T10:00", done)
            report(cfg, tl, forms, "现代物流中心", month, f"{month}-{day}T11:00", {})
            report(cfg, tl, forms, "交通质量和安全监督站", month, f"{month}-{day}T09:00", {})
            if month != "2023-07":
                report(cfg, tl, forms, "区道路运输服务中心", month, f"{month}-{day}T15:00",
                       {"T14": ("未启动", "")} if month == "2023-08" else {"T01": ("推进中", "排查隐患23处，整改17处")})
            report(cfg, tl, forms, "交通运输综合行政执法大队", month, f"{month}-20T09:00", {})
        with Ledger(cfg.ledger) as ledger:
            close_task(ledger, tl, "T11", "局安全监督股", "核实完成", at("2023-08-18T10:00"))
            board = tasks_status(cfg, ledger, tl, Month(2023, 8), at("2023-08-20T18:00"))
        book = tmp / "重点任务_2023年8月.xlsx"
        wb = xlsxwriter.Workbook(str(book))
        write_tasks_sheet(wb, board)
        wb.close()
        png(book, "tasks-sheet-page1", tmp)


if __name__ == "__main__":
    main()
