"""Input as a clerk types it: months and dates in every usual spelling, the working folder found from any
sub-folder, --config anywhere, and config.toml mistakes explained in Chinese."""
import json

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from pipeline.core import config
from pipeline.cli.commands import cli
from pipeline.core.clock import BadMoment, normalize_moment
from pipeline.core.months import BadMonth, Month


def run(*args, **kw):
    return CliRunner().invoke(cli, [str(a) for a in args], prog_name="annex2", **kw)


@pytest.mark.parametrize("text", ["2023-05", "2023-5", "2023/5", "2023/05", "2023.5", "202305", "2023年5月",
                                  "2023年05月", "2023年5月份", " 2023 年 5 月 ", "２０２３年５月", "2023／5"])
def test_each_month_spelling(text):
    assert Month.parse(text) == Month(2023, 5)


@given(st.integers(2000, 2099), st.integers(1, 12))
def test_every_spelling_of_any_month_means_that_month(year, month):
    spellings = [f"{year}-{month:02d}", f"{year}/{month}", f"{year}.{month}", f"{year}{month:02d}",
                 f"{year}年{month}月", f"{year}年{month:02d}月"]
    assert {Month.parse(s) for s in spellings} == {Month(year, month)}


@pytest.mark.parametrize("text, message", [
    ("2023-13", "月份 13 不在 1–12 之间"), ("2023年0月", "月份 0 不在 1–12 之间"),
    ("五月", "“五月” 不是月份"), ("23-05", "“23-05” 不是月份"), ("2023-05-01", "“2023-05-01” 不是月份"),
    ("20235", "“20235” 不是月份"),
])
def test_what_is_not_a_month_is_said_in_chinese(text, message):
    with pytest.raises(BadMonth, match=message):
        Month.parse(text)


@pytest.mark.parametrize("text, iso", [
    ("2023-05-23", "2023-05-23"), ("2023/5/23", "2023-05-23"), ("2023.5.23", "2023-05-23"), ("20230523", "2023-05-23"),
    ("2023年5月23日", "2023-05-23"), ("2023年05月23号", "2023-05-23"),
    ("2023年5月23日 18:00", "2023-05-23T18:00:00"), ("2023年5月23日18时30分", "2023-05-23T18:30:00"),
    ("2023/5/23 8:05", "2023-05-23T08:05:00"), ("2023-05-23T18:30", "2023-05-23T18:30:00"),
    ("2023-05-23 18:30:15", "2023-05-23T18:30:15"), ("2023-05-23T18:30:00+08:00", "2023-05-23T18:30:00+08:00"),
])
def test_each_moment_spelling(text, iso):
    assert normalize_moment(text) == iso


@pytest.mark.parametrize("text", ["2023-02-30", "2023-05-23 25:00", "2023-05-231", "2023-05-23 18", "明天", "2023-05"])
def test_what_is_not_a_moment(text):
    with pytest.raises(BadMoment):
        normalize_moment(text)


def test_chinese_month_and_date_on_the_command_line(workdir):
    result = run("status", "--month", "2023年5月", "--as-of", "2023年5月31日 18:00", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert (data["year"], data["month"], data["as_of"]) == (2023, 5, "2023-05-31T18:00:00+08:00")


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
