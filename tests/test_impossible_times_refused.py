"""A received time, an --as-of or a month no clerk can mean (year 999, 9999, an offset of 99 hours, a report
received before its own period) is refused at the edge with a Chinese sentence and exit 2: it never reaches the
ledger, where a year below 1000 would poison every later command. Real `python -m pipeline` processes on a
working folder made by `annex2 init`."""
from datetime import datetime, timezone

import pytest
from factory import make_submission
from helpers import edit_config, rows, run_cli


def arrivals(work):
    return rows(work, "SELECT original_name, received_utc FROM arrivals")


# --- a received time the ledger could not hold, or the report could not have -------------------------

@pytest.mark.parametrize("received, message", [
    ("0999-12-31", "“0999-12-31” 的年份 999 不在 2000–2099 年之间，请核对日期"),
    ("0001-01-01T00:00:00+14:00", "“0001-01-01T00:00:00+14:00” 的年份 1 不在 2000–2099 年之间，请核对日期"),
    ("1999-01-01", "“1999-01-01” 的年份 1999 不在 2000–2099 年之间，请核对日期"),
    # a report for 1月至12月 2026 is made in December at the earliest
    ("2026-11-30T23:59", "2026-11-30 23:59 不可能是 {path} 的收到时间：这份表报的是2026年1月至12月，"
                         "2026-12-01 之前还做不出来，请核对收到时间"),
])
def test_a_received_time_no_report_could_have_is_refused_and_nothing_is_recorded(workdir, tmp_path, received, message):
    report = make_submission(tmp_path / "邮件附件" / "dec.xlsx", year=2026, month_from=1, month_to=12)
    result = run_cli(workdir, "ingest", str(report), "--unit", "执法大队", "--received-at", received)
    assert result.returncode == 2, result.stderr
    assert message.format(path=report) in result.stderr
    assert "Traceback" not in result.stderr and "内部错误" not in result.stderr
    assert arrivals(workdir) == []
    assert run_cli(workdir, "history", "--unit", "执法大队").returncode == 0  # the ledger is still readable


def test_the_first_moment_of_the_reports_own_month_is_accepted(workdir, tmp_path):
    report = make_submission(tmp_path / "邮件附件" / "dec.xlsx", year=2026, month_from=1, month_to=12)
    result = run_cli(workdir, "ingest", str(report), "--unit", "执法大队", "--received-at", "2026-12-01T00:00")
    assert result.returncode == 0, result.stderr
    assert arrivals(workdir) == [("dec.xlsx", "2026-11-30T16:00:00.000000Z")]  # 00:00 in Shanghai is 16:00 UTC


def test_the_ledger_writes_every_year_with_four_digits():
    """Defence in depth: `%Y` gives '999' on Linux, which neither parses back nor sorts as time."""
    from pipeline.storage.ledger import from_utc_text, utc_text

    assert utc_text(datetime(999, 12, 31, 15, 54, 16, 999999, timezone.utc)) == "0999-12-31T15:54:16.999999Z"
    assert from_utc_text("0999-12-31T15:54:16.999999Z") == datetime(999, 12, 31, 15, 54, 16, 999999, timezone.utc)


# --- absurd months and moments are usage errors, a full disk is exit 1 ---------------------------------

@pytest.mark.parametrize("args, message", [
    (["status", "--month", "0000-01"], "“0000-01” 的年份 0 不在 2000–2099 年之间，请核对"),
    (["status", "--month", "2026-12", "--as-of", "2026-12-06 11:00 +99:00"],
     "“2026-12-06 11:00 +99:00” 的时区 +99:00 不存在（应在 -14:00 到 +14:00 之间），请核对"),
    (["merge", "--month", "9999-12", "--as-of", "9999-12-31"], "“9999-12” 的年份 9999 不在 2000–2099 年之间，请核对"),
    (["notices", "--month", "2026-12", "--as-of", "9999-12-31"], "“9999-12-31” 的年份 9999 不在 2000–2099 年之间，请核对日期"),
])
def test_a_month_or_moment_no_clerk_can_mean_is_exit_2_in_chinese(workdir, args, message):
    result = run_cli(workdir, *args)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr and "内部错误" not in result.stderr


def test_a_reporting_start_in_year_0_is_refused_at_the_check_naming_the_line(workdir):
    edit_config(workdir, 'start = "2023-01"', 'start = "0000-01"')
    for command in (["status"], ["merge", "--month", "2023-05"], ["ingest"]):
        result = run_cli(workdir, *command)
        assert result.returncode == 2, (command, result.stderr)
        assert "config.toml:14: [reporting] start：“0000-01” 的年份 0 不在 2000–2099 年之间，请核对" in result.stderr
