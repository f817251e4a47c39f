"""The watcher with real observers (native events and polling) on real folders."""
import hashlib
import os
import signal
import subprocess
import sys
import time

import pytest
from click.testing import CliRunner
from factory import make_submission
from helpers import edit_config, wait_until
from watching import EXEC, MODES, arrivals, fast, held_back, settled, watching

from pipeline.cli.commands import cli
from pipeline.core import config


@pytest.mark.parametrize("polling", MODES)
def test_a_file_written_slowly_is_ingested_once_complete(workdir, tmp_path, polling):
    fast(workdir)
    data = make_submission(tmp_path / "src.xlsx").read_bytes()
    target = workdir / "inbox" / EXEC / "慢慢写入.xlsx"
    with watching(workdir, polling) as (watcher, lines):
        chunks = [data[i:i + len(data) // 12 + 1] for i in range(0, len(data), len(data) // 12 + 1)]
        with open(target, "wb") as f:
            for chunk in chunks:  # a slow writer, about three seconds in all: the pauses are the scenario
                f.write(chunk)
                f.flush()
                time.sleep(0.25)
        assert wait_until(lambda: len(arrivals(workdir)) == 1)
        assert wait_until(lambda: settled(watcher))  # and nothing more to come of it
    (row,) = arrivals(workdir)
    assert row[:3] == ("慢慢写入.xlsx", "accepted", "watcher_event")
    assert row[3] == hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize("polling", MODES)
def test_two_hundred_files_at_once(workdir, tmp_path, polling):
    fast(workdir)
    staging = tmp_path / "staging"
    units = config.load(workdir / "config.toml").units
    files = []
    for i in range(200):
        unit = units[i % len(units)]
        src = make_submission(staging / f"{i:03d}.xlsx", unit=unit.name, month_to=1 + i % 5,
                              cells={("other", "penalties"): i})
        files.append((src, workdir / "inbox" / unit.folder / f"附件2_{i:03d}.xlsx"))
    with watching(workdir, polling) as (watcher, lines):
        for src, dest in files:
            os.replace(src, dest)
        assert wait_until(lambda: len(arrivals(workdir)) >= 200, timeout=180)
        assert wait_until(lambda: watcher.dirty_since is None and watcher.rebuilds >= 1, timeout=60)
        rebuilds = watcher.rebuilds
    rows = arrivals(workdir)
    assert len(rows) == 200 and len({r[4] for r in rows}) == 200
    assert {r[1] for r in rows} == {"accepted"}
    assert 1 <= rebuilds <= 10
    assert (workdir / "outbox" / "master.xlsx").exists()
    assert sum("  受理  " in line for line in lines) == 200  # the console speaks Chinese


@pytest.mark.parametrize("polling", MODES)
def test_temp_file_renamed_into_place_and_lock_files(workdir, tmp_path, polling):
    """Excel writes a temp file and renames it; while its lock file (~$name) is there the workbook is still
    open, so it waits; the lock files themselves are never picked up. Once the lock goes, it is taken."""
    fast(workdir)
    folder = workdir / "inbox" / EXEC
    data = make_submission(tmp_path / "src.xlsx").read_bytes()
    with watching(workdir, polling) as (watcher, lines):
        (folder / "~$附件2.xlsx").write_bytes(b"\x00lock owner")
        (folder / ".~lock.附件2.xlsx#").write_text("owner,host")
        (folder / "附件2.xlsx.tmp").write_bytes(data)
        os.replace(folder / "附件2.xlsx.tmp", folder / "附件2.xlsx")
        assert wait_until(lambda: held_back(watcher, folder / "附件2.xlsx"), timeout=30)  # tried, and told to wait
        assert arrivals(workdir) == [] and (folder / "附件2.xlsx").exists()
        with watcher.lock:
            tried = watcher.pending[folder / "附件2.xlsx"].backoff
        (folder / "~$附件2.xlsx").unlink()  # Excel closed the workbook
        assert wait_until(lambda: held_back(watcher, folder / "附件2.xlsx", more_than=tried), timeout=30)
        assert arrivals(workdir) == []  # tried again: LibreOffice's lock is still there
        (folder / ".~lock.附件2.xlsx#").unlink()
        assert wait_until(lambda: len(arrivals(workdir)) == 1)
    rows = arrivals(workdir)
    assert [(r[0], r[1], r[2]) for r in rows] == [("附件2.xlsx", "accepted", "watcher_event")]


@pytest.mark.parametrize("polling", MODES)
def test_a_broken_file_does_not_stop_the_next_good_one(workdir, tmp_path, polling):
    fast(workdir)
    edit_config(workdir, "incomplete_seconds = 900", "incomplete_seconds = 4")
    good = make_submission(tmp_path / "good.xlsx").read_bytes()
    with watching(workdir, polling) as (watcher, lines):
        (workdir / "inbox" / EXEC / "坏文件.xlsx").write_bytes(good[: len(good) // 3])
        assert wait_until(lambda: workdir / "inbox" / EXEC / "坏文件.xlsx" in watcher.pending)  # seen first
        (workdir / "inbox" / EXEC / "好文件.xlsx").write_bytes(good)
        assert wait_until(lambda: len(arrivals(workdir)) == 1, timeout=30)
        assert arrivals(workdir)[0][:2] == ("好文件.xlsx", "accepted")  # the good one does not wait
        assert wait_until(lambda: len(arrivals(workdir)) == 2, timeout=60)
    outcomes = {r[0]: r[1] for r in arrivals(workdir)}
    assert outcomes == {"坏文件.xlsx": "rejected", "好文件.xlsx": "accepted"}


def test_a_file_present_before_the_watcher_starts(workdir):
    fast(workdir)
    make_submission(workdir / "inbox" / EXEC / "早到的.xlsx")
    with watching(workdir, False) as (watcher, lines):
        assert wait_until(lambda: len(arrivals(workdir)) == 1)
    assert [(r[0], r[1], r[2]) for r in arrivals(workdir)] == [("早到的.xlsx", "accepted", "inbox_ctime")]


def test_a_dead_observer_is_restarted(workdir):
    fast(workdir)
    with watching(workdir, False) as (watcher, lines):
        dead = watcher.observer
        dead.stop()
        dead.join(10)
        assert wait_until(lambda: watcher.observer is not dead and watcher.observer.is_alive(), timeout=10)
        make_submission(workdir / "inbox" / EXEC / "之后.xlsx")  # the next rescan is a minute away
        assert wait_until(lambda: len(arrivals(workdir)) == 1, timeout=20)
    assert arrivals(workdir)[0][2] == "watcher_event"


def test_merge_while_the_watcher_runs(workdir):
    fast(workdir)
    with watching(workdir, False) as (watcher, lines):
        make_submission(workdir / "inbox" / EXEC / "a.xlsx")
        assert wait_until(lambda: len(arrivals(workdir)) == 1)
        result = CliRunner().invoke(cli, ["merge", "--month", "2023-05"])
        assert result.exit_code == 0, result.output
        make_submission(workdir / "inbox" / EXEC / "b.xlsx", month_to=4)
        assert wait_until(lambda: len(arrivals(workdir)) == 2)  # still watching after the clerk's merge
    assert (workdir / "outbox" / "2023-05" / "安全生产督查情况汇总_2023年5月.xlsx").exists()


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")
def test_killed_mid_batch_and_restarted_loses_nothing_and_counts_nothing_twice(workdir, tmp_path):
    fast(workdir, stable="0.5")
    units = config.load(workdir / "config.toml").units
    staged = []
    for i in range(120):
        unit = units[i % len(units)]
        staged.append((make_submission(tmp_path / f"{i}.xlsx", unit=unit.name, month_to=1 + i % 5,
                                       cells={("other", "penalties"): i}),
                       workdir / "inbox" / unit.folder / f"附件2_{i:03d}.xlsx"))

    def start():
        return subprocess.Popen([sys.executable, "-m", "pipeline", "watch"], cwd=workdir,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    log = workdir / "outbox" / "logs" / "watch.log"
    first = start()
    try:
        assert wait_until(lambda: log.exists() and "开始监视" in log.read_text(encoding="utf-8"), timeout=60)
        for src, dest in staged:
            os.replace(src, dest)
        archive = workdir / "archive"
        assert wait_until(lambda: archive.exists() and sum(1 for p in archive.rglob("*.xlsx")) >= 20,
                          timeout=120, every=0.01)
        first.send_signal(signal.SIGKILL)
        first.wait()
        waiting = [p for p in (workdir / "inbox").rglob("*.xlsx") if "回执" not in p.parts]
        assert waiting, "the kill should land mid-batch"
    finally:
        if first.poll() is None:
            first.kill()
    second = start()
    try:
        assert wait_until(lambda: len(arrivals(workdir)) >= 120, timeout=180)
        remaining = lambda: [p for p in (workdir / "inbox").rglob("*.xlsx") if "回执" not in p.parts]
        assert wait_until(lambda: not remaining(), timeout=60)
        second.send_signal(signal.SIGTERM)
        assert second.wait(timeout=60) == 0  # a clean exit
    finally:
        if second.poll() is None:
            second.kill()
    rows = arrivals(workdir)
    assert len(rows) == 120 and len({r[4] for r in rows}) == 120
    archived = [p for p in (workdir / "archive").rglob("*") if p.is_file()]
    assert len(archived) == 120
