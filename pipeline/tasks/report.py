"""What the notices say about the key tasks (spec 11, 12), as text: the 通报's section on their progress,
the progress forms sent late or not at all (filed with 材料报送不及时), and a unit's 催报 lines."""
from __future__ import annotations

from .state import (
    FORM_LATE,
    FORM_ON_TIME,
    FORM_PENDING,
    FORM_UNREPORTED,
    LAGGING,
    OVERDUE,
    PENDING,
    PHASE_DONE,
    UNREPORTED,
    TaskBoard,
    TaskCell,
)
from .window import window_label


def _ids(cells: list[TaskCell]) -> str:
    return "、".join(f"{c.task.id}“{c.task.name}”" for c in cells)


def _date(d) -> str:
    return f"{d.month}月{d.day}日"


def bulletin_paragraphs(board: TaskBoard) -> list[str]:
    """The 通报's section on the key tasks' *progress*: who lags or is overdue, on which tasks, and which windows
    were met with 阶段性完成 this month. A unit that sent no form is not named here (form_paragraphs: it goes
    with 材料报送不及时)."""
    m = board.month
    lines = [f"重点任务推进情况（附件1责任措施清单，{m.month}月推进情况表截止{_date(board.due.last_day)}）："]
    named = False
    for unit in board.units:
        lagging = board.in_state(unit, LAGGING)
        overdue = board.in_state(unit, OVERDUE)
        if not lagging and not overdue:
            continue
        named = True
        parts = []
        if lagging:
            parts.append(f"推进滞后{len(lagging)}项（{_ids(lagging)}）")
        if overdue:
            parts.append(f"超过完成时限未完成{len(overdue)}项（{_ids(overdue)}）")
        lines.append(f"{unit}：" + "，".join(parts) + "。")
    met = [(u, [c for c in board.in_state(u, PHASE_DONE) if c.task.window.last == m]) for u in board.units]
    met = [(u, cells) for u, cells in met if cells]
    if met:
        lines.append("在完成时限内取得阶段性成效的：" + "；".join(f"{u}（{_ids(cells)}）" for u, cells in met)
                     + "，此后作为长期坚持的工作继续推进。")
    unreported = [u for u in board.units if board.in_state(u, UNREPORTED)]
    waiting = [u for u in board.units if board.in_state(u, PENDING)]
    if named:
        lines.append("请推进滞后的单位对照责任措施清单加快推进，按月如实报送推进情况。")
    elif waiting and not unreported:  # before the deadline: nothing to judge yet for these units, not "all on track"
        lines.append(f"目前无滞后、逾期任务；{'、'.join(waiting)}的{m.month}月推进情况表尚未报送，请于截止时间前报送。")
    elif unreported or waiting:
        lines.append("已报送推进情况表的单位，重点任务均按计划推进，无滞后、逾期任务。")
    else:
        lines.append("各单位重点任务均按计划推进，无滞后、逾期任务。")
    if unreported:
        lines.append(f"{'、'.join(unreported)}未报送{m.month}月推进情况表，属材料报送不及时（见上文报送情况），"
                     "其任务进度无从判断，不计为进度滞后。")
    return lines


def form_paragraphs(board: TaskBoard) -> list[str]:
    """The progress forms' timeliness, for the 通报's part on 材料报送不及时 (spec 12: unreported forms are filed
    with late materials, never with 进度滞后): how many were due, and who sent theirs late or not at all."""
    forms = list(board.forms.values())
    if not forms:
        return []
    on_time = [f for f in forms if f.state == FORM_ON_TIME]
    late = [f for f in forms if f.state == FORM_LATE]
    unreported = [f for f in forms if f.state == FORM_UNREPORTED]
    pending = [f for f in forms if f.state == FORM_PENDING]
    m = board.month
    lines = [f"{m.label}重点任务推进情况表（与月度工作材料同时报送）的报送截止时间为{board.due.last_day.year}年"
             f"{_date(board.due.last_day)}24时。应报{len(forms)}家，按时报送{len(on_time)}家，迟报{len(late)}家，"
             f"未报送{len(unreported)}家" + (f"，未到期{len(pending)}家。" if pending else "。")]
    lines.append("未报送推进情况表的单位：" + ("、".join(
        f"{f.unit}（应报任务{len(board.in_state(f.unit, UNREPORTED))}项）" for f in unreported) or "无") + "。")
    lines.append("迟报推进情况表的单位：" + ("、".join(
        f"{f.unit}（{_date(f.received_at)}报送，迟报{f.days_late}天）" for f in late if f.received_at) or "无") + "。")
    return lines


def reminder_lines(board: TaskBoard, unit: str) -> list[str]:
    """For a unit's 催报: only what it must act on — its unreported, lagging and overdue tasks (never the ones on
    track), each with its window and, when it ends within `ending_days`, the day it ends."""
    def items(cells: list[TaskCell]) -> str:
        return "；".join(f"{c.task.id}“{c.task.name}”（完成时限{window_label(c.task.window)}"
                        + (f"，{_date(c.task.window.end)}到期" if board.ending_soon(c.task) else "") + "）"
                        for c in cells)

    m = board.month
    lines = []
    unreported = board.in_state(unit, UNREPORTED)
    if unreported:
        lines.append(f"你单位{m.label}重点任务推进情况表至今未报送，应报告进展的任务{len(unreported)}项：{items(unreported)}。"
                     "请尽快填报推进情况表并报送（本通知附有该表）。")
    lagging = board.in_state(unit, LAGGING)
    if lagging:
        lines.append(f"已进入完成时限仍报“未启动”、推进滞后的任务{len(lagging)}项：{items(lagging)}。请加快推进，按月如实报送进展。")
    overdue = board.in_state(unit, OVERDUE)
    if overdue:
        lines.append(f"已超过完成时限、未报“已完成”或“阶段性完成”的任务{len(overdue)}项：{items(overdue)}。请尽快完成并报送。")
    return lines
