"""`annex2 watch`: file events only schedule a readiness check; a file that has stopped changing and is a
complete container is ingested by the same Ingester as `annex2 ingest`, under the same per-batch lock.
After a burst of batches the workbooks are rebuilt once (debounced)."""
from __future__ import annotations

import logging
import logging.handlers
import os
import stat as stat_mod
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Callable

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer
from watchdog.observers.polling import PollingObserver

from ..core.config import Config
from ..core.files import IGNORED, kind_of
from ..core.months import Month
from ..reading.readiness import container_complete
from ..storage.lock import LockBusy
from ..storage.logs import BureauTimeFormatter, QuietFileHandler
from ..storage.session import session
from .ingest import BatchResult, Candidate, FileResult, Ingester, folder_unit_of, scan_inbox
from .receipts import OUTCOME_LABEL
from .witness import record_scan, scan_of

MAX_BACKOFF = 60.0


@dataclass
class Pending:
    path: Path
    seen_at: datetime | None  # the first event's moment; None when found by a scan (metadata time then)
    size: int = -1
    mtime_ns: int = -1
    stable_since: float = 0.0
    next_check: float = 0.0
    backoff: float = 0.5
    first_checked: float = field(default_factory=time.monotonic)
    closed: bool = False  # the writer closed it after its last change (inotify's close-write)
    changing: bool = False  # seen to grow or shrink since it was first looked at: being written
    ino: int | None = None  # the file first seen at this path: another one renamed over it is a new arrival


def _inode(path: Path) -> int | None:
    try:
        return os.lstat(path).st_ino or None  # 0 where the platform has no inode numbers
    except OSError:
        return None


class _Events(FileSystemEventHandler):
    def __init__(self, watcher: "Watcher"):
        self.watcher = watcher

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.is_directory:
            return
        if event.event_type == "closed":
            self.watcher.saw(Path(os.fsdecode(event.src_path)), closed=True)
        elif event.event_type in ("created", "modified"):
            self.watcher.saw(Path(os.fsdecode(event.src_path)))
        elif event.event_type == "moved":
            self.watcher.saw(Path(os.fsdecode(event.dest_path)))  # Office saves: temp file renamed into place


class Watcher:
    def __init__(self, cfg: Config, clock: Callable[[], datetime], polling: bool | None = None,
                 out: Callable[[str], None] = print, rebuild: Callable[[], None] | None = None,
                 log_file: Path | None = None):
        self.cfg, self.clock, self.out = cfg, clock, out
        self.polling = cfg.watch.polling if polling is None else polling
        self.pending: dict[Path, Pending] = {}
        self.lock = threading.Lock()
        self.stop_event = threading.Event()
        self.rebuild = rebuild or self._rebuild_workbooks
        self.rebuilds = 0
        self.dirty_since: float | None = None
        self.last_batch = 0.0
        self.observer: Any = None  # a watchdog observer once started (watchdog ships no types)
        self.next_fetch = 0.0  # [mail]: when the mailbox is read next (monotonic; at once on start)
        self.mail_came = threading.Event()  # [mail]: IDLE heard of a new message: the mailbox is read at once
        self.idler: threading.Thread | None = None
        self.idle_fresh = False  # a new IDLE connection: its first IDLE triggers one fetch
        self.log = logging.getLogger(f"annex2.watch.{id(self)}")
        self.log.setLevel(logging.INFO)
        self.log.propagate = False
        log_file = log_file or cfg.outbox / "logs" / "watch.log"
        handler: logging.Handler
        try:
            log_file.parent.mkdir(parents=True, exist_ok=True)
            handler = QuietFileHandler(log_file, maxBytes=2_000_000, backupCount=5, encoding="utf-8")
        except OSError:  # a read-only or full outbox: the watcher still takes files in (its console says them)
            handler = logging.NullHandler()
        handler.setFormatter(BureauTimeFormatter(cfg.bureau.tz))
        self.log.addHandler(handler)

    # --- events and scans ------------------------------------------------------------------------

    def saw(self, path: Path, closed: bool = False) -> None:
        if kind_of(path, self.cfg.inbox) == IGNORED:
            return
        now = self.clock()
        ino = _inode(path)
        with self.lock:
            if path not in self.pending:
                self.pending[path] = Pending(path, now, ino=ino)
            self.pending[path].next_check = 0.0
            self.pending[path].closed = closed

    def scan(self) -> None:
        """Files already there (at start, and every rescan as a net for dropped events): metadata time, never
        earlier than the scan before that did not see them (the scan is recorded: witness.py)."""
        started = self.clock()
        found = scan_inbox(self.cfg)
        try:
            # one SQLite transaction, no batch lock: a scan never waits behind a clerk's merge
            with session(self.cfg, "watch", lock=False, program_log=False) as ledger:
                record_scan(ledger, scan_of(self.cfg.inbox, found, None, started))
        except Exception:  # the ledger busy or unwritable: the next rescan records one; the watcher carries on
            self.log.exception("记录收件箱检查失败，下次检查时再记")
        for cand in found:
            with self.lock:
                self.pending.setdefault(cand.path, Pending(cand.path, None, ino=_inode(cand.path)))

    def _start_observer(self) -> None:
        self.observer = (PollingObserver(timeout=self.cfg.watch.poll_seconds) if self.polling else Observer())
        self.observer.schedule(_Events(self), str(self.cfg.inbox), recursive=True)
        self.observer.start()

    # --- readiness -------------------------------------------------------------------------------

    def _ready(self) -> list[Pending]:
        now = time.monotonic()
        ready = []
        with self.lock:
            items = list(self.pending.values())
        for p in items:
            if p.next_check > now:
                continue
            try:
                st = os.lstat(p.path)  # never follow a link (its target may be a FIFO or anything else)
            except FileNotFoundError:
                with self.lock:
                    self.pending.pop(p.path, None)
                continue
            except OSError:
                p.next_check = now + p.backoff
                p.backoff = min(p.backoff * 2, MAX_BACKOFF)
                continue
            if stat_mod.S_ISLNK(st.st_mode):
                ready.append(p)  # the ingester rejects a link without reading its target
                continue
            if not stat_mod.S_ISREG(st.st_mode):
                with self.lock:  # a FIFO, socket or device: opening it could block the watcher for ever
                    self.pending.pop(p.path, None)
                continue
            if p.ino is not None and st.st_ino != p.ino:
                # Another file was put in its place (temp + rename): a new arrival, first seen now — never the
                # time of the file it replaced (a placeholder kept waiting would backdate the real report).
                p.ino, p.first_checked = st.st_ino, now
                if p.seen_at is not None:
                    p.seen_at = self.clock()
            if (st.st_size, st.st_mtime_ns) != (p.size, p.mtime_ns):
                p.changing = p.size >= 0 and st.st_size != p.size  # grew or shrank under our eyes
                p.size, p.mtime_ns, p.stable_since = st.st_size, st.st_mtime_ns, now
            complete = container_complete(p.path, st.st_size)  # False for 0 bytes: created, not yet written
            if p.changing and complete is not False and now - p.stable_since < self.cfg.watch.stable_seconds:
                # Still being written (a file created empty, or rewritten in place): whatever the format or a
                # close event say, it must first stay the same size over the stability window.
                p.next_check = p.stable_since + self.cfg.watch.stable_seconds
            elif complete is True or (complete is None and p.closed):
                ready.append(p)  # the container says it is whole, or the writer closed it
            elif complete is None and now - p.stable_since >= self.cfg.watch.stable_seconds:
                ready.append(p)  # nothing tells: unchanged over the stability window
            elif complete is False and now - p.first_checked > self.cfg.watch.incomplete_seconds:
                ready.append(p)  # a copy that broke off never completes: taken, and rejected with a reason
            elif complete is None:
                p.next_check = p.stable_since + self.cfg.watch.stable_seconds
            else:
                p.next_check = now + min(p.backoff, 1.0)
                p.backoff = min(p.backoff * 2, MAX_BACKOFF)
        return ready

    # --- batches ---------------------------------------------------------------------------------

    def _batch(self, ready: list[Pending]) -> BatchResult | None:
        candidates = [Candidate(p.path, "inbox", folder_unit_of(self.cfg, p.path), self._received(p),
                                "watcher_event" if p.seen_at else None, settled=True) for p in ready]
        try:
            with session(self.cfg, "watch", program_log=False) as ledger:  # the lock for this batch only
                result = Ingester(self.cfg, ledger, self.clock).run(candidates, stop=self.stop_event.is_set)
        except LockBusy as exc:
            self.log.warning("文件夹正被其他进程处理：%s", exc)
            for p in ready:
                p.next_check = time.monotonic() + 2
            return None
        except Exception:  # a bug must not kill the watcher: the files stay pending and are retried
            self.log.exception("本批处理出错，稍后重试")
            for p in ready:
                p.next_check = time.monotonic() + p.backoff
                p.backoff = min(p.backoff * 2, MAX_BACKOFF)
            return None
        done = {r.path for r in result.files}
        waiting = {w.path for w in result.waiting}
        held = {w.path for w in result.waiting if w.held}
        with self.lock:
            for p in ready:
                if p.path in held:  # in a folder no one owns: waits for the clerk, looked at again on rescans
                    p.next_check = time.monotonic() + self.cfg.watch.rescan_seconds
                elif p.path in waiting or p.path not in done:
                    p.next_check = time.monotonic() + min(p.backoff, 2.0)
                    p.backoff = min(p.backoff * 2, MAX_BACKOFF)
                    p.closed = False
                elif any(r.path == p.path and r.outcome == "failed" and r.arrival_id is None for r in result.files):
                    p.next_check = time.monotonic() + p.backoff  # nothing recorded (disk full): try again later
                    p.backoff = min(p.backoff * 2, MAX_BACKOFF)
                else:
                    self.pending.pop(p.path, None)
        if result.fault:
            self.out(result.fault)
            self.log.error(result.fault)
        for r in result.files:
            self._report(r)
        if result.files:
            self.dirty_since = self.dirty_since or time.monotonic()
            self.last_batch = time.monotonic()
        return result

    def _received(self, p: Pending) -> datetime | None:
        """When the watched file was received: the moment it was complete — the watcher's first sight of it,
        or its last change if that came later. A file kept "being written" and filled in afterwards is
        received when it was filled in, not when its placeholder appeared; the change time cannot be set
        back by the unit (the mtime can). On Windows (Python 3.11) st_ctime is the creation time, so there
        the first sight stands."""
        if p.seen_at is None:
            return None  # found by a scan: the arrival time from its metadata
        try:
            changed = datetime.fromtimestamp(p.path.lstat().st_ctime_ns / 1e9, self.cfg.bureau.tz)
        except OSError:
            return p.seen_at
        if sys.platform == "win32":
            return p.seen_at
        return min(max(p.seen_at, changed), self.clock())

    def _report(self, r: FileResult) -> None:
        stamp = self.clock().astimezone(self.cfg.bureau.tz).strftime("%Y-%m-%d %H:%M:%S")
        line = f"{stamp}  {OUTCOME_LABEL.get(r.outcome, r.outcome)}  {r.unit or '单位不明'}  {r.name}"
        if r.issues:
            line += "  " + "；".join(f"{i.message}（{i.code}）" for i in r.issues[:3])
        if r.message:
            line += f"  {r.message}"
        self.out(line)
        self.log.info(line)

    def _maybe_fetch(self) -> None:
        """With [mail], the bureau's mailbox every poll_seconds, and at once when IDLE heard of a new message
        (fetch.py; its errors never stop the watcher)."""
        if self.cfg.mail is None or (time.monotonic() < self.next_fetch and not self.mail_came.is_set()):
            return
        from .fetch import watch_round

        self.mail_came.clear()  # a message coming during this fetch is fetched right after it

        if watch_round(self.cfg, self.clock, self.out, self.log.info, self._report):
            self.dirty_since = self.dirty_since or time.monotonic()
            self.last_batch = time.monotonic()
        self.next_fetch = time.monotonic() + self.cfg.mail.poll_seconds

    def _idle(self) -> None:
        """[mail] where the server offers IDLE (its own thread): a second connection waits in IDLE on the folder
        and wakes the loop's fetch when a message comes. IDLE is issued again every poll_seconds (at most
        25 minutes); a dropped connection is a Chinese log line and a new connection after poll_seconds.
        Without IDLE this thread ends and the mailbox is read every poll_seconds, as without it."""
        from .imap import IDLE_MAX, Folder, MailboxError, capabilities, connect, idle, logout, password_for

        mail = self.cfg.mail
        assert mail is not None
        while not self.stop_event.is_set():
            conn = None
            try:
                conn = connect(mail, password_for(mail))
                if "IDLE" not in capabilities(conn):
                    self.log.info("邮件服务器 %s 不支持 IDLE：每 %g 秒收取一次邮箱", mail.host, mail.poll_seconds)
                    return
                Folder(conn, mail.folder, readonly=True)
                self.idle_fresh = True
                while not self.stop_event.is_set():
                    if idle(conn, min(IDLE_MAX, mail.poll_seconds), self.stop_event.is_set, self._idling):
                        self.mail_came.set()
            except Exception as exc:  # whatever happens, the watcher carries on (and the poll still runs)
                why = str(exc) if isinstance(exc, MailboxError) else type(exc).__name__
                self.log.warning("邮箱 IDLE 等待中断（%s），%g 秒后重新连接", why, mail.poll_seconds)
                self.stop_event.wait(mail.poll_seconds)
            finally:
                if conn is not None:
                    logout(conn)

    def _idling(self) -> None:
        """The server idles: on a new connection, what came between the last fetch and now is fetched once."""
        if self.idle_fresh and self.cfg.mail is not None:
            self.idle_fresh = False
            self.mail_came.set()
            self.log.info("邮件服务器 %s 支持 IDLE：新邮件一到即收取（文件夹 %s）", self.cfg.mail.host, self.cfg.mail.folder)

    def _maybe_rebuild(self) -> None:
        if self.dirty_since is None:
            return
        quiet = time.monotonic() - self.last_batch >= self.cfg.watch.rebuild_debounce_seconds
        if not quiet:
            return
        try:
            self.rebuild()
            self.rebuilds += 1
            self.dirty_since = None
            self.out(f"{self.clock().astimezone(self.cfg.bureau.tz):%Y-%m-%d %H:%M:%S}  已更新汇总表")
        except LockBusy:
            self.last_batch = time.monotonic()  # try again after another quiet spell
        except Exception:
            self.log.exception("更新汇总表失败，稍后重试")
            self.last_batch = time.monotonic()

    def _rebuild_workbooks(self) -> None:
        from ..monthly.merge import write_workbooks

        now = self.clock()
        month = Month.of(now.astimezone(self.cfg.bureau.tz))
        with session(self.cfg, "watch", program_log=False) as ledger:
            write_workbooks(self.cfg, ledger, month, now, now)

    # --- the loop --------------------------------------------------------------------------------

    def run(self, tick: float = 0.2, on_started: Callable[[], None] | None = None) -> None:
        self._start_observer()  # first the observer, then the scan: nothing falls between them
        self.scan()
        self.log.info("开始监视 %s（%s）", self.cfg.inbox, "轮询方式" if self.polling else "系统文件事件")
        if on_started:
            on_started()
        last_scan = time.monotonic()
        if self.cfg.mail is not None:
            self.idler = threading.Thread(target=self._idle, name="annex2-idle", daemon=True)
            self.idler.start()
        try:
            while not self.stop_event.is_set():
                if not self.observer.is_alive():
                    self.log.warning("文件监视线程已停止，正在重新启动")
                    self._start_observer()
                    self.scan()
                if time.monotonic() - last_scan >= self.cfg.watch.rescan_seconds:
                    self.scan()
                    last_scan = time.monotonic()
                ready = self._ready()
                if ready:
                    self._batch(ready)
                else:
                    self._maybe_fetch()
                    self._maybe_rebuild()
                self.stop_event.wait(tick)
        finally:
            self.observer.stop()
            self.observer.join(timeout=5)
            self.stop_event.set()
            if self.idler is not None:
                self.idler.join(timeout=5)  # IDLE waits in slices of a second: it ends with the DONE and logout
            for handler in list(self.log.handlers):
                handler.close()
                self.log.removeHandler(handler)

    def stop(self) -> None:
        self.stop_event.set()
