import os
import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))


def pytest_configure(config):
    """The Windows lane (`.ci/run`) must really be one: its sitecustomize has to have taken `resource` away."""
    if os.environ.get("ANNEX2_WINDOWS_LANE") == "1" and sys.modules.get("resource", "absent") is not None:
        raise pytest.UsageError("ANNEX2_WINDOWS_LANE=1 needs tests/windows_lane first on PYTHONPATH: its "
                                "sitecustomize.py takes `resource` and os.fork away from every process")


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    """A fresh working folder made by `annex2 init`, as the current directory."""
    from pipeline.intake.workspace import init

    init(tmp_path / "work")
    monkeypatch.chdir(tmp_path / "work")
    return tmp_path / "work"


def pytest_collection_modifyitems(config, items):
    """Tests marked `office` need LibreOffice: where soffice is not on PATH they are skipped, with the reason
    (CI installs LibreOffice and runs them)."""
    if shutil.which("soffice") or shutil.which("libreoffice"):
        return
    skip = pytest.mark.skip(reason="LibreOffice (soffice) is not on PATH; install libreoffice-calc and "
                                   "libreoffice-writer to run this test")
    for item in items:
        if "office" in item.keywords:
            item.add_marker(skip)


def pytest_xdist_auto_num_workers(config):
    """`-n auto`: two workers a core (at most 8). Much of the suite waits rather than computes -- on a watcher's
    settle time, a file written in two parts seconds apart, the sandbox's and LibreOffice's child processes --
    so one worker a core leaves the cores idle: on 2 cores the suite took 0.53 of its serial time with 2
    workers and 0.40 with 4. Capped so a many-core machine does not start dozens of LibreOffice and Dovecot
    instances at once."""
    return min(2 * (os.cpu_count() or 1), 8)
