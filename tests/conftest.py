import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))


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
