"""One connection to the clerk's [smtp] server, opened the same way for notices and for receipts by reply."""
from __future__ import annotations

import os
import smtplib
from collections.abc import Iterator
from contextlib import contextmanager

from ..core.config import Smtp


@contextmanager
def smtp_connection(s: Smtp) -> Iterator[smtplib.SMTP]:
    """Connected, encrypted as configured and logged in (the password from the environment, never the file).
    Raises OSError / smtplib.SMTPException for the caller to put in Chinese."""
    client_cls = smtplib.SMTP_SSL if s.ssl else smtplib.SMTP
    with client_cls(s.host, s.port, timeout=30) as client:
        if s.starttls and not s.ssl:
            client.starttls()
        if s.username:
            client.login(s.username, os.environ.get(s.password_env, ""))
        yield client
