"""`annex2 fetch` (spec 14): the units' e-mails, read from the bureau's mailbox, go through the same intake as
an e-mail the clerk saved into the inbox — received time = the server's INTERNALDATE, unit = the sender's
address — and each unit's message can be answered with its receipts.

Exactly once, in this order, each step committed before the next begins:
1. download: a message not yet recorded (UIDVALIDITY + UID) is written to the archive as an .eml and made
   durable, then recorded (`mail_messages`, unique key) — a kill before the record re-downloads the same bytes
   into the same file; a kill after it never downloads again;
2. `[mail] after` (flag \\Seen or move) only for recorded messages;
3. judge: each recorded message of a known sender goes to the intake (ingest.py), whose own key makes a rerun
   finish the arrival instead of recording it twice; a message of an unknown sender waits, 待认领;
4. reply: a row in `mail_replies` is committed before the SMTP server is given the reply, so a kill while
   sending can lose a reply but never send it twice."""
from __future__ import annotations

import hashlib
import imaplib
import logging
from datetime import datetime
from pathlib import Path
from typing import Callable

from ..core.config import Config
from ..core.safe_names import safe_filename
from ..storage.durable import write_atomic
from ..storage.ledger import Ledger
from . import fetch_store as store
from .fetch_store import Steps
from .imap import Folder, MailboxError, connect, logout, password_for
from .ingest import Candidate, Ingester
from .report import FetchResult, FileResult
from .unclaimed import unclaimed_entry

log = logging.getLogger("annex2")
RULE = "imap_internaldate"
SPOOL_DIR = "邮箱原件"
HEADER_BYTES = 64 * 1024  # of a message over the size cap, only this much is read (to know its sender)


def no_steps(step: str) -> None:
    """Production: nothing. Tests pass a function that fails at a named step."""


def mailbox_key(cfg: Config) -> str:
    assert cfg.mail is not None
    return f"{cfg.mail.user}@{cfg.mail.host}/{cfg.mail.folder}"


def _headline(cfg: Config, data: bytes) -> tuple[str, str, str, bool]:
    from ..reading.mail import headline
    from ..reading.sandbox import SandboxFailure, run_untrusted

    try:
        return run_untrusted(headline, data, limits=cfg.limits)
    except SandboxFailure as failure:
        log.warning("邮件头无法解析：%s", failure.reason_zh)
        return "", "", "", False


def _spool_path(cfg: Config, row_key: str, received_at: datetime, subject: str, uidvalidity: int, uid: int) -> Path:
    local = received_at.astimezone(cfg.bureau.tz)
    subject = subject.replace("#", "＃")  # '#' separates an e-mail's name from its attachment's in results
    name = safe_filename(f"{local:%Y%m%d-%H%M%S}_{subject or '无主题'}_{uidvalidity}-{uid}.eml", max_bytes=200)
    return cfg.archive / SPOOL_DIR / hashlib.sha256(row_key.encode()).hexdigest()[:10] / name


def _relative(cfg: Config, path: Path) -> str:
    """As the ledger keeps paths: relative to the working folder (an archive elsewhere: absolute)."""
    try:
        return path.relative_to(cfg.root).as_posix()
    except ValueError:
        return str(path)


def download(cfg: Config, ledger: Ledger, folder: Folder, now: datetime, result: FetchResult,
             steps: Steps = no_steps) -> None:
    """Every message of the folder since `[mail] since` not yet recorded: kept and recorded (steps 1–2)."""
    mail = cfg.mail
    assert mail is not None
    key = mailbox_key(cfg)
    cap = int(cfg.limits.max_email_mb * 1024 * 1024)
    known = store.known_uids(ledger, key, folder.uidvalidity)
    new = [u for u in folder.uids_since(mail.since_day) if u not in known]
    for info in folder.info(new):
        if info.size > cap:  # never downloaded whole: only enough to know who sent it
            sender, message_id, subject, auto = _headline(cfg, folder.raw(info.uid, HEADER_BYTES))
            if store.record_message(ledger, now, mailbox=key, uidvalidity=folder.uidvalidity, uid=info.uid,
                                    message_id=message_id, sha256=None, size=info.size, received_at=info.internaldate,
                                    sender=sender, subject=subject, spool_path=None, state=store.TOO_BIG,
                                    reply_due=mail.reply and cfg.unit_by_email(sender) is not None, auto=auto):
                log.warning("邮件过大未下载：%s（%.1f MB，上限 %g MB）", sender, info.size / 1048576,
                            cfg.limits.max_email_mb)
            continue
        data = folder.raw(info.uid)
        sha = hashlib.sha256(data).hexdigest()
        sender, message_id, subject, auto = _headline(cfg, data)
        earlier = store.same_message(ledger, sha, message_id)
        spool = None
        if earlier is None:
            path = _spool_path(cfg, key, info.internaldate, subject, folder.uidvalidity, info.uid)
            write_atomic(path, data, durable=True)  # the original is safe before the record says so
            spool = _relative(cfg, path)
            steps("spooled")
        if store.record_message(ledger, now, mailbox=key, uidvalidity=folder.uidvalidity, uid=info.uid,
                                message_id=message_id, sha256=sha, size=len(data), received_at=info.internaldate,
                                sender=sender, subject=subject, spool_path=spool,
                                state=store.SAME_AS if earlier else store.FETCHED,
                                same_as=earlier.id if earlier else None, auto=auto):
            if earlier:
                result.same += 1
            else:
                result.downloaded += 1
        steps("recorded")


def after(cfg: Config, ledger: Ledger, folder: Folder, steps: Steps = no_steps) -> None:
    """Flag or move what has been recorded (`[mail] after`); a message over the cap stays for the clerk."""
    mail = cfg.mail
    assert mail is not None
    if mail.after == "leave":
        return
    present = set(folder.uids_since(mail.since_day))
    for row in store.after_pending(ledger, mailbox_key(cfg), folder.uidvalidity):
        if row.uid in present:
            if mail.move_to:
                folder.move(row.uid, mail.move_to)
            else:
                folder.mark_seen(row.uid)
        store.set_after_done(ledger, row.id)
        steps("after")


def judge(cfg: Config, ledger: Ledger, ingester: Ingester, now: datetime, result: FetchResult) -> None:
    """Recorded messages through the intake: a known sender's now, an unknown sender's when the clerk has
    added the address to a unit (with its original INTERNALDATE)."""
    mail = cfg.mail
    tz = cfg.bureau.tz
    waiting: list[int] = []
    candidates: list[Candidate] = []
    rows_by_path: dict[Path, store.MailRow] = {}
    for row in store.pending(ledger):
        if not row.sender or cfg.unit_by_email(row.sender) is None:
            waiting.append(row.id)
            continue
        assert row.spool_path is not None
        path = cfg.root / row.spool_path
        rows_by_path[path] = row
        candidates.append(Candidate(path, "imap", None, row.received_at.astimezone(tz), RULE))
    store.set_unclaimed(ledger, waiting)
    if candidates:
        result.batch = ingester.run(candidates)
        done = []
        for r in result.batch.files:
            got = rows_by_path.get(r.path)
            if got is not None and "#" not in r.name and r.arrival_id is not None:
                done.append((got.id, r.arrival_id))
        store.set_ingested(ledger, now, done, reply=bool(mail and mail.reply))
    result.unclaimed = store.unclaimed(ledger)


def fetch(cfg: Config, ledger: Ledger, clock: Callable[[], datetime], *, ingester: Ingester | None = None,
          environ=None, send: Callable | None = None, steps: Steps = no_steps) -> FetchResult:
    """One round: download, flag/move, judge, reply. The caller holds the folder's batch lock. A mailbox that
    cannot be read is `result.error`; what was downloaded before is judged and answered all the same."""
    import os

    from .fetch_reply import send_replies

    mail = cfg.mail
    assert mail is not None
    result = FetchResult()
    ingester = ingester or Ingester(cfg, ledger, clock)
    first = store.max_id(ledger)
    try:
        imap = connect(mail, password_for(mail, os.environ if environ is None else environ))
        try:
            folder = Folder(imap, mail.folder, readonly=mail.after == "leave")
            download(cfg, ledger, folder, clock(), result, steps)
            after(cfg, ledger, folder, steps)
        finally:
            logout(imap)
    except MailboxError as exc:
        result.error = str(exc)
    except imaplib.IMAP4.error as exc:  # a command the server refused (BAD) or a dropped connection (abort)
        result.error = f"邮件服务器 {mail.host}:{mail.port} 返回错误（{exc}）：已收下的邮件照常处理，下次再继续。"
    except (OSError, EOFError) as exc:  # the connection dropped half-way: what was recorded stands
        result.error = f"与邮件服务器 {mail.host}:{mail.port} 的连接中断（{exc}）：已收下的邮件照常处理，下次再继续。"
    result.too_big = [r for r in store.rows(ledger, store.TOO_BIG) if r.id > first]  # this round's
    judge(cfg, ledger, ingester, clock(), result)
    steps("judged")
    if mail.reply:
        send_replies(cfg, ledger, clock, result, send=send, steps=steps)
    return result


def too_big_line(cfg: Config, row: store.MailRow) -> str:
    local = row.received_at.astimezone(cfg.bureau.tz)
    return (f"退回  {row.sender or '发件人不明'}  {local:%Y-%m-%d %H:%M} 的邮件“{row.subject}”过大"
            f"（{row.size / 1048576:.1f} MB，上限 {cfg.limits.max_email_mb:g} MB），未下载，仍留在邮箱中（E_UNREADABLE）")


def fetch_summary(cfg: Config, result: FetchResult) -> dict:
    """fetch --json: ingest's summary plus {"downloaded", "same", "too_big", "unclaimed", "replies_sent",
    "error"}."""
    out = result.batch.to_dict()
    out["ok"] = result.ok
    out.update({"downloaded": result.downloaded, "same": result.same,
                "too_big": [unclaimed_entry(cfg, r) | {"size": r.size} for r in result.too_big],
                "unclaimed": [unclaimed_entry(cfg, r) for r in result.unclaimed],
                "replies_sent": result.replies_sent, "reply_errors": result.reply_errors, "error": result.error})
    return out


def watch_round(cfg: Config, clock: Callable[[], datetime], out: Callable[[str], None], log_line: Callable[[str], None],
                report: Callable[[FileResult], None]) -> bool:
    """One fetch from `annex2 watch` (every `[mail] poll_seconds`), under the folder's batch lock. Whatever the
    mailbox or a bug does, it ends as a Chinese line in the log and a retry at the next poll — never as a
    stopped watcher. True when something was recorded (the workbooks are rebuilt then)."""
    from ..storage.lock import LockBusy
    from ..storage.session import session

    assert cfg.mail is not None
    stamp = lambda: f"{clock().astimezone(cfg.bureau.tz):%Y-%m-%d %H:%M:%S}"  # noqa: E731
    try:
        with session(cfg, "watch", program_log=False) as ledger:  # the watcher keeps its own log
            result = fetch(cfg, ledger, clock)
    except LockBusy as exc:
        log_line(f"{stamp()}  邮箱：文件夹正被其他进程处理（{exc}），{cfg.mail.poll_seconds:g} 秒后再收取")
        return False
    except Exception as exc:  # the watcher carries on with the folder whatever happens here
        log.exception("收取邮件出错")
        line = f"{stamp()}  邮箱：收取邮件出错（{type(exc).__name__}），已记录，{cfg.mail.poll_seconds:g} 秒后重试"
        out(line)
        log_line(line)
        return False
    if result.error:
        line = f"{stamp()}  邮箱：{result.error}（{cfg.mail.poll_seconds:g} 秒后重试）"
        out(line)
        log_line(line)
    for r in result.batch.files:
        report(r)
    for row in result.too_big:
        line = f"{stamp()}  {too_big_line(cfg, row)}"
        out(line)
        log_line(line)
    for text in result.reply_errors:
        line = f"{stamp()}  邮箱：{text}"
        out(line)
        log_line(line)
    return bool(result.batch.files)
