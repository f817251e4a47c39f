"""Spec 13: no file can break, fool or lose the intake. Real files, real processes, a real ledger file."""
import hashlib
import os
import sqlite3
import subprocess
import sys
import time

import pytest
from click.testing import CliRunner
from factory import make_email, make_submission
from helpers import arriving_at, at, drop, edit_config, ingest, rows, run_cli, wait_until

from pipeline.cli.commands import cli
from pipeline.core import config
from pipeline.core.files import IGNORED, kind_of
from pipeline.intake.ingest import Ingester, scan_inbox
from pipeline.reading.reader import read_workbook
from pipeline.storage.ledger import Ledger

EXEC = "交通运输综合行政执法大队"
QUALITY = "交通质量和安全监督站"
POSIX_ONLY = pytest.mark.skipif(sys.platform == "win32", reason="POSIX file names, links and signals")


def inbox_files(work):
    """What the intake would take: not receipts, not our instruction file."""
    return sorted(p for p in (work / "inbox").rglob("*")
                  if (p.is_file() or p.is_symlink()) and kind_of(p, work / "inbox") != IGNORED)


def archived(work):
    return sorted(p for p in (work / "archive").rglob("*") if p.is_file())


def receipts(work, folder=EXEC):
    return sorted((work / "inbox" / folder / "回执").glob("*.txt"))


# --- the error boundary --------------------------------------------------------------------------------

def exploding_reader(*bad: bytes):
    """A parser that raises something no one expected on the given files' bytes."""
    hashes = {hashlib.sha256(b).hexdigest() for b in bad}

    def read(data, limits):
        if hashlib.sha256(data).hexdigest() in hashes:
            raise KeyError("a library raised something unexpected")
        return read_workbook(data, limits)
    return read


def test_an_exception_on_one_file_ends_it_failed_and_the_batch_goes_on(workdir):
    bad = drop(workdir, EXEC, "出错的.xlsx", unit="执法大队").read_bytes()
    drop(workdir, QUALITY, "附件2.xlsx", unit="质监站")
    cfg = config.load(workdir / "config.toml")
    with Ledger(cfg.ledger) as ledger:
        result = Ingester(cfg, ledger, lambda: at("2023-05-20T10:00"), wall=lambda: time.time() + 60,
                          stat=arriving_at(at("2023-05-20T10:00")), read=exploding_reader(bad)).run(scan_inbox(cfg))
    assert sorted((r.name, r.outcome) for r in result.files) == [("出错的.xlsx", "failed"), ("附件2.xlsx", "accepted")]
    assert inbox_files(workdir) == [] and len(archived(workdir)) == 2
    (text,) = [p.read_text(encoding="utf-8-sig") for p in receipts(workdir)]
    assert "系统处理出错，已记录" in text and "E_INTERNAL" in text and "Traceback" not in text
    # retried once on the next run (the parser is well again): accepted, with the first arrival's time
    with Ledger(cfg.ledger) as ledger:
        again = Ingester(cfg, ledger, lambda: at("2023-05-21T10:00"), wall=lambda: time.time() + 60).run([])
        assert [(r.name, r.outcome) for r in again.files] == [("出错的.xlsx", "accepted")]
        (retried,) = [a for a in ledger.arrivals() if a.retry_of]
        assert (retried.received_at, retried.unit) == (at("2023-05-20T10:00"), EXEC)
        third = Ingester(cfg, ledger, lambda: at("2023-05-22T10:00"), wall=lambda: time.time() + 60).run([])
        assert third.files == []
    (text,) = [p.read_text(encoding="utf-8-sig") for p in receipts(workdir)]
    assert "结果：已受理" in text  # the unit's receipt now tells the final verdict


def test_a_failure_on_the_retry_is_left_recorded(workdir):
    drop(workdir, EXEC, "附件2.xlsx")
    cfg = config.load(workdir / "config.toml")
    boom = exploding_reader((workdir / "inbox" / EXEC / "附件2.xlsx").read_bytes())
    with Ledger(cfg.ledger) as ledger:
        for day in (20, 21, 22):
            Ingester(cfg, ledger, lambda day=day: at(f"2023-05-{day}T10:00"), wall=lambda: time.time() + 60,
                     read=boom).run(scan_inbox(cfg))
        assert [(a.outcome, a.retry_of is not None) for a in ledger.arrivals()] == [("failed", False), ("failed", True)]


def test_an_internal_error_prints_one_chinese_line_and_exits_3(workdir):
    code = ("import sys, pipeline.monthly.status as t\n"
            "def boom(*a, **k): raise ZeroDivisionError('x')\n"
            "t.status = boom\n"
            "from pipeline.cli.commands import main\n"
            "sys.argv = ['annex2', 'status', '--month', '2023-05']\nmain()")
    proc = subprocess.run([sys.executable, "-c", code], cwd=workdir, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 3
    assert "Traceback" not in proc.stderr + proc.stdout
    assert "系统内部错误" in proc.stderr and "annex2.log" in proc.stderr
    log = (workdir / "outbox" / "logs" / "annex2.log").read_text(encoding="utf-8")
    assert "ZeroDivisionError" in log and "Traceback" in log


# --- names of any bytes ------------------------------------------------------------------------------------

ODD = [
    b"\xff\xfe\xb0\xa1 not utf-8.xlsx",  # GBK bytes on a Linux share
    ("\U00020000" * 60 + ".xlsx").encode(),  # 240 bytes of astral characters
    "第一行\n结果：已受理\r\n.xlsx".encode(),  # a newline that tries to forge a receipt line
    "tab\tbell\x07.xlsx".encode(),
    b"..x.xlsx",  # looks hidden, is not OS junk
]


@POSIX_ONLY
def test_names_of_any_bytes_are_processed_and_shown_sanitized(workdir, tmp_path):
    folder = os.fsencode(workdir / "inbox" / EXEC)
    bad = make_submission(tmp_path / "bad.xlsx", cells={("traffic", "major_fixed"): 99}).read_bytes()
    for n, name in enumerate(ODD):
        # the good ones differ by month, the bad ones are rejected (so a marked-up copy is made too)
        data = make_submission(tmp_path / f"m{n}.xlsx", month_to=n + 1).read_bytes() if n % 2 else bad
        try:
            with open(os.path.join(folder, name), "wb") as f:
                f.write(data)
        except OSError:
            pytest.skip("this filesystem refuses the name itself")
    proc = run_cli(workdir, "ingest")
    assert proc.returncode == 1, proc.stderr  # the bad ones are rejected
    assert "Traceback" not in proc.stderr
    assert inbox_files(workdir) == []
    got = rows(workdir, "SELECT original_name, outcome FROM arrivals ORDER BY id")
    assert len(got) == 5 and {o for _n, o in got} == {"accepted", "rejected"}
    assert ("..x.xlsx", "rejected") in got
    for name, _o in got:
        assert "\n" not in name and "\r" not in name and "\t" not in name
    for p in archived(workdir) + list((workdir / "inbox" / EXEC / "回执").iterdir()):
        assert len(os.fsencode(p.name)) <= 255
    for receipt in receipts(workdir):
        lines = receipt.read_bytes().decode("utf-8-sig").split("\r\n")
        assert sum(line.startswith("结果：") for line in lines) == 1  # no forged second verdict
    assert len(list((workdir / "inbox" / EXEC / "回执").glob("*_错误标注.xlsx"))) == 3
    assert run_cli(workdir, "merge", "--month", "2023-05", "--as-of", "2023-05-31").returncode == 0
    assert run_cli(workdir, "export", "--month", "2023-05", "--csv", "out.csv").returncode == 0


# --- identity and time cannot be forged ---------------------------------------------------------------------

def eml(sender, received=None, attachments=()):
    return make_email(sender, attachments, received=received, date="Mon, 01 May 2023 08:00:00 +0800")


@pytest.fixture
def mailwork(workdir):
    edit_config(workdir, 'aliases = ["质监站", "交通质量安全监督站", "交通质量和安全监督站（质监站）"]\nemails = []',
                'aliases = ["质监站", "交通质量安全监督站", "交通质量和安全监督站（质监站）"]\nemails = ["zjz@yx.gov.cn"]')
    edit_config(workdir, 'aliases = ["执法大队", "综合行政执法大队", "区交通运输综合行政执法大队"]\nemails = []',
                'aliases = ["执法大队", "综合行政执法大队", "区交通运输综合行政执法大队"]\nemails = ["zfdd@yx.gov.cn"]')
    return workdir


def test_an_email_posing_as_another_unit_in_a_units_folder_is_a_mismatch(mailwork, tmp_path):
    wb = make_submission(tmp_path / "a.xlsx", unit="质监站").read_bytes()
    (mailwork / "inbox" / EXEC / "伪造.eml").write_bytes(
        eml("质监站 <zjz@yx.gov.cn>", "Mon, 01 May 2023 08:00:00 +0800", [("附件2.xlsx", wb)]))
    result = ingest(mailwork, arrived="2023-05-25T09:00")
    by_name = {r.name: r for r in result.files}
    assert by_name["伪造.eml"].outcome == "rejected"
    assert [i.code for i in by_name["伪造.eml"].issues] == ["E_UNIT_MISMATCH"]
    assert by_name["伪造.eml#附件2.xlsx"].outcome == "rejected"
    # the forged early Received: is recorded, not trusted: the arrival in the folder decides
    times = rows(mailwork, "SELECT received_utc, received_rule FROM arrivals")
    assert set(times) == {("2023-05-25T01:00:00.000000Z", "inbox_ctime")}
    assert rows(mailwork, "SELECT COUNT(*) FROM arrivals WHERE outcome = 'accepted'") == [(0,)]
    detail = rows(mailwork, "SELECT detail FROM events WHERE kind = 'rejected' AND detail LIKE '%header_time%'")
    assert detail and "2023-05-01T08:00:00+08:00" in detail[0][0]


def test_a_units_own_email_in_its_folder_takes_its_arrival_time(mailwork, tmp_path):
    wb = make_submission(tmp_path / "a.xlsx").read_bytes()
    (mailwork / "inbox" / EXEC / "本单位.eml").write_bytes(
        eml("执法大队 <zfdd@yx.gov.cn>", "Mon, 01 May 2023 08:00:00 +0800", [("附件2.xlsx", wb)]))
    ingest(mailwork, arrived="2023-05-25T09:00")
    assert rows(mailwork, "SELECT received_utc, received_rule, outcome FROM arrivals WHERE kind = 'workbook'") == \
        [("2023-05-25T01:00:00.000000Z", "inbox_ctime", "accepted")]


def test_the_clerks_email_takes_the_server_stamp_but_never_later_than_its_arrival(mailwork, tmp_path):
    wb = make_submission(tmp_path / "a.xlsx").read_bytes()
    (mailwork / "inbox" / "早.eml").write_bytes(eml("zfdd@yx.gov.cn", "Mon, 22 May 2023 16:40:00 +0800", [("a.xlsx", wb)]))
    (mailwork / "inbox" / "晚.eml").write_bytes(
        eml("zjz@yx.gov.cn", "Fri, 26 May 2023 10:00:00 +0800",
            [("b.xlsx", make_submission(tmp_path / "b.xlsx", unit="质监站").read_bytes())]))
    ingest(mailwork, arrived="2023-05-25T09:00")
    got = dict(rows(mailwork, "SELECT unit, received_utc FROM arrivals WHERE kind = 'workbook'"))
    assert got == {EXEC: "2023-05-22T08:40:00.000000Z", QUALITY: "2023-05-25T01:00:00.000000Z"}


def test_the_same_attachment_twice_in_one_email_is_one_submission(mailwork, tmp_path):
    wb = make_submission(tmp_path / "a.xlsx").read_bytes()
    (mailwork / "inbox" / "两次.eml").write_bytes(
        eml("zfdd@yx.gov.cn", "Mon, 22 May 2023 16:40:00 +0800", [("附件2.xlsx", wb), ("附件2(1).xlsx", wb)]))
    ingest(mailwork, arrived="2023-05-25T09:00")
    got = rows(mailwork, "SELECT original_name, outcome, duplicate_of IS NOT NULL FROM arrivals WHERE kind = 'workbook' ORDER BY id")
    assert got == [("附件2.xlsx", "accepted", 0), ("附件2(1).xlsx", "duplicate", 1)]
    assert rows(mailwork, "SELECT COUNT(DISTINCT arrival_id) FROM submission_values") == [(1,)]


@POSIX_ONLY
def test_a_link_is_rejected_and_its_target_never_read(workdir, tmp_path):
    secret = make_submission(tmp_path / "另一个单位的表.xlsx", unit="质监站")
    before = secret.read_bytes()
    (workdir / "inbox" / EXEC / "链接.xlsx").symlink_to(secret)
    (workdir / "inbox" / EXEC / "目录链接").symlink_to(tmp_path, target_is_directory=True)
    result = ingest(workdir, arrived="2023-05-25T09:00")
    assert sorted((r.name, r.outcome) for r in result.files) == [("目录链接", "rejected"), ("链接.xlsx", "rejected")]
    assert all("符号链接" in r.issues[0].message for r in result.files)
    assert secret.read_bytes() == before and secret.exists()
    assert not any(p.read_bytes() == before for p in archived(workdir))
    assert not (workdir / "inbox" / EXEC / "链接.xlsx").is_symlink()  # the link itself is taken away
    assert tmp_path.is_dir() and secret.exists()
    assert rows(workdir, "SELECT COUNT(*) FROM arrivals") == [(2,)]


# --- nothing half-written, nothing lost --------------------------------------------------------------------

def test_a_file_replaced_while_it_is_processed_stays_as_a_new_arrival(workdir, tmp_path):
    path = drop(workdir, EXEC, "附件2.xlsx", month_to=4)
    newer = make_submission(tmp_path / "new.xlsx", month_to=5).read_bytes()

    def replace_after_commit(step, p):
        if step == "committed" and p == path:
            tmp = path.with_name("附件2.xlsx.tmp")
            tmp.write_bytes(newer)
            os.replace(tmp, path)  # the unit saves again, the way Excel does

    ingest(workdir, faults=replace_after_commit)
    assert path.exists() and path.read_bytes() == newer  # not deleted unseen
    ingest(workdir, now="2023-06-10T09:05")
    assert rows(workdir, "SELECT month_to, outcome FROM arrivals ORDER BY id") == [(4, "accepted"), (5, "accepted")]
    assert inbox_files(workdir) == []
    assert rows(workdir, "SELECT COUNT(*) FROM events WHERE kind = 'replaced_in_inbox'") == [(1,)]


def test_a_copy_that_pauses_is_waited_for_by_ingest(workdir, tmp_path):
    data = make_submission(tmp_path / "src.xlsx").read_bytes()
    path = workdir / "inbox" / EXEC / "复制中.xlsx"
    path.write_bytes(data[: len(data) // 2])
    first = ingest(workdir)
    assert first.files == [] and [w.reason for w in first.waiting] == ["文件尚未写完整（正在复制或保存），写完后再处理"]
    with open(path, "ab") as f:
        f.write(data[len(data) // 2:])
    (r,) = ingest(workdir).files
    assert r.outcome == "accepted"
    assert rows(workdir, "SELECT sha256 FROM arrivals") == [(hashlib.sha256(data).hexdigest(),)]


def test_the_watcher_waits_for_a_copy_that_pauses_for_three_windows(workdir, tmp_path):
    from helpers import wait_until
    from watching import arrivals, fast, settled, watching

    fast(workdir)  # a one-second stability window
    data = make_submission(tmp_path / "src.xlsx").read_bytes()
    target = workdir / "inbox" / EXEC / "停顿.xlsx"
    with watching(workdir, False) as (watcher, lines):
        with open(target, "wb") as f:
            f.write(data[: len(data) // 2])
            f.flush()
            time.sleep(3.5)  # three stability windows and a half with nothing written
            assert arrivals(workdir) == []
            f.write(data[len(data) // 2:])
        assert wait_until(lambda: len(arrivals(workdir)) == 1)
        assert wait_until(lambda: settled(watcher))  # and nothing more to come of it
    (row,) = arrivals(workdir)
    assert row[1] == "accepted" and row[3] == hashlib.sha256(data).hexdigest()


# --- nothing counted twice ------------------------------------------------------------------------------------

@POSIX_ONLY
def test_two_ingests_at_once_with_the_lock_deleted_record_each_file_once(workdir):
    units = config.load(workdir / "config.toml").units
    for i in range(200):
        unit = units[i % len(units)]
        make_submission(workdir / "inbox" / unit.folder / f"附件2_{i:03d}.xlsx", unit=unit.name,
                        month_to=1 + i % 5, cells={("other", "penalties"): i})
    lock = workdir / "annex2.sqlite.lock"
    first = subprocess.Popen([sys.executable, "-m", "pipeline", "ingest"], cwd=workdir,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wait_until(lambda: len(archived(workdir)) >= 5, timeout=120, every=0.02)
    lock.unlink()  # what a desperate clerk might do
    second = subprocess.Popen([sys.executable, "-m", "pipeline", "ingest"], cwd=workdir,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    _out1, err1 = first.communicate(timeout=600)
    _out2, err2 = second.communicate(timeout=600)
    assert first.returncode == 0 and second.returncode == 0, err1 + err2
    assert inbox_files(workdir) == []
    assert rows(workdir, "SELECT COUNT(*), COUNT(DISTINCT source_path) FROM arrivals") == [(200, 200)]
    assert rows(workdir, "SELECT COUNT(*) FROM submission_values") == [(200 * 70,)]
    assert len(archived(workdir)) == 200
    assert len(list((workdir / "inbox").rglob("回执/*.txt"))) == 200


def test_the_busy_message_names_the_holder_and_never_advises_deleting_the_lock(workdir):
    from pipeline.storage.lock import LockBusy

    text = str(LockBusy(workdir / "annex2.sqlite.lock", "watch，进程 42@pc，自 2023-05-20 起"))
    assert "进程 42@pc" in text and "删除" not in text


# --- config and ledger faults -----------------------------------------------------------------------------------

def test_a_config_saved_as_gbk_exits_2(workdir):
    path = workdir / "config.toml"
    path.write_bytes(path.read_text(encoding="utf-8").encode("gbk", errors="replace"))
    result = CliRunner().invoke(cli, ["status"])
    assert result.exit_code == 2
    assert "请用 UTF-8 编码保存 config.toml" in result.output


def test_a_read_only_ledger_stops_with_a_message_and_leaves_no_orphan_copy(workdir):
    drop(workdir, EXEC, "附件2.xlsx")
    cfg = config.load(workdir / "config.toml")
    Ledger(cfg.ledger).close()  # the ledger exists, then becomes read-only (a share mounted read-only)
    with Ledger(cfg.ledger, read_only=True) as ledger:
        result = Ingester(cfg, ledger, lambda: at("2023-05-20T10:00"), wall=lambda: time.time() + 60).run(scan_inbox(cfg))
    assert result.fault and "台账文件只读" in result.fault and not result.ok
    assert archived(workdir) == [] and len(inbox_files(workdir)) == 1
    (r,) = ingest(workdir).files
    assert r.outcome == "accepted" and len(archived(workdir)) == 1


def test_status_and_backup_refuse_a_damaged_ledger(workdir):
    drop(workdir, EXEC, "附件2.xlsx")
    ingest(workdir)
    db = workdir / "annex2.sqlite"
    sqlite3.connect(db).execute("PRAGMA wal_checkpoint(TRUNCATE)").close()
    data = bytearray(db.read_bytes())
    for page in range(4096, len(data), 4096 * 3):  # bad sectors: some pages' headers overwritten
        data[page:page + 16] = b"\xff" * 16
    db.write_bytes(bytes(data))
    for args in (["status", "--month", "2023-05"], ["backup", str(workdir / "b.sqlite")]):
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 1, result.output
        assert "已损坏" in result.output and "Traceback" not in result.output


def test_receipts_and_outputs_are_readable_as_the_umask_says(workdir):
    drop(workdir, EXEC, "附件2.xlsx")
    old = os.umask(0o022)
    try:
        ingest(workdir)
    finally:
        os.umask(old)
    if sys.platform != "win32":
        (receipt,) = receipts(workdir)
        assert receipt.stat().st_mode & 0o044 == 0o044


def test_ignored_files_older_than_a_day_are_listed_by_status(workdir):
    junk = workdir / "inbox" / EXEC / "附件2.xlsx.tmp"
    junk.write_bytes(b"x")
    old = time.time() - 2 * 86400
    os.utime(junk, (old, old))
    result = CliRunner().invoke(cli, ["status", "--month", "2023-05", "--as-of", "2023-05-31"])
    assert result.exit_code == 0
    assert "附件2.xlsx.tmp" in result.output and "超过一天" in result.output


# --- a seeded fuzz run through the whole intake ----------------------------------------------------------------

def test_a_fuzzed_batch_ends_every_file_recorded_once_with_a_receipt(workdir, tmp_path):
    """320 damaged workbooks and e-mails (byte flips, truncations, damaged parts; seed 12) and three good
    files in one `annex2 ingest` run, a real process: nothing dies, every file ends archived and recorded
    exactly once with a receipt, the good ones are accepted. Replay a failure with fuzz.fuzz_files(12, …)."""
    from fuzz import fuzz_emls, fuzz_files

    units = [u for u in config.load(workdir / "config.toml").units]
    damaged = fuzz_files(seed=12, n=240) + fuzz_emls(seed=12, n=80)
    an_hour_ago = time.time() - 3600  # copies that broke off long ago: taken and judged, not waited for
    for n, f in enumerate(damaged):
        path = workdir / "inbox" / units[n % len(units)].folder / f.name
        path.write_bytes(f.data)
        os.utime(path, (an_hour_ago, an_hour_ago))
    good = [(units[0], "好_4月.xlsx", 4), (units[1], "好_5月.xlsx", 5), (units[2], "好_3月.xlsx", 3)]
    for unit, name, month in good:
        make_submission(workdir / "inbox" / unit.folder / name, unit=unit.name, month_to=month)
    proc = run_cli(workdir, "ingest", timeout=900)
    assert proc.returncode in (0, 1), proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    assert inbox_files(workdir) == []
    top = rows(workdir, "SELECT source_path, outcome, receipt_path, archived_path FROM arrivals "
                        "WHERE parent_id IS NULL AND retry_of IS NULL")
    assert len(top) == len({r[0] for r in top}) == len(damaged) + len(good)  # each exactly once
    assert all((workdir / r[2]).is_file() for r in top)  # each with its receipt
    assert all((workdir / r[3]).is_file() for r in top)  # and its archive copy
    outcomes = {r[0].rsplit("/", 1)[-1]: r[1] for r in top}
    assert [outcomes[name] for _u, name, _m in good] == ["accepted"] * 3
    assert rows(workdir, "SELECT COUNT(*) FROM arrivals WHERE outcome = 'failed'") == [(0,)]
    again = run_cli(workdir, "ingest")
    assert again.returncode == 0 and rows(workdir, "SELECT COUNT(*) FROM arrivals WHERE parent_id IS NULL") == \
        [(len(top),)]


def test_a_large_inbox_is_read_in_rounds_and_every_file_recorded_once(workdir, monkeypatch):
    """No more than HELD_BYTES of the inbox is held in memory: with a budget of about two files, ten files
    go through in rounds, each recorded once, oldest first within the batch."""
    import pipeline.intake.ingest as ingest_mod

    paths = [drop(workdir, EXEC, f"附件2_{n}.xlsx", month_to=1 + n % 5, cells={("other", "penalties"): n})
             for n in range(10)]
    monkeypatch.setattr(ingest_mod, "HELD_BYTES", 2 * paths[0].stat().st_size + 1)
    rounds = []
    real_load = ingest_mod.Ingester._load_all
    monkeypatch.setattr(ingest_mod.Ingester, "_load_all",
                        lambda self, cands, result: rounds.append(len(cands)) or real_load(self, cands, result))
    result = ingest(workdir, arrived="2023-05-20T10:00")
    assert len(rounds) >= 5 and max(rounds) <= 2 and sum(rounds) == 10  # never more than two files held
    assert sorted(r.name for r in result.files) == sorted(p.name for p in paths)
    assert {r.outcome for r in result.files} == {"accepted"}
    assert rows(workdir, "SELECT COUNT(*), COUNT(DISTINCT source_path) FROM arrivals") == [(10, 10)]
    assert inbox_files(workdir) == []
