"""Upgrading a working folder made by the version that transcribed Annex 1's table (issue 23): the folder keeps
its clerk-edited list; `annex2 tasks list` names the rows whose units differ from the plan's text; `annex2 tasks
init --replace` brings the new list in, keeping ids, the clerk's windows and the clerk's own rows."""
import json
import shutil
import tomllib
from pathlib import Path

import openpyxl
from click.testing import CliRunner

from pipeline.cli.commands import cli
from pipeline.core import config
from pipeline.tasks.migrate import add_to_config, plan_replacement
from pipeline.tasks.task_list import read_task_list

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "upgrade_v1"  # the first version's list and config.toml
SAFETY, TRANSPORT, QUALITY, ENFORCE = "局安全监督股", "区道路运输服务中心", "交通质量和安全监督站", "交通运输综合行政执法大队"
LOGISTICS, ROADS = "现代物流中心", "区公路建设养护中心"


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def old_folder(workdir):
    """A folder as the first version left it — its config.toml and its six-column list — after the clerk set T18's
    window to 4月底 and added a task of its own as T24."""
    shutil.copy(FIXTURES / "config.toml", workdir / "config.toml")
    rows = tomllib.loads((FIXTURES / "annex1_tasks.toml").read_text(encoding="utf-8"))["tasks"]
    rows = [{**r, "window": "4月底"} if r["id"] == "T18" else r for r in rows]
    rows.append({"id": "T24", "project": "深化专项整治", "name": "冬季安全专项整治", "units": "局安全监督股落实",
                 "measure": "开展冬季道路运输安全检查。", "window": "第四季度"})
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "责任措施清单"
    ws.append(["云溪区交通运输系统“打好安全生产翻身仗”交通运输行业责任措施清单"])
    keys = ["id", "project", "name", "units", "measure", "window"]
    ws.append(["编号", "项目名称", "任务名称", "责任单位", "具体措施", "完成时限"])
    for r in rows:
        ws.append([r[k] or None for k in keys])
    path = workdir / "templates" / "annex1_tasks.xlsx"
    wb.save(path)
    return path


def test_an_upgraded_folder_keeps_its_list_and_tasks_list_names_what_differs_from_the_text(workdir):
    path = old_folder(workdir)
    before = path.read_bytes()
    result = run("tasks", "list")
    assert result.exit_code == 0, result.output  # the old list still works as it is
    tl = read_task_list(config.load(workdir / "config.toml"))
    assert (tl.by_id["T18"].window.text, tl.by_id["T24"].name) == ("4月底", "冬季安全专项整治")
    assert path.read_bytes() == before  # nothing was changed
    notes = result.stderr.splitlines()
    assert notes[0].startswith("注意：清单与方案正文“二、重点任务及责任分工”有 12 处不同")
    # worked out from the seed: the table's rows that lost or gained units, and the three measures it leaves out
    assert ("  T14“学生安全专项整治”：清单为 牵头：无；落实：局安全监督股、交通质量和安全监督站、区道路运输服务中心；"
            "方案正文为 牵头：局安全监督股；落实：交通运输综合行政执法大队、区道路运输服务中心") in notes
    assert ("  T07“建设领域专项整治”：清单为 牵头：无；落实：局基本建设股；方案正文为 牵头：局基本建设股；"
            "落实：交通质量和安全监督站") in notes
    # the nine rows of the table with wrong or incomplete units, and the three measures it leaves out (T24 is taken
    # by the clerk's own row: the plan's （一） is missing from this list)
    ids = [n.split("“")[0].strip() for n in notes[1:-1]]
    assert ids == ["T24", "T02", "T07", "T11", "T14", "T15", "T17", "T25", "T20", "T21", "T23", "T26"]
    assert "清单中没有这一措施" in next(n for n in notes if n.startswith("  T24"))  # the clerk's T24 is another
    assert notes[-1].startswith("核对后可运行 annex2 tasks init --replace")
    data = json.loads(run("tasks", "list", "--json").stdout)
    assert [d["id"] for d in data["differences"]] == ids


def test_tasks_init_replace_brings_the_new_list_in_keeping_ids_windows_and_the_clerks_rows(workdir):
    path = old_folder(workdir)
    before = path.read_bytes()
    result = run("tasks", "init", "--replace")
    assert result.exit_code == 0, result.output
    backups = sorted(path.parent.glob("annex1_tasks_替换前_*.xlsx"))
    assert len(backups) == 1 and backups[0].read_bytes() == before  # nothing is lost
    assert "T18：保留清单中的完成时限“4月底”（方案附件1为“12月底”）" in result.stderr
    assert "T24“深入学习贯彻党的二十大精神和习近平总书记关于安全生产重要论述”编为 T27" in result.stderr
    cfg = config.load(workdir / "config.toml")  # 局属各单位 and 局机关党支部 were added to it
    assert cfg.tasks.units_for("局属各单位") == (QUALITY, TRANSPORT, ENFORCE, LOGISTICS, ROADS)
    assert cfg.tasks.untracked == ("局机关党支部",)
    assert len(list(path.parent.glob("config_替换前_*.toml"))) == 1
    tl = read_task_list(cfg)
    assert [t.id for t in tl.tasks] == ["T27", *[f"T{n:02d}" for n in range(1, 20)], "T25", "T20", "T21", "T22",
                                        "T23", "T26", "T24"]
    t14 = tl.by_id["T14"]  # the same measure, the same id: the plan's text's units
    assert (t14.name, t14.lead, t14.units) == ("学生安全专项整治", (SAFETY,), (ENFORCE, TRANSPORT))
    assert (tl.by_id["T18"].window.text, tl.by_id["T24"].name, tl.by_id["T24"].units) == (
        "4月底", "冬季安全专项整治", (SAFETY,))
    assert (tl.by_id["T27"].lead, tl.by_id["T27"].untracked) == ((SAFETY,), ("局机关党支部",))
    again = run("tasks", "list")
    assert again.exit_code == 0 and "注意" not in again.stderr  # now it follows the text


def test_replace_in_a_folder_already_on_the_new_list_changes_nothing_but_keeps_a_backup(workdir):
    path = workdir / "templates" / "annex1_tasks.xlsx"
    rows_before = [[c.value for c in r] for r in openpyxl.load_workbook(path).active.iter_rows()]
    config_before = (workdir / "config.toml").read_text(encoding="utf-8")
    result = run("tasks", "init", "--replace")
    assert result.exit_code == 0, result.output
    assert [[c.value for c in r] for r in openpyxl.load_workbook(path).active.iter_rows()] == rows_before
    assert (workdir / "config.toml").read_text(encoding="utf-8") == config_before
    assert "保留" not in result.stderr


def test_init_without_replace_refuses_an_existing_list_and_says_how(workdir):
    result = run("tasks", "init")
    assert result.exit_code == 1 and "--replace" in result.output


def test_plan_replacement_keeps_what_the_clerk_decided():
    old = [{"id": "T01", "measure": "全年完成至少一轮次的隐患清零工作。", "window": "5月至9月", "name": "开展隐患清零行动"},
           {"id": "T02", "measure": "组织对汽车客运站全面排查。", "window": "3月至6月", "name": "严格监管执法"},
           {"id": "T03", "measure": "冬季道路运输安全检查。", "window": "第四季度", "name": "冬季检查"}]
    new = [{"id": "T01", "measure": "按照细则，全年完成至少一轮次的隐患清零工作。", "window": "5月至8月", "name": "持续开展隐患清零行动"},
           {"id": "T02", "measure": "组织对汽车客运站全面排查。", "window": "3月至6月", "name": "持续开展隐患清零行动"},
           {"id": "T03", "measure": "综合运用各种检查措施，依法严肃问责。", "window": "", "name": "严肃追责问责"}]
    plan = plan_replacement(old, new)
    assert [(r["id"], r["name"], r["window"]) for r in plan.rows] == [
        ("T01", "持续开展隐患清零行动", "5月至9月"), ("T02", "持续开展隐患清零行动", "3月至6月"),
        ("T04", "严肃追责问责", ""), ("T03", "冬季检查", "第四季度")]
    assert plan.kept_windows == ["T01：保留清单中的完成时限“5月至9月”（方案附件1为“5月至8月”）"]
    assert plan.renumbered == ["T03“严肃追责问责”编为 T04（T03 是清单中你单位自己加的一行）"]


def test_config_lines_go_under_their_tables():
    text = '[tasks]\nday = 16\n\n[tasks.names]\n"甲" = "局安全监督股"\n\n[[units]]\nname = "局安全监督股"\n'
    out = add_to_config(text, [("局属各单位", ("质监站", "运输中心"))], ["局机关党支部"], ())
    assert tomllib.loads(out)["tasks"] == {"untracked": ["局机关党支部"], "day": 16,
                                           "names": {"局属各单位": ["质监站", "运输中心"], "甲": "局安全监督股"}}
    assert tomllib.loads(add_to_config("[bureau]\n", [("乙", ("丙",))], [], ()))["tasks"] == {"names": {"乙": ["丙"]}}
