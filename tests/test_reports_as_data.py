"""The library returns the report; the CLI prints it. `check_files` gives typed per-file reports (the outcome,
the issues, the workbook the sandbox read and the form located in it), and `validate --json` is exactly their
`to_dict()`; `ingest --json` is its BatchResult's."""
import json
from datetime import datetime
from zoneinfo import ZoneInfo

from click.testing import CliRunner
from factory import make_submission

import pipeline
from pipeline.cli.commands import cli
from pipeline.core import config

NOW = datetime(2023, 5, 25, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))


def test_validate_json_is_the_librarys_report(workdir):
    good = make_submission(workdir / "good.xlsx")
    bad = make_submission(workdir / "bad.xlsx", cells={("traffic", "major_fixed"): 5})
    lock = workdir / "~$附件2.xlsx"
    lock.write_bytes(b"\x00owner")
    report = pipeline.check_files([good, bad, lock], config.load(workdir / "config.toml"), NOW)
    assert report.ok is False
    assert [(type(f).__name__, f.path.rsplit("/", 1)[-1], f.ok) for f in report.files] == [
        ("FileReport", "good.xlsx", True), ("FileReport", "bad.xlsx", False), ("IgnoredFile", "~$附件2.xlsx", True)]
    good_report, bad_report, _ignored = report.files
    assert (good_report.outcome, good_report.unit, good_report.year, good_report.month_from, good_report.month_to) == \
        ("accepted", "交通运输综合行政执法大队", 2023, 1, 5)
    assert [(i.cell, i.code) for i in bad_report.issues] == [("G9", "E_FIXED_GT_FOUND")]
    assert bad_report.workbook is not None and bad_report.located is not None  # what --markup draws from
    assert bad_report.located.sheet.name == "附件2"
    assert bad_report.to_dict()["values"]["total"]["inspectors"] == 53
    result = CliRunner().invoke(cli, ["validate", "--json", str(good), str(bad), str(lock)])
    assert result.exit_code == 1
    assert json.loads(result.output) == report.to_dict()
    assert list(json.loads(result.output)["files"][1]) == ["path", "ok", "unit", "year", "month_from", "month_to",
                                                           "issues", "values", "outcome"]
    assert json.loads(result.output)["files"][2] == {
        "path": str(lock), "ignored": True, "ok": True, "unit": None, "year": None, "month_from": None,
        "month_to": None, "issues": [], "values": {}}


def test_ingest_json_is_the_batch_result(workdir):
    bad = make_submission(workdir / "inbox" / "交通运输综合行政执法大队" / "附件2.xlsx",
                          cells={("traffic", "major_fixed"): 5})
    result = CliRunner().invoke(cli, ["ingest", "--json", str(bad)])
    assert result.exit_code == 1
    out = json.loads(result.output)
    assert out["ok"] is False
    assert out["counts"] == {"accepted": 0, "rejected": 1, "duplicate": 0, "material": 0, "resumed": 0, "failed": 0}
    (entry,) = out["files"]
    assert list(entry) == ["path", "outcome", "unit", "id", "period", "message", "issues"]
    assert (entry["outcome"], entry["unit"], entry["id"], entry["period"], entry["message"]) == \
        ("rejected", "交通运输综合行政执法大队", 1, "2023年1月至5月", None)
    assert list(entry["issues"][0]) == ["severity", "code", "sheet", "cell", "sector", "metric", "message"]
    assert (entry["issues"][0]["code"], entry["issues"][0]["cell"]) == ("E_FIXED_GT_FOUND", "G9")


def test_the_public_names_load_on_first_use():
    import subprocess
    import sys

    code = ("import sys, pipeline; before = sorted(m for m in sys.modules if m.startswith('pipeline.'));"
            "from pipeline import check_files, Ledger, Report, FileReport, BatchResult, FileResult;"
            "print(before, check_files.__module__, Ledger.__module__, Report.__module__)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["[]", "pipeline.intake.check", "pipeline.storage.ledger", "pipeline.intake.report"]
