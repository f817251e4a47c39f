"""What the monthly loop needs about materials, as data: the status table's column, the 催报 lines naming the
missing version, the 通报's section, and the master workbook's 材料 sheet rows (spec 12). The writers of
those outputs call these; nothing here writes a file."""
from __future__ import annotations

from datetime import datetime

from ..core.config import Config
from ..core.deadlines import LATE, ON_TIME, OVERDUE, PENDING
from ..core.months import Month
from ..documents.notice import Document, basis, contact_line
from ..storage.ledger import Ledger
from .classify import KIND_LABELS, KIND_SHORT, MONTH_RULES
from .receipt import TYPE_LABELS
from .state import MaterialState, material_files, material_states, materials_deadline, rejected_materials

States = list[MaterialState]  # the month's states, in config order (state.material_states)


def _date(cfg: Config, month: Month) -> str:
    d = materials_deadline(cfg, month).last_day
    return f"{d.year}年{d.month}月{d.day}日"


def reminder_lines(cfg: Config, ledger: Ledger, month: Month, as_of: datetime,
                   states: States | None = None) -> dict[str, list[str]]:
    """Unit -> the paragraphs of its materials 催报: only units whose materials are overdue (the deadline has
    passed with the set incomplete), naming the missing version. `states`: the month's, when the caller has
    them (else read from the ledger)."""
    out: dict[str, list[str]] = {}
    for s in states if states is not None else material_states(cfg, ledger, month, as_of):
        if s.state != OVERDUE:
            continue
        missing = "、".join(KIND_LABELS[k] for k in s.missing)
        got = "、".join(KIND_LABELS[k] for k in s.received_kinds)
        first = (f"你单位{month.label}月度工作情况材料应于{_date(cfg, month)}前报送（盖章版含电子版），"
                 + (f"目前已收到{got}，尚缺{missing}，" if got else "至今尚未报送，")
                 + f"已逾期 {s.days_overdue} 天。")
        out[s.unit] = [first, f"请于收到本通知后尽快报送{missing}（盖章版请盖章后扫描成 PDF 或图片，电子版请报送 Word 文档），"
                              "放入本单位收件文件夹或发送至局安全监督股邮箱。"]
    return out


def material_reminders(cfg: Config, ledger: Ledger, month: Month, as_of: datetime,
                       states: States | None = None) -> list[tuple[str, Document]]:
    """(unit, the 催报通知 for its materials) for each unit whose materials are overdue: a notice Document
    (kind "materials_reminder", so its 发文字号 is its own) that write_notices renders like its other notices."""
    tz = cfg.bureau.tz
    if states is None:
        states = material_states(cfg, ledger, month, as_of)
    attempts = {s.unit: s.attempts for s in states}
    out = []
    for unit, lines in reminder_lines(cfg, ledger, month, as_of, states).items():
        opening = [f"根据{basis(cfg)}要求，各单位应于每月{cfg.materials.day}日前将相应月度工作情况材料（盖章版含电子版）"
                   f"报送{cfg.contact.department}。", *lines]
        for r in attempts[unit]:
            when = r["received_at"].astimezone(tz)
            opening.append(f"你单位于{when.month}月{when.day}日{when:%H:%M}报送的文件“{r['name']}”未能受理（原因见回执），"
                           "不计为已报送。")
        out.append((unit, Document("materials_reminder", ["关于催报", month.label, "月度工作情况材料", "的通知"], unit,
                                   opening, cfg.bureau.name, letterhead=True, note=contact_line(cfg))))
    return out


def criticised(states: States) -> str:
    """What the 通报 criticises the materials for: 月度工作材料迟报或未报齐, either word only when a unit is named for
    it ('' : none late, none incomplete)."""
    words = [w for w, state in (("迟报", LATE), ("未报齐", OVERDUE)) if any(s.state == state for s in states)]
    return ("月度工作材料" + "或".join(words)) if words else ""


def bulletin_paragraphs(cfg: Config, ledger: Ledger, month: Month, as_of: datetime,
                        states: States | None = None) -> list[str]:
    """The 通报's paragraphs on materials (the section's heading is the monthly loop's): a summary, then the
    units on time, late and incomplete, by name."""
    if states is None:
        states = material_states(cfg, ledger, month, as_of)
    if not states:
        return []
    late = [s for s in states if s.state == LATE]
    overdue = [s for s in states if s.state == OVERDUE]
    on_time = [s for s in states if s.state == ON_TIME]
    pending = [s for s in states if s.state == PENDING]
    paras = [f"{month.label}月度工作情况材料（盖章版含电子版）的报送截止时间为{_date(cfg, month)}24时。"
             f"应报{len(states)}家，按时报齐{len(on_time)}家，迟报{len(late)}家，逾期未报齐{len(overdue)}家"
             + (f"，未到期{len(pending)}家。" if pending else "。"),
             "（一）按时报齐的单位：" + ("、".join(s.unit for s in on_time) or "无") + "。",
             "（二）迟报的单位：" + ("、".join(
                 f"{s.unit}（{s.received_at.month}月{s.received_at.day}日报齐，迟报{s.days_late}天）"
                 for s in late if s.received_at is not None) or "无")
             + "。",
             "（三）逾期未报齐的单位：" + ("、".join(
                 f"{s.unit}（{'未报送' if not s.files else '缺' + '、'.join(KIND_SHORT[k] for k in s.missing)}）"
                 for s in overdue) or "无") + "。"]
    return paras


SHEET_COLUMNS = ("编号", "单位", "材料月份", "文件名", "类型", "文件格式", "页数", "收到时间", "时间依据", "月份依据",
                 "状态", "问题")
RULE_LABELS = {"watcher_event": "监视程序发现", "inbox_ctime": "放入收件箱的时间", "inbox_scan": "发现文件的那次检查的时间",
               "clerk": "经办人指定", "email_received": "邮件服务器收到", "email_date": "邮件日期",
               "email_arrival": "邮件放入收件箱", "imap_internaldate": "本局邮箱服务器收到", "demo_script": "演示脚本设定"}


def workbook_rows(cfg: Config, ledger: Ledger, as_of: datetime | None = None) -> list[dict]:
    """Every material file, accepted or refused, for the master workbook's 材料 sheet (keys: SHEET_COLUMNS),
    in order of arrival."""
    tz = cfg.bureau.tz
    rows = []
    for f in material_files(ledger, as_of):
        rows.append({"编号": f.id, "单位": f.unit, "材料月份": Month(f.year, f.month).label if f.year and f.month else "",
                     "文件名": f.name, "类型": KIND_SHORT[f.kind] + ("（经办人改定）" if f.kind != f.judged_kind else ""),
                     "文件格式": TYPE_LABELS.get(f.detected_type, f.detected_type), "页数": f.pages,
                     "收到时间": f.received_at.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S"),
                     "时间依据": RULE_LABELS.get(f.received_rule, f.received_rule),
                     "月份依据": MONTH_RULES.get(f.month_rule, f.month_rule),
                     "状态": "现行" if f.current else "已被替换", "问题": ""})
    for r in rejected_materials(ledger, as_of):
        rows.append({"编号": r["id"], "单位": r["unit"], "材料月份": Month(r["year"], r["month"]).label
                     if r["year"] and r["month"] else "", "文件名": r["name"], "类型": "", "文件格式": "", "页数": None,
                     "收到时间": r["received_at"].astimezone(tz).strftime("%Y-%m-%d %H:%M:%S"), "时间依据": "",
                     "月份依据": "", "状态": "退回", "问题": "、".join(r["codes"])})
    return sorted(rows, key=lambda r: (r["收到时间"], r["编号"]))


