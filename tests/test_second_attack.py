"""Issue 25, items 1, 2 (names) and 10: what a unit's file could still do after it passed the sandbox, names a
format forbids, lock files named on the command line. Real files built here, real processes
(`python -m pipeline ...`), a real ledger file."""
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

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
