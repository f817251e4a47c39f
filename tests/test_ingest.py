"""Ingest with real files on disk and a real database file: every file accounted for, nothing counted twice."""
import shutil
import signal
import sqlite3
import subprocess
import sys
import time

import pytest
from click.testing import CliRunner
from factory import make_submission
from helpers import at, drop, events, ingest, rows, run_cli, schema_version, settled, wait_until

from pipeline.cli.commands import cli
from pipeline.core import config
from pipeline.storage.ledger import MIGRATIONS, Ledger

EXEC = "交通运输综合行政执法大队"
EXEC_DIR = EXEC
QUALITY = "交通质量和安全监督站"
SAFETY = "局安全监督股"


def district_total(work, metric="inspectors"):
    """The sum over every current submission, straight from the database file."""
    db = sqlite3.connect(work / "annex2.sqlite")
    rows = db.execute("""
        SELECT SUM(v.value) FROM submission_values v JOIN arrivals a ON a.id = v.arrival_id
        WHERE a.outcome = 'accepted' AND v.metric = ? AND a.id = (
            SELECT b.id FROM arrivals b WHERE b.unit = a.unit AND b.year = a.year AND b.month_to = a.month_to
            AND b.outcome = 'accepted' ORDER BY b.received_utc DESC, b.id DESC LIMIT 1)""", (metric,)).fetchone()
    return rows[0]


def table_counts(work):
    db = sqlite3.connect(work / "annex2.sqlite")
    return {t: db.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]
            for t in ("arrivals", "issues", "submission_values", "events")}


def archived(work):
    return sorted(p for p in (work / "archive").rglob("*") if p.is_file())


def inbox_files(work):
    return sorted(p for p in (work / "inbox").rglob("*")
                  if p.is_file() and p.name != "填报说明.txt" and "回执" not in p.parts)


def test_ingest_accepts_archives_records_and_answers(workdir):
    drop(workdir, EXEC_DIR, "附件2.xlsx")
    result = ingest(workdir, arrived="2023-05-20T10:00")
    assert [(r.outcome, r.unit) for r in result.files] == [("accepted", EXEC)]
    assert inbox_files(workdir) == []
    (copy,) = archived(workdir)
    assert copy.name.endswith("_附件2.xlsx") and "2023-05" in copy.parts
    receipts = list((workdir / "inbox" / EXEC_DIR / "回执").iterdir())
    assert [p.suffix for p in receipts] == [".txt"]
    text = receipts[0].read_text(encoding="utf-8-sig")
    assert "结果：已受理" in text and "2023-05-20 10:00:00" in text and "2023年1月至5月" in text
    assert district_total(workdir) == 53
    with Ledger(workdir / "annex2.sqlite") as ledger:
        (a,) = ledger.arrivals()
        assert (a.received_rule, a.received_at) == ("inbox_ctime", at("2023-05-20T10:00"))
        assert schema_version(ledger) == MIGRATIONS[-1][0]  # every migration applied
        assert [e["kind"] for e in events(ledger)] == ["accepted"]


def test_the_same_files_again_are_duplicates_and_change_no_figure(workdir):
    a = drop(workdir, EXEC_DIR, "附件2.xlsx")
    keep = workdir / "keep.xlsx"
    shutil.copyfile(a, keep)
    ingest(workdir, arrived="2023-05-20T10:00")
    shutil.copyfile(keep, workdir / "inbox" / EXEC_DIR / "附件2.xlsx")
    shutil.copyfile(keep, workdir / "inbox" / EXEC_DIR / "另存为-附件2（终稿）.xlsx")  # another name, same bytes
    result = ingest(workdir, arrived="2023-05-21T10:00")
    assert [r.outcome for r in result.files] == ["duplicate", "duplicate"]
    assert district_total(workdir) == 53
    assert table_counts(workdir)["submission_values"] == 70
    assert len(archived(workdir)) == 3 and inbox_files(workdir) == []
    receipts = sorted((workdir / "inbox" / EXEC_DIR / "回执").iterdir())
    assert sum("重复报送" in p.read_text(encoding="utf-8-sig") for p in receipts) == 2


def test_a_rejected_file_resent_after_its_alias_was_added_is_accepted(workdir):
    original = drop(workdir, None, "附件2.xlsx", unit="云溪区执法队")
    keep = workdir / "keep.xlsx"
    shutil.copyfile(original, keep)
    first = ingest(workdir, arrived="2023-05-20T10:00")
    assert [(r.outcome, [i.code for i in r.issues]) for r in first.files] == [("rejected", ["E_UNIT_UNKNOWN"])]
    marked = list((workdir / "outbox" / "receipts" / "未知单位").glob("*_错误标注.xlsx"))
    assert len(marked) == 1
    cfg_path = workdir / "config.toml"
    cfg_path.write_text(cfg_path.read_text(encoding="utf-8").replace(
        'aliases = ["执法大队",', 'aliases = ["云溪区执法队", "执法大队",'), encoding="utf-8")
    shutil.copyfile(keep, workdir / "inbox" / "附件2.xlsx")
    again = ingest(workdir, arrived="2023-05-21T10:00")
    assert [(r.outcome, r.unit) for r in again.files] == [("accepted", EXEC)]
    assert district_total(workdir) == 53


def test_a_correction_supersedes_and_keeps_the_first_received_time(workdir):
    drop(workdir, EXEC_DIR, "附件2.xlsx")
    ingest(workdir, arrived="2023-05-20T10:00")
    drop(workdir, EXEC_DIR, "附件2-更正.xlsx", cells={("traffic", "inspectors"): 30})
    ingest(workdir, arrived="2023-05-25T16:00")
    assert district_total(workdir) == 63  # 53 - 20 + 30: replaced, not added
    with Ledger(workdir / "annex2.sqlite") as ledger:
        (current,) = ledger.current()
        assert current.original_name == "附件2-更正.xlsx"
        first = ledger.first_accepted()[(EXEC, 2023, 5)]
        assert first.received_at == at("2023-05-20T10:00")
        assert [a.outcome for a in ledger.arrivals()] == ["accepted", "accepted"]
        # as of the 22nd only the first one had arrived
        (then,) = ledger.current(as_of=at("2023-05-22T00:00"))
        assert then.original_name == "附件2.xlsx"


def test_a_unit_dropping_into_another_units_folder_is_a_mismatch(workdir):
    drop(workdir, QUALITY, "附件2.xlsx", unit="执法大队")
    (r,) = ingest(workdir).files
    assert r.outcome == "rejected" and [(i.code, i.cell) for i in r.issues] == [("E_UNIT_MISMATCH", "B2")]
    assert list((workdir / "inbox" / QUALITY / "回执").glob("*_错误标注.xlsx"))
    assert not list((workdir / "inbox" / EXEC_DIR / "回执").iterdir())  # the other unit sees nothing


def test_a_stamped_scan_is_a_material_of_its_unit(workdir):
    from PIL import Image

    scan = workdir / "inbox" / EXEC_DIR / "5月工作情况盖章扫描件.pdf"
    Image.new("RGB", (200, 280), "white").save(scan, "PDF")  # a page with no text layer: a scan
    (r,) = ingest(workdir, arrived="2023-05-15T10:00").files
    assert (r.outcome, r.unit, r.period) == ("material", EXEC, "2023年5月")
    assert len(archived(workdir)) == 1 and inbox_files(workdir) == []
    db = sqlite3.connect(workdir / "annex2.sqlite")
    assert db.execute("SELECT kind, detected_type FROM material_files").fetchall() == [("stamped", "pdf")]
    (receipt,) = (workdir / "inbox" / EXEC_DIR / "回执").glob("*.txt")
    assert "尚缺电子版" in receipt.read_text(encoding="utf-8-sig")


def test_a_text_file_is_not_a_material(workdir):
    (workdir / "inbox" / EXEC_DIR / "说明.txt").write_text("五月份情况", encoding="utf-8")
    (r,) = ingest(workdir, arrived="2023-05-15T10:00").files
    assert r.outcome == "rejected" and [i.code for i in r.issues] == ["E_MATERIAL_TYPE"]


def test_history_rules_from_several_months(workdir):
    # Jan–Apr: inspectors of traffic grow by 4 or 5 a month; May jumps by 60 and units_inspected drops.
    monthly = {1: 4, 2: 9, 3: 13, 4: 18}
    for month, inspectors in monthly.items():
        drop(workdir, EXEC_DIR, f"{month}月.xlsx", month_to=month,
             cells={("traffic", "inspectors"): inspectors, ("traffic", "units_inspected"): 10 * month})
        ingest(workdir, now=f"2023-{month:02d}-28T10:00", arrived=f"2023-{month:02d}-20T10:00")
    drop(workdir, EXEC_DIR, "5月.xlsx", month_to=5,
         cells={("traffic", "inspectors"): 78, ("traffic", "units_inspected"): 35})
    (r,) = ingest(workdir, now="2023-05-28T10:00", arrived="2023-05-20T10:00").files
    assert r.outcome == "accepted"
    assert [(i.code, i.cell) for i in r.issues] == [("W_OUTLIER", "C9"), ("W_CUMULATIVE_DROP", "D9")]
    outlier_msg, drop_msg = (i.message for i in r.issues)
    assert "累计 35，比 2023年4月报送的累计 40 少" in drop_msg
    assert "本月增量 60" in outlier_msg and "中位数 4.5" in outlier_msg


def test_outlier_needs_three_earlier_increments(workdir):
    for month, inspectors in {1: 4, 2: 8}.items():
        drop(workdir, EXEC_DIR, f"{month}月.xlsx", month_to=month, cells={("traffic", "inspectors"): inspectors})
        ingest(workdir, now=f"2023-{month:02d}-28", arrived=f"2023-{month:02d}-20T10:00")
    drop(workdir, EXEC_DIR, "3月.xlsx", month_to=3, cells={("traffic", "inspectors"): 200})
    (r,) = ingest(workdir, now="2023-03-28", arrived="2023-03-20T10:00").files
    assert [i.code for i in r.issues] == []


@pytest.mark.parametrize("step", ["archived", "committed", "receipted", "removed"])
def test_fault_between_steps_never_loses_or_double_counts(workdir, step):
    drop(workdir, EXEC_DIR, "附件2.xlsx")

    def fault(name, path):
        if name == step:
            raise RuntimeError(f"injected crash after {name}")

    with pytest.raises(RuntimeError):
        ingest(workdir, arrived="2023-05-20T10:00", faults=fault)
    still_in_inbox = bool(inbox_files(workdir))
    recorded = table_counts(workdir)["arrivals"] if (workdir / "annex2.sqlite").exists() else 0
    assert still_in_inbox or recorded == 1  # never gone and unrecorded
    ingest(workdir, arrived="2023-05-20T10:00")  # the next run finishes the job
    assert inbox_files(workdir) == []
    assert table_counts(workdir)["arrivals"] == 1 and table_counts(workdir)["submission_values"] == 70
    assert len(archived(workdir)) == 1
    assert len(list((workdir / "inbox" / EXEC_DIR / "回执").glob("*.txt"))) == 1
    assert district_total(workdir) == 53


def test_crash_after_commit_replayed_leaves_exactly_the_same_rows(workdir):
    drop(workdir, EXEC_DIR, "a.xlsx")
    drop(workdir, QUALITY, "b.xlsx", unit="质监站", cells={("traffic", "major_fixed"): 5})

    commits = []

    def crash(name, path):  # killed right after the commit (both files in one group), before receipts and removal
        if name == "committed":
            commits.append(path.name)
            if len(commits) == 2:
                raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        ingest(workdir, arrived="2023-05-20T10:00", faults=crash)
    before = table_counts(workdir)
    assert before["arrivals"] == 2
    result = ingest(workdir, arrived="2023-05-20T10:00")
    assert [r.outcome for r in result.files] == ["resumed", "resumed"]
    after = table_counts(workdir)
    assert {k: after[k] for k in ("arrivals", "issues", "submission_values")} == \
        {k: before[k] for k in ("arrivals", "issues", "submission_values")}
    assert after["events"] == before["events"] + 2  # each resumption is logged
    assert list((workdir / "inbox" / QUALITY / "回执").glob("*_错误标注.xlsx"))  # the rejected one's marked-up copy
    assert len(list((workdir / "inbox").rglob("回执/*.txt"))) == 2
    assert inbox_files(workdir) == []


def test_full_disk_while_archiving_leaves_the_file_and_the_ledger(workdir, monkeypatch):
    drop(workdir, EXEC_DIR, "附件2.xlsx")
    import pipeline.intake.commit as commit_mod  # where the archive copy is written

    def full(path, data, **kw):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(commit_mod, "write_atomic", full)
    (r,) = ingest(workdir).files
    assert r.outcome == "failed" and "磁盘空间不足" in r.message and "仍在收件箱" in r.message
    assert len(inbox_files(workdir)) == 1
    assert table_counts(workdir)["arrivals"] == 0


def test_full_disk_through_the_command_exits_1_with_a_message(workdir, monkeypatch):
    drop(workdir, EXEC_DIR, "附件2.xlsx")
    import pipeline.intake.commit as commit_mod  # where the archive copy is written

    monkeypatch.setattr(commit_mod, "write_atomic", lambda path, data, **kw: (_ for _ in ()).throw(OSError(28, "full")))
    result = CliRunner().invoke(cli, ["ingest"])
    assert result.exit_code == 1
    assert "失败" in result.output and "磁盘空间不足" in result.output


ODD_NAMES = ["附件2 （5月） 终稿.xlsx", "CON.xlsx", "a" * 200 + ".xlsx", "bad:name?.xlsx"]


def test_odd_file_names_archive_safely(workdir):
    for name in ODD_NAMES[:3]:
        try:
            drop(workdir, EXEC_DIR, name, month_to=ODD_NAMES.index(name) + 3)
        except OSError:
            pytest.skip("this filesystem refuses the name itself")
    drop(workdir, QUALITY, "附件2.xlsx", unit="质监站")
    drop(workdir, EXEC_DIR, "附件2.xlsx", month_to=2)  # the same name from two units
    result = ingest(workdir, arrived="2023-05-20T10:00")
    assert sorted(r.outcome for r in result.files) == ["accepted"] * 5
    names = [p.name for p in archived(workdir)]
    assert len(names) == len(set(names)) == 5
    assert all(len(n) <= 80 for n in names)
    assert not any(n.split(".")[0].upper() in ("CON", "PRN", "AUX", "NUL") for n in names)
    assert any(n.endswith("_CON.xlsx") for n in names)
    with Ledger(workdir / "annex2.sqlite") as ledger:
        originals = sorted(a.original_name for a in ledger.arrivals())
    assert originals == sorted([ODD_NAMES[0], "CON.xlsx", ODD_NAMES[2], "附件2.xlsx", "附件2.xlsx"])


def test_external_file_needs_received_at_and_is_copied_not_moved(workdir, tmp_path):
    outside = make_submission(tmp_path / "邮件附件.xlsx")
    refused = CliRunner().invoke(cli, ["ingest", str(outside)])
    assert refused.exit_code == 2 and "--received-at" in refused.output
    ok = CliRunner().invoke(cli, ["ingest", str(outside), "--received-at", "2023-05-22T16:40", "--unit", "执法大队"])
    assert ok.exit_code == 0, ok.output
    assert outside.exists()
    with Ledger(workdir / "annex2.sqlite") as ledger:
        (a,) = ledger.arrivals()
        assert (a.source, a.received_rule, a.received_at, a.unit) == ("external", "clerk", at("2023-05-22T16:40"), EXEC)


def test_second_batch_waits_then_says_who_holds_the_lock(workdir):
    cfg_path = workdir / "config.toml"
    cfg_path.write_text(cfg_path.read_text(encoding="utf-8").replace("lock_wait_seconds = 120", "lock_wait_seconds = 1"),
                        encoding="utf-8")
    holder = subprocess.Popen([sys.executable, "-c", (
        "import time; from pipeline.storage.lock import batch_lock\n"
        "with batch_lock('annex2.sqlite.lock', 'watch'):\n    print('held', flush=True); time.sleep(30)")],
        cwd=workdir, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        started = time.monotonic()
        result = CliRunner().invoke(cli, ["ingest"])
        assert result.exit_code == 1
        assert time.monotonic() - started < 20
        assert "watch" in result.output and f"进程 {holder.pid}" in result.output
    finally:
        holder.kill()
        holder.wait()
        holder.stdout.close()
    assert CliRunner().invoke(cli, ["ingest"]).exit_code == 0  # released when its holder died


def test_backup_is_a_consistent_copy(workdir):
    drop(workdir, EXEC_DIR, "附件2.xlsx")
    ingest(workdir)
    result = CliRunner().invoke(cli, ["backup", str(workdir / "b.sqlite")])
    assert result.exit_code == 0
    copy = sqlite3.connect(workdir / "b.sqlite")
    assert copy.execute("SELECT COUNT(*) FROM submission_values").fetchone()[0] == 70
    assert copy.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_event_log_is_append_only(workdir):
    drop(workdir, EXEC_DIR, "附件2.xlsx")
    ingest(workdir)
    db = sqlite3.connect(workdir / "annex2.sqlite")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        db.execute("DELETE FROM events")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        db.execute("UPDATE events SET kind = 'x'")


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")
def test_sigkill_mid_batch_then_rerun_archives_and_records_each_file_once(workdir):
    units = [u for u in config.load(workdir / "config.toml").units]
    for i in range(200):
        unit = units[i % len(units)]
        dest = workdir / "inbox" / unit.folder / f"附件2_{i:03d}.xlsx"
        # every file distinct (the name is in the bytes), all for their folder's unit
        from factory import make_submission as mk
        mk(dest, unit=unit.name, month_to=1 + i % 5, cells={("other", "penalties"): i})
    proc = subprocess.Popen([sys.executable, "-m", "pipeline", "ingest"], cwd=workdir,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    # a group or two committed and removed, the rest still to come
    wait_until(lambda: len(inbox_files(workdir)) <= 150, timeout=120, every=0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    left = len(inbox_files(workdir))
    assert 0 < left < 200, "the kill should land mid-batch"
    rerun = subprocess.run([sys.executable, "-m", "pipeline", "ingest"], cwd=workdir, capture_output=True, text=True)
    assert rerun.returncode == 0, rerun.stderr
    assert inbox_files(workdir) == []
    db = sqlite3.connect(workdir / "annex2.sqlite")
    assert db.execute("SELECT COUNT(*), COUNT(DISTINCT source_path) FROM arrivals").fetchone() == (200, 200)
    assert db.execute("SELECT COUNT(*) FROM arrivals WHERE outcome = 'accepted'").fetchone() == (200,)
    assert db.execute("SELECT COUNT(*) FROM submission_values").fetchone() == (200 * 70,)
    copies = [p for p in archived(workdir)]
    assert len(copies) == 200 and not any(p.name.startswith(".tmp-") for p in copies)
    receipts = [p for p in (workdir / "inbox").rglob("回执/*.txt")]
    assert len(receipts) == 200


def test_a_crash_after_archiving_a_watched_file_leaves_one_copy(workdir):
    """The watcher gives a file its event time; after a crash the rescan gives it its metadata time. The
    archive copy must still be the same one."""
    from pipeline.intake.ingest import Candidate, Ingester

    path = drop(workdir, EXEC_DIR, "附件2.xlsx")
    cfg = config.load(workdir / "config.toml")

    def crash(name, p):
        if name == "archived":
            raise KeyboardInterrupt

    with Ledger(cfg.ledger) as ledger, pytest.raises(KeyboardInterrupt):
        Ingester(cfg, ledger, lambda: at("2023-05-20T10:00:05"), faults=crash).run(
            [Candidate(path, "inbox", cfg.unit_named(EXEC), at("2023-05-20T10:00:00"), "watcher_event")])
    assert len(archived(workdir)) == 1 and inbox_files(workdir) == [path]
    ingest(workdir)  # the restart finds it by a scan
    assert len(archived(workdir)) == 1
    assert table_counts(workdir)["arrivals"] == 1


def test_the_district_total_saved_in_a_units_folder_is_not_taken_as_its_report(workdir):
    # Found: `export --annex2 inbox/局安全监督股/x.xlsx` then `ingest` accepted the district total (填报单位 =
    # the bureau's full name) as 局安全监督股's report: the next total counted the district twice.
    make_submission(workdir / "inbox" / EXEC / "附件2.xlsx")
    settled(workdir)
    assert run_cli(workdir, "ingest").returncode == 0
    assert run_cli(workdir, "export", "--month", "2023-05", "--annex2", f"inbox/{SAFETY}/x.xlsx").returncode == 0
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
    run_cli(workdir, "ingest")
    assert rows(workdir, "SELECT unit, outcome FROM arrivals WHERE id > 2 ORDER BY id") == \
        [(QUALITY, "rejected"), (SAFETY, "accepted")]


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
