"""Judging one arrival: what it is, whose it is, when it came, and whether it is accepted. Nothing here
writes: `validate` prints what these functions return, and `ingest` commits it, so the two always agree.

Every judgement runs inside an error boundary: whatever a file does to a parser, it ends as an outcome
(`failed` with E_INTERNAL at worst), never as an exception that stops the batch."""
from __future__ import annotations

import hashlib
import logging
import traceback
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Callable

from ..core.config import Config, Unit
from ..core.files import EMAIL, MATERIAL, REFUSED_SPREADSHEET, WORKBOOK, kind_of
from ..core.issues import Issue, issue
from ..core.months import Month
from ..reading.reader import ReadProblem, WorkbookData, read_workbook
from ..reading.sandbox import SandboxFailure, run_untrusted
from ..statistics.history import history_rules
from ..statistics.validate import Validation, validate_workbook
from ..storage.ledger import Arrival, Ledger
from ..tasks.form import is_task_form
from ..tasks.task_list import TaskList

log = logging.getLogger("annex2")
TASK_FORM = "task_form"
Reader = Callable[..., object]


@dataclass(frozen=True)
class Incoming:
    """One arrival's bytes and where and when it came from (an e-mail attachment is one too)."""

    name: str  # as shown to people: sanitized
    data: bytes | None  # None: over the size limit, never read whole (archived in chunks)
    sha256: str
    size: int
    source_path: str
    ctime_ns: int | None
    received_at: datetime
    rule: str
    # What names the archive copy: the same for the same arrival however its received time was found (a
    # watcher event before a crash, the metadata on the rescan after it), so a re-run overwrites its own copy.
    stamp: datetime | None = None
    detail: dict = field(default_factory=dict)  # recorded, not trusted: header times, the raw name's bytes

    def at(self, received_at: datetime, rule: str, **detail) -> "Incoming":
        return Incoming(self.name, self.data, self.sha256, self.size, self.source_path, self.ctime_ns,
                        received_at, rule, self.stamp, {**self.detail, **detail})

    @staticmethod
    def of_bytes(name: str, data: bytes, source_path: str, received_at: datetime, rule: str,
                 stamp: datetime | None = None) -> "Incoming":
        return Incoming(name, data, hashlib.sha256(data).hexdigest(), len(data), source_path, None,
                        received_at, rule, stamp)


@dataclass
class Judged:
    outcome: str  # accepted | rejected | duplicate | material | email | failed
    kind: str  # workbook | task_form | material | email | spreadsheet_format | link
    unit: str | None = None
    period: tuple[int | None, int | None, int | None] = (None, None, None)
    validation: Validation | None = None
    duplicate: Arrival | None = None
    duplicate_part: int | None = None  # an earlier attachment of the same e-mail with the same bytes
    issues: list[Issue] = field(default_factory=list)
    parts: list[tuple[Incoming, "Judged"]] = field(default_factory=list)  # an e-mail's attachments
    note: str = ""
    retimed: Incoming | None = None  # an e-mail's own file, with the time and headers judging found
    task: object | None = None  # a progress form's TaskFormJudgement
    material: object | None = None  # a work material's MaterialJudgement

    def __post_init__(self) -> None:
        if self.validation is not None and not self.issues:
            self.issues = self.validation.issues

    @property
    def period_label(self) -> str:
        """The Annex 2's cumulative period (2023年1月至5月); a material's or progress form's month (2023年5月)."""
        y, f, t = self.period
        if not (y and t):
            return ""
        return f"{y}年{t}月" if self.kind in (MATERIAL, TASK_FORM) else f"{y}年{f}月至{t}月"


def failed(kind: str, where: str, exc: BaseException) -> Judged:
    """The error boundary's verdict: the traceback goes to the log, the unit gets E_INTERNAL."""
    log.error("处理文件出错（%s）：%s\n%s", where, exc,
              "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)))
    return Judged("failed", kind, issues=[issue("E_INTERNAL", f"处理时出现 {type(exc).__name__}")])


class Judge:
    """Judges arrivals for one working folder. `ledger` (optional) gives the history rules and duplicates;
    `read` parses workbook bytes (the child-process reader in intake)."""

    def __init__(self, cfg: Config, ledger: Ledger | None, now: datetime, read: Reader = read_workbook,
                 month_hint: Month | None = None):
        self.cfg, self.ledger, self.now, self.read = cfg, ledger, now, read
        self.in_process = getattr(read, "in_process", read is read_workbook)  # the caller chose in-process parsing
        self._task_list: TaskList | None = None  # read once, when the first progress form comes
        self.month_hint = month_hint  # the clerk's --month, for materials
        self._history: dict[str, dict[Month, dict]] = {}

    def file(self, file: Incoming, kind: str, owner: Unit | None, clerk_folder: bool) -> Judged:
        try:
            if file.data is None:
                limit = self.cfg.limits.max_email_mb if kind == EMAIL else self.cfg.limits.max_file_mb
                return Judged("rejected", kind, owner.name if owner else None, issues=[issue(
                    "E_UNREADABLE", f"文件大小 {file.size / 1024 / 1024:.1f} MB，超过上限 {limit:g} MB")])
            if kind == EMAIL:
                return self.email(file, owner, clerk_folder)
            return self.single(file, kind, owner, None)
        except Exception as exc:  # the boundary: one file never stops the others
            return failed(kind, file.name, exc)

    def single(self, file: Incoming, kind: str, owner: Unit | None, owner_says: str | None) -> Judged:
        if kind == WORKBOOK:
            return self.workbook(file, owner, owner_says)
        unit = owner.name if owner else None
        if kind == REFUSED_SPREADSHEET:
            suffix = Path(file.name).suffix.lower() or "（无扩展名）"
            return Judged("rejected", kind, unit, issues=[issue("E_FORMAT", f"{suffix} 格式的表格系统无法读取")])
        return self.material(file, owner, owner_says)

    def material(self, file: Incoming, owner: Unit | None, owner_says: str | None) -> Judged:
        """A monthly work material (spec 10): stamped or electronic, its unit and month; judged in the
        sandbox like a workbook. Bytes that are really a workbook are validated as one."""
        from ..materials.classify import judge_material

        try:
            j = run_untrusted(judge_material, file.name, file.data, owner.name if owner else None, self.cfg,
                              file.received_at, self.month_hint, limits=self.cfg.limits)
        except SandboxFailure as failure:
            return Judged("rejected", MATERIAL, owner.name if owner else None,
                          issues=[issue("E_UNREADABLE", failure.reason_zh)])
        if j.is_spreadsheet:
            return self.workbook(file, owner, owner_says)
        return Judged("material" if j.ok else "rejected", MATERIAL, j.unit, (j.year, j.month, j.month),
                      issues=list(j.issues), material=j)

    def workbook(self, file: Incoming, owner: Unit | None, owner_says: str | None) -> Judged:
        """A duplicate of the unit's current Annex 2 (the same bytes as a superseded version are a new version,
        spec 4), or validated (with the unit's history)."""
        if self.ledger is not None:
            matches = [a for a in self.ledger.current_with_hash(file.sha256)
                       if a.kind == WORKBOOK and (owner is None or a.unit == owner.name)]
            if matches:
                d = matches[0]
                return Judged("duplicate", WORKBOOK, d.unit, (d.year, d.month_from, d.month_to), duplicate=d)
        assert file.data is not None
        try:
            book: WorkbookData = self.read(file.data, self.cfg.limits)  # type: ignore[assignment]
        except ReadProblem as problem:
            return Judged("rejected", WORKBOOK, owner.name if owner else None,
                          validation=Validation([issue(problem.code, problem.reason)]))
        except SandboxFailure as failure:
            return Judged("rejected", WORKBOOK, owner.name if owner else None,
                          validation=Validation([issue("E_UNREADABLE", failure.reason_zh)]))
        if is_task_form(book):  # a 重点任务推进情况表 (spec 11), due with the materials
            return self.task_form(book, owner)
        v = validate_workbook(book, self.cfg, self.now, owner, owner_says)
        self.add_history(v)
        return Judged("accepted" if v.ok else "rejected", WORKBOOK, v.unit, (v.year, v.month_from, v.month_to),
                      validation=v)

    def task_form(self, book: WorkbookData, owner: Unit | None) -> Judged:
        """A progress form on the Annex 1 tasks. A broken task list is not the unit's fault: the form ends
        `failed` with E_TASK_LIST and the clerk is told to mend the list; intake judges it again once the list
        is valid (that wait spends no retry) and the unit's receipt says so meanwhile."""
        from ..tasks.form import check_task_form
        from ..tasks.task_list import TaskListError, read_task_list

        if self._task_list is None:
            try:
                self._task_list = read_task_list(self.cfg)
            except TaskListError as exc:
                log.error("重点任务清单有误，推进情况表暂不能校验：%s", "；".join(exc.problems))
                return Judged("failed", TASK_FORM, owner.name if owner else None, issues=[issue(
                    "E_TASK_LIST", "局重点任务清单有误，本表暂不能校验，清单更正后系统自动校验")])
        j = check_task_form(book, self.cfg, owner.name if owner else None, self.now, self._task_list)
        return Judged(j.outcome, TASK_FORM, j.unit, (j.year, j.month, j.month), issues=list(j.issues), task=j)

    def add_history(self, v: Validation) -> None:
        """W_CUMULATIVE_DROP and W_OUTLIER against the unit's own current submissions."""
        if self.ledger is None or not v.ok or v.month is None or v.located is None or not v.unit:
            return
        series = sorted((m, c) for m, c in self._history_of(v.unit).items() if m < v.month)
        if series:
            v.issues += list(history_rules(v.located, v.month, v.counts, series))

    def _history_of(self, unit: str) -> dict[Month, dict]:
        """The unit's current figures by month, read from the ledger once per batch and kept up to date by
        `remember` as the batch records more (so the rules never re-read a growing history per file)."""
        if unit not in self._history:
            assert self.ledger is not None
            current = self.ledger.current(unit=unit)
            values = self.ledger.values_for([a.id for a in current])
            self._history[unit] = {Month(a.year, a.month_to): values[a.id] for a in current}  # type: ignore[arg-type]
        return self._history[unit]

    def remember(self, judged: "Judged") -> None:
        """An accepted Annex 2 was recorded: it is its unit's current submission for its month now."""
        v = judged.validation
        if judged.outcome == "accepted" and v is not None and v.unit and v.month and v.unit in self._history:
            self._history[v.unit][v.month] = v.counts

    def _parse_mail(self, data: bytes):
        """An e-mail is untrusted bytes too: the e-mail package's header parsing can cost memory quadratic in
        a header's length (an 84 KB From: costs ~570 MB), so it is parsed in the child process, under the
        same memory and time caps as a workbook — unless the caller chose in-process parsing (`read_workbook`)."""
        from ..reading import mail as mail_mod
        args = (data, self.now, self.cfg.limits.max_email_mb, self.cfg.limits.max_attachments)
        if self.in_process:
            return mail_mod.parse(*args)
        from ..reading.sandbox import run_untrusted

        return run_untrusted(mail_mod.parse, *args, limits=self.cfg.limits)

    def email(self, file: Incoming, folder_unit: Unit | None, clerk_folder: bool) -> Judged:
        """A saved e-mail. Its identity and time cannot be forged from inside a unit's folder: there it belongs
        to the folder's unit (a From: of another unit is E_UNIT_MISMATCH) and it arrived when it reached the
        folder; the headers' times are recorded, not trusted. Only e-mails the clerk saves into the inbox root
        take the bureau server's Received: stamp — never later than the file's own arrival."""
        from ..reading import mail as mail_mod
        cfg = self.cfg
        try:
            mail = self._parse_mail(file.data or b"")
        except mail_mod.MailProblem as problem:
            unit = folder_unit.name if folder_unit else None
            return Judged("rejected", EMAIL, unit, issues=[issue("E_UNREADABLE", str(problem))])
        except SandboxFailure as failure:
            unit = folder_unit.name if folder_unit else None
            return Judged("rejected", EMAIL, unit, issues=[issue("E_UNREADABLE", failure.reason_zh)])
        headers = {"from": mail.sender, "header_time": mail.received_at.isoformat() if mail.received_at else None,
                   "header_rule": mail.rule}
        sender_unit = cfg.unit_by_email(mail.sender) if mail.sender else None
        issues: list[Issue] = []
        owner: Unit | None
        if folder_unit is not None:
            owner, owner_says = folder_unit, None
            if sender_unit is not None and sender_unit != folder_unit:
                issues.append(issue("E_UNIT_MISMATCH", f"邮件发件人 {mail.sender} 属于“{sender_unit.name}”，"
                                    f"却放在“{folder_unit.name}”的文件夹中"))
        else:
            owner = sender_unit
            owner_says = f"发件邮箱 {mail.sender} 属于“{sender_unit.name}”" if sender_unit else None
        if clerk_folder and mail.received_at is not None and file.rule != "clerk":
            stamp = mail.received_at.astimezone(cfg.bureau.tz)
            if stamp < file.received_at:  # never later than it reached us
                file = file.at(stamp, mail.rule or "email_received")
        parts: list[tuple[Incoming, Judged]] = []
        seen: dict[str, int] = {}
        for att in mail.attachments:
            part = Incoming.of_bytes(att.filename, att.data, f"{file.source_path}#{att.index}", file.received_at,
                                     file.rule, file.stamp)
            kind = kind_of(Path(att.filename or "附件"))
            kind = MATERIAL if kind == EMAIL else kind  # a nested .eml is kept as material, not opened
            if part.sha256 in seen:  # the same file attached twice is one submission
                judged = Judged("duplicate", kind, owner.name if owner else None, duplicate_part=seen[part.sha256])
            else:
                try:
                    judged = self.single(part, kind if kind != "ignored" else MATERIAL, owner, owner_says)
                except Exception as exc:
                    judged = failed(kind, f"{file.name}#{att.filename}", exc)
                seen[part.sha256] = len(parts)
            if issues and judged.outcome in ("accepted", "material"):
                judged = Judged("rejected", judged.kind, judged.unit, judged.period, judged.validation,
                                issues=[*judged.issues, *issues])
            parts.append((part, judged))
        units = {j.unit for _p, j in parts if j.kind == WORKBOOK and j.unit}
        unit = owner.name if owner else (units.pop() if len(units) == 1 else None)
        earlier = self.ledger.emails_with_hash(file.sha256) if self.ledger is not None else []
        outcome = "duplicate" if earlier else ("rejected" if issues else "email")
        note = "" if mail.workbooks else "邮件中没有附件2表格"
        return Judged(outcome, EMAIL, unit, duplicate=earlier[0] if earlier else None, issues=issues,
                      parts=parts, note=note, retimed=file.at(file.received_at, file.rule, **headers))
