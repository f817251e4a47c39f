"""The notices as a leader and a unit see them on paper: numbered (发文字号) per year, citing the basis from
config, titles broken between phrases, and no page that holds only the signature or the contact line."""
import csv
import io
import re
import subprocess

import pytest
from click.testing import CliRunner
from helpers import annex2_only, no_tasks_due
from office import convert

from pipeline.cli.commands import cli
from pipeline.demo.story import run_demo
from pipeline.documents.officialdoc import text_width, title_lines


def index_numbers(work, month):
    rows = list(csv.reader(io.StringIO(
        (work / "outbox" / month / "notices" / "index.csv").read_text(encoding="utf-8-sig"))))
    return [(r[0], r[1]) for r in rows[1:] if not r[0].endswith("（邮件草稿）")]


def test_title_breaks_between_phrases_in_a_balanced_shape():
    # 关于 2 + 2023 2 + 年 1 + 5 ½ + 月 1, and ½ for each of the 4 changes between Chinese and digits
    assert text_width("关于2023年5月") == 8.5
    assert title_lines(["关于", "2023年5月", "安全生产", "督查情况统计表", "报送情况的通报"]) == [
        "关于2023年5月安全生产督查情况统计表", "报送情况的通报"]  # 19.5 over 7: the first line the longer
    assert title_lines(["关于催报", "2023年5月", "安全生产", "督查情况统计表", "的通知"]) == [
        "关于催报2023年5月安全生产", "督查情况统计表的通知"]  # 14.5 over 10
    # 关于催报 4 + 2023年5月 6.5 + 月度工作情况材料 8 + 的通知 3, and ½ for each of 4 changes = 21.5: two
    # lines; 10.5 over 11 is even within one character, and far better balanced than 18.5 over 3
    assert title_lines(["关于催报", "2023年5月", "月度工作情况材料", "的通知"]) == [
        "关于催报2023年5月", "月度工作情况材料的通知"]
    assert title_lines(["关于", "2023年5月", "工作的通知"]) == ["关于2023年5月工作的通知"]  # fits one line


def test_only_the_bulletin_is_numbered_from_the_clerks_number_and_keeps_it(workdir):
    """Nobody reports: every month each of the 9 units gets a reminder, then the 通报 and the 报告 (an Annex 2
    story: the units owe no materials here, and no key task is due before October). The 发文字号 are the
    bureau's register's (issue 22): the 通报 takes the clerk's --number or [notices] next_number, else blank;
    催报 and the section's memo carry none."""
    annex2_only(workdir)
    no_tasks_due(workdir)

    def notices(month, as_of, *more):
        result = CliRunner().invoke(cli, ["notices", "--month", month, "--as-of", as_of, *more])
        assert result.exit_code == 0, result.output
        return result

    first = notices("2023-04", "2023-04-30")
    assert "注意：通报的发文字号留空（岳云交安〔2023〕  号），请按本局发文登记填写" in first.output
    april = index_numbers(workdir, "2023-04")
    assert [n for _k, n in april] == [""] * 9 + ["岳云交安〔2023〕  号", ""]
    notices("2023-04", "2023-04-30", "--number", "７号")  # the clerk's number, typed as it comes
    assert index_numbers(workdir, "2023-04")[-2:] == [("通报", "岳云交安〔2023〕7号"), ("报告局主要领导", "")]
    notices("2023-04", "2023-04-30T23:00")  # written again: the 通报 keeps its number
    assert index_numbers(workdir, "2023-04")[-2] == ("通报", "岳云交安〔2023〕7号")
    taken = CliRunner().invoke(cli, ["notices", "--month", "2023-05", "--as-of", "2023-05-31", "--number", "7"])
    assert taken.exit_code == 2 and "岳云交安〔2023〕7号 已用于2023年4月的通报" in taken.output
    edit = (workdir / "config.toml").read_text(encoding="utf-8").replace("# next_number = 12 ", "next_number = 9  ")
    (workdir / "config.toml").write_text(edit, encoding="utf-8")
    notices("2023-05", "2023-05-31")
    assert index_numbers(workdir, "2023-05")[-2] == ("通报", "岳云交安〔2023〕9号")
    # next_number not moved on: June's 通报 is left blank rather than given May's number, and the clerk is told
    june = notices("2023-06", "2023-06-30")
    assert index_numbers(workdir, "2023-06")[-2] == ("通报", "岳云交安〔2023〕  号")
    assert "next_number = 9 已用于2023年5月的通报" in june.output
    notices("2023-12", "2024-01-05", "--number", "岳云交安〔2024〕1号")  # December's 通报 goes out in January
    assert index_numbers(workdir, "2023-12")[-2] == ("通报", "岳云交安〔2024〕1号")


def test_numbering_and_basis_come_from_config(workdir):
    annex2_only(workdir)
    text = (workdir / "config.toml").read_text(encoding="utf-8")
    text = text.replace('doc_prefix = "岳云交安"', 'doc_prefix = "云交安监"').replace(
        'basis_number = "岳云交发〔2023〕15号"', 'basis_number = "云交发〔2024〕3号"').replace(
        'basis_title = "岳阳市云溪区交通运输领域“打好安全生产翻身仗”工作方案"', 'basis_title = "安全生产工作要点"').replace(
        "# next_number = 12 ", "next_number = 10 ")
    (workdir / "config.toml").write_text(text, encoding="utf-8")
    assert CliRunner().invoke(cli, ["notices", "--month", "2024-02", "--as-of", "2024-02-28"]).exit_code == 0
    import docx

    bulletin = docx.Document(str(workdir / "outbox" / "2024-02" / "notices" / "通报_2024年2月报送情况.docx"))
    text = "\n".join(p.text for p in bulletin.paragraphs)
    assert "云交安监〔2024〕10号" in text
    assert "根据《安全生产工作要点》（云交发〔2024〕3号）要求" in text and "岳云交发" not in text


def pages_of(pdf):
    count = int(re.search(r"Pages:\s+(\d+)", subprocess.run(["pdfinfo", str(pdf)], capture_output=True,
                                                            text=True).stdout).group(1))
    return [subprocess.run(["pdftotext", "-f", str(n), "-l", str(n), str(pdf), "-"], capture_output=True, text=True,
                           check=True).stdout for n in range(1, count + 1)]


def squeeze(text):
    return "".join(text.split())  # pdftotext spaces out digits among Chinese text


@pytest.mark.office
def test_the_demo_months_notices_print_as_official_documents(tmp_path):
    demo = run_demo(tmp_path / "demo")
    folder = demo.merged.notices_dir
    contact = "（联系人：局安全监督股孟致红，联系电话：13786027232，邮箱：841099245@qq.com）"
    expected = {  # document -> (发文字号, signer, title lines); only the 通报 is numbered (the demo's clerk
        # reserved 12 in config), the 催报 and the section's memo carry none (issue 22)
        # on time with Annex 2, but a key task lags (the 执法大队's T14, issue 23): reminded about the tasks
        "催报通知_交通运输综合行政执法大队": ("", "岳阳市云溪区交通运输局", ["关于催报2023年5月重点任务", "推进情况表的通知"]),
        "催报通知_现代物流中心": ("", "岳阳市云溪区交通运输局", ["关于催报2023年5月安全生产", "督查情况统计表的通知"]),
        # the work materials are chased in documents of their own, in config order: the road centre lacks its
        # stamped version, the logistics centre sent nothing
        "催报通知_工作材料_区道路运输服务中心": ("", "岳阳市云溪区交通运输局", ["关于催报2023年5月", "月度工作情况材料的通知"]),
        "催报通知_工作材料_现代物流中心": ("", "岳阳市云溪区交通运输局", ["关于催报2023年5月", "月度工作情况材料的通知"]),
        # the title covers the three obligations it reports
        "通报_2023年5月报送情况": ("岳云交安〔2023〕12号", "岳阳市云溪区交通运输局",
                            ["关于2023年5月安全生产", "督查情况统计表、月度工作情况材料", "报送和重点任务推进情况的通报"]),
        "报告_2023年迟报逾期情况_截至5月": ("", "局安全监督股",
                                ["关于2023年部分单位迟报、未报", "和重点任务推进滞后情况的报告"]),
    }
    assert sorted(p.stem for p in folder.glob("*.docx")) == sorted(expected)
    for stem, (number, signer, title) in expected.items():
        pdf = convert(folder / f"{stem}.docx", "pdf", tmp_path / "pdf", recalc=False)
        pages = pages_of(pdf)
        first = squeeze(pages[0])
        assert (number in first) if number else ("岳云交安" not in squeeze("".join(pages))), stem
        assert "按规定" not in squeeze("".join(pages)), stem
        assert "岳云交发〔2023〕15号" in first and "打好安全生产翻身仗" in first, stem
        lines = [squeeze(line) for line in pages[0].splitlines() if line.strip()]
        at = lines.index(title[0])
        assert lines[at:at + len(title)] == title, (stem, lines[:8])
        assert ("岳阳市云溪区交通运输局" in lines[:2]) == (signer != "局安全监督股"), stem  # the memo has no 版头
        for n, page in enumerate(pages, start=1):
            rest = re.sub(r"—\d+—", "", squeeze(page))
            for closing in (contact, signer, "2023年5月31日"):
                rest = rest.replace(closing, "")
            assert rest, f"{stem}: page {n} holds only the signature and the contact line"
        assert signer + "2023年5月31日" + contact in squeeze(pages[-1]), stem  # together, in this order


def test_the_bulletin_takes_a_section_per_obligation(workdir):
    """Other obligations (materials, key tasks) append their own sections; one that names late units makes the
    通报 close with 通报批评 even when every Annex 2 came in time."""
    import docx
    from helpers import at, status_with_materials

    from pipeline.core import config
    from pipeline.core.months import Month
    from pipeline.monthly.notices import Section, bulletin
    from pipeline.storage.ledger import Ledger

    cfg = config.load(workdir / "config.toml")
    with Ledger(cfg.ledger) as ledger:
        st = status_with_materials(cfg, ledger, Month(2023, 5), at("2023-05-10T12:00"))  # before the 23rd: all pending
    plain = bulletin(cfg, st)
    assert plain.closing == ["尚未报送的单位，请于报送截止时间前报送。"]
    doc = bulletin(cfg, st, [Section("月度工作情况材料报送情况", ["（一）迟报的单位：现代物流中心（迟报2天）。"],
                                     criticise=True)])
    assert [h for h, _p in doc.numbered_sections()] == ["一、安全生产督查情况统计表报送情况", "二、月度工作情况材料报送情况"]
    # it criticises for what the sections name: here the materials only (every Annex 2 is still pending)
    assert doc.closing[0].startswith("对以上月度工作材料迟报或未报齐的单位予以通报批评")
    assert doc.title_text == "关于2023年5月安全生产督查情况统计表和月度工作情况材料报送情况的通报"
    (workdir / "b.docx").write_bytes(doc.docx(cfg.bureau.name, at("2023-05-10T12:00")))
    text = [p.text for p in docx.Document(str(workdir / "b.docx")).paragraphs]
    assert text.index("二、月度工作情况材料报送情况") + 1 == text.index("（一）迟报的单位：现代物流中心（迟报2天）。")
