"""`annex2 validate` as a clerk and a script see it; the marked-up copy; round-trips through our template."""
import json
from datetime import datetime, timezone

import openpyxl
from click.testing import CliRunner
from factory import COUNT_ORDER, SECTOR_ORDER, make_submission
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.cli.commands import cli
from pipeline.core import config
from pipeline.statistics.validate import validate_bytes


def run(*args):
    return CliRunner().invoke(cli, list(map(str, args)))


def test_json_shape_and_exit_status(workdir):
    good = make_submission(workdir / "good.xlsx")
    bad = make_submission(workdir / "bad.xlsx", cells={("traffic", "major_fixed"): 5})
    result = run("validate", "--json", good, bad)
    assert result.exit_code == 1
    files = json.loads(result.output)["files"]
    assert [f["ok"] for f in files] == [True, False]
    first = files[0]
    assert set(first) >= {"path", "ok", "unit", "year", "month_from", "month_to", "issues", "values"}
    assert (first["unit"], first["year"], first["month_from"], first["month_to"]) == ("交通运输综合行政执法大队", 2023, 1, 5)
    assert first["values"]["total"]["inspectors"] == 53
    assert first["values"]["other"]["major_fix_rate"] is None
    assert list(first["values"]) == ["construction", "fireworks", "traffic", "culture_tourism", "student",
                                     "natural_disaster", "other", "total"]
    assert files[1]["issues"] == [{"code": "E_FIXED_GT_FOUND", "severity": "error", "sheet": "附件2", "cell": "G9",
                                   "sector": "traffic", "metric": "major_fixed",
                                   "message": "G9 交通安全·重大隐患已整改数 为 5，大于 重大隐患数 2：请核对后重新报送"}]
    assert run("validate", good).exit_code == 0


def test_warnings_pass_and_text_output_names_cells(workdir):
    warned = make_submission(workdir / "w.xlsx", phone=None)
    result = run("validate", warned)
    assert result.exit_code == 0
    assert "✓ 受理" in result.output and "W_PHONE" in result.output and "H17" in result.output


def test_ignored_and_material_files(workdir):
    from PIL import Image

    lock = workdir / "~$附件2.xlsx"
    lock.write_bytes(b"\x00owner")
    lo_lock = workdir / ".~lock.附件2.xlsx#"
    lo_lock.write_text("x")
    scan = workdir / "执法大队_5月盖章扫描件.pdf"
    Image.new("RGB", (200, 280), "white").save(scan, "PDF")
    import docx

    report = docx.Document()
    report.add_paragraph("5月安全生产工作情况")
    report.save(workdir / "执法大队5月工作情况.docx")
    result = run("validate", "--json", lock, lo_lock, scan, workdir / "执法大队5月工作情况.docx")
    assert result.exit_code == 0, result.output
    files = json.loads(result.output)["files"]
    assert [(f.get("ignored"), (f.get("material") or {}).get("kind"), f["ok"], f["month_to"], f["issues"])
            for f in files] == [(True, None, True, None, []), (True, None, True, None, []),
                                (None, "stamped", True, 5, []), (None, "electronic", True, 5, [])]


def test_validate_changes_nothing(workdir):
    bad = make_submission(workdir / "inbox" / "交通运输综合行政执法大队" / "bad.xlsx", cells={("traffic", "major_fixed"): 5})
    before = {p: p.stat().st_mtime_ns for p in workdir.rglob("*")}
    assert run("validate", bad).exit_code == 1
    assert {p: p.stat().st_mtime_ns for p in workdir.rglob("*")} == before


def test_marked_up_copy(workdir):
    bad = make_submission(workdir / "bad.xlsx", cells={("traffic", "major_fixed"): 5, ("fireworks", "inspectors"): "若干"})
    book = openpyxl.load_workbook(bad)
    book.active["H16"].value = '=HYPERLINK("http://x","点我")'
    book.active["H16"].data_type = "s"  # typed as text by a hostile unit, not a formula
    book.save(bad)
    result = run("validate", "--markup", workdir / "marked", bad)
    assert result.exit_code == 1
    wb = openpyxl.load_workbook(workdir / "marked" / "bad_错误标注.xlsx")
    assert wb.sheetnames[0] == "错误说明"
    notes = wb["错误说明"]
    listed = [(notes.cell(r, 7).value, notes.cell(r, 5).value) for r in range(4, notes.max_row + 1)]  # code, cell
    assert listed == [("E_VALUE_TYPE", "C8"), ("E_FIXED_GT_FOUND", "G9")]
    ws = wb["附件2"]
    assert ws["G9"].fill.fgColor.rgb.endswith("FF7C80")
    assert "大于 重大隐患数 2" in ws["G9"].comment.text
    assert ws["C8"].value == "若干" and ws["C8"].comment is not None
    assert ws["B9"].fill.fgColor.rgb == "FFFFF9DB"  # untouched cells keep the form's own (input) fill
    # text from the submission is written as text, never as a formula
    assert ws["H16"].value == '=HYPERLINK("http://x","点我")' and ws["H16"].data_type == "s"


counts = st.integers(min_value=0, max_value=500)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.lists(counts, min_size=10, max_size=10), min_size=7, max_size=7), st.integers(1, 12))
def test_any_valid_form_round_trips_through_the_template(tmp_path, rows, month):
    # keep it valid: fixed <= found, inspectors >= teams
    cells = {}
    for sector, row in zip(SECTOR_ORDER, rows):
        row = dict(zip(COUNT_ORDER, row))
        row["major_fixed"] = min(row["major_fixed"], row["major_hazards"])
        row["other_fixed"] = min(row["other_fixed"], row["other_hazards"])
        row["inspectors"] = max(row["inspectors"], row["inspection_teams"])
        cells.update({(sector, k): v for k, v in row.items()})
    path = make_submission(tmp_path / "rt.xlsx", month_to=month, cells=cells)
    v = validate_bytes(path.read_bytes(), config.defaults(), datetime(2023, 12, 31, tzinfo=timezone.utc))
    assert v.issues == []
    assert {(s, k): v.values[s][k] for s in SECTOR_ORDER for k in COUNT_ORDER} == cells
    assert v.month_to == month


def test_readme_lists_every_code():
    from pathlib import Path

    from pipeline.core.issues import CATALOGUE

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    for code in CATALOGUE:
        assert f"| `{code}` |" in readme, code


def test_many_files_are_checked_on_all_cores_with_the_same_answers(workdir):
    paths = [make_submission(workdir / f"f{i:02d}.xlsx", cells={("other", "penalties"): i}) for i in range(40)]
    bad = make_submission(workdir / "f99.xlsx", cells={("traffic", "major_fixed"): 5})
    result = run("validate", "--json", *paths, bad)
    assert result.exit_code == 1
    files = json.loads(result.output)["files"]
    assert [f["path"] for f in files] == [str(p) for p in [*paths, bad]]
    assert [f["values"]["other"]["penalties"] for f in files[:40]] == list(range(40))
    assert [(i["code"], i["cell"]) for i in files[40]["issues"]] == [("E_FIXED_GT_FOUND", "G9")]
