"""`annex2 fetch` against a real IMAP server (a throw-away Dovecot started here) and a real SMTP server
(aiosmtpd): units' e-mails recorded once with the server's INTERNALDATE as received time, 待认领 for unknown
senders, replies at most once, and clear Chinese errors for an unreachable or refusing mailbox."""
from __future__ import annotations

import email
import json
import re
import sqlite3
from datetime import datetime
from email import policy
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner

from pipeline.cli import cli

from factory import make_email, make_submission
from imap_server import DOVECOT, PASSWORD, SKIP_REASON, USER, ImapServer, free_port
from test_status import edit_config

pytestmark = pytest.mark.skipif(DOVECOT is None, reason=SKIP_REASON)
SH = ZoneInfo("Asia/Shanghai")
UNITS = ["局安全监督股", "局基本建设股", "局计划统计股", "行政审批股", "交通质量和安全监督站", "区道路运输服务中心",
         "交通运输综合行政执法大队", "现代物流中心", "区公路建设养护中心"]


def address(n: int) -> str:
    return f"unit{n}@yx.gov.cn"


def sh(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=SH)


@pytest.fixture
def imap(tmp_path):
    server = ImapServer(tmp_path / "dovecot", free_port(), tls=False).start()
    yield server
    server.stop()


def mail_config(port: int, **extra) -> str:
    lines = ['[mail]', 'host = "127.0.0.1"', f"port = {port}", 'tls = "none"', f'user = "{USER}"',
             'password_env = "TEST_MAIL_PASSWORD"', 'since = "2023-01-01"']
    lines += [f"{k} = {json.dumps(v)}" for k, v in extra.items()]
    return "\n" + "\n".join(lines) + "\n"


@pytest.fixture
def mailwork(workdir, imap, monkeypatch):
    """A working folder whose nine units each have an address unitN@yx.gov.cn, reading the test's mailbox."""
    path = workdir / "config.toml"
    text = path.read_text(encoding="utf-8")
    n = iter(range(9))
    text = re.sub(r"emails = \[\]", lambda m: f'emails = ["{address(next(n))}"]', text)
    text = re.sub(r'(?m)^start = "[0-9-]+"', 'start = "2023-01"', text)
    path.write_text(text + mail_config(imap.port), encoding="utf-8")
    monkeypatch.setenv("TEST_MAIL_PASSWORD", PASSWORD)
    return workdir


def run(*args):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def db_rows(work, sql, *args):
    with sqlite3.connect(work / "annex2.sqlite") as db:
        return db.execute(sql, args).fetchall()


def workbook(tmp_path, unit, name="附件2.xlsx", **kw) -> bytes:
    return make_submission(tmp_path / f"{unit}_{name}", unit=unit, **kw).read_bytes()


# --- one message, first ------------------------------------------------------------------------------

def test_a_units_message_is_recorded_once_with_the_servers_arrival_time(mailwork, imap, tmp_path):
    # The sender's client wrote a Date and a Received stamp of 20 May; the server received it on 24 May
    # 10:15 (Shanghai): the 24th is what counts, so the report is one day late (deadline 23 May).
    raw = make_email(f"执法大队 <{address(6)}>", [("附件2.xlsx", workbook(tmp_path, UNITS[6]))],
                     received="Sat, 20 May 2023 09:00:00 +0800", date="Sat, 20 May 2023 08:59:00 +0800")
    imap.append(raw, sh("2023-05-24T10:15:00"))

    first = run("fetch")
    assert first.exit_code == 0, first.output
    assert "受理  交通运输综合行政执法大队" in first.output
    rows = db_rows(mailwork, "SELECT kind, unit, outcome, received_utc, received_rule FROM arrivals ORDER BY id")
    assert rows == [("email", "交通运输综合行政执法大队", "email", "2023-05-24T02:15:00.000000Z", "imap_internaldate"),
                    ("workbook", "交通运输综合行政执法大队", "accepted", "2023-05-24T02:15:00.000000Z", "imap_internaldate")]
    second = run("fetch")
    assert second.exit_code == 0, second.output
    assert db_rows(mailwork, "SELECT COUNT(*) FROM arrivals") == [(2,)]
    assert db_rows(mailwork, "SELECT uid, state FROM mail_messages") == [(1, "ingested")]
    status = json.loads(run("status", "--month", "2023-05", "--as-of", "2023-06-05", "--json").output)
    mine = next(u for u in status["units"] if u["unit"] == "交通运输综合行政执法大队")
    assert (mine["state"], mine["received_at"][:19], mine["days_late"]) == ("late", "2023-05-24T10:15:00", 1)
    # the raw message is kept in the archive, byte for byte
    (spool,) = db_rows(mailwork, "SELECT spool_path FROM mail_messages")
    assert (mailwork / spool[0]).read_bytes().replace(b"\r\n", b"\n") == raw.replace(b"\r\n", b"\n")
    # after = "seen" (the default): the message is flagged \Seen on the server
    assert b"\\Seen" in imap.flags_and_folders()["INBOX"][0]
