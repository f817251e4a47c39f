"""config.toml loading (every problem at once, with its line) and `annex2 init`."""
from datetime import datetime
from pathlib import Path

from click.testing import CliRunner

from pipeline.core import config
from pipeline.cli.commands import cli

REPO = Path(__file__).resolve().parent.parent


def test_repository_config_is_the_embedded_default_and_loads():
    assert (REPO / "config.toml").read_text(encoding="utf-8") == config.default_config_text()
    cfg = config.load(REPO / "config.toml")
    assert cfg.bureau.name == "岳阳市云溪区交通运输局"
    assert cfg.bureau.short_name == "云溪区"
    assert str(cfg.start) == "2023-01"
    assert (cfg.deadline.day, cfg.deadline.inclusive, cfg.deadline.month_offset) == (23, True, 0)
    assert len(cfg.units) == 9
    assert cfg.unit_named("执法大队").name == "交通运输综合行政执法大队"
    assert cfg.unit_named("质监站").name == "交通质量和安全监督站"
    assert cfg.unit_named("区道路运输服务中心（章）").name == "区道路运输服务中心"
    assert cfg.unit_named(" 基 建 股 ").name == "局基本建设股"
    assert cfg.unit_named("某某公司") is None
    assert cfg.contact.person == "孟致红"


BROKEN = '''[bureau]
name = "岳阳市云溪区交通运输局"
short_name = "云溪区"
timezne = "Asia/Shanghai"

[deadline]
day = "23"

[reporting]
start = "2023-13"

[[units]]
name = "甲单位"
aliases = ["甲"]

[[units]]
name = "乙单位"
aliases = ["甲", "乙"]
'''


def test_broken_config_reports_every_problem_with_its_line(tmp_path, monkeypatch):
    (tmp_path / "config.toml").write_text(BROKEN, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["template", "-o", "x.xlsx"])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 4
    assert lines[0].endswith("config.toml:4: [bureau] 中有未知的键 “timezne”（可用的键：name, short_name, timezone）")
    assert "config.toml:7: [deadline] day 应为整数，实际是 '23'" in lines[1]
    assert "config.toml:18:" in lines[2] and "“甲” 同时属于 “甲单位” 和 “乙单位”" in lines[2]
    assert "config.toml:10:" in lines[3] and "13" in lines[3]
    assert not (tmp_path / "x.xlsx").exists()


def test_unknown_unit_key_and_section(tmp_path):
    text = config.default_config_text().replace('name = "现代物流中心"', 'name = "现代物流中心"\nemial = ["a@b.cn"]')
    text += "\n[smpt]\nhost = \"x\"\n"
    try:
        config.parse(text, tmp_path / "config.toml")
    except config.ConfigError as exc:
        assert any("未知的键 “emial”" in p for p in exc.problems)
        assert any("未知的配置节 “smpt”" in p for p in exc.problems)
        line = [p for p in exc.problems if "emial" in p][0]
        n = int(line.split("config.toml:")[1].split(":")[0])
        assert text.splitlines()[n - 1] == 'emial = ["a@b.cn"]'
    else:
        raise AssertionError("the typo was accepted")


def test_missing_config_says_where_it_looked_and_what_to_do(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["--config", "nowhere/config.toml", "template"])
    assert result.exit_code == 2
    assert "找不到配置文件" in result.output and "annex2 init" in result.output


def test_init_lays_out_a_working_folder_and_refuses_to_overwrite(tmp_path, monkeypatch):
    monkeypatch.setattr("pipeline.cli.workfolder.now_in", lambda cfg: datetime(2024, 3, 10, 9, 0, tzinfo=cfg.bureau.tz))
    target = tmp_path / "bureau"
    result = CliRunner().invoke(cli, ["init", str(target)])
    assert result.exit_code == 0, result.output
    assert (target / "config.toml").is_file()
    assert (target / "templates" / "annex2.xlsx").is_file()
    assert (target / "outbox").is_dir() and (target / "archive").is_dir()
    assert (target / "inbox" / "交通运输综合行政执法大队" / "回执").is_dir()
    assert (target / "inbox" / "填报说明.txt").read_text(encoding="utf-8-sig").startswith("云溪区交通运输系统")
    assert len([p for p in (target / "inbox").iterdir() if p.is_dir()]) == 9

    (target / "config.toml").write_text("# edited by the clerk\n" + config.default_config_text(), encoding="utf-8")
    before = sorted(p.relative_to(target) for p in target.rglob("*"))
    again = CliRunner().invoke(cli, ["init", str(target)])
    assert again.exit_code == 1
    assert "已存在" in again.output and "--force" in again.output
    assert (target / "config.toml").read_text(encoding="utf-8").startswith("# edited by the clerk")
    assert sorted(p.relative_to(target) for p in target.rglob("*")) == before

    forced = CliRunner().invoke(cli, ["init", str(target), "--force"])
    assert forced.exit_code == 0
    # the shipped text, with [reporting] start set to the month of init (spec 4: a new folder starts now)
    expected = config.default_config_text().replace('start = "2023-01"', 'start = "2024-03"', 1)
    assert (target / "config.toml").read_text(encoding="utf-8") == expected


def test_every_command_has_help_with_an_example_and_is_in_the_readme():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    top = CliRunner().invoke(cli, ["--help"])
    assert top.exit_code == 0 and "示例" in top.output
    for name in cli.commands:
        result = CliRunner().invoke(cli, [name, "--help"])
        assert result.exit_code == 0
        assert "示例" in result.output, name
        assert f"annex2 {name}" in result.output, name
        assert f"`annex2 {name}" in readme, name
