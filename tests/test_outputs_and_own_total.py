"""Issue 25, findings 2, 4, 6 and 7 of the third attack: the bureau's own district total dropped in a unit's
folder, a scan whose first page is blank, outputs written over a device or a link, and an export to a full
disk. Real files, real processes (`python -m pipeline ...`), a real ledger file."""
import os
import subprocess
import sys
import time

import pytest

from helpers import run_cli, rows, settled, small_tmpfs
from factory import make_submission

EXEC = "交通运输综合行政执法大队"
QUALITY = "交通质量和安全监督站"
SAFETY = "局安全监督股"
POSIX_ONLY = pytest.mark.skipif(sys.platform == "win32", reason="POSIX FIFOs and links")


# --- finding 2: the district total in a unit's folder -------------------------------------------------

def test_the_district_total_saved_in_a_units_folder_is_not_taken_as_its_report(workdir):
    # Found: `export --annex2 inbox/局安全监督股/x.xlsx` then `ingest` accepted the district total (填报单位 =
    # the bureau's full name) as 局安全监督股's report: the next total counted the district twice.
    make_submission(workdir / "inbox" / EXEC / "附件2.xlsx")
    settled(workdir)
    assert run_cli(workdir, "ingest").returncode == 0
    assert run_cli(workdir, "export", "--month", "2023-05", "--annex2", f"inbox/{SAFETY}/x.xlsx").returncode == 0
    time.sleep(0.5)
    result = run_cli(workdir, "ingest")
    assert result.returncode == 1
    assert ("错误：B2 填报单位写的是本局“岳阳市云溪区交通运输局”，这是全区合计（本局导出的附件2），"
            "不是“局安全监督股”的报表") in result.stdout
    assert rows(workdir, "SELECT a.unit, a.outcome, i.code FROM arrivals a JOIN issues i ON i.arrival_id = a.id "
                         "WHERE a.original_name = 'x.xlsx' AND i.code LIKE 'E_%'") == \
        [(SAFETY, "rejected", "E_UNIT_MISMATCH")]
    # The short name is the bureau too; a unit's own name in its own folder still passes.
    make_submission(workdir / "inbox" / QUALITY / "附件2.xlsx", unit="云溪区")
    make_submission(workdir / "inbox" / SAFETY / "本股.xlsx", unit=SAFETY)
    time.sleep(0.5)
    run_cli(workdir, "ingest")
    assert rows(workdir, "SELECT unit, outcome FROM arrivals WHERE id > 2 ORDER BY id") == \
        [(QUALITY, "rejected"), (SAFETY, "accepted")]


# --- finding 4: a multi-page scan whose first page is blank ------------------------------------------

def tiff(path, pages):
    """A TIFF as a scanner writes it: 'L' mode, LZW, one A4 page at 150 dpi per frame; "blank" pages are white,
    "stamped" ones carry a line and a circle (the seal)."""
    from PIL import Image, ImageDraw

    frames = []
    for kind in pages:
        im = Image.new("L", (1240, 1754), 255)
        if kind == "stamped":
            draw = ImageDraw.Draw(im)
            draw.line((100, 200, 1100, 200), fill=0, width=4)
            draw.ellipse((800, 1300, 1100, 1600), outline=0, width=8)
        frames.append(im)
    path.parent.mkdir(parents=True, exist_ok=True)
    frames[0].save(path, save_all=True, append_images=frames[1:], compression="tiff_lzw")


def test_a_scan_whose_first_page_is_blank_is_not_empty_but_an_all_blank_one_is(workdir):
    tiff(workdir / "inbox" / EXEC / "执法大队2026年11月份工作情况（盖章）.tif", ["blank", "stamped"])
    tiff(workdir / "inbox" / QUALITY / "质监站2026年11月份工作情况（盖章）.tif", ["blank", "blank", "blank"])
    settled(workdir)
    run_cli(workdir, "ingest")
    found = rows(workdir, "SELECT a.unit, a.outcome, group_concat(i.code) FROM arrivals a "
                          "LEFT JOIN issues i ON i.arrival_id = a.id AND i.code LIKE 'E_%' GROUP BY a.id ORDER BY a.unit")
    assert found == [(QUALITY, "rejected", "E_EMPTY_DOCUMENT"), (EXEC, "material", None)]


# --- finding 6: a target that is not a regular file ----------------------------------------------------

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


# --- finding 7: export to a full disk ------------------------------------------------------------------

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


# --- what a killed run leaves beside the outputs (attack 2, findings 9 and 10) -----------------------------

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
