"""The template a unit fills in: labels, merges, protection, validations, and formulas a real office program computes."""
import csv
from datetime import datetime
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner
from helpers import run_cli
from office import convert

from pipeline.cli.commands import cli
from pipeline.intake.workspace import init
from pipeline.statistics.template import Header, write_template

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def sheet(tmp_path_factory):
    path = write_template(tmp_path_factory.mktemp("t") / "t.xlsx", "云溪区", Header(year=2024))
    wb = openpyxl.load_workbook(path)
    return wb, wb.active


def test_every_label_of_the_form_is_in_place(sheet):
    _, ws = sheet
    assert ws["A1"].value == "云溪区交通运输系统安全生产督查情况统计表"
    assert ws["A2"].value == "填报单位（章）："
    assert [ws[c].value for c in ("B3", "C3", "E3", "G3")] == [2024, "年", "月至", "月（累计数）"]
    assert ws["A4"].value == "行业领域"
    assert [ws.cell(4, c).value for c in (2, 3, 4, 5, 11)] == ["组织督查组", "组织督查人员", "督查检查单位数", "排查治理隐患", "监管执法"]
    assert [ws.cell(5, c).value for c in range(5, 14)] == [
        "重大隐患数", "其他隐患数", "重大隐患已整改数", "其他隐患已整改数", "重大隐患整改率", "其他隐患整改率",
        "责令限期整改", "行政处罚", "停产停业整顿"]
    assert [ws.cell(6, c).value for c in range(2, 14)] == ["个", "人次", "家", "项", "项", "项", "项", "%", "%", "家", "家", "家"]
    assert [ws.cell(r, 1).value for r in range(7, 15)] == [
        "1.建设领域", "2.烟花爆竹安全", "3.交通安全", "4.文化体育旅游", "5.学生安全", "6.自然灾害", "7.其他", "合计"]
    assert ws["A16"].value == "单位负责人（签字）：" and ws["F16"].value == "填表人（签字）："
    assert ws["A17"].value == "填报日期：" and ws["F17"].value == "联系电话："


def test_group_cells_are_merged(sheet):
    _, ws = sheet
    merged = {str(r) for r in ws.merged_cells.ranges}
    assert {"A1:M1", "A4:A5", "B4:B5", "C4:C5", "D4:D5", "E4:J4", "K4:M4"} <= merged


def test_only_input_cells_are_unlocked_and_the_sheet_is_protected(sheet):
    wb, ws = sheet
    assert ws.protection.sheet is True
    assert ws.protection.password is None
    for cell in ("B2", "B3", "D3", "F3", "B7", "H13", "K7", "M13", "B16", "H16", "B17", "H17"):
        assert ws[cell].protection.locked is False, cell
    for cell in ("A1", "A7", "I7", "J13", "B14", "M14", "E5", "B6"):
        assert ws[cell].protection.locked is not False, cell
    assert wb.custom_doc_props["annex2_template_version"].value == "1"


def test_validations_guard_counts_and_months(sheet):
    _, ws = sheet
    rules = {str(dv.sqref): dv for dv in ws.data_validations.dataValidation}
    assert rules["B7:B13"].type == "whole" and rules["B7:B13"].operator == "greaterThanOrEqual"
    assert rules["B7:B13"].formula1 == "0"
    assert "整数" in rules["B7:B13"].error
    for col in "BCDEFGHKLM":
        assert f"{col}7:{col}13" in rules
    assert "I7:I13" not in rules  # rates are computed, not typed
    assert rules["F3"].type == "whole" and (rules["F3"].formula1, rules["F3"].formula2) == ("1", "12")
    assert rules["D3"].errorTitle == "月份有误"


def test_print_setup_is_a4_landscape_on_one_page(sheet):
    _, ws = sheet
    assert ws.page_setup.orientation == "landscape"
    assert ws.page_setup.paperSize == 9
    assert ws.sheet_properties.pageSetUpPr.fitToPage is True
    # OOXML omits fitToWidth/fitToHeight when they are 1 (its default): one page wide, one page tall
    assert ws.page_setup.fitToWidth in (None, 1) and ws.page_setup.fitToHeight in (None, 1)


@pytest.mark.office
def test_libreoffice_computes_totals_and_rates(tmp_path):
    path = write_template(tmp_path / "t.xlsx", "云溪区", Header(year=2023, month_to=5))
    wb = openpyxl.load_workbook(path)
    ws = wb.active
    # construction: 3 major found, 2 fixed; 10 other found, 10 fixed; traffic: 1 major found, 0 fixed
    for cell, value in {"B7": 2, "C7": 6, "E7": 3, "F7": 10, "G7": 2, "H7": 10, "K7": 1,
                        "B9": 1, "C9": 4, "E9": 1, "F9": 5, "H9": 2, "M9": 1}.items():
        ws[cell] = value
    wb.save(tmp_path / "filled.xlsx")
    out = convert(tmp_path / "filled.xlsx", 'csv:Text - txt - csv (StarCalc):44,34,76', tmp_path / "out")
    rows = list(csv.reader(out.read_text(encoding="utf-8-sig").splitlines()))
    total = rows[13]
    assert total[0] == "合计"
    assert total[1:14] == ["3", "10", "0", "4", "15", "2", "12", "50.0", "80.0", "1", "0", "1"]
    assert rows[6][8:10] == ["66.7", "100.0"]   # construction rates
    assert rows[8][8:10] == ["0.0", "40.0"]     # traffic rates
    assert rows[7][8:10] == ["—", "—"]          # fireworks: nothing found


def test_committed_template_carries_no_year_and_is_what_init_writes(tmp_path):
    # The committed template (and the one `annex2 init` writes) leaves the year to the unit: a year written
    # in it goes stale in January (issue 22). Otherwise it is cell for cell what the template writer makes.
    committed = openpyxl.load_workbook(REPO / "templates" / "annex2.xlsx").active
    assert committed["B3"].value is None
    init(tmp_path / "work")
    fresh = openpyxl.load_workbook(tmp_path / "work" / "templates" / "annex2.xlsx").active
    cells = lambda ws: {(c.coordinate, c.value, c.protection.locked, c.number_format)
                        for row in ws.iter_rows() for c in row}
    assert cells(committed) == cells(fresh)
    assert {str(r) for r in committed.merged_cells.ranges} == {str(r) for r in fresh.merged_cells.ranges}


def test_template_command_uses_the_reporting_year_not_the_calendar_year(tmp_path, monkeypatch):
    init(tmp_path / "work")
    cfg_path = tmp_path / "work" / "config.toml"
    shipped = cfg_path.read_text(encoding="utf-8")
    cfg_path.write_text(shipped.replace('start = "2023-01"', 'start = "2024-04"\nend = "2024-12"', 1), encoding="utf-8")
    monkeypatch.chdir(tmp_path / "work")
    monkeypatch.setattr("pipeline.cli.workfolder.now_in", lambda cfg: datetime(2025, 2, 3, 9, 0, tzinfo=cfg.bureau.tz))
    result = CliRunner().invoke(cli, ["template", "-o", str(tmp_path / "closed.xlsx")])
    assert result.exit_code == 0, result.output
    ws = openpyxl.load_workbook(tmp_path / "closed.xlsx").active
    assert (ws["B3"].value, ws["D3"].value, ws["F3"].value) == (2024, None, None)  # the period ended with 2024
    cfg_path.write_text(shipped.replace('start = "2023-01"', 'start = "2024-04"', 1), encoding="utf-8")
    CliRunner().invoke(cli, ["template", "-o", str(tmp_path / "open.xlsx")])
    assert openpyxl.load_workbook(tmp_path / "open.xlsx").active["B3"].value == 2025  # an open period: this year


def test_template_prefilled_for_a_unit_and_month(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["template", "--unit", "执法大队", "--month", "2023-05"])
    assert result.exit_code == 0, result.output
    path = tmp_path / "附件2_交通运输综合行政执法大队_2023年5月.xlsx"
    ws = openpyxl.load_workbook(path).active
    assert ws["B2"].value == "交通运输综合行政执法大队"
    assert (ws["B3"].value, ws["D3"].value, ws["F3"].value) == (2023, 1, 5)


def test_template_refuses_an_unknown_unit(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["template", "--unit", "不存在的单位"])
    assert result.exit_code == 2
    assert "不存在的单位" in result.output


def test_a_template_written_to_a_full_disk_is_one_chinese_sentence_and_exit_1(workdir):
    result = run_cli(workdir, "template", "-o", "/dev/full")
    assert result.returncode == 1, result.stderr
    assert "错误：无法写入 /dev/full（磁盘空间不足），本次输出没有生成。" in result.stderr
    assert "Traceback" not in result.stderr and "内部错误" not in result.stderr
