"""The per-file commit, paid once per group of arrivals: archive every file -> one durability barrier -> one
ledger transaction -> receipts -> a barrier -> remove from the inbox. A crash between any two steps leaves a
file either still in the inbox or archived and recorded, never both counted (ingest.py says how)."""
from __future__ import annotations

import sqlite3
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from ..core.config import Config, Unit
from ..core.files import MATERIAL, WORKBOOK
from ..core.safe_names import safe_filename
from ..reading.readiness import open_for_writing
from ..storage.durable import barrier, fsync_dir, write_atomic
from ..storage.ledger import Arrival, Ledger
from .arrivals import LedgerFault, Loaded, Plan, Prepared, file_key, ledger_fault_text
from .inbox_files import _copy_chunked
from .judge import TASK_FORM, Incoming, Judged
from .receipts import receipt_folder, receipt_name
from .report import FileResult

if TYPE_CHECKING:
    from .judge import Judge

RECEIPTED_PARTS = (WORKBOOK, TASK_FORM, MATERIAL)  # e-mail attachments that get a receipt of their own


class Committing:
    """Ingester's commit (a mixin: the Ingester holds the folder, the ledger and the clock)."""

    cfg: Config
    ledger: Ledger
    clock: Callable[[], datetime]
    faults: Callable[[str, Path], None]
    judge_: Judge | None
    _unsynced: list[Path]

    if TYPE_CHECKING:  # the Ingester's own steps (ingest.py, receipting.py) that a commit calls
        def _commit_or_fail(self, group: list[Prepared]) -> list[FileResult]: ...

        def _resume(self, arrival: Arrival, item: Loaded) -> FileResult: ...

        def _receipt_guarded(self, arrival_id: int, judged: Judged | None) -> list[Path]: ...

        def _remove(self, item: Loaded, arrival_id: int, writers: set[tuple[int, int]] | None = None) -> bool: ...

        def _rel(self, path: Path) -> str: ...

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
        receipt = None
        if receipts is not None:
            local = file.received_at.astimezone(self.cfg.bureau.tz)  # names read in the bureau's time
            first = self.ledger.arrival(retry_of).receipt_path if retry_of is not None else None
            # A retry's verdict replaces the failed attempt's receipt: the unit reads one, final, answer.
            receipt = lambda arrival_id: first or self._rel(receipts / receipt_name(local, file.name, arrival_id))  # noqa: E731
        arrival_id = self.ledger.record(
            db, now=now, original_name=file.name, source=source, source_path=file.source_path,
            source_ctime_ns=file.ctime_ns, sha256=file.sha256, size=file.size, received_at=file.received_at,
            received_rule=file.rule, kind=judged.kind, unit=judged.unit, folder_unit=owner.name if owner else None,
            declared_unit=v.declared_unit if v else None, year=judged.period[0], month_from=judged.period[1],
            month_to=judged.period[2], sheet=v.sheet if v else None, outcome=judged.outcome, duplicate_of=dup, parent_id=parent_id,
            archived_path=self._rel(archived), receipt=receipt,
            arrival_key=key, retry_of=retry_of,
            values=judged.validation.counts if judged.outcome == "accepted" and judged.validation else None,
            issues=judged.issues, event=judged.outcome,
            detail={"file": file.name, "sha256": file.sha256, "rule": file.rule, **file.detail})
        return arrival_id

    def _record_extra(self, db, arrival_id: int, judged: Judged) -> None:
        """What an obligation keeps beyond the arrival row, in the same transaction."""
        if judged.task is not None:
            from ..tasks.form import record_task_form

            record_task_form(db, arrival_id, judged.task)  # type: ignore[arg-type]
        if judged.material is not None:
            from ..materials.state import record_material

            record_material(db, arrival_id, judged.material)  # type: ignore[arg-type]
