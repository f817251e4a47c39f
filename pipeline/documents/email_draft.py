"""E-mails we write, never parse: the drafts of the 催报 and 通报 and the receipts sent by reply. Composing uses the
standard library's `email.message`; parsing a unit's mail is reading/mail.py's job. This module is the one place
outside reading/ that the import-linter contract lets import `email`, and it only builds messages."""
from __future__ import annotations

from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime

__all__ = ["EmailMessage", "domain_of", "new_message"]


def new_message(sender: str, to: str, subject: str, moment: datetime) -> EmailMessage:
    """A message with its first four headers, in the order every draft has had them (From, To, Subject, Date):
    callers add theirs after, so a draft written again is the same bytes."""
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = format_datetime(moment)
    return msg


def domain_of(address: str) -> str:
    """The domain a Message-ID is made under: the sender's, else localhost."""
    return address.split("@")[-1] if "@" in address else "localhost"
