"""A file being written is waited for whatever its size (spec 13): a file created empty and
filled a few seconds later — an ordinary slow copy — is taken once, complete; the clerk's `ingest FILE` of a
0-byte file says that it waits instead of rejecting it."""
import hashlib
import os
import time

import pytest
from click.testing import CliRunner
from factory import make_submission
from helpers import wait_until
from watching import EXEC, MODES, arrivals, fast, settled, watching

from pipeline.cli.commands import cli


@pytest.mark.parametrize("polling", MODES)
def test_a_file_created_empty_and_written_four_seconds_later_is_taken_once_complete(workdir, tmp_path, polling):
    fast(workdir)
    data = make_submission(tmp_path / "src.xlsx").read_bytes()
    target = workdir / "inbox" / EXEC / "先建后写.xlsx"
    with watching(workdir, polling) as (watcher, lines):
        target.touch()  # the copy creates the file, closes it, and writes it later
        assert wait_until(lambda: target in watcher.pending)
        time.sleep(4)  # the slow writer of this scenario (not a wait for the watcher)
        assert arrivals(workdir) == [] and target.exists()  # not judged as an empty file meanwhile
        with open(target, "r+b") as f:
            f.write(data)
        assert wait_until(lambda: len(arrivals(workdir)) == 1, timeout=60)
        assert wait_until(lambda: settled(watcher))
    (row,) = arrivals(workdir)
    assert row[:3] == ("先建后写.xlsx", "accepted", "watcher_event")
    assert row[3] == hashlib.sha256(data).hexdigest()
    assert not target.exists()


def test_ingest_of_an_empty_file_says_it_waits(workdir, tmp_path):
    empty = workdir / "inbox" / EXEC / "空的.xlsx"
    empty.parent.mkdir(parents=True, exist_ok=True)
    empty.touch()
    result = CliRunner().invoke(cli, ["ingest", str(empty)])
    assert result.exit_code == 0, result.output
    assert ("等待  空的.xlsx：文件是空的（0 字节），可能仍在复制或写入，等待写完后再处理（15 分钟后仍为空则按空文件退回）"
            in result.stderr)
    assert arrivals(workdir) == [] and empty.exists()
    outside = tmp_path / "下载中.xlsx"
    outside.touch()
    result = CliRunner().invoke(cli, ["ingest", str(outside), "--unit", "执法大队", "--received-at", "2023-05-20T10:00"])
    assert result.exit_code == 0 and "等待  下载中.xlsx：文件是空的（0 字节）" in result.stderr
    assert arrivals(workdir) == []


def test_an_empty_file_left_past_the_incomplete_window_is_rejected_as_empty(workdir):
    empty = workdir / "inbox" / EXEC / "一直是空的.xlsx"
    empty.parent.mkdir(parents=True, exist_ok=True)
    empty.touch()
    old = time.time() - 901
    os.utime(empty, (old, old))
    result = CliRunner().invoke(cli, ["ingest"])
    assert result.exit_code == 1
    ((name, outcome, *_),) = arrivals(workdir)
    assert (name, outcome) == ("一直是空的.xlsx", "rejected")
    assert "文件是空的（0 字节）" in result.output
