"""Supersession per unit, month and kind (spec 4): an Annex 2, a stamped material, an electronic material and a
progress form never replace each other nor lend each other their time; the newest file of a kind is current,
also when its bytes equal an earlier superseded version; voiding a progress form or a material takes it out
of every state. Real files through the intake, a real ledger, the CLI's own output."""
import json

import openpyxl
import pytest
from click.testing import CliRunner
from factory import docx, image_pdf
from helpers import drop, events, ingest

from pipeline.cli.commands import cli
from pipeline.core import config
from pipeline.core.months import Month
from pipeline.storage.ledger import Ledger
from pipeline.tasks.form import default_filename, write_task_form
from pipeline.tasks.state import task_deadline
from pipeline.tasks.task_list import read_task_list, write_task_list

EXEC = "交通运输综合行政执法大队"
STAMPED = "执法大队5月工作情况（盖章）.pdf"
WORD = "执法大队5月工作情况.docx"


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], prog_name="annex2")


def put(work, name, data, arrived):
    path = work / "inbox" / EXEC / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return ingest(work, now=arrived, arrived=arrived)


def task_form(work, status="推进中", progress="开展执法检查12次"):
    """执法大队's May progress form (one task, 5月至8月), filled in as a unit would."""
    cfg = config.load(work / "config.toml")
    path = work / "inbox" / EXEC / default_filename(EXEC, Month(2023, 5))
    path.parent.mkdir(parents=True, exist_ok=True)
    write_task_form(path, cfg, read_task_list(cfg), EXEC, Month(2023, 5), task_deadline(cfg, Month(2023, 5)).last_day)
    wb = openpyxl.load_workbook(path)
    ws = wb.active
    assert ws.cell(4, 1).value == "T01"
    ws.cell(4, 6).value, ws.cell(4, 5).value = status, progress
    wb.save(path)
    return path


@pytest.fixture
def four_kinds(workdir):
    """May for 执法大队: its progress form on 05-14, the electronic material on 05-15, the stamped one on
    05-16 (all three due on the 16th: on time), then its Annex 2 on 05-25 (due the 23rd: 2 days late)."""
    write_task_list(workdir / "templates" / "annex1_tasks.xlsx", [
        {"id": "T01", "project": "全面提升安全监管效能", "name": "严格监管执法", "window": "5月至8月",
         "units": "交通运输综合行政执法大队落实", "measure": "开展道路运输执法检查。"}])
    task_form(workdir)
    (form,) = ingest(workdir, now="2023-05-14T10:00", arrived="2023-05-14T10:00").files
    assert form.outcome == "accepted"
    assert [r.outcome for r in put(workdir, WORD, docx("执法大队", "2023年5月份工作情况"), "2023-05-15T10:00").files] \
        == ["material"]
    assert [r.outcome for r in put(workdir, STAMPED, image_pdf(), "2023-05-16T10:00").files] == ["material"]
    drop(workdir, EXEC, "附件2.xlsx")
    (annex2,) = ingest(workdir, now="2023-05-25T10:00", arrived="2023-05-25T10:00").files
    assert annex2.outcome == "accepted"
    return workdir


def receipt_lines(work, arrival_id):
    cfg = config.load(work / "config.toml")
    with Ledger(cfg.ledger) as ledger:
        path = work / ledger.arrival(arrival_id).receipt_path
    return path.read_text(encoding="utf-8-sig").splitlines()


def history(month="2023-05"):
    result = run("history", "--unit", "执法大队", "--month", month, "--json")
    assert result.exit_code == 0, result.output
    return [(a["id"], a["file_kind"], a["status"]) for a in json.loads(result.output)["arrivals"]]


def exec_status(as_of="2023-05-31T18:00"):
    result = run("status", "--month", "2023-05", "--as-of", as_of, "--json")
    assert result.exit_code == 0, result.output
    (unit,) = [u for u in json.loads(result.stdout)["units"] if u["unit"] == EXEC]
    return unit


def test_an_annex2_after_a_task_form_and_materials_is_late_and_replaces_nothing(four_kinds):
    lines = receipt_lines(four_kinds, 4)
    assert "报送情况：迟报 2 天（截止日期 2023年5月23日，首次受理于 2023-05-25 10:00:00）" in lines
    assert not any(line.startswith("本表为更正报送") for line in lines)
    unit = exec_status()
    assert (unit["state"], unit["days_late"], unit["received_at"]) == ("late", 2, "2023-05-25T10:00:00+08:00")
    assert unit["materials"]["state"] == "on_time"
    assert history() == [(1, "task_form", "current"), (2, "electronic", "current"), (3, "stamped", "current"),
                         (4, "annex2", "current")]
    text = run("history", "--unit", "执法大队", "--month", "2023-05").output
    assert "已被更正替换" not in text and text.count("有效（当前计入汇总）") == 4
    kinds = [line.split()[5] for line in text.splitlines()[3:]]  # the 类别 column, oldest first
    assert kinds == ["重点任务推进情况表", "工作材料电子版", "工作材料盖章版", "附件2统计表"]


def test_the_master_workbook_file_record_agrees(four_kinds):
    result = run("merge", "--month", "2023-05", "--as-of", "2023-05-31T18:00")
    assert result.exit_code == 0, result.output
    audit = openpyxl.load_workbook(four_kinds / "outbox" / "master.xlsx")["文件记录"]
    rows = {audit.cell(r, 1).value: audit.cell(r, 7).value for r in range(3, audit.max_row + 1)}
    assert rows == {1: "受理", 2: "受理", 3: "受理", 4: "受理"}


def test_a_material_receipt_names_only_the_file_of_its_own_kind_it_replaces(four_kinds):
    put(four_kinds, "执法大队5月工作情况（更正）.docx", docx("执法大队", "2023年5月份工作情况（更正）"), "2023-05-26T09:00")
    lines = receipt_lines(four_kinds, 5)
    assert f"本文件替换此前收到的电子版（{WORD}），原文件仍存档；是否按时以首次收齐的时间为准。" in lines
    assert history()[1:] == [(2, "electronic", "superseded"), (3, "stamped", "current"), (4, "annex2", "current"),
                             (5, "electronic", "current")]
    assert exec_status()["materials"]["state"] == "on_time"  # timeliness stays with the first complete set


def test_version_one_sent_again_after_version_two_is_current(workdir):
    v1 = drop(workdir, EXEC, "附件2-v1.xlsx").read_bytes()
    ingest(workdir, arrived="2023-05-20T10:00")
    drop(workdir, EXEC, "附件2-v2.xlsx", cells={("traffic", "inspectors"): 30})
    ingest(workdir, arrived="2023-05-21T10:00")
    (workdir / "inbox" / EXEC / "附件2-v1-重发.xlsx").write_bytes(v1)
    (again,) = ingest(workdir, arrived="2023-05-22T10:00").files
    assert again.outcome == "accepted"
    assert history() == [(1, "annex2", "superseded"), (2, "annex2", "superseded"), (3, "annex2", "current")]
    lines = receipt_lines(workdir, 3)
    assert ("本表为更正报送：替换 2023-05-21 10:00:00 受理的“附件2-v2.xlsx”（编号 2），原表数据不再计入汇总；"
            "是否按时仍以首次受理时间 2023-05-20 10:00:00 为准。") in lines
    assert "报送情况：按时（截止日期 2023年5月23日）" in lines
    out = workdir / "x.json"
    result = run("export", "--month", "2023-05", "--as-of", "2023-05-31", "--csv", out, "--labels", "keys")
    assert result.exit_code == 0, result.output
    rows = out.read_text(encoding="utf-8-sig").splitlines()
    header = rows[0].split(",")
    traffic = next(r.split(",") for r in rows[1:] if ",traffic," in r)
    assert traffic[header.index("inspectors")] == "20"  # version 1's figure (the factory's default), not 30
    # only the bytes of the current file are a duplicate
    (workdir / "inbox" / EXEC / "附件2-v1-再发.xlsx").write_bytes(v1)
    (dup,) = ingest(workdir, arrived="2023-05-22T11:00").files
    assert dup.outcome == "duplicate"


def test_void_of_a_task_form_takes_it_out_of_every_state(four_kinds):
    assert exec_status()["tasks"]["on_track"] == ["T01"]
    result = run("void", "1", "--reason", "误收：这是上月的表")
    assert result.exit_code == 0, result.output
    assert "已撤销：重点任务推进情况表 编号 1" in result.output
    assert "交通运输综合行政执法大队 2023年5月 现在没有有效重点任务推进情况表。" in result.output
    assert exec_status()["tasks"]["unreported"] == ["T01"]  # no form by the deadline any more (spec 11: 未报送)
    assert history()[0] == (1, None, "voided")
    cfg = config.load(four_kinds / "config.toml")
    with Ledger(cfg.ledger) as ledger:
        receipt = four_kinds / json.loads(events(ledger)[-1]["detail"])["receipt"]
    text = receipt.read_text(encoding="utf-8-sig")
    assert "撤销通知：已受理的重点任务推进情况表被撤销（编号 1）" in text
    assert "本单位2023年5月目前没有有效重点任务推进情况表，请尽快重新报送。" in text
    assert "_1_撤销_" in receipt.name


def test_void_of_a_material_takes_it_out_of_the_set(four_kinds):
    result = run("void", "3", "--reason", "盖章版盖错了章", "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert (out["kind"], out["current_id"], out["days_late"]) == ("stamped", None, None)
    materials = exec_status()["materials"]
    assert (materials["state"], materials["missing"]) == ("overdue", ["stamped"])
    assert history()[2] == (3, None, "voided")
    assert exec_status()["state"] == "late"  # the Annex 2 is untouched


def test_two_files_of_one_stem_in_the_same_second_keep_a_receipt_each(workdir):
    drop(workdir, EXEC, "附件2.xlsx", cells={("traffic", "major_fixed"): 5})  # rejected: 已整改 > 隐患
    (workdir / "inbox" / EXEC / "附件2.pdf").write_bytes(image_pdf())  # the stamped material, same stem
    result = ingest(workdir, now="2023-05-20T10:00", arrived="2023-05-20T10:00")
    assert sorted(r.outcome for r in result.files) == ["material", "rejected"]
    receipts = sorted(p.name for p in (workdir / "inbox" / EXEC / "回执").iterdir())
    # oldest first, then by path: the .pdf is arrival 1
    assert receipts == ["回执_20230520-100000_1_附件2.txt", "回执_20230520-100000_2_附件2.txt",
                        "回执_20230520-100000_2_附件2_错误标注.xlsx"]
    texts = [(workdir / "inbox" / EXEC / "回执" / n).read_text(encoding="utf-8-sig") for n in receipts if n.endswith(".txt")]
    assert "月度工作情况材料" in texts[0] and "E_FIXED_GT_FOUND" in texts[1]


def test_validate_reads_a_ledger_of_the_previous_version_without_migrating_it(workdir):
    import sqlite3

    drop(workdir, EXEC, "附件2.xlsx")
    ingest(workdir, arrived="2023-05-20T10:00")
    db = sqlite3.connect(workdir / "annex2.sqlite", isolation_level=None)
    db.execute("DROP VIEW counted")
    db.execute("DROP TABLE mail_replies")  # (migration 9, the mailbox's tables, came later still)
    db.execute("DROP TABLE mail_messages")
    db.execute("DELETE FROM schema_migrations WHERE version >= 8")  # as annex2 before this change left it
    db.close()
    again = workdir / "again.xlsx"
    again.write_bytes(next((workdir / "archive").glob("**/*.xlsx")).read_bytes())
    result = run("validate", "--json", again)
    assert result.exit_code == 0, result.output
    db = sqlite3.connect(workdir / "annex2.sqlite")
    assert db.execute("SELECT MAX(version) FROM schema_migrations").fetchone() == (7,)
    db.close()


def test_migration_versions_are_unique_and_in_order():
    from pipeline.storage.ledger import MIGRATIONS

    versions = [v for v, _script in MIGRATIONS]
    assert versions == list(range(1, len(versions) + 1))
