"""Each rule of spec section 5 from a workbook built here, with the exact cell — over every layout units send:
our template, a table retyped at an offset (with and without the units row), the form behind a cover sheet,
and the same files saved by LibreOffice as .xls and .ods (the expected cell moves with the layout)."""
from datetime import datetime, timezone
from pathlib import Path

import pytest
from factory import SAMPLE_TOTAL, make_submission

from pipeline.core import config
from pipeline.statistics.validate import validate_bytes

NOW = datetime(2023, 6, 10, 12, 0, tzinfo=timezone.utc)
CFG = config.defaults()
EXECUTIVE = "交通运输综合行政执法大队"

# layout name -> make_submission arguments
LAYOUTS = {
    "template": dict(layout="template"),
    "cover": dict(layout="template", cover=True),
    "retyped": dict(layout="retyped", offset=(3, 2)),
    "retyped_no_units": dict(layout="retyped", offset=(3, 2), units_row=False),
}

# (case, make_submission overrides, expected (code, cell) per layout). Cells worked out by hand:
# template: sectors in rows 7–13, 合计 14, columns B..M; retyped at offset (3,2): label column C,
# metrics D..O, sectors in rows 10–16 (9–15 without the units row), 合计 17 (16), footer 19/20 (18/19).
CASES = [
    ("fixed_gt_found", dict(cells={("traffic", "major_fixed"): 5}),
     "E_FIXED_GT_FOUND", {"template": "G9", "cover": "G9", "retyped": "I12", "retyped_no_units": "I11"}),
    ("not_a_number", dict(cells={("fireworks", "inspectors"): "若干"}),
     "E_VALUE_TYPE", {"template": "C8", "cover": "C8", "retyped": "E11", "retyped_no_units": "E10"}),
    ("negative", dict(cells={("student", "penalties"): -1}),
     "E_NEGATIVE", {"template": "L11", "cover": "L11", "retyped": "N14", "retyped_no_units": "N13"}),
    ("fraction", dict(cells={("other", "units_inspected"): 2.5}),
     "E_FRACTION", {"template": "D13", "cover": "D13", "retyped": "F16", "retyped_no_units": "F15"}),
    ("total", dict(total={"inspectors": 99}),
     "E_TOTAL", {"template": "C14", "cover": "C14", "retyped": "E17", "retyped_no_units": "E16"}),
    ("rate", dict(rates={("construction", "major_fix_rate"): "50%"}),
     "W_RATE", {"template": "I7", "cover": "I7", "retyped": "K10", "retyped_no_units": "K9"}),
    ("inspectors_lt_teams", dict(cells={("natural_disaster", "inspectors"): 1}),
     "W_INSPECTORS_LT_TEAMS", {"template": "C12", "cover": "C12", "retyped": "E15", "retyped_no_units": "E14"}),
    ("unknown_unit", dict(unit="某某运输公司"),
     "E_UNIT_UNKNOWN", {"template": "B2", "cover": "B2", "retyped": "C5", "retyped_no_units": "C5"}),
    ("month_13", dict(month_to=13),
     "E_PERIOD", {"template": "F3", "cover": "F3", "retyped": "C6", "retyped_no_units": "C6"}),
    ("from_march", dict(month_from=3),
     "W_FROM_MONTH", {"template": "F3", "cover": "F3", "retyped": "C6", "retyped_no_units": "C6"}),
    ("unsigned", dict(head=None),
     "W_UNSIGNED", {"template": "B16", "cover": "B16", "retyped": "D19", "retyped_no_units": "D18"}),
    ("phone", dict(phone="找办公室"),
     "W_PHONE", {"template": "H17", "cover": "H17", "retyped": "I20", "retyped_no_units": "I19"}),
]


def codes(v):
    return [(i.code, i.cell) for i in v.issues]


# .xls and .ods are LibreOffice's saves of the .xlsx cases: those parameters need soffice.
FORMATS = ["xlsx", pytest.param("xls", marks=pytest.mark.office), pytest.param("ods", marks=pytest.mark.office)]


@pytest.fixture(scope="module")
def xlsx_files(tmp_path_factory):
    """Every case in every layout as .xlsx."""
    root = tmp_path_factory.mktemp("cases")
    made = {}
    for layout, args in LAYOUTS.items():
        for case, overrides, _code, _cells in CASES + [("clean", {}, None, None)]:
            path = make_submission(root / f"{layout}__{case}.xlsx", **{**args, **overrides})
            made[(layout, case, "xlsx")] = path
    return made


@pytest.fixture(scope="module")
def office_files(xlsx_files, tmp_path_factory):
    """The .xlsx cases plus LibreOffice's .xls and .ods of each (one soffice run per format)."""
    root = tmp_path_factory.mktemp("office")
    made = dict(xlsx_files)
    xlsx = sorted(xlsx_files.values())
    for fmt in ("xls", "ods"):
        out = root / fmt
        convert_many(xlsx, fmt, out)
        for path in xlsx:
            layout, case = path.stem.split("__")
            made[(layout, case, fmt)] = out / f"{path.stem}.{fmt}"
    return made


@pytest.fixture
def files(request, xlsx_files):
    """The cases in the test's format; LibreOffice is started only for a test that asks for .xls or .ods."""
    fmt = request.node.callspec.params.get("fmt", "xlsx")
    return xlsx_files if fmt == "xlsx" else request.getfixturevalue("office_files")


def convert_many(paths, fmt, outdir):
    # One soffice process for all files: starting LibreOffice costs seconds.
    import subprocess
    import tempfile

    from office import _RECALC_ALWAYS, soffice

    outdir.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as profile:
        (Path(profile) / "user").mkdir()
        (Path(profile) / "user" / "registrymodifications.xcu").write_text(_RECALC_ALWAYS, encoding="utf-8")
        subprocess.run([soffice(), f"-env:UserInstallation={Path(profile).as_uri()}", "--headless", "--norestore",
                        "--convert-to", fmt, "--outdir", str(outdir), *map(str, paths)],
                       check=True, capture_output=True, timeout=600)


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_clean_submission_is_accepted_with_its_totals(files, layout, fmt):
    v = validate_bytes(files[(layout, "clean", fmt)].read_bytes(), CFG, NOW)
    assert codes(v) == []
    assert (v.unit, v.year, v.month_from, v.month_to) == (EXECUTIVE, 2023, 1, 5)
    total = v.values["total"]
    assert [total[k] for k in ("inspection_teams", "inspectors", "units_inspected", "major_hazards", "other_hazards",
                               "major_fixed", "other_fixed", "rectification_orders", "penalties", "suspensions")] == SAMPLE_TOTAL
    assert total["major_fix_rate"] == 75.0 and total["other_fix_rate"] == 86.0  # 3/4, 43/50
    assert v.values["other"]["major_fix_rate"] is None  # nothing found: no rate
    assert v.sheet == "附件2"


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("layout", list(LAYOUTS))
@pytest.mark.parametrize("case,overrides,code,cells", CASES, ids=[c[0] for c in CASES])
def test_rule_names_the_cell_in_every_layout(files, layout, fmt, case, overrides, code, cells):
    v = validate_bytes(files[(layout, case, fmt)].read_bytes(), CFG, NOW)
    assert codes(v) == [(code, cells[layout])]
    assert v.ok is code.startswith("W_")
    assert v.issues[0].sheet == "附件2"
    assert v.issues[0].message.startswith(cells[layout] + " ")


def test_messages_a_clerk_understands(tmp_path):
    v = validate_bytes(make_submission(tmp_path / "a.xlsx", cells={("traffic", "major_fixed"): 5}).read_bytes(), CFG, NOW)
    (i,) = v.issues
    assert (i.sector, i.metric, i.severity) == ("traffic", "major_fixed", "error")
    assert i.message == "G9 交通安全·重大隐患已整改数 为 5，大于 重大隐患数 2：请核对后重新报送"


def test_missing_and_unknown_sector_rows(tmp_path):
    dropped = make_submission(tmp_path / "d.xlsx", layout="retyped", drop="traffic")
    v = validate_bytes(dropped.read_bytes(), CFG, NOW)
    assert codes(v) == [("E_SECTOR_MISSING", "C12")]
    assert v.issues[0].sector == "traffic" and "3.交通安全" in v.issues[0].message
    extra = make_submission(tmp_path / "e.xlsx", layout="retyped", units_row=False, extra_row="8.安全宣传")
    assert codes(validate_bytes(extra.read_bytes(), CFG, NOW)) == [("E_SECTOR_MISSING", "C14")]
    renamed = make_submission(tmp_path / "r.xlsx", layout="retyped", labels={"traffic": "3.交通运输"})
    v = validate_bytes(renamed.read_bytes(), CFG, NOW)
    assert sorted(codes(v)) == [("E_SECTOR_MISSING", "C12"), ("E_SECTOR_MISSING", "C12")]
    assert "“3.交通运输”不是附件2的行业领域" in " ".join(i.message for i in v.issues)


def test_sector_label_variants_are_recognised(tmp_path):
    labels = {"construction": "一、建设领域", "fireworks": "烟花爆竹", "culture_tourism": "文体旅游",
              "natural_disaster": "自然灾害防治", "other": "其它"}
    v = validate_bytes(make_submission(tmp_path / "v.xlsx", layout="retyped", labels=labels).read_bytes(), CFG, NOW)
    assert codes(v) == []


@pytest.mark.parametrize("overrides,cell,fragment", [
    (dict(year=2030), "F3", "晚于本月"),
    (dict(year=2022, month_to=12), "F3", "早于开始报送的月份"),
    (dict(month_from=6, month_to=5), "F3", "早于起始月"),
    (dict(month_to=None), "F3", "未填写"),
    (dict(year=23), "F3", "年份不是四位数"),
])
def test_period_problems(tmp_path, overrides, cell, fragment):
    v = validate_bytes(make_submission(tmp_path / "p.xlsx", **overrides).read_bytes(), CFG, NOW)
    assert codes(v) == [("E_PERIOD", cell)]
    assert fragment in v.issues[0].message


def test_period_written_other_ways(tmp_path):
    for text, expected in [("2023年1-5月（累计数）", (2023, 1, 5)), ("２０２３年１月至５月", (2023, 1, 5)),
                           ("统计期间：2023年度 1月到 4月 累计", (2023, 1, 4))]:
        v = validate_bytes(make_submission(tmp_path / "p.xlsx", layout="retyped", period_text=text).read_bytes(), CFG, NOW)
        assert (v.year, v.month_from, v.month_to) == expected, text
        assert v.ok, text


def test_unit_from_the_folder(tmp_path):
    own = CFG.unit_named("执法大队")
    other = CFG.unit_named("质监站")
    path = make_submission(tmp_path / "u.xlsx")
    assert validate_bytes(path.read_bytes(), CFG, NOW, folder_unit=own).ok
    v = validate_bytes(path.read_bytes(), CFG, NOW, folder_unit=other)
    assert codes(v) == [("E_UNIT_MISMATCH", "B2")]
    blank = make_submission(tmp_path / "b.xlsx", unit=None)
    assert codes(validate_bytes(blank.read_bytes(), CFG, NOW)) == [("E_UNIT_UNKNOWN", "B2")]
    v = validate_bytes(blank.read_bytes(), CFG, NOW, folder_unit=own)  # the folder says who it is
    assert v.ok and v.unit == EXECUTIVE
    alias = make_submission(tmp_path / "a.xlsx", unit="执法大队（章）")
    assert validate_bytes(alias.read_bytes(), CFG, NOW).unit == EXECUTIVE


def test_formula_without_cached_value(tmp_path):
    # openpyxl writes formulas without results: in a count cell we cannot know the number (E_VALUE_TYPE);
    # in 合计 and the rates they are never data, so the template's own formulas pass.
    path = make_submission(tmp_path / "f.xlsx", cells={("traffic", "inspectors"): "=B9*4"})
    assert codes(validate_bytes(path.read_bytes(), CFG, NOW)) == [("E_VALUE_TYPE", "C9")]


def test_stale_cached_total_formula_is_ignored(tmp_path):
    import zipfile

    path = make_submission(tmp_path / "s.xlsx")
    # Give the 合计 formula of column C a wrong cached value, as a file edited by a non-recalculating tool would.
    src = zipfile.ZipFile(path)
    out = tmp_path / "stale.xlsx"
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            data = src.read(item)
            if item.filename == "xl/worksheets/sheet1.xml":
                assert b"<f>SUM(C7:C13)</f><v></v>" in data or b"<f>SUM(C7:C13)</f>" in data
                data = data.replace(b"<f>SUM(C7:C13)</f><v></v>", b"<f>SUM(C7:C13)</f><v>999</v>")
                data = data.replace(b"<f>SUM(C7:C13)</f></c>", b"<f>SUM(C7:C13)</f><v>999</v></c>")
            dst.writestr(item, data)
    v = validate_bytes(out.read_bytes(), CFG, NOW)
    assert codes(v) == []
    assert v.values["total"]["inspectors"] == 53


def test_latest_sheet_is_the_submission(tmp_path):
    import openpyxl

    april = make_submission(tmp_path / "4.xlsx", layout="retyped", month_to=4, sheet="4月",
                            cells={("traffic", "inspectors"): 10})
    may = make_submission(tmp_path / "5.xlsx", layout="retyped", month_to=5, sheet="5月")
    book = openpyxl.load_workbook(april)
    src = openpyxl.load_workbook(may)["5月"]
    dst = book.create_sheet("5月")
    for row in src.iter_rows():
        for c in row:
            dst.cell(c.row, c.column, c.value)
    book.move_sheet("5月", offset=-1)  # order does not matter: the latest period wins
    book.save(tmp_path / "both.xlsx")
    v = validate_bytes((tmp_path / "both.xlsx").read_bytes(), CFG, NOW)
    assert (v.sheet, v.month_to, v.values["traffic"]["inspectors"]) == ("5月", 5, 20)
    assert codes(v) == []

    book = openpyxl.load_workbook(tmp_path / "both.xlsx")
    book["4月"]["C6"] = "2023年 1月至 5月（累计数）"
    book.save(tmp_path / "twice.xlsx")
    v = validate_bytes((tmp_path / "twice.xlsx").read_bytes(), CFG, NOW)
    assert [i.code for i in v.issues] == ["E_NOT_ANNEX2"]
    assert "5月" in v.issues[0].message and "4月" in v.issues[0].message


def test_a_workbook_without_the_form(tmp_path):
    import openpyxl

    wb = openpyxl.Workbook()
    wb.active["A1"] = "隐患排查台账"
    wb.active["A2"] = "序号"
    wb.save(tmp_path / "other.xlsx")
    v = validate_bytes((tmp_path / "other.xlsx").read_bytes(), CFG, NOW)
    assert [i.code for i in v.issues] == ["E_NOT_ANNEX2"]
    assert "没有找到附件2表格" in v.issues[0].message
