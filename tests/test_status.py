"""Deadlines and states at the boundary, replayable as of any moment, the same in any machine time zone."""
import json
import os
import subprocess
import sys
from datetime import date

import pytest
from click.testing import CliRunner
from helpers import annex2_only, at, edit_config, report, status_with_materials

from pipeline.cli.commands import cli
from pipeline.core import config
from pipeline.core.deadlines import deadline
from pipeline.core.months import Month
from pipeline.storage.ledger import Ledger

EXEC = "交通运输综合行政执法大队"
QUALITY = "交通质量和安全监督站"
LOGISTICS = "现代物流中心"


def state_of(work, month, as_of, unit=EXEC):
    cfg = config.load(work / "config.toml")
    with Ledger(cfg.ledger) as ledger:
        st = status_with_materials(cfg, ledger, Month.parse(month), at(as_of))
    return next(u for u in st.units if u.name == unit), st


@pytest.mark.parametrize("received,state,days_late", [
    ("2023-05-10T09:00:00", "on_time", None),
    ("2023-05-23T23:59:59", "on_time", None),
    ("2023-05-24T00:00:00", "late", 1),
    ("2023-05-26T08:30:00", "late", 3),
    ("2023-06-02T10:00:00", "late", 10),
])
def test_state_at_the_deadline_boundary(workdir, received, state, days_late):
    report(workdir, EXEC, received)
    u, _ = state_of(workdir, "2023-05", "2023-06-05T12:00")
    assert (u.current.state, u.current.days_late) == (state, days_late)
    assert u.current.received_at == at(received)


def run_status_in_zone(work, zone, *args):
    env = {**os.environ, "TZ": zone}
    proc = subprocess.run([sys.executable, "-m", "pipeline", "status", "--json", *args], cwd=work, env=env,
                          capture_output=True, text=True, check=True)
    return json.loads(proc.stdout)


def test_the_machines_time_zone_changes_nothing(workdir):
    report(workdir, EXEC, "2023-05-23T23:59:59")
    report(workdir, QUALITY, "2023-05-24T00:00:00", unit="质监站")
    answers = [run_status_in_zone(workdir, zone, "--month", "2023-05", "--as-of", "2023-05-24T00:00:00")
               for zone in ("UTC", "America/New_York", "Asia/Shanghai")]
    assert answers[0] == answers[1] == answers[2]
    by_unit = {u["unit"]: u for u in answers[0]["units"]}
    assert (by_unit[EXEC]["state"], by_unit[EXEC]["days_late"]) == ("on_time", None)
    assert (by_unit[QUALITY]["state"], by_unit[QUALITY]["days_late"]) == ("late", 1)
    assert by_unit[EXEC]["received_at"] == "2023-05-23T23:59:59+08:00"
    assert answers[0]["deadline"] == "2023-05-23T23:59:59+08:00"
    assert answers[0]["as_of"] == "2023-05-24T00:00:00+08:00"
    # a plain date means the end of that day, in the bureau's zone, whatever the machine's zone
    late_day = run_status_in_zone(workdir, "America/New_York", "--month", "2023-05", "--as-of", "2023-05-23")
    assert late_day["as_of"] == "2023-05-23T23:59:59+08:00"
    assert {u["unit"]: u["state"] for u in late_day["units"]}[QUALITY] == "pending"


def test_json_shape(workdir):
    report(workdir, EXEC, "2023-05-20T10:00")
    result = CliRunner().invoke(cli, ["status", "--month", "2023-05", "--as-of", "2023-05-31", "--json"])
    assert result.exit_code == 0
    data = json.loads(result.output)
    assert {"year", "month", "deadline", "as_of", "units"} <= set(data)
    assert (data["year"], data["month"]) == (2023, 5)
    assert len(data["units"]) == 9
    assert {"unit", "state", "received_at", "days_late", "strikes", "escalate"} <= set(data["units"][0])


def test_table_and_summary_line(workdir):
    report(workdir, EXEC, "2023-05-20T10:00")
    report(workdir, QUALITY, "2023-05-25T10:00", unit="质监站")
    result = CliRunner().invoke(cli, ["status", "--month", "2023-05", "--as-of", "2023-05-31"])
    assert result.exit_code == 0
    assert "已报 2/9，按时 1，迟报 1，逾期未报 7" in result.output
    row = next(line for line in result.output.splitlines() if line.startswith(QUALITY))
    assert "迟报" in row and "2023-05-25 10:00" in row


def test_pending_before_the_deadline(workdir):
    report(workdir, EXEC, "2023-05-20T10:00")
    u, st = state_of(workdir, "2023-05", "2023-05-21T12:00", unit=QUALITY)
    assert u.current.state == "pending"
    assert st.summary == "已报 1/9，按时 1，迟报 0，逾期未报 0，未到期 8"


def test_a_unit_that_never_reports(workdir):
    u, _ = state_of(workdir, "2023-05", "2023-05-31T10:00")
    assert (u.current.state, u.current.days_overdue) == ("overdue", 8)
    assert u.strikes == 5 and u.escalate  # January to May, all overdue


def test_months_before_start_and_before_a_units_from_never_count(workdir):
    edit_config(workdir, 'start = "2023-01"', 'start = "2023-03"')
    edit_config(workdir, 'name = "现代物流中心"', 'name = "现代物流中心"\nfrom = "2023-04"')
    edit_config(workdir, 'name = "区公路建设养护中心"', 'name = "区公路建设养护中心"\nuntil = "2023-04"')
    u, st = state_of(workdir, "2023-05", "2023-05-31T10:00")
    assert u.strikes == 3  # March, April, May
    logistics = next(x for x in st.units if x.name == LOGISTICS)
    assert logistics.strikes == 2  # April, May
    assert [h.month.month for h in logistics.year_history] == [4, 5]
    assert "区公路建设养护中心" not in [x.name for x in st.units]  # stopped reporting after April
    cfg = config.load(workdir / "config.toml")
    with Ledger(cfg.ledger) as ledger:
        assert status_with_materials(cfg, ledger, Month(2023, 2), at("2023-03-01T10:00")).units == []


def test_a_correction_after_the_deadline_keeps_on_time(workdir):
    report(workdir, EXEC, "2023-05-20T10:00")
    report(workdir, EXEC, "2023-05-28T10:00", cells={("traffic", "inspectors"): 30})
    u, _ = state_of(workdir, "2023-05", "2023-05-31T10:00")
    assert (u.current.state, u.current.received_at) == ("on_time", at("2023-05-20T10:00"))


def test_a_rejected_file_before_the_deadline_and_its_fix_after(workdir):
    report(workdir, EXEC, "2023-05-22T10:00", cells={("traffic", "major_fixed"): 5})
    u, _ = state_of(workdir, "2023-05", "2023-05-23T20:00")
    assert u.current.state == "pending" and len(u.attempts) == 1
    report(workdir, EXEC, "2023-05-25T09:00")
    u, _ = state_of(workdir, "2023-05", "2023-05-31T10:00")
    assert (u.current.state, u.current.days_late, len(u.attempts)) == ("late", 2, 1)


def test_strikes_across_months_and_escalation(workdir):
    annex2_only(workdir)
    for arrived, month in [("2023-01-20T10:00", 1), ("2023-02-25T10:00", 2), ("2023-03-20T10:00", 3),
                           ("2023-05-20T10:00", 5)]:
        report(workdir, EXEC, arrived, month_to=month)
    march, _ = state_of(workdir, "2023-03", "2023-03-31T10:00")
    assert (march.strikes, march.escalate) == (1, False)  # February late
    may, _ = state_of(workdir, "2023-05", "2023-05-31T10:00")
    assert [h.state for h in may.year_history] == ["on_time", "late", "on_time", "overdue", "on_time"]
    assert (may.current.state, may.strikes, may.escalate) == ("on_time", 2, True)


def test_one_long_overdue_month_escalates(workdir):
    annex2_only(workdir)
    for month in (1, 2, 3, 4):
        report(workdir, QUALITY, f"2023-{month:02d}-20T10:00", month_to=month, unit="质监站")
    seven, _ = state_of(workdir, "2023-05", "2023-05-30T10:00", unit=QUALITY)
    assert (seven.current.days_overdue, seven.strikes, seven.escalate) == (7, 1, False)
    eight, _ = state_of(workdir, "2023-05", "2023-05-31T10:00", unit=QUALITY)
    assert (eight.current.days_overdue, eight.strikes, eight.escalate) == (8, 1, True)


def test_replay_as_of_an_earlier_moment(workdir):
    report(workdir, EXEC, "2023-05-26T10:00")
    before, _ = state_of(workdir, "2023-05", "2023-05-25T10:00")
    assert before.current.state == "overdue"
    after, _ = state_of(workdir, "2023-05", "2023-05-27T10:00")
    assert (after.current.state, after.current.days_late) == ("late", 3)


@pytest.mark.parametrize("settings,month,last_day,first_late_moment", [
    ({}, "2023-05", date(2023, 5, 23), "2023-05-24T00:00:00+08:00"),
    ({"inclusive = true": "inclusive = false"}, "2023-05", date(2023, 5, 22), "2023-05-23T00:00:00+08:00"),
    ({"grace_days = 0": "grace_days = 2"}, "2023-05", date(2023, 5, 25), "2023-05-26T00:00:00+08:00"),
    ({"month_offset = 0": "month_offset = 1"}, "2023-12", date(2024, 1, 23), "2024-01-24T00:00:00+08:00"),
    ({"day = 23": "day = 31"}, "2023-02", date(2023, 2, 28), "2023-03-01T00:00:00+08:00"),
])
def test_deadline_rules_from_config(workdir, settings, month, last_day, first_late_moment):
    for old, new in settings.items():
        edit_config(workdir, old, new)
    due = deadline(config.load(workdir / "config.toml"), Month.parse(month))
    assert due.last_day == last_day
    assert due.boundary.isoformat() == first_late_moment
