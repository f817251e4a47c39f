"""The intake under faults (spec 13): a FIFO, a link or a forged receipts folder in a unit's folder, a
placeholder filled in late, a full disk, a kill -9 between commit and receipts, a file rewritten in place, a
locked ledger, an e-mail built to exhaust the parser, a second watcher. Each is one way a unit, a clerk or bad
luck could break the contract (a hang, a lost or forged submission, a wrong time, an orphan, a traceback).
Real files, real processes (`python -m pipeline ...`), a real ledger file."""
import hashlib
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from factory import make_email, make_submission
from helpers import edit_config, ingest, needs_rlimit, rows, run_cli, small_tmpfs, wait_until

from pipeline.intake.workspace import init

EXEC = "交通运输综合行政执法大队"
QUALITY = "交通质量和安全监督站"
SAFETY = "局安全监督股"
POSIX_ONLY = pytest.mark.skipif(sys.platform == "win32", reason="POSIX FIFOs, links, signals and mounts")


def fast(work):
    edit_config(work, "stable_seconds = 2.0", "stable_seconds = 0.3")


def start_watch(work):
    proc = subprocess.Popen([sys.executable, "-m", "pipeline", "watch"], cwd=work, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    log = work / "outbox" / "logs" / "watch.log"
    assert wait_until(lambda: log.exists() and "开始监视" in log.read_text(encoding="utf-8"), 60)
    return proc


def stop(proc):
    proc.kill()
    proc.wait(10)


def copy_in(source: Path, dest: Path):
    """How a file arrives: written beside under a junk name, then renamed into place (one event)."""
    tmp = dest.with_name(".incoming.tmp")
    shutil.copyfile(source, tmp)
    os.replace(tmp, dest)


# --- (e) a hang: a FIFO in a unit's folder ---------------------------------------------------------------

@POSIX_ONLY
def test_a_fifo_in_a_units_folder_does_not_stop_the_watcher(workdir, tmp_path):
    fast(workdir)
    good = make_submission(tmp_path / "good.xlsx", unit=QUALITY)
    fifo = workdir / "inbox" / SAFETY / "报表.xlsx"
    proc = start_watch(workdir)
    try:
        os.mkfifo(fifo)  # a unit can make one on a share with POSIX semantics (Samba unix extensions, NFS)
        # A fixed pause IS the scenario: the FIFO sits there for a while (the watcher says nothing about it that
        # could be waited on) before another unit's report comes in.
        time.sleep(1.5)
        copy_in(good, workdir / "inbox" / QUALITY / "附件2.xlsx")
        taken = wait_until(lambda: rows(workdir, "SELECT outcome FROM arrivals WHERE unit = ?", (QUALITY,)), 30)
    finally:
        try:  # let a blocked open() go, so the process can be stopped
            os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        except OSError:
            pass
        stop(proc)
    assert taken
    assert rows(workdir, "SELECT outcome FROM arrivals WHERE unit = ?", (QUALITY,)) == [("accepted",)]


# --- (c) an earlier time: a placeholder kept waiting, then replaced ------------------------------------

def _rename_over(data, target):
    tmp = target.with_name(".incoming.tmp")  # a new file, renamed over the placeholder (a new inode)
    tmp.write_bytes(data)
    os.replace(tmp, target)


def _overwrite_in_place(data, target):
    with open(target, "r+b") as f:  # the real report written into the placeholder itself (same inode)
        f.write(data)


@pytest.mark.parametrize("fill_in", [
    pytest.param(_rename_over, id="renamed-over"),
    pytest.param(_overwrite_in_place, id="written-in-place",  # Windows: st_ctime is the creation time there
                 marks=pytest.mark.skipif(sys.platform == "win32", reason="the first sight stands on Windows")),
])
def test_a_placeholder_filled_in_after_waiting_is_not_backdated(workdir, tmp_path, fill_in):
    """A unit keeps an incomplete zip "being written" before the deadline and puts its real report there
    after it: received when the report was complete, not when the placeholder appeared."""
    fast(workdir)
    real = make_submission(tmp_path / "real.xlsx").read_bytes()
    target = workdir / "inbox" / EXEC / "附件2.xlsx"
    proc = start_watch(workdir)
    try:
        target.write_bytes(b"PK\x03\x04" + bytes(200))  # before the deadline: a zip that never looks complete
        for _ in range(12):  # ... kept "being written" (days in real life; seconds here)
            time.sleep(0.5)
            os.utime(target)
        replaced_at = datetime.now(timezone.utc)
        fill_in(real, target)  # after the deadline
        assert wait_until(lambda: rows(workdir, "SELECT 1 FROM arrivals WHERE outcome = 'accepted'"), 30)
    finally:
        stop(proc)
    (received,), = rows(workdir, "SELECT received_utc FROM arrivals WHERE outcome = 'accepted'")
    received = datetime.fromisoformat(received.replace("Z", "+00:00"))
    assert received >= replaced_at - timedelta(seconds=0.5)


# --- (a)/(c) a forged submission: the receipts folder made a link to another unit's folder ---------------

@POSIX_ONLY
def test_a_receipts_folder_linked_to_another_units_folder_cannot_forge_its_report(workdir):
    fast(workdir)
    shutil.rmtree(workdir / "inbox" / SAFETY / "回执")
    os.symlink(f"../{EXEC}", workdir / "inbox" / SAFETY / "回执")  # (on Windows: a junction, no admin needed)
    make_submission(workdir / "inbox" / SAFETY / "报表.xlsx", unit=EXEC)  # EXEC's name typed in: rejected here
    first = run_cli(workdir, "ingest")
    second = run_cli(workdir, "ingest")
    assert (first.returncode, second.returncode) == (1, 0)
    assert rows(workdir, "SELECT unit, outcome FROM arrivals WHERE unit = ?", (EXEC,)) == []


# --- (b)/(d) one unit's file fills the disk: everyone's reports fail, copies are orphaned --------------------

@pytest.fixture
def small_disk(tmp_path):
    """A 4 MB filesystem (tmpfs) holding the working folder; needs root."""
    with small_tmpfs(tmp_path / "disk", "4m") as disk:
        yield disk


def test_one_units_sparse_file_does_not_stop_the_others_on_a_full_disk(small_disk, tmp_path):
    work = small_disk / "work"
    init(work)
    fast(work)
    for month in (1, 2, 3):
        make_submission(work / "inbox" / QUALITY / f"附件2_{month}月.xlsx", unit=QUALITY, month_to=month)
    time.sleep(0.05)  # the scan arrives after the reports (a later ctime): the order of arrival is the scenario
    with open(work / "inbox" / SAFETY / "盖章扫描件.pdf", "wb") as f:  # 50 MB that cost the unit nothing
        f.truncate(50 * 1024 * 1024)
    result = run_cli(work, "ingest")
    assert result.returncode == 1  # the scan fails: it cannot be archived
    assert rows(work, "SELECT original_name, outcome FROM arrivals WHERE unit = ? ORDER BY id", (QUALITY,)) == [
        ("附件2_1月.xlsx", "accepted"), ("附件2_2月.xlsx", "accepted"), ("附件2_3月.xlsx", "accepted")]
    recorded = {a for (a,) in rows(work, "SELECT archived_path FROM arrivals")}
    on_disk = {p.relative_to(work).as_posix() for p in (work / "archive").rglob("*") if p.is_file()}
    assert on_disk == recorded  # no orphan copy of a file that was not recorded
    assert (work / "inbox" / SAFETY / "盖章扫描件.pdf").exists()


# --- (d) a receipt never written: kill -9 between the ledger commit and the receipts ----------------------

KILL_AT = textwrap.dedent("""
    import os, signal, sys, time
    from pathlib import Path
    from pipeline.core import config
    from pipeline.intake.ingest import Ingester, scan_inbox
    from pipeline.storage.ledger import Ledger
    from datetime import datetime
    from zoneinfo import ZoneInfo

    step = sys.argv[1]
    def faults(at, path):
        if at == step:
            os.kill(os.getpid(), signal.SIGKILL)
    cfg = config.load(Path("config.toml"))
    with Ledger(cfg.ledger) as ledger:
        Ingester(cfg, ledger, lambda: datetime.now(ZoneInfo("Asia/Shanghai")), faults=faults,
                 wall=lambda: time.time() + 60).run(scan_inbox(cfg))
""")


def kill_at(work, step):
    """`ingest` killed with SIGKILL at a named step of the commit (a real process, a real kill)."""
    return subprocess.run([sys.executable, "-c", KILL_AT, step], cwd=work, capture_output=True, text=True,
                          timeout=120)


def email_with(path: Path, sender: str, *attachments: tuple[str, bytes]) -> Path:
    path.write_bytes(make_email(sender, attachments))
    return path


@POSIX_ONLY
def test_after_kill_9_between_commit_and_receipts_every_receipt_is_written(workdir, tmp_path):
    book = make_submission(tmp_path / "附件2.xlsx").read_bytes()
    email_with(workdir / "inbox" / EXEC / "五月报表.eml", "someone@example.com", ("附件2_5月.xlsx", book))
    killed = kill_at(workdir, "committed")
    assert killed.returncode == -signal.SIGKILL
    result = run_cli(workdir, "ingest")
    assert result.returncode == 0, result.stderr
    recorded = rows(workdir, "SELECT original_name, outcome, receipt_path FROM arrivals ORDER BY id")
    assert [(n, o) for n, o, _r in recorded] == [("五月报表.eml", "email"), ("附件2_5月.xlsx", "accepted")]
    assert all((workdir / r).exists() for _n, _o, r in recorded)


# --- (b) a file lost: rewritten in place while it is processed, its mtime kept -----------------------------

def _padded_to_one_size(a: bytes, b: bytes) -> tuple[bytes, bytes]:
    """Two zips (written without an archive comment) made one size by giving the shorter a comment."""
    def pad(data: bytes, extra: int) -> bytes:
        assert data[-22:-18] == b"PK\x05\x06" and data[-2:] == b"\0\0"  # end record, no comment yet
        return data[:-2] + extra.to_bytes(2, "little") + b" " * extra
    if len(a) < len(b):
        return pad(a, len(b) - len(a)), b
    if len(b) < len(a):
        return a, pad(b, len(a) - len(b))
    return a, b


def test_a_file_rewritten_in_place_with_the_same_size_and_mtime_is_not_deleted_unseen(workdir, tmp_path):
    target = make_submission(workdir / "inbox" / EXEC / "附件2.xlsx", cells={("traffic", "inspectors"): 11})
    first = target.read_bytes()
    second = make_submission(tmp_path / "v2.xlsx", cells={("traffic", "inspectors"): 12}).read_bytes()
    # the corrected report happens to have the same size: deflate may make the two differ by a byte, so the
    # shorter one is padded with a zip comment (still a valid workbook, other bytes)
    first, second = _padded_to_one_size(first, second)
    target.write_bytes(first)
    assert len(second) == len(first) and second != first  # the corrected report happens to have the same size

    def faults(step, path):
        if step == "receipted":  # the unit copies its correction over the file, in place, keeping its mtime
            st = os.stat(path)
            with open(path, "r+b") as f:
                f.write(second)
            os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))

    ingest(workdir, faults=faults)
    recorded = {h for (h,) in rows(workdir, "SELECT sha256 FROM arrivals")}
    left = [p.read_bytes() for p in (workdir / "inbox" / EXEC).glob("*.xlsx")]
    assert hashlib.sha256(second).hexdigest() in recorded or second in left


# --- (a) a traceback: the ledger locked by another program while a crashed arrival is finished -------------

@POSIX_ONLY
def test_a_locked_ledger_while_finishing_a_crashed_arrival_gives_a_message_and_exit_1(workdir):
    edit_config(workdir, "ledger_wait_seconds = 30", "ledger_wait_seconds = 1")  # not the default half-minute
    make_submission(workdir / "inbox" / EXEC / "附件2.xlsx")
    assert kill_at(workdir, "receipted").returncode == -signal.SIGKILL  # recorded, still in the inbox
    other = sqlite3.connect(workdir / "annex2.sqlite", isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")  # another program (a DB browser, a backup) holds a write transaction
        result = run_cli(workdir, "ingest")
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert result.returncode == 1, result.stderr
    assert "台账正被其他程序占用" in result.stderr


# --- clerk mistakes in config.toml -------------------------------------------------------------------------

def test_an_archive_folder_inside_the_inbox_never_costs_an_archive_copy(workdir):
    fast(workdir)
    edit_config(workdir, 'archive = "archive"', 'archive = "inbox/存档"')
    make_submission(workdir / "inbox" / EXEC / "附件2.xlsx")
    for _ in range(3):
        run_cli(workdir, "ingest")
    recorded = rows(workdir, "SELECT archived_path FROM arrivals")
    assert len(recorded) <= 1
    assert all((workdir / a).exists() for (a,) in recorded)


def test_an_empty_inbox_path_never_swallows_the_working_folder(workdir):
    edit_config(workdir, 'inbox = "inbox"', 'inbox = ""')
    result = run_cli(workdir, "ingest")
    assert (workdir / "config.toml").exists() and (workdir / "templates" / "annex2.xlsx").exists()
    assert result.returncode == 2


def test_a_zero_parse_time_limit_is_a_config_error_not_a_rejection(workdir):
    fast(workdir)
    edit_config(workdir, "parse_seconds = 20", "parse_seconds = 0")
    make_submission(workdir / "inbox" / EXEC / "附件2.xlsx")
    result = run_cli(workdir, "ingest")
    assert result.returncode == 2
    assert (workdir / "inbox" / EXEC / "附件2.xlsx").exists()
    assert rows(workdir, "SELECT outcome FROM arrivals") == []


# --- (e) untrusted bytes parsed in the parent: an e-mail of many empty parts ----------------------------------

def test_an_email_of_many_empty_parts_is_bounded_by_the_parse_time_limit(workdir):
    fast(workdir)
    edit_config(workdir, "parse_seconds = 20", "parse_seconds = 5")
    body = "".join("--B\r\nContent-Type: text/plain\r\n\r\nx\r\n" for _ in range(200_000))
    mail = ("From: a@example.com\r\nSubject: x\r\nMIME-Version: 1.0\r\n"
            "Content-Type: multipart/mixed; boundary=B\r\n\r\n" + body + "--B--\r\n").encode()
    (workdir / "inbox" / SAFETY / "月报.eml").write_bytes(mail)  # 8 MB, well under max_email_mb
    started = time.monotonic()
    result = run_cli(workdir, "ingest")
    took = time.monotonic() - started
    assert result.returncode in (0, 1)
    assert took < 20, f"took {took:.0f} s"


def peak_memory_mb(proc) -> float:
    """The process's own peak resident memory (VmHWM, reset at exec; ru_maxrss would count what the forking
    pytest process held), read until it exits."""
    peak = 0.0
    while proc.poll() is None:
        try:
            status = Path(f"/proc/{proc.pid}/status").read_text()
            peak = max(peak, int(status.split("VmHWM:")[1].split()[0]) / 1024)
        except (OSError, IndexError, ValueError):
            pass
        time.sleep(0.01)
    return peak


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads VmHWM from /proc")
@needs_rlimit  # the E_UNREADABLE is the worker's memory cap: without RLIMIT_AS (Windows) the worker parses it
def test_an_email_with_a_huge_from_header_costs_the_parent_little_memory(workdir):
    # Found: mail.parse ran in the parent, and the e-mail package's structured header parsing is quadratic in
    # memory (84 KB of encoded words in From: cost ~570 MB; 1.4 MB got the process OOM-killed). Fixed: e-mails
    # are parsed in the sandbox's child, under its memory and time caps.
    fast(workdir)
    make_submission(workdir / "inbox" / QUALITY / "附件2.xlsx", unit=QUALITY)
    (workdir / "inbox" / SAFETY / "月报.eml").write_bytes(  # 84 KB
        b"From: " + b"=?utf-8?q?a?= " * 6000 + b"<zfdd@yx.gov.cn>\r\nSubject: x\r\n\r\nbody\r\n")
    proc = subprocess.Popen([sys.executable, "-m", "pipeline", "ingest"], cwd=workdir, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    peak = peak_memory_mb(proc)
    assert proc.wait() in (0, 1)
    assert rows(workdir, "SELECT outcome FROM arrivals WHERE unit = ?", (QUALITY,)) == [("accepted",)]
    assert peak < 300, f"peak RSS {peak:.0f} MB"
    (outcome, codes), = rows(workdir, "SELECT a.outcome, group_concat(i.code) FROM arrivals a LEFT JOIN issues i "
                                      "ON i.arrival_id = a.id WHERE a.kind = 'email' GROUP BY a.id")
    assert (outcome, codes) == ("rejected", "E_UNREADABLE")


@POSIX_ONLY
def test_a_dangling_link_named_like_the_instructions_file_is_not_written_through(workdir, tmp_path):
    # Found: ensure_folders wrote 填报说明.txt through a unit's dangling link, creating a file wherever the
    # link pointed (anywhere the bureau's process may write). Fixed: a link there is left alone.
    target = tmp_path / "elsewhere" / "由单位指定的文件.csv"
    target.parent.mkdir()
    note = workdir / "inbox" / SAFETY / "填报说明.txt"
    note.unlink()
    note.symlink_to(target)
    result = run_cli(workdir, "ingest")
    assert result.returncode == 0, result.stderr
    assert not target.exists()


def test_a_second_watch_on_one_folder_says_who_is_watching_and_leaves(workdir):
    first = start_watch(workdir)
    try:
        second = run_cli(workdir, "watch", timeout=60)
        assert second.returncode == 1
        assert "另一个 annex2 watch 已在监视这个工作目录（annex2 watch，进程 " + str(first.pid) in second.stderr
        assert "正在监视" not in second.stderr
        assert first.poll() is None  # the first carries on
    finally:
        stop(first)
    again = subprocess.Popen([sys.executable, "-m", "pipeline", "watch"], cwd=workdir, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
    try:  # the first one's lock died with it (killed): a new watcher starts
        log = workdir / "outbox" / "logs" / "watch.log"
        assert wait_until(lambda: log.read_text(encoding="utf-8").count("开始监视") == 2, 60)
    finally:
        stop(again)
