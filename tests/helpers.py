"""Shared steps for tests that drive a working folder: drop files into the inbox, ingest them at set times."""
import os
import re
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
from contextlib import contextmanager
from datetime import datetime
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
from factory import make_submission

from pipeline.core import config
from pipeline.intake.ingest import Ingester, scan_inbox
from pipeline.storage.ledger import Ledger

SH = ZoneInfo("Asia/Shanghai")


def _importable(name: str) -> bool:
    try:
        __import__(name)
    except ImportError:
        return False
    return True


# Windows has no `resource` module, and the Windows lane of .ci/run takes it away on Linux: no RLIMIT_AS for the
# sandbox to cap a worker with, nor for a test to measure or cap a process of its own.
needs_rlimit = pytest.mark.skipif(not _importable("resource"),
                                  reason="no resource module (Windows, or the Windows lane): no RLIMIT_AS")


def at(text):
    """A moment written in the bureau's zone."""
    return datetime.fromisoformat(text).replace(tzinfo=SH)


def drop(work, folder, name, **kw):
    path = work / "inbox" / folder / name if folder else work / "inbox" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    return make_submission(path, **kw)


def arriving_at(moment):
    """A stat() whose inode change time says the file arrived at `moment` (the arrival rule's input)."""
    def stat(path):
        real = os.lstat(path)
        fields = {name: getattr(real, name) for name in dir(real) if name.startswith("st_")}
        return SimpleNamespace(**{**fields, "st_ctime_ns": int(round(moment.timestamp() * 1e9))})
    return stat


def ingest(work, now="2023-06-10T09:00", arrived=None, faults=None, cfg=None):
    """One batch through the library; `arrived` places every file's arrival (its ctime) at that moment."""
    cfg = cfg or config.load(work / "config.toml")
    stat = os.lstat if arrived is None else arriving_at(at(arrived))
    with Ledger(cfg.ledger) as ledger:
        kwargs = {"faults": faults} if faults else {}
        # The folder is looked at a minute after the files were written: every copy has settled.
        return Ingester(cfg, ledger, lambda: at(now), stat=stat, wall=lambda: time.time() + 60,
                        **kwargs).run(scan_inbox(cfg))


def report(work, folder, arrived, name=None, now=None, **kw):
    """A unit's file arriving at `arrived`, ingested right then."""
    drop(work, folder, name or f"附件2_{arrived.replace(':', '')}.xlsx", **kw)
    return ingest(work, now=now or arrived, arrived=arrived)


def built_once(tmp_path_factory, build):
    """A working folder made by `annex2 init` and then `build(work)` with it as the current directory, for
    a module whose tests only read what was built (see `copy_into`)."""
    from pipeline.intake.workspace import init

    work = tmp_path_factory.mktemp("built") / "work"
    init(work)
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(work)
        build(work)
    return work


def copy_into(built, workdir):
    """The test's own copy of a folder built once per module: each test may change its copy freely."""
    for child in list(workdir.iterdir()):
        shutil.rmtree(child) if child.is_dir() else child.unlink()
    shutil.copytree(built, workdir, dirs_exist_ok=True)
    return workdir


def annex2_only(work):
    """A folder whose units owe only the Annex 2 (every unit `materials = false`): for tests of the Annex 2
    rules, where the materials obligation (spec 9) would add strikes of its own."""
    path = work / "config.toml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("[[units]]\n", "[[units]]\nmaterials = false\n"), encoding="utf-8")


def no_tasks_due(work):
    """A task list of one task of the fourth quarter (局安全监督股): before October no key task is due, so the
    tasks (spec 11) add no reminders or strikes to tests of the other obligations."""
    from pipeline.tasks.task_list import write_task_list

    write_task_list(work / "templates" / "annex1_tasks.xlsx", [
        {"id": "T01", "project": "深化专项整治", "name": "冬季安全专项整治", "window": "第四季度",
         "units": "局安全监督股落实", "measure": "开展冬季道路运输安全检查。"}])


def edit_config(work, old, new):
    """One line of the working folder's config.toml changed, as a clerk edits it (the old text must be there)."""
    path = work / "config.toml"
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def set_config(work, pattern, new):
    """The first line of config.toml that `pattern` (a regex, per line) matches, changed to `new`."""
    path = work / "config.toml"
    text = path.read_text(encoding="utf-8")
    assert re.search(pattern, text, flags=re.M), pattern
    path.write_text(re.sub(pattern, new, text, count=1, flags=re.M), encoding="utf-8")


def run_cli(work, *args, timeout=300):
    """`annex2 ARGS` as a real process in the working folder."""
    return subprocess.run([sys.executable, "-m", "pipeline", *args], cwd=work, capture_output=True, text=True,
                          timeout=timeout)


def wait_until(condition, timeout=60, every=0.1):
    """True as soon as `condition()` is, polled every `every` seconds; its last answer after `timeout` seconds
    (a generous bound: a test waits on what it expects, never for a fixed time)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(every)
    return condition()


def rows(work, sql, args=()):
    """Rows of the working folder's ledger file, read by a connection of our own; none while no command has
    made the ledger or its tables yet (the file is never created here)."""
    if not (work / "annex2.sqlite").exists():
        return []
    db = sqlite3.connect(work / "annex2.sqlite")
    try:
        return db.execute(sql, args).fetchall()
    except sqlite3.OperationalError:  # the tables are not there yet
        return []
    finally:
        db.close()


def events(ledger):
    """The ledger's event log, oldest first, as dicts (what a person reading annex2.sqlite sees)."""
    cur = ledger.db.execute("SELECT id, at_utc, command, kind, arrival_id, detail FROM events ORDER BY id")
    return [dict(zip(("id", "at_utc", "command", "kind", "arrival_id", "detail"), r)) for r in cur]


def schema_version(ledger):
    """The highest migration the ledger file has had applied."""
    return ledger.db.execute("SELECT MAX(version) FROM schema_migrations").fetchone()[0]


def settled(work):
    """The inbox's files are taken without the usual two seconds of waiting for a copy to settle (`ingest`
    itself waits out the 0.3 s for a file it finds too fresh: nothing to sleep for here)."""
    edit_config(work, "stable_seconds = 2.0", "stable_seconds = 0.3")


@contextmanager
def small_tmpfs(folder, size: str):
    """`folder` made a tmpfs of `size` (e.g. "64k", "4m") for as long as the block runs: a disk that fills up.
    Skips the test where it cannot be had (not root, no mount, Windows)."""
    if sys.platform == "win32" or os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("needs root to mount a small tmpfs")
    folder.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)]).returncode != 0:
        pytest.skip("cannot mount a tmpfs here")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)])


def free_port() -> int:
    """A loopback port nobody listens on now, chosen by the system: parallel test workers never share one."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class SmtpCollect:
    """aiosmtpd handler: every message the SMTP server accepted."""

    def __init__(self):
        self.envelopes = []

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append(envelope)
        return "250 OK"


def status_with_materials(cfg, ledger, month, as_of):
    """The month's status with the materials as its only further obligation (the key tasks left out): for
    tests of the Annex 2 and materials rules, where a task list would add strikes of its own."""
    from pipeline.materials.obligation import MaterialsObligation
    from pipeline.monthly.status import status

    return status(cfg, ledger, month, as_of, [MaterialsObligation(cfg, ledger, month, as_of)])


MEASURED = """
import json, resource, subprocess, sys
# A guard for the machine, not the measure: code that still parsed in this process would take gigabytes.
resource.setrlimit(resource.RLIMIT_AS, (3 * 1024 ** 3, 3 * 1024 ** 3))
done = subprocess.run([sys.executable, "-m", "pipeline", *sys.argv[2:]])
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # the largest process: the CLI or its worker
open(sys.argv[1], "w").write(json.dumps({"rc": done.returncode, "peak_mb": peak}))
"""


def measured(work, *args, timeout=300):
    """`annex2 ARGS` in a wrapper that reports the peak resident memory of the command's processes (the
    largest of the CLI and the sandbox's worker, from getrusage(RUSAGE_CHILDREN)), and its exit status."""
    import json

    out = work.parent / "measured.json"
    got = subprocess.run([sys.executable, "-c", MEASURED, str(out), *args], cwd=work, capture_output=True,
                         text=True, timeout=timeout)
    result = json.loads(out.read_text())
    return result["rc"], result["peak_mb"], got.stdout + got.stderr
