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
from .issues import Issue, issue
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


@dataclass(frozen=True)
class Incoming:
    """One file's bytes and where and when it came from (an e-mail attachment is one too)."""

    name: str
    data: bytes
    sha256: str
    source_path: str
    ctime_ns: int | None
    received_at: datetime
    rule: str
    # What names the archive copy: the same for the same arrival however its received time was found (a
    # watcher event before a crash, the metadata on the rescan after it), so a re-run overwrites its own copy.
    stamp: datetime | None = None

    def at(self, received_at: datetime, rule: str) -> "Incoming":
        return Incoming(self.name, self.data, self.sha256, self.source_path, self.ctime_ns, received_at, rule,
                        self.stamp)


@dataclass
class Judged:
    outcome: str  # accepted | rejected | duplicate | material | email
    unit: str | None
    period: tuple[int | None, int | None, int | None]
    validation: Validation | None = None
    duplicate: Arrival | None = None
    issues: list[Issue] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.validation is not None and not self.issues:
            self.issues = self.validation.issues

    def result(self, path: Path, arrival_id: int, name: str | None = None) -> FileResult:
        y, f, t = self.period
        label = f"{y}年{f}月至{t}月" if y and t else ""
        return FileResult(path if name is None else path.with_name(f"{path.name}#{name}"), self.outcome,
                          self.unit, arrival_id, label, issues=self.issues)


OUTCOME_SHORT = {"accepted": "已受理", "rejected": "退回", "duplicate": "重复报送，未重复计入", "material": "已存档（附件材料）"}


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
            outcomes = self.one(cand, st, received_at)
            result.files += outcomes
            if progress:
                progress(outcomes[-1])
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

    def one(self, cand: Candidate, st: os.stat_result, received_at: datetime) -> list[FileResult]:
        try:
            return self._one(cand, st, received_at)
        except OSError as exc:
            reason = "磁盘空间不足" if getattr(exc, "errno", None) == 28 else f"无法写入（{exc.strerror or exc}）"
            return [FileResult(cand.path, "failed", message=f"{reason}：文件仍在收件箱，台账未改动；处理好后重新运行即可")]

    def _one(self, cand: Candidate, st: os.stat_result, received_at: datetime) -> list[FileResult]:
        cfg, path = self.cfg, cand.path
        data = path.read_bytes()
        sha = hashlib.sha256(data).hexdigest()
        source_path = self._source_path(path)
        ctime_ns = st.st_ctime_ns if cand.source == "inbox" else None
        if cand.source == "inbox":
            same = self.ledger.same_arrival(source_path, len(data), ctime_ns, sha)
            if same is not None:
                return [self._resume(same, path)]
        stamp = arrival_time(st, cfg) if cand.source == "inbox" else received_at
        file = Incoming(path.name, data, sha, source_path, ctime_ns, received_at,
                        cand.rule or ("inbox_ctime" if cand.source == "inbox" else "clerk"), stamp)
        kind = kind_of(path)
        if kind == EMAIL:
            return self._email(cand, file)
        now = self.clock()
        owner = cand.folder_unit
        if kind == WORKBOOK:
            judged = self._judge(file, owner, None, now)
        else:
            judged = Judged("material", owner.name if owner else None, (None, None, None))
        archived = self._archive(file, judged.unit, "")
        self.faults("archived", path)
        receipts = receipt_folder(cfg, owner.name if owner else None, judged.unit)
        with self.ledger.transaction() as db:
            arrival_id = self._record(db, now, cand.source, kind, file, judged, owner, archived,
                                      receipts / receipt_name(file.received_at, file.name))
        self.faults("committed", path)
        self._write_receipt(arrival_id, judged.validation)
        self.faults("receipted", path)
        if cand.source == "inbox":
            self._remove(path, arrival_id)
        self.faults("removed", path)
        return [judged.result(path, arrival_id)]

    def _judge(self, file: "Incoming", owner: Unit | None, owner_says: str | None, now: datetime) -> "Judged":
        """A workbook's outcome: a duplicate of an accepted submission of the same unit, or validated."""
        matches = [a for a in self.ledger.accepted_with_hash(file.sha256) if owner is None or a.unit == owner.name]
        if matches:
            d = matches[0]
            return Judged("duplicate", d.unit, (d.year, d.month_from, d.month_to), duplicate=d)
        v = validate_bytes(file.data, self.cfg, now, owner, owner_says)
        self._add_history(v)
        return Judged("accepted" if v.ok else "rejected", v.unit, (v.year, v.month_from, v.month_to), validation=v)

    def _archive(self, file: "Incoming", unit: str | None, part: str) -> Path:
        """Where the original is kept: outside the inbox, a name that is safe and the same for the same
        arrival (a re-run after a crash overwrites its own half-done copy instead of making a second)."""
        stamp = (file.stamp or file.received_at).astimezone(self.cfg.bureau.tz)
        key = hashlib.sha256(f"{file.source_path}|{len(file.data)}|{file.ctime_ns}|{stamp.isoformat()}|"
                             f"{file.sha256}".encode()).hexdigest()[:10]
        name = safe_filename(f"{stamp:%Y%m%d-%H%M%S}_{key}_{part}{file.name}")
        path = self.cfg.archive / f"{stamp:%Y-%m}" / safe_filename(unit or "未知单位") / name
        write_atomic(path, file.data)
        return path

    def _record(self, db, now: datetime, source: str, kind: str, file: "Incoming", judged: "Judged",
                owner: Unit | None, archived: Path, receipt: Path | None, parent_id: int | None = None) -> int:
        v = judged.validation
        return self.ledger.record(
            db, now=now, original_name=file.name, source=source, source_path=file.source_path,
            source_ctime_ns=file.ctime_ns, sha256=file.sha256, size=len(file.data), received_at=file.received_at,
            received_rule=file.rule, kind=kind, unit=judged.unit, folder_unit=owner.name if owner else None,
            declared_unit=v.declared_unit if v else None, year=judged.period[0], month_from=judged.period[1],
            month_to=judged.period[2], sheet=v.sheet if v else None, outcome=judged.outcome,
            duplicate_of=judged.duplicate.id if judged.duplicate else None, parent_id=parent_id,
            archived_path=self._rel(archived), receipt_path=self._rel(receipt) if receipt else None,
            values=v.counts if judged.outcome == "accepted" and v else None,
            issues=judged.issues, event=judged.outcome,
            detail={"file": file.name, "sha256": file.sha256, "rule": file.rule})

    def _email(self, cand: Candidate, file: "Incoming") -> list[FileResult]:
        """A saved e-mail: each spreadsheet attachment is a submission, received when the bureau's server
        stamped the e-mail; the rest are materials. All of it is archived and recorded in one transaction."""
        from . import mail as mail_mod

        cfg, now = self.cfg, self.clock()
        try:
            mail = mail_mod.parse(file.data, now, cfg.limits.max_email_mb, cfg.limits.max_attachments)
        except mail_mod.MailProblem as problem:
            mail, broken = None, str(problem)
        else:
            broken = None
        if mail is not None and mail.received_at is not None and file.rule != "clerk":
            file = file.at(mail.received_at.astimezone(cfg.bureau.tz), mail.rule)  # type: ignore[arg-type]
        elif file.rule != "clerk":
            file = file.at(file.received_at, "email_arrival")
        sender_unit = cfg.unit_by_email(mail.sender) if mail and mail.sender else None
        owner = sender_unit or cand.folder_unit
        owner_says = f"发件邮箱 {mail.sender} 属于“{sender_unit.name}”" if sender_unit and mail else None
        parts: list[tuple[Incoming, str, Judged]] = []
        for att in (mail.attachments if mail else []):
            part = Incoming(att.filename, att.data, hashlib.sha256(att.data).hexdigest(),
                            f"{file.source_path}#{att.index}", None, file.received_at, file.rule, file.stamp)
            if att.is_workbook:
                parts.append((part, WORKBOOK, self._judge(part, owner, owner_says, now)))
            else:
                parts.append((part, MATERIAL, Judged("material", owner.name if owner else None, (None, None, None))))
        units = {j.unit for _p, k, j in parts if k == WORKBOOK and j.unit}
        unit = owner.name if owner else (units.pop() if len(units) == 1 else None)
        earlier = self.ledger.emails_with_hash(file.sha256)  # the same e-mail saved and dropped again
        container = Judged("duplicate" if earlier else ("rejected" if broken else "email"), unit, (None, None, None),
                           duplicate=earlier[0] if earlier else None,
                           issues=[issue("E_UNREADABLE", broken)] if broken else [])
        email_archive = self._archive(file, unit, "")
        part_archives = [self._archive(p, unit, f"附件{i + 1}_") for i, (p, _k, _j) in enumerate(parts)]
        self.faults("archived", cand.path)
        receipts = receipt_folder(cfg, cand.folder_unit.name if cand.folder_unit else None, unit)
        with self.ledger.transaction() as db:
            email_id = self._record(db, now, cand.source, EMAIL, file, container, owner, email_archive,
                                    receipts / receipt_name(file.received_at, file.name))
            part_ids = [self._record(db, now, "email", kind, p, j, owner, archived,
                                     receipts / receipt_name(file.received_at, p.name) if kind == WORKBOOK else None,
                                     parent_id=email_id)
                        for (p, kind, j), archived in zip(parts, part_archives)]
        self.faults("committed", cand.path)
        for (p, kind, j), part_id in zip(parts, part_ids):
            if kind == WORKBOOK:
                self._write_receipt(part_id, j.validation)
        self._write_receipt(email_id, None)
        self.faults("receipted", cand.path)
        if cand.source == "inbox":
            self._remove(cand.path, email_id)
        self.faults("removed", cand.path)
        results = [j.result(cand.path, pid, name=p.name) for (p, _k, j), pid in zip(parts, part_ids)]
        note = "邮件中没有附件2表格" if mail and not mail.workbooks else (broken or "")
        return results + [FileResult(cand.path, container.outcome, unit, email_id, message=note, issues=container.issues)]

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
        attachments = None
        if a.kind == EMAIL:
            children = self.ledger.children(a.id)
            attachments = [f"{c.original_name} —— {OUTCOME_SHORT.get(c.outcome, c.outcome)}" for c in children]
            if not any(c.kind == WORKBOOK for c in children):
                attachments.append("邮件中没有附件2表格（.xlsx/.xls/.ods），请把填好的附件2作为附件重新发送")
        text = receipt_text(self.cfg, original_name=a.original_name, received_at=a.received_at,
                            received_rule=a.received_rule, unit=a.unit, year=a.year, month_from=a.month_from,
                            month_to=a.month_to, outcome=a.outcome, issues=self.ledger.issues_of(a.id),
                            duplicate_of_time=dup_time, markup_name=markup_name, attachments=attachments)
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
