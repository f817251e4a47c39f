"""A real IMAP server for the tests: a throw-away Dovecot instance with its own config, maildir, passwd-file
user and loopback port (plain IMAP, or implicit TLS with a self-signed certificate made here). Nothing of the
machine's own Dovecot (if any) is touched; the instance is stopped by the fixture that started it."""
from __future__ import annotations

import imaplib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

DOVECOT = shutil.which("dovecot") or ("/usr/sbin/dovecot" if os.path.exists("/usr/sbin/dovecot") else None)
SKIP_REASON = ("Dovecot is not installed (apt-get install dovecot-imapd; .ci/run installs it): "
               "the fetch tests need a real IMAP server")
USER, PASSWORD = "841099245@qq.com", "authcode-1234"


def make_cert(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 / localhost, made by openssl (never trusted by anyone)."""
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True, timeout=60)
    return cert, key


@dataclass
class ImapServer:
    port: int
    tls: bool
    folder: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="annex2-dovecot-")))
    proc: subprocess.Popen | None = None

    @property
    def log(self) -> str:
        try:
            return (self.folder / "dovecot.log").read_text(errors="replace")
        except OSError:
            return ""

    def start(self) -> "ImapServer":
        import pwd  # POSIX only (the tests that need Dovecot are skipped where it is not installed)

        f = self.folder
        for sub in ("run", "state", "mail"):
            (f / sub).mkdir(parents=True, exist_ok=True)
        if os.getuid() == 0:  # Dovecot runs neither its login processes nor mail access as root
            internal, login = "dovecot", "dovenull"
            mail_uid, mail_gid = pwd.getpwnam("dovecot").pw_uid, pwd.getpwnam("dovecot").pw_gid
            os.chown(f / "mail", mail_uid, mail_gid)
            os.chmod(f, 0o755)  # the mail and auth users reach their files (the folder is our own mkdtemp)
        else:
            me = pwd.getpwuid(os.getuid())
            internal = login = me.pw_name
            mail_uid, mail_gid = me.pw_uid, me.pw_gid
        (f / "passwd").write_text(f"{USER}:{{PLAIN}}{PASSWORD}::::::\n")
        ssl = "no"
        listener = f"inet_listener imap {{\n    address = 127.0.0.1\n    port = {self.port}\n  }}\n" \
                   "  inet_listener imaps {\n    port = 0\n  }\n"
        if self.tls:
            cert, key = make_cert(f)
            ssl = f"required\nssl_cert = <{cert}\nssl_key = <{key}"
            listener = "inet_listener imap {\n    port = 0\n  }\n" \
                       f"  inet_listener imaps {{\n    address = 127.0.0.1\n    port = {self.port}\n    ssl = yes\n  }}\n"
        (f / "dovecot.conf").write_text(f"""
base_dir = {f}/run
state_dir = {f}/state
log_path = {f}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = {ssl}
disable_plaintext_auth = no
auth_mechanisms = plain login
default_internal_user = {internal}
default_internal_group = {pwd.getpwnam(internal).pw_name if internal else internal}
default_login_user = {login}
first_valid_uid = 1
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {f}/passwd
}}
userdb {{
  driver = static
  args = uid={mail_uid} gid={mail_gid} home={f}/mail/%u
}}
mail_location = maildir:{f}/mail/%u/Maildir
namespace inbox {{
  inbox = yes
  separator = /
  mailbox 已收报表 {{
    auto = create
  }}
}}
service imap-login {{
  {listener}
  chroot =
}}
service anvil {{
  chroot =
}}
service stats {{
  unix_listener stats-reader {{
    mode = 0666
  }}
  unix_listener stats-writer {{
    mode = 0666
  }}
}}
""")
        with open(f / "dovecot.stderr", "wb") as err:
            self.proc = subprocess.Popen([DOVECOT, "-F", "-c", str(f / "dovecot.conf")], stdout=subprocess.DEVNULL,
                                         stderr=err)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"dovecot exited: {(f / 'dovecot.stderr').read_text()}\n{self.log}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"dovecot did not listen on {self.port}: {self.log}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        shutil.rmtree(self.folder, ignore_errors=True)

    def client(self) -> imaplib.IMAP4:
        if self.tls:
            import ssl

            ctx = ssl.create_default_context()
            ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
            imap: imaplib.IMAP4 = imaplib.IMAP4_SSL("127.0.0.1", self.port, ssl_context=ctx, timeout=10)
        else:
            imap = imaplib.IMAP4("127.0.0.1", self.port, timeout=10)
        imap.login(USER, PASSWORD)
        return imap

    def append(self, raw: bytes, internaldate: datetime, folder: str = "INBOX") -> None:
        """Deliver a message as the server would, with its arrival time (INTERNALDATE) given."""
        imap = self.client()
        try:
            typ, data = imap.append(_quoted(folder), "", imaplib.Time2Internaldate(internaldate), raw)
            assert typ == "OK", data
        finally:
            imap.logout()

    def flags_and_folders(self) -> dict[str, list[bytes]]:
        """Each folder's messages' FLAGS responses (to see \\Seen and moves)."""
        imap = self.client()
        out: dict[str, list[bytes]] = {}
        try:
            for folder in ("INBOX", "已收报表"):
                typ, exists = imap.select(_quoted(folder), readonly=True)
                if typ != "OK":
                    continue
                if int(exists[0]) == 0:
                    out[folder] = []
                    continue
                typ, data = imap.fetch("1:*", "(FLAGS)")
                out[folder] = [d for d in data if isinstance(d, bytes)] if typ == "OK" else []
        finally:
            imap.logout()
        return out


def _quoted(folder: str) -> str:
    from pipeline.intake.imap import mailbox_name

    return mailbox_name(folder)
