"""填报说明.txt (spec 12): what the units read in the inbox explains all three monthly obligations — what to
send, by which day, in which format, how to name files, where receipts appear, how to correct — from config,
and follows the config when the clerk changes it."""

from click.testing import CliRunner
from helpers import set_config

from pipeline.cli.commands import cli
from pipeline.core.textable import display_width

LOGISTICS = "现代物流中心"


def note(work, folder=LOGISTICS):
    path = work / "inbox" / folder / "填报说明.txt" if folder else work / "inbox" / "填报说明.txt"
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # UTF-8 with a BOM and CRLF, like the receipts: any Notepad shows it
    text = raw.decode("utf-8-sig")
    assert "\n" not in text.replace("\r\n", "")
    return text.replace("\r\n", "\n")


def test_a_units_instructions_name_all_three_obligations_their_days_and_formats(workdir):
    set_config(workdir, r'^start = ".*"', 'start = "2023-04"')
    assert CliRunner().invoke(cli, ["ingest"]).exit_code == 0  # refreshes the file made by init with the new start
    text = note(workdir)
    lines = text.splitlines()
    assert lines[:2] == ["云溪区交通运输系统安全生产月度报送 填报说明", f"（{LOGISTICS}）"]
    assert "一、附件2 统计表（《云溪区交通运输系统安全生产督查情况统计表》）" in lines
    assert "二、月度工作情况材料（盖章版和电子版都要报）" in lines
    assert "三、重点任务推进情况表（附件1 责任措施清单中本单位承担的任务）" in lines
    assert lines.count("  · 截止时间：每月 16 日前（当天 24 时前都算按时）。") == 2  # materials and the task form
    assert "  · 截止时间：每月 23 日前（当天 24 时前都算按时）。" in lines
    flat = "".join(line.strip() for line in lines)
    assert "从 2023年4月 起，每月报送以下几项" in flat
    assert "当年 1月至本月的累计数（例如 5 月填“2023年 1月至 5月”）。从2023年4月 开始报送，之前的月份不用补报" in flat
    assert "盖章版：盖章后扫描成 PDF（或拍成 JPG、PNG 图片）；电子版：Word 文档（.docx、.doc 或 .wps）" in flat
    assert f"“{LOGISTICS}2023年5月工作情况（盖章）.pdf”" in flat
    assert f"“重点任务推进情况表_{LOGISTICS}_2023年5月.xlsx”" in flat
    assert "会在本文件夹的“回执”子文件夹里留下回执（.txt）" in flat
    assert "改好后把整份文件重新放入即可" in flat and "以最后收到的那一份为准" in flat
    assert lines[-1] == "联系人：局安全监督股 孟致红 电话：13786027232 邮箱：841099245@qq.com"
    assert max(display_width(line) for line in lines) <= 80  # Notepad does not wrap lines by default
    root = note(workdir, None)
    assert root.splitlines()[1] == "（各单位通用。请把文件放入本单位自己的子文件夹，不要放在这里。）"
    assert "会在该文件夹的“回执”子文件夹里留下回执" in "".join(line.strip() for line in root.splitlines())


def test_the_instructions_follow_the_config_and_are_not_rewritten_when_nothing_changed(workdir):
    before = (workdir / "inbox" / LOGISTICS / "填报说明.txt").stat().st_mtime_ns
    assert CliRunner().invoke(cli, ["ingest"]).exit_code == 0
    assert (workdir / "inbox" / LOGISTICS / "填报说明.txt").stat().st_mtime_ns == before

    set_config(workdir, r"^day = 16(\s+# N 月的材料)", r"day = 14\1")  # [materials] day
    set_config(workdir, r'^person = ".*"', 'person = "张三"')
    set_config(workdir, r'^name = "现代物流中心"', 'name = "现代物流中心"\nmaterials = false')
    set_config(workdir, r"^# end = .*$", 'end = "2023-12"')
    set_config(workdir, r"^holiday_shift = false", "holiday_shift = true")  # [deadline]
    assert CliRunner().invoke(cli, ["ingest"]).exit_code == 0
    lines = note(workdir).splitlines()
    assert "二、重点任务推进情况表（附件1 责任措施清单中本单位承担的任务）" in lines  # no materials for this unit
    assert not any("工作情况材料" in line for line in lines)
    assert lines[-1].startswith("联系人：局安全监督股 张三 ")
    other = note(workdir, "局安全监督股").splitlines()
    flat = "".join(line.strip() for line in other)
    assert "从 2023年1月 起到 2023年12月 止，每月报送以下几项" in flat
    assert "每月 23 日前（当天 24 时前都算按时）；截止日逢法定节假日或周末，顺延到下一个工作日。" in flat
    assert "  · 截止时间：每月 14 日前（当天 24 时前都算按时）。" in other  # materials on the 14th now
    assert "  · 截止时间：每月 16 日前（当天 24 时前都算按时）。" in other  # the task form still on the 16th


def test_a_folder_named_like_the_instructions_is_left_alone(workdir):
    path = workdir / "inbox" / LOGISTICS / "填报说明.txt"
    path.unlink()
    path.mkdir()
    assert CliRunner().invoke(cli, ["ingest"]).exit_code == 0
    assert path.is_dir()
