"""`annex2 demo`: the newcomer's first run produces what it says, and status matches the scripted story."""
import json

import openpyxl
from click.testing import CliRunner

from pipeline.cli.commands import cli

# The scripted May 2023 (see pipeline/demo.py), as a clerk would tabulate it:
# unit -> (state, days_late, strikes, escalate)
EXPECTED = {  # (Annex 2 state, days late, strikes, escalate, materials state, missing): worked out by hand
    "局安全监督股": ("on_time", None, 0, False, "on_time", []),
    "局基本建设股": ("on_time", None, 0, False, "on_time", []),
    "局计划统计股": ("on_time", None, 0, False, "on_time", []),
    "行政审批股": ("on_time", None, 0, False, "on_time", []),  # 23:30 on the 23rd
    # rejected on the 21st, corrected on the 22nd; T14 (进校园) is not its task (二（三）5): no strike
    "交通质量和安全监督站": ("on_time", None, 0, False, "on_time", []),
    # Annex 2 two days late, materials without the stamped version: both in May, one strike
    "区道路运输服务中心": ("late", 2, 1, False, "overdue", ["stamped"]),
    # Annex 2 on time, the stamped materials two days late (the 18th) and T14 still 未启动: one strike for May
    "交通运输综合行政执法大队": ("on_time", None, 1, False, "late", []),
    # April late, May nothing (and no May progress form: the same month)
    "现代物流中心": ("overdue", None, 2, True, "overdue", ["stamped", "electronic"]),
    "区公路建设养护中心": ("on_time", None, 0, False, "on_time", []),  # the .xls
}


def test_demo_runs_and_matches_the_scenario(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["demo"])
    assert result.exit_code == 0, result.output
    root = tmp_path / "demo"
    book = root / "outbox" / "2023-05" / "安全生产督查情况汇总_2023年5月.xlsx"
    assert str(book.relative_to(tmp_path)) in result.output
    for path in (book, root / "outbox" / "master.xlsx",
                 root / "outbox" / "2023-05" / "notices" / "通报_2023年5月报送情况.docx",
                 root / "outbox" / "2023-05" / "notices" / "催报通知_现代物流中心.docx",
                 root / "outbox" / "2023-05" / "notices" / "报告_2023年迟报逾期情况_截至5月.docx"):
        assert path.is_file(), path
    assert len(list((root / "inbox" / "交通质量和安全监督站" / "回执").glob("*_错误标注.xlsx"))) == 1
    # 18 workbooks; materials: April 9 units × 2, May 6 units × 2, the road centre 1, the brigade 2; 17 progress forms
    assert len([p for p in (root / "archive").rglob("*") if p.is_file()]) == 18 + 18 + 12 + 1 + 2 + 17
    workbook = openpyxl.load_workbook(book)
    # Carry-forward (spec 12): May's total holds 现代物流中心's April figures, and says so (it used to leave it out)
    assert workbook["汇总"]["A16"].value == "已报 8/9 家；含沿用：现代物流中心（沿用4月累计数）"
    carried = [r for r in workbook["分单位明细"].iter_rows(values_only=True) if r[0] == "现代物流中心" and r[2] == "合计"]
    # its April file, summed by hand: teams 4+8+4, inspectors 12+24+12, units 8+8+12, major 4+6, other 12+4, fixed 4, 0
    assert [r[1:10] for r in carried] == [("1–4月（沿用）", "合计", 16, 48, 28, 10, 16, 4, 0)]

    monkeypatch.chdir(root)
    export = CliRunner().invoke(cli, ["export", "--month", "2023-05", "--as-of", "2023-05-31", "--annex2", "city.xlsx"])
    assert export.stderr == "注意：2023年5月合计已报 8/9，含沿用：现代物流中心（沿用4月累计数）。\n"
    CliRunner().invoke(cli, ["export", "--month", "2023-05", "--as-of", "2023-05-31", "--csv", "may.csv"])
    assert (root / "may.csv").read_text(encoding="utf-8-sig").splitlines()[1].endswith(
        ",全区合计另含沿用：现代物流中心（沿用4月累计数）")
    status = CliRunner().invoke(cli, ["status", "--month", "2023-05", "--json"])
    assert status.exit_code == 0
    got = {u["unit"]: (u["state"], u["days_late"], u["strikes"], u["escalate"], u["materials"]["state"],
                       u["materials"]["missing"]) for u in json.loads(status.output)["units"]}
    assert got == EXPECTED
    pack = root / "outbox" / "2023-05" / "材料"
    assert (pack / "材料汇编_2023年5月.pdf").is_file() and (pack / "区道路运输服务中心").is_dir()
    notices = root / "outbox" / "2023-05" / "notices"
    assert (notices / "催报通知_工作材料_区道路运输服务中心.docx").is_file()


def test_demo_refuses_a_folder_that_is_not_empty(tmp_path):
    (tmp_path / "demo").mkdir()
    (tmp_path / "demo" / "notes.txt").write_text("mine")
    result = CliRunner().invoke(cli, ["demo", str(tmp_path / "demo")])
    assert result.exit_code == 1 and "不是空目录" in result.output
    assert [p.name for p in (tmp_path / "demo").iterdir()] == ["notes.txt"]


def test_the_shipped_retyped_tables_say_what_the_story_says(tmp_path):
    """The demo's retyped tables are files LibreOffice saved (scripts/make_demo_files.py made them): each one
    is accepted as its unit's report for its month, with the story's figures, at the offset it was typed."""
    import io
    import zipfile
    from datetime import datetime
    from importlib import resources
    from zoneinfo import ZoneInfo

    from pipeline.core import config
    from pipeline.demo.story import SCENARIO, demo_values, retyped_file
    from pipeline.statistics.validate import validate_bytes

    cfg = config.parse(config.default_config_text(), tmp_path / "config.toml")
    shipped = [(unit, month) for unit, month, _at, style in SCENARIO if style == "retyped"]
    assert len(shipped) == 4
    for unit, month in shipped:
        data = resources.files("pipeline.demo").joinpath(f"samples/{retyped_file(unit, month)}").read_bytes()
        assert b"LibreOffice" in zipfile.ZipFile(io.BytesIO(data)).read("docProps/app.xml")
        result = validate_bytes(data, cfg, datetime(2023, 6, 1, tzinfo=ZoneInfo("Asia/Shanghai")))
        assert result.ok, result.issues
        assert (result.unit, result.year, result.month_to) == (unit, 2023, month)
        assert result.counts == demo_values(unit, month)
        assert result.located.anchor == (5, 1)  # typed from B6, below a title, the unit and the period


def test_the_demo_types_full_width_digits_into_the_template(tmp_path):
    """局计划统计股 types its May figures as full-width text into the template: the cells hold text, and the
    report is accepted with the numbers they mean."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from pipeline.core import config
    from pipeline.demo.story import _write
    from pipeline.statistics.validate import validate_bytes

    cfg = config.parse(config.default_config_text(), tmp_path / "config.toml")
    (cfg.inbox / "局计划统计股").mkdir(parents=True)
    path = _write(cfg, "局计划统计股", 5, "fullwidth", 11)
    sheet = openpyxl.load_workbook(path).active
    texts = [c.value for row in sheet["B7:K13"] for c in row]
    assert all(isinstance(v, str) for v in texts)
    assert any(ch in "０１２３４５６７８９" for v in texts for ch in v)
    result = validate_bytes(path.read_bytes(), cfg, datetime(2023, 6, 1, tzinfo=ZoneInfo("Asia/Shanghai")))
    assert result.ok, result.issues
    figures = {v for row in result.counts.values() for v in row.values()}
    assert figures and all(isinstance(v, int) for v in figures) and max(figures) > 0
