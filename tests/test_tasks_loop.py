"""The Annex 1 key tasks in the monthly loop (spec 12): the status column and JSON lists, the 通报 section, the
催报 lines, task months as strikes (one a month whatever is late), the 报告's reasons, the leadership and
master workbooks, a broken task list, and the demo's task story.

The story (reporting from May 2023; the four-task list of tests/task_story.py; July looked at on 31 July):

    task window   units                          forms (task_story.Scenario)
    T01  5–8月    局安全监督股 (lead), 运输中心   运输中心 May 8 (T03 未启动), May 10 (corrected), Jul 12 (T03 未启动)
    T02  3–6月    运输中心                       物流中心 Jun 15, Jul 20 (after the 16th)
    T03  4–10月   运输中心
    T04  6–12月   物流中心

    July states:    T01 局安全监督股 unreported (it never sends a form), T01 运输中心 on track, T02 运输中心 overdue
                    (window ended in June, never 已完成), T03 运输中心 lagging (未启动 in its fourth month),
                    T04 物流中心 on track (its July form came on the 20th: judged on what it says; the form is 迟报)
    task strikes:   局安全监督股 May, Jun, Jul (no form); 运输中心 Jun (no form), Jul (lagging, overdue);
                    物流中心 Jul (form 4 days late)
    Annex 2:        局安全监督股 on time May–Jul; 运输中心 May 2 days late, Jun/Jul on time;
                    物流中心 May/Jun on time, Jul 3 days late; the six others never report (overdue)
    strikes (July): 局安全监督股 3 (all tasks), 运输中心 3 (May Annex 2, Jun + Jul tasks),
                    物流中心 1 (July late *and* lagging: one month, one strike), the others 3 (May–Jul overdue)
"""
import json

import docx
import openpyxl
import pytest
from click.testing import CliRunner
from helpers import annex2_only, edit_config, report
from task_story import LOGISTICS, SAFETY, TRANSPORT, Scenario, transport_may_to_july

from pipeline.cli.commands import cli
from pipeline.core.months import Month

OTHERS = ["局基本建设股", "局计划统计股", "行政审批股", "交通质量和安全监督站", "交通运输综合行政执法大队", "区公路建设养护中心"]
ORDER = [SAFETY, "局基本建设股", "局计划统计股", "行政审批股", "交通质量和安全监督站", TRANSPORT,
         "交通运输综合行政执法大队", LOGISTICS, "区公路建设养护中心"]
AS_OF = "2023-07-31T18:00"
EMPTY = {"lagging": [], "overdue": [], "on_track": [], "done": [], "unreported": [], "phase_done": [], "closed": [],
         "pending": [], "not_started": [], "form": None}


def form(state, received_at=None, days_late=None):
    return {"state": state, "received_at": received_at, "days_late": days_late}


@pytest.fixture
def july(workdir):
    annex2_only(workdir)  # the work materials (tests/test_materials.py) would add strikes of their own
    edit_config(workdir, 'start = "2023-01"', 'start = "2023-05"')
    s = Scenario(workdir)
    transport_may_to_july(s)
    s.report(LOGISTICS, "2023-06", "2023-06-15T09:00", {"T04": ("推进中", "排查码头3处")})
    s.report(LOGISTICS, "2023-07", "2023-07-20T09:00", {"T04": ("推进中", "排查码头2处")})
    for unit, days in ((SAFETY, (20, 20, 20)), (TRANSPORT, (25, 20, 20)), (LOGISTICS, (20, 20, 26))):
        for month, day in zip((5, 6, 7), days):
            report(workdir, unit, f"2023-{month:02d}-{day}T10:00", name=f"附件2_{month}月.xlsx", unit=unit,
                   month_to=month)
    return s


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def text_of(path):
    return [p.text for p in docx.Document(str(path)).paragraphs] + [
        " | ".join(c.text for c in row.cells) for t in docx.Document(str(path)).tables for row in t.rows]


# --- status ------------------------------------------------------------------------------------------------

def test_status_json_adds_the_tasks_lists_and_joins_the_strikes_per_month(july):
    result = run("status", "--month", "2023-07", "--as-of", AS_OF, "--json")
    assert result.exit_code == 0, result.output
    units = json.loads(result.stdout)["units"]
    assert [u["unit"] for u in units] == ORDER
    got = {u["unit"]: (u["state"], u["days_late"], u["strikes"], u["escalate"], u["tasks"]) for u in units}
    assert got == {
        SAFETY: ("on_time", None, 3, True, {**EMPTY, "unreported": ["T01"], "form": form("unreported")}),
        TRANSPORT: ("on_time", None, 3, True, {**EMPTY, "lagging": ["T03"], "overdue": ["T02"], "on_track": ["T01"],
                                               "form": form("on_time", "2023-07-12T09:00:00+08:00")}),
        LOGISTICS: ("late", 3, 1, False, {**EMPTY, "on_track": ["T04"],
                                          "form": form("late", "2023-07-20T09:00:00+08:00", 4)}),
        **{u: ("overdue", None, 3, True, EMPTY) for u in OTHERS},
    }
    # every key that was there before is still there
    assert set(units[0]) == {"unit", "state", "state_label", "received_at", "days_late", "days_overdue", "strikes",
                             "escalate", "rejected_attempts", "strike_months", "tasks"}
    assert units[0]["strike_months"] == ["2023-05", "2023-06", "2023-07"]  # 局安全监督股: its task months


def test_status_table_has_a_key_tasks_column(july):
    result = run("status", "--month", "2023-07", "--as-of", AS_OF)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[1].split() == ["单位", "统计表", "收到时间", "迟报天数", "工作材料", "重点任务", "本年迟报/逾期",
                                "上报局领导"]
    rows = {line.split()[0]: line for line in lines[3:12]}  # 工作材料 "—": these units owe none here
    assert rows[TRANSPORT].split() == [TRANSPORT, "按时", "2023-07-20", "10:00", "—", "滞后", "1", "/", "逾期", "1", "3",
                                       "是"]
    assert rows[SAFETY].split() == [SAFETY, "按时", "2023-07-20", "10:00", "—", "未报送", "3", "是"]
    assert rows[LOGISTICS].split() == [LOGISTICS, "迟报", "2023-07-26", "10:00", "3", "—", "迟报", "4", "天", "1"]
    assert rows["局基本建设股"].split() == ["局基本建设股", "逾期未报", "逾期8", "—", "—", "3", "是"]


def test_lagging_tasks_are_no_strike_when_count_tasks_is_false_but_unsent_forms_are(july, workdir):
    edit_config(workdir, "count_tasks = true", "count_tasks = false")
    units = json.loads(run("status", "--month", "2023-07", "--as-of", AS_OF, "--json").stdout)["units"]
    got = {u["unit"]: (u["strikes"], u["escalate"], u["tasks"]["lagging"]) for u in units}
    # a form not sent (or sent late) is 材料报送不及时, like late materials: it counts whatever count_tasks says;
    # 运输中心's July (lagging T03, overdue T02) no longer does
    assert (got[SAFETY], got[TRANSPORT], got[LOGISTICS]) == ((3, True, []), (2, True, ["T03"]), (1, False, []))


def test_strike_months_of_the_obligation_are_the_task_state_rule_with_reasons(july):
    from helpers import at
    from task_story import task_strike_months

    from pipeline.core.months import Month
    from pipeline.monthly.obligations import load_obligations
    from pipeline.storage.ledger import Ledger
    from pipeline.tasks.state import load_task_data

    with Ledger(july.cfg.ledger) as ledger:
        (ob,) = [o for o in load_obligations(july.cfg, ledger, Month(2023, 7), at(AS_OF)) if o.key == "tasks"]
        months = task_strike_months(july.cfg, july.tl, load_task_data(ledger, at(AS_OF)), Month(2023, 7))
    assert {u: list(ob.strike_months(u)) for u in (SAFETY, TRANSPORT, LOGISTICS)} == months
    assert {str(m): r for m, r in ob.strike_months(TRANSPORT).items()} == {
        "2023-06": "重点任务推进情况表未报送", "2023-07": "重点任务滞后1项（T03）、逾期1项（T02）"}
    assert {str(m): r for m, r in ob.strike_months(LOGISTICS).items()} == {"2023-07": "重点任务推进情况表迟报4天"}


# --- notices -----------------------------------------------------------------------------------------------

@pytest.fixture
def notices(july, workdir):
    result = run("notices", "--month", "2023-07", "--as-of", AS_OF)
    assert result.exit_code == 0, result.output
    return workdir / "outbox" / "2023-07" / "notices"


def test_the_bulletin_has_a_key_tasks_section_naming_units_and_tasks(notices):
    text = text_of(notices / "通报_2023年7月报送情况.docx")
    # the forms sent late or not at all: filed with 材料报送不及时 (no unit owes materials here: a section of their own)
    forms = text.index("二、重点任务推进情况表报送情况")
    assert text[forms + 1:forms + 4] == [
        "2023年7月重点任务推进情况表（与月度工作材料同时报送）的报送截止时间为2023年7月16日24时。应报3家，按时报送1家，"
        "迟报1家，未报送1家。",
        "未报送推进情况表的单位：局安全监督股（应报任务1项）。",
        "迟报推进情况表的单位：现代物流中心（7月20日报送，迟报4天）。",
    ]
    at = text.index("三、重点任务推进情况")
    assert text[at + 1:at + 5] == [
        "重点任务推进情况（附件1责任措施清单，7月推进情况表截止7月16日）：",
        "区道路运输服务中心：推进滞后1项（T03“学生安全专项整治”），超过完成时限未完成1项（T02“严格监管执法”）。",
        "请推进滞后的单位对照责任措施清单加快推进，按月如实报送推进情况。",
        "局安全监督股未报送7月推进情况表，属材料报送不及时（见上文报送情况），其任务进度无从判断，不计为进度滞后。",
    ]
    assert not any(line.startswith((SAFETY + "：", LOGISTICS + "：")) for line in text[at:])  # never 进度滞后
    assert text.index("一、安全生产督查情况统计表报送情况") < forms < at


def test_before_the_deadline_the_section_does_not_call_everyone_on_track(july, workdir):
    assert run("notices", "--month", "2023-07", "--as-of", "2023-07-10T09:00").exit_code == 0
    text = text_of(workdir / "outbox" / "2023-07" / "notices" / "通报_2023年7月报送情况.docx")
    at = text.index("三、重点任务推进情况")
    # 10 July: T02 is overdue already (its window ended in June); nobody's July form is in yet
    assert text[at + 2:at + 4] == ["区道路运输服务中心：超过完成时限未完成1项（T02“严格监管执法”）。",
                                   "请推进滞后的单位对照责任措施清单加快推进，按月如实报送推进情况。"]
    assert run("notices", "--month", "2023-05", "--as-of", "2023-05-07T09:00").exit_code == 0
    text = text_of(workdir / "outbox" / "2023-05" / "notices" / "通报_2023年5月报送情况.docx")
    at = text.index("三、重点任务推进情况")
    assert text[at + 2] == "目前无滞后、逾期任务；局安全监督股、区道路运输服务中心的5月推进情况表尚未报送，请于截止时间前报送。"


def test_reminders_list_each_units_tasks_and_go_to_units_behind_on_tasks_only(notices):
    # the six overdue units, and two whose Annex 2 came in but whose tasks need action; 物流中心's late form says
    # 推进中: nothing to ask it for
    assert sorted(p.name for p in notices.glob("催报通知_*.docx")) == sorted(
        f"催报通知_{u}.docx" for u in ORDER if u != LOGISTICS)
    safety = text_of(notices / f"催报通知_{SAFETY}.docx")
    assert "关于催报2023年7月重点任务\n推进情况表的通知" in safety  # not the Annex 2 title
    at = safety.index("一、重点任务推进情况")
    assert safety[at + 1:at + 3] == [
        "2023年7月重点任务推进情况表（附件1责任措施清单）的报送截止时间为2023年7月16日24时，与月度工作材料一并报送。",
        "你单位2023年7月重点任务推进情况表至今未报送，应报告进展的任务1项：T01“开展隐患清零行动”（完成时限5月至8月）。"
        "请尽快填报推进情况表并报送（本通知附有该表）。",
    ]
    assert not any("逾期" in line for line in safety)  # its Annex 2 came in time: nothing about it
    transport = text_of(notices / f"催报通知_{TRANSPORT}.docx")
    at = transport.index("一、重点任务推进情况")
    assert transport[at + 2:at + 4] == [
        "已进入完成时限仍报“未启动”、推进滞后的任务1项：T03“学生安全专项整治”（完成时限4月至10月）。请加快推进，按月如实报送进展。",
        "已超过完成时限、未报“已完成”或“阶段性完成”的任务1项：T02“严格监管执法”（完成时限3月至6月）。请尽快完成并报送。",
    ]
    assert not any("T01" in line for line in transport)  # on track: never in a 催报
    plain = text_of(notices / "催报通知_局基本建设股.docx")  # overdue with Annex 2, no key task of its own
    assert "关于催报2023年7月安全生产\n督查情况统计表的通知" in plain and not any("重点任务" in line for line in plain)


def test_a_task_reminder_e_mail_carries_the_units_progress_form(july, workdir, tmp_path):
    import email
    from email import policy

    edit_config(workdir, 'aliases = ["安全监督股", "安监股", "局安监股"]\nemails = []',
                'aliases = ["安全监督股", "安监股", "局安监股"]\nemails = ["aj@example.cn"]')
    assert run("notices", "--month", "2023-07", "--as-of", AS_OF).exit_code == 0
    eml = workdir / "outbox" / "2023-07" / "notices" / f"催报通知_{SAFETY}.eml"
    msg = email.message_from_bytes(eml.read_bytes(), policy=policy.default)
    assert msg["Subject"] == "关于催报2023年7月重点任务推进情况表的通知"
    attachments = {part.get_filename(): part.get_content() for part in msg.iter_attachments()}
    form = f"重点任务推进情况表_{SAFETY}_2023年7月.xlsx"
    assert set(attachments) == {form, f"催报通知_{SAFETY}.docx"}  # no Annex 2 template: that came in time
    (tmp_path / "f.xlsx").write_bytes(attachments[form])
    ws = openpyxl.load_workbook(tmp_path / "f.xlsx").active
    assert [ws.cell(r, 1).value for r in range(4, 6)] == ["T01", None]  # its one task of July


def test_reminder_lines_name_windows_ending_within_30_days(july, workdir):
    result = run("notices", "--month", "2023-08", "--as-of", "2023-08-20T09:00")
    assert result.exit_code == 0, result.output
    text = text_of(workdir / "outbox" / "2023-08" / "notices" / f"催报通知_{SAFETY}.docx")
    assert ("你单位2023年8月重点任务推进情况表至今未报送，应报告进展的任务1项：T01“开展隐患清零行动”（完成时限5月至8月，"
            "8月31日到期）。请尽快填报推进情况表并报送（本通知附有该表）。") in text


def test_the_report_to_the_leaders_gives_the_task_reasons_month_by_month(notices):
    text = text_of(notices / "报告_2023年迟报逾期情况_截至7月.docx")
    assert any("（重点任务推进情况表迟报、未报送或重点任务滞后、逾期的月份同样计入，同一月份只计一次）" in line for line in text)
    assert (f"{TRANSPORT} | 3 | 5月迟报2天；6月按时，重点任务推进情况表未报送；7月按时，重点任务滞后1项（T03）、逾期1项（T02）"
            in text)
    assert (f"{SAFETY} | 3 | 5月按时，重点任务推进情况表未报送；6月按时，重点任务推进情况表未报送；7月按时，重点任务推进情况表未报送"
            in text)
    assert not any(line.startswith(LOGISTICS + " |") for line in text)  # one strike: July, both forms late


# --- workbooks ---------------------------------------------------------------------------------------------

def test_merge_adds_the_key_tasks_sheet_and_every_progress_report(july, workdir):
    result = run("merge", "--month", "2023-07", "--as-of", AS_OF)
    assert result.exit_code == 0, result.output
    book = openpyxl.load_workbook(workdir / "outbox" / "2023-07" / "安全生产督查情况汇总_2023年7月.xlsx")
    names = book.sheetnames
    assert names.index("重点任务") == names.index("报送情况") + 1
    timeliness = book["报送情况"]
    assert timeliness.cell(2, 12).value == "重点任务"  # after the Annex 2 and materials columns
    assert {timeliness.cell(r, 2).value: timeliness.cell(r, 12).value for r in range(3, 12)} == {
        SAFETY: "未报送", TRANSPORT: "滞后 1 / 逾期 1", LOGISTICS: "迟报 4 天", **{u: "—" for u in OTHERS}}
    ws = book["重点任务"]
    assert [c.value for c in ws[3]] == ["编号", "任务名称", "完成时限", SAFETY, TRANSPORT, LOGISTICS]
    fills = {(ws.cell(r, 1).value, ws.cell(3, c).value): (ws.cell(r, c).value, ws.cell(r, c).fill.fgColor.rgb)
             for r in range(4, 8) for c in range(4, 7) if ws.cell(r, c).value}
    assert fills == {("T01", SAFETY): ("未报送\n（牵头）", "FFE4DFEC"), ("T01", TRANSPORT): ("正常推进", "FFC6EFCE"),
                     ("T02", TRANSPORT): ("逾期", "FFFFC7CE"), ("T03", TRANSPORT): ("滞后", "FFFFEB9C"),
                     ("T04", LOGISTICS): ("正常推进", "FFC6EFCE")}
    assert [ws.cell(8, c).value for c in range(1, 7)] == ["7月推进情况表", None, None, "未报送", "按时", "迟报4天"]
    assert ws["E4"].comment.text == "7月报送（推进中）：整改隐患8处"
    assert ws.page_setup.orientation == "landscape" and ws.page_setup.paperSize == 9
    assert ws.sheet_properties.pageSetUpPr.fitToPage and ws.page_setup.fitToHeight == 0  # one page wide

    master = openpyxl.load_workbook(workdir / "outbox" / "master.xlsx")["重点任务推进情况"]
    rows = [[c.value for c in row] for row in master.iter_rows(min_row=2)]
    assert rows[0][:9] == ["单位", "月份", "编号", "任务名称", "完成情况", "本月进展", "佐证材料", "收到时间", "当前有效"]
    assert rows[0][10] == "报送" and [r[10] for r in rows[1:] if r[2] == "T04"] == ["按时", "迟报4天"]
    assert [(r[0], r[1], r[2], r[4], r[7], r[8]) for r in rows[1:]] == [
        (TRANSPORT, "2023-05", "T01", "推进中", "2023-05-08 10:00", "否（已被替代）"),
        (TRANSPORT, "2023-05", "T02", "推进中", "2023-05-08 10:00", "否（已被替代）"),
        (TRANSPORT, "2023-05", "T03", "未启动", "2023-05-08 10:00", "否（已被替代）"),
        (TRANSPORT, "2023-05", "T01", "推进中", "2023-05-10 09:00", "是"),
        (TRANSPORT, "2023-05", "T02", "推进中", "2023-05-10 09:00", "是"),
        (TRANSPORT, "2023-05", "T03", "推进中", "2023-05-10 09:00", "是"),
        (LOGISTICS, "2023-06", "T04", "推进中", "2023-06-15 09:00", "是"),
        (TRANSPORT, "2023-07", "T01", "推进中", "2023-07-12 09:00", "是"),
        (TRANSPORT, "2023-07", "T03", "未启动", "2023-07-12 09:00", "是"),
        (LOGISTICS, "2023-07", "T04", "推进中", "2023-07-20 09:00", "是"),
    ]


# --- a broken task list ------------------------------------------------------------------------------------

def test_a_broken_task_list_is_said_once_and_the_loop_carries_on_without_tasks(july, workdir):
    (workdir / "templates" / "annex1_tasks.xlsx").write_bytes(b"not a workbook")
    result = run("status", "--month", "2023-07", "--as-of", AS_OF, "--json")
    assert result.exit_code == 0, result.output
    assert result.stderr.count("任务清单有误") == 1
    units = json.loads(result.stdout)["units"]
    assert "tasks" not in units[0]
    # without tasks the strikes are Annex 2's alone
    assert {u["unit"]: u["strikes"] for u in units}[SAFETY] == 0
    table = run("status", "--month", "2023-07", "--as-of", AS_OF)
    assert table.exit_code == 0 and "重点任务" not in table.stdout and table.stderr.count("任务清单有误") == 1
    merged = run("merge", "--month", "2023-07", "--as-of", AS_OF)
    assert merged.exit_code == 0, merged.output
    assert merged.stderr.count("任务清单有误") == 1
    assert "重点任务" not in openpyxl.load_workbook(
        workdir / "outbox" / "2023-07" / "安全生产督查情况汇总_2023年7月.xlsx").sheetnames
    text = text_of(workdir / "outbox" / "2023-07" / "notices" / "通报_2023年7月报送情况.docx")
    assert not any("重点任务" in line for line in text)
    (workdir / "templates" / "annex1_tasks.xlsx").unlink()
    missing = run("notices", "--month", "2023-07", "--as-of", AS_OF)
    assert missing.exit_code == 0 and missing.stderr.count("任务清单有误") == 1 and "找不到重点任务清单" in missing.stderr


def test_a_month_outside_the_lists_year_has_no_tasks_and_says_why(july):
    result = run("status", "--month", "2024-01", "--as-of", "2024-01-31", "--json")
    assert result.exit_code == 0, result.output
    assert "tasks" not in json.loads(result.stdout)["units"][0]
    assert "重点任务清单是2023年的（config.toml 中 [tasks] year），2024年1月不含重点任务" in result.stderr


# --- the demo ----------------------------------------------------------------------------------------------

def test_the_demo_tells_the_task_story(tmp_path, monkeypatch):
    from pipeline.demo.story import run_demo

    demo = run_demo(tmp_path / "demo")
    monkeypatch.chdir(demo.root)
    units = {u["unit"]: u for u in json.loads(run("status", "--month", "2023-05", "--json").stdout)["units"]}
    # The story (pipeline/demo.py): 局安全监督股 and 运输中心 report T02 阶段性完成 in May, its last month (the demo's
    # one change to the list: 3月至5月); the 执法大队 still says 未启动 for T14 (进校园, 4月至10月) a month into its
    # window; the logistics centre sends no May form. T09 (6月至12月) and T16 (6月至12月) have not begun.
    assert units[SAFETY]["tasks"]["on_track"] == ["T24", "T01", "T03", "T04", "T11", "T14", "T15", "T19", "T20", "T21",
                                                   "T22", "T23", "T26"]
    assert {u: v["tasks"]["phase_done"] for u, v in units.items() if v["tasks"]["phase_done"]} == {
        SAFETY: ["T02"], TRANSPORT: ["T02"]}
    assert {u: v["tasks"]["lagging"] for u, v in units.items() if v["tasks"]["lagging"]} == {
        "交通运输综合行政执法大队": ["T14"]}
    assert {u: v["tasks"]["unreported"] for u, v in units.items() if v["tasks"]["unreported"]} == {
        LOGISTICS: ["T24", "T21", "T22", "T23", "T26"]}
    assert [u for u, v in units.items() if v["tasks"]["overdue"]] == []
    assert (units[LOGISTICS]["tasks"]["form"]["state"], units[LOGISTICS]["tasks"]["not_started"]) == ("unreported", ["T09"])
    assert units["区公路建设养护中心"]["tasks"]["not_started"] == ["T16"]
    assert "T14" not in json.dumps(units["交通质量和安全监督站"]["tasks"])  # 进校园 is not the quality station's
    assert ("5月重点任务：交通运输综合行政执法大队滞后 1；现代物流中心未报送；阶段性完成：局安全监督股、区道路运输服务中心"
            in demo.summary())
    ws = openpyxl.load_workbook(demo.merged.leadership.path)["重点任务"]
    row = next(r for r in range(4, ws.max_row + 1) if ws.cell(r, 1).value == "T02")
    col = next(c for c in range(4, ws.max_column + 1) if ws.cell(3, c).value == TRANSPORT)
    assert (ws.cell(row, 3).value, ws.cell(row, col).value, ws.cell(row, col).fill.fgColor.rgb) == (
        "3月至5月", "阶段性完成", "FFBDD7EE")
    assert ws.cell(row, col).comment.text == "5月报送（阶段性完成）：客运站安全出口、疏散通道排查整改完毕，转入日常检查"
    # the 通报: the quality station is not criticised for 进校园; the brigade's lag and the centre's missing form are
    # named, each in its own list
    notices = demo.root / "outbox" / "2023-05" / "notices"
    text = text_of(notices / "通报_2023年5月报送情况.docx")
    assert "交通运输综合行政执法大队：推进滞后1项（T14“学生安全专项整治”）。" in text
    assert not any(line.startswith("交通质量和安全监督站：") for line in text)
    assert "未报送推进情况表的单位：现代物流中心（应报任务5项）。" in text
    assert not any(line.startswith(LOGISTICS + "：推进滞后") for line in text)
    # the closing criticises for what happened this month, and for nothing that did not (no form came late, no task
    # is overdue)
    assert ("对以上统计表迟报或逾期未报、月度工作材料迟报或未报齐、重点任务推进情况表未报送、重点任务推进滞后的单位"
            "予以通报批评。") in "".join(text)
    assert ("在完成时限内取得阶段性成效的：局安全监督股（T02“持续开展隐患清零行动”）；区道路运输服务中心（T02“持续开展隐患清零行动”），"
            "此后作为长期坚持的工作继续推进。") in text
    # the 催报: the brigade is asked for T14 (and only for what needs action); the quality station gets none
    brigade = text_of(notices / "催报通知_交通运输综合行政执法大队.docx")
    assert ("已进入完成时限仍报“未启动”、推进滞后的任务1项：T14“学生安全专项整治”（完成时限4月至10月）。请加快推进，按月如实报送进展。"
            in brigade)
    assert not any("T03" in line or "T24" in line for line in brigade)  # on track: not in a 催报
    assert not (notices / "催报通知_交通质量和安全监督站.docx").exists()


def test_no_form_by_the_16th_is_unreported_and_a_form_on_the_18th_is_judged_on_what_it_says(workdir):
    """The seed's list: 现代物流中心's June tasks. Nothing by the 16th: every active task is 未报送, filed with
    材料报送不及时 in the 通报, never 进度滞后. A form on the 18th saying 推进中: on track, and the form is 迟报."""
    from helpers import ingest
    from task_story import filled

    from pipeline.core import config
    from pipeline.tasks.task_list import read_task_list

    june = ["T24", "T09", "T21", "T22", "T23", "T26"]  # 现代物流中心's tasks whose window covers June (from 二)

    def logistics(as_of):
        result = run("tasks", "status", "--month", "2023-06", "--as-of", as_of, "--json")
        assert result.exit_code == 0, result.output
        data = json.loads(result.stdout)
        return ([(t["id"], t["state"]) for t in data["tasks"] if t["unit"] == LOGISTICS],
                next(f for f in data["forms"] if f["unit"] == LOGISTICS))

    tasks, form = logistics("2023-06-17T09:00")
    assert tasks == [(t, "unreported") for t in june] and form["state"] == "unreported"
    assert run("notices", "--month", "2023-06", "--as-of", "2023-06-17T09:00").exit_code == 0
    text = text_of(workdir / "outbox" / "2023-06" / "notices" / "通报_2023年6月报送情况.docx")
    filed = text.index("二、月度工作情况材料报送情况")
    progress = text.index("三、重点任务推进情况")
    assert "未报送推进情况表的单位：" in "".join(text[filed:progress])
    assert LOGISTICS in next(line for line in text[filed:progress] if line.startswith("未报送推进情况表的单位："))
    assert not any(line.startswith(LOGISTICS + "：") for line in text[progress:])  # not 进度滞后
    reminder = text_of(workdir / "outbox" / "2023-06" / "notices" / f"催报通知_{LOGISTICS}.docx")
    assert any(line.startswith("你单位2023年6月重点任务推进情况表至今未报送，应报告进展的任务6项：T24") for line in reminder)

    cfg = config.load(workdir / "config.toml")
    values = {f"{col}{row}": value for row in range(4, 10) for col, value in (("E", f"第{row}行本月进展"), ("F", "推进中"))}
    filled(workdir / "inbox" / LOGISTICS / "重点任务推进情况表_6月.xlsx", cfg, read_task_list(cfg), LOGISTICS,
            Month(2023, 6), values)
    (r,) = ingest(workdir, now="2023-06-18T10:00", arrived="2023-06-18T09:30").files
    assert r.outcome == "accepted"
    receipt = next((workdir / "inbox" / LOGISTICS / "回执").glob("*.txt")).read_text(encoding="utf-8-sig")
    assert "报送时间：晚于截止时间（截止 6月16日）" in receipt
    tasks, form = logistics("2023-06-19T09:00")
    assert tasks == [(t, "on_track") for t in june]
    assert (form["state"], form["days_late"], form["received_at"]) == ("late", 2, "2023-06-18T09:30:00+08:00")
    status = {u["unit"]: u for u in json.loads(run("status", "--month", "2023-06", "--as-of", "2023-06-19T09:00",
                                                      "--json").stdout)["units"]}
    assert status[LOGISTICS]["tasks"]["on_track"] == june and status[LOGISTICS]["tasks"]["form"]["state"] == "late"
    assert "2023-06" in status[LOGISTICS]["strike_months"]  # a late form is 迟报: a strike like late materials
