"""Carry-forward (spec 12): the district total of a month includes a unit's latest cumulative figures of the same
year when it has not reported that month, marked on every output that shows the total; `[merge] carry_forward =
false` leaves the unit out, as the coverage note says."""
import csv
import io
import json

import openpyxl
import pytest
from click.testing import CliRunner
from helpers import built_once, copy_into, report, set_config

from pipeline.cli.commands import cli

EXEC = "交通运输综合行政执法大队"
LOGISTICS = "现代物流中心"
AS_OF = "2023-05-31T18:00"
MARK = "含沿用：现代物流中心（沿用4月累计数）"
# The seven units that sent nothing at all, in config order.
SILENT = ["局安全监督股", "局基本建设股", "局计划统计股", "行政审批股", "交通质量和安全监督站", "区道路运输服务中心",
          "区公路建设养护中心"]


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def build(work):
    """The brigade reports May (the sample figures). The logistics centre reports March (traffic inspectors 3)
    and April (traffic inspectors 7), then nothing for May. A unit's December 2022 report is next year's no
    business. Nobody else reports."""
    set_config(work, r'^start = ".*"', 'start = "2022-12"')
    report(work, "局计划统计股", "2022-12-20T10:00", unit="局计划统计股", year=2022, month_to=12)
    report(work, LOGISTICS, "2023-03-20T10:00", unit="物流中心", month_to=3, cells={("traffic", "inspectors"): 3})
    report(work, LOGISTICS, "2023-04-20T10:00", unit="物流中心", month_to=4, cells={("traffic", "inspectors"): 7})
    report(work, EXEC, "2023-05-20T10:00")


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    return built_once(tmp_path_factory, build)


@pytest.fixture
def work(built, workdir):
    return copy_into(built, workdir)


def merged(work):
    result = run("merge", "--month", "2023-05", "--as-of", AS_OF)
    assert result.exit_code == 0, result.output
    return openpyxl.load_workbook(work / "outbox" / "2023-05" / "安全生产督查情况汇总_2023年5月.xlsx")


def test_the_may_total_carries_the_april_figures_of_a_unit_that_sent_none_and_says_so(work):
    wb = merged(work)
    ws = wb["汇总"]
    total = [ws.cell(14, c).value for c in range(2, 14)]
    # by hand: the brigade's sample sums plus the logistics centre's April (the sample, traffic inspectors 7):
    # teams 14 + 14, inspectors 53 + (53 − 20 + 7), units 58 + 58, major 4 + 4, other 50 + 50, fixed 3 + 3, 43 + 43
    assert total[:7] == [28, 93, 116, 8, 100, 6, 86]
    assert total[7] == pytest.approx(0.75) and total[8] == pytest.approx(0.86)  # 6/8, 86/100
    assert ws.cell(9, 3).value == 27  # traffic inspectors: 20 + 7 (April's figures, not March's 3)
    assert ws["A16"].value == ("已报 1/9 家；" + MARK + "；未纳入："
                               + "、".join(f"{u}（逾期未报）" for u in SILENT))
    assert "本月未报的单位沿用其本年最近一次受理的累计数" in ws["A17"].value
    details = [r for r in wb["分单位明细"].iter_rows(min_row=3, values_only=True) if r[0] == LOGISTICS]
    assert {r[1] for r in details} == {"1–4月（沿用）"} and len(details) == 8  # 7 sectors and 合计
    rect = wb["整改进度"]
    assert rect["A1"].value.endswith("\n全区" + MARK)
    assert rect["C10"].value == 8  # 全区 合计 重大隐患: 4 + 4
    assert {rect.cell(r, 1).value for r in range(11, rect.max_row + 1)} == {EXEC, f"{LOGISTICS}（沿用4月累计数）"}
    trend_notes = [c for row in wb["月度趋势"].iter_rows(values_only=True) for c in row
                   if isinstance(c, str) and c.startswith("说明")]
    assert len(trend_notes) == 1 and "5月" + MARK in trend_notes[0]


def test_the_exports_say_what_the_total_carries(work, tmp_path):
    out = tmp_path / "city.xlsx"
    result = run("export", "--month", "2023-05", "--as-of", AS_OF, "--annex2", out)
    assert result.exit_code == 0, result.output
    assert result.stderr == f"注意：2023年5月合计已报 1/9，{MARK}，未含 {'、'.join(SILENT)}。\n"
    sheet = openpyxl.load_workbook(out).active
    notes = [c.value for row in sheet.iter_rows() for c in row if isinstance(c.value, str) and c.value.startswith("说明")]
    assert notes == [f"说明：本表合计已报 1/9，{MARK}，未含 {'、'.join(SILENT)}（数据截至 2023-05-31 18:00）。"]
    assert sheet["C9"].value == 27  # traffic inspectors in the exported form: 20 + 7

    as_csv = run("export", "--month", "2023-05", "--as-of", AS_OF, "--csv", tmp_path / "may.csv",
                 "--labels", "keys", "--json")
    summary = json.loads(as_csv.stdout)
    assert summary["coverage"]["carried"] == [{"unit": LOGISTICS, "month": "2023-04"}]
    assert summary["coverage"]["missing"] == [*SILENT[:6], LOGISTICS, SILENT[6]]
    rows = list(csv.reader(io.StringIO((tmp_path / "may.csv").read_text(encoding="utf-8-sig"))))
    assert rows[0][-1] == "district_note" and len(rows[0]) == 18
    assert {r[0] for r in rows[1:]} == {EXEC} and len(rows) == 1 + 7  # still only units that reported May
    assert {r[-1] for r in rows[1:]} == {"全区合计另" + MARK}


def test_carry_forward_false_leaves_the_unit_out_as_before(work, tmp_path):
    set_config(work, r"^carry_forward = true", "carry_forward = false")
    wb = merged(work)
    ws = wb["汇总"]
    assert [ws.cell(14, c).value for c in range(2, 9)] == [14, 53, 58, 4, 50, 3, 43]  # the brigade alone
    assert ws["A16"].value.startswith("已报 1/9 家；未纳入：局安全监督股（逾期未报）")
    assert f"{LOGISTICS}（逾期未报）" in ws["A16"].value and "沿用" not in ws["A16"].value
    assert "只含本月已受理的报表，未报单位不结转" in ws["A17"].value
    assert "\n" not in wb["整改进度"]["A1"].value
    result = run("export", "--month", "2023-05", "--as-of", AS_OF, "--csv", tmp_path / "may.csv", "--labels", "keys")
    assert result.stderr.startswith("注意：2023年5月合计已报 1/9，未含 局安全监督股、") and "沿用" not in result.stderr
    rows = list(csv.reader(io.StringIO((tmp_path / "may.csv").read_text(encoding="utf-8-sig"))))
    assert {r[-1] for r in rows[1:]} == {""}


def test_a_report_of_last_year_is_not_carried_into_january(work):
    result = run("export", "--month", "2023-01", "--as-of", AS_OF, "--annex2", work / "jan.xlsx", "--json")
    cover = json.loads(result.stdout)["coverage"]
    assert cover["carried"] == [] and "局计划统计股" in cover["missing"]
    december = run("export", "--month", "2022-12", "--as-of", AS_OF, "--annex2", work / "dec.xlsx", "--json")
    assert json.loads(december.stdout)["coverage"]["reported"] == ["局计划统计股"]
