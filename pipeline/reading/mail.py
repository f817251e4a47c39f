"""Saved e-mails (.eml): who sent them, when they reached the bureau, and what they carry."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import getaddresses, parsedate_to_datetime
from pathlib import PurePath

from ..core.files import WORKBOOK_SUFFIXES

EARLIEST = datetime(2000, 1, 1, tzinfo=timezone.utc)


class MailProblem(Exception):
    "The e-mail cannot be read, or exceeds the limits"


@dataclass(frozen=True)
class Attachment:
    index: int
    filename: str
    data: bytes

    @property
    def is_workbook(self) -> bool:
        return PurePath(self.filename).suffix.lower() in WORKBOOK_SUFFIXES


@dataclass
class Mail:
    sender: str  # the outer message's From address, lower case
    subject: str
    received_at: datetime | None  # None: no usable time in the headers
    rule: str | None  # email_received | email_date
    attachments: list[Attachment] = field(default_factory=list)

    @property
    def workbooks(self) -> list[Attachment]:
        return [a for a in self.attachments if a.is_workbook]

    @property
    def materials(self) -> list[Attachment]:
        return [a for a in self.attachments if not a.is_workbook]


def _moment(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        moment = parsedate_to_datetime(text.strip())
    except (TypeError, ValueError, IndexError):
        return None
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment


def received_time(msg: EmailMessage, now: datetime) -> tuple[datetime | None, str | None]:
    """The bureau's own server stamps the topmost Received: header; the sender can set Date: to anything,
    so Date: is only a fallback, and a time before 2000 or more than a day ahead is no time at all."""
    def plausible(moment: datetime | None) -> bool:
        return moment is not None and EARLIEST <= moment <= now + timedelta(days=1)

    received = msg.get_all("Received") or []
    if received:
        stamp = _moment(str(received[0]).rpartition(";")[2])
        if plausible(stamp):
            return stamp, "email_received"
    date = _moment(str(msg["Date"])) if msg["Date"] else None
    if plausible(date):
        return date, "email_date"
    return None, None


def _attachments(msg: EmailMessage, limit: int) -> list[Attachment]:
    """Every attached file, also inside forwarded messages (message/rfc822), in order."""
    out: list[Attachment] = []
    for part in msg.walk():
        if part.is_multipart() or part.get_content_type() == "message/rfc822":
            continue
        filename = part.get_filename()
        if not filename and part.get_content_disposition() != "attachment":
            continue
        if len(out) >= limit:
            raise MailProblem(f"邮件附件超过 {limit} 个")
        payload = part.get_payload(decode=True)
        data = payload if isinstance(payload, bytes) else b""
        out.append(Attachment(len(out) + 1, filename or f"附件{len(out) + 1}", data))
    return out


def parse(data: bytes, now: datetime, max_mb: float, max_attachments: int) -> Mail:
    if len(data) > max_mb * 1024 * 1024:
        raise MailProblem(f"邮件大小 {len(data) / 1024 / 1024:.1f} MB，超过上限 {max_mb:g} MB")
    try:
        msg = BytesParser(policy=policy.default).parsebytes(data)
        senders = getaddresses([str(msg["From"] or "")])
        sender = senders[0][1].strip().lower() if senders else ""
        subject = str(msg["Subject"] or "")
        received_at, rule = received_time(msg, now)
        return Mail(sender, subject, received_at, rule, _attachments(msg, max_attachments))
    except MailProblem:
        raise
    except Exception as exc:  # the e-mail package raises many types on malformed input
        raise MailProblem(f"邮件无法解析（{type(exc).__name__}）") from None


def headline(data: bytes) -> tuple[str, str, str, bool]:
    """(sender address, Message-ID, subject, automatic?) of untrusted bytes; run in the sandbox (header parsing
    can cost memory quadratic in a header's length). Empty strings for what cannot be read. Automatic: an
    auto-reply, bounce or list mail (RFC 3834 Auto-Submitted, Precedence, X-Autoreply...) — answering it could
    start a loop of replies."""
    try:
        msg = BytesParser(policy=policy.default).parsebytes(data, headersonly=True)
        senders = getaddresses([str(msg["From"] or "")])
        sender = senders[0][1].strip().lower() if senders else ""
        subject = str(msg["Subject"] or "")
        auto = (str(msg["Auto-Submitted"] or "no").strip().lower() != "no"
                or str(msg["Precedence"] or "").strip().lower() in ("bulk", "junk", "list", "auto_reply")
                or any(msg[h] is not None for h in ("X-Autoreply", "X-Autorespond", "List-Id"))
                or sender.startswith(("mailer-daemon@", "postmaster@"))
                or subject.startswith(("回执：", "自动回复", "Auto:", "Automatic reply")))
        return sender[:320], str(msg["Message-ID"] or "").strip()[:998], subject[:200], auto
    except Exception:
        return "", "", "", False


def draft_message(data: bytes) -> EmailMessage:
    """One of OUR OWN .eml drafts (notices/), as a message smtplib can send: the parser is the e-mail package's,
    so it lives here with the others, though these bytes are the bureau's, not a unit's."""
    return BytesParser(policy=policy.default).parsebytes(data)
