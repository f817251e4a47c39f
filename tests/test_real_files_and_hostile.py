"""Real files saved by LibreOffice, and hostile or broken files: rejected with a plain reason, never a crash."""
import io
import json
import subprocess
import sys
import zipfile
from datetime import datetime, timezone
from pathlib import Path

import pytest
from factory import make_submission

from pipeline.core import config
from pipeline.statistics.validate import validate_bytes

FIXTURES = Path(__file__).parent / "fixtures"
NOW = datetime(2023, 6, 10, tzinfo=timezone.utc)
CFG = config.defaults()


def check(name):
    return validate_bytes((FIXTURES / name).read_bytes(), CFG, NOW)


def test_libreoffice_xlsx_with_recalculated_formulas():
    v = check("lo_template_recalculated.xlsx")
    assert v.ok and [i.code for i in v.issues] == []
    assert v.values["total"]["inspectors"] == 53 and v.values["traffic"]["major_fix_rate"] == 50.0


def test_libreoffice_xls_with_a_unit_suffix():
    v = check("lo_template.xls")
    assert v.ok and v.unit == "交通质量和安全监督站"
    assert v.values["traffic"]["penalties"] == 4  # typed `4项`


def test_libreoffice_ods_with_full_width_digits():
    v = check("lo_template.ods")
    assert v.ok and v.unit == "区道路运输服务中心"
    assert v.values["construction"]["inspectors"] == 12  # typed `１２`


def test_retyped_at_an_offset_without_units_row():
    v = check("lo_retyped_offset_no_units.xlsx")
    assert v.ok and v.unit == "现代物流中心" and v.month_to == 5
    assert v.values["total"]["units_inspected"] == 58


def test_form_on_a_second_sheet_behind_a_cover():
    v = check("lo_second_sheet.xlsx")
    assert v.ok and v.sheet == "附件2" and v.month_to == 4 and v.unit == "区公路建设养护中心"


def test_rejected_xls_names_the_cell():
    v = check("lo_bad_fixed_gt_found.xls")
    assert [(i.code, i.cell) for i in v.issues] == [("E_FIXED_GT_FOUND", "I12")]


@pytest.mark.parametrize("data,fragment", [
    (b"", "空的"),
    (b"%PDF-1.7 fake", "PDF"),
    (b"\x89PNG\r\n\x1a\n....", "图片"),
    (b"just some text, not a workbook", "不是 Excel/WPS 表格"),
])
def test_not_a_workbook(data, fragment):
    v = validate_bytes(data, CFG, NOW)
    assert [i.code for i in v.issues] == ["E_UNREADABLE"]
    assert fragment in v.issues[0].message


def test_truncated_workbook(tmp_path):
    data = make_submission(tmp_path / "a.xlsx").read_bytes()
    v = validate_bytes(data[: len(data) // 2], CFG, NOW)
    assert [i.code for i in v.issues] == ["E_UNREADABLE"]
    assert "不完整" in v.issues[0].message


def test_word_document_behind_an_xlsx_name(tmp_path):
    import docx

    d = docx.Document()
    d.add_paragraph("情况说明")
    d.save(tmp_path / "x.docx")
    v = validate_bytes((tmp_path / "x.docx").read_bytes(), CFG, NOW)
    assert [i.code for i in v.issues] == ["E_UNREADABLE"] and "Word" in v.issues[0].message


def zip_bomb(path: Path, megabytes: int = 400) -> Path:
    """A few hundred KB that declare hundreds of MB, inside a plausible .xlsx skeleton."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        z.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types/>')
        z.writestr("xl/workbook.xml", '<?xml version="1.0"?><workbook/>')
        with z.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as part:
            chunk = b"\0" * (1024 * 1024)
            for _ in range(megabytes):
                part.write(chunk)
    return path


def billion_laughs(path: Path) -> Path:
    lol = ['<!ENTITY lol "lol">'] + [f'<!ENTITY lol{i} "{"&lol%s;" % ("" if i == 1 else i - 1) * 10}">' for i in range(1, 10)]
    shared = ('<?xml version="1.0"?><!DOCTYPE lolz [' + "".join(lol) + ']>'
              '<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><si><t>&lol9;</t></si></sst>')
    from pipeline.statistics.template import Header, write_template

    src = write_template(path.with_name("base.xlsx"), "云溪区", Header())  # xlsxwriter uses sharedStrings
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zout:
        assert "xl/sharedStrings.xml" in zin.namelist()
        for item in zin.infolist():
            data = zin.read(item)
            zout.writestr(item, shared.encode() if item.filename == "xl/sharedStrings.xml" else data)
    return path


def run_capped(args, cwd, mb=300, seconds=60):
    """`annex2 …` in a child process under an address-space cap (POSIX; Windows has no setrlimit)."""
    resource = pytest.importorskip("resource")

    def limit():
        resource.setrlimit(resource.RLIMIT_AS, (mb * 1024 * 1024, mb * 1024 * 1024))

    return subprocess.run([sys.executable, "-m", "pipeline", *args], cwd=cwd, preexec_fn=limit,
                          capture_output=True, text=True, timeout=seconds)


def test_zip_bomb_is_refused_from_its_directory_under_a_memory_cap(tmp_path, workdir):
    bomb = zip_bomb(tmp_path / "bomb.xlsx")
    assert bomb.stat().st_size < 1024 * 1024
    proc = run_capped(["validate", "--json", str(bomb)], workdir)
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    (report,) = json.loads(proc.stdout)["files"]
    assert [i["code"] for i in report["issues"]] == ["E_UNREADABLE"]
    assert "压缩炸弹" in report["issues"][0]["message"]


def test_high_ratio_part_is_refused(tmp_path):
    # 150 MB declared stays under the total cap; its ratio (~1000:1) is what gives it away.
    v = validate_bytes(zip_bomb(tmp_path / "ratio.xlsx", megabytes=150).read_bytes(), CFG, NOW)
    assert [i.code for i in v.issues] == ["E_UNREADABLE"] and "压缩比" in v.issues[0].message


def test_billion_laughs_is_refused_without_expanding(tmp_path, workdir):
    bad = billion_laughs(tmp_path / "lol.xlsx")
    proc = run_capped(["validate", "--json", str(bad)], workdir)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    (report,) = json.loads(proc.stdout)["files"]
    assert [i["code"] for i in report["issues"]] == ["E_UNREADABLE"]
    assert "DOCTYPE" in report["issues"][0]["message"]


def test_encrypted_workbook_asks_to_remove_the_password(tmp_path, workdir):
    from msoffcrypto.format.ooxml import OOXMLFile

    plain = make_submission(tmp_path / "plain.xlsx")
    out = io.BytesIO()
    with open(plain, "rb") as f:
        OOXMLFile(f).encrypt("secret", out)
    (tmp_path / "locked.xlsx").write_bytes(out.getvalue())
    proc = run_capped(["validate", str(tmp_path / "locked.xlsx")], workdir)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "E_ENCRYPTED" in proc.stdout and "取消密码" in proc.stdout


def test_defusedxml_guards_openpyxl():
    from pipeline.reading.reader import check_xml_defenses

    check_xml_defenses()  # raises when openpyxl would parse XML without defusedxml
    from openpyxl.xml import DEFUSEDXML

    assert DEFUSEDXML is True
