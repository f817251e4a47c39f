"""The reporting period ([reporting] start/end, set by `annex2 init`), deadlines moved over holidays
(holiday_shift, the State Council calendar from chinese-calendar), and the bureau's days rule (issue 22)."""
import json
from datetime import date, datetime

from click.testing import CliRunner
from helpers import annex2_only, at, edit_config, no_tasks_due, report, status_with_materials

from pipeline.cli.commands import cli
from pipeline.core import config
from pipeline.core.deadlines import deadline
from pipeline.core.months import Month
from pipeline.materials.state import materials_deadline
from pipeline.storage.ledger import Ledger
from pipeline.tasks.state import task_deadline

EXEC = "交通运输综合行政执法大队"
QUALITY = "交通质量和安全监督站"


def fixed_clock(monkeypatch, *moment):
    for module in ("pipeline.cli.commands", "pipeline.cli.workfolder"):  # init and template live in workfolder
        monkeypatch.setattr(f"{module}.now_in", lambda cfg: datetime(*moment, tzinfo=cfg.bureau.tz))


def states(work, month, as_of):
    cfg = config.load(work / "config.toml")
    with Ledger(cfg.ledger) as ledger:
        st = status_with_materials(cfg, ledger, Month.parse(month), at(as_of))
    return st, {u.name: u for u in st.units}


# --- the reporting period -------------------------------------------------------------------------------

def test_init_today_starts_reporting_this_month_and_nobody_is_escalated(tmp_path, monkeypatch):
    fixed_clock(monkeypatch, 2024, 3, 10, 9, 0)
    work = tmp_path / "新目录"
    result = CliRunner().invoke(cli, ["init", str(work)])
    assert result.exit_code == 0, result.output
    assert 'start = "2024-03"' in (work / "config.toml").read_text(encoding="utf-8")
    assert "报送期自本月 2024年3月 起" in result.output
    for check in ("[reporting] start", "[[units]]", "[tasks] year"):  # the closing lines say what to check
        assert check in result.output
    monkeypatch.chdir(work)
    out = CliRunner().invoke(cli, ["status", "--month", "2024-03", "--as-of", "2024-03-10T09:00", "--json"])
    data = json.loads(out.output)
    assert [u["state"] for u in data["units"]] == ["pending"] * 9
    assert [u["escalate"] for u in data["units"]] == [False] * 9
    assert [u["strikes"] for u in data["units"]] == [0] * 9
    notices = CliRunner().invoke(cli, ["notices", "--month", "2024-03", "--as-of", "2024-03-10T09:00"])
    assert notices.exit_code == 0, notices.output
    names = sorted(p.name for p in (work / "outbox" / "2024-03" / "notices").iterdir())
    assert names == ["index.csv", "通报_2024年3月报送情况.docx"]  # no 催报, no 报告 to the main leaders


def test_init_in_december_judges_no_task_whose_window_closed_before_the_period(tmp_path, monkeypatch):
    """A folder made on 6 December: 隐患清零 (T01, 5月至8月) closed before anyone was asked to report, so no unit
    is overdue on it; 严格监管执法 (T03, 12月底) is due with December's form and is simply not yet reported."""
    fixed_clock(monkeypatch, 2024, 12, 6, 9, 0)
    work = tmp_path / "年底新建"
    assert CliRunner().invoke(cli, ["init", str(work)]).exit_code == 0
    monkeypatch.chdir(work)
    tasks = json.loads(CliRunner().invoke(cli, ["tasks", "status", "--month", "2024-12", "--as-of",
                                                "2024-12-06T09:00", "--json"]).output)
    by_id = {}
    for cell in tasks["tasks"]:
        by_id.setdefault(cell["id"], set()).add(cell["state"])
    assert "T01" not in by_id and "T02" not in by_id  # 5月至8月, 3月至6月: before the period
    assert by_id["T03"] == {"pending"}
    assert all("overdue" not in states_ for states_ in by_id.values())
    data = json.loads(CliRunner().invoke(cli, ["status", "--month", "2024-12", "--as-of", "2024-12-06T09:00",
                                               "--json"]).output)
    assert [u["strikes"] for u in data["units"]] == [0] * 9
    assert [u["escalate"] for u in data["units"]] == [False] * 9
    assert all(u["tasks"]["overdue"] == [] for u in data["units"])


def test_init_after_this_months_deadlines_says_so_and_how_to_start_next_month(tmp_path, monkeypatch):
    fixed_clock(monkeypatch, 2024, 12, 17, 9, 0)  # materials and task forms were due on the 16th
    result = CliRunner().invoke(cli, ["init", str(tmp_path / "a")])
    assert "本月的报送截止日已过：月度工作情况材料和重点任务推进情况表（12月16日）。" in result.output
    assert 'start 改为下个月（"2025-01"）' in result.output
    fixed_clock(monkeypatch, 2024, 12, 24, 0, 0)  # and the statistics on the 23rd
    result = CliRunner().invoke(cli, ["init", str(tmp_path / "b")])
    assert "月度工作情况材料和重点任务推进情况表（12月16日）、安全生产督查情况统计表（12月23日）。" in result.output
    fixed_clock(monkeypatch, 2024, 12, 16, 23, 59)  # still in time for everything
    assert "截止日已过" not in CliRunner().invoke(cli, ["init", str(tmp_path / "c")]).output


def test_a_month_before_start_or_after_end_is_not_in_the_reporting_period(workdir):
    edit_config(workdir, 'start = "2023-01"', 'start = "2023-04"\nend = "2023-10"')
    for month in ("2023-03", "2023-11"):
        result = CliRunner().invoke(cli, ["status", "--month", month, "--as-of", "2023-12-31"])
        assert result.exit_code == 0, result.output
        label = f"2023年{int(month[-2:])}月"
        assert result.output.strip() == f"{label}不在报送期内（报送期：2023年4月至2023年10月），不判断按时、迟报和逾期"
        assert "0/0" not in result.output
        data = json.loads(CliRunner().invoke(cli, ["status", "--month", month, "--as-of", "2023-12-31",
                                                   "--json"]).output)
        assert (data["in_period"], data["units"]) == (False, [])  # the frozen keys stay; no unit is judged
    # inside the period: judged, and the months after `end` never become strikes
    st, units = states(workdir, "2023-10", "2023-12-31")
    assert st.in_period and len(st.units) == 9
    assert [h.month.month for h in units[EXEC].year_history] == [4, 5, 6, 7, 8, 9, 10]


def test_end_before_start_is_a_config_error(workdir):
    edit_config(workdir, 'start = "2023-01"', 'start = "2023-04"\nend = "2023-03"')
    result = CliRunner().invoke(cli, ["status"])
    assert result.exit_code == 2
    assert "[reporting] end（2023-03）早于 start（2023-04）" in result.output


# --- holidays -------------------------------------------------------------------------------------------

def test_holiday_shift_moves_the_dragon_boat_deadline_to_the_working_sunday(workdir):
    annex2_only(workdir)
    edit_config(workdir, "grace_days = 0                     # 宽限天数：截止后再过这么多天才算迟报\n"
                         "holiday_shift = false", "grace_days = 0\nholiday_shift = true")
    cfg = config.load(workdir / "config.toml")
    due = deadline(cfg, Month(2023, 6))
    # 2023-06-23 (Friday) is 端午; the 24th a Saturday of the holiday; the 25th a Sunday worked (调休)
    assert (due.shifted_from, due.last_day) == (date(2023, 6, 23), date(2023, 6, 25))
    report(workdir, EXEC, "2023-06-25T10:00", month_to=6)
    report(workdir, QUALITY, "2023-06-26T09:00", unit="质监站", month_to=6)
    _, units = states(workdir, "2023-06", "2023-06-30")
    assert (units[EXEC].current.state, units[EXEC].current.days_late) == ("on_time", None)
    assert (units[QUALITY].current.state, units[QUALITY].current.days_late) == ("late", 1)
    result = CliRunner().invoke(cli, ["status", "--month", "2023-06", "--as-of", "2023-06-30"])
    assert "注意：统计表截止日2023年6月23日为法定节假日或周末，顺延至2023年6月25日。" in result.output
    data = json.loads(CliRunner().invoke(cli, ["status", "--month", "2023-06", "--as-of", "2023-06-30",
                                               "--json"]).output)
    assert data["deadline"] == "2023-06-25T23:59:59+08:00"
    # without holiday_shift (the default: the seed has no 顺延) the 23rd stands
    assert deadline(config.defaults(workdir), Month(2023, 6)).last_day == date(2023, 6, 23)


def test_holiday_shift_for_materials_and_tasks_moves_a_sunday_to_monday(workdir):
    edit_config(workdir, "grace_days = 0                     # 宽限天数\nholiday_shift = false              "
                         "# true：逢法定节假日或周末顺延到下一个工作日\n# 不需要报送材料",
                "grace_days = 0\nholiday_shift = true\n# 不需要报送材料")
    cfg = config.load(workdir / "config.toml")
    assert materials_deadline(cfg, Month(2023, 4)).last_day == date(2023, 4, 17)  # the 16th is a Sunday
    assert task_deadline(cfg, Month(2023, 4)).last_day == date(2023, 4, 16)  # [tasks] has its own switch
    edit_config(workdir, "grace_days = 0                     # 宽限天数\nholiday_shift = false",
                "grace_days = 0\nholiday_shift = true")
    cfg = config.load(workdir / "config.toml")
    assert task_deadline(cfg, Month(2023, 4)).last_day == date(2023, 4, 17)
    # a working day stays: 2023-05-16 is a Tuesday
    assert materials_deadline(cfg, Month(2023, 5)).last_day == date(2023, 5, 16)


def test_a_year_the_calendar_library_does_not_cover_shifts_over_weekends_only_and_says_so(workdir):
    annex2_only(workdir)
    no_tasks_due(workdir)
    edit_config(workdir, "grace_days = 0                     # 宽限天数：截止后再过这么多天才算迟报\n"
                         "holiday_shift = false", "grace_days = 0\nholiday_shift = true")
    cfg = config.load(workdir / "config.toml")
    due = deadline(cfg, Month(2099, 5))  # 2099-05-23 is a Saturday
    assert (due.last_day, due.uncovered_years) == (date(2099, 5, 25), (2099,))
    result = CliRunner().invoke(cli, ["status", "--month", "2099-05", "--as-of", "2099-05-20"])
    assert "节假日库 chinese-calendar 尚无2099年的国务院放假安排，截止日只按周末顺延" in result.output


# --- the bureau's days rule ---------------------------------------------------------------------------

def test_a_report_eight_days_late_meets_the_seven_days_rule(workdir):
    annex2_only(workdir)
    no_tasks_due(workdir)
    edit_config(workdir, 'start = "2023-01"', 'start = "2023-05"')
    report(workdir, EXEC, "2023-05-31T10:00")  # 8 days after the 23rd
    report(workdir, QUALITY, "2023-05-30T10:00", unit="质监站")  # 7 days: not more than 7
    _, units = states(workdir, "2023-05", "2023-06-10")
    assert (units[EXEC].current.days_late, units[EXEC].strikes, units[EXEC].escalate) == (8, 1, True)
    assert (units[QUALITY].current.days_late, units[QUALITY].strikes, units[QUALITY].escalate) == (7, 1, False)


def test_notices_print_the_shifted_deadline(workdir):
    annex2_only(workdir)
    no_tasks_due(workdir)
    edit_config(workdir, 'start = "2023-01"', 'start = "2023-06"')
    edit_config(workdir, "grace_days = 0                     # 宽限天数：截止后再过这么多天才算迟报\n"
                         "holiday_shift = false", "grace_days = 0\nholiday_shift = true")
    result = CliRunner().invoke(cli, ["notices", "--month", "2023-06", "--as-of", "2023-06-30"])
    assert result.exit_code == 0, result.output
    import docx

    folder = workdir / "outbox" / "2023-06" / "notices"
    for name in ("通报_2023年6月报送情况.docx", "催报通知_局安全监督股.docx"):
        text = "\n".join(p.text for p in docx.Document(str(folder / name)).paragraphs)
        assert "报送截止时间为2023年6月25日24时（6月23日逢法定节假日或周末，顺延至下一个工作日）" in text, name
        assert "已逾期5天" in text, name  # counted from the 25th, not the 23rd
