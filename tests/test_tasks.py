"""Annex 1 key tasks: the seed's list, the 完成时限 grammar, 责任单位, the progress form, states over months,
the monthly-loop texts and the leadership sheet."""
import json
import sqlite3
from datetime import date
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner
from helpers import at, events
from office import convert
from task_story import (
    APPROVAL,
    BUILD,
    ENFORCE,
    LOGISTICS,
    PLAN,
    QUALITY,
    ROADS,
    SAFETY,
    SCENARIO_LIST,
    TRANSPORT,
    Scenario,
    filled,
    task_strike_months,
    transport_may_to_july,
)

from pipeline.cli.commands import cli
from pipeline.core import config
from pipeline.core.issues import CATALOGUE
from pipeline.core.months import Month
from pipeline.reading.reader import read_workbook
from pipeline.statistics.template import Header, write_template
from pipeline.storage.ledger import Ledger
from pipeline.tasks.form import check_task_form, is_task_form, task_form_receipt_text, write_task_form
from pipeline.tasks.report import bulletin_paragraphs, form_paragraphs, reminder_lines
from pipeline.tasks.sheet import write_tasks_sheet
from pipeline.tasks.state import close_task, load_task_data, task_deadline
from pipeline.tasks.task_list import BadUnits, read_task_list, resolve_units, seed_rows, split_units, write_task_list
from pipeline.tasks.window import BadWindow, parse_window, window_label

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def cfg(workdir):
    return config.load(workdir / "config.toml")


@pytest.fixture
def seed_list(cfg):
    return read_task_list(cfg)


# --- the seed's list -------------------------------------------------------------------------------------

def test_the_seed_list_has_one_row_per_measure_of_the_plans_text_with_stable_ids():
    rows = seed_rows()
    # the 23 measures of the Annex 1 table keep their ids; the three the table leaves out are T24–T26, in the text's order
    assert [r["id"] for r in rows] == ["T24", *[f"T{n:02d}" for n in range(1, 20)], "T25", "T20", "T21", "T22", "T23",
                                       "T26"]
    assert [r["id"] for r in rows if not r["window"]] == ["T24", "T06", "T25", "T22", "T26"]  # blank: 长期坚持
    assert rows[1]["measure"].startswith("按照《岳阳市交通运输行业安全“隐患清零”实施细则》，全年完成至少一轮次")
    assert rows[16]["units"] == "交通运输综合行政执法大队配合区公路建设养护中心落实"
    # a note on every row where the Annex 1 table says otherwise, quoting both; none where they agree
    assert all(r["note"] for r in rows)
    assert "“建设领域整治专班（含房）”" in rows[7]["note"] and "“局基本建设股牵头，交通质量和安全监督站按职责分工落实”" in rows[7]["note"]


def test_init_writes_the_list_and_the_committed_copy_is_the_same(workdir):
    ours = openpyxl.load_workbook(workdir / "templates" / "annex1_tasks.xlsx").active
    committed = openpyxl.load_workbook(REPO / "templates" / "annex1_tasks.xlsx").active
    assert [c.value for c in ours[2]] == ["编号", "项目名称", "任务名称", "责任单位", "具体措施", "完成时限", "备注"]
    assert (ours["A3"].value, ours["F3"].value) == ("T24", "长期坚持")  # blank in the seed: shown as 长期坚持
    assert (ours["A4"].value, ours["F4"].value, ours["A28"].value) == ("T01", "5月至8月", "T26")
    assert [[c.value for c in r] for r in ours.iter_rows()] == [[c.value for c in r] for r in committed.iter_rows()]


# Typed from the seed's text under 二、重点任务及责任分工 (seed lines 27–83), one tuple per 具体措施, in the text's
# order: (id, 任务名称, 牵头, 落实, 完成时限 from the Annex 1 table — "长期坚持" where the table has none).
# Not read from the toml: a wrong transcription there fails here.
PARTY = "局机关党支部"  # （一）'s co-lead: not a reporting unit, kept as text
SUBORDINATE = [QUALITY, TRANSPORT, ENFORCE, LOGISTICS, ROADS]  # （一）“局属各单位落实” via [tasks.names]
FIVE = [QUALITY, ENFORCE, TRANSPORT, LOGISTICS]  # （五）1–4: 质监站、执法大队、运输中心、现代物流中心
FROM_THE_TEXT = [
    ("T24", "深入学习贯彻党的二十大精神和习近平总书记关于安全生产重要论述", [SAFETY], SUBORDINATE, "长期坚持"),
    ("T01", "持续开展隐患清零行动", [SAFETY], [TRANSPORT], "5月至8月"),
    ("T02", "持续开展隐患清零行动", [SAFETY], [TRANSPORT], "3月至6月"),
    ("T03", "严格监管执法", [SAFETY], [QUALITY, TRANSPORT, ENFORCE], "12月底"),
    ("T04", "强力打非治违", [SAFETY], [QUALITY, TRANSPORT, ENFORCE], "12月底"),
    ("T05", "强力打非治违", [], [BUILD, QUALITY], "12月底"),
    ("T06", "强力打非治违", [], [ENFORCE, TRANSPORT], "长期坚持"),
    ("T07", "建设领域专项整治", [BUILD], [QUALITY], "12月底"),
    ("T08", "烟花爆竹安全专项整治", [], [ENFORCE, TRANSPORT], "12月底"),
    ("T09", "烟花爆竹安全专项整治", [], [LOGISTICS], "6月至12月"),
    ("T10", "交通安全专项整治", [], [ENFORCE, TRANSPORT], "12月底"),
    ("T11", "交通安全专项整治", [SAFETY], [TRANSPORT], "12月底"),
    ("T12", "文化体育旅游安全专项整治", [], [ENFORCE, TRANSPORT], "12月底"),
    ("T13", "学生安全专项整治", [], [TRANSPORT], "全年"),
    ("T14", "学生安全专项整治", [SAFETY], [ENFORCE, TRANSPORT], "4月至10月"),
    ("T15", "自然灾害防治", [], [BUILD, SAFETY, QUALITY, ENFORCE, TRANSPORT], "5月至8月"),
    ("T16", "自然灾害防治", [], [ENFORCE, ROADS], "6月至12月"),
    ("T17", "强化源头管控", [], [PLAN, APPROVAL, BUILD, ENFORCE, QUALITY], "12月底"),
    ("T18", "强化源头管控", [], [TRANSPORT], "12月底"),
    ("T19", "构建双重预防机制", [SAFETY], [QUALITY, ENFORCE, TRANSPORT], "12月底"),
    ("T25", "推动信息化管理", [], [TRANSPORT], "长期坚持"),
    ("T20", "加强安全生产宣传", [SAFETY], [QUALITY, ENFORCE, TRANSPORT], "全年"),
    ("T21", "落实部门主管监管责任", [SAFETY], FIVE, "全年"),
    ("T22", "落实企业主体责任", [SAFETY], FIVE, "长期坚持"),
    ("T23", "落实从业人员安全防护责任", [SAFETY], FIVE, "全年"),
    ("T26", "严肃追责问责", [SAFETY], FIVE, "长期坚持"),
]
PROJECTS = {"T24": "深入学习贯彻党的二十大精神和习近平总书记关于安全生产重要论述",
            **dict.fromkeys(["T01", "T02", "T03", "T04", "T05", "T06"], "全面提升安全监管效能"),
            **dict.fromkeys([f"T{n:02d}" for n in range(7, 17)], "深化交通运输专项整治"),
            **dict.fromkeys(["T17", "T18", "T19", "T25", "T20"], "提升本质安全水平"),
            **dict.fromkeys(["T21", "T22", "T23", "T26"], "压紧压实责任")}


def test_the_list_init_writes_follows_the_plans_text_row_by_row(seed_list):
    """Every measure of 二: its 任务名称, lead and implementing units as the text says, its window from the table."""
    assert len(seed_list.tasks) == 26 and seed_list.year == 2023
    got = [(t.id, t.name, list(t.lead), list(t.units), window_label(t.window)) for t in seed_list.tasks]
    for row, expected in zip(got, FROM_THE_TEXT):
        assert row == expected
    assert got == FROM_THE_TEXT
    assert {t.id: t.project for t in seed_list.tasks} == PROJECTS
    assert {t.id: t.untracked for t in seed_list.tasks if t.untracked} == {"T24": (PARTY,)}
    # the 23 the table dates, as months
    spans = {t.id: (str(t.window.first), str(t.window.last)) for t in seed_list.tasks}
    assert (spans["T01"], spans["T02"], spans["T09"], spans["T14"], spans["T15"], spans["T16"]) == (
        ("2023-05", "2023-08"), ("2023-03", "2023-06"), ("2023-06", "2023-12"), ("2023-04", "2023-10"),
        ("2023-05", "2023-08"), ("2023-06", "2023-12"))
    assert {spans[i] for i in ("T03", "T13", "T22", "T24")} == {("2023-01", "2023-12")}
    kinds = {t.id: t.window.kind for t in seed_list.tasks}
    assert (kinds["T06"], kinds["T22"], kinds["T13"], kinds["T03"], kinds["T01"]) == ("ongoing", "ongoing", "year", "due", "range")


def test_the_quality_station_is_not_responsible_for_the_school_measure(seed_list):
    """The table gave 二（三）5's 进校园 measure to 质监站; the text gives it to the 执法大队 and the 运输中心."""
    t14 = seed_list.by_id["T14"]
    assert "水上交通安全知识进校园" in t14.measure
    assert QUALITY not in t14.responsible and ENFORCE in t14.units


def test_task_names_may_point_at_an_alias_and_an_unknown_target_is_named_by_tasks_list(workdir):
    path = workdir / "config.toml"
    text = path.read_text(encoding="utf-8")
    old = '"局属各单位" = ["交通质量和安全监督站", "区道路运输服务中心", "交通运输综合行政执法大队", "现代物流中心", "区公路建设养护中心"]'
    assert old in text
    path.write_text(text.replace(old, '"局属各单位" = ["质监站", "运输中心"]'), encoding="utf-8")
    result = CliRunner().invoke(cli, ["tasks", "list", "--json"])  # an alias is as good as the name
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["tasks"][0]["units"] == [QUALITY, TRANSPORT]
    path.write_text(text.replace(old, '"局属各单位" = ["质监站", "已撤销的中心"]'), encoding="utf-8")
    config.load(path)  # not a config error: every other command goes on working
    result = CliRunner().invoke(cli, ["tasks", "list"])
    assert result.exit_code == 2 and "第3行 D3（责任单位）：“局属各单位”" in result.stderr


def test_one_spelling_may_stand_for_several_units(workdir):
    """A cell that fuses two units (the table's “交通质量行政综合执法大队”) maps to a list in [tasks.names]."""
    path = workdir / "config.toml"
    text = path.read_text(encoding="utf-8").replace(
        '[tasks.names]', '[tasks.names]\n"交通质量行政综合执法大队" = ["交通质量和安全监督站", "执法大队"]')
    path.write_text(text, encoding="utf-8")
    cfg = config.load(path)
    assert cfg.tasks.units_for("交通质量行政综合执法大队") == ("交通质量和安全监督站", "执法大队")
    assert resolve_units("局安全监督股牵头，交通质量行政综合执法大队、物流中心按职责分工落实", cfg) == (
        (SAFETY,), (QUALITY, ENFORCE, LOGISTICS), ())
    assert resolve_units("局机关党支部、安全监督股牵头，局属各单位落实", cfg) == ((SAFETY,), tuple(SUBORDINATE), (PARTY,))


@pytest.mark.parametrize("value", ['[]', '[1, 2]', '3', '["质监站", ""]'])
def test_a_names_entry_must_be_a_name_or_a_list_of_names(workdir, value):
    path = workdir / "config.toml"
    path.write_text(path.read_text(encoding="utf-8").replace('[tasks.names]', f'[tasks.names]\n"某某" = {value}'),
                    encoding="utf-8")
    with pytest.raises(config.ConfigError) as err:
        config.load(path)
    assert "[tasks.names] “某某” 应写成 config 中某个单位的全称（文本），或几个单位全称的列表" in str(err.value)


def test_task_names_are_not_aliases_for_forms(cfg):
    assert cfg.unit_named("局属各单位") is None and cfg.unit_named("局机关党支部") is None
    assert cfg.tasks.units_for("局属各单位") == tuple(SUBORDINATE) and cfg.tasks.is_untracked("局机关党支部")


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
    assert data["tasks"][1] == {"id": "T01", "project": "全面提升安全监管效能", "name": "持续开展隐患清零行动",
                                "measure": seed_list.by_id["T01"].measure,
                                "units_text": "局安全监督股牵头，区道路运输服务中心落实", "window_text": "5月至8月",
                                "from": "2023-05", "to": "2023-08", "lead": [SAFETY], "units": [TRANSPORT],
                                "untracked": []}
    assert (data["tasks"][0]["lead"], data["tasks"][0]["untracked"]) == ([SAFETY], ["局机关党支部"])
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
    (LOGISTICS, "2023-05", ["T24", "T21", "T22", "T23", "T26"]),
    (LOGISTICS, "2023-06", ["T24", "T09", "T21", "T22", "T23", "T26"]),
    (ROADS, "2023-06", ["T24", "T16"]),
    (ROADS, "2023-05", ["T24"]),
    (ENFORCE, "2023-05", ["T24", "T03", "T04", "T06", "T08", "T10", "T12", "T14", "T15", "T17", "T19", "T20", "T21",
                          "T22", "T23", "T26"]),
    (QUALITY, "2023-05", ["T24", "T03", "T04", "T05", "T07", "T15", "T17", "T19", "T20", "T21", "T22", "T23", "T26"]),
    (APPROVAL, "2023-02", ["T17"]),
    (BUILD, "2023-05", ["T05", "T07", "T15", "T17"]),
    (BUILD, "2023-09", ["T05", "T07", "T17"]),
])
def test_the_form_lists_exactly_the_units_active_tasks(workdir, unit, month, ids):
    result = CliRunner().invoke(cli, ["template", "--tasks", "--unit", unit, "--month", month, "-o", "f.xlsx"])
    assert result.exit_code == 0, result.output
    assert _form_ids(workdir / "f.xlsx") == ids


def test_the_form_is_protected_with_a_drop_down_and_a_marker(cfg, seed_list, tmp_path):
    path = write_task_form(tmp_path / "f.xlsx", cfg, seed_list, BUILD, Month(2023, 9), date(2023, 9, 16))
    wb = openpyxl.load_workbook(path)
    ws = wb.active
    assert ws["A1"].value == "云溪区交通运输系统重点任务推进情况表"
    assert (ws["B2"].value, ws["E2"].value, ws["G2"].value) == (BUILD, "2023年9月", "2023年9月16日")
    assert [c.value for c in ws[3]][:7] == ["编号", "任务名称", "具体措施", "完成时限", "本月进展", "完成情况", "佐证材料"]
    assert ws.protection.sheet is True and ws.protection.password is None
    assert [ws[c].protection.locked for c in ("E4", "F4", "G4", "E6", "F6", "G6")] == [False] * 6
    assert all(ws[c].protection.locked is not False for c in ("A4", "B4", "C4", "D4", "B2", "E2"))
    rules = {str(dv.sqref): dv for dv in ws.data_validations.dataValidation}
    assert rules["F4:F6"].type == "list" and rules["F4:F6"].formula1 == '"未启动,推进中,阶段性完成,已完成"'
    assert ws["I1"].value == "annex2:task_form:v1" and ws.column_dimensions["I"].hidden
    assert wb.custom_doc_props["annex2_task_form"].value == "1"


BUILD_SEPT = {"E4": "人员履约平台录入项目2个", "F4": "推进中", "G4": "检查记录.pdf",
                  "F5": "未启动", "E6": "审查项目3个", "F6": "推进中"}


def _judge(path, cfg, tl, folder_unit=None, now="2023-09-20T09:00"):
    book = read_workbook(Path(path).read_bytes(), cfg.limits)
    assert is_task_form(book)
    return check_task_form(book, cfg, folder_unit, at(now), tl)


def test_a_form_filled_in_with_openpyxl_is_accepted(cfg, seed_list, tmp_path):
    path = filled(tmp_path / "f.xlsx", cfg, seed_list, BUILD, Month(2023, 9), BUILD_SEPT)
    j = _judge(path, cfg, seed_list, BUILD)
    assert (j.ok, j.unit, j.year, j.month, j.issues) == (True, BUILD, 2023, 9, [])
    assert [(r.task_id, r.status, r.progress, r.evidence, r.cell) for r in j.rows] == [
        ("T05", "in_progress", "人员履约平台录入项目2个", "检查记录.pdf", "A4"),
        ("T07", "unstarted", "", "", "A5"),
        ("T17", "in_progress", "审查项目3个", "", "A6")]


@pytest.mark.office
@pytest.mark.parametrize("fmt, ext", [("xlsx:Calc MS Excel 2007 XML", "xlsx"), ("xls:MS Excel 97", "xls")])
def test_a_form_saved_by_libreoffice_is_accepted(cfg, seed_list, tmp_path, fmt, ext):
    path = filled(tmp_path / "in" / "f.xlsx", cfg, seed_list, BUILD, Month(2023, 9), BUILD_SEPT)
    out = convert(path, fmt, tmp_path / "out")
    assert out.suffix == "." + ext
    j = _judge(out, cfg, seed_list)
    assert (j.ok, j.unit, j.month, [i.code for i in j.issues]) == (True, BUILD, 9, [])
    assert [(r.task_id, r.status, r.progress) for r in j.rows] == [
        ("T05", "in_progress", "人员履约平台录入项目2个"), ("T07", "unstarted", ""), ("T17", "in_progress", "审查项目3个")]


def test_an_annex2_template_is_not_a_task_form(cfg, tmp_path):
    path = write_template(tmp_path / "a.xlsx", "云溪区", Header(unit=BUILD, year=2023, month_to=9))
    assert not is_task_form(read_workbook(path.read_bytes(), cfg.limits))


@pytest.mark.parametrize("values, folder, now, expected", [
    ({"A4": "T99"}, None, "2023-09-20", [("A4", "E_TASK_UNKNOWN"), ("A3", "W_TASK_MISSING")]),
    ({"A4": "T01"}, None, "2023-09-20", [("A4", "E_TASK_UNKNOWN"), ("A3", "W_TASK_MISSING")]),  # 运输中心's, not ours
    ({"F4": "差不多"}, None, "2023-09-20", [("F4", "E_TASK_STATUS")]),
    ({"F4": None}, None, "2023-09-20", [("F4", "E_TASK_STATUS")]),
    ({"E6": None}, None, "2023-09-20", [("E6", "E_TASK_NO_PROGRESS")]),
    ({"A5": None, "F5": None}, None, "2023-09-20", [("A3", "W_TASK_MISSING")]),
    ({}, ROADS, "2023-09-20", [("B2", "E_UNIT_MISMATCH")]),
    ({"B2": "区消防大队"}, None, "2023-09-20", [("B2", "E_UNIT_UNKNOWN")]),
    ({"E2": "2023年13月"}, None, "2023-09-20", [("E2", "E_PERIOD")]),
    ({"E2": "下个月"}, None, "2023-09-20", [("E2", "E_PERIOD")]),
    ({"E2": "2022年9月"}, None, "2023-09-20", [("E2", "E_PERIOD")]),
    ({}, None, "2023-08-31T23:00", [("E2", "E_PERIOD")]),  # a future month
])
def test_each_rule_names_its_cell(cfg, seed_list, tmp_path, values, folder, now, expected):
    path = filled(tmp_path / "f.xlsx", cfg, seed_list, BUILD, Month(2023, 9), {**BUILD_SEPT, **values})
    j = _judge(path, cfg, seed_list, folder, now)
    assert [(i.cell, i.code) for i in j.issues] == expected
    assert j.ok is not any(CATALOGUE[code][0] == "error" for _c, code in expected)
    assert all(i.message.startswith(i.cell) for i in j.issues)


def test_receipt_names_the_tasks_and_the_deadline(cfg, seed_list, tmp_path):
    path = filled(tmp_path / "f.xlsx", cfg, seed_list, BUILD, Month(2023, 9), {**BUILD_SEPT, "F4": "差不多"})
    bad = _judge(path, cfg, seed_list, BUILD)
    text = task_form_receipt_text(cfg, original_name="f.xlsx", received_at=at("2023-09-15T10:00"), judgement=bad,
                                  task_list=seed_list, due=task_deadline(cfg, Month(2023, 9)))
    assert "结果：退回" in text and "完成情况填写有误 —— F4 T05 的完成情况“差不多”不是可选的四项之一" in text and "（E_TASK_STATUS）" in text
    good = _judge(filled(tmp_path / "g.xlsx", cfg, seed_list, BUILD, Month(2023, 9), BUILD_SEPT),
                  cfg, seed_list, BUILD)
    text = task_form_receipt_text(cfg, original_name="g.xlsx", received_at=at("2023-09-17T10:00"), judgement=good,
                                  task_list=seed_list, due=task_deadline(cfg, Month(2023, 9)),
                                  replaces=at("2023-09-15T10:00"))
    lines = text.split("\r\n")
    assert "结果：已受理" in lines and "报送时间：晚于截止时间（截止 9月16日）" in lines
    assert "（本表替代 2023-09-15 10:00:00 收到的同月推进情况表）" in lines
    assert "  T05 强力打非治违：推进中" in lines and "  T07 建设领域专项整治：未启动" in lines


# --- states over several months --------------------------------------------------------------------------

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
    # no form by the 16th: unreported (a reporting failure), never lagging
    ("2023-04", "2023-04-30T23:59", {A: "not_started", Z: "not_started", B: "unreported", C: "unreported",
                                     D: "not_started"}),
    ("2023-05", "2023-05-09T12:00", {A: "pending", Z: "on_track", B: "on_track", C: "lagging", D: "not_started"}),
    ("2023-05", "2023-05-31T23:59", {A: "unreported", Z: "on_track", B: "on_track", C: "on_track", D: "not_started"}),
    ("2023-06", "2023-06-30T23:59", {A: "unreported", Z: "unreported", B: "unreported", C: "unreported",
                                     D: "on_track"}),
    # 物流中心's July form came on the 20th: judged on what it says (推进中), the form itself is 迟报
    ("2023-07", "2023-07-31T23:59", {A: "unreported", Z: "on_track", B: "overdue", C: "lagging", D: "on_track"}),
    ("2023-08", "2023-08-31T23:59", {A: "unreported", Z: "on_track", B: "overdue", C: "on_track", D: "unreported"}),
    ("2023-09", "2023-09-18T23:59", {A: "overdue", Z: "overdue", B: "overdue", C: "done", D: "on_track"}),
    ("2023-09", "2023-09-30T23:59", {A: "overdue", Z: "overdue", B: "overdue", C: "closed", D: "on_track"}),
    ("2023-10", "2023-10-10T12:00", {A: "overdue", Z: "overdue", B: "overdue", C: "closed", D: "pending"}),
])
def test_states_over_the_months(scenario, month, as_of, expected):
    states, _board = scenario.states(month, as_of)
    assert states == expected


def test_status_lists_and_summary(scenario):
    _s, board = scenario.states("2023-07", "2023-07-31T23:59")
    assert board.unit_lists(TRANSPORT) == {
        "lagging": ["T03"], "overdue": ["T02"], "on_track": ["T01"], "done": [], "unreported": [], "phase_done": [],
        "closed": [], "pending": [], "not_started": [],
        "form": {"state": "on_time", "received_at": "2023-07-12T09:00:00+08:00", "days_late": None}}
    assert board.unit_lists(LOGISTICS)["form"] == {"state": "late", "received_at": "2023-07-20T09:00:00+08:00",
                                                   "days_late": 4}
    assert board.unit_lists(SAFETY)["unreported"] == ["T01"]
    assert [board.summary_text(u) for u in (SAFETY, TRANSPORT, LOGISTICS, ROADS)] == [
        "未报送", "滞后 1 / 逾期 1", "迟报 4 天", "—"]
    _s, board = scenario.states("2023-05", "2023-05-31T23:59")
    assert board.summary_text(TRANSPORT) == "正常"


def test_the_bulletin_names_lagging_and_overdue_units_and_tasks(scenario):
    _s, board = scenario.states("2023-07", "2023-07-31T23:59")
    # 局安全监督股 sent no form (not 进度滞后: it goes with 材料报送不及时); 物流中心's late form says 推进中
    assert bulletin_paragraphs(board) == [
        "重点任务推进情况（附件1责任措施清单，7月推进情况表截止7月16日）：",
        "区道路运输服务中心：推进滞后1项（T03“学生安全专项整治”），超过完成时限未完成1项（T02“严格监管执法”）。",
        "请推进滞后的单位对照责任措施清单加快推进，按月如实报送推进情况。",
        "局安全监督股未报送7月推进情况表，属材料报送不及时（见上文报送情况），其任务进度无从判断，不计为进度滞后。",
    ]
    assert form_paragraphs(board) == [
        "2023年7月重点任务推进情况表（与月度工作材料同时报送）的报送截止时间为2023年7月16日24时。应报3家，按时报送1家，"
        "迟报1家，未报送1家。",
        "未报送推进情况表的单位：局安全监督股（应报任务1项）。",
        "迟报推进情况表的单位：现代物流中心（7月20日报送，迟报4天）。",
    ]


def test_reminder_lists_only_what_needs_action_with_windows_ending_within_30_days(scenario):
    _s, board = scenario.states("2023-07", "2023-07-31T23:59")
    # T01 is on track: a 催报 never lists it
    assert reminder_lines(board, TRANSPORT) == [
        "已进入完成时限仍报“未启动”、推进滞后的任务1项：T03“学生安全专项整治”（完成时限4月至10月）。请加快推进，按月如实报送进展。",
        "已超过完成时限、未报“已完成”或“阶段性完成”的任务1项：T02“严格监管执法”（完成时限3月至6月）。请尽快完成并报送。",
    ]
    assert reminder_lines(board, LOGISTICS) == []  # its late form says 推进中: nothing to ask for
    _s, board = scenario.states("2023-08", "2023-08-20T09:00")
    assert reminder_lines(board, SAFETY) == [
        "你单位2023年8月重点任务推进情况表至今未报送，应报告进展的任务1项：T01“开展隐患清零行动”（完成时限5月至8月，8月31日到期）。"
        "请尽快填报推进情况表并报送（本通知附有该表）。"]


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
        ("T01", SAFETY, "unreported"), ("T01", TRANSPORT, "on_track"), ("T02", TRANSPORT, "overdue"),
        ("T03", TRANSPORT, "lagging"), ("T04", LOGISTICS, "on_track")]
    assert [(f["unit"], f["state"], f["days_late"]) for f in data["forms"]] == [
        (SAFETY, "unreported", None), (TRANSPORT, "on_time", None), (LOGISTICS, "late", 4)]
    result = runner.invoke(cli, ["tasks", "close", "t01", "--unit", "运输中心", "--note", "核实完成"])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == f"已销号：T01 {TRANSPORT}"
    with Ledger(scenario.cfg.ledger) as ledger:
        closed = [e for e in events(ledger) if e["kind"] == "task_closed"]
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
    assert fills == {("T01", SAFETY): ("未报送\n（牵头）", "FFE4DFEC"), ("T01", TRANSPORT): ("正常推进", "FFC6EFCE"),
                     ("T02", TRANSPORT): ("逾期", "FFFFC7CE"), ("T03", TRANSPORT): ("正常推进", "FFC6EFCE"),
                     ("T04", LOGISTICS): ("未报送", "FFE4DFEC")}
    assert [ws.cell(8, c).value for c in range(1, 7)] == ["8月推进情况表", None, None, "未报送", "按时", "未报送"]
    legend = ws.cell(10, 1).value
    assert "紫色 未报送" in legend and "蓝色 阶段性完成" in legend
    assert ws["C4"].value == "5月至8月\n（即将到期）" and ws["C6"].value == "4月至10月"  # T01 ends in 11 days
    assert ws["E4"].comment.text == "8月报送（推进中）：整改隐患5处"
    assert ws["E5"].comment.text == "5月报送（推进中）：排查客运站12处"
    assert ws["D4"].comment is None  # 局安全监督股 never reported
    assert ws.page_setup.orientation == "landscape" and ws.page_setup.paperSize == 9


def test_every_report_is_kept_for_the_master_workbook_and_superseded_ones_say_so(scenario):
    from pipeline.tasks.state import report_rows

    with Ledger(scenario.cfg.ledger) as ledger:
        rows = report_rows(ledger, scenario.tl, at("2023-05-31T23:59"))
    assert [(r["unit"], r["month"], r["task_id"], r["status_label"], r["current"]) for r in rows] == [
        (TRANSPORT, "2023-05", "T01", "推进中", False), (TRANSPORT, "2023-05", "T02", "推进中", False),
        (TRANSPORT, "2023-05", "T03", "未启动", False),
        (TRANSPORT, "2023-05", "T01", "推进中", True), (TRANSPORT, "2023-05", "T02", "推进中", True),
        (TRANSPORT, "2023-05", "T03", "推进中", True)]


def test_the_judgement_and_the_list_cross_process_boundaries(cfg, seed_list, tmp_path):
    import pickle

    path = filled(tmp_path / "f.xlsx", cfg, seed_list, BUILD, Month(2023, 9), BUILD_SEPT)
    j = _judge(path, cfg, seed_list, BUILD)
    assert pickle.loads(pickle.dumps(j)) == j
    assert pickle.loads(pickle.dumps(seed_list)).by_id["T05"] == seed_list.by_id["T05"]


def test_the_form_a_new_one_replaces(scenario):
    from pipeline.tasks.state import replaced_form_time

    with Ledger(scenario.cfg.ledger) as ledger:
        assert replaced_form_time(ledger, TRANSPORT, Month(2023, 5), at("2023-05-10T09:00")) == at("2023-05-08T10:00")
        assert replaced_form_time(ledger, TRANSPORT, Month(2023, 6), at("2023-06-30T09:00")) is None


def test_a_retyped_form_with_its_own_layout_is_recognised_and_read(cfg, seed_list, tmp_path):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["局基本建设股重点任务推进情况表"])
    ws.append(["填报单位（章）：局基本建设股", None, None, "报告月份", "2023-09"])
    ws.append([])
    ws.append(["编号", "完成情况", "本月进展", "佐证材料"])
    ws.append(["t05", "推进中", "排查码头3处", None])
    ws.append(["T07", "未启动", None, None])
    ws.append(["T17", "已完成", "培训完成", "签到表"])
    ws.append(["填表人：张三"])
    wb.save(tmp_path / "r.xlsx")
    j = _judge(tmp_path / "r.xlsx", cfg, seed_list)
    assert (j.ok, j.unit, j.month, j.issues) == (True, BUILD, 9, [])
    assert [(r.task_id, r.status, r.cell) for r in j.rows] == [("T05", "in_progress", "A5"), ("T07", "unstarted", "A6"),
                                                               ("T17", "completed", "A7")]


def test_the_bulletin_section_reads_back_from_a_docx(scenario):
    import io

    import docx

    from pipeline.monthly.notices import Document, Section

    _s, board = scenario.states("2023-07", "2023-07-31T23:59")
    doc = Document("bulletin", ["关于2023年7月", "重点任务推进情况的通报"], "局属各单位、局机关相关股室", [],
                   scenario.cfg.bureau.name, True,
                   sections=[Section("重点任务推进情况", bulletin_paragraphs(board), criticise=True)])
    text = [p.text for p in docx.Document(io.BytesIO(doc.docx(scenario.cfg.bureau.name, at("2023-07-31T18:00")))).paragraphs]
    assert "区道路运输服务中心：推进滞后1项（T03“学生安全专项整治”），超过完成时限未完成1项（T02“严格监管执法”）。" in text
    assert not any(line.startswith("现代物流中心：") for line in text)  # its late July form says 推进中


def test_count_tasks_is_an_escalation_setting(cfg):
    assert cfg.escalation.count_tasks is True


def test_a_form_with_no_active_task_is_accepted_empty(workdir, tmp_path):
    write_task_list(workdir / "templates" / "annex1_tasks.xlsx", SCENARIO_LIST)  # 公路中心 has none of these
    cfg = config.load(workdir / "config.toml")
    tl = read_task_list(cfg)
    path = write_task_form(tmp_path / "f.xlsx", cfg, tl, ROADS, Month(2023, 5))
    j = _judge(path, cfg, tl, ROADS, "2023-06-20T09:00")
    assert (j.ok, j.unit, j.month, j.rows, j.issues) == (True, ROADS, 5, [], [])


# --- through the intake ------------------------------------------------------------------------------------

def test_a_progress_form_dropped_in_the_inbox_is_recognised_recorded_and_receipted(workdir, cfg, seed_list):
    from helpers import ingest

    folder = workdir / "inbox" / BUILD
    filled(folder / "重点任务推进情况表_9月.xlsx", cfg, seed_list, BUILD, Month(2023, 9), BUILD_SEPT)
    (r,) = ingest(workdir, now="2023-09-15T09:00", arrived="2023-09-15T08:30").files
    assert (r.outcome, r.unit, r.period) == ("accepted", BUILD, "2023年9月")
    db = sqlite3.connect(workdir / "annex2.sqlite")
    assert db.execute("SELECT kind, year, month_to FROM arrivals").fetchall() == [("task_form", 2023, 9)]
    assert db.execute("SELECT task_id, status FROM task_reports ORDER BY task_id").fetchall() == [
        ("T05", "in_progress"), ("T07", "unstarted"), ("T17", "in_progress")]
    assert db.execute("SELECT COUNT(*) FROM submission_values").fetchone() == (0,)  # not an Annex 2
    (receipt,) = (folder / "回执").glob("*.txt")
    text = receipt.read_text(encoding="utf-8-sig")
    assert "结果：已受理" in text and "T05" in text and "报送时间：按时" in text
    # an Annex 2 for the same month is a separate obligation: the form is not its submission
    with Ledger(cfg.ledger) as ledger:
        assert ledger.current() == [] and ledger.first_accepted() == {}


def test_a_form_that_came_while_the_list_was_broken_is_receipted_waits_and_is_judged_once_the_list_is_valid(
        workdir, cfg, seed_list):
    from helpers import ingest

    task_list = workdir / "templates" / "annex1_tasks.xlsx"
    good = task_list.read_bytes()
    task_list.write_bytes(b"not a workbook")  # the clerk is mid-edit
    folder = workdir / "inbox" / BUILD
    filled(folder / "重点任务推进情况表_9月.xlsx", cfg, seed_list, BUILD, Month(2023, 9), BUILD_SEPT)
    (r,) = ingest(workdir, now="2023-09-15T09:00", arrived="2023-09-15T08:30").files
    assert r.outcome == "failed" and [i.code for i in r.issues] == ["E_TASK_LIST"]
    (receipt,) = (folder / "回执").glob("*.txt")
    text = receipt.read_text(encoding="utf-8-sig")
    assert "结果：已收到，暂未校验 —— 局重点任务清单正在更正" in text and "（E_TASK_LIST）" in text
    assert ingest(workdir, now="2023-09-16T09:00").files == []  # still broken: it waits, no retry spent
    task_list.write_bytes(good)
    (r,) = ingest(workdir, now="2023-09-17T09:00").files
    assert (r.outcome, r.unit, r.period) == ("accepted", BUILD, "2023年9月")
    db = sqlite3.connect(workdir / "annex2.sqlite")
    assert db.execute("SELECT outcome, retry_of FROM arrivals ORDER BY id").fetchall() == [("failed", None),
                                                                                           ("accepted", 1)]
    assert db.execute("SELECT task_id, status FROM task_reports ORDER BY task_id").fetchall() == [
        ("T05", "in_progress"), ("T07", "unstarted"), ("T17", "in_progress")]
    (receipt,) = (folder / "回执").glob("*.txt")  # the verdict replaces the waiting receipt
    text = receipt.read_text(encoding="utf-8-sig")
    assert "结果：已受理" in text and "报送时间：按时" in text  # received on the 15th, before the 16th


def test_a_progress_form_with_a_wrong_status_is_rejected_naming_the_cell(workdir, cfg, seed_list):
    from helpers import ingest

    folder = workdir / "inbox" / BUILD
    filled(folder / "表.xlsx", cfg, seed_list, BUILD, Month(2023, 9), {**BUILD_SEPT, "F4": "差不多了"})
    (r,) = ingest(workdir, now="2023-09-15T09:00", arrived="2023-09-15T08:30").files
    assert r.outcome == "rejected" and [(i.code, i.cell) for i in r.issues] == [("E_TASK_STATUS", "F4")]
    text = next((folder / "回执").glob("*.txt")).read_text(encoding="utf-8-sig")
    assert "（E_TASK_STATUS）" in text and "退回" in text


# --- 阶段性完成 (spec 11: “标注具体时间的任务，应在该时间内取得阶段性成效”) ---------------------------------------

@pytest.mark.parametrize("word, june, later", [("阶段性完成", "phase_done", "phase_done"), ("推进中", "on_track", "overdue")])
def test_phase_done_in_the_windows_last_month_meets_it_and_in_progress_then_is_overdue_after(workdir, word, june, later):
    s = Scenario(workdir)  # T02 (运输中心) runs 3月至6月
    s.report(TRANSPORT, "2023-06", "2023-06-14T09:00", {"T01": ("推进中", "整改隐患3处"), "T02": (word, "客运站排查整改完毕"),
                                                        "T03": ("推进中", "宣传1次")})
    assert s.states("2023-06", "2023-06-30T23:59")[0][B] == june
    for month, as_of in (("2023-07", "2023-07-31T23:59"), ("2023-09", "2023-09-30T23:59"), ("2023-12", "2023-12-31T23:59")):
        assert s.states(month, as_of)[0][B] == later  # 阶段性完成: never overdue afterwards


def test_phase_done_before_the_last_month_is_progress_and_does_not_meet_the_window(workdir):
    s = Scenario(workdir)
    s.report(TRANSPORT, "2023-05", "2023-05-10T09:00", {"T01": ("推进中", "已部署"), "T02": ("阶段性完成", "排查客运站12处"),
                                                        "T03": ("推进中", "宣传1次")})
    assert s.states("2023-05", "2023-05-31T23:59")[0][B] == "on_track"
    assert s.states("2023-06", "2023-06-30T23:59")[0][B] == "unreported"  # June's form never came
    assert s.states("2023-07", "2023-07-31T23:59")[0][B] == "overdue"


def test_a_late_phase_done_report_after_the_window_meets_it_from_then_on(workdir):
    s = Scenario(workdir)
    s.report(TRANSPORT, "2023-07", "2023-07-12T09:00", {"T01": ("推进中", "整改隐患8处"), "T03": ("推进中", "宣传1次")})
    assert s.states("2023-07", "2023-07-31T23:59")[0][B] == "overdue"
    s.report(TRANSPORT, "2023-08", "2023-08-10T09:00", {"T01": ("推进中", "整改隐患5处"), "T03": ("推进中", "宣传咨询日")})
    # the August form does not list T02 (its window is over); a corrected June form arrives in August
    s.report(TRANSPORT, "2023-06", "2023-08-11T09:00", {"T01": ("推进中", "整改隐患3处"),
                                                        "T02": ("阶段性完成", "客运站排查整改完毕"), "T03": ("推进中", "宣传1次")})
    assert s.states("2023-08", "2023-08-31T23:59")[0][B] == "phase_done"
    assert s.states("2023-07", "2023-08-10T23:59")[0][B] == "overdue"  # as of before it came: history replays


def test_the_ledger_of_an_older_version_takes_phase_done_after_its_migration(tmp_path):
    """A ledger made before 阶段性完成 existed (migration 6's CHECK) is rebuilt by migration 10, rows kept."""
    from pipeline.storage.migrations import MIGRATIONS, _statements

    path = tmp_path / "old.sqlite"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_utc TEXT NOT NULL)")
    for version, script in MIGRATIONS:
        if version <= 6:
            for statement in _statements(script):
                db.execute(statement)
            db.execute("INSERT INTO schema_migrations VALUES (?, '2023-01-01T00:00:00.000000Z')", (version,))
    db.execute("INSERT INTO arrivals (id, original_name, source, source_path, sha256, size, received_utc, received_rule, "
               "kind, outcome, archived_path, recorded_at, command) VALUES (1, 'f.xlsx', 'inbox', 'inbox/f.xlsx', 'x', 1, "
               "'2023-05-10T01:00:00.000000Z', 'inbox_ctime', 'task_form', 'accepted', 'archive/f.xlsx', 'now', 't')")
    db.execute("INSERT INTO task_reports (arrival_id, task_id, status, progress) VALUES (1, 'T01', 'in_progress', '已部署')")
    with pytest.raises(sqlite3.IntegrityError):
        db.execute("INSERT INTO task_reports (arrival_id, task_id, status) VALUES (1, 'T02', 'phase_done')")
    db.commit()
    db.close()
    with Ledger(path) as ledger:
        ledger.db.execute("INSERT INTO task_reports (arrival_id, task_id, status) VALUES (1, 'T02', 'phase_done')")
        assert ledger.db.execute("SELECT task_id, status, progress FROM task_reports ORDER BY task_id").fetchall() == [
            ("T01", "in_progress", "已部署"), ("T02", "phase_done", "")]


# --- a month is judged at its deadline: later forms and 销号 do not rewrite it (issue 25 item 6) ---------------

def test_a_later_form_for_an_earlier_month_does_not_rewrite_it_nor_erase_its_strike(workdir):
    s = Scenario(workdir)  # T04 (物流中心) runs 6月至12月; the task form is due on the 16th
    s.report(LOGISTICS, "2023-10", "2023-10-10T09:00", {"T04": ("未启动", "")})  # on time, lagging: a strike
    s.report(LOGISTICS, "2023-10", "2023-12-05T09:00", {"T04": ("推进中", "排查码头4处")})  # October, in December
    s.report(LOGISTICS, "2023-11", "2023-12-05T10:00", {"T04": ("推进中", "联合检查2次")})  # November, 19 days late
    states, board = s.states("2023-10", "2023-12-06T09:00")
    assert states[D] == "lagging"
    assert board.cell(*D).latest.progress == "排查码头4处"  # shown as October's latest report
    assert board.unit_lists(LOGISTICS)["form"]["state"] == "on_time"
    states, board = s.states("2023-11", "2023-12-06T09:00")
    assert states[D] == "on_track" and board.summary_text(LOGISTICS) == "迟报 19 天"
    with Ledger(s.cfg.ledger) as ledger:
        data = load_task_data(ledger, at("2023-12-06T09:00"))
    # June to September: no form at all; October lagging by its deadline; November 迟报
    assert task_strike_months(s.cfg, s.tl, data, Month(2023, 11))[LOGISTICS] == [
        Month(2023, 6), Month(2023, 7), Month(2023, 8), Month(2023, 9), Month(2023, 10), Month(2023, 11)]


def test_a_close_applies_from_the_moment_it_is_made(workdir):
    s = Scenario(workdir)
    s.report(LOGISTICS, "2023-10", "2023-10-10T09:00", {"T04": ("未启动", "")})
    s.report(LOGISTICS, "2023-11", "2023-11-10T09:00", {"T04": ("推进中", "排查码头4处")})
    with Ledger(s.cfg.ledger) as ledger:  # what `annex2 tasks close T04 --unit 物流中心` does on 20 November
        close_task(ledger, s.tl, "T04", LOGISTICS, "核实完成", at("2023-11-20T10:00"))
    assert s.states("2023-11", "2023-11-20T09:59")[0][D] == "on_track"  # before the close: as it was
    assert s.states("2023-11", "2023-11-20T10:01")[0][D] == "closed"  # made in November
    assert s.states("2023-10", "2023-11-20T10:01")[0][D] == "lagging"  # October was judged before it
    assert s.states("2023-12", "2023-12-20T10:00")[0][D] == "closed"
