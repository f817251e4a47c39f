"""Issue 25, items 1, 2 (names) and 10: what a unit's file could still do after it passed the sandbox, names a
format forbids, lock files named on the command line. Real files built here, real processes
(`python -m pipeline ...`), a real ledger file."""
import sqlite3
import subprocess
import sys
import time

from factory import make_submission
from test_status import edit_config

EXEC = "交通运输综合行政执法大队"
QUALITY = "交通质量和安全监督站"


def run_cli(work, *args, timeout=300):
    return subprocess.run([sys.executable, "-m", "pipeline", *args], cwd=work, capture_output=True, text=True,
                          timeout=timeout)


def rows(work, sql, args=()):
    db = sqlite3.connect(work / "annex2.sqlite")
    try:
        return db.execute(sql, args).fetchall()
    finally:
        db.close()


def settled(work):
    """The inbox's files are taken without the usual two seconds of waiting for a copy to settle."""
    edit_config(work, "stable_seconds = 2.0", "stable_seconds = 0.3")
    time.sleep(0.5)


# --- item 10: lock files named on the command line ----------------------------------------------------

def test_office_lock_files_named_on_the_command_line_are_skipped_with_a_note(workdir):
    # Found: `annex2 ingest inbox/单位/*` handed the shell's list to the intake, and a ~$ lock file Excel
    # left behind was judged (E_MATERIAL_TYPE), recorded and receipted like a unit's report.
    folder = workdir / "inbox" / EXEC
    make_submission(folder / "附件2.xlsx")
    (folder / "~$旧表.xlsx").write_bytes(b"\x06\x00\xe7\x8e\x8b\xe4\xba\x94" + b"\x00" * 154)  # 162 bytes, as Excel
    (folder / ".~lock.旧表.xlsx#").write_text("王五,PC-01,PC-01,06.06.2023 10:00,file:///C:/Users/wangwu;\n")
    settled(workdir)
    names = ["附件2.xlsx", "~$旧表.xlsx", ".~lock.旧表.xlsx#"]
    result = run_cli(workdir, "ingest", *[f"inbox/{EXEC}/{n}" for n in names])
    assert result.returncode == 0, result.stderr
    assert "跳过  ~$旧表.xlsx：Excel/WPS/LibreOffice 打开表格时留下的锁文件，不是报送的文件，已跳过" in result.stderr
    assert "跳过  .~lock.旧表.xlsx#：" in result.stderr
    assert rows(workdir, "SELECT original_name, outcome FROM arrivals") == [("附件2.xlsx", "accepted")]
    assert len(list((folder / "回执").iterdir())) == 1
    assert (folder / "~$旧表.xlsx").exists() and (folder / ".~lock.旧表.xlsx#").exists()  # never touched


# --- item 2 (first half): every name we write is valid for its format ---------------------------------

def test_a_rejected_file_named_with_a_character_xml_forbids_does_not_stop_notices_or_merge(workdir, tmp_path):
    # Found: a rejected file named `附件2\uFFFF.xlsx` reached the reminder's .docx as it was, and lxml refuses
    # U+FFFF: `notices` and `merge` died with an internal error (exit 3) for every unit, every run.
    for name, unit in (("附件2\uffff.xlsx", EXEC), ("附件2\x01质监.xlsx", QUALITY)):
        make_submission(tmp_path / name, unit=unit, cells={("traffic", "major_fixed"): 99})  # rejected
        got = run_cli(workdir, "ingest", str(tmp_path / name), "--unit", unit, "--received-at", "2023-06-05T10:00")
        assert got.returncode == 1, got.stderr
    assert rows(workdir, "SELECT original_name, outcome FROM arrivals ORDER BY id") == [
        ("附件2\ufffd.xlsx", "rejected"), ("附件2\u2401质监.xlsx", "rejected")]
    notices = run_cli(workdir, "notices", "--month", "2023-05", "--as-of", "2023-06-10")
    assert notices.returncode == 0, notices.stderr
    merge = run_cli(workdir, "merge", "--month", "2023-05", "--as-of", "2023-06-10")
    assert merge.returncode == 0, merge.stderr
    import docx

    reminder = docx.Document(str(workdir / "outbox" / "2023-05" / "notices" / f"催报通知_{EXEC}.docx"))
    assert "你单位于2023年6月5日10时00分报送的文件“附件2\ufffd.xlsx”未通过校验" in "".join(
        p.text for p in reminder.paragraphs)


def test_the_writers_replace_what_xml_forbids_in_texts_from_an_older_ledger(tmp_path):
    # The writers' own guard: a name recorded before display_name knew U+FFFF, a cell's text from an .xls
    # (BIFF strings may hold any UTF-16 unit) — the document is still written, the character shown as �/␁.
    import docx
    import openpyxl
    import xlsxwriter
    from datetime import datetime, timezone

    from pipeline.officialdoc import OfficialDocument, Table
    from pipeline.workbook import Sheet

    doc = OfficialDocument(["关于\uffff的通知"], datetime(2023, 6, 10, tzinfo=timezone.utc), issuer="云溪区交通运输局")
    doc.paragraph("文件“附件2\uffff\x01\ud800.xlsx”")
    doc.table(Table(["文件"], [["附件2\ufffe.xlsx"]], [100]))
    doc.save(tmp_path / "通知.docx")
    texts = [p.text for p in docx.Document(str(tmp_path / "通知.docx")).paragraphs]
    assert "文件“附件2\ufffd\u2401\ufffd.xlsx”" in texts
    book = xlsxwriter.Workbook(str(tmp_path / "表.xlsx"))
    Sheet(book.add_worksheet("表"), {"cell": None}).put(0, 0, "附件2\uffff\x02.xlsx")
    book.close()
    assert openpyxl.load_workbook(tmp_path / "表.xlsx")["表"]["A1"].value == "附件2\ufffd\u2402.xlsx"
