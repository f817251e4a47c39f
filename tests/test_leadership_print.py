"""The leadership workbook does not mislead and prints clean: trend charts with gaps (never 0) where nothing
is known, the first month's cumulative labelled and kept out of the monthly bars, the trend on page 2, no
clipped header, no page without text."""
import re
import subprocess
import zipfile

import openpyxl
import pytest
from click.testing import CliRunner
from helpers import edit_config, report
from lxml import etree
from office import convert

from pipeline.cli.commands import cli
from pipeline.core.textable import display_width as width

EXEC = "交通运输综合行政执法大队"
C = {"c": "http://schemas.openxmlformats.org/drawingml/2006/chart",
     "a": "http://schemas.openxmlformats.org/drawingml/2006/main"}


def leadership(work, month="2023-05"):
    y, m = month.split("-")
    return work / "outbox" / month / f"安全生产督查情况汇总_{y}年{int(m)}月.xlsx"


def charts(book):
    """Each chart as (title, [(series name, {category: value})]) read from the chart XML's caches."""
    out = []
    with zipfile.ZipFile(book) as z:
        for part in sorted(n for n in z.namelist() if re.match(r"xl/charts/chart\d+\.xml$", n)):
            root = etree.fromstring(z.read(part))
            title = "".join(root.xpath("c:chart/c:title//a:t/text()", namespaces=C))
            series = []
            for ser in root.xpath("//c:ser", namespaces=C):
                name = "".join(ser.xpath("c:tx//c:v/text()", namespaces=C))
                cats = {int(p.get("idx")): p.findtext("c:v", namespaces=C)
                        for p in ser.xpath("c:cat//c:pt", namespaces=C)}
                count = int(ser.xpath("c:cat//c:ptCount/@val", namespaces=C)[0])
                vals = {int(p.get("idx")): float(p.findtext("c:v", namespaces=C))
                        for p in ser.xpath("c:val//c:pt", namespaces=C)}
                assert len(cats) == count
                series.append((name, {cats[i]: vals.get(i) for i in range(count)}))
            blanks = root.xpath("c:chart/c:dispBlanksAs/@val", namespaces=C)
            out.append((title, series, blanks[0] if blanks else None))
    return out


@pytest.fixture
def late_start(workdir):
    """Reporting starts in March; the brigade reports March (1–3月, cumulative), skips April, reports May."""
    edit_config(workdir, 'start = "2023-01"', 'start = "2023-03"')
    report(workdir, EXEC, "2023-03-20T10:00", month_to=3, cells={("traffic", "inspectors"): 9})
    report(workdir, EXEC, "2023-05-20T10:00", month_to=5, cells={("traffic", "inspectors"): 25})
    result = CliRunner().invoke(cli, ["merge", "--month", "2023-05", "--as-of", "2023-05-31T18:00"])
    assert result.exit_code == 0, result.output
    return workdir


def test_trend_charts_have_gaps_not_zeros_and_label_the_first_cumulative(late_start):
    book = leadership(late_start)
    (bars, bar_series, bar_blanks), (rates, rate_series, rate_blanks) = charts(book)
    # the bars: monthly increments only; 1–3月 is a cumulative and is left out; April had no report: no bar
    assert bars == "每月新发现与整改的隐患（项），1–3月累计见表"
    # by hand: sample found 3×(1+0+0+2+0+0+0 … ) — the brigade's figures do not change between March and May
    # except traffic inspectors, so the 4–5月 increment of hazards is 0 (a real 0: both months reported)
    assert bar_series == [("发现隐患", {"4月": None, "5月": 0.0}), ("已整改隐患", {"4月": None, "5月": 0.0})]
    assert bar_blanks == "gap"
    # the rates are cumulative from January: a point for each reported month, none for April, none before March
    assert rates == "隐患整改率（1月起累计）"
    names = [name for name, _ in rate_series]
    assert names == ["重大隐患整改率", "其他隐患整改率"]
    major = rate_series[0][1]
    assert list(major) == ["1–3月累计", "4月", "5月"]
    assert major["4月"] is None and major["1–3月累计"] == pytest.approx(0.75) and major["5月"] == pytest.approx(0.75)
    assert rate_blanks == "gap"
    ws = openpyxl.load_workbook(book)["月度趋势"]
    table = [[c.value for c in row] for row in ws.iter_rows(min_row=4, max_row=6, max_col=7)]
    # the sample's column sums (found 12 + 42, fixed 9 + 37; inspectors 33 outside traffic + 9), spanning 1–3月
    assert table == [["1–3月累计", 1, 1, 54, 46, 42, 58],
                     ["4月", 0, 0, None, None, None, None],
                     ["5月", 1, 1, 0, 0, 16, 0]]


def test_trend_is_the_second_sheet(late_start):
    assert openpyxl.load_workbook(leadership(late_start)).sheetnames[:3] == ["汇总", "月度趋势", "报送情况"]


def header_fits(ws, row):
    """Each header cell of `row` shows whole: its width (merged cells summed) times the lines its row height
    allows (wrapped headers) holds the text's width (a Chinese character counts two)."""
    widths = {c: ws.column_dimensions[openpyxl.utils.get_column_letter(c)].width for c in range(1, ws.max_column + 1)}
    problems = []
    for cell in ws[row]:
        if not isinstance(cell.value, str) or not cell.value:
            continue
        span = next((r for r in ws.merged_cells.ranges if cell.coordinate in r), None)
        cols = range(span.min_col, span.max_col + 1) if span else [cell.column]
        rows = range(span.min_row, span.max_row + 1) if span else [row]
        room = sum(widths[c] for c in cols)
        height = sum(ws.row_dimensions[r].height or 15 for r in rows)
        lines = max(1, int(height // 13.5)) if cell.alignment.wrap_text else 1
        per_line = int(room // 2) * 2  # whole Chinese characters on a line
        if per_line * lines < width(cell.value):
            problems.append((cell.coordinate, cell.value, room, lines))
    return problems


def test_no_header_is_clipped(late_start):
    wb = openpyxl.load_workbook(leadership(late_start))
    header_rows = {"汇总": [4, 5], "月度趋势": [2, 3], "报送情况": [2], "分单位明细": [2], "整改进度": [2],
                   "各单位月增量": [2]}
    for name, rows in header_rows.items():
        for row in rows:
            assert header_fits(wb[name], row) == [], name
    ws = wb["报送情况"]
    col = next(c.column_letter for c in ws[2] if c.value == "本年迟报/逾期（月）")
    assert ws.column_dimensions[col].width >= width("本年迟报/逾期（月）") == 19
    assert wb["校验提示"]["A1"].value == "本月无校验提示：已受理的报表没有待核对的问题。"


@pytest.mark.office
def test_every_printed_page_has_text_and_the_trend_is_on_page_two(late_start, tmp_path):
    pdf = convert(leadership(late_start), "pdf", tmp_path / "pdf")
    count = int(re.search(r"Pages:\s+(\d+)", subprocess.run(["pdfinfo", str(pdf)], capture_output=True,
                                                            text=True).stdout).group(1))
    pages = [subprocess.run(["pdftotext", "-f", str(n), "-l", str(n), str(pdf), "-"], capture_output=True,
                            text=True).stdout for n in range(1, count + 1)]
    for n, page in enumerate(pages, start=1):
        body = re.sub(r"第\d+页，共\d+页", "", "".join(page.split()))
        assert body, f"page {n} of {count} has no text but its footer"
    assert "合计" in "".join(pages[0].split())
    assert "月度趋势" in "".join(pages[1].split()) and "1–3月累计" in "".join(pages[1].split())
    sizes = re.findall(r"size:\s+([\d.]+) x ([\d.]+)", subprocess.run(
        ["pdfinfo", "-f", "1", "-l", str(count), str(pdf)], capture_output=True, text=True).stdout)
    assert {(round(float(w)), round(float(h))) for w, h in sizes} == {(842, 595)}  # every page A4 landscape
