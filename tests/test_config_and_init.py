"""config.toml and `annex2 init`: loading reports every problem at once with its line (TOML mistakes explained in
Chinese, values bounded at the check), the working folder's config is found from any sub-folder, from --config
before or after the sub-command or from ANNEX2_CONFIG."""
import json
from datetime import datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from helpers import edit_config, run_cli

from pipeline.cli.commands import cli
from pipeline.core import config

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


@pytest.mark.parametrize("old,new,line", [
    ("grace_days = 0 ", "grace_days = 100000000 ", "config.toml:21: [deadline] grace_days 应在 0–366 之间，实际是 100000000"),
    ("month_offset = 0 ", "month_offset = 100000 ", "config.toml:19: [deadline] month_offset 应在 0–12 之间，实际是 100000"),
    ('name = "局安全监督股"', 'name = "' + "局" * 90 + '"',
     "config.toml:137: 单位名称 “局局局局局局局局局局局局局局局局局局局局…” 太长（90 个字，最多 50 个）（名称也是该单位收件文件夹的默认名）"),
    ('name = "局安全监督股"', 'name = ".."',
     "config.toml:137: 单位名称 “..” 不能是 . 或 ..（它们表示当前和上一级文件夹）（名称也是该单位收件文件夹的默认名）"),
    ('name = "局安全监督股"', 'name = "局安全监督股"\nfolder = "回执"',
     "config.toml:138: folder “回执” 不能是“回执”（各单位文件夹中存放回执的子文件夹叫这个名字）"),
    ('name = "局安全监督股"', 'name = "局安全监督股"\nfolder = ".安监"',
     "config.toml:138: folder “.安监” 不能以 . 开头（这样的文件夹是隐藏的，收件时被跳过）"),
    ("parse_seconds = 20", "parse_seconds = 20000", "config.toml:58: [limits] parse_seconds 应在 1–3600 之间，实际是 20000"),
])
def test_config_values_that_broke_later_commands_are_refused_at_the_check_naming_the_line(workdir, old, new, line):
    edit_config(workdir, old, new)
    for command in (["ingest"], ["status", "--month", "2023-05"]):
        result = run_cli(workdir, *command)
        assert result.returncode == 2, result.stderr
        assert line in result.stderr
        assert "Traceback" not in result.stderr and "内部错误" not in result.stderr


def run(*args, **kw):
    return CliRunner().invoke(cli, [str(a) for a in args], prog_name="annex2", **kw)


def write_two_unit_config(work):
    """A config with two units only, so a command that read it shows two units, the defaults nine."""
    text = config.default_config_text()
    head, _, _ = text.partition("\n[[units]]\n")
    (work / "config.toml").write_text(head + '\n[[units]]\nname = "甲单位"\n\n[[units]]\nname = "乙单位"\n',
                                      encoding="utf-8")


def test_a_command_run_inside_inbox_unit_uses_the_working_folders_config(workdir, monkeypatch):
    write_two_unit_config(workdir)
    unit_folder = workdir / "inbox" / "交通运输综合行政执法大队"
    monkeypatch.chdir(unit_folder)
    result = run("status", "--month", "2023-05", "--as-of", "2023-05-31", "--json")
    assert result.exit_code == 0, result.output
    # stdout is the JSON; the seed's task list names units this config lacks: said once on stderr, status carries on
    assert [u["unit"] for u in json.loads(result.stdout)["units"]] == ["甲单位", "乙单位"]
    assert result.stderr.count("任务清单有误") == 1
    assert not (unit_folder / "annex2.sqlite").exists() and (workdir / "annex2.sqlite").exists()
    monkeypatch.chdir(unit_folder / "回执")
    assert config.find_config(None).resolve() == (workdir / "config.toml").resolve()


def test_outside_any_working_folder_the_hint_is_init(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = run("status")
    assert result.exit_code == 2
    assert "找不到配置文件 config.toml" in result.output and "annex2 init" in result.output


def test_config_before_or_after_the_sub_command_or_in_the_environment(workdir, tmp_path, monkeypatch):
    write_two_unit_config(workdir)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    cfg = workdir / "config.toml"
    for args, env in [(["--config", cfg, "status"], None), (["status", "--config", cfg], None),
                      (["status", f"--config={cfg}"], None), (["status", "--config", workdir], None),
                      (["status"], {"ANNEX2_CONFIG": str(cfg)})]:
        result = run(*args, "--month", "2023-05", "--as-of", "2023-05-31", "--json", env=env)
        assert result.exit_code == 0, (args, result.output)
        assert len(json.loads(result.stdout)["units"]) == 2, args
    assert not (elsewhere / "annex2.sqlite").exists()


def broken_config(work, old, new):
    text = config.default_config_text()
    assert old in text
    (work / "config.toml").write_text(text.replace(old, new, 1), encoding="utf-8")
    return text[:text.index(old)].count("\n") + 1


@pytest.mark.parametrize("old, new, column, explained, hint", [
    ('name = "现代物流中心"', "name = “现代物流中心”", 8, "这里的值无法识别",
     "提示：这一行用了中文引号“”或‘’：请改成英文双引号 \"（切换到英文输入法再输入）"),
    # column None: the string runs on to the end of the line
    ('short_name = "云溪区"', 'short_name = "云溪区', None, "这一行的文本没有结束引号（缺少一个英文双引号 \"）",
     "提示：这一行的英文双引号 \" 不成对：文本两边各要一个"),
    ("day = 23", "day ＝ 23", 5, "键的后面应是英文等号 =（例如 day = 23）", "提示：这一行用了全角等号＝：请改成英文等号 ="),
])
def test_toml_mistakes_are_explained_in_chinese_with_line_and_column(workdir, old, new, column, explained, hint):
    line = broken_config(workdir, old, new)
    source = (workdir / "config.toml").read_text(encoding="utf-8").splitlines()[line - 1]
    column = column or len(source) + 1
    result = run("status")
    assert result.exit_code == 2
    lines = result.output.splitlines()
    assert lines[0] == f"{workdir / 'config.toml'}:{line}: TOML 语法错误（第 {line} 行第 {column} 列）：" + lines[0].split("：", 1)[1]
    assert explained in lines[0]
    assert lines[1].strip() == source.strip() and source.startswith(new)
    assert hint in result.output
    assert "Invalid" not in result.output and "Expected" not in result.output and "Illegal" not in result.output


def test_a_config_saved_as_ansi_is_refused_not_read_as_mojibake(workdir):
    (workdir / "config.toml").write_bytes(config.default_config_text().encode("gbk"))
    result = run("status")
    assert result.exit_code == 2
    assert "config.toml 不是 UTF-8 编码（多半是用记事本另存为了 ANSI/GBK）" in result.output
    assert "编码”选 UTF-8" in result.output


def test_a_config_with_a_bom_is_read(workdir):
    (workdir / "config.toml").write_bytes(b"\xef\xbb\xbf" + config.default_config_text().encode("utf-8"))
    assert run("status", "--month", "2023-05", "--as-of", "2023-05-31").exit_code == 0


def test_the_default_config_explains_itself_in_chinese():
    comments = [line for line in config.default_config_text().splitlines() if "#" in line]
    english = [c for c in comments if not any("\u4e00" <= ch <= "\u9fff" for ch in c.split("#", 1)[1])
               and not c.lstrip().startswith("# ") or (c.lstrip().startswith("# ") and "=" not in c
               and c.strip() not in ("# [smtp]", "# [mail]") and not any("\u4e00" <= ch <= "\u9fff" for ch in c))]
    assert english == []


def test_init_inside_a_working_folder_is_refused(workdir, monkeypatch):
    inside = workdir / "inbox" / "交通运输综合行政执法大队"
    monkeypatch.chdir(inside)
    result = run("init")
    assert result.exit_code == 1
    assert f"错误：. 位于已有的工作目录 {workdir.resolve()} 之内，不能在里面再建一个" in result.output
    assert not (inside / "config.toml").exists()
    assert run("init", "--force").exit_code == 0 and (inside / "config.toml").exists()
