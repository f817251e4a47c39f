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
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any, Callable

from .collect import (Candidate, Placement, arrival_time, folder_unit_of, in_clerk_folder,  # noqa: F401
                      in_inbox, placement, scan_inbox, text_of_path)
from ..core.config import Config, Unit
from .corrections import receipt_context
from ..storage.durable import abandoned_temp, barrier, fsync_dir, write_atomic
from ..core.files import EMAIL, IGNORED, MATERIAL, WORKBOOK, kind_of
from .folders import FORMER, UNKNOWN, Folders
from ..core.issues import issue
from .judge import TASK_FORM, Incoming, Judge, Judged, failed
from ..storage.ledger import Arrival, Ledger
from ..reading.markup import make_markup
from ..statistics.template import write_blank
from ..reading.prefetch import reader_for
from ..reading.readiness import (CHANGING, FRESH, empty_reason, is_open_for_writing, open_for_writing, open_no_follow,
                        wait_reason)
from .report import BatchResult, FileResult, Waiting
from .receipts import OUTCOME_SHORT, receipt_folder, receipt_name, receipt_text
from ..core.safe_names import display_name, safe_filename
from ..statistics.validate import Validation, validate_bytes
from .witness import RULE as WITNESS_RULE, Scan, Witness, record_scan
from ..core.files import RECEIPTS_DIR

log = logging.getLogger("annex2")
Faults = Callable[[str, Path], None]
CHUNK = 1024 * 1024
GROUP = 64  # arrivals committed together: one durability barrier and one transaction for the lot
HELD_BYTES = 256 * 1024 * 1024  # at most this much of the inbox is read into memory at once
OVER_LIMIT_HEAD = 64 * 1024  # a file over the size limit is known and archived by its size and these first bytes
OVER_LIMIT_KEPT = "文件超过大小上限，已登记退回（登记号 {id}），原文件留在收件箱未动：请单位另报较小的文件，管理员核对后可删除此文件"
LONGEST_NAME = 1000  # characters of a name kept in the ledger (filesystems allow 255 bytes)
LINK = "link"
RECEIPTED_PARTS = (WORKBOOK, TASK_FORM, MATERIAL)  # e-mail attachments that get a receipt of their own


def no_faults(step: str, path: Path) -> None:
    """Production: nothing. Tests pass a function that raises at a named step."""


def isolated_reader() -> Callable:
    """The child-process reader (sandbox.py): untrusted bytes never reach this process's parsers."""
    from ..reading.sandbox import read_workbook_isolated

    return read_workbook_isolated


class LedgerFault(Exception):
    "The ledger cannot be written (full disk, read-only or damaged file); nothing of this file was recorded"


@dataclass(frozen=True)
class Loaded:
    cand: Candidate
    st: os.stat_result
    file: Incoming
    kind: str


@dataclass
class Prepared:
    """One arrival judged and ready to commit."""

    item: Loaded
    judged: Judged
    key: str | None
    retry_of: Arrival | None = None


@dataclass
class Plan:
    """One arrival being committed: where its files are archived, and (once recorded) its ids."""

    item: Loaded
    judged: Judged
    key: str | None
    retry_of: Arrival | None
    file: Incoming
    archived: Path
    parts: list[Path]
    receipts: Path
    top: int = 0
    ids: list[int] = field(default_factory=list)


def _hashes(p: "Prepared") -> set[str]:
    """The arrival's bytes and its attachments' (what a later duplicate would match)."""
    return {p.item.file.sha256, *(part.sha256 for part, _j in p.judged.parts)}


def file_key(*parts: object) -> str:
    return hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()


class Ingester:
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

    def commit(self, item: Loaded, judged: Judged, key: str | None, retry_of: Arrival | None = None) -> list[FileResult]:
        return self.commit_group([Prepared(item, judged, key, retry_of)])

    def commit_group(self, group: list["Prepared"]) -> list[FileResult]:
        """Archive every file of the group -> one durability barrier -> one ledger transaction -> receipts ->
        a barrier -> remove from the inbox. The crash-safety order of one file, paid once per group."""
        created: list[Path] = []
        self._unsynced = []
        try:
            plans = [self._plan(g, created) for g in group]
            barrier(self._unsynced)
        except OSError:
            self._unlink_all(created)  # no orphan copy of a file that is not recorded
            if len(group) > 1:  # one file that cannot be archived (too big for the disk) fails alone
                return [r for g in group for r in self._commit_or_fail([g])]
            raise
        for plan in plans:
            self.faults("archived", plan.item.cand.path)
        now = self.clock()
        try:
            with self.ledger.transaction() as db:
                for plan in plans:
                    self._record_plan(db, now, plan)
        except sqlite3.IntegrityError:
            if len(group) > 1:  # a racing process recorded one of them: settle them one by one
                return [r for g in group for r in self.commit_group([g])]
            key = group[0].key
            if key and (other := self.ledger.by_key(key)) is not None:  # another process recorded it first
                return [self._resume(other, group[0].item)]
            self._unlink_all(created)
            raise
        except sqlite3.Error as exc:
            self._unlink_all(created)  # no orphan copy: the arrivals stay in the inbox for the next run
            raise LedgerFault(ledger_fault_text(self.cfg, exc)) from None
        for plan in plans:
            self.faults("committed", plan.item.cand.path)
        written: list[Path] = []
        for plan in plans:
            for (_p, j), part_id in zip(plan.judged.parts, plan.ids):
                if j.kind in RECEIPTED_PARTS:
                    written += self._receipt_guarded(part_id, j)
            written += self._receipt_guarded(plan.top, plan.judged)
        barrier(written)
        for plan in plans:
            self.faults("receipted", plan.item.cand.path)
        results: list[FileResult] = []
        folders: set[Path] = set()
        writers = open_for_writing()  # looked at once for the group, right before the removals
        for plan in plans:
            cand, judged, file = plan.item.cand, plan.judged, plan.file
            if cand.source == "inbox" and plan.retry_of is None and self._remove(plan.item, plan.top, writers):
                folders.add(cand.path.parent)
            self.faults("removed", cand.path)
            results += [FileResult(cand.path, j.outcome, j.unit, pid, j.period_label, issues=j.issues,
                                   name=f"{file.name}#{p.name}") for (p, j), pid in zip(judged.parts, plan.ids)]
            results.append(FileResult(cand.path, judged.outcome, judged.unit, plan.top, judged.period_label,
                                      judged.note, judged.issues, name=file.name))
        for folder in folders:
            fsync_dir(folder)
        return results

    def _plan(self, g: "Prepared", created: list[Path]) -> "Plan":
        """Where each file of one arrival is archived (written, not yet made durable) and receipted."""
        cand, judged = g.item.cand, g.judged
        file = judged.retimed or g.item.file
        if g.retry_of is not None:
            archived = self.cfg.root / g.retry_of.archived_path
        else:
            archived = self._archive(file, judged.unit, "", g.item, created)
        parts = [self._archive(p, judged.unit, f"附件{i + 1}_", None, created) for i, (p, _j) in enumerate(judged.parts)]
        owner = cand.folder_unit
        receipts = receipt_folder(self.cfg, owner.name if owner else None, judged.unit)
        return Plan(g.item, judged, g.key, g.retry_of, file, archived, parts, receipts)

    def _record_plan(self, db, now: datetime, plan: "Plan") -> None:
        cand, judged, file, owner = plan.item.cand, plan.judged, plan.file, plan.item.cand.folder_unit
        plan.top = self._record(db, now, cand.source if plan.retry_of is None else "retry", file, judged, owner,
                                plan.archived, plan.receipts, key=plan.key,
                                retry_of=plan.retry_of.id if plan.retry_of else None)
        self._record_extra(db, plan.top, judged)
        judge = self.judge_
        if judge is not None:
            judge.remember(judged)
        plan.ids = []
        for (p, j), part_archive in zip(judged.parts, plan.parts):
            receipts = plan.receipts if j.kind in RECEIPTED_PARTS else None
            dup = plan.ids[j.duplicate_part] if j.duplicate_part is not None else None
            plan.ids.append(self._record(db, now, "email", p, j, owner, part_archive, receipts, parent_id=plan.top,
                                         duplicate_id=dup))
            self._record_extra(db, plan.ids[-1], j)
            if judge is not None:
                judge.remember(j)

    def _key(self, item: Loaded) -> str | None:
        """What identifies an arrival: the same file found again (after a crash, by a racing process) has
        the same key, and the ledger refuses a second record of it."""
        f = item.file
        if item.cand.source == "inbox":
            return file_key("inbox", f.source_path, f.ctime_ns, f.sha256)
        return file_key(item.cand.source, f.source_path, f.received_at.isoformat(), f.sha256)

    def _archive(self, file: Incoming, unit: str | None, part: str, item: Loaded | None, created: list[Path]) -> Path:
        """Where the original is kept: outside the inbox, a name that is safe and the same for the same
        arrival (a re-run after a crash overwrites its own half-done copy instead of making a second)."""
        stamp = (file.stamp or file.received_at).astimezone(self.cfg.bureau.tz)
        key = file_key(file.source_path, file.size, file.ctime_ns, stamp.isoformat(), file.sha256)[:10]
        name = safe_filename(f"{stamp:%Y%m%d-%H%M%S}_{key}_{part}{file.name}", max_bytes=200)
        path = self.cfg.archive / f"{stamp:%Y-%m}" / safe_filename(unit or "未知单位") / name
        existed = path.exists()
        if file.data is not None:
            write_atomic(path, file.data, durable=False)
        else:
            assert item is not None
            _copy_chunked(item.cand.path, path, file.sha256)
        if not existed:
            created.append(path)  # removed again if the commit fails: no orphan copy
        self._unsynced.append(path)
        return path

    def _unlink_all(self, paths: list[Path]) -> None:
        for p in paths:
            try:
                p.unlink()
            except OSError:
                pass

    def _record(self, db, now: datetime, source: str, file: Incoming, judged: Judged, owner: Unit | None,
                archived: Path, receipts: Path | None, parent_id: int | None = None, key: str | None = None,
                retry_of: int | None = None, duplicate_id: int | None = None) -> int:
        """Record one arrival; its receipt (in the folder `receipts`, None: no receipt) is named with its
        arrival id, so two files of one name arriving in the same second keep a receipt each."""
        v: Any = judged.validation or judged.task  # both know the unit as typed and the sheet
        dup = judged.duplicate.id if judged.duplicate else duplicate_id
        arrival_id = self.ledger.record(
            db, now=now, original_name=file.name, source=source, source_path=file.source_path,
            source_ctime_ns=file.ctime_ns, sha256=file.sha256, size=file.size, received_at=file.received_at,
            received_rule=file.rule, kind=judged.kind, unit=judged.unit, folder_unit=owner.name if owner else None,
            declared_unit=v.declared_unit if v else None, year=judged.period[0], month_from=judged.period[1],
            month_to=judged.period[2], sheet=v.sheet if v else None, outcome=judged.outcome, duplicate_of=dup, parent_id=parent_id,
            archived_path=self._rel(archived), receipt_path=None,
            arrival_key=key, retry_of=retry_of,
            values=judged.validation.counts if judged.outcome == "accepted" and judged.validation else None,
            issues=judged.issues, event=judged.outcome,
            detail={"file": file.name, "sha256": file.sha256, "rule": file.rule, **file.detail})
        if receipts is not None:
            local = file.received_at.astimezone(self.cfg.bureau.tz)  # names read in the bureau's time
            first = db.execute("SELECT receipt_path FROM arrivals WHERE id = ?", (retry_of,)).fetchone() \
                if retry_of is not None else None
            # A retry's verdict replaces the failed attempt's receipt: the unit reads one, final, answer.
            rel = first[0] if first and first[0] else self._rel(receipts / receipt_name(local, file.name, arrival_id))
            db.execute("UPDATE arrivals SET receipt_path = ? WHERE id = ?", (rel, arrival_id))
        return arrival_id

    # --- receipts ---------------------------------------------------------------------------------

    def _record_extra(self, db, arrival_id: int, judged: Judged) -> None:
        """What an obligation keeps beyond the arrival row, in the same transaction."""
        if judged.task is not None:
            from ..tasks.form import record_task_form

            record_task_form(db, arrival_id, judged.task)  # type: ignore[arg-type]
        if judged.material is not None:
            from ..materials.interface import record_material

            record_material(db, arrival_id, judged.material)  # type: ignore[arg-type]

    def _receipt_guarded(self, arrival_id: int, judged: Judged | None) -> list[Path]:
        """A receipt that cannot be written is logged; the arrival is recorded and the batch goes on. Returns
        what was written (made durable by the caller's barrier)."""
        try:
            kind = self.ledger.arrival(arrival_id).kind
            if kind == TASK_FORM:
                return self._write_task_receipt(arrival_id, judged.task if judged else None)
            if kind == MATERIAL:
                return self._write_material_receipt(arrival_id)
            return self._write_receipt(arrival_id, judged.validation if judged else None)
        except Exception as exc:
            log.exception("回执写入失败（登记号 %s）", arrival_id)
            if isinstance(exc, OSError) and getattr(exc, "errno", None) == 28:
                raise
            return []

    def _write_receipt(self, arrival_id: int, validation: Validation | None) -> list[Path]:
        a = self.ledger.arrival(arrival_id)
        if not a.receipt_path:
            return []
        receipt = self.cfg.root / a.receipt_path
        markup_name = markup_note = None
        if a.outcome == "rejected" and a.kind == WORKBOOK:
            markup_name, markup_note = self._markup(a, receipt, validation)
        dup_time = self.ledger.arrival(a.duplicate_of).received_at if a.duplicate_of else None
        attachments = None
        if a.kind == EMAIL:
            children = self.ledger.children(a.id)
            attachments = [f"{c.original_name} —— {OUTCOME_SHORT.get(c.outcome, c.outcome)}" for c in children]
            if not any(c.kind == WORKBOOK for c in children):
                attachments.append("邮件中没有附件2表格（.xlsx/.xls/.ods），请把填好的附件2作为附件重新发送")
        text = receipt_text(self.cfg, original_name=a.original_name, received_at=a.received_at,
                            received_rule=a.received_rule, unit=a.unit, year=a.year, month_from=a.month_from,
                            month_to=a.month_to, outcome=a.outcome, issues=self.ledger.issues_of(a.id),
                            duplicate_of_time=dup_time, markup_name=markup_name, markup_note=markup_note,
                            attachments=attachments,
                            **(receipt_context(self.cfg, self.ledger, a.id) if a.kind == WORKBOOK else {}))
        written = [write_atomic(receipt, text.encode("utf-8-sig"), durable=False)]
        return written + ([receipt.with_name(markup_name)] if markup_name else [])

    def _write_material_receipt(self, arrival_id: int) -> list[Path]:
        from ..materials.interface import material_receipt_text

        a = self.ledger.arrival(arrival_id)
        if not a.receipt_path:
            return []
        text = material_receipt_text(self.cfg, self.ledger, arrival_id)
        return [write_atomic(self.cfg.root / a.receipt_path, text.encode("utf-8-sig"), durable=False)]

    def _write_task_receipt(self, arrival_id: int, task) -> list[Path]:
        from ..core.months import Month
        from ..tasks.form import task_form_receipt_text, task_form_waiting_text
        from ..tasks.state import replaced_form_time, task_deadline
        from ..tasks.task_list import read_task_list

        a = self.ledger.arrival(arrival_id)
        if not a.receipt_path:
            return []
        if a.outcome == "failed":
            if any(i["code"] == "E_TASK_LIST" for i in self.ledger.issues_of(a.id)):
                text = task_form_waiting_text(self.cfg, original_name=a.original_name, received_at=a.received_at,
                                              unit=a.unit or a.folder_unit)
                return [write_atomic(self.cfg.root / a.receipt_path, text.encode("utf-8-sig"), durable=False)]
            return self._write_receipt(arrival_id, None)
        if task is None:  # resuming after a crash: judge the archived form again
            from ..tasks.form import check_task_form

            book = self.read((self.cfg.root / a.archived_path).read_bytes(), self.cfg.limits)
            task = check_task_form(book, self.cfg, a.folder_unit, self.clock(), read_task_list(self.cfg))
        month = Month(a.year, a.month_to) if a.year and a.month_to else None
        text = task_form_receipt_text(
            self.cfg, original_name=a.original_name, received_at=a.received_at, judgement=task,
            task_list=read_task_list(self.cfg), due=task_deadline(self.cfg, month) if month else None,
            replaces=replaced_form_time(self.ledger, a.unit, month, a.received_at) if month and a.unit else None)
        return [write_atomic(self.cfg.root / a.receipt_path, text.encode("utf-8-sig"), durable=False)]

    def _markup(self, a: Arrival, receipt: Path, validation: Validation | None) -> tuple[str | None, str | None]:
        """The marked-up copy beside the receipt: its name, and a note for the receipt when the unit's own
        workbook could not be kept (a cap hit in the sandbox) or no copy could be made at all."""
        markup = receipt.with_name(receipt.stem + "_错误标注.xlsx")
        try:
            source = (self.cfg.root / a.archived_path).read_bytes()
            if validation is None or validation.workbook is None:  # resuming: the workbook is in the archive
                validation = validate_bytes(source, self.cfg, self.clock(), self.cfg.unit_named(a.folder_unit),
                                            read=self.read)
            if validation.workbook is None:
                return None, None
            tmp = markup.with_name(f".tmp-{os.getpid()}-" + markup.name)
            made = make_markup(tmp, validation.workbook, validation.issues, a.original_name, source=source,
                               now=self.clock(), limits=self.cfg.limits, located=validation.located, blank=write_blank)
            os.replace(tmp, markup)
            note = f"（原表格式无法保留：{made.reason}；标注副本按附件2模板重新排版。）" if made.reason else None
            return markup.name, note
        except Exception:
            log.exception("标注副本生成失败（登记号 %s）", a.id)
            return None, "标注副本未能生成，请按上面列出的问题逐项修改。"

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




class _Changed(Exception):
    "The file changed while it was being read"


def _open_no_follow(path: Path):
    return open_no_follow(path)


def _same_file(opened: os.stat_result, st) -> bool:
    return (opened.st_size, opened.st_mtime_ns) == (st.st_size, st.st_mtime_ns) and \
        not (getattr(st, "st_ino", None) and opened.st_ino != st.st_ino)


def _read(path: Path, st: os.stat_result, whole: bool) -> tuple[bytes | None, str]:
    """The bytes (when within limits) and their hash, read in chunks from one open handle; the handle's
    own stat must match what was seen before, so what is judged is what is archived."""
    with _open_no_follow(path) as f:
        if not _same_file(os.fstat(f.fileno()), st):
            raise _Changed
        return _read_open(f, st, whole)


def _read_open(f, st, whole: bool) -> tuple[bytes | None, str]:
    """`_read` on a handle already open. A file over the limit (`whole` False) is never read past its first
    bytes: it is known by its size and those (OVER_LIMIT_HEAD), not by a hash of gigabytes every run."""
    digest, chunks = hashlib.sha256(), []
    f.seek(0)
    if whole:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
            chunks.append(chunk)
    else:
        digest.update(over_limit_prefix(st.st_size))
        digest.update(f.read(OVER_LIMIT_HEAD))
    after = os.fstat(f.fileno())
    if (after.st_size, after.st_mtime_ns) != (st.st_size, st.st_mtime_ns):
        raise _Changed
    return (b"".join(chunks) if whole else None), digest.hexdigest()


def over_limit_prefix(size: int) -> bytes:
    return f"annex2 over-limit file: {size} bytes, first {OVER_LIMIT_HEAD} bytes follow\n".encode()


def _copy_chunked(source: Path, dest: Path, sha256: str) -> None:
    """A file over the size limit: its first OVER_LIMIT_HEAD bytes are archived (what it was, for the clerk
    and the unit); the whole of it stays in the inbox, never read further (a 3 GiB file costs a unit
    nothing to make, and would cost the bureau its disk and a full read every run)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".tmp-{os.getpid()}-" + dest.name)
    try:
        with _open_no_follow(source) as src, open(tmp, "wb") as out:
            digest = hashlib.sha256(over_limit_prefix(os.fstat(src.fileno()).st_size))
            chunk = src.read(OVER_LIMIT_HEAD)
            digest.update(chunk)
            out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        if digest.hexdigest() != sha256:
            raise OSError("文件在存档时发生了变化")
        os.replace(tmp, dest)
    finally:
        if tmp.exists():
            tmp.unlink()
    fsync_dir(dest.parent)


def _same_content(path: Path, sha256: str) -> bool:
    try:
        digest = hashlib.sha256()
        with _open_no_follow(path) as f:
            while chunk := f.read(CHUNK):
                digest.update(chunk)
        return digest.hexdigest() == sha256
    except OSError:
        return False


def ledger_fault_text(cfg: Config, exc: BaseException) -> str:
    """What the clerk reads when the ledger cannot be written."""
    text = str(exc).lower()
    if "full" in text or "disk" in text:
        why = "磁盘空间不足"
    elif "readonly" in text or "read-only" in text or "permission" in text:
        why = "台账文件只读或没有写入权限"
    elif "malformed" in text or "not a database" in text or "corrupt" in text:
        why = "台账文件已损坏（请用 annex2 backup 的备份恢复）"
    elif "locked" in text or "busy" in text:
        why = "台账正被其他程序占用"
    else:
        why = f"台账无法写入（{exc}）"
    return (f"错误：{why}：{cfg.ledger}。本批尚未登记的文件仍在收件箱中，没有任何文件丢失；"
            "处理好后重新运行 annex2 ingest 即可。")


# --- validate: the same judgement without a commit -------------------------------------------------------
