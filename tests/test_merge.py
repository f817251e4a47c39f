"""`annex2 merge` and `annex2 export`: the numbers leadership reads, checked by hand, by openpyxl and by a
real office program; safe to open; published whole."""
import csv
import io
import re
import subprocess
import zipfile
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner
from helpers import at, built_once, copy_into, report
from office import convert

from pipeline.cli.commands import cli
from pipeline.core import config
from pipeline.monthly.dataset import load
from pipeline.statistics.validate import validate_bytes
from pipeline.storage.ledger import Ledger

EXEC = "交通运输综合行政执法大队"
QUALITY = "交通质量和安全监督站"
BUILD = "局基本建设股"
LOGISTICS = "现代物流中心"
AS_OF = "2023-05-31T18:00"


def merge(work, month="2023-05", as_of=AS_OF):
    result = CliRunner().invoke(cli, ["merge", "--month", month, "--as-of", as_of])
    assert result.exit_code == 0, result.output
    return result


def leadership(work, month="2023-05"):
    y, m = month.split("-")
    return work / "outbox" / month / f"安全生产督查情况汇总_{y}年{int(m)}月.xlsx"


def build_may(workdir):
    """Three units count for May: the brigade (sample figures), the quality station (traffic inspectors 30
    instead of 20) and the construction section, whose first file (traffic inspectors 100) was corrected.
    The logistics centre was rejected; the approval section's file came after the as-of moment."""
    report(workdir, EXEC, "2023-05-20T10:00")
    report(workdir, QUALITY, "2023-05-21T10:00", unit="质监站", cells={("traffic", "inspectors"): 30})
    report(workdir, BUILD, "2023-05-22T10:00", unit="基建股", cells={("traffic", "inspectors"): 100})
    report(workdir, BUILD, "2023-05-25T10:00", unit="基建股")  # the correction: sample figures
    report(workdir, LOGISTICS, "2023-05-22T11:00", unit="物流中心", cells={("traffic", "major_fixed"): 5})
    report(workdir, "行政审批股", "2023-06-02T10:00", unit="审批股", now="2023-06-02T10:00")
    merge(workdir)


@pytest.fixture(scope="module")
def may_built(tmp_path_factory):
    return built_once(tmp_path_factory, build_may)


@pytest.fixture
def may(may_built, workdir):
    return copy_into(may_built, workdir)


def test_summary_sheet_holds_the_district_totals(may):
    ws = openpyxl.load_workbook(leadership(may))["汇总"]
    assert ws["A1"].value == "云溪区交通运输系统安全生产督查情况统计表"
    assert ws["A3"].value == "2023年 1月至 5月（累计数）"
    assert [ws.cell(r, 1).value for r in range(7, 15)][-1] == "合计"
    total = [ws.cell(14, c).value for c in range(2, 14)]
    # by hand: 3 × the sample column sums, inspectors 53 + 63 + 53 (the superseded 100 is not counted)
    assert total[:7] == [42, 169, 174, 12, 150, 9, 129]
    assert total[9:] == [30, 12, 3]
    assert total[7] == pytest.approx(0.75) and total[8] == pytest.approx(0.86)  # 9/12, 129/150
    assert ws.cell(14, 9).number_format == "0.0%"
    assert ws.cell(9, 3).value == 70  # traffic inspectors: 20 + 30 + 20
    assert ws.cell(13, 9).value == "—"  # 其他: nothing found, no rate
    coverage = ws["A16"].value
    assert coverage.startswith("已报 3/9 家；未纳入：")
    assert f"{LOGISTICS}（逾期未报）" in coverage and "行政审批股（逾期未报）" in coverage
    assert EXEC not in coverage


def test_timeliness_sheet_reuses_status(may):
    ws = openpyxl.load_workbook(leadership(may))["报送情况"]
    rows = {ws.cell(r, 2).value: [ws.cell(r, c).value for c in range(3, 12)] for r in range(3, 12)}
    assert rows[EXEC][:2] == ["按时", "2023-05-20 10:00"]
    assert rows[BUILD][:2] == ["按时", "2023-05-22 10:00"]  # the correction keeps the first time
    assert rows[LOGISTICS][0] == "逾期未报" and rows[LOGISTICS][8] == 1  # one rejected attempt
    assert rows[EXEC][4] == "逾期未报"  # both obligations side by side: no work materials by the 16th
    assert ws.cell(3, 3).fill.fgColor.rgb.endswith("FFC7CE")  # 局安全监督股 overdue: red


def test_master_workbook_has_every_submission_and_every_file(may):
    wb = openpyxl.load_workbook(may / "outbox" / "master.xlsx")
    ledger_sheet = wb["台账"]
    assert list(ledger_sheet.tables) == ["台账"]
    assert ledger_sheet.tables["台账"].autoFilter is not None
    assert ledger_sheet.max_row == 1 + 3 * 7
    audit = wb["文件记录"]
    results = [audit.cell(r, 7).value for r in range(3, audit.max_row + 1)]
    assert sorted(results) == sorted(["受理", "受理", "已被更正替代", "受理", "退回"])  # June's file is after as-of
    rejected_row = next(r for r in range(3, audit.max_row + 1) if audit.cell(r, 7).value == "退回")
    assert audit.cell(rejected_row, 8).value == "E_FIXED_GT_FOUND"
    # the received-time rule in words (found by a scan of the inbox), not its key inbox_ctime
    assert {audit.cell(r, 3).value for r in range(3, audit.max_row + 1)} == {"文件放入收件箱的时间"}


def test_a_past_month_is_reproduced_as_of_its_moment(may):
    merge(may, as_of="2023-05-23T12:00")  # before the correction arrived
    ws = openpyxl.load_workbook(leadership(may))["汇总"]
    assert ws.cell(9, 3).value == 150  # 20 + 30 + 100: the first construction file was current then


def test_increments_and_trend_with_a_skipped_month(workdir):
    for month, inspectors in ((1, 4), (2, 9), (4, 20), (5, 25)):  # March skipped
        report(workdir, EXEC, f"2023-{month:02d}-20T10:00", month_to=month, cells={("traffic", "inspectors"): inspectors})
    cfg = config.load(workdir / "config.toml")
    with Ledger(cfg.ledger) as ledger:
        inc = load(cfg, ledger, at(AS_OF)).increments()
    traffic = inc[inc["sector"] == "traffic"]
    assert traffic["label"].tolist() == ["1月", "2月", "3–4月（跨2个月）", "5月"]
    assert traffic["inspectors"].tolist() == [4, 5, 11, 5]
    assert 3 not in traffic["month"].tolist()  # the skipped month's own increment is unknown, not 0
    merge(workdir)
    ws = openpyxl.load_workbook(leadership(workdir))["月度趋势"]
    months = {ws.cell(r, 1).value: [ws.cell(r, c).value for c in range(2, 7)] for r in range(4, 9)}
    # units, spanning units, found, fixed, inspectors: sample totals in January, then only traffic moves
    assert months["1月"] == [1, 0, 54, 46, 37]
    assert months["2月"] == [1, 0, 0, 0, 5]
    assert months["3月"] == [0, 0, None, None, None]
    assert months["4月"] == [1, 1, 0, 0, 11]
    unit_rows = [[c.value for c in row] for row in openpyxl.load_workbook(leadership(workdir))["各单位月增量"].iter_rows()
                 if row[0].value == EXEC]
    assert [(r[1], r[4]) for r in unit_rows] == [("1月", 37), ("2月", 5), ("3–4月（跨2个月）", 11), ("5月", 5)]
    assert len(openpyxl.load_workbook(leadership(workdir))["月度趋势"]._charts) == 2


@pytest.mark.office
def test_libreoffice_prints_and_recomputes_the_leadership_workbook(may, tmp_path):
    book = leadership(may)
    pdf = convert(book, "pdf", tmp_path / "pdf")
    info = subprocess.run(["pdfinfo", "-f", "1", "-l", "1", str(pdf)], capture_output=True, text=True).stdout
    width, height = map(float, re.search(r"Page\s+1 size:\s+([\d.]+) x ([\d.]+)", info).groups())
    assert (round(width), round(height)) == (842, 595)  # A4 landscape
    page1 = subprocess.run(["pdftotext", "-f", "1", "-l", "1", str(pdf), "-"], capture_output=True, text=True).stdout
    flat = "".join(page1.split())
    assert "合计" in flat and "已报3/9家" in flat  # the whole form and its coverage line on page 1
    assert "4216917412150912975.0%86.0%30123" in flat  # the 合计 row, in order
    fonts = subprocess.run(["pdffonts", str(pdf)], capture_output=True, text=True).stdout
    assert re.search(r"(CJK|Noto|WenQuanYi|Droid).*\byes\b", fonts), fonts
    table = convert(book, 'csv:Text - txt - csv (StarCalc):44,34,76', tmp_path / "csv")
    rows = list(csv.reader(io.StringIO(table.read_text(encoding="utf-8-sig"))))
    total = next(r for r in rows if r and r[0] == "合计")
    assert total[1:8] == ["42", "169", "174", "12", "150", "9", "129"]


HOSTILE = ['=HYPERLINK("evil.example","点我").xlsx', "@SUM(1+1).xlsx", "+cmd.xlsx"]


def test_hostile_text_never_becomes_a_formula_or_link(workdir):
    for i, name in enumerate(HOSTILE):
        report(workdir, EXEC, f"2023-05-2{i}T10:00", name=name, month_to=5,
               cells={("traffic", "major_fixed"): 5} if i == 0 else {("other", "penalties"): i})
    merge(workdir)
    for book in (workdir / "outbox" / "master.xlsx", leadership(workdir)):
        with zipfile.ZipFile(book) as z:
            for part in z.namelist():
                if part.startswith("xl/worksheets/") and part.endswith(".xml"):
                    xml = z.read(part).decode()
                    assert "<f>" not in xml and "<f " not in xml, (book.name, part)
                    assert "hyperlink" not in xml.lower(), (book.name, part)
    audit = openpyxl.load_workbook(workdir / "outbox" / "master.xlsx")["文件记录"]
    names = {audit.cell(r, 5).value: audit.cell(r, 5).data_type for r in range(3, audit.max_row + 1)}
    assert names == {name: "s" for name in HOSTILE}


def test_a_locked_target_keeps_the_old_file_and_writes_an_alternative(may, monkeypatch):
    import pipeline.storage.publish as publish_mod

    book = leadership(may)
    old = book.read_bytes()
    real = publish_mod._replace

    def locked(src, dst):
        if Path(dst) == book:
            raise PermissionError(13, "The process cannot access the file because it is being used")
        real(src, dst)

    monkeypatch.setattr(publish_mod, "_replace", locked)
    result = CliRunner().invoke(cli, ["merge", "--month", "2023-05", "--as-of", "2023-05-31T20:00"])
    assert result.exit_code == 0
    assert book.read_bytes() == old
    alternatives = [p for p in book.parent.glob("安全生产督查情况汇总_2023年5月_*.xlsx")]
    assert len(alternatives) == 1
    assert openpyxl.load_workbook(alternatives[0])["汇总"].cell(14, 3).value == 169
    assert "正被其他程序打开" in result.output and alternatives[0].name in result.output
    assert not list(book.parent.glob(".tmp-*"))


def test_exported_annex2_validates_one_level_up_with_the_same_totals(may, tmp_path):
    out = tmp_path / "云溪区_附件2_2023年5月.xlsx"
    result = CliRunner().invoke(cli, ["export", "--month", "2023-05", "--as-of", AS_OF, "--annex2", str(out)])
    assert result.exit_code == 0, result.output
    city_text = config.default_config_text().replace(
        'name = "岳阳市云溪区交通运输局"', 'name = "岳阳市交通运输局"').replace(
        'short_name = "云溪区"', 'short_name = "岳阳市"') + '\n[[units]]\nname = "岳阳市云溪区交通运输局"\naliases = ["云溪区交通运输局"]\n'
    city = config.parse(city_text, tmp_path / "city" / "config.toml")
    v = validate_bytes(out.read_bytes(), city, at("2023-06-05T10:00"))
    assert [i for i in v.issues if i.severity == "error"] == []
    assert (v.unit, v.year, v.month_from, v.month_to) == ("岳阳市云溪区交通运输局", 2023, 1, 5)
    total = v.values["total"]
    assert [total[k] for k in ("inspection_teams", "inspectors", "units_inspected", "major_hazards", "other_hazards",
                               "major_fixed", "other_fixed")] == [42, 169, 174, 12, 150, 9, 129]
    assert total["major_fix_rate"] == 75.0
    ws = openpyxl.load_workbook(out).active
    assert ws["B2"].value == "岳阳市云溪区交通运输局" and ws["H16"].value == "孟致红"


def test_csv_export_has_the_spec_columns(may, tmp_path):
    out = tmp_path / "may.csv"
    # --labels keys: the spec's keys for scripts (Chinese headers are the default since issue 22)
    result = CliRunner().invoke(cli, ["export", "--month", "2023-05", "--as-of", AS_OF, "--csv", str(out),
                                      "--labels", "keys"])
    assert result.exit_code == 0
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert rows[0] == ["unit", "year", "month_from", "month_to", "sector", "inspection_teams", "inspectors",
                       "units_inspected", "major_hazards", "other_hazards", "major_fixed", "other_fixed",
                       "major_fix_rate", "other_fix_rate", "rectification_orders", "penalties", "suspensions",
                       "district_note"]  # spec 12: what the total carries forward (nothing here: no earlier month)
    assert len(rows) == 1 + 3 * 7
    assert {r[0] for r in rows[1:]} == {EXEC, QUALITY, BUILD}
    quality_traffic = next(r for r in rows if r[0] == QUALITY and r[4] == "traffic")
    assert quality_traffic == [QUALITY, "2023", "1", "5", "traffic", "5", "30", "30", "2", "25", "1", "20", "50.0",
                               "80.0", "6", "3", "1", ""]
    fireworks = next(r for r in rows if r[0] == EXEC and r[4] == "fireworks")
    assert fireworks[12] == ""  # no major hazard found: no rate


def test_export_needs_exactly_one_target(workdir):
    assert CliRunner().invoke(cli, ["export", "--month", "2023-05"]).exit_code == 2
