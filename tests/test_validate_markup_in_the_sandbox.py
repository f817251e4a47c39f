"""`annex2 validate --markup` draws each marked-up copy from what the sandbox extracted while judging: a file
the sandbox could not read gets a Chinese refusal and no copy, and the command stays small whatever the file
asks of a parser (the fuzzed .xls below made it take 2.27 GB when the copy re-read files in the CLI's own
process)."""
import pytest
from fuzz import damaged_xls
from helpers import measured

pytest.importorskip("resource", reason="peak memory is measured with getrusage, which Windows lacks")


def test_validate_markup_of_the_fuzzed_xls_refuses_in_chinese_in_little_memory(workdir, tmp_path):
    fuzzed = tmp_path / "fuzz_seed7.xls"
    fuzzed.write_bytes(damaged_xls((5137, 0x40), (6349, 0x08)))  # tests/fuzz.py, seed 7: calamine asks ~1 GB
    rc, peak, output = measured(workdir, "validate", "--markup", str(tmp_path / "标注"), str(fuzzed))
    assert peak < 300, f"peak RSS {peak:.0f} MB"  # the CLI or its sandbox worker, whichever was larger
    assert rc == 1, output
    assert output.splitlines() == [
        f"✗ 退回  {fuzzed}  单位不明  期间不明",
        "    错误：文件已损坏或过大（读取所需内存过多，已中止）：请用 Excel 或 WPS 打开确认无误后，另存为 .xlsx 重新报送"
        "（E_UNREADABLE）"]
    assert not (tmp_path / "标注").exists()  # nothing was read, so nothing is marked


def test_validate_markup_of_an_xls_lays_its_values_on_our_template(workdir, tmp_path):
    # An .xls cannot be written back as it came: the copy is our template with the unit's values as the sandbox
    # read them, the wrong cell (I12 in the unit's layout) marked where the template has it (G9).
    import shutil
    from pathlib import Path

    import openpyxl

    source = Path(__file__).parent / "fixtures" / "lo_bad_fixed_gt_found.xls"
    given = shutil.copy(source, tmp_path / "执法大队.xls")
    rc, peak, output = measured(workdir, "validate", "--markup", str(tmp_path / "标注"), str(given))
    assert peak < 300, f"peak RSS {peak:.0f} MB"
    assert rc == 1, output
    assert f"标注副本：{tmp_path / '标注' / '执法大队_错误标注.xlsx'}" in output.splitlines()
    book = openpyxl.load_workbook(tmp_path / "标注" / "执法大队_错误标注.xlsx")
    assert book.sheetnames == ["错误说明", "附件2"]
    notes = book["错误说明"]
    assert [notes.cell(4, c).value for c in range(1, 8)] == [
        1, "错误", "已整改数大于隐患数", "附件2", "G9（原表 I12）",
        "I12 交通安全·重大隐患已整改数 为 5，大于 重大隐患数 2：请核对后重新报送", "E_FIXED_GT_FOUND"]
    assert book["附件2"]["G9"].value == 5 and book["附件2"]["G9"].fill.fgColor.rgb == "FFFF7C80"
