"""Receipts by reply (spec 14, `[mail] reply = true`): each message from a unit's address is answered once, via
`[smtp]`, with the receipts its attachments got and the marked-up copy of a rejected workbook. Nobody else
is ever answered (no backscatter to a forged or unknown sender)."""
from __future__ import annotations

import hashlib
import logging
import smtplib
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from ..core.config import Config
from ..documents.email_draft import EmailMessage, domain_of, new_message
from ..documents.smtp import smtp_connection
from ..storage.ledger import Ledger
from . import fetch_store as store

if TYPE_CHECKING:
    from .report import FetchResult

log = logging.getLogger("annex2")
XLSX = ("application", "vnd.openxmlformats-officedocument.spreadsheetml.sheet")


def _receipt(cfg: Config, path: str | None) -> str:
    if not path:
        return ""
    try:
        return (cfg.root / path).read_text(encoding="utf-8-sig").replace("\r\n", "\n").strip()
    except OSError:
        return ""


def reply_message(cfg: Config, ledger: Ledger, row: store.MailRow, now: datetime) -> EmailMessage:
    """The reply to one message: each receipt in full (the e-mail's own first, listing its attachments), and
    each marked-up copy attached."""
    sender = (cfg.smtp.sender if cfg.smtp and cfg.smtp.sender else "") or (cfg.mail.user if cfg.mail else "")
    sender = sender or cfg.contact.email or "annex2@localhost"
    subject = row.subject.replace("\r", " ").replace("\n", " ").strip()
    msg = new_message(sender, row.sender, f"回执：{subject}" if subject else "回执：您发来的邮件", now)
    msg["Auto-Submitted"] = "auto-replied"  # RFC 3834: an auto-responder does not answer it (no reply loops)
    domain = domain_of(sender)
    # one per message, the same on every run: a reply can be recognised (and was never sent twice)
    key = hashlib.sha256(f"{row.mailbox}|{row.uidvalidity}|{row.uid}".encode()).hexdigest()[:16]
    msg["Message-ID"] = f"<annex2-reply-{row.id}-{key}@{domain}>"
    if row.message_id.startswith("<") and row.message_id.endswith(">") and "\n" not in row.message_id:
        msg["In-Reply-To"] = row.message_id
        msg["References"] = row.message_id
    markups: list[Path] = []
    local = row.received_at.astimezone(cfg.bureau.tz)
    if row.state == store.TOO_BIG:
        body = [f"您于 {local:%Y-%m-%d %H:%M:%S} 发来的邮件“{subject}”大小 {row.size / 1048576:.1f} MB，"
                f"超过本系统的上限 {cfg.limits.max_email_mb:g} MB，未能接收。",
                "请压缩附件（或分几封邮件发送）后重新发送。"]
    else:
        assert row.arrival_id is not None
        top = ledger.arrival(row.arrival_id)
        body = [f"您于 {local:%Y-%m-%d %H:%M:%S} 发来的邮件已收到，处理结果如下（以本局邮箱服务器收到邮件的时间为准）。", ""]
        parts = [top, *ledger.children(top.id)]
        for a in parts:
            text = _receipt(cfg, a.receipt_path)
            if text:
                body += [text, "", "—" * 20, ""]
            if a.outcome == "rejected" and a.receipt_path:
                receipt = cfg.root / a.receipt_path
                markup = receipt.with_name(receipt.stem + "_错误标注.xlsx")
                if markup.is_file():
                    markups.append(markup)
        if markups:
            body.append("有误的单元格已在附件中的“错误标注”表格里标红并加了批注，请改正后重新发送。")
    body += ["", "（本邮件由系统自动发送。）"]
    msg.set_content("\n".join(body))
    for path in markups:
        msg.add_attachment(path.read_bytes(), maintype=XLSX[0], subtype=XLSX[1], filename=path.name)
    return msg


def send_replies(cfg: Config, ledger: Ledger, clock: Callable[[], datetime], result: "FetchResult",
                 send: Callable | None = None, steps: "store.Steps | None" = None) -> None:
    """Every reply owed and never started; each recorded as started before it is handed over (at most once)."""
    due = [r for r in store.replies_due(ledger) if r.sender and cfg.unit_by_email(r.sender) is not None]
    if not due:
        return
    s = cfg.smtp
    if s is None:
        result.reply_errors.append("[mail] reply = true 需要 [smtp]（发信服务器）配置，回执邮件未发送")
        return
    try:
        with smtp_connection(s) as client:
            for row in due:
                msg = reply_message(cfg, ledger, row, clock())
                if not store.start_reply(ledger, clock(), row.id, row.sender):
                    continue
                if steps:
                    steps("reply_started")
                try:
                    (send or client.send_message)(msg)
                except (smtplib.SMTPRecipientsRefused, smtplib.SMTPDataError) as exc:
                    store.end_reply(ledger, clock(), row.id, False, str(exc)[:500])
                    result.reply_errors.append(f"给 {row.sender} 的回执邮件被拒收（{exc}）")
                    continue
                except (OSError, smtplib.SMTPException) as exc:
                    # the server may or may not have taken it: never sent again (at most once), and said so
                    store.end_reply(ledger, clock(), row.id, False, f"发送中断：{exc}"[:500])
                    raise
                store.end_reply(ledger, clock(), row.id, True)
                result.replies_sent += 1
                if steps:
                    steps("reply_sent")
    except (OSError, smtplib.SMTPException) as exc:
        log.error("回执邮件发送失败：%s", exc)
        result.reply_errors.append(f"发信服务器 {s.host}:{s.port} 无法发送回执邮件（{exc}）；"
                                   f"已发送 {result.replies_sent} 封，其余下次再发")
