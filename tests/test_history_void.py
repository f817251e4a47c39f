"""One unit's history; withdrawing a wrongly accepted submission (void) with the ledger before and after; the
late and correction receipt texts; exports that say how many units their total covers."""
import csv
import io
import json

import openpyxl
import pytest
from click.testing import CliRunner
from helpers import drop, events, ingest, run_cli

from pipeline.cli.commands import cli
from pipeline.core import config
from pipeline.intake.corrections import receipt_context
from pipeline.intake.receipts import receipt_text
from pipeline.storage.ledger import Ledger

EXEC = "交通运输综合行政执法大队"


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], prog_name="annex2")


def history(work, month="2023-05"):
    result = run("history", "--unit", "执法大队", "--month", month, "--json")
    assert result.exit_code == 0, result.output
    return [(a["id"], a["file"], a["received_at"], a["outcome"], a["status"]) for a in json.loads(result.output)["arrivals"]]


def csv_inspectors(work, as_of="2023-05-31"):
    """The unit's traffic-sector 组织督查人员 in export --csv, and the CSV's rows."""
    out = work / "x.csv"
    result = run("export", "--month", "2023-05", "--as-of", as_of, "--csv", out, "--labels", "keys")  # a script reads it
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8-sig"))))
    return [int(r["inspectors"]) for r in rows if r["unit"] == EXEC and r["sector"] == "traffic"]


def exec_status(as_of="2023-05-31"):
    result = run("status", "--month", "2023-05", "--as-of", as_of, "--json")
    (unit,) = [u for u in json.loads(result.output)["units"] if u["unit"] == EXEC]
    return unit["state"], unit["received_at"], unit["days_late"]


@pytest.fixture
def corrected(workdir):
    """An on-time report (inspectors 20 in traffic) and a later correction (30)."""
    drop(workdir, EXEC, "附件2.xlsx")
    ingest(workdir, arrived="2023-05-20T10:00")
    drop(workdir, EXEC, "附件2-更正.xlsx", cells={("traffic", "inspectors"): 30})
    ingest(workdir, arrived="2023-05-25T16:00")
    return workdir


def test_history_lists_every_arrival_with_outcome_time_and_rule(corrected):
    drop(corrected, EXEC, "附件2-错.xlsx", cells={("traffic", "major_fixed"): 5})
    ingest(corrected, arrived="2023-05-26T09:00")
    assert history(corrected) == [
        (1, "附件2.xlsx", "2023-05-20T10:00:00+08:00", "accepted", "superseded"),
        (2, "附件2-更正.xlsx", "2023-05-25T16:00:00+08:00", "accepted", "current"),
        (3, "附件2-错.xlsx", "2023-05-26T09:00:00+08:00", "rejected", "rejected"),
    ]
    text = run("history", "--unit", "执法大队").output
    assert "交通运输综合行政执法大队 收到的文件：共 3 个" in text
    assert "文件放入收件箱的时间" in text  # the received-time rule, in words
    assert "已被更正替换" in text and "有效（当前计入汇总）" in text and "退回" in text and "E_FIXED_GT_FOUND" in text
    assert history(corrected, "2023-04") == []


def test_void_a_correction_brings_the_previous_figures_back_and_keeps_the_first_time(corrected):
    assert csv_inspectors(corrected) == [30]
    assert exec_status() == ("on_time", "2023-05-20T10:00:00+08:00", None)

    result = run("void", "2", "--reason", "更正表填错了单位的数据")
    assert result.exit_code == 0, result.output
    assert "已撤销：编号 2 交通运输综合行政执法大队 2023年5月 “附件2-更正.xlsx”（更正表填错了单位的数据）" in result.output
    assert "现在有效：编号 1 “附件2.xlsx”（2023-05-20 10:00:00 受理）" in result.output
    assert "注意：撤销的是该月首次受理的报表" not in result.output

    assert history(corrected) == [
        (1, "附件2.xlsx", "2023-05-20T10:00:00+08:00", "accepted", "current"),
        (2, "附件2-更正.xlsx", "2023-05-25T16:00:00+08:00", "accepted", "voided"),
    ]
    merged = run("merge", "--month", "2023-05", "--as-of", "2023-05-31", "--json")
    assert merged.exit_code == 0, merged.output
    assert csv_inspectors(corrected) == [20]  # the previous submission's figures are back
    assert exec_status() == ("on_time", "2023-05-20T10:00:00+08:00", None)  # the first received time kept
    with Ledger(corrected / "annex2.sqlite") as ledger:
        assert [a.outcome for a in ledger.arrivals()] == ["accepted", "accepted"]  # nothing deleted or rewritten
        assert [e["kind"] for e in events(ledger)][-3:] == ["voided", "void_receipt", "merged"]
        assert json.loads(events(ledger)[-3]["detail"]) == {"reason": "更正表填错了单位的数据"}
        with pytest.raises(Exception, match="a void is permanent"):
            ledger.db.execute("DELETE FROM voided")
    (receipt,) = (corrected / "inbox" / EXEC / "回执").glob("回执_*_撤销_附件2-更正.txt")
    text = receipt.read_text(encoding="utf-8-sig")
    assert "撤销通知：已受理的报表被撤销（编号 2）" in text
    assert "撤销原因：更正表填错了单位的数据" in text
    assert "现以 2023-05-20 10:00:00 受理的“附件2.xlsx”（编号 1）为本单位2023年5月的有效报表。" in text
    assert "报送情况：按时（截止日期 2023年5月23日）" in text


def test_voiding_the_first_accepted_moves_timeliness_to_the_next_one(corrected):
    result = run("void", "1", "--reason", "误收：这是演练用的表格")
    assert result.exit_code == 0, result.output
    assert ("注意：撤销的是该月首次受理的报表，是否按时改以剩下的最早受理报表为准：报送情况：迟报 2 天"
            "（截止日期 2023年5月23日，首次受理于 2023-05-25 16:00:00）") in result.output
    assert exec_status() == ("late", "2023-05-25T16:00:00+08:00", 2)
    assert csv_inspectors(corrected) == [30]
    both = run("void", "2", "--reason", "也作废", "--json")
    assert json.loads(both.output)["current_id"] is None
    assert exec_status() == ("overdue", None, None)
    assert csv_inspectors(corrected) == []


def test_void_refuses_what_it_cannot_withdraw(corrected):
    drop(corrected, EXEC, "附件2-错.xlsx", cells={("traffic", "major_fixed"): 5})
    ingest(corrected, arrived="2023-05-26T09:00")
    for args, message in [(["99"], "台账中没有编号为 99 的文件"),
                          (["3"], "编号 3（附件2-错.xlsx）不是已受理的报表（退回），只能撤销已受理的报表"),
                          (["2", "--reason", "  "], "请用 --reason 写明撤销原因")]:
        result = run("void", *args, *(["--reason", "x"] if "--reason" not in args else []))
        assert result.exit_code == 1 and f"错误：{message}" in result.output, result.output
    assert run("void", "2", "--reason", "x").exit_code == 0
    again = run("void", "2", "--reason", "y")
    assert again.exit_code == 1 and "编号 2（附件2-更正.xlsx）已于" in again.output and "撤销（x）" in again.output


def test_a_resend_of_a_voided_file_is_checked_again_not_a_duplicate(corrected):
    run("void", "1", "--reason", "误收")
    drop(corrected, EXEC, "附件2-重发.xlsx")  # the same bytes as arrival 1
    (r,) = ingest(corrected, arrived="2023-05-27T09:00").files
    assert r.outcome == "accepted"


def receipt_for(work, arrival_id):
    cfg = config.load(work / "config.toml")
    with Ledger(cfg.ledger) as ledger:
        a = ledger.arrival(arrival_id)
        return receipt_text(cfg, original_name=a.original_name, received_at=a.received_at,
                            received_rule=a.received_rule, unit=a.unit, year=a.year, month_from=a.month_from,
                            month_to=a.month_to, outcome=a.outcome, issues=ledger.issues_of(a.id),
                            **receipt_context(cfg, ledger, a.id))


def test_late_receipt_and_correction_receipt_texts(workdir):
    drop(workdir, EXEC, "附件2.xlsx")
    ingest(workdir, arrived="2023-05-26T10:00")
    drop(workdir, EXEC, "附件2-更正.xlsx", cells={("traffic", "inspectors"): 30})
    ingest(workdir, arrived="2023-05-28T11:30")
    late = receipt_for(workdir, 1).splitlines()
    assert "报送情况：迟报 3 天（截止日期 2023年5月23日，首次受理于 2023-05-26 10:00:00）" in late
    assert not any(line.startswith("本表为更正报送") for line in late)
    correction = receipt_for(workdir, 2).splitlines()
    assert "报送情况：迟报 3 天（截止日期 2023年5月23日，首次受理于 2023-05-26 10:00:00）" in correction
    assert ("本表为更正报送：替换 2023-05-26 10:00:00 受理的“附件2.xlsx”（编号 1），原表数据不再计入汇总；"
            "是否按时仍以首次受理时间 2023-05-26 10:00:00 为准。") in correction


def test_on_time_receipt_says_so(workdir):
    drop(workdir, EXEC, "附件2.xlsx")
    ingest(workdir, arrived="2023-05-23T23:59")
    assert "报送情况：按时（截止日期 2023年5月23日）" in receipt_for(workdir, 1).splitlines()


def test_incomplete_exports_say_how_many_units_the_total_covers(corrected, tmp_path):
    missing = "局安全监督股、局基本建设股、局计划统计股、行政审批股、交通质量和安全监督站、区道路运输服务中心、现代物流中心、区公路建设养护中心"
    out = tmp_path / "city.xlsx"
    result = run("export", "--month", "2023-05", "--as-of", "2023-05-31T12:00", "--annex2", out)
    assert result.exit_code == 0
    assert result.stderr == f"注意：2023年5月合计已报 1/9，未含 {missing}。\n"
    sheet = openpyxl.load_workbook(out).active
    notes = [c.value for row in sheet.iter_rows() for c in row if isinstance(c.value, str) and c.value.startswith("说明")]
    assert notes == [f"说明：本表合计已报 1/9，未含 {missing}（数据截至 2023-05-31 12:00）。"]
    as_csv = run("export", "--month", "2023-05", "--as-of", "2023-05-31", "--csv", tmp_path / "x.csv", "--json")
    assert as_csv.stderr.startswith("注意：2023年5月合计已报 1/9，未含 局安全监督股、")
    summary = json.loads(as_csv.stdout)
    assert summary["rows"] == 7 and summary["format"] == "csv"
    # nobody reported earlier in 2023, so the total carries nobody forward (spec 12)
    assert summary["coverage"] == {"reported": [EXEC], "missing": missing.split("、"), "expected": 9, "complete": False,
                                   "carried": []}
    # The note line does not disturb reading the form (the bureau is no unit of its own config: that is all).
    check = json.loads(run("validate", "--json", out).stdout)["files"][0]
    assert [i["code"] for i in check["issues"] if i["severity"] == "error"] == ["E_UNIT_UNKNOWN"]
    assert check["values"]["traffic"]["inspectors"] == 30


def test_csv_with_chinese_labels(corrected, tmp_path):
    out = tmp_path / "zh.csv"
    assert run("export", "--month", "2023-05", "--as-of", "2023-05-31", "--csv", out, "--labels", "zh").exit_code == 0
    rows = list(csv.reader(io.StringIO(out.read_text(encoding="utf-8-sig"))))
    assert rows[0][:7] == ["单位", "年份", "起始月", "截止月", "行业领域", "组织督查组（个）", "组织督查人员（人次）"]
    assert rows[0][-2:] == ["停产停业整顿（家）", "全区合计说明"]  # the carry-forward's column comes last
    assert [r[4] for r in rows[1:]] == ["建设领域", "烟花爆竹安全", "交通安全", "文化体育旅游", "学生安全", "自然灾害", "其他"]
    assert rows[3][6] == "30"
    default = tmp_path / "default.csv"  # Chinese is the default since issue 22 (--labels keys for scripts)
    assert run("export", "--month", "2023-05", "--as-of", "2023-05-31", "--csv", default).exit_code == 0
    assert default.read_bytes() == out.read_bytes()


def test_json_summaries_of_ingest_merge_notices_export(workdir, tmp_path):
    drop(workdir, EXEC, "附件2.xlsx")
    drop(workdir, EXEC, "附件2-错.xlsx", cells={("traffic", "major_fixed"): 5})
    result = run("ingest", "--json")
    assert result.exit_code == 1  # one rejected
    data = json.loads(result.stdout)
    assert set(data) == {"ok", "counts", "files"} and data["ok"] is False
    assert data["counts"] == {"accepted": 1, "rejected": 1, "duplicate": 0, "material": 0, "resumed": 0, "failed": 0}
    assert sorted((f["outcome"], f["unit"], f["period"]) for f in data["files"]) == [
        ("accepted", EXEC, "2023年1月至5月"), ("rejected", EXEC, "2023年1月至5月")]
    (bad,) = [f for f in data["files"] if f["outcome"] == "rejected"]
    assert [(i["code"], i["cell"]) for i in bad["issues"]] == [("E_FIXED_GT_FOUND", "G9")]
    assert set(bad) == {"path", "outcome", "unit", "id", "period", "message", "issues"}

    # ingested just now (its arrival time is the file's), so the merge is as of now too
    merged = json.loads(run("merge", "--month", "2023-05", "--json").stdout)
    assert set(merged) >= {"month", "as_of", "ingest", "leadership", "master", "notices_dir", "notices", "status"}
    assert merged["month"] == "2023-05"
    assert merged["ingest"]["files"] == [] and merged["status"]["summary"].startswith("已报 1/9")
    assert merged["leadership"].endswith("安全生产督查情况汇总_2023年5月.xlsx")

    notices = json.loads(run("notices", "--month", "2023-05", "--json").stdout)
    assert set(notices) == {"month", "as_of", "folder", "notices", "sent"} and notices["sent"] is None
    kinds = [n["kind"] for n in notices["notices"]]
    # 8 overdue units, and the executive brigade: on time, but its key tasks lag (it sent no progress form)
    assert kinds.count("reminder") == 9 and "bulletin" in kinds
    assert all(set(n) == {"kind", "path", "unit", "recipients"} for n in notices["notices"])

    exported = json.loads(run("export", "--month", "2023-05", "--annex2", tmp_path / "a.xlsx", "--json").stdout)
    assert set(exported) == {"month", "as_of", "format", "path", "rows", "coverage"}
    assert (exported["format"], exported["rows"], exported["coverage"]["reported"]) == ("annex2", None, [EXEC])


@pytest.mark.parametrize("command", [["void", "{}", "--reason", "误收"], ["materials", "set-kind", "{}", "stamped"]])
@pytest.mark.parametrize("number", ["12345678901234567890", "0", "99"])
def test_a_file_number_not_in_the_ledger_is_said_so_whatever_its_size(workdir, command, number):
    assert run_cli(workdir, "ingest").returncode == 0  # a ledger, with no file in it
    result = run_cli(workdir, *[a.format(number) for a in command])
    assert result.returncode == 1, result.stderr
    assert f"错误：台账中没有编号为 {number} 的文件" in result.stderr
    assert "Traceback" not in result.stderr and "内部错误" not in result.stderr
