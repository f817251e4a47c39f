"""Everything the clerk reads from the command line is Chinese: every command's help (walked generically, so
commands added later are held to it too) and click's own usage errors."""
import re

import click
import pytest
from click.testing import CliRunner

from pipeline.cli.commands import cli

HAN = re.compile(r"[\u4e00-\u9fff]")
# What may stand on a help line without Chinese: option names, metavars, the command's own name and words.
OPTION_OR_METAVAR = re.compile(r"(?<![\w/])(--?[\w-]+|\[[^\]]*\]|[A-Z][A-Z0-9_\[\]:-]*(?:\.\.\.)?|,|/)")


def every_command(group=cli, path=()):
    """(path, command) for the group itself and every sub-command, recursively."""
    yield path, group
    for name, command in getattr(group, "commands", {}).items():
        if isinstance(command, click.Group):
            yield from every_command(command, (*path, name))
        else:
            yield (*path, name), command


def lines_without_chinese(text):
    bad = []
    for line in text.splitlines():
        rest = OPTION_OR_METAVAR.sub("", line).strip()
        if rest and not HAN.search(line):
            bad.append(line)
    return bad


@pytest.mark.parametrize("width", [80, 120])
def test_every_help_line_of_every_command_is_chinese(width):
    seen = []
    for path, _command in every_command():
        result = CliRunner().invoke(cli, [*path, "--help"], prog_name="annex2", terminal_width=width)
        assert result.exit_code == 0, (path, result.output)
        assert result.output.startswith(f"用法： annex2 {' '.join(path)}".rstrip()), path
        assert "示例：" in result.output, path
        assert lines_without_chinese(result.output) == [], path
        seen.append(" ".join(path))
    assert {"", "init", "ingest", "merge", "export", "history", "void", "status", "notices"} <= set(seen)


def test_the_check_itself_catches_english():
    assert lines_without_chinese("  --json  Print the spec's JSON instead of text.") == [
        "  --json  Print the spec's JSON instead of text."]
    assert lines_without_chinese("Usage: annex2 [OPTIONS]\n  --month YYYY-MM  报送月份") == ["Usage: annex2 [OPTIONS]"]


def test_a_group_added_later_by_another_module_is_walked_and_laid_out_in_chinese():
    @click.group()
    def extra():
        """额外的命令组。

        \b
        示例：
            annex2 extra sub        # 运行子命令
        """

    @extra.command()
    @click.option("--flag", is_flag=True, help="一个开关。")
    def sub(flag):
        """子命令。

        \b
        示例：
            annex2 extra sub --flag   # 打开开关
        """

    cli.add_command(extra)
    try:
        paths = [p for p, _ in every_command()]
        assert ("extra",) in paths and ("extra", "sub") in paths
        result = CliRunner().invoke(cli, ["extra", "sub", "--help"], prog_name="annex2")
        assert result.output.startswith("用法： annex2 extra sub [选项]")
        assert "--config 文件" in result.output  # accepted after the sub-command there too
        assert lines_without_chinese(result.output) == []
    finally:
        del cli.commands["extra"]


@pytest.mark.parametrize("args, expected", [
    (["status", "--mnth", "2023-05"], "错误：没有选项 '--mnth'。 您是不是想用 '--month'？"),
    (["status", "--month", "2023-13"], "错误：'--month' 的取值无效：月份 13 不在 1–12 之间"),
    (["status", "--month", "五月"], "错误：'--month' 的取值无效：“五月” 不是月份，请写成 2023-05、2023/5、2023.5、202305 或 2023年5月"),
    (["status", "--as-of", "昨天"], "错误：'--as-of' 的取值无效：“昨天” 不是日期或时间"),
    (["merge"], "错误：缺少选项 '--month'。"),  # click's "." after the name is a Chinese full stop
    (["void", "--reason", "x"], "错误：缺少参数 '编号'。"),  # the placeholder is Chinese (issue 22, item 11)
    (["void", "x", "--reason", "y"], "错误：'编号' 的取值无效：'x' 不是有效的整数。"),
    (["status", "extra"], "错误：多出了参数（extra）。"),
    (["validate"], "错误：缺少参数 '文件...'。"),
    (["export", "--month", "2023-05"], "错误：请给出 --csv 文件 或 --annex2 文件 之一（只给一个）。"),
    (["nosuch"], "错误：没有命令 'nosuch'。"),
    (["export", "--month", "2023-05", "--csv", "x.csv", "--labels", "en"], "错误：'--labels' 的取值无效：'en' 不是 'keys', 'zh' 之一。"),
])
def test_click_usage_errors_are_chinese_with_exit_status_2(tmp_path, monkeypatch, args, expected):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, args, prog_name="annex2")
    assert result.exit_code == 2
    assert expected in result.output
    assert "用法： annex2" in result.output
    assert "查看帮助：annex2" in result.output and "--help" in result.output
    for english in ("Usage:", "Error:", "Try ", "No such", "Invalid value", "Missing"):
        assert english not in result.output


def test_version_is_chinese():
    result = CliRunner().invoke(cli, ["--version"], prog_name="annex2")
    assert result.exit_code == 0 and result.output.startswith("annex2 版本 ")


def test_codes_come_after_the_chinese_sentence(workdir):
    from helpers import drop, ingest

    bad = drop(workdir, "交通运输综合行政执法大队", "附件2.xlsx", cells={("traffic", "major_fixed"): 5})
    shown = CliRunner().invoke(cli, ["validate", str(bad)], prog_name="annex2")
    assert "    错误：G9 交通安全·重大隐患已整改数 为 5，大于 重大隐患数 2：请核对后重新报送（E_FIXED_GT_FOUND）" in shown.output
    ingest(workdir, arrived="2023-05-20T10:00")
    (receipt,) = (workdir / "inbox" / "交通运输综合行政执法大队" / "回执").glob("回执_*.txt")
    text = receipt.read_text(encoding="utf-8-sig")
    assert ("  1. 已整改数大于隐患数 —— G9 交通安全·重大隐患已整改数 为 5，大于 重大隐患数 2：请核对后重新报送"
            "（E_FIXED_GT_FOUND）") in text.splitlines()


# Placeholders a clerk may read in a help page that are not Chinese words: the choices of --labels (values typed
# as they are). Everything else is 文件、目录、文本、单位、月份、时刻、编号 …
LATIN_PLACEHOLDERS = {"[keys|zh]"}


def test_every_placeholder_in_every_help_is_chinese():
    latin = []
    for path, command in every_command():
        ctx = click.Context(command, info_name=path[-1] if path else "annex2")
        for param in command.params:
            if isinstance(param, click.Option) and (param.is_flag or param.hidden):
                continue
            metavar = param.make_metavar(ctx)
            if metavar not in LATIN_PLACEHOLDERS and not HAN.search(metavar):
                latin.append((" ".join(path), param.name, metavar))
    assert latin == []
    shown = CliRunner().invoke(cli, ["materials", "set-kind", "--help"], prog_name="annex2").output
    assert shown.startswith("用法： annex2 materials set-kind [选项] 文件编号 {盖章版|电子版}")
    assert "\n选项：\n" in shown  # the heading with a Chinese colon


@pytest.mark.parametrize("text, expected", [
    ("缺少选项 '--month'.", "缺少选项 '--month'。"),
    ("多出了参数（extra）", "多出了参数（extra）。"),
    ("已经是一句。", "已经是一句。"),
    ("您是不是想用 'status'？", "您是不是想用 'status'？"),
    ("config.toml:3: 第一行\n  name = x\n         ^", "config.toml:3: 第一行\n  name = x\n         ^"),  # lines kept
    ("file 'a.xlsx' is not a directory", "file 'a.xlsx' is not a directory"),  # no Chinese: not a Chinese sentence
])
def test_click_messages_end_as_chinese_sentences(text, expected):
    from pipeline.cli.zh_click import sentence

    assert sentence(text) == expected
    assert sentence(sentence(text)) == expected
