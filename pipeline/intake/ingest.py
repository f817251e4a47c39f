"""The intake layer: inbox -> archive + ledger + receipts, the same for `ingest`, `watch`, `merge` and
`demo`, for workbooks, e-mails and every other file.

Nothing is lost, in this order: copy the original into the archive and fsync, commit the ledger (one
transaction; a unique key on the arrival, so two processes racing cannot record it twice), write the
receipt, and remove the inbox copy only if it is still the very file that was archived. A crash between
any two steps leaves the file either still in the inbox (the next run handles it) or archived and recorded
— never both counted. Judging (judge.py) has no side effects and runs inside an error boundary; the
untrusted bytes are parsed in a child process (sandbox.py) where they cannot hurt this one."""
from __future__ import annotations

import hashlib
import logging
import os
import sqlite3
import stat as stat_mod
import time
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Callable

from ..core.config import Config
from ..core.files import EMAIL, IGNORED, MATERIAL, RECEIPTS_DIR, WORKBOOK, kind_of
from ..core.issues import issue
from ..core.safe_names import display_name
from ..reading.prefetch import reader_for
from ..reading.readiness import (
    CHANGING,
    FRESH,
    empty_reason,
    is_open_for_writing,
    open_for_writing,
    open_no_follow,
    wait_reason,
)
from ..storage.durable import abandoned_temp, barrier, fsync_dir
from ..storage.ledger import Arrival, Ledger
from .arrivals import LedgerFault, Loaded, Prepared, _hashes, ledger_fault_text
from .collect import (  # noqa: F401
    Candidate,
    Placement,
    arrival_time,
    folder_unit_of,
    in_clerk_folder,
    in_inbox,
    placement,
    scan_inbox,
    text_of_path,
)
from .commit import Committing
from .folders import FORMER, UNKNOWN, Folders
from .inbox_files import _Changed, _read_open, _same_content, _same_file
from .judge import TASK_FORM, Incoming, Judge, Judged, failed
from .receipting import Receipting
from .report import BatchResult, FileResult, Waiting
from .witness import RULE as WITNESS_RULE
from .witness import Scan, Witness, record_scan

log = logging.getLogger("annex2")
Faults = Callable[[str, Path], None]
GROUP = 64  # arrivals committed together: one durability barrier and one transaction for the lot
HELD_BYTES = 256 * 1024 * 1024  # at most this much of the inbox is read into memory at once
OVER_LIMIT_KEPT = "文件超过大小上限，已登记退回（登记号 {id}），原文件留在收件箱未动：请单位另报较小的文件，管理员核对后可删除此文件"
LONGEST_NAME = 1000  # characters of a name kept in the ledger (filesystems allow 255 bytes)
LINK = "link"


def no_faults(step: str, path: Path) -> None:
    """Production: nothing. Tests pass a function that raises at a named step."""


def isolated_reader() -> Callable:
    """The child-process reader (sandbox.py): untrusted bytes never reach this process's parsers."""
    from ..reading.sandbox import read_workbook_isolated

    return read_workbook_isolated


class Ingester(Committing, Receipting):
    """Takes in a batch of arrivals (commit.py commits them, receipting.py writes their receipts)."""

    def __init__(self, cfg: Config, ledger: Ledger, clock: Callable[[], datetime],
                 stat: Callable[[Path], os.stat_result] = os.lstat, faults: Faults = no_faults,
                 read: Callable | None = None, wall: Callable[[], float] = time.time, month_hint=None):
        self.cfg, self.ledger, self.clock, self.stat, self.faults = cfg, ledger, clock, stat, faults
        self.read = read or isolated_reader()
        self.wall = wall
        self.month_hint = month_hint  # the clerk's --month, for materials
        self._unsynced: list[Path] = []
        self._root, self._root_as_given = cfg.root.resolve(), Path(os.path.abspath(cfg.root))  # resolved once
        self.judge_: Judge | None = None  # one per batch: it keeps each unit's history as the batch records
        self.witness = Witness(ledger)  # the recorded scans: the earliest a file found in the inbox came
        self._folders: Folders | None = None  # who owns each folder below the inbox (read once, when needed)
        self._writers: set[tuple[int, int]] | None = None  # files other processes hold open for writing

    # --- the batch --------------------------------------------------------------------------------

    def run(self, candidates: list[Candidate], progress: Callable[[FileResult], None] | None = None,
            stop: Callable[[], bool] = lambda: False, settle: bool = False, scans: tuple[Scan, ...] = ()) -> BatchResult:
        """Process the candidates oldest first; `stop()` is asked between files (SIGTERM: finish the one at
        hand). With `settle`, files that are only too fresh to judge are waited for once (the CLI's ingest).
        `scans`: the looks at the inbox that found the candidates, recorded first (witness.py)."""
        started = time.monotonic()
        self._sweep_temp_files()
        result = BatchResult()
        ahead = None
        try:
            for scan in scans:
                record_scan(self.ledger, scan)
            self._retry_failed(result)
            # Oldest first, so that of two files for the same month the earlier really is the first one; read
            # in rounds of at most HELD_BYTES, so a folder of large files is never held in memory at once.
            for round_ in self._rounds(self._oldest_first(candidates)):
                loaded = self._load_all(round_, result)
                if settle and result.waiting:
                    loaded += self._settle(result)
                ordered = sorted(loaded, key=lambda it: (it.file.received_at, str(it.cand.path)))
                if ahead is None:
                    books = [it for it in ordered if it.kind == WORKBOOK and it.file.data is not None]
                    read, ahead = reader_for(len(books), self.cfg.limits, self.read)
                    self.judge_ = Judge(self.cfg, self.ledger, self.clock(), read, self.month_hint)
                if self._process(ordered, result, progress, stop, ahead):
                    break
        except LedgerFault as fault:
            result.fault = str(fault)
        except sqlite3.Error as exc:  # outside a commit (finishing a crashed arrival): the same clear message
            result.fault = ledger_fault_text(self.cfg, exc)
        finally:
            if ahead is not None:
                ahead.close()
        result.seconds = time.monotonic() - started
        return result

    def _process(self, ordered: list[Loaded], result: BatchResult, progress, stop, ahead) -> bool:
        """Judge and commit loaded arrivals in groups; True when `stop()` asked to end the batch."""
        group: list[Prepared] = []
        stopped = False
        for n, item in enumerate(ordered):
            if stop():
                stopped = True
                break
            if ahead is not None and n % GROUP == 0:  # parse the next group's workbooks in the workers
                for later in ordered[n:n + GROUP]:
                    if later.kind == WORKBOOK and later.file.data is not None:
                        ahead.submit(later.file.data)
            if group and (len(group) >= GROUP or any(g.item.file.sha256 == item.file.sha256 for g in group)):
                self._flush(group, result, progress)  # a duplicate must see the earlier one recorded
                group = []
            prepared = self.prepare(item)
            if group and isinstance(prepared, Prepared) and _hashes(prepared) & set().union(*map(_hashes, group)):
                # an e-mail's attachment equal to one not yet recorded in this group: record that one first,
                # then judge this again, so it is the duplicate it is (two e-mails carrying the same workbook)
                self._flush(group, result, progress)
                group = []
                prepared = self.prepare(item)
            if isinstance(prepared, FileResult):
                result.files.append(prepared)
            else:
                group.append(prepared)
        self._flush(group, result, progress)
        return stopped

    def _oldest_first(self, candidates: list[Candidate]) -> list[Candidate]:
        """Candidates by when they arrived (from metadata alone, nothing read yet)."""
        def when(cand: Candidate) -> tuple:
            if cand.received_at is not None:
                return (cand.received_at.timestamp(), str(cand.path))
            try:
                return (self.stat(cand.path).st_ctime_ns / 1e9, str(cand.path))
            except OSError:
                return (0.0, str(cand.path))
        return sorted(candidates, key=when)

    def _rounds(self, candidates: list[Candidate]):
        """Consecutive slices whose files add up to at most HELD_BYTES (at least one file each)."""
        batch: list[Candidate] = []
        held = 0
        for cand in candidates:
            try:
                size = self.stat(cand.path).st_size
            except OSError:
                size = 0
            size = min(size, int(self.cfg.limits.max_file_mb * 1024 * 1024))  # larger ones are never read whole
            if batch and held + size > HELD_BYTES:
                yield batch
                batch, held = [], 0
            batch.append(cand)
            held += size
        yield batch

    def _load_all(self, candidates: list[Candidate], result: BatchResult) -> list[Loaded]:
        out = []
        self._writers = open_for_writing()  # who holds a file open for writing, looked at once per round
        for cand in candidates:
            got = self.load(cand)
            if isinstance(got, Waiting):
                result.waiting.append(got)
            elif got is not None:
                out.append(got)
        return out

    def _settle(self, result: BatchResult) -> list[Loaded]:
        """Wait out the stability window once for files that were merely fresh (nothing else waits here)."""
        fresh = [w for w in result.waiting if w.reason == FRESH]
        if not fresh:
            return []
        time.sleep(self.cfg.watch.stable_seconds)
        result.waiting = [w for w in result.waiting if w.reason != FRESH]
        return self._load_all([Candidate(w.path, "inbox", folder_unit_of(self.cfg, w.path)) for w in fresh], result)

    def _sweep_temp_files(self) -> None:
        """Half-written archive copies and receipts from a killed run (their originals are still in the inbox,
        or recorded and re-receipted); a file another live process is writing right now is left alone."""
        places = [(self.cfg.archive, "**/.tmp-*"), (self.cfg.inbox, f"*/{RECEIPTS_DIR}/.tmp-*"),
                  (self.cfg.outbox, "receipts/*/.tmp-*")]
        for folder, pattern in places:
            if folder.exists():
                for tmp in folder.glob(pattern):
                    if abandoned_temp(tmp, self.wall()):
                        try:
                            tmp.unlink()
                        except OSError:
                            pass

    # --- reading one arrival ------------------------------------------------------------------------

    def load(self, cand: Candidate) -> Loaded | Waiting | None:
        """The arrival's bytes, read once, or why it is not ready yet; None when it is gone."""
        path = cand.path
        try:
            st = self.stat(path)
        except (FileNotFoundError, NotADirectoryError):
            return None  # gone before we got to it (another batch took it)
        except OSError as exc:
            return Waiting(path, f"无法读取文件（{exc.strerror or exc}），下次再试")
        if stat_mod.S_ISLNK(st.st_mode):
            return self._link(cand, st)
        if not stat_mod.S_ISREG(st.st_mode):
            return None
        kind = kind_of(path)
        if kind_of(path, self.cfg.inbox) == IGNORED:  # a lock file, temp file or receipt a caller named: never judged
            return None
        former = None
        if cand.source == "inbox" and cand.folder_unit is None:  # the root is the clerk's; any other folder is
            if self._folders is None:                             # a unit's former folder or no one's
                self._folders = Folders(self.cfg, self.ledger)
            owner = self._folders.of_path(path)
            if owner is not None and owner.kind == UNKNOWN:
                return Waiting(path, owner.held_reason, held=True)
            if owner is not None and owner.kind == FORMER:
                cand, former = replace(cand, folder_unit=owner.unit), owner.folder
        # A file being written is waited for: in the inbox by its readiness; given from elsewhere, when it is
        # still empty (a download or copy the clerk named before it finished). Read once: the readiness is
        # judged on the handle the bytes are then read from, so a file replaced after the look is not the
        # one judged (the first version is taken; the new one stays, the next arrival).
        limit = self.cfg.limits.max_email_mb if kind == EMAIL else self.cfg.limits.max_file_mb
        too_big = st.st_size > limit * 1024 * 1024
        try:
            with open_no_follow(path) as handle:
                if not _same_file(os.fstat(handle.fileno()), st):
                    return Waiting(path, CHANGING)  # replaced between the look at its name and the open
                if cand.source == "inbox":
                    reason = wait_reason(path, st, self.cfg, self.wall(), settled=cand.settled, handle=handle,
                                         writers=self._writers)
                else:
                    reason = empty_reason(st, self.cfg, self.wall())
                if reason:
                    return Waiting(path, reason)
                data, sha = _read_open(handle, st, whole=not too_big)
        except _Changed:
            return Waiting(path, CHANGING)
        except FileNotFoundError:
            return None
        except OSError as exc:
            return Waiting(path, f"无法读取文件（{exc.strerror or exc}），下次再试")
        if too_big and cand.source == "inbox":
            kept = self.ledger.same_arrival(self._source_path(path), st.st_size, st.st_ctime_ns, sha)
            if kept is not None:  # recorded once by its size and first bytes; it stays where it is
                return Waiting(path, OVER_LIMIT_KEPT.format(id=kept.id), held=True)
        received = cand.received_at or arrival_time(st, self.cfg)
        rule = cand.rule or ("inbox_ctime" if cand.source == "inbox" else "clerk")
        if cand.received_at is None and cand.source == "inbox":  # metadata: believed only between two scans
            unseen, seen = self.witness.window(self.cfg.inbox, path, st.st_ino)
            if unseen is not None and unseen > received:  # older than a scan that did not see it: moved in inside
                found = min(seen or self.clock(), self.clock())  # a folder, some time before the scan that found it
                received, rule = found.astimezone(self.cfg.bureau.tz), WITNESS_RULE
        explicit = cand.received_at is not None and cand.rule not in (None, "watcher_event")
        file = Incoming(display_name(path.name, LONGEST_NAME), data, sha, st.st_size, self._source_path(path),
                        st.st_ctime_ns if cand.source == "inbox" else None, received, rule,
                        received if explicit or cand.source != "inbox" else arrival_time(st, self.cfg),
                        {"raw_name": os.fsencode(path.name).hex()} if display_name(path.name, LONGEST_NAME) != path.name else {})
        if former is not None:
            file = file.at(file.received_at, file.rule, former_folder=former)
        return Loaded(cand, st, file, kind)

    def _link(self, cand: Candidate, st: os.stat_result) -> Loaded:
        """A symbolic link is never followed: its target is neither read nor archived, only named."""
        try:
            target = display_name(os.readlink(cand.path))
        except OSError:
            target = "（无法读取）"
        note = f"符号链接 -> {target}\n".encode("utf-8")
        received = cand.received_at or arrival_time(st, self.cfg)
        file = Incoming(display_name(cand.path.name), note, hashlib.sha256(note).hexdigest(), len(note),
                        self._source_path(cand.path), st.st_ctime_ns, received, cand.rule or "inbox_ctime",
                        arrival_time(st, self.cfg), {"link_target": target})
        return Loaded(cand, st, file, LINK)

    # --- one arrival ----------------------------------------------------------------------------------

    def prepare(self, item: Loaded) -> "Prepared | FileResult":
        """Judge one arrival (no side effects), or finish one a crash or a racing process left recorded."""
        cand, file = item.cand, item.file
        key = self._key(item)
        same = self.ledger.by_key(key) if key else None
        if same is None and cand.source == "inbox":
            same = self.ledger.same_arrival(file.source_path, file.size, file.ctime_ns, file.sha256)
        if same is not None:
            return self._resume(same, item)
        return Prepared(item, self.judge(item), key)

    def _flush(self, group: list["Prepared"], result: BatchResult, progress) -> None:
        if not group:
            return
        outcomes = self._commit_or_fail(group)
        result.files += outcomes
        if progress:
            for r in outcomes:
                if "#" not in r.name:
                    progress(r)

    def _commit_or_fail(self, group: list["Prepared"]) -> list[FileResult]:
        try:
            return self.commit_group(group)
        except LedgerFault:
            raise
        except OSError as exc:
            reason = "磁盘空间不足" if getattr(exc, "errno", None) == 28 else f"无法写入（{exc.strerror or exc}）"
            return [FileResult(g.item.cand.path, "failed", message=f"{reason}：文件仍在收件箱，台账未改动；"
                               "处理好后重新运行即可") for g in group]

    def judge(self, item: Loaded) -> Judged:
        cand, file = item.cand, item.file
        if item.kind == LINK:
            return Judged("rejected", LINK, cand.folder_unit.name if cand.folder_unit else None, issues=[issue(
                "E_UNREADABLE", "这是一个快捷方式（符号链接），不是文件本身；出于安全原因不予读取，请放入文件本身")])
        judge = self.judge_ or Judge(self.cfg, self.ledger, self.clock(), self.read, self.month_hint)
        judged = judge.file(file, item.kind, cand.folder_unit,
                            clerk_folder=cand.source == "inbox" and in_clerk_folder(self.cfg, cand.path))
        former = file.detail.get("former_folder")
        if former is not None and self._folders is not None:  # said to the clerk, kept in the event's detail
            judged.note = "；".join(n for n in (judged.note, self._folders.owner(former).note) if n)
        return judged

    # --- after a crash, after a failure ----------------------------------------------------------------

    def _resume(self, arrival: Arrival, item: Loaded) -> FileResult:
        """A recorded arrival whose inbox copy survived a crash: finish the job, count nothing twice."""
        # The attachments' receipts first (the e-mail's own receipt lists them), then the arrival's own.
        for a in [*self.ledger.children(arrival.id), arrival]:
            if a.receipt_path and not (self.cfg.root / a.receipt_path).exists():
                barrier(self._receipt_guarded(a.id, None))
        if item.cand.source == "inbox" and self._remove(item, arrival.id):
            fsync_dir(item.cand.path.parent)
        self.ledger.log("resumed", self.clock(), arrival.id, {"file": item.file.name})
        return FileResult(item.cand.path, "resumed", arrival.unit, arrival.id, message="上次中断后已记录，本次仅完成移出收件箱",
                          name=item.file.name)

    def _task_list_valid(self) -> bool:
        from ..tasks.task_list import TaskListError, read_task_list

        try:
            read_task_list(self.cfg)
        except TaskListError:
            return False
        return True

    def _retry_failed(self, result: BatchResult) -> None:
        """A file that ended `failed` is judged once more from its archive copy, then left recorded."""
        for a in self.ledger.failed_unretried():
            if a.kind == TASK_FORM and not self._task_list_valid():
                continue  # a fault of the clerk's list, not the form's: it waits, its one retry unspent
            path = self.cfg.root / a.archived_path
            try:
                data = path.read_bytes()
            except OSError:
                continue
            owner = self.cfg.unit_named(a.folder_unit)
            file = Incoming(a.original_name, data, a.sha256, a.size, a.source_path, None, a.received_at,
                            a.received_rule, a.received_at)
            cand = Candidate(path, "retry", owner, a.received_at, a.received_rule)
            item = Loaded(cand, os.stat(path), file, a.kind if a.kind != LINK else MATERIAL)
            try:
                judge = Judge(self.cfg, self.ledger, self.clock(), self.read, self.month_hint)
                judged = judge.file(file, item.kind, owner, clerk_folder=a.folder_unit is None)
            except Exception as exc:
                judged = failed(item.kind, a.original_name, exc)
            if judged.retimed is not None:
                judged.retimed = judged.retimed.at(a.received_at, a.received_rule)  # the first verdict's time stands
            result.files += self.commit(item, judged, None, retry_of=a)

    def _remove(self, item: Loaded, arrival_id: int, writers: set[tuple[int, int]] | None = None) -> bool:
        """Remove the inbox copy only if it is still the very file that was archived; a file replaced
        meanwhile (same name, new content) stays, and is the next run's new arrival; a file another process
        holds open for writing stays (`writers`: `open_for_writing()`, looked at when not given). True when
        removed."""
        path, before = item.cand.path, item.st
        if item.file.data is None:  # over the size limit: only its first bytes are archived, so it stays
            self.ledger.log("kept_over_limit", self.clock(), arrival_id, {"file": item.file.name})
            return False
        try:
            now = os.lstat(path)
        except FileNotFoundError:
            return False
        if is_open_for_writing(now, writers):  # a writer opened it since it was read: what it writes must not be lost
            self.ledger.log("remove_deferred_writing", self.clock(), arrival_id, {"file": item.file.name})
            return False
        if stat_mod.S_ISLNK(before.st_mode):  # a link cannot be changed, only replaced (a new inode)
            same = stat_mod.S_ISLNK(now.st_mode) and now.st_ino == before.st_ino
        else:  # the change time too: a copy keeps the mtime (anyone can set it), but every write moves the ctime
            same = (now.st_ino, now.st_size, now.st_mtime_ns, now.st_ctime_ns) == \
                (before.st_ino, before.st_size, before.st_mtime_ns, before.st_ctime_ns) \
                or _same_content(path, item.file.sha256)
        if not same:
            self.ledger.log("replaced_in_inbox", self.clock(), arrival_id, {"file": item.file.name})
            return False
        try:
            path.unlink()
            return True
        except FileNotFoundError:
            return False
        except PermissionError:
            # Excel on Windows holds the file open; it is archived and recorded, the next run removes it.
            self.ledger.log("remove_deferred", self.clock(), arrival_id, {"file": item.file.name})
            return False

    def _source_path(self, path: Path) -> str:
        """Where it was found, relative to the working folder (a link's own path, never its target)."""
        return self._relative(path)

    def _rel(self, path: Path) -> str:
        """A path we wrote (archive copy, receipt), as the ledger keeps it: relative to the working folder."""
        return self._relative(path)

    def _relative(self, path: Path) -> str:
        absolute = Path(os.path.abspath(path))  # not resolved: a link stays itself
        for root in (self._root, self._root_as_given):
            try:
                return text_of_path(absolute.relative_to(root).as_posix())
            except ValueError:
                pass
        return text_of_path(str(absolute))
