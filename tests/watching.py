"""A watcher run in a thread of the test's own process, on a working folder, and what to ask it while it runs."""
import threading
from contextlib import contextmanager
from datetime import datetime

import pytest
from helpers import SH, edit_config, rows

from pipeline.core import config
from pipeline.intake.watch import Watcher

EXEC = "交通运输综合行政执法大队"
MODES = [pytest.param(False, id="native"), pytest.param(True, id="polling")]


def fast(work, stable="1.0", debounce="1.5"):
    edit_config(work, "stable_seconds = 2.0", f"stable_seconds = {stable}")
    edit_config(work, "rebuild_debounce_seconds = 3.0", f"rebuild_debounce_seconds = {debounce}")


def settled(watcher):
    """The watcher has nothing left to look at: every file it saw was taken (or is gone)."""
    with watcher.lock:
        return not watcher.pending


def held_back(watcher, path, more_than=0.5):
    """The watcher tried to take `path` and was told to wait (each wait doubles its back-off from 0.5 s)."""
    with watcher.lock:
        p = watcher.pending.get(path)
    return p is not None and p.backoff > more_than


def arrivals(work):
    return rows(work, "SELECT original_name, outcome, received_rule, sha256, source_path FROM arrivals ORDER BY id")


@contextmanager
def watching(work, polling):
    cfg = config.load(work / "config.toml")
    lines = []
    watcher = Watcher(cfg, lambda: datetime.now(SH), polling=polling, out=lines.append)
    started = threading.Event()
    thread = threading.Thread(target=watcher.run, kwargs={"on_started": started.set}, daemon=True)
    thread.start()
    assert started.wait(30)
    try:
        yield watcher, lines
    finally:
        watcher.stop()
        thread.join(30)
        assert not thread.is_alive()
