"""The receipt (回执) for a material file: which version was received for which month, what is still
missing, or why it was refused and what to send instead (spec 10)."""
from __future__ import annotations

from ..core.config import Config
from ..core.deadlines import LATE, ON_TIME, OVERDUE
from ..core.issues import CATALOGUE
from ..core.months import Month
from ..storage.ledger import Ledger
from ..storage.supersession import standings
from .classify import KIND_LABELS, MONTH_RULES
from .state import KINDS, expected_units, material_files, materials_deadline, state_of
from .store import judged_file

TYPE_LABELS = {"pdf": "PDF", "docx": "Word 文档 .docx", "doc": "Word 97-2003 文档 .doc", "wps": "WPS 文字 .wps",
               "odt": "OpenDocument 文本 .odt", "rtf": "RTF 文档", "ofd": "OFD 版式文件", "jpg": "JPG 图片",
               "png": "PNG 图片", "tiff": "TIFF 图片", "bmp": "BMP 图片", "gif": "GIF 图片", "webp": "WebP 图片"}


def _due_text(cfg: Config, month: Month) -> str:
    due = materials_deadline(cfg, month)
    return f"{due.last_day.year}年{due.last_day.month}月{due.last_day.day}日"


def set_sentence(cfg: Config, state) -> str:
    """“已收到电子版，尚缺盖章版（扫描件）” and the like, for one (unit, month) state."""
    got = [KIND_LABELS[k] for k in KINDS if k in state.received_kinds]
    missing = [KIND_LABELS[k] for k in KINDS if k not in state.received_kinds]
    if not missing:
        text = "盖章版和电子版均已收到，材料齐全"
        if state.state == ON_TIME:
            return text + "（按时）"
        if state.state == LATE:
            return text + f"（迟报 {state.days_late} 天）"
        return text
    head = f"已收到{'、'.join(got)}，" if got else "尚未收到本月材料，"
    text = head + f"尚缺{'、'.join(missing)}"
    if state.state == OVERDUE:
        return text + f"（已超过报送期限 {_due_text(cfg, state.month)}）"
    return text + f"，请于 {_due_text(cfg, state.month)} 前报送"


def material_receipt_text(cfg: Config, ledger: Ledger, arrival_id: int) -> str:
    a = ledger.arrival(arrival_id)
    tz = cfg.bureau.tz
    row = judged_file(ledger, arrival_id)
    judged, clerk, detected, pages, month_rule = row if row else (None, None, "unknown", None, None)
    kind = clerk or judged
    month = Month(a.year, a.month_to) if a.year and a.month_to else None
    lines = [
        "回执 —— 月度工作情况材料（盖章版含电子版）",
        "",
        f"文件：{a.original_name}",
        f"收到时间：{a.received_at.astimezone(tz):%Y-%m-%d %H:%M:%S}（{cfg.bureau.timezone}）",
        f"报送单位：{a.unit or '未能确定'}",
        f"材料月份：{month.label if month else '—'}" + (f"（{MONTH_RULES[month_rule]}）" if month and month_rule else ""),
        f"文件类型：{KIND_LABELS[kind] if kind else '—'}" + (
            f" —— {TYPE_LABELS[detected]}" + (f"，{pages} 页" if pages else "") if detected in TYPE_LABELS else ""),
    ]
    issues = ledger.issues_of(arrival_id)
    errors = [i for i in issues if i["severity"] == "error"]
    warnings = [i for i in issues if i["severity"] != "error"]
    if a.outcome == "material":
        lines.append("结果：已收到")
        owes = a.unit and month and any(u.name == a.unit for u in expected_units(cfg, month))
        if a.unit and month and not owes:
            lines += ["", f"{a.unit}不需要报送{month.label}的月度工作情况材料（见配置），本文件已存档。"]
        elif a.unit and month:
            files = material_files(ledger, a.received_at, month, a.unit)
            state = state_of(cfg, a.unit, month, files, a.received_at)
            lines += ["", f"{month.label}材料：{set_sentence(cfg, state)}。"]
            replaced = standings(ledger.db, unit=a.unit).get(a.id)
            if replaced is not None and replaced.replaces_id is not None:
                earlier = ledger.arrival(replaced.replaces_id)
                lines.append(f"本文件替换此前收到的{KIND_LABELS.get(kind or '', '材料')}（{earlier.original_name}），原文件仍存档；"
                             "是否按时以首次收齐的时间为准。")
            if state.state in (ON_TIME, LATE) and state.received_at:
                lines.append(f"收齐时间：{state.received_at:%Y-%m-%d %H:%M:%S}。")
    else:
        lines.append("结果：退回 —— 本文件不计入已报材料，请按下列说明重新报送")
    for title, group in (("需要改正的问题", errors), ("请核对的提示", warnings)):
        if group:
            lines += ["", f"{title}："]
            lines += [f"  {n}. [{i['code']}] {CATALOGUE[i['code']][1]} —— {i['message']}" for n, i in enumerate(group, 1)]
    lines += ["", f"说明：每月 {cfg.materials.day} 日前报送当月工作情况材料，盖章版（盖章后扫描成 PDF 或图片）和电子版"
                  "（Word 文档）都要报送；文件名请写明单位和月份，例如“执法大队2023年5月工作情况（盖章）.pdf”。"]
    c = cfg.contact
    lines += ["", f"联系人：{c.department} {c.person}  电话：{c.phone}  邮箱：{c.email}", ""]
    return "\r\n".join(lines)
