"""Talking to the bureau's mailbox over IMAP (spec 14): connect (TLS, the certificate checked), log in with a
password from the environment or the system keyring, and read a folder by UID. Every failure the clerk can
act on is a MailboxError whose text is one Chinese sentence naming the host and what to check. Nothing here
parses a message: the bytes go to the intake, which parses them in the sandbox."""
from __future__ import annotations

import imaplib
import os
import re
import socket
import ssl
import time
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:
    from ..core.config import MailBox

KEYRING_SERVICE = "annex2"
TIMEOUT = 60  # seconds for any one network step: a server that stops answering is an error, not a hang
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


class MailboxError(Exception):
    "The mailbox cannot be reached, refuses the login, or answers something unusable (a Chinese sentence)"


@dataclass(frozen=True)
class MessageInfo:
    uid: int
    size: int  # RFC822.SIZE: known before anything is downloaded
    internaldate: datetime  # when the server received it (never a header the sender wrote)


def encode_mailbox(name: str) -> str:
    """IMAP's modified UTF-7 (RFC 3501 5.1.3): 已收报表 -> &XvJkNmKlaGg-."""
    out: list[str] = []
    pending: list[str] = []

    def flush() -> None:
        if pending:
            import base64

            raw = "".join(pending).encode("utf-16-be")
            out.append("&" + base64.b64encode(raw).decode().rstrip("=").replace("/", ",") + "-")
            pending.clear()

    for ch in name:
        if 0x20 <= ord(ch) <= 0x7E:
            flush()
            out.append("&-" if ch == "&" else ch)
        else:
            pending.append(ch)
    flush()
    return "".join(out)


def mailbox_name(name: str) -> str:
    """A folder name as an IMAP quoted string."""
    text = encode_mailbox(name)
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def password_for(mail: "MailBox", environ=os.environ) -> str:
    """The password (for QQ Mail, 163 and most 政务邮箱: the 授权码) from the environment variable the config
    names, else the system's credential store (Windows Credential Manager); never from config.toml."""
    if mail.password_env and environ.get(mail.password_env):
        return environ[mail.password_env]
    try:
        import keyring  # imported here: a PC without a keyring backend still works with the variable
        from keyring.errors import KeyringError

        try:
            found = keyring.get_password(KEYRING_SERVICE, mail.user)
        except KeyringError:
            found = None
    except ImportError:
        found = None
    if found:
        return found
    raise MailboxError(
        f"没有找到邮箱 {mail.user} 的密码：请设置环境变量 {mail.password_env}，或存入系统凭据管理器"
        f"（在命令行运行 python -m keyring set {KEYRING_SERVICE} {mail.user}）。"
        "QQ 邮箱、163 邮箱要用“授权码”而不是登录密码。")


def _check_hint(host: str) -> str:
    if host.endswith(("qq.com", "foxmail.com")):
        return "QQ 邮箱须在网页版“设置 → 账户”中开启 IMAP 服务，并使用生成的授权码（不是 QQ 密码）"
    if host.endswith(("163.com", "126.com", "yeah.net")):
        return "网易邮箱须在网页版“设置 → POP3/SMTP/IMAP”中开启 IMAP 服务，并使用授权码（不是登录密码）"
    return "请核对用户名和密码；QQ 邮箱、163 邮箱等须开启 IMAP 服务并使用授权码（不是登录密码）"


def connect(mail: "MailBox", password: str, timeout: float = TIMEOUT) -> imaplib.IMAP4:
    """A logged-in connection, or MailboxError saying what is wrong and what to check."""
    where = f"{mail.host}:{mail.port}"
    context = ssl.create_default_context()
    if not mail.verify_cert:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    try:
        if mail.tls == "ssl":
            imap: imaplib.IMAP4 = imaplib.IMAP4_SSL(mail.host, mail.port, ssl_context=context, timeout=timeout)
        else:
            imap = imaplib.IMAP4(mail.host, mail.port, timeout=timeout)
            if mail.tls == "starttls":
                imap.starttls(context)
    except ssl.SSLCertVerificationError as exc:
        raise MailboxError(
            f"邮件服务器 {where} 的证书未通过验证（{exc.verify_message}），为防止密码被截获已停止连接。"
            "请核对 [mail] host 是否为邮箱服务商公布的 IMAP 服务器地址；如确属单位内部自建服务器，"
            "可设 verify_cert = false 并在同一行注释中写明理由。") from None
    except ssl.SSLError as exc:
        raise MailboxError(f"与邮件服务器 {where} 建立加密连接失败（{exc.reason or exc}）："
                           "请核对 [mail] port 与 tls（993 端口用 \"ssl\"，143 端口用 \"starttls\"）。") from None
    except (socket.timeout, TimeoutError):
        raise MailboxError(f"连接邮件服务器 {where} 超时：请检查网络，以及 [mail] host、port 是否正确。") from None
    except (OSError, imaplib.IMAP4.error) as exc:
        why = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
        raise MailboxError(f"无法连接邮件服务器 {where}（{why}）：请检查网络，以及 [mail] host、port 是否正确。") from None
    try:
        imap.login(mail.user, password)
    except imaplib.IMAP4.error as exc:
        _close(imap)
        said = exc.args[0].decode(errors="replace") if exc.args and isinstance(exc.args[0], bytes) else str(exc)
        raise MailboxError(f"邮件服务器 {where} 拒绝了用户 {mail.user} 的登录（{said}）：{_check_hint(mail.host)}。") from None
    except (OSError, EOFError) as exc:
        _close(imap)
        raise MailboxError(f"登录邮件服务器 {where} 时连接中断（{exc}）：请稍后再试。") from None
    return imap


def _close(imap: imaplib.IMAP4) -> None:
    try:
        imap.shutdown()
    except Exception:
        pass


def _ok(typ: str, data, what: str) -> list:
    if typ != "OK":
        said = b" ".join(d for d in data if isinstance(d, bytes)).decode(errors="replace") if data else ""
        raise MailboxError(f"邮件服务器拒绝了操作“{what}”（{said}）")
    return data


_INFO = re.compile(rb"UID (\d+)|RFC822\.SIZE (\d+)|INTERNALDATE \"([^\"]+)\"")


def internaldate(text: str) -> datetime:
    """ "06-Dec-2026 10:12:52 +0800" (the day may be space-padded) -> an aware datetime."""
    m = re.fullmatch(r"\s*(\d{1,2})-([A-Za-z]{3})-(\d{4}) (\d{2}):(\d{2}):(\d{2}) ([+-])(\d{2})(\d{2})\s*", text)
    if not m or m.group(2).title() not in _MONTHS:
        raise MailboxError(f"邮件服务器给出的收到时间无法识别：{text!r}")
    from datetime import timedelta, timezone

    sign = 1 if m.group(7) == "+" else -1
    zone = timezone(sign * timedelta(hours=int(m.group(8)), minutes=int(m.group(9))))
    return datetime(int(m.group(3)), _MONTHS.index(m.group(2).title()) + 1, int(m.group(1)), int(m.group(4)),
                    int(m.group(5)), int(m.group(6)), tzinfo=zone)


class Folder:
    """One selected folder of a logged-in connection, read by UID."""

    def __init__(self, imap: imaplib.IMAP4, name: str, readonly: bool):
        self.imap, self.name = imap, name
        try:
            _ok(*imap.select(mailbox_name(name), readonly=readonly), f"打开文件夹 {name}")
            got = imap.response("UIDVALIDITY")[1]
        except imaplib.IMAP4.error as exc:
            raise MailboxError(f"无法打开邮箱文件夹“{name}”（{exc}）：请核对 [mail] folder。") from None
        if not got or got[0] is None:
            raise MailboxError(f"邮件服务器没有给出文件夹“{name}”的 UIDVALIDITY，无法可靠地记录已读邮件")
        self.uidvalidity = int(got[0])
        self.capabilities = {c.upper() for c in imap.capabilities}

    def uids_since(self, day: date) -> list[int]:
        since = f"{day.day}-{_MONTHS[day.month - 1]}-{day.year}"
        data = _ok(*self.imap.uid("SEARCH", "SINCE", since), "搜索邮件")
        return sorted(int(x) for x in b" ".join(d for d in data if d).split())

    def info(self, uids: list[int]) -> list[MessageInfo]:
        """Size and arrival time of each message, without downloading anything."""
        out: list[MessageInfo] = []
        for at in range(0, len(uids), 200):
            chunk = ",".join(map(str, uids[at:at + 200]))
            data = _ok(*self.imap.uid("FETCH", chunk, "(UID RFC822.SIZE INTERNALDATE)"), "读取邮件信息")
            for line in data:
                if isinstance(line, tuple):
                    line = line[0]
                if not isinstance(line, bytes):
                    continue
                uid = size = when = None
                for m in _INFO.finditer(line):
                    if m.group(1):
                        uid = int(m.group(1))
                    elif m.group(2):
                        size = int(m.group(2))
                    elif m.group(3):
                        when = internaldate(m.group(3).decode("ascii", "replace"))
                if uid is not None and size is not None and when is not None:
                    out.append(MessageInfo(uid, size, when))
        return sorted(out, key=lambda i: i.uid)

    def raw(self, uid: int, limit: int | None = None) -> bytes:
        """The message's bytes (BODY.PEEK: reading does not flag it \\Seen); `limit`: only the first bytes."""
        section = f"BODY.PEEK[]<0.{limit}>" if limit else "BODY.PEEK[]"
        data = _ok(*self.imap.uid("FETCH", str(uid), f"({section})"), "下载邮件")
        for part in data:
            if isinstance(part, tuple) and len(part) == 2 and isinstance(part[1], bytes):
                return part[1]
        raise MailboxError(f"邮件服务器没有返回邮件（UID {uid}）的内容，可能已被删除或移走")

    def mark_seen(self, uid: int) -> None:
        _ok(*self.imap.uid("STORE", str(uid), "+FLAGS.SILENT", r"(\Seen)"), "标为已读")

    def move(self, uid: int, target: str) -> None:
        """To the folder (created when missing); MOVE where offered, else COPY + \\Deleted + expunge."""
        box = mailbox_name(target)
        self.imap.create(box)  # "already exists" is fine
        if "MOVE" in self.capabilities:
            _ok(*self.imap.uid("MOVE", str(uid), box), f"移到文件夹 {target}")
            return
        _ok(*self.imap.uid("COPY", str(uid), box), f"复制到文件夹 {target}")
        _ok(*self.imap.uid("STORE", str(uid), "+FLAGS.SILENT", r"(\Deleted)"), "标记删除")
        if "UIDPLUS" in self.capabilities:
            _ok(*self.imap.uid("EXPUNGE", str(uid)), "清除")
        else:
            _ok(*self.imap.expunge(), "清除")


def logout(imap: imaplib.IMAP4) -> None:
    try:
        imap.logout()
    except Exception:
        _close(imap)


# --- IDLE (RFC 2177): `annex2 watch` learns of a new message within seconds ----------------------------

IDLE_MAX = 25 * 60  # an IDLE is ended and issued again at least this often (the RFC: servers may drop at 29 min)
_ARRIVED = re.compile(rb"\* \d+ (EXISTS|RECENT)\b", re.IGNORECASE)
_idle_tags = iter(range(1, 1 << 62))


def capabilities(imap: imaplib.IMAP4) -> set[str]:
    """What the server offers once logged in (asked again: some servers list more after the login)."""
    data = _ok(*imap.capability(), "查询服务器功能")
    return {c.upper() for c in b" ".join(d for d in data if isinstance(d, bytes)).decode(errors="replace").split()}


class _Lines:
    """Lines read straight from the connection's socket in slices of at most a second (imaplib's buffered
    file cannot be read with a timeout and used again), so a waiting IDLE notices the watcher stopping."""

    def __init__(self, sock: socket.socket):
        self.sock, self.buf = sock, b""

    def next(self, wait: float, stop: Callable[[], bool] = lambda: False) -> bytes | None:
        """The next line within `wait` seconds, else None (also at once when stop() says so)."""
        deadline = time.monotonic() + wait
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0 or stop():
                return None
            self.sock.settimeout(min(left, 1.0))
            try:
                chunk = self.sock.recv(65536)
            except (socket.timeout, TimeoutError):
                continue
            if not chunk:
                raise EOFError("邮件服务器断开了连接")
            self.buf += chunk
        line, _, self.buf = self.buf.partition(b"\n")
        return line.rstrip(b"\r")


def idle(imap: imaplib.IMAP4, seconds: float, stop: Callable[[], bool],
         on_idling: Callable[[], None] = lambda: None) -> bool:
    """Wait in IDLE on the selected folder: True as soon as the server says a message came (`* N EXISTS` or
    `RECENT`), False after `seconds` or when stop() says so; either way IDLE is ended with DONE and its tagged
    answer read, so the connection can be used (or idle) again. on_idling: called once the server idles."""
    if imap.state != "SELECTED":
        raise MailboxError("IDLE 须先打开一个文件夹")
    sock = imap.sock
    kept = sock.gettimeout()
    tag = b"IDLE%d" % next(_idle_tags)
    lines = _Lines(sock)
    arrived = False
    try:
        imap.send(tag + b" IDLE\r\n")
        while True:  # the "+" continuation (an untagged line may come first)
            line = lines.next(TIMEOUT)
            if line is None:
                raise MailboxError("邮件服务器没有回应 IDLE 命令")
            if line.startswith(b"+"):
                break
            if line.startswith(tag + b" "):
                raise MailboxError(f"邮件服务器拒绝了 IDLE（{line.decode(errors='replace')}）")
            arrived = arrived or bool(_ARRIVED.match(line))
        on_idling()
        end = time.monotonic() + seconds
        while not arrived and not stop() and time.monotonic() < end:
            line = lines.next(min(1.0, max(0.0, end - time.monotonic())), stop)
            if line is not None and _ARRIVED.match(line):
                arrived = True
        imap.send(b"DONE\r\n")
        while True:
            line = lines.next(TIMEOUT)
            if line is None:
                raise MailboxError("邮件服务器没有回应 IDLE 的结束（DONE）")
            if line.startswith(tag + b" "):
                if not line[len(tag) + 1:].upper().startswith(b"OK"):
                    raise MailboxError(f"邮件服务器结束 IDLE 时出错（{line.decode(errors='replace')}）")
                return arrived
            arrived = arrived or bool(_ARRIVED.match(line))
    finally:
        try:
            sock.settimeout(kept)
        except OSError:
            pass
