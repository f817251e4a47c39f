"""Outputs are written safely: commands that write outputs hold the lock and stage privately; a read-only or full
outbox, an export or backup over a link, a FIFO or to a full disk is one Chinese sentence and nothing half
written; a killed writer's leftovers are swept; names and texts XML forbids never stop a writer. Real files,
real processes (`python -m pipeline ...`), a real ledger file."""
import os
import shutil
import subprocess
import sys

import pytest
from factory import make_submission
from helpers import edit_config, rows, run_cli, small_tmpfs, wait_until

EXEC = "交通运输综合行政执法大队"
QUALITY = "交通质量和安全监督站"
POSIX_ONLY = pytest.mark.skipif(sys.platform == "win32", reason="POSIX FIFOs and links")


# --- a target that is not a regular file ----------------------------------------------------

@POSIX_ONLY
def test_backup_and_export_refuse_a_link_or_a_fifo_and_leave_it_as_it_was(workdir, tmp_path):
    # Found: `backup /dev/full` and `export --csv /dev/full` exited 0 after renaming a regular file over the
    # device node; a link was replaced the same way.
    kept = tmp_path / "kept.txt"
    kept.write_text("旧内容", encoding="utf-8")
    link = tmp_path / "link.sqlite"
    link.symlink_to(kept)
    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)

    backup = run_cli(workdir, "backup", str(link))
    assert backup.returncode == 1
    assert f"{link} 已存在，是符号链接（快捷方式）而不是普通文件，不能用输出替换它" in backup.stderr
    assert "Traceback" not in backup.stderr
    assert link.is_symlink() and kept.read_text(encoding="utf-8") == "旧内容"

    export = run_cli(workdir, "export", "--month", "2023-05", "--csv", str(fifo))
    assert export.returncode == 1
    assert f"{fifo} 已存在，是设备或管道等特殊文件而不是普通文件" in export.stderr
    assert fifo.is_fifo()
    # A regular file is still replaced, and nothing is left beside it.
    regular = tmp_path / "old.csv"
    regular.write_text("旧", encoding="utf-8")
    assert run_cli(workdir, "export", "--month", "2023-05", "--csv", str(regular)).returncode == 0
    assert regular.read_bytes().startswith("\ufeff单位,年份,起始月,截止月".encode("utf-8"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kept.txt", "link.sqlite", "old.csv", "pipe.csv", "work"]


# --- export to a full disk ------------------------------------------------------------------

@pytest.fixture
def full_disk(tmp_path):
    """A 64 KB filesystem (tmpfs), filled up; needs root."""
    with small_tmpfs(tmp_path / "full", "64k") as disk:
        with open(disk / "filler", "wb", buffering=0) as f:
            try:
                while True:
                    f.write(b"\0" * 4096)
            except OSError:
                pass
        yield disk


def test_an_export_or_backup_to_a_full_disk_leaves_nothing_there_and_names_that_folder(workdir, full_disk):
    # Found: a 0-byte new.xlsx was left at the target, and the message named the outbox.
    for flag, name in (("--annex2", "new.xlsx"), ("--csv", "new.csv")):
        result = run_cli(workdir, "export", "--month", "2023-05", flag, str(full_disk / name))
        assert result.returncode == 1
        assert f"无法写入 {full_disk}（磁盘空间不足），本次输出没有生成" in result.stderr
        assert "Traceback" not in result.stderr
    backup = run_cli(workdir, "backup", str(full_disk / "annex2.sqlite"))  # was exit 3 (SQLite's own error)
    assert backup.returncode == 1
    assert f"无法写入 {full_disk}（磁盘空间不足）" in backup.stderr
    assert sorted(p.name for p in full_disk.iterdir()) == ["filler"]


# --- what a killed run leaves beside the outputs -----------------------------

def _dead_pid() -> int:
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    return int(proc.stdout)  # that process has ended: its half-written files are abandoned


@POSIX_ONLY
def test_a_later_merge_sweeps_what_a_killed_writer_left_beside_the_outputs_and_notices_is_readable(workdir):
    month = workdir.joinpath("config.toml").read_text(encoding="utf-8").split('start = "')[1][:7]
    folder = workdir / "outbox" / month
    folder.mkdir(parents=True)
    left = folder / f".tmp-{_dead_pid()}-abc.xlsx"  # a merge killed while it wrote the leadership workbook
    left.write_bytes(b"PK half")
    mine = folder / f".tmp-{os.getpid()}-busy.xlsx"  # a writer that is still alive: never touched
    mine.write_bytes(b"PK busy")
    old_umask = os.umask(0o022)
    try:
        result = run_cli(workdir, "merge", "--month", month)
    finally:
        os.umask(old_umask)
    assert result.returncode == 0, result.stderr
    assert not left.exists() and mine.exists()
    assert oct((folder / "notices").stat().st_mode & 0o777) == "0o755"  # as the umask says, like its siblings


def test_notices_waits_for_the_lock_merge_holds_and_writes_nothing_meanwhile(workdir):
    from pipeline.core import config
    from pipeline.storage.lock import batch_lock

    edit_config(workdir, "lock_wait_seconds = 120", "lock_wait_seconds = 1")
    cfg = config.load(workdir / "config.toml")
    with batch_lock(cfg.lock_file, "merge"):  # as `merge` holds it while it writes the month's outputs
        held = run_cli(workdir, "notices", "--month", "2023-05", "--as-of", "2023-06-10")
    assert held.returncode == 1, held.stderr
    assert "错误：另一个 annex2 进程正在处理（merge，进程" in held.stderr
    assert not (workdir / "outbox" / "2023-05").exists()
    after = run_cli(workdir, "notices", "--month", "2023-05", "--as-of", "2023-06-10")
    assert after.returncode == 0, after.stderr
    assert (workdir / "outbox" / "2023-05" / "notices" / "通报_2023年5月报送情况.docx").is_file()
    assert [p.name for p in (workdir / "outbox" / "2023-05").iterdir()] == ["notices"]  # no staging left behind


@pytest.fixture
def outbox_mount(workdir):
    """Mount a filesystem of our choosing over the outbox (needs root): read-only, or 16 KB that fills."""
    import os

    if sys.platform == "win32" or os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("needs root to mount a filesystem over the outbox")
    mounted = []

    def mount(options):
        if subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(workdir / "outbox")]).returncode:
            pytest.skip("cannot mount a tmpfs here")
        mounted.append(True)
    yield mount
    if mounted:
        subprocess.run(["umount", "-l", str(workdir / "outbox")])


@pytest.mark.parametrize("options,why", [("ro,size=1m", "文件夹只读或没有写入权限"), ("size=16k", "磁盘空间不足")])
def test_a_read_only_or_full_outbox_is_one_chinese_sentence_and_exit_1(workdir, outbox_mount, options, why):
    assert run_cli(workdir, "status").returncode == 0  # the ledger exists before the outbox goes bad
    outbox_mount(options)
    for command in (["notices", "--month", "2023-05", "--as-of", "2023-06-10"],
                    ["merge", "--month", "2023-05", "--as-of", "2023-06-10"]):
        result = run_cli(workdir, *command)
        assert result.returncode == 1, result.stderr
        assert why in result.stderr and "本次输出没有生成" in result.stderr, result.stderr
        assert "Traceback" not in result.stderr and "内部错误" not in result.stderr


def test_the_watcher_keeps_taking_files_in_with_a_read_only_outbox(workdir, outbox_mount, tmp_path):
    import signal

    edit_config(workdir, "stable_seconds = 2.0", "stable_seconds = 0.3")
    assert run_cli(workdir, "status").returncode == 0  # the ledger exists before the outbox goes bad
    outbox_mount("ro,size=1m")
    with open(tmp_path / "watch.err", "w+", encoding="utf-8") as err:
        proc = subprocess.Popen([sys.executable, "-m", "pipeline", "watch", "--polling"], cwd=workdir,
                                stdout=subprocess.DEVNULL, stderr=err)
        try:
            make_submission(workdir / "inbox" / EXEC / "附件2.xlsx")
            wait_until(lambda: proc.poll() is not None or (workdir / "annex2.sqlite").exists()
                       and rows(workdir, "SELECT COUNT(*) FROM arrivals") == [(1,)], timeout=120, every=0.2)
            got = rows(workdir, "SELECT original_name, outcome FROM arrivals")
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=60)
        err.seek(0)
        text = err.read()
    assert got == [("附件2.xlsx", "accepted")], text
    assert proc.returncode == 0, text
    assert "Traceback" not in text and "内部错误" not in text


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
    from datetime import datetime, timezone

    import docx
    import openpyxl
    import xlsxwriter

    from pipeline.documents.officialdoc import OfficialDocument, Table
    from pipeline.documents.xlsx import Sheet

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
