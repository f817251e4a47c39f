"""docs/使用说明.md, the clerk's manual: it exists, the README links it first, every render it shows is in docs/,
and every `annex2 …` command it names runs — each with --help (the command and its options exist), and those
that only read or rebuild a working folder for real in a demo folder."""
import re
import shlex
from pathlib import Path

import pytest
from click.testing import CliRunner
from factory import make_submission

from pipeline.cli.commands import cli
from pipeline.demo.story import run_demo

REPO = Path(__file__).resolve().parent.parent
MANUAL = REPO / "docs" / "使用说明.md"
# Run for real in the demo folder: the commands that take files in, read the ledger or rebuild outputs from it
# (a file the manual names on D: is made in the test's folder: a unit's May report). The others (init, demo,
# watch, void, set-kind, tasks close) start something endless or need a number from the clerk's own ledger;
# they are run with --help.
REAL = {("--version",), ("ingest",), ("validate",), ("status",), ("merge",), ("notices",), ("export",), ("history",),
        ("template",), ("backup",), ("materials", "status"), ("materials", "pack"), ("tasks", "status")}
INPUTS = {("ingest",), ("validate",)}  # commands whose D: paths are files to read


def block_commands() -> list[str]:
    """The `annex2 …` lines of the manual's code blocks: what the clerk is told to type."""
    text = MANUAL.read_text(encoding="utf-8")
    found = []
    for block in re.findall(r"```[a-z]*\n(.*?)```", text, flags=re.S):
        found += [line.strip() for line in block.splitlines() if line.strip().startswith("annex2 ")]
    return list(dict.fromkeys(found))


def manual_commands() -> list[str]:
    """Every `annex2 …` the manual names: its code blocks' lines and its inline code (`annex2 history` …)."""
    spans = re.findall(r"`([^`\n]+)`", MANUAL.read_text(encoding="utf-8"))
    return list(dict.fromkeys([*block_commands(), *[s for s in spans if s.startswith("annex2 ")]]))


def path_of(args: list[str]) -> tuple[str, ...]:
    """The sub-command path of an argument list: ("materials", "status"), ("--version",) …"""
    out: list[str] = []
    group = cli
    for arg in args:
        sub = getattr(group, "commands", {}).get(arg)
        if sub is None:
            break
        out.append(arg)
        group = sub
    return tuple(out) or tuple(args[:1])


def test_the_manual_exists_and_is_the_readmes_first_link():
    assert MANUAL.is_file()
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    first_link = re.search(r"\]\(([^)]+)\)", readme).group(1)
    assert first_link == "docs/使用说明.md"
    shown = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", MANUAL.read_text(encoding="utf-8"))
    assert "leadership-page1.png" in shown and "bulletin-page1.png" in shown and "materials-cover.png" in shown
    assert [name for name in shown if not (MANUAL.parent / name).is_file()] == []


def test_the_manual_walks_the_month_with_each_monthly_command():
    named = {path_of(shlex.split(c)[1:]) for c in manual_commands()}
    assert {("init",), ("ingest",), ("watch",), ("status",), ("merge",), ("notices",), ("export",), ("history",),
            ("void",), ("backup",), ("validate",), ("template",), ("materials", "status"), ("materials", "pack"),
            ("materials", "set-kind"), ("tasks", "status"), ("tasks", "close")} <= named


@pytest.mark.parametrize("command", manual_commands())
def test_every_command_in_the_manual_is_one_annex2_knows(command, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    args = shlex.split(command)[1:]
    if args == ["--version"]:
        return  # no sub-command to ask for help: run for real below
    result = CliRunner().invoke(cli, [*args, "--help"], prog_name="annex2")
    assert result.exit_code == 0, (command, result.output)
    assert result.output.startswith(f"用法： annex2 {' '.join(path_of(args))}"), (command, result.output)


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    return run_demo(tmp_path_factory.mktemp("manual") / "demo").root


def test_the_commands_that_read_or_rebuild_run_for_real_in_a_demo_folder(demo, tmp_path, monkeypatch):
    monkeypatch.chdir(demo)
    ran = []
    for command in block_commands():
        args = shlex.split(command)[1:]
        if path_of(args) not in REAL:
            continue
        # a Windows path in the manual (D:\上报市局\…) becomes a file in this test's folder
        args = [str(tmp_path / re.split(r"[\\/]", a)[-1]) if re.match(r"^[A-Z]:", a) else a for a in args]
        for arg in args:
            if path_of(args) in INPUTS and arg.startswith(str(tmp_path)) and not Path(arg).exists():
                make_submission(Path(arg), unit="执法大队", month_to=5)
        result = CliRunner().invoke(cli, args, prog_name="annex2")
        assert result.exit_code == 0, (command, result.output)
        ran.append(path_of(args))
    assert set(ran) == REAL
