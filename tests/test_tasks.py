"""Annex 1 key tasks: the seed's list, the 完成时限 grammar, 责任单位, the progress form, states over months,
the monthly-loop texts and the leadership sheet."""
import hashlib
import json
import sqlite3
from datetime import date
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner

from pipeline import config
from pipeline.cli import cli
from pipeline.issues import CATALOGUE
from pipeline.ledger import Ledger
from pipeline.months import Month
from pipeline.reader import read_workbook
from pipeline.task_form import (check_task_form, is_task_form, record_task_form, task_form_arrival,
                                task_form_receipt_text, write_task_form)
from pipeline.task_state import (bulletin_paragraphs, close_task, load_task_data, reminder_lines, task_deadline,
                                 task_strike_months, tasks_status)
from pipeline.task_window import BadWindow, parse_window
from pipeline.tasks_list import (BadUnits, read_task_list, seed_rows, split_units, write_task_list)
from pipeline.tasks_sheet import write_tasks_sheet
from pipeline.template import Header, write_template

from helpers import at
from office import convert

REPO = Path(__file__).resolve().parent.parent
SAFETY, TRANSPORT, QUALITY, ENFORCE = "局安全监督股", "区道路运输服务中心", "交通质量和安全监督站", "交通运输综合行政执法大队"
LOGISTICS, ROADS, BUILD, PLAN, APPROVAL = "现代物流中心", "区公路建设养护中心", "局基本建设股", "局计划统计股", "行政审批股"


@pytest.fixture
def cfg(workdir):
    return config.load(workdir / "config.toml")


@pytest.fixture
def seed_list(cfg):
    return read_task_list(cfg)


# --- the seed's list -------------------------------------------------------------------------------------

def test_the_seed_table_has_one_row_per_measure_with_stable_ids():
    rows = seed_rows()
    assert [r["id"] for r in rows] == [f"T{n:02d}" for n in range(1, 24)]
    assert [r["id"] for r in rows if not r["window"]] == ["T06", "T22"]  # the seed's blank 完成时限
    assert rows[0]["measure"].startswith("全年完成至少一轮次的“隐患清零”工作，排查整改安全隐患")
    assert rows[15]["units"] == "交通运输综合行政执法大队配合区公路建设养护中心落实"


def test_init_writes_the_list_and_the_committed_copy_is_the_same(workdir):
    ours = openpyxl.load_workbook(workdir / "templates" / "annex1_tasks.xlsx").active
    committed = openpyxl.load_workbook(REPO / "templates" / "annex1_tasks.xlsx").active
    assert [c.value for c in ours[2]] == ["编号", "项目名称", "任务名称", "责任单位", "具体措施", "完成时限"]
    assert ours["A3"].value == "T01" and ours["F3"].value == "5月至8月" and ours["A25"].value == "T23"
    assert ours["F8"].value is None or ours["F8"].value == ""  # T06: blank in the seed
    assert [[c.value for c in r] for r in ours.iter_rows()] == [[c.value for c in r] for r in committed.iter_rows()]


# id -> (from, to, lead, implementing), worked out by hand from the seed's Annex 1 and the config's aliases
EXPECTED = {
    "T01": ("2023-05", "2023-08", [SAFETY], [TRANSPORT]),
    "T02": ("2023-03", "2023-06", [SAFETY], [QUALITY, TRANSPORT, ENFORCE]),
    "T03": ("2023-01", "2023-12", [SAFETY], [QUALITY, TRANSPORT, ENFORCE]),
    "T05": ("2023-01", "2023-12", [], [BUILD, QUALITY]),
    "T06": ("2023-01", "2023-12", [], [ENFORCE, TRANSPORT]),
    "T07": ("2023-01", "2023-12", [], [BUILD]),
    "T09": ("2023-06", "2023-12", [], [LOGISTICS]),
    "T11": ("2023-01", "2023-12", [], [SAFETY]),
    "T13": ("2023-01", "2023-12", [], [TRANSPORT]),
    "T14": ("2023-04", "2023-10", [], [SAFETY, QUALITY, TRANSPORT]),
    "T15": ("2023-05", "2023-08", [], [BUILD, SAFETY, QUALITY, TRANSPORT]),
    "T16": ("2023-06", "2023-12", [], [ENFORCE, ROADS]),
    "T17": ("2023-01", "2023-12", [], [PLAN, APPROVAL, BUILD, QUALITY]),
    "T22": ("2023-01", "2023-12", [SAFETY], [QUALITY, ENFORCE, TRANSPORT, LOGISTICS]),
    "T23": ("2023-01", "2023-12", [SAFETY], [ENFORCE, TRANSPORT, LOGISTICS]),
}


def test_every_row_of_the_seed_is_parsed_and_checked_rows_match_by_hand(seed_list):
    assert len(seed_list.tasks) == 23 and seed_list.year == 2023
    got = {t.id: (str(t.window.first), str(t.window.last), list(t.lead), list(t.units)) for t in seed_list.tasks}
    assert {k: got[k] for k in EXPECTED} == EXPECTED
    kinds = {t.id: t.window.kind for t in seed_list.tasks}
    assert (kinds["T06"], kinds["T22"], kinds["T13"], kinds["T03"], kinds["T01"]) == ("ongoing", "ongoing", "year", "due", "range")


def test_task_names_may_point_at_an_alias_and_an_unknown_target_is_named_by_tasks_list(workdir):
    path = workdir / "config.toml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace('"交通运输服务中心" = "区道路运输服务中心"', '"交通运输服务中心" = "运输中心"'), encoding="utf-8")
    assert CliRunner().invoke(cli, ["tasks", "list"]).exit_code == 0  # an alias is as good as the name
    path.write_text(text.replace('"交通运输服务中心" = "区道路运输服务中心"', '"交通运输服务中心" = "已撤销的中心"'),
                    encoding="utf-8")
    config.load(path)  # not a config error: every other command goes on working
    result = CliRunner().invoke(cli, ["tasks", "list"])
    assert result.exit_code == 2 and "“交通运输服务中心”" in result.output and "第" in result.output


def test_task_names_are_not_aliases_for_forms(cfg):
    assert cfg.unit_named("交通通信质量和安全监督站") is None
    assert cfg.tasks.unit_for("交通通信质量和安全监督站") == QUALITY


def test_the_list_year_comes_from_config_never_from_today(workdir):
    text = (workdir / "config.toml").read_text(encoding="utf-8").replace("# year = 2023", "year = 2024")
    (workdir / "config.toml").write_text(text, encoding="utf-8")
    tl = read_task_list(config.load(workdir / "config.toml"))
    assert (str(tl.by_id["T01"].window.first), tl.by_id["T01"].window.end) == ("2024-05", date(2024, 8, 31))


# --- 完成时限 grammar ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("text, first, last, end, kind", [
    ("5月至8月", "2023-05", "2023-08", date(2023, 8, 31), "range"),
    ("3月到6月", "2023-03", "2023-06", date(2023, 6, 30), "range"),
    ("3月-6月", "2023-03", "2023-06", date(2023, 6, 30), "range"),
    ("3—6月", "2023-03", "2023-06", date(2023, 6, 30), "range"),
    ("３月～６月", "2023-03", "2023-06", date(2023, 6, 30), "range"),
    ("4 月 至 10 月", "2023-04", "2023-10", date(2023, 10, 31), "range"),
    ("11月至次年2月", "2023-11", "2024-02", date(2024, 2, 29), "range"),
    ("五月至八月", "2023-05", "2023-08", date(2023, 8, 31), "range"),
    ("12月底", "2023-01", "2023-12", date(2023, 12, 31), "due"),
    ("6月末", "2023-01", "2023-06", date(2023, 6, 30), "due"),
    ("6月10日前", "2023-01", "2023-06", date(2023, 6, 10), "due"),
    ("年底", "2023-01", "2023-12", date(2023, 12, 31), "year"),
    ("全年", "2023-01", "2023-12", date(2023, 12, 31), "year"),
    ("长期", "2023-01", "2023-12", date(2023, 12, 31), "ongoing"),
    ("长期坚持", "2023-01", "2023-12", date(2023, 12, 31), "ongoing"),
    ("", "2023-01", "2023-12", date(2023, 12, 31), "ongoing"),
    ("上半年", "2023-01", "2023-06", date(2023, 6, 30), "part"),
    ("下半年", "2023-07", "2023-12", date(2023, 12, 31), "part"),
    ("第三季度", "2023-07", "2023-09", date(2023, 9, 30), "part"),
    ("第1季度", "2023-01", "2023-03", date(2023, 3, 31), "part"),
])
def test_window_grammar(text, first, last, end, kind):
    w = parse_window(text, 2023)
    assert (str(w.first), str(w.last), w.end, w.kind) == (first, last, end, kind)


@pytest.mark.parametrize("text", ["尽快", "5月份左右", "下月", "8月至5月", "13月底", "2月30日前", "第五季度", "5月", "月底"])
def test_window_grammar_refuses_what_it_would_have_to_guess(text):
    with pytest.raises(BadWindow):
        parse_window(text, 2023)


@pytest.mark.parametrize("text, lead, implementing", [
    ("局安全监督股牵头，区道路运输服务 中心落实", ["局安全监督股"], ["区道路运输服务中心"]),
    ("局基本建设股、交通质量和安全监督站按职责分工落实", [], ["局基本建设股", "交通质量和安全监督站"]),
    ("交通运输综合行政执法大队配合区公路建设养护中心落实", [], ["交通运输综合行政执法大队", "区公路建设养护中心"]),
    ("建设领域整治专班（含房）", [], ["建设领域整治专班(含房)"]),
])
def test_units_text_splits_into_lead_and_implementing(text, lead, implementing):
    assert split_units(text) == (lead, implementing)


def test_units_text_without_names_is_refused():
    with pytest.raises(BadUnits):
        split_units("牵头，按职责分工落实")


def _edit_list(workdir, cell, value):
    path = workdir / "templates" / "annex1_tasks.xlsx"
    wb = openpyxl.load_workbook(path)
    wb.active[cell] = value
    wb.save(path)


def test_tasks_list_exits_2_naming_row_and_cell_of_a_bad_window_and_an_unknown_unit(workdir):
    _edit_list(workdir, "F5", "尽快")
    _edit_list(workdir, "D7", "局安全监督股牵头，区消防大队落实")
    result = CliRunner().invoke(cli, ["tasks", "list"])
    assert result.exit_code == 2
    assert "annex1_tasks.xlsx 第5行 F5（完成时限）：“尽快”不是可识别的完成时限" in result.stderr
    assert "annex1_tasks.xlsx 第7行 D7（责任单位）：“区消防大队” 不是 config.toml 中的单位或别名" in result.stderr


def test_tasks_list_json_is_the_librarys_list(workdir, seed_list):
    result = CliRunner().invoke(cli, ["tasks", "list", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["tasks"][0] == {"id": "T01", "project": "全面提升安全监管效能", "name": "开展隐患清零行动",
                                "measure": seed_list.by_id["T01"].measure,
                                "units_text": "局安全监督股牵头，区道路运输服务中心落实", "window_text": "5月至8月",
                                "from": "2023-05", "to": "2023-08", "lead": [SAFETY], "units": [TRANSPORT]}
    assert [t["id"] for t in data["tasks"]] == [t.id for t in seed_list.tasks]


# --- the progress form ---------------------------------------------------------------------------------

def _form_ids(path):
    ws = openpyxl.load_workbook(path).active
    ids = []
    for r in range(4, ws.max_row + 1):
        v = ws.cell(r, 1).value
        if not (isinstance(v, str) and v.startswith("T")):
            break
        ids.append(v)
    return ids


@pytest.mark.parametrize("unit, month, ids", [
    (LOGISTICS, "2023-05", ["T22", "T23"]),
    (LOGISTICS, "2023-06", ["T09", "T22", "T23"]),
    (ROADS, "2023-06", ["T16"]),
    (ROADS, "2023-05", []),
    (APPROVAL, "2023-02", ["T17"]),
    (BUILD, "2023-05", ["T05", "T07", "T15", "T17"]),
    (BUILD, "2023-09", ["T05", "T07", "T17"]),
])
def test_the_form_lists_exactly_the_units_active_tasks(workdir, unit, month, ids):
    result = CliRunner().invoke(cli, ["template", "--tasks", "--unit", unit, "--month", month, "-o", "f.xlsx"])
    assert result.exit_code == 0, result.output
    assert _form_ids(workdir / "f.xlsx") == ids


def test_the_form_is_protected_with_a_drop_down_and_a_marker(cfg, seed_list, tmp_path):
    path = write_task_form(tmp_path / "f.xlsx", cfg, seed_list, LOGISTICS, Month(2023, 6), date(2023, 6, 16))
    wb = openpyxl.load_workbook(path)
    ws = wb.active
    assert ws["A1"].value == "云溪区交通运输系统重点任务推进情况表"
    assert (ws["B2"].value, ws["E2"].value, ws["G2"].value) == (LOGISTICS, "2023年6月", "2023年6月16日")
    assert [c.value for c in ws[3]][:7] == ["编号", "任务名称", "具体措施", "完成时限", "本月进展", "完成情况", "佐证材料"]
    assert ws.protection.sheet is True and ws.protection.password is None
    assert [ws[c].protection.locked for c in ("E4", "F4", "G4", "E6", "F6", "G6")] == [False] * 6
    assert all(ws[c].protection.locked is not False for c in ("A4", "B4", "C4", "D4", "B2", "E2"))
    rules = {str(dv.sqref): dv for dv in ws.data_validations.dataValidation}
    assert rules["F4:F6"].type == "list" and rules["F4:F6"].formula1 == '"未启动,推进中,已完成"'
    assert ws["I1"].value == "annex2:task_form:v1" and ws.column_dimensions["I"].hidden
    assert wb.custom_doc_props["annex2_task_form"].value == "1"


def _filled(path, cfg, tl, unit, month, values, out=None):
    """The unit's form for the month, filled in with openpyxl: values = {cell: text}."""
    src = write_task_form(path, cfg, tl, unit, month, task_deadline(cfg, month).last_day)
    wb = openpyxl.load_workbook(src)
    for cell, value in values.items():
        wb.active[cell] = value
    wb.save(out or src)
    return out or src


LOGISTICS_JUNE = {"E4": "已排查码头3处，查处非法储存1起", "F4": "推进中", "G4": "检查记录.pdf",
                  "F5": "未启动", "E6": "全员培训2场", "F6": "推进中"}


def _judge(path, cfg, tl, folder_unit=None, now="2023-06-20T09:00"):
    book = read_workbook(Path(path).read_bytes(), cfg.limits)
    assert is_task_form(book)
    return check_task_form(book, cfg, folder_unit, at(now), tl)


def test_a_form_filled_in_with_openpyxl_is_accepted(cfg, seed_list, tmp_path):
    path = _filled(tmp_path / "f.xlsx", cfg, seed_list, LOGISTICS, Month(2023, 6), LOGISTICS_JUNE)
    j = _judge(path, cfg, seed_list, LOGISTICS)
    assert (j.ok, j.unit, j.year, j.month, j.issues) == (True, LOGISTICS, 2023, 6, [])
    assert [(r.task_id, r.status, r.progress, r.evidence, r.cell) for r in j.rows] == [
        ("T09", "in_progress", "已排查码头3处，查处非法储存1起", "检查记录.pdf", "A4"),
        ("T22", "unstarted", "", "", "A5"),
        ("T23", "in_progress", "全员培训2场", "", "A6")]


@pytest.mark.office
@pytest.mark.parametrize("fmt, ext", [("xlsx:Calc MS Excel 2007 XML", "xlsx"), ("xls:MS Excel 97", "xls")])
def test_a_form_saved_by_libreoffice_is_accepted(cfg, seed_list, tmp_path, fmt, ext):
    path = _filled(tmp_path / "in" / "f.xlsx", cfg, seed_list, LOGISTICS, Month(2023, 6), LOGISTICS_JUNE)
    out = convert(path, fmt, tmp_path / "out")
    assert out.suffix == "." + ext
    j = _judge(out, cfg, seed_list)
    assert (j.ok, j.unit, j.month, [i.code for i in j.issues]) == (True, LOGISTICS, 6, [])
    assert [(r.task_id, r.status, r.progress) for r in j.rows] == [
        ("T09", "in_progress", "已排查码头3处，查处非法储存1起"), ("T22", "unstarted", ""), ("T23", "in_progress", "全员培训2场")]


def test_an_annex2_template_is_not_a_task_form(cfg, tmp_path):
    path = write_template(tmp_path / "a.xlsx", "云溪区", Header(unit=LOGISTICS, year=2023, month_to=6))
    assert not is_task_form(read_workbook(path.read_bytes(), cfg.limits))


@pytest.mark.parametrize("values, folder, now, expected", [
    ({"A4": "T99"}, None, "2023-06-20", [("A4", "E_TASK_UNKNOWN"), ("A3", "W_TASK_MISSING")]),
    ({"A4": "T01"}, None, "2023-06-20", [("A4", "E_TASK_UNKNOWN"), ("A3", "W_TASK_MISSING")]),  # 运输中心's, not ours
    ({"F4": "差不多"}, None, "2023-06-20", [("F4", "E_TASK_STATUS")]),
    ({"F4": None}, None, "2023-06-20", [("F4", "E_TASK_STATUS")]),
    ({"E6": None}, None, "2023-06-20", [("E6", "E_TASK_NO_PROGRESS")]),
    ({"A5": None, "F5": None}, None, "2023-06-20", [("A3", "W_TASK_MISSING")]),
    ({}, ROADS, "2023-06-20", [("B2", "E_UNIT_MISMATCH")]),
    ({"B2": "区消防大队"}, None, "2023-06-20", [("B2", "E_UNIT_UNKNOWN")]),
    ({"E2": "2023年13月"}, None, "2023-06-20", [("E2", "E_PERIOD")]),
    ({"E2": "下个月"}, None, "2023-06-20", [("E2", "E_PERIOD")]),
    ({"E2": "2022年6月"}, None, "2023-06-20", [("E2", "E_PERIOD")]),
    ({}, None, "2023-05-31T23:00", [("E2", "E_PERIOD")]),  # a future month
])
def test_each_rule_names_its_cell(cfg, seed_list, tmp_path, values, folder, now, expected):
    path = _filled(tmp_path / "f.xlsx", cfg, seed_list, LOGISTICS, Month(2023, 6), {**LOGISTICS_JUNE, **values})
    j = _judge(path, cfg, seed_list, folder, now)
    assert [(i.cell, i.code) for i in j.issues] == expected
    assert j.ok is not any(CATALOGUE[code][0] == "error" for _c, code in expected)
    assert all(i.message.startswith(i.cell) for i in j.issues)


def test_receipt_names_the_tasks_and_the_deadline(cfg, seed_list, tmp_path):
    path = _filled(tmp_path / "f.xlsx", cfg, seed_list, LOGISTICS, Month(2023, 6), {**LOGISTICS_JUNE, "F4": "差不多"})
    bad = _judge(path, cfg, seed_list, LOGISTICS)
    text = task_form_receipt_text(cfg, original_name="f.xlsx", received_at=at("2023-06-15T10:00"), judgement=bad,
                                  task_list=seed_list, due=task_deadline(cfg, Month(2023, 6)))
    assert "结果：退回" in text and "完成情况填写有误 —— F4 T09 的完成情况“差不多”不是可选的三项之一" in text and "（E_TASK_STATUS）" in text
    good = _judge(_filled(tmp_path / "g.xlsx", cfg, seed_list, LOGISTICS, Month(2023, 6), LOGISTICS_JUNE),
                  cfg, seed_list, LOGISTICS)
    text = task_form_receipt_text(cfg, original_name="g.xlsx", received_at=at("2023-06-17T10:00"), judgement=good,
                                  task_list=seed_list, due=task_deadline(cfg, Month(2023, 6)),
                                  replaces=at("2023-06-15T10:00"))
    lines = text.split("\r\n")
    assert "结果：已受理" in lines and "报送时间：晚于截止时间（截止 6月16日）" in lines
    assert "（本表替代 2023-06-15 10:00:00 收到的同月推进情况表）" in lines
    assert "  T09 烟花爆竹专项整治：推进中" in lines and "  T22 落实企业主体责任：未启动" in lines


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


@pytest.fixture
def scenario(workdir):
    s = Scenario(workdir)
    # 运输中心: May on time (a 未启动 corrected the next day), June skipped, July says 未启动 for T03 three months
    # into its window, August on time, September reports T03 done; T01's window ends in August without 已完成.
    transport_may_to_july(s)
    s.report(TRANSPORT, "2023-08", "2023-08-15T09:00", {"T01": ("推进中", "整改隐患5处"), "T03": ("推进中", "宣传咨询日")})
    s.report(TRANSPORT, "2023-09", "2023-09-14T09:00", {"T03": ("已完成", "宣传活动全部完成")})
    # 物流中心: June on time, July after the 16th, August nothing, September on time.
    s.report(LOGISTICS, "2023-06", "2023-06-15T09:00", {"T04": ("推进中", "排查码头3处")})
    s.report(LOGISTICS, "2023-07", "2023-07-20T09:00", {"T04": ("推进中", "排查码头2处")})
    s.report(LOGISTICS, "2023-09", "2023-09-10T09:00", {"T04": ("推进中", "联合检查1次")})
    with Ledger(s.cfg.ledger) as ledger:  # the clerk confirms T03 on 20 September
        close_task(ledger, s.tl, "T03", TRANSPORT, "经核实已完成", at("2023-09-20T10:00"))
    return s


A, Z = ("T01", SAFETY), ("T01", TRANSPORT)
B, C, D = ("T02", TRANSPORT), ("T03", TRANSPORT), ("T04", LOGISTICS)


@pytest.mark.parametrize("month, as_of, expected", [
    ("2023-04", "2023-04-30T23:59", {A: "not_started", Z: "not_started", B: "lagging", C: "lagging", D: "not_started"}),
    ("2023-05", "2023-05-09T12:00", {A: "pending", Z: "on_track", B: "on_track", C: "lagging", D: "not_started"}),
    ("2023-05", "2023-05-31T23:59", {A: "lagging", Z: "on_track", B: "on_track", C: "on_track", D: "not_started"}),
    ("2023-06", "2023-06-30T23:59", {A: "lagging", Z: "lagging", B: "lagging", C: "lagging", D: "on_track"}),
    ("2023-07", "2023-07-31T23:59", {A: "lagging", Z: "on_track", B: "overdue", C: "lagging", D: "lagging"}),
    ("2023-08", "2023-08-31T23:59", {A: "lagging", Z: "on_track", B: "overdue", C: "on_track", D: "lagging"}),
    ("2023-09", "2023-09-18T23:59", {A: "overdue", Z: "overdue", B: "overdue", C: "done", D: "on_track"}),
    ("2023-09", "2023-09-30T23:59", {A: "overdue", Z: "overdue", B: "overdue", C: "closed", D: "on_track"}),
    ("2023-10", "2023-10-10T12:00", {A: "overdue", Z: "overdue", B: "overdue", C: "closed", D: "pending"}),
])
def test_states_over_the_months(scenario, month, as_of, expected):
    states, _board = scenario.states(month, as_of)
    assert states == expected


def test_status_lists_and_summary(scenario):
    _s, board = scenario.states("2023-07", "2023-07-31T23:59")
    assert board.unit_lists(TRANSPORT) == {"lagging": ["T03"], "overdue": ["T02"], "on_track": ["T01"], "done": [],
                                           "closed": [], "pending": [], "not_started": []}
    assert [board.summary_text(u) for u in (SAFETY, TRANSPORT, LOGISTICS, ROADS)] == ["滞后 1", "滞后 1 / 逾期 1", "滞后 1", "—"]
    _s, board = scenario.states("2023-05", "2023-05-31T23:59")
    assert board.summary_text(TRANSPORT) == "正常"


def test_the_bulletin_names_lagging_and_overdue_units_and_tasks(scenario):
    _s, board = scenario.states("2023-07", "2023-07-31T23:59")
    assert bulletin_paragraphs(board) == [
        "重点任务推进情况（附件1责任措施清单，7月推进情况表截止7月16日）：",
        "局安全监督股：推进滞后1项（T01“开展隐患清零行动”）。",
        "区道路运输服务中心：推进滞后1项（T03“学生安全专项整治”），超过完成时限未完成1项（T02“严格监管执法”）。",
        "现代物流中心：推进滞后1项（T04“烟花爆竹专项整治”）。",
        "对重点任务进度滞后的单位予以通报批评，请相关单位对照责任措施清单加快推进，按月如实报送推进情况。",
    ]


def test_reminder_lists_active_tasks_and_windows_ending_within_30_days(scenario):
    _s, board = scenario.states("2023-08", "2023-08-10T09:00")
    assert reminder_lines(board, TRANSPORT) == [
        "你单位2023年8月应报送推进情况的重点任务2项：T01“开展隐患清零行动”（完成时限5月至8月，未到期）；"
        "T03“学生安全专项整治”（完成时限4月至10月，未到期）。",
        "其中30天内到期的：T01“开展隐患清零行动”（8月31日到期），请抓紧推进，完成后在推进情况表中填报“已完成”。",
        "已超过完成时限仍未完成的：T02“严格监管执法”，请尽快完成并报送。",
    ]


def test_strike_months_per_unit(scenario):
    with Ledger(scenario.cfg.ledger) as ledger:
        data = load_task_data(ledger, at("2023-09-30T23:59"))
    strikes = task_strike_months(scenario.cfg, scenario.tl, data, Month(2023, 9))
    assert {u: [str(m) for m in ms] for u, ms in strikes.items()} == {
        SAFETY: ["2023-05", "2023-06", "2023-07", "2023-08", "2023-09"],
        TRANSPORT: ["2023-03", "2023-04", "2023-06", "2023-07", "2023-08", "2023-09"],  # T02 began in March
        LOGISTICS: ["2023-07", "2023-08"],
    }


def test_progress_forms_are_not_annex2_submissions(scenario):
    with Ledger(scenario.cfg.ledger) as ledger:
        assert ledger.current() == [] and ledger.first_accepted() == {}


def test_tasks_status_json_and_close_from_the_cli(scenario):
    runner = CliRunner()
    result = runner.invoke(cli, ["tasks", "status", "--month", "2023-07", "--as-of", "2023-07-31", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert (data["month"], data["as_of"]) == ("2023-07", "2023-07-31T23:59:59+08:00")
    assert [(t["id"], t["unit"], t["state"]) for t in data["tasks"]] == [
        ("T01", SAFETY, "lagging"), ("T01", TRANSPORT, "on_track"), ("T02", TRANSPORT, "overdue"),
        ("T03", TRANSPORT, "lagging"), ("T04", LOGISTICS, "lagging")]
    result = runner.invoke(cli, ["tasks", "close", "t01", "--unit", "运输中心", "--note", "核实完成"])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == f"已销号：T01 {TRANSPORT}"
    with Ledger(scenario.cfg.ledger) as ledger:
        closed = [e for e in ledger.events() if e["kind"] == "task_closed"]
    assert [json.loads(e["detail"]) for e in closed] == [
        {"task": "T03", "unit": TRANSPORT, "note": "经核实已完成"}, {"task": "T01", "unit": TRANSPORT, "note": "核实完成"}]
    refused = runner.invoke(cli, ["tasks", "close", "T04", "--unit", "运输中心"])
    assert refused.exit_code == 2 and "T04（烟花爆竹专项整治）的责任单位中没有“区道路运输服务中心”" in refused.stderr
    assert runner.invoke(cli, ["template", "--tasks", "--month", "2023-07"]).exit_code == 2


def test_the_leadership_sheet_colours_comments_and_marks(scenario, tmp_path):
    import xlsxwriter

    _s, board = scenario.states("2023-08", "2023-08-20T09:00")
    path = tmp_path / "lead.xlsx"
    wb = xlsxwriter.Workbook(str(path))
    write_tasks_sheet(wb, board)
    wb.close()
    ws = openpyxl.load_workbook(path)["重点任务"]
    assert [c.value for c in ws[3]] == ["编号", "任务名称", "完成时限", SAFETY, TRANSPORT, LOGISTICS]
    assert [ws.cell(r, 1).value for r in range(4, 8)] == ["T01", "T02", "T03", "T04"]
    fills = {(ws.cell(r, 1).value, ws.cell(3, c).value): (ws.cell(r, c).value, ws.cell(r, c).fill.fgColor.rgb)
             for r in range(4, 8) for c in range(4, 7) if ws.cell(r, c).value}
    assert fills == {("T01", SAFETY): ("滞后\n（牵头）", "FFFFEB9C"), ("T01", TRANSPORT): ("正常推进", "FFC6EFCE"),
                     ("T02", TRANSPORT): ("逾期", "FFFFC7CE"), ("T03", TRANSPORT): ("正常推进", "FFC6EFCE"),
                     ("T04", LOGISTICS): ("滞后", "FFFFEB9C")}
    assert ws["C4"].value == "5月至8月\n（即将到期）" and ws["C6"].value == "4月至10月"  # T01 ends in 11 days
    assert ws["E4"].comment.text == "8月报送（推进中）：整改隐患5处"
    assert ws["E5"].comment.text == "5月报送（推进中）：排查客运站12处"
    assert ws["D4"].comment is None  # 局安全监督股 never reported
    assert ws.page_setup.orientation == "landscape" and ws.page_setup.paperSize == 9


def test_every_report_is_kept_for_the_master_workbook_and_superseded_ones_say_so(scenario):
    from pipeline.task_state import report_rows

    with Ledger(scenario.cfg.ledger) as ledger:
        rows = report_rows(ledger, scenario.tl, at("2023-05-31T23:59"))
    assert [(r["unit"], r["month"], r["task_id"], r["status_label"], r["current"]) for r in rows] == [
        (TRANSPORT, "2023-05", "T01", "推进中", False), (TRANSPORT, "2023-05", "T02", "推进中", False),
        (TRANSPORT, "2023-05", "T03", "未启动", False),
        (TRANSPORT, "2023-05", "T01", "推进中", True), (TRANSPORT, "2023-05", "T02", "推进中", True),
        (TRANSPORT, "2023-05", "T03", "推进中", True)]


def test_the_judgement_and_the_list_cross_process_boundaries(cfg, seed_list, tmp_path):
    import pickle

    path = _filled(tmp_path / "f.xlsx", cfg, seed_list, LOGISTICS, Month(2023, 6), LOGISTICS_JUNE)
    j = _judge(path, cfg, seed_list, LOGISTICS)
    assert pickle.loads(pickle.dumps(j)) == j
    assert pickle.loads(pickle.dumps(seed_list)).by_id["T09"] == seed_list.by_id["T09"]


def test_the_form_a_new_one_replaces(scenario):
    from pipeline.task_state import replaced_form_time

    with Ledger(scenario.cfg.ledger) as ledger:
        assert replaced_form_time(ledger, TRANSPORT, Month(2023, 5), at("2023-05-10T09:00")) == at("2023-05-08T10:00")
        assert replaced_form_time(ledger, TRANSPORT, Month(2023, 6), at("2023-06-30T09:00")) is None


def test_a_retyped_form_with_its_own_layout_is_recognised_and_read(cfg, seed_list, tmp_path):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["现代物流中心重点任务推进情况表"])
    ws.append(["填报单位（章）：现代物流中心", None, None, "报告月份", "2023-06"])
    ws.append([])
    ws.append(["编号", "完成情况", "本月进展", "佐证材料"])
    ws.append(["t09", "推进中", "排查码头3处", None])
    ws.append(["T22", "未启动", None, None])
    ws.append(["T23", "已完成", "培训完成", "签到表"])
    ws.append(["填表人：张三"])
    wb.save(tmp_path / "r.xlsx")
    j = _judge(tmp_path / "r.xlsx", cfg, seed_list)
    assert (j.ok, j.unit, j.month, j.issues) == (True, LOGISTICS, 6, [])
    assert [(r.task_id, r.status, r.cell) for r in j.rows] == [("T09", "in_progress", "A5"), ("T22", "unstarted", "A6"),
                                                               ("T23", "completed", "A7")]


def test_the_bulletin_section_reads_back_from_a_docx(scenario):
    import io

    import docx

    from pipeline.notices import Document, Section

    _s, board = scenario.states("2023-07", "2023-07-31T23:59")
    doc = Document("bulletin", ["关于2023年7月", "重点任务推进情况的通报"], "局属各单位、局机关相关股室", [],
                   scenario.cfg.bureau.name, True,
                   sections=[Section("重点任务推进情况", bulletin_paragraphs(board), criticise=True)])
    text = [p.text for p in docx.Document(io.BytesIO(doc.docx(scenario.cfg.bureau.name, at("2023-07-31T18:00")))).paragraphs]
    assert "区道路运输服务中心：推进滞后1项（T03“学生安全专项整治”），超过完成时限未完成1项（T02“严格监管执法”）。" in text
    assert "现代物流中心：推进滞后1项（T04“烟花爆竹专项整治”）。" in text


def test_count_tasks_is_an_escalation_setting(cfg):
    assert cfg.escalation.count_tasks is True


def test_a_form_with_no_active_task_is_accepted_empty(cfg, seed_list, tmp_path):
    path = write_task_form(tmp_path / "f.xlsx", cfg, seed_list, ROADS, Month(2023, 5))
    j = _judge(path, cfg, seed_list, ROADS)
    assert (j.ok, j.unit, j.month, j.rows, j.issues) == (True, ROADS, 5, [], [])


# --- through the intake ------------------------------------------------------------------------------------

def test_a_progress_form_dropped_in_the_inbox_is_recognised_recorded_and_receipted(workdir, cfg, seed_list):
    from helpers import ingest

    folder = workdir / "inbox" / LOGISTICS
    _filled(folder / "重点任务推进情况表_6月.xlsx", cfg, seed_list, LOGISTICS, Month(2023, 6), LOGISTICS_JUNE)
    (r,) = ingest(workdir, now="2023-06-15T09:00", arrived="2023-06-15T08:30").files
    assert (r.outcome, r.unit, r.period) == ("accepted", LOGISTICS, "2023年6月")
    db = sqlite3.connect(workdir / "annex2.sqlite")
    assert db.execute("SELECT kind, year, month_to FROM arrivals").fetchall() == [("task_form", 2023, 6)]
    assert db.execute("SELECT task_id, status FROM task_reports ORDER BY task_id").fetchall() == [
        ("T09", "in_progress"), ("T22", "unstarted"), ("T23", "in_progress")]
    assert db.execute("SELECT COUNT(*) FROM submission_values").fetchone() == (0,)  # not an Annex 2
    (receipt,) = (folder / "回执").glob("*.txt")
    text = receipt.read_text(encoding="utf-8-sig")
    assert "结果：已受理" in text and "T09" in text and "报送时间：按时" in text
    # an Annex 2 for the same month is a separate obligation: the form is not its submission
    with Ledger(cfg.ledger) as ledger:
        assert ledger.current() == [] and ledger.first_accepted() == {}


def test_a_progress_form_with_a_wrong_status_is_rejected_naming_the_cell(workdir, cfg, seed_list):
    from helpers import ingest

    folder = workdir / "inbox" / LOGISTICS
    _filled(folder / "表.xlsx", cfg, seed_list, LOGISTICS, Month(2023, 6), {**LOGISTICS_JUNE, "F4": "差不多了"})
    (r,) = ingest(workdir, now="2023-06-15T09:00", arrived="2023-06-15T08:30").files
    assert r.outcome == "rejected" and [(i.code, i.cell) for i in r.issues] == [("E_TASK_STATUS", "F4")]
    text = next((folder / "回执").glob("*.txt")).read_text(encoding="utf-8-sig")
    assert "（E_TASK_STATUS）" in text and "退回" in text
