"""Inbox -> archive + ledger + receipts. Nothing is lost, in this order: copy the original into the archive
and fsync, commit the ledger, write the receipt, remove the inbox copy. A crash between any two steps leaves
the file either still in the inbox (the next run handles it) or archived and recorded — never both counted."""
from __future__ import annotations

import hashlib
import os
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Callable

from .config import Config, Unit
from .durable import write_atomic
from .files import EMAIL, IGNORED, MATERIAL, WORKBOOK, kind_of
from .history import history_rules
from .issues import Issue
from .ledger import Arrival, Ledger
from .markup import write_markup
from .months import Month
from .receipts import receipt_folder, receipt_name, receipt_text
from .safe_names import safe_filename
from .validate import Validation, validate_bytes
from .workspace import RECEIPTS_DIR

Faults = Callable[[str, Path], None]


def no_faults(step: str, path: Path) -> None:
    """Production: nothing. Tests pass a function that raises at a named step."""


@dataclass(frozen=True)
class Candidate:
    path: Path
    source: str  # inbox | external
    folder_unit: Unit | None = None
    received_at: datetime | None = None  # None: the file's arrival time from its metadata
    rule: str | None = None


@dataclass
class FileResult:
    path: Path
    outcome: str  # accepted | rejected | duplicate | material | resumed | failed
    unit: str | None = None
    arrival_id: int | None = None
    period: str = ""
    message: str = ""
    issues: list[Issue] = field(default_factory=list)


@dataclass
class BatchResult:
    files: list[FileResult] = field(default_factory=list)
    seconds: float = 0.0

    def count(self, outcome: str) -> int:
        return sum(1 for f in self.files if f.outcome == outcome)

    @property
    def summary(self) -> str:
        return (f"受理 {self.count('accepted')}，退回 {self.count('rejected')}，重复 {self.count('duplicate')}，"
                f"材料 {self.count('material')}，续处理 {self.count('resumed')}，失败 {self.count('failed')}，"
                f"用时 {self.seconds:.1f} 秒")

    @property
    def ok(self) -> bool:
        return self.count("rejected") == 0 and self.count("failed") == 0


def arrival_time(st: os.stat_result, cfg: Config) -> datetime:
    """When a file reached the folder: the inode change time, which a copy or move sets (the mtime survives
    a copy, so it says when the unit saved it, not when it arrived). Windows: the creation time."""
    ns = st.st_ctime_ns
    if sys.platform == "win32" and hasattr(st, "st_birthtime_ns"):
        ns = st.st_birthtime_ns
    return datetime.fromtimestamp(ns / 1e9, cfg.bureau.tz)


def scan_inbox(cfg: Config, folder: Path | None = None) -> list[Candidate]:
    """Every file under the inbox (or one of its folders) that is not ignored."""
    inbox = cfg.inbox
    out = []
    for dirpath, dirnames, filenames in os.walk(folder or inbox):
        dirnames[:] = sorted(d for d in dirnames if d != RECEIPTS_DIR and not d.startswith("."))
        for name in sorted(filenames):
            path = Path(dirpath) / name
            if kind_of(path, inbox) != IGNORED and path.is_file():
                out.append(Candidate(path, "inbox", folder_unit_of(cfg, path)))
    return out


def folder_unit_of(cfg: Config, path: Path) -> Unit | None:
    try:
        rel = Path(path).resolve().relative_to(cfg.inbox.resolve())
    except ValueError:
        return None
    return cfg.unit_by_folder(rel.parts[0]) if len(rel.parts) > 1 else None


def in_inbox(cfg: Config, path: Path) -> bool:
    try:
        Path(path).resolve().relative_to(cfg.inbox.resolve())
        return True
    except ValueError:
        return False


class Ingester:
    def __init__(self, cfg: Config, ledger: Ledger, clock: Callable[[], datetime],
                 stat: Callable[[Path], os.stat_result] = os.stat, faults: Faults = no_faults):
        self.cfg, self.ledger, self.clock, self.stat, self.faults = cfg, ledger, clock, stat, faults

    def run(self, candidates: list[Candidate], progress: Callable[[FileResult], None] | None = None,
            stop: Callable[[], bool] = lambda: False) -> BatchResult:
        """Process the candidates oldest first; `stop()` is asked between files (SIGTERM: finish the one at hand)."""
        started = time.monotonic()
        self._sweep_temp_files()
        result = BatchResult()
        timed = []
        for cand in candidates:
            try:
                st = self.stat(cand.path)
            except FileNotFoundError:
                continue  # gone before we got to it (another batch took it)
            timed.append((cand.received_at or arrival_time(st, self.cfg), cand, st))
        # Oldest first, so that of two files for the same month the earlier really is the first one.
        for received_at, cand, st in sorted(timed, key=lambda t: (t[0], str(t[1].path))):
            if stop():
                break
            outcome = self.one(cand, st, received_at)
            result.files.append(outcome)
            if progress:
                progress(outcome)
        result.seconds = time.monotonic() - started
        return result

    def _sweep_temp_files(self) -> None:
        """Half-written archive copies from a killed run (their originals are still in the inbox)."""
        if self.cfg.archive.exists():
            for tmp in self.cfg.archive.rglob(".tmp-*"):
                try:
                    tmp.unlink()
                except OSError:
                    pass

    def one(self, cand: Candidate, st: os.stat_result, received_at: datetime) -> FileResult:
        try:
            return self._one(cand, st, received_at)
        except OSError as exc:
            reason = "磁盘空间不足" if getattr(exc, "errno", None) == 28 else f"无法写入（{exc.strerror or exc}）"
            return FileResult(cand.path, "failed", message=f"{reason}：文件仍在收件箱，台账未改动；处理好后重新运行即可")

    def _one(self, cand: Candidate, st: os.stat_result, received_at: datetime) -> FileResult:
        cfg, path = self.cfg, cand.path
        data = path.read_bytes()
        sha = hashlib.sha256(data).hexdigest()
        source_path = self._source_path(path)
        ctime_ns = st.st_ctime_ns if cand.source == "inbox" else None
        if cand.source == "inbox":
            same = self.ledger.same_arrival(source_path, len(data), ctime_ns, sha)
            if same is not None:
                return self._resume(same, path)
        rule = cand.rule or ("inbox_ctime" if cand.source == "inbox" else "clerk")
        now = self.clock()
        folder_unit = cand.folder_unit
        kind = kind_of(path)
        validation: Validation | None = None
        duplicate: Arrival | None = None
        if kind == WORKBOOK:
            matches = [a for a in self.ledger.accepted_with_hash(sha)
                       if folder_unit is None or a.unit == folder_unit.name]
            duplicate = matches[0] if matches else None
            if duplicate is None:
                validation = validate_bytes(data, cfg, now, folder_unit)
                self._add_history(validation)
        if duplicate is not None:
            outcome, unit = "duplicate", duplicate.unit
            period = (duplicate.year, duplicate.month_from, duplicate.month_to)
        elif validation is not None:
            outcome = "accepted" if validation.ok else "rejected"
            unit = validation.unit
            period = (validation.year, validation.month_from, validation.month_to)
        else:
            outcome, unit, period = ("material" if kind in (MATERIAL, EMAIL) else kind), \
                (folder_unit.name if folder_unit else None), (None, None, None)
        issues = validation.issues if validation else []

        key = hashlib.sha256(f"{source_path}|{len(data)}|{ctime_ns}|{received_at.isoformat()}|{sha}".encode()).hexdigest()[:10]
        stamp = received_at.astimezone(cfg.bureau.tz)
        archived = (cfg.archive / f"{stamp:%Y-%m}" / safe_filename(unit or "未知单位")
                    / safe_filename(f"{stamp:%Y%m%d-%H%M%S}_{key}_{path.name}"))
        write_atomic(archived, data)
        self.faults("archived", path)

        folder_name = folder_unit.name if folder_unit else None
        receipts = receipt_folder(cfg, folder_name, unit)
        receipt = receipts / receipt_name(received_at, path.name)
        with self.ledger.transaction() as db:
            arrival_id = self.ledger.record(
                db, now=now, original_name=path.name, source=cand.source, source_path=source_path,
                source_ctime_ns=ctime_ns, sha256=sha, size=len(data), received_at=received_at, received_rule=rule,
                kind=kind, unit=unit, folder_unit=folder_name,
                declared_unit=validation.declared_unit if validation else None,
                year=period[0], month_from=period[1], month_to=period[2],
                sheet=validation.sheet if validation else None, outcome=outcome,
                duplicate_of=duplicate.id if duplicate else None,
                archived_path=self._rel(archived), receipt_path=self._rel(receipt),
                values=validation.counts if outcome == "accepted" and validation else None,
                issues=issues, event=outcome, detail={"file": path.name, "sha256": sha, "rule": rule})
        self.faults("committed", path)
        self._write_receipt(arrival_id, validation)
        self.faults("receipted", path)
        if cand.source == "inbox":
            self._remove(path, arrival_id)
        self.faults("removed", path)
        label = f"{period[0]}年{period[1]}月至{period[2]}月" if period[0] and period[2] else ""
        return FileResult(path, outcome, unit, arrival_id, label, issues=issues)

    def _add_history(self, v: Validation) -> None:
        """W_CUMULATIVE_DROP and W_OUTLIER against the unit's own current submissions."""
        if not v.ok or v.month is None or v.located is None or not v.unit:
            return
        earlier = [a for a in self.ledger.current(unit=v.unit) if Month(a.year, a.month_to) < v.month]  # type: ignore[arg-type]
        if not earlier:
            return
        values = self.ledger.values_for([a.id for a in earlier])
        series = [(Month(a.year, a.month_to), values[a.id]) for a in earlier]  # type: ignore[arg-type]
        v.issues += list(history_rules(v.located, v.month, v.counts, series))

    def _write_receipt(self, arrival_id: int, validation: Validation | None) -> None:
        a = self.ledger.arrival(arrival_id)
        receipt = self.cfg.root / a.receipt_path  # type: ignore[operator]
        markup_name = None
        if a.outcome == "rejected" and a.kind == WORKBOOK:
            markup = receipt.with_name(receipt.stem + "_错误标注.xlsx")
            markup_name = markup.name
            if validation is None:  # resuming after a crash: the workbook is in the archive
                validation = validate_bytes((self.cfg.root / a.archived_path).read_bytes(), self.cfg, self.clock(),
                                            self.cfg.unit_named(a.folder_unit))
            tmp = markup.with_name(".tmp-" + markup.name)
            write_markup(tmp, validation.workbook, validation.issues, a.original_name)
            os.replace(tmp, markup)
        dup_time = self.ledger.arrival(a.duplicate_of).received_at if a.duplicate_of else None
        text = receipt_text(self.cfg, original_name=a.original_name, received_at=a.received_at,
                            received_rule=a.received_rule, unit=a.unit, year=a.year, month_from=a.month_from,
                            month_to=a.month_to, outcome=a.outcome, issues=self.ledger.issues_of(a.id),
                            duplicate_of_time=dup_time, markup_name=markup_name)
        write_atomic(receipt, text.encode("utf-8-sig"))

    def _resume(self, arrival: Arrival, path: Path) -> FileResult:
        """A recorded arrival whose inbox copy survived a crash: finish the job, count nothing twice."""
        if arrival.receipt_path and not (self.cfg.root / arrival.receipt_path).exists():
            self._write_receipt(arrival.id, None)
        self._remove(path, arrival.id)
        self.ledger.log("resumed", self.clock(), arrival.id, {"file": path.name})
        return FileResult(path, "resumed", arrival.unit, arrival.id, message="上次中断后已记录，本次仅完成移出收件箱")

    def _remove(self, path: Path, arrival_id: int) -> None:
        try:
            path.unlink()
        except FileNotFoundError:
            pass
        except PermissionError:
            # Excel on Windows holds the file open; it is archived and recorded, the next run removes it.
            self.ledger.log("remove_deferred", self.clock(), arrival_id, {"file": path.name})

    def _source_path(self, path: Path) -> str:
        resolved = path.resolve()
        try:
            return resolved.relative_to(self.cfg.root).as_posix()
        except ValueError:
            return str(resolved)

    def _rel(self, path: Path) -> str:
        try:
            return path.resolve().relative_to(self.cfg.root).as_posix()
        except ValueError:
            return str(path.resolve())
