"""The house's rooms hold: the import-linter contracts in pyproject.toml pass on the code as it is, and a back
import -- a lower room reaching up, two obligations reaching into each other, a parser imported outside
reading/ -- breaks them, so `.ci/run` fails on it. Also: no module over 500 lines, and the top of pipeline/
holds only the rooms."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "pipeline"
ROOMS = {"core", "storage", "reading", "documents", "statistics", "materials", "tasks", "monthly", "intake", "cli",
         "demo"}


def lint_imports(tree: Path) -> subprocess.CompletedProcess:
    """`lint-imports` on a copy of the package at `tree`, with the repository's own contracts."""
    return subprocess.run([sys.executable, "-c", "from importlinter.cli import lint_imports_command; "
                           "lint_imports_command()", "--no-cache", "--no-logo", str(tree / "pyproject.toml")],
                          cwd=tree, env={"PYTHONPATH": str(tree), "PATH": "/usr/bin:/bin"},
                          capture_output=True, text=True, timeout=120)


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    shutil.copytree(PACKAGE, tmp_path / "pipeline", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def add_import(tree: Path, module: str, line: str) -> None:
    path = tree / "pipeline" / module
    path.write_text(path.read_text(encoding="utf-8") + f"\n{line}\n", encoding="utf-8")


def test_the_code_as_it_is_keeps_every_contract(tree):
    proc = lint_imports(tree)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Contracts: 3 kept, 0 broken." in proc.stdout


@pytest.mark.parametrize(("module", "line", "broken"), [
    # core is the floor: it may not reach up into the command line
    ("core/months.py", "from ..cli import commands  # noqa", "房间分层"),
    # an obligation does not reach into another one
    ("materials/names.py", "from ..tasks import window  # noqa", "房间分层"),
    # a circle inside one room
    ("core/months.py", "from . import clock  # noqa", "无循环引用"),
    # a unit's workbook parsed outside reading/
    ("monthly/export.py", "import python_calamine  # noqa", "只有 reading/"),
])
def test_a_back_import_breaks_the_contracts(tree, module, line, broken):
    add_import(tree, module, line)
    proc = lint_imports(tree)
    assert proc.returncode == 1
    assert f"{broken}" in proc.stdout and "BROKEN" in proc.stdout


def test_no_module_is_over_500_lines():
    long = {str(p.relative_to(ROOT)): n for p in PACKAGE.rglob("*.py")
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > 500}
    assert long == {}


def test_the_top_of_pipeline_holds_only_the_rooms():
    top = {p.name for p in PACKAGE.iterdir() if p.name != "__pycache__"}
    assert top == ROOMS | {"__init__.py", "__main__.py"}
    assert all((PACKAGE / room / "__init__.py").is_file() for room in ROOMS)
