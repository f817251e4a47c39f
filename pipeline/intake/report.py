"""What judging and ingesting files return: typed reports, one per file, that the library hands back and the
CLI prints (cli/printers.py, one printer per type) or dumps (`to_dict()`, the JSON of spec §7 and §12, keys
in the order scripts already read). `validate` and `ingest` report through these and nothing else, so the
two cannot drift apart.

- `validate` (check.check_files) -> `Report` of `FileReport` (a judged file) and `IgnoredFile` (a lock,
  temp or system file it skipped).
- `ingest` (ingest.Ingester.run) -> `BatchResult` of `FileResult` (what became of each file), `Waiting`
  (files not ready yet); `fetch` -> `FetchResult`: that batch and what became of the mailbox's messages.

Nothing here parses, reads or writes: this module is imported by the CLI before any command runs."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence, Union

from ..core.issues import Issue
from ..core.safe_names import display_name

if TYPE_CHECKING:
    from ..reading.locate import LocatedForm
    from ..reading.reader import WorkbookData
    from .fetch_store import MailRow
    from .judge import Judged

# A file with one of these outcomes is fine for the unit; any other makes `validate` exit 1.
OK_OUTCOMES = ("accepted", "duplicate", "material", "email")
INGEST_OUTCOMES = ("accepted", "rejected", "duplicate", "material", "resumed", "failed")  # ingest --json's counts


@dataclass(frozen=True)
class FileReport:
    """One file as `validate` judged it — exactly as ingest would judge it (an e-mail's attachment has its own).
    `workbook` and `located`: what the sandbox extracted and where the form sits in it, when a workbook was
    read (`validate --markup` draws its copy from them, never from the file again)."""

    path: str  # as shown to people: sanitized; an attachment is 邮件名#附件名
    outcome: str  # accepted | rejected | duplicate | material | email | failed
    kind: str  # workbook | task_form | material | email | spreadsheet_format | link
    unit: str | None = None
    year: int | None = None
    month_from: int | None = None
    month_to: int | None = None
    issues: tuple[Issue, ...] = ()
    values: dict = field(default_factory=dict)  # sector -> metric -> figure (合计 and rates computed)
    material: dict | None = None  # a work material's kind and detection (MaterialJudgement.to_dict)
    workbook: WorkbookData | None = field(default=None, compare=False, repr=False)
    located: LocatedForm | None = field(default=None, compare=False, repr=False)

    @property
    def ok(self) -> bool:
        return self.outcome in OK_OUTCOMES

    def to_dict(self) -> dict:
        """The file's entry in `validate --json` (spec §7)."""
        out: dict[str, Any] = {"path": self.path, "ok": self.ok, "unit": self.unit, "year": self.year,
                               "month_from": self.month_from, "month_to": self.month_to,
                               "issues": [i.to_dict() for i in self.issues], "values": self.values,
                               "outcome": self.outcome}
        if self.material is not None:
            out["material"] = self.material
        return out


@dataclass(frozen=True)
class IgnoredFile:
    """A file `validate` was given but does not judge: a lock, temp or system file (files.IGNORED)."""

    path: str
    ok = True

    def to_dict(self) -> dict:
        return {"path": self.path, "ignored": True, "ok": True, "unit": None, "year": None, "month_from": None,
                "month_to": None, "issues": [], "values": {}}


Entry = Union[FileReport, IgnoredFile]


@dataclass(frozen=True)
class Report:
    """What `annex2 validate` prints: one entry per file given (an e-mail: one per attachment, and the e-mail
    itself when it is refused)."""

    files: tuple[Entry, ...] = ()

    @property
    def ok(self) -> bool:
        return all(f.ok for f in self.files)

    def to_dict(self) -> dict:
        return {"files": [f.to_dict() for f in self.files]}


def file_report(path: str, judged: Judged) -> FileReport:
    """A judgement as a report. Where a workbook was validated, its unit and period are the validation's (an
    unreadable workbook in a unit's folder reports no unit: nothing in the file said one)."""
    v = judged.validation
    if v is not None:
        return FileReport(path, judged.outcome, judged.kind, v.unit, v.year, v.month_from, v.month_to,
                          tuple(judged.issues), v.values, _material(judged), v.workbook, v.located)
    y, f, t = judged.period
    return FileReport(path, judged.outcome, judged.kind, judged.unit, y, f, t, tuple(judged.issues), {},
                      _material(judged))


def _material(judged: Judged) -> dict | None:
    if judged.material is None:
        return None
    return judged.material.to_dict()["material"]  # type: ignore[attr-defined]


# --- ingest ------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class FileResult:
    """What `ingest` did with one file (an e-mail's attachment has its own)."""

    path: Path
    outcome: str  # accepted | rejected | duplicate | material | email | resumed | failed
    unit: str | None = None
    arrival_id: int | None = None
    period: str = ""
    message: str = ""
    issues: Sequence[Issue] = ()
    name: str = ""  # as shown to people (an e-mail's attachment: 邮件名#附件名)

    def __post_init__(self) -> None:
        if not self.name:
            object.__setattr__(self, "name", display_name(self.path.name))

    def to_dict(self) -> dict:
        """The file's entry in `ingest --json` (spec §12)."""
        return {"path": str(self.path), "outcome": self.outcome, "unit": self.unit, "id": self.arrival_id,
                "period": self.period or None, "message": self.message or None,
                "issues": [{"severity": i.severity, "code": i.code, "sheet": i.sheet, "cell": i.cell,
                            "sector": i.sector, "metric": i.metric, "message": i.message} for i in self.issues]}


@dataclass(frozen=True)
class Waiting:
    path: Path
    reason: str
    held: bool = False  # in a folder that belongs to no one: waits for the clerk, not for the file


@dataclass
class BatchResult:
    """One ingest run (filled in as it goes: a progress bar and the watcher show each file as it ends)."""

    files: list[FileResult] = field(default_factory=list)
    waiting: list[Waiting] = field(default_factory=list)
    fault: str | None = None  # the ledger could not be written: the batch stopped here
    seconds: float = 0.0

    def count(self, outcome: str) -> int:
        return sum(1 for f in self.files if f.outcome == outcome)

    @property
    def summary(self) -> str:
        text = (f"受理 {self.count('accepted')}，退回 {self.count('rejected')}，重复 {self.count('duplicate')}，"
                f"材料 {self.count('material')}，续处理 {self.count('resumed')}，失败 {self.count('failed')}，"
                f"等待 {len(self.waiting)}，用时 {self.seconds:.1f} 秒")
        return text + (f"\n{self.fault}" if self.fault else "")

    @property
    def ok(self) -> bool:
        return self.count("rejected") == 0 and self.count("failed") == 0 and self.fault is None

    def to_dict(self) -> dict:
        """`ingest --json`: {"ok", "counts": {outcome: n}, "files": [...]}"""
        return {"ok": self.ok, "counts": {o: self.count(o) for o in INGEST_OUTCOMES},
                "files": [f.to_dict() for f in self.files]}


@dataclass
class FetchResult:
    """One `annex2 fetch` (or a watcher's round of it): the ingest batch of what was downloaded, and the messages
    that were not ingested (too big, from no unit's address), the replies, the mailbox's error."""

    batch: BatchResult = field(default_factory=BatchResult)
    downloaded: int = 0
    same: int = 0  # recorded before under another UID (the second key)
    too_big: list[MailRow] = field(default_factory=list)
    unclaimed: list[MailRow] = field(default_factory=list)
    replies_sent: int = 0
    reply_errors: list[str] = field(default_factory=list)
    error: str | None = None  # the mailbox could not be read (unreachable, login refused)

    @property
    def ok(self) -> bool:
        return self.batch.ok and self.error is None and not self.too_big and not self.reply_errors

    @property
    def summary(self) -> str:
        text = (f"新邮件 {self.downloaded}（另有 {self.same} 封此前已收过），过大未下载 {len(self.too_big)}，"
                f"待认领 {len(self.unclaimed)}，回复 {self.replies_sent}")
        return text + "\n" + self.batch.summary
