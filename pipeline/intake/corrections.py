"""One unit's history, and the clerk's withdrawal of a wrongly accepted submission (void).

Decisions (README "History and corrections"):
- A void never deletes: the arrival, its archived original and its values stay; the `voided` table and the
  event log say who withdrew it, when and why. A void is permanent; what undoes it is a new submission.
- A voided submission counts for nothing: not in merge or export, not for timeliness, not as the original
  of a duplicate. So when the voided one was a correction, the submission it replaced is current again and
  timeliness stays with the first accepted one (spec 8.6); when the voided one was itself the first accepted,
  the month's timeliness moves to the next accepted submission that remains (it may now be late), or the
  month has no report at all. The void's output and the unit's receipt say which.
- A void applies whatever --as-of is asked later (it corrects the record, it is not an arrival).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from ..core.config import Config
from ..core.months import Month
from ..core.safe_names import safe_filename
from ..storage.durable import write_atomic
from ..storage.ledger import Arrival, Ledger
from ..storage.supersession import FileKind, standings, status_of
from .receipts import Replaced, Timeliness, receipt_folder, void_receipt_text

OUTCOME_LABELS = {"accepted": "受理", "rejected": "退回", "duplicate": "重复报送", "material": "附件材料",
                  "email": "邮件", "failed": "处理出错"}
STATUS_LABELS = {"current": "有效（当前计入汇总）", "superseded": "已被更正替换", "voided": "已撤销"}
# What a file that never counted (or no longer counts) was taken for, by its arrivals.kind.
ARRIVAL_KIND_LABELS = {"workbook": "表格", "task_form": "重点任务推进情况表", "material": "工作材料", "email": "邮件",
                       "spreadsheet_format": "表格", "link": "链接"}


class VoidRefused(Exception):
    "This arrival cannot be voided: not found, not an accepted submission, or already voided"


def _key(a: Arrival) -> tuple:
    return (a.unit, a.year, a.month_to)


def timeliness_for(cfg: Config, first: Arrival | None) -> Timeliness | None:
    """按时/迟报 of a month, decided by its first accepted submission."""
    if first is None or first.year is None or first.month_to is None:
        return None
    from ..core.deadlines import deadline

    due = deadline(cfg, Month(first.year, first.month_to))
    received = first.received_at.astimezone(cfg.bureau.tz)
    late = (received.date() - due.last_day).days if received >= due.boundary else 0
    return Timeliness(due.last_day, first.received_at, late)


def _replaced(a: Arrival | None) -> Replaced | None:
    return Replaced(a.id, a.original_name, a.received_at) if a else None


def receipt_context(cfg: Config, ledger: Ledger, arrival_id: int) -> dict:
    """For an accepted Annex 2's receipt: `timeliness` (迟报 N 天 or 按时, from the month's first accepted
    Annex 2) and `replaces` (the Annex 2 this correction replaces, or None) — never a file of another kind
    (supersession.py). Pass as keyword arguments to receipts.receipt_text. Empty for anything but a (not
    voided) accepted Annex 2."""
    a = ledger.arrival(arrival_id)
    s = standings(ledger.db, unit=a.unit, kind=FileKind.ANNEX2).get(arrival_id) if a.unit else None
    if s is None:
        return {}
    first = ledger.arrival(s.first_id)
    return {"timeliness": timeliness_for(cfg, first),
            "replaces": _replaced(ledger.arrival(s.replaces_id) if s.replaces_id else None)}


@dataclass
class VoidResult:
    voided: Arrival
    reason: str
    at: datetime
    current_again: Arrival | None  # the submission that is current for the month now (None: no report left)
    first_before: Arrival  # the first accepted submission before the void
    first_after: Arrival | None  # the one that decides timeliness now
    receipt: Path | None
    kind: FileKind = FileKind.ANNEX2  # what was voided: its own kind's versions are what remain

    @property
    def timeliness_changed(self) -> bool:
        return self.first_after is None or self.first_after.id != self.first_before.id

    def to_dict(self, cfg: Config) -> dict:
        tz = cfg.bureau.tz
        t = timeliness_for(cfg, self.first_after) if self.kind is FileKind.ANNEX2 else None
        return {
            "id": self.voided.id, "kind": self.kind.value, "unit": self.voided.unit, "year": self.voided.year,
            "month_to": self.voided.month_to, "reason": self.reason,
            "voided_at": self.at.astimezone(tz).isoformat(timespec="seconds"),
            "current_id": self.current_again.id if self.current_again else None,
            "first_received_at": (self.first_after.received_at.astimezone(tz).isoformat(timespec="seconds")
                                  if self.first_after else None),
            "days_late": t.days_late if t else None,
            "timeliness_changed": self.timeliness_changed,
            "receipt": str(self.receipt) if self.receipt else None,
        }


def void(cfg: Config, ledger: Ledger, arrival_id: int, reason: str, now: datetime) -> VoidResult:
    """Withdraw a file that counts — an accepted Annex 2 or progress form, a received material: record it
    (never delete), write the unit's receipt, say what is current now for that unit, month and kind."""
    reason = reason.strip()
    if not reason:
        raise VoidRefused("请用 --reason 写明撤销原因")
    if not ledger.has_arrival(arrival_id):
        raise VoidRefused(f"台账中没有编号为 {arrival_id} 的文件（用 annex2 history --unit 单位 查看编号）")
    a = ledger.arrival(arrival_id)
    voids = ledger.voids()
    if arrival_id in voids:
        when, why = voids[arrival_id]
        raise VoidRefused(f"编号 {arrival_id}（{a.original_name}）已于 {when.astimezone(cfg.bureau.tz):%Y-%m-%d %H:%M} "
                          f"撤销（{why}）")
    before = standings(ledger.db, unit=a.unit).get(arrival_id) if a.unit else None
    if before is None:
        raise VoidRefused(f"编号 {arrival_id}（{a.original_name}）不是已受理的报表（{OUTCOME_LABELS.get(a.outcome, a.outcome)}），"
                          "只能撤销已受理的报表（附件2、推进情况表）或已收到的工作材料")
    with ledger.transaction() as db:
        ledger.void(db, arrival_id, now, reason)
    same = [s for s in standings(ledger.db, unit=a.unit, kind=before.kind).values()
            if (s.year, s.month) == (before.year, before.month)]
    current_again = next((ledger.arrival(s.id) for s in same if s.current), None)
    first_after = ledger.arrival(same[0].first_id) if same else None
    annex2 = before.kind is FileKind.ANNEX2
    text = void_receipt_text(cfg, arrival_id=a.id, original_name=a.original_name, received_at=a.received_at,
                             unit=a.unit, year=a.year, month_from=a.month_from, month_to=a.month_to,  # type: ignore[arg-type]
                             reason=reason, voided_at=now, current_again=_replaced(current_again),
                             timeliness=timeliness_for(cfg, first_after) if annex2 else None,
                             kind_label=before.kind.label)
    known = any(u.name == a.unit for u in cfg.units)  # the unit's own 回执/ folder, however the file came
    folder = receipt_folder(cfg, a.unit if known else None, a.unit)
    stamp = now.astimezone(cfg.bureau.tz)
    receipt = folder / safe_filename(f"回执_{stamp:%Y%m%d-%H%M%S}_{a.id}_撤销_{Path(a.original_name).stem}.txt",
                                     max_bytes=200)
    write_atomic(receipt, text.encode("utf-8-sig"))
    ledger.log("void_receipt", now, arrival_id, {"receipt": _rel(cfg, receipt)})
    return VoidResult(a, reason, now, current_again, ledger.arrival(before.first_id), first_after, receipt,
                      before.kind)


def _rel(cfg: Config, path: Path) -> str:
    try:
        return path.resolve().relative_to(cfg.root).as_posix()
    except ValueError:
        return str(path)


@dataclass
class HistoryRow:
    arrival: Arrival
    status: str  # current | superseded | voided | the outcome (rejected, duplicate, material, email)
    codes: list[str]
    void: tuple[datetime, str] | None
    file_kind: FileKind | None = None  # the kind it counts as (None: it never counted)


@dataclass
class UnitHistory:
    unit: str
    month: Month | None
    rows: list[HistoryRow]

    def to_dict(self, cfg: Config) -> dict:
        tz = cfg.bureau.tz
        return {"unit": self.unit, "month": str(self.month) if self.month else None, "arrivals": [{
            "id": r.arrival.id, "file": r.arrival.original_name,
            "received_at": r.arrival.received_at.astimezone(tz).isoformat(timespec="seconds"),
            "received_rule": r.arrival.received_rule, "kind": r.arrival.kind,
            "file_kind": r.file_kind.value if r.file_kind else None,
            "year": r.arrival.year, "month_from": r.arrival.month_from, "month_to": r.arrival.month_to,
            "outcome": r.arrival.outcome, "status": r.status, "codes": r.codes,
            "voided_at": r.void[0].astimezone(tz).isoformat(timespec="seconds") if r.void else None,
            "void_reason": r.void[1] if r.void else None,
            "archived_path": r.arrival.archived_path, "receipt_path": r.arrival.receipt_path,
        } for r in self.rows]}


def unit_history(cfg: Config, ledger: Ledger, unit: str, month: Month | None = None) -> UnitHistory:
    """Every arrival of the unit (optionally for one to-month), oldest first, with what became of it: each
    kind of file (Annex 2, stamped and electronic material, progress form) current or superseded only by its
    own kind (supersession.py)."""
    arrivals = ledger.arrivals_of(unit, month.year if month else None, month.month if month else None)
    standing = standings(ledger.db, unit=unit)
    voids = ledger.voids()
    codes = ledger.issue_codes()
    rows = [HistoryRow(a, status_of(standing.get(a.id), a.id in voids, a.outcome), codes.get(a.id, []),
                       voids.get(a.id), standing[a.id].kind if a.id in standing else None) for a in arrivals]
    return UnitHistory(unit, month, rows)


def status_label(status: str) -> str:
    return STATUS_LABELS.get(status) or OUTCOME_LABELS.get(status, status)
