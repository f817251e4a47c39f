import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    """A fresh working folder made by `annex2 init`, as the current directory."""
    from pipeline.workspace import init

    init(tmp_path / "work")
    monkeypatch.chdir(tmp_path / "work")
    return tmp_path / "work"
