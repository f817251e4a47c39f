"""The documents the clerk would otherwise type: 催报通知 to each overdue unit, the monthly 通报, the
escalation 报告 to the main leaders — as .docx official documents and .eml drafts — and an index."""
from __future__ import annotations

import csv
import hashlib
import io
import os
import shutil
import smtplib
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path

from . import form
from .config import Config
from .ledger import Ledger
from .months import Month
from .officialdoc import OfficialDocument, chinese_date
from .safe_names import csv_cell, display_name, safe_filename
from .timeliness import LATE, ON_TIME, OVERDUE, STATE_LABELS, MonthStatus, UnitStatus, status

SEED_REF = "《岳阳市云溪区交通运输领域“打好安全生产翻身仗”工作方案》（岳云交发〔2023〕15号）"
XLSX_TYPE = ("application", "vnd.openxmlformats-officedocument.spreadsheetml.sheet")
DOCX_TYPE = ("application", "vnd.openxmlformats-officedocument.wordprocessingml.document")


@dataclass
class Document:
    """One notice, rendered both as a .docx and as the text of an e-mail."""

    title: str
    addressee: str
    paragraphs: list[str]
    signer: str
    note: str = ""
    table: tuple[list[str], list[list[str]], list[float]] | None = None

    def docx(self, issuer: str, moment: datetime) -> bytes:
        doc = OfficialDocument(issuer, self.title, moment)
        doc.addressee(self.addressee)
        for text in self.paragraphs:
            doc.paragraph(text)
        if self.table:
            doc.table(*self.table)
        doc.signature(self.signer)
        if self.note:
            doc.note(self.note)
        return doc.to_bytes()

    def text(self, moment: datetime) -> str:
        lines = [self.title, "", f"{self.addressee}：", ""]
        lines += [f"    {p}" for p in self.paragraphs]
        if self.table:
            headers, rows, _widths = self.table
            lines += ["", " | ".join(headers)] + [" | ".join(r) for r in rows]
        lines += ["", self.signer, chinese_date(moment)]
        if self.note:
            lines += ["", f"（{self.note}）"]
        return "\n".join(lines) + "\n"


@dataclass
class Notice:
    kind: str  # reminder | bulletin | escalation
    file: str
    unit: str = ""
    recipients: list[str] = field(default_factory=list)
    subject: str = ""


def _moment_text(moment: datetime) -> str:
    return f"{chinese_date(moment)}{moment.hour}时{moment.minute:02d}分"


def _contact(cfg: Config) -> str:
    c = cfg.contact
    return f"联系人：{c.department} {c.person}，联系电话：{c.phone}，邮箱：{c.email}"


def _form_title(cfg: Config) -> str:
    return f"《{form.title(cfg.bureau.short_name)}》"


def reminder(cfg: Config, st: MonthStatus, u: UnitStatus) -> Document:
    m, tz = st.month, cfg.bureau.tz
    as_of = st.as_of.astimezone(tz)
    paras = [
        f"根据{SEED_REF}要求，各单位应于每月{cfg.deadline.day}日前将{_form_title(cfg)}（附件2，填报1月至当月累计数）"
        f"报送{cfg.contact.department}。",
        f"截至{_moment_text(as_of)}，你单位{m.year}年{m.month}月报表（{m.year}年1月至{m.month}月累计数）尚未报送，"
        f"报送截止时间为{chinese_date(st.deadline.last_moment)}，已逾期{u.current.days_overdue}天。",
    ]
    for attempt in u.attempts:
        when = attempt.received_at.astimezone(tz)
        name = display_name(attempt.original_name)
        paras.append(f"你单位于{_moment_text(when)}报送的文件“{name}”未通过校验，已被退回（原因见回执），"
                     "退回的文件不计为已报送，请按回执修改后重新报送。")
    paras.append("请于收到本通知后尽快按附件2格式填报并报送；报送时间以系统收到文件的时间为准。")
    if u.strikes >= cfg.escalation.strikes:
        paras.append(f"本年度你单位已有{u.strikes}个月迟报或未报，按规定将上报局主要领导。")
    return Document(f"关于催报{m.year}年{m.month}月安全生产督查情况统计表的通知", u.name, paras,
                    cfg.bureau.name, _contact(cfg))


def bulletin(cfg: Config, st: MonthStatus) -> Document:
    m = st.month
    as_of = st.as_of.astimezone(cfg.bureau.tz)
    on_time = [u for u in st.units if u.current.state == ON_TIME]
    late = [u for u in st.units if u.current.state == LATE]
    overdue = [u for u in st.units if u.current.state == OVERDUE]
    paras = [
        f"根据{SEED_REF}要求，各单位应于每月{cfg.deadline.day}日前报送{_form_title(cfg)}。"
        f"截至{_moment_text(as_of)}，{m.year}年{m.month}月应报{len(st.units)}家，已报{st.reported}家，"
        f"其中按时报送{len(on_time)}家，迟报{len(late)}家，逾期未报{len(overdue)}家。现将有关情况通报如下：",
        "一、按时报送的单位：" + ("、".join(u.name for u in on_time) or "无") + "。",
        "二、迟报的单位：" + ("、".join(f"{u.name}（迟报{u.current.days_late}天）" for u in late) or "无") + "。",
        "三、逾期未报的单位：" + ("、".join(f"{u.name}（已逾期{u.current.days_overdue}天）" for u in overdue) or "无") + "。",
    ]
    if late or overdue:
        paras.append("对以上迟报、逾期未报的单位予以通报批评。请相关单位高度重视，严格落实报送要求，"
                     "逾期未报的单位请立即补报。")
    else:
        paras.append("各单位均按时报送，望继续保持。")
    return Document(f"关于{m.year}年{m.month}月安全生产督查情况统计表报送情况的通报", "局属各单位、局机关相关股室",
                    paras, cfg.bureau.name, _contact(cfg))


def _history_text(u: UnitStatus) -> str:
    parts = []
    for h in u.year_history:
        label = STATE_LABELS[h.state]
        if h.state == LATE:
            label += f"{h.days_late}天"
        elif h.state == OVERDUE:
            label += f"（{h.days_overdue}天）"
        parts.append(f"{h.month.month}月{label}")
    return "；".join(parts)


def escalation(cfg: Config, st: MonthStatus, units: list[UnitStatus]) -> Document:
    m = st.month
    as_of = st.as_of.astimezone(cfg.bureau.tz)
    paras = [
        f"{SEED_REF}规定，对材料报送不及时的单位和股室予以通报批评，情节严重的，上报局主要领导。"
        f"按照本局确定的标准（本年度迟报或逾期未报累计{cfg.escalation.strikes}个月及以上，或单月逾期超过"
        f"{cfg.escalation.overdue_days}天），截至{_moment_text(as_of)}，下列{len(units)}个单位达到上报标准，"
        f"其{m.year}年报送情况如下：",
    ]
    rows = [[u.name, str(u.strikes), _history_text(u)] for u in units]
    return Document(f"关于{m.year}年安全生产督查情况统计表迟报、未报情况的报告", "局主要领导", paras,
                    cfg.contact.department or cfg.bureau.name, _contact(cfg),
                    (["单位", "迟报/逾期月数", "各月情况"], rows, [42, 24, 90]))


def _email(cfg: Config, doc: Document, moment: datetime, recipients: list[str],
           attachments: list[tuple[str, bytes, tuple[str, str]]]) -> bytes:
    msg = EmailMessage()
    sender = (cfg.smtp.sender if cfg.smtp and cfg.smtp.sender else cfg.contact.email) or "annex2@localhost"
    msg["From"] = sender
    msg["To"] = ", ".join(recipients)
    msg["Subject"] = doc.title
    msg["Date"] = format_datetime(moment)
    digest = hashlib.sha256((doc.title + msg["To"] + moment.isoformat()).encode()).hexdigest()[:20]
    domain = sender.split("@")[-1] if "@" in sender else "localhost"
    msg["Message-ID"] = f"<annex2.{digest}@{domain}>"
    msg.set_content(doc.text(moment))
    for name, data, (maintype, subtype) in attachments:
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    if attachments:
        msg.set_boundary(f"annex2-{digest}")  # a random boundary would make every run's bytes differ
    return msg.as_bytes()


def _template_for(cfg: Config, unit: str, month: Month, folder: Path) -> tuple[str, bytes]:
    from .template import Header, default_filename, write_template

    name = default_filename(unit, month)
    path = write_template(folder / name, cfg.bureau.short_name, Header(unit, month.year, month.month))
    data = path.read_bytes()
    path.unlink()
    return name, data


def write_notices(cfg: Config, ledger: Ledger, month: Month, as_of: datetime,
                  st: MonthStatus | None = None) -> tuple[Path, list[Notice]]:
    """Write the month's notices into outbox/YYYY-MM/notices/, replacing an earlier run's set whole."""
    st = st or status(cfg, ledger, month, as_of)
    target = cfg.outbox / str(month) / "notices"
    staging = target.with_name(".notices-new")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    moment = as_of.astimezone(cfg.bureau.tz)
    issuer = cfg.bureau.name
    notices: list[Notice] = []

    def put(name: str, data: bytes) -> str:
        (staging / name).write_bytes(data)
        return name

    for u in st.units:
        if u.current.state != OVERDUE:
            continue
        doc = reminder(cfg, st, u)
        docx_name = put(safe_filename(f"催报通知_{u.name}.docx"), doc.docx(issuer, moment))
        notices.append(Notice("reminder", docx_name, u.name, [], doc.title))
        if u.unit.emails:
            template_name, template = _template_for(cfg, u.name, month, staging)
            eml = _email(cfg, doc, moment, list(u.unit.emails),
                         [(template_name, template, XLSX_TYPE), (docx_name, (staging / docx_name).read_bytes(), DOCX_TYPE)])
            notices.append(Notice("reminder_email", put(safe_filename(f"催报通知_{u.name}.eml"), eml), u.name,
                                  list(u.unit.emails), doc.title))
    doc = bulletin(cfg, st)
    name = put(f"通报_{month.year}年{month.month}月报送情况.docx", doc.docx(issuer, moment))
    notices.append(Notice("bulletin", name, "", [], doc.title))
    addresses = [e for u in st.units for e in u.unit.emails]
    if addresses:
        eml = _email(cfg, doc, moment, addresses, [(name, (staging / name).read_bytes(), DOCX_TYPE)])
        notices.append(Notice("bulletin_email", put(f"通报_{month.year}年{month.month}月报送情况.eml", eml), "",
                              addresses, doc.title))
    escalated = [u for u in st.units if u.escalate]
    if escalated:
        doc = escalation(cfg, st, escalated)
        name = put(f"报告_{month.year}年迟报逾期情况_截至{month.month}月.docx", doc.docx(issuer, moment))
        notices.append(Notice("escalation", name, "、".join(u.name for u in escalated), [], doc.title))
    index = io.StringIO()
    writer = csv.writer(index, lineterminator="\r\n")
    writer.writerow(["类别", "文件", "单位", "收件人", "标题"])
    kinds = {"reminder": "催报通知", "reminder_email": "催报通知（邮件草稿）", "bulletin": "通报",
             "bulletin_email": "通报（邮件草稿）", "escalation": "报告局主要领导"}
    for n in notices:
        writer.writerow([csv_cell(text) for text in (kinds[n.kind], n.file, n.unit, ";".join(n.recipients), n.subject)])
    put("index.csv", index.getvalue().encode("utf-8-sig"))
    _replace_folder(staging, target)
    return target, notices


def _replace_folder(staging: Path, target: Path) -> None:
    """Swap the new set in whole: a reader sees the old set or the new one, never a mixture."""
    old = target.with_name(".notices-old")
    shutil.rmtree(old, ignore_errors=True)
    if target.exists():
        os.replace(target, old)
    os.replace(staging, target)
    shutil.rmtree(old, ignore_errors=True)


class SendError(Exception):
    "Sending the drafts failed"


def send_notices(cfg: Config, ledger: Ledger, folder: Path, notices: list[Notice], now: datetime) -> list[Notice]:
    """Send each e-mail draft through [smtp]; every sending is recorded in the ledger's event log."""
    from email import message_from_bytes
    from email import policy

    if cfg.smtp is None:
        raise SendError("config.toml 中没有 [smtp] 配置，不会发送任何邮件")
    s = cfg.smtp
    sent = []
    client_cls = smtplib.SMTP_SSL if s.ssl else smtplib.SMTP
    try:
        with client_cls(s.host, s.port, timeout=30) as client:
            if s.starttls and not s.ssl:
                client.starttls()
            if s.username:
                client.login(s.username, os.environ.get(s.password_env, ""))
            for n in notices:
                if not n.file.endswith(".eml") or not n.recipients:
                    continue
                msg = message_from_bytes((folder / n.file).read_bytes(), policy=policy.default)
                client.send_message(msg)
                ledger.log("notice_sent", now, None, {"file": n.file, "to": n.recipients, "subject": n.subject})
                sent.append(n)
    except (OSError, smtplib.SMTPException) as exc:
        raise SendError(f"发送邮件失败（{s.host}:{s.port}）：{exc}；已发送 {len(sent)} 封") from None
    return sent
