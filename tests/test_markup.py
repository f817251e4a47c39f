"""The marked-up copy a unit gets back looks like its form: an .xlsx keeps its own merges, borders and
formulas with the wrong cells red and commented; an .xls comes back on our template's layout; the first
sheet lists the problems in Chinese first, the codes after."""
from datetime import datetime
from zoneinfo import ZoneInfo

import openpyxl
import pytest
from factory import make_submission
from office import convert

from pipeline.core import config
from pipeline.reading.markup import write_markup
from pipeline.statistics.template import write_blank
from pipeline.statistics.validate import validate_bytes

NOW = datetime(2023, 5, 25, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))


def marked(tmp_path, path):
    cfg = config.defaults(tmp_path)
    data = path.read_bytes()
    v = validate_bytes(data, cfg, NOW)
    out = write_markup(tmp_path / "marked.xlsx", v.workbook, v.issues, path.name, source=data, located=v.located,
                       blank=write_blank)
    return v, openpyxl.load_workbook(out)


def borders(ws):
    return {c.coordinate: (c.border.left.style, c.border.right.style, c.border.top.style, c.border.bottom.style)
            for row in ws.iter_rows() for c in row}


def formulas(ws):
    return {c.coordinate: c.value for row in ws.iter_rows() for c in row if c.data_type == "f"}


def test_a_rejected_template_xlsx_keeps_its_form(tmp_path):
    path = make_submission(tmp_path / "附件2_执法大队.xlsx", cells={("traffic", "major_fixed"): 5},
                           total={"inspectors": 99})
    book = openpyxl.load_workbook(path)
    book.active["O20"] = '=WEBSERVICE("http://example.invalid/x")'  # reaches out: must not survive
    book.active["O21"] = "=[1]Sheet1!A1"  # another workbook
    book.active["O22"] = "=SUM(B7:B13)*2"  # plain arithmetic: kept
    book.save(path)
    v, copy = marked(tmp_path, path)
    assert [(i.code, i.cell) for i in v.issues] == [("E_FIXED_GT_FOUND", "G9"), ("E_TOTAL", "C14")]
    original = openpyxl.load_workbook(path)["附件2"]
    ws = copy["附件2"]
    assert copy.sheetnames == ["错误说明", "附件2"]
    assert sorted(map(str, ws.merged_cells.ranges)) == sorted(map(str, original.merged_cells.ranges))
    assert "E4:J4" in map(str, ws.merged_cells.ranges)  # the 排查治理隐患 group header, as in the template
    assert borders(ws) == borders(original)
    kept = formulas(original)
    del kept["O20"], kept["O21"]
    assert formulas(ws) == kept
    assert ws["C14"].value == 99  # the unit's typed 合计 stays what it typed, marked
    assert ws["I14"].value.startswith("=IFERROR(") and ws["M14"].value == "=SUM(M7:M13)" and ws["O22"].value == "=SUM(B7:B13)*2"
    assert ws["O20"].value is None and ws["O21"].value is None  # no cached value: nothing left of them
    for ref, says in (("G9", "大于 重大隐患数 2"), ("C14", "七个行业领域相加为 53")):
        assert ws[ref].fill.fgColor.rgb == "FFFF7C80", ref
        assert says in ws[ref].comment.text, ref
    untouched = [c.coordinate for row in ws.iter_rows() for c in row
                 if c.coordinate not in ("G9", "C14") and c.fill.fgColor.rgb != original[c.coordinate].fill.fgColor.rgb]
    assert untouched == []
    notes = copy["错误说明"]
    assert [c.value for c in notes[3]] == ["序号", "级别", "问题", "工作表", "单元格", "说明", "代码"]
    assert [c.value for c in notes[4]][:5] == [1, "错误", "已整改数大于隐患数", "附件2", "G9"]
    assert notes["G4"].value == "E_FIXED_GT_FOUND" and notes["F4"].value.startswith("G9 交通安全·重大隐患已整改数")
    assert copy.active.title == "错误说明"


@pytest.mark.office
def test_an_xls_comes_back_on_the_template_layout(tmp_path):
    (tmp_path / "src").mkdir()
    retyped = make_submission(tmp_path / "src" / "附件2_执法大队.xlsx", layout="retyped", unit="执法大队",
                              cells={("traffic", "major_fixed"): 5, ("fireworks", "inspectors"): "若干"})
    xls = convert(retyped, "xls", tmp_path / "xls", recalc=False)
    v, copy = marked(tmp_path, xls)
    # in the retyped table the form starts at C4: traffic is row 12, 重大隐患已整改数 column I, 督查人员 column E
    assert [(i.code, i.cell) for i in v.issues] == [("E_VALUE_TYPE", "E11"), ("E_FIXED_GT_FOUND", "I12")]
    assert copy.sheetnames == ["错误说明", "附件2"]
    ws = copy["附件2"]
    assert ws["A1"].value.replace("\n", "") == "云溪区交通运输系统安全生产督查情况统计表"
    assert [ws.cell(r, 1).value for r in range(7, 15)] == ["1.建设领域", "2.烟花爆竹安全", "3.交通安全", "4.文化体育旅游",
                                                          "5.学生安全", "6.自然灾害", "7.其他", "合计"]
    assert "E4:J4" in map(str, ws.merged_cells.ranges) and "B2:F2" in map(str, ws.merged_cells.ranges)
    assert (ws["B2"].value, ws["B3"].value, ws["D3"].value, ws["F3"].value) == ("执法大队", 2023, 1, 5)
    # the unit's values at the template's places: traffic (row 9) as in the sample, its wrong 5 in G9
    assert [ws.cell(9, c).value for c in range(2, 8)] == [5, 20, 30, 2, 25, 5]
    assert ws["C8"].value == "若干"
    assert ws["B14"].value == "=SUM(B7:B13)"
    for ref in ("G9", "C8"):
        assert ws[ref].fill.fgColor.rgb == "FFFF7C80", ref
        assert ws[ref].comment is not None, ref
    notes = copy["错误说明"]
    assert [(notes.cell(r, 5).value, notes.cell(r, 7).value) for r in (4, 5)] == [
        ("C8（原表 E11）", "E_VALUE_TYPE"), ("G9（原表 I12）", "E_FIXED_GT_FOUND")]


def test_only_a_forms_own_kind_of_formula_is_kept():
    from pipeline.reading.marks import safe_formula

    kept = ["=SUM(B7:B13)", '=IFERROR(IF(N(F9)=0,"—",ROUND(N(G9)/N(F9)*100,1)),"—")', "=附件2!$A$1:$M$17"]
    dropped = ['=WEBSERVICE("http://x")', "=[1]Sheet1!A1", "=cmd|' /c calc'!A1", '=HYPERLINK("http://x","点我")',
               "=INDIRECT(A1)"]
    assert [safe_formula(f) for f in kept] == [True, True, True]
    assert [safe_formula(f) for f in dropped] == [False] * 5
