"""The documents the clerk would otherwise type: 催报通知 to each overdue unit, the monthly 通报, the
escalation 报告 to the main leaders — as .docx official documents and .eml drafts — and an index."""
from __future__ import annotations

import csv
import hashlib
import io
import os
import shutil
import smtplib
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Callable

from ..core import form
from ..core.config import Config
from ..core.deadlines import LATE, ON_TIME, OVERDUE, PENDING, chinese_date
from ..core.months import Month
from ..core.safe_names import csv_cell, display_name, safe_filename, xml_text
from ..documents.docnumbers import bulletin_number
from ..documents.email_draft import domain_of, new_message
from ..documents.notice import DOCX_TYPE, XLSX_TYPE, Document, Section, basis, contact_line
from ..documents.obligation import Obligation
from ..documents.officialdoc import Table
from ..documents.smtp import smtp_connection
from ..statistics.timeliness import STATE_LABELS, days_behind
from ..storage.ledger import Ledger
from .status import MonthStatus, UnitStatus, status


@dataclass
class Notice:
    kind: str
    file: str
    unit: str = ""
    recipients: list[str] = field(default_factory=list)
    subject: str = ""
    number: str = ""


def _moment_text(moment: datetime) -> str:
    return f"{chinese_date(moment)}{moment.hour}时{moment.minute:02d}分"


def _deadline_text(st: MonthStatus) -> str:
    """The (shifted) deadline as printed: 2023年6月25日24时（6月23日逢法定节假日，顺延至下一个工作日）."""
    d = st.deadline
    moved = f"（{d.shifted_from.month}月{d.shifted_from.day}日逢法定节假日或周末，顺延至下一个工作日）" if d.shifted_from else ""
    return f"{chinese_date(d.last_moment)}24时{moved}"


def _form_title(cfg: Config) -> str:
    return f"《{form.title(cfg.bureau.short_name)}》"


def _form_phrases(month: Month) -> list[str]:
    return [f"{month.year}年{month.month}月", "安全生产", "督查情况统计表"]


def reminder(cfg: Config, st: MonthStatus, u: UnitStatus, sections: list[Section] | None = None) -> Document:
    """The unit's 催报通知: about its overdue Annex 2 form when it is overdue, and `sections` from the other
    obligations (their reminder_section: the tasks to report, windows ending soon)."""
    m, tz = st.month, cfg.bureau.tz
    as_of = st.as_of.astimezone(tz)
    if u.current.state != OVERDUE:
        return _other_reminder(cfg, st, u, sections or [])
    opening = [
        f"根据{basis(cfg)}要求，各单位应于每月{cfg.deadline.day}日前将{_form_title(cfg)}（附件2，填报1月至当月累计数）"
        f"报送{cfg.contact.department}。",
        f"你单位{m.year}年{m.month}月报表（{m.year}年1月至{m.month}月累计数）的报送截止时间为{_deadline_text(st)}。"
        f"统计截至{_moment_text(as_of)}，你单位尚未报送，已逾期{u.current.days_overdue}天。",
    ]
    for attempt in u.attempts:
        when = attempt.received_at.astimezone(tz)
        opening.append(f"你单位于{_moment_text(when)}报送的文件“{display_name(attempt.original_name)}”未通过校验，已被退回（原因见回执），"
                       "退回的文件不计为已报送，请按回执修改后重新报送。")
    opening.append("请于收到本通知后尽快按附件2格式填报并报送；报送时间以系统收到文件的时间为准。")
    if u.escalate:
        opening.append(f"{criteria(cfg)}你单位{escalation_reasons(cfg, u)}，已达到这一标准，将上报局主要领导。")
    return Document("reminder", ["关于催报", *_form_phrases(m), "的通知"], u.name, opening, cfg.bureau.name,
                    letterhead=True, sections=list(sections or []), note=contact_line(cfg))


def _other_reminder(cfg: Config, st: MonthStatus, u: UnitStatus, sections: list[Section]) -> Document:
    """A 催报 for a unit whose Annex 2 form is not overdue but another obligation is behind (spec 12: each
    obligation reminds after its own deadline)."""
    m = st.month
    as_of = st.as_of.astimezone(cfg.bureau.tz)
    titles = [ob.reminder_title() for ob in st.obligations if ob.needs_reminder(u.name) and ob.reminder_title()]
    phrases: list[str] = []  # each title is a list of phrases (the title breaks only between them)
    for i, t in enumerate(titles):
        phrases += [*t[:-1], t[-1] + ("、" if i < len(titles) - 1 else "")]
    opening = [f"根据{basis(cfg)}要求，现将你单位{m.year}年{m.month}月尚需报送和抓紧推进的事项通知如下"
               f"（统计截至{_moment_text(as_of)}）："]
    closing = ["请于收到本通知后尽快落实并报送；报送时间以系统收到文件的时间为准。"]
    return Document("reminder", ["关于催报", f"{m.year}年{m.month}月", *(phrases or ["报送事项"]), "的通知"],
                    u.name, opening, cfg.bureau.name, letterhead=True, sections=sections, closing=closing,
                    note=contact_line(cfg))


def criteria(cfg: Config, st: MonthStatus | None = None) -> str:
    """The escalation thresholds, stated as what they are: the bureau's own working rule (the seed sets none).
    With `st`, also which other obligations count (for the memo)."""
    rules = "、".join(ob.strike_rule for ob in st.obligations if ob.strike_rule) if st is not None else ""
    counted = f"（{rules}的月份同样计入，同一月份只计一次）" if rules else ""
    e = cfg.escalation
    return (f"按照本局确定的标准：本年度迟报或逾期未报累计{e.strikes}个月及以上{counted}，"
            f"或单月统计表迟报、逾期超过{e.overdue_days}天的，上报局主要领导。")


def escalation_reasons(cfg: Config, u: UnitStatus) -> str:
    """Why a unit met the thresholds: its strikes, and the months whose Annex 2 was more days behind."""
    if u.strikes >= cfg.escalation.strikes:
        return f"本年度已有{u.strikes}个月迟报或未报"
    return "，".join(f"{h.month.month}月统计表{'迟报' if h.state == LATE else '已逾期'}{days_behind(h)}天"
                    for h in u.year_history if days_behind(h) > cfg.escalation.overdue_days)


def annex2_section(st: MonthStatus) -> Section:
    """The 通报's section on the Annex 2 statistics: who was on time, late, overdue."""
    m = st.month
    on_time = [u for u in st.units if u.current.state == ON_TIME]
    late = [u for u in st.units if u.current.state == LATE]
    overdue = [u for u in st.units if u.current.state == OVERDUE]
    criticised = "统计表" + "或".join(w for w, units in (("迟报", late), ("逾期未报", overdue)) if units)
    return Section("安全生产督查情况统计表报送情况", criticise=bool(late or overdue), criticised=criticised, paragraphs=[
        f"{m.year}年{m.month}月报表的报送截止时间为{_deadline_text(st)}。应报{len(st.units)}家，已报{st.reported}家，"
        f"其中按时报送{len(on_time)}家，迟报{len(late)}家，逾期未报{len(overdue)}家。",
        "（一）按时报送的单位：" + ("、".join(u.name for u in on_time) or "无") + "。",
        "（二）迟报的单位：" + ("、".join(f"{u.name}（迟报{u.current.days_late}天）" for u in late) or "无") + "。",
        "（三）逾期未报的单位：" + ("、".join(f"{u.name}（已逾期{u.current.days_overdue}天）" for u in overdue) or "无") + "。",
    ])


def reporting_section(obligations: list[Obligation]) -> Section | None:
    """The 通报's part on 材料报送不及时 (spec 12): what each obligation files there (materials late or incomplete,
    progress forms late or not sent), under the heading of the first that files anything; None when none does.
    It criticises for what they name."""
    filed = [(ob.reporting_title, *ob.reporting_paragraphs()) for ob in obligations]
    paragraphs = [p for _title, paras, _what in filed for p in paras]
    if not paragraphs:
        return None
    heading = next(title for title, paras, _what in filed if paras)
    what = "、".join(w for _title, _paras, w in filed if w)
    return Section(heading, paragraphs, criticise=bool(what), criticised=what)


# What each section of the 通报 reports (for its title) and what it criticises (for its closing), by the
# section's heading; a section of another obligation not listed here speaks for itself through its heading.
SUBJECTS = {"安全生产督查情况统计表报送情况": "安全生产督查情况统计表", "月度工作情况材料报送情况": "月度工作情况材料",
            "重点任务推进情况": "重点任务推进", "重点任务推进情况表报送情况": "重点任务推进情况表"}
CRITICISED = {"月度工作情况材料报送情况": "月度工作材料迟报或未报齐", "重点任务推进情况": "重点任务推进滞后或逾期",
              "重点任务推进情况表报送情况": "重点任务推进情况表迟报或未报送"}


def bulletin_title(month: Month, sections: list[Section]) -> list[str]:
    """The 通报's title covers what it reports: 关于2023年5月安全生产督查情况统计表、月度工作情况材料报送和
    重点任务推进情况的通报 (the tasks are 推进, the others 报送), as phrases the title may break between."""
    subjects = [SUBJECTS.get(s.title, s.title.removesuffix("情况")) for s in sections]
    reported = [x for x in subjects if x != "重点任务推进"]
    phrases = [f"{x}{'、' if i < len(reported) - 2 else '和' if i == len(reported) - 2 else ''}"
               for i, x in enumerate(reported)]
    if len(phrases) < len(subjects) and len(reported) > 1:  # 统计表、材料报送和重点任务推进: one 和, before the last
        phrases[-2] = phrases[-2].removesuffix("和") + "、"
    phrases = [part for p in phrases for part in (["安全生产", p.removeprefix("安全生产")] if p.startswith("安全生产") else [p])]
    if len(reported) == len(subjects):
        return ["关于", f"{month.year}年{month.month}月", *phrases, "报送情况的通报"]
    return ["关于", f"{month.year}年{month.month}月", *phrases, "报送和重点任务", "推进情况的通报"]


def bulletin(cfg: Config, st: MonthStatus, extra: list[Section] | None = None) -> Document:
    """The monthly 通报: the Annex 2 section, then any `extra` sections (materials, key tasks) in order. It
    criticises (通报批评) only when a section names units, and says for what."""
    m = st.month
    as_of = st.as_of.astimezone(cfg.bureau.tz)
    sections = [annex2_section(st), *(extra or [])]
    sections += [sec for ob in st.obligations if (sec := ob.bulletin_section()) is not None]
    subjects = "、".join(SUBJECTS.get(s.title, s.title.removesuffix("情况")) for s in sections)
    due: dict[int, list[str]] = {}  # day -> what is due by it: each obligation's file, then the form
    for day, what in (duty for ob in st.obligations if (duty := ob.bulletin_duty()) is not None):
        due.setdefault(day, []).append(what)
    due.setdefault(cfg.deadline.day, []).append(_form_title(cfg))
    duties = [f"每月{day}日前报送{'和'.join(what)}" for day, what in due.items()]
    opening = [f"根据{basis(cfg)}要求，各单位应于{'，'.join(duties)}。"
               f"现将{m.year}年{m.month}月{subjects}情况通报如下（统计截至{_moment_text(as_of)}）："]
    criticised = [s.criticised or CRITICISED.get(s.title, s.title) for s in sections if s.criticise]
    if criticised:
        closing = [f"对以上{'、'.join(criticised)}的单位予以通报批评。请相关单位高度重视，严格落实报送要求，"
                   "尚未报送的请立即补报。"]
    elif any(u.current.state == PENDING for u in st.units):
        closing = ["尚未报送的单位，请于报送截止时间前报送。"]
    else:
        closing = ["各单位均按时报送，望继续保持。"]
    return Document("bulletin", bulletin_title(m, sections), "局属各单位、局机关相关股室",
                    opening, cfg.bureau.name, letterhead=True, sections=sections, closing=closing,
                    note=contact_line(cfg))


def _history_text(u: UnitStatus) -> str:
    """Each month of the year: the Annex 2 state, and the other obligations that made it a strike."""
    parts = []
    for h in u.year_history:
        label = STATE_LABELS[h.state]
        if h.state == LATE:
            label += f"{h.days_late}天"
        elif h.state == OVERDUE:
            label += f"（{h.days_overdue}天）"
        reasons = u.other_strikes.get(h.month)  # the other obligations that made the month a strike
        parts.append(f"{h.month.month}月{label}" + (f"，{'，'.join(reasons)}" if reasons else ""))
    return "；".join(parts)


def escalation(cfg: Config, st: MonthStatus, units: list[UnitStatus]) -> Document:
    """The section's report to the bureau's main leaders: a 签报 from the safety section (局安全监督股), not a
    bureau document — no 版头, no 发文字号 — closing with 特此报告."""
    m = st.month
    as_of = st.as_of.astimezone(cfg.bureau.tz)
    section = cfg.contact.department or "局安全监督股"
    opening = [
        f"{basis(cfg)}明确，对材料报送不及时的单位和股室予以通报批评，情节严重的，上报局主要领导；"
        "文件未规定“情节严重”的具体标准。" + criteria(cfg, st),
        f"统计截至{_moment_text(as_of)}，下列{len(units)}个单位达到上述标准，其{m.year}年报送情况如下：",
    ]
    rows = [[u.name, str(u.strikes), _history_text(u)] for u in units]
    closing = ["以上情况，请局主要领导阅示。", "特此报告。"]
    title = ["关于", f"{m.year}年", "部分单位", "迟报、未报", *[p for ob in st.obligations for p in ob.escalation_title],
             "情况的报告"]
    return Document("escalation", title,
                    "局主要领导", opening, section, letterhead=False, closing=closing, note=contact_line(cfg),
                    table=Table(["单位", "迟报/逾期月数", "各月情况"], rows, [42, 32, 82]), memo_from=section)


def _email(cfg: Config, doc: Document, moment: datetime, recipients: list[str],
           attachments: list[tuple[str, bytes, tuple[str, str]]]) -> bytes:
    sender = (cfg.smtp.sender if cfg.smtp and cfg.smtp.sender else cfg.contact.email) or "annex2@localhost"
    msg = new_message(sender, ", ".join(recipients), xml_text(doc.title_text), moment)
    digest = hashlib.sha256((doc.title_text + msg["To"] + moment.isoformat()).encode()).hexdigest()[:20]
    msg["Message-ID"] = f"<annex2.{digest}@{domain_of(sender)}>"
    msg.set_content(xml_text(doc.text(moment)))
    for name, data, (maintype, subtype) in attachments:
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    if attachments:
        msg.set_boundary(f"annex2-{digest}")  # a random boundary would make every run's bytes differ
    return msg.as_bytes()


def _template_for(cfg: Config, unit: str, month: Month, folder: Path) -> tuple[str, bytes]:
    from ..statistics.template import Header, default_filename, write_template

    name = default_filename(unit, month)
    path = write_template(folder / name, cfg.bureau.short_name, Header(unit, month.year, month.month))
    data = path.read_bytes()
    path.unlink()
    return name, data


def write_notices(cfg: Config, ledger: Ledger, month: Month, as_of: datetime,
                  st: MonthStatus | None = None, sections: list[Section] | None = None, *,
                  number: int | None = None, warn: Callable[[str], None] | None = None) -> tuple[Path, list[Notice]]:
    """Write the month's notices into outbox/YYYY-MM/notices/, replacing an earlier run's set whole. Only the
    通报 carries a 发文字号 (docnumbers.bulletin_number: `number`, the clerk's --number, else the month's own,
    else [notices] next_number, else blank); `warn` hears what the clerk should know about it. `sections`
    are appended to the 通报 after its Annex 2 section (one per further obligation). A month outside the
    reporting period gets no documents. docnumbers.NumberTaken: `number` is another month's; nothing is written."""
    st = st or status(cfg, ledger, month, as_of)
    target = cfg.outbox / str(month) / "notices"
    if not st.in_period:  # nobody owes anything for it: no 通报 of 0/0, no number used up
        if warn is not None:
            warn(f"{st.summary}，未生成通知文书。")
        return target, []
    numbered = bulletin_number(ledger, cfg.notices, month, as_of.astimezone(cfg.bureau.tz), number)
    if numbered.note and warn is not None:
        warn(numbered.note)
    staging = _staging_folder(target)
    moment = as_of.astimezone(cfg.bureau.tz)
    issuer = cfg.bureau.name
    notices: list[Notice] = []

    def put(name: str, data: bytes) -> str:
        (staging / name).write_bytes(data)
        return name

    labels = {"reminder": "催报通知", "reminder_email": "催报通知（邮件草稿）", "bulletin": "通报",
              "bulletin_email": "通报（邮件草稿）", "escalation": "报告局主要领导"}  # the index's 类别
    for u in st.units:
        if u.current.state != OVERDUE and not any(ob.needs_reminder(u.name) for ob in st.obligations):
            continue
        extra = [sec for ob in st.obligations if (sec := ob.reminder_section(u.name)) is not None]
        doc = reminder(cfg, st, u, extra)
        docx_name = put(safe_filename(f"催报通知_{u.name}.docx"), doc.docx(issuer, moment))
        notices.append(Notice("reminder", docx_name, u.name, [], doc.title_text, doc.number))
        if u.unit.emails:
            attachments = [_template_for(cfg, u.name, month, staging) + (XLSX_TYPE,)] if u.current.state == OVERDUE else []
            attachments += [a for ob in st.obligations for a in ob.reminder_attachments(u.name, staging)]
            eml = _email(cfg, doc, moment, list(u.unit.emails),
                         [*attachments, (docx_name, (staging / docx_name).read_bytes(), DOCX_TYPE)])
            notices.append(Notice("reminder_email", put(safe_filename(f"催报通知_{u.name}.eml"), eml), u.name,
                                  list(u.unit.emails), doc.title_text, doc.number))
    emails = {u.name: list(u.unit.emails) for u in st.units}
    for own in (r for ob in st.obligations for r in ob.own_reminders()):  # chased after their own deadline
        doc = own.document
        docx_name = put(safe_filename(f"{own.stem}.docx"), doc.docx(issuer, moment))
        notices.append(Notice(doc.kind, docx_name, own.unit, [], doc.title_text, doc.number))
        labels[doc.kind] = own.label
        if emails.get(own.unit):  # the same draft as the Annex 2 催报's: to the unit, the .docx attached
            eml = _email(cfg, doc, moment, emails[own.unit], [(docx_name, (staging / docx_name).read_bytes(), DOCX_TYPE)])
            notices.append(Notice(f"{doc.kind}_email", put(safe_filename(f"{own.stem}.eml"), eml), own.unit,
                                  emails[own.unit], doc.title_text, doc.number))
            labels[f"{doc.kind}_email"] = own.label.removesuffix("）") + "，邮件草稿）"
    if sections is None:  # files late or missing, of every obligation, in one section (spec 12)
        sections = [sec for sec in (reporting_section(st.obligations),) if sec is not None]
    doc = bulletin(cfg, st, sections)
    doc.number = str(numbered.number)
    name = put(f"通报_{month.year}年{month.month}月报送情况.docx", doc.docx(issuer, moment))
    notices.append(Notice("bulletin", name, "", [], doc.title_text, doc.number))
    addresses = [e for u in st.units for e in u.unit.emails]
    if addresses:
        eml = _email(cfg, doc, moment, addresses, [(name, (staging / name).read_bytes(), DOCX_TYPE)])
        notices.append(Notice("bulletin_email", put(f"通报_{month.year}年{month.month}月报送情况.eml", eml), "",
                              addresses, doc.title_text, doc.number))
    escalated = [u for u in st.units if u.escalate]
    if escalated:
        doc = escalation(cfg, st, escalated)
        name = put(f"报告_{month.year}年迟报逾期情况_截至{month.month}月.docx", doc.docx(issuer, moment))
        notices.append(Notice("escalation", name, "、".join(u.name for u in escalated), [], doc.title_text,
                              doc.number))
    index = io.StringIO()
    writer = csv.writer(index, lineterminator="\r\n")
    writer.writerow(["类别", "发文字号", "文件", "单位", "收件人", "标题"])
    for n in notices:
        writer.writerow([csv_cell(text) for text in (labels[n.kind], n.number, n.file, n.unit, ";".join(n.recipients), n.subject)])
    put("index.csv", index.getvalue().encode("utf-8-sig"))
    _replace_folder(staging, target)
    return target, notices


def _staging_folder(target: Path) -> Path:
    """A folder of this run's own beside `target` (`.tmp-<pid>-notices-…`): two runs never write into one
    staging folder (a mixed set), and one is never emptied under another; those of runs that died are swept."""
    from ..storage.durable import UMASK, abandoned_temp

    target.parent.mkdir(parents=True, exist_ok=True)
    for left in target.parent.glob(".tmp-*-notices-*"):
        if abandoned_temp(left, time.time()):
            shutil.rmtree(left, ignore_errors=True)
    staging = Path(tempfile.mkdtemp(prefix=f".tmp-{os.getpid()}-notices-", dir=target.parent))
    os.chmod(staging, 0o777 & ~UMASK)  # it becomes notices/: readable as the umask says, not mkdtemp's 0700
    return staging


def _replace_folder(staging: Path, target: Path) -> None:
    """Swap the new set in whole: a reader sees the old set or the new one, never a mixture."""
    old = staging.with_name(staging.name + "-old")  # unique as the staging folder is (Windows renames onto no folder)
    try:
        if target.exists():
            os.replace(target, old)
        os.replace(staging, target)
    finally:
        shutil.rmtree(old, ignore_errors=True)


class SendError(Exception):
    "Sending the drafts failed"


def send_notices(cfg: Config, ledger: Ledger, folder: Path, notices: list[Notice], now: datetime) -> list[Notice]:
    """Send each e-mail draft through [smtp]; every sending is recorded in the ledger's event log."""
    from ..reading.mail import draft_message  # our own drafts; the e-mail parser lives in reading/

    if cfg.smtp is None:
        raise SendError("config.toml 中没有 [smtp] 配置，不会发送任何邮件")
    s = cfg.smtp
    sent = []
    try:
        with smtp_connection(s) as client:
            for n in notices:
                if not n.file.endswith(".eml") or not n.recipients:
                    continue
                msg = draft_message((folder / n.file).read_bytes())
                client.send_message(msg)
                ledger.log("notice_sent", now, None, {"file": n.file, "to": n.recipients, "subject": n.subject})
                sent.append(n)
    except (OSError, smtplib.SMTPException) as exc:
        raise SendError(f"发送邮件失败（{s.host}:{s.port}）：{exc}；已发送 {len(sent)} 封") from None
    return sent
