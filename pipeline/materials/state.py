"""Monthly work materials in the ledger (spec 10): recording a judged file, the clerk's reclassification, and
the state of each (unit, month) as of a moment. The moment is a parameter; nothing here reads the clock."""
from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field, replace
from datetime import datetime

from ..core.config import Config, Unit
from ..core.deadlines import LATE, ON_TIME, OVERDUE, PENDING, Deadline, deadline, expected_months
from ..core.months import Month
from ..storage.ledger import Ledger, from_utc_text, utc_text
from ..storage.supersession import standings
from . import store
from .classify import ELECTRONIC, KIND_LABELS, KIND_SHORT, STAMPED, MaterialJudgement

KINDS = (STAMPED, ELECTRONIC)  # the order `missing` lists them in
STATE_LABELS = {ON_TIME: "按时", LATE: "迟报", OVERDUE: "逾期未齐", PENDING: "未到期"}


class NotAMaterial(Exception):
    "The file id is not an accepted material file"


def materials_deadline(cfg: Config, month: Month) -> Deadline:
    """When the materials for `month` are due: the same rule as Annex 2's, with the [materials] numbers."""
    return deadline(replace(cfg, deadline=cfg.materials), month)


# --- writing ----------------------------------------------------------------------------------------

def record_material(db: sqlite3.Connection, arrival_id: int, judgement: MaterialJudgement) -> None:
    """Store what a material file was judged to be. Called by intake inside the ledger transaction, after the
    arrival row was inserted, whole, from the judgement (intake/commit.py): that row is never rewritten."""
    store.insert_material_file(db, arrival_id, judgement)


def set_kind(ledger: Ledger, arrival_id: int, kind: str, now: datetime) -> tuple[str, str]:
    """The clerk reclassifies an accepted material file; recorded in the event log. Returns (before, after)."""
    if kind not in KINDS:
        raise ValueError(kind)
    with ledger.transaction() as db:
        row = store.accepted_kind(db, arrival_id)
        if row is None:
            raise NotAMaterial(f"编号 {arrival_id} 不是已收到的工作材料文件（可用 `annex2 materials status --month M` 查看文件编号）")
        before, name = row
        store.set_clerk_kind(db, arrival_id, kind)
        ledger.event(db, "material_kind_set", now, arrival_id, {"file": name, "from": before, "to": kind})
    return before, kind


# --- reading ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class MaterialFile:
    id: int
    name: str
    kind: str  # what counts: the clerk's reclassification, else the judged kind
    judged_kind: str | None
    received_at: datetime
    received_rule: str
    detected_type: str
    pages: int | None
    month_rule: str
    archived_path: str
    unit: str | None
    year: int | None
    month: int | None
    current: bool = True  # False: a later file of the same kind superseded it (kept, not counted)

    def to_dict(self, tz) -> dict:
        return {"id": self.id, "name": self.name, "kind": self.kind,
                "received_at": self.received_at.astimezone(tz).isoformat(timespec="seconds"),
                "current": self.current, "type": self.detected_type, "pages": self.pages,
                "reclassified": self.judged_kind != self.kind}


def material_files(ledger: Ledger, as_of: datetime | None = None, month: Month | None = None,
                   unit: str | None = None) -> list[MaterialFile]:
    """Accepted material files (received at or before `as_of`), oldest first, each marked current or not."""
    rows = store.counted_file_rows(ledger, as_of, month.year if month else None, month.month if month else None, unit)
    files = [MaterialFile(r[0], r[1], r[2], r[3], from_utc_text(r[4]), r[5], r[6], r[7], r[8], r[9], r[10], r[11], r[12])
             for r in rows]
    standing = standings(ledger.db, utc_text(as_of) if as_of is not None else None, unit)
    return [replace(f, current=standing[f.id].current) for f in files]


def rejected_materials(ledger: Ledger, as_of: datetime | None = None) -> list[dict]:
    """Refused material files (they count for nothing; a notice may mention the attempt)."""
    out = []
    for aid, name, received, unit, year, month in store.rejected_rows(ledger, as_of):
        out.append({"id": aid, "name": name, "received_at": from_utc_text(received), "unit": unit, "year": year,
                    "month": month, "codes": [i["code"] for i in ledger.issues_of(aid)]})
    return out


@dataclass
class MaterialState:
    unit: str
    month: Month
    state: str  # on_time | late | overdue | pending
    received_at: datetime | None = None  # when the first complete set was complete
    days_late: int | None = None
    days_overdue: int | None = None
    missing: list[str] = field(default_factory=list)  # stamped / electronic, absent as of the moment
    files: list[MaterialFile] = field(default_factory=list)  # every accepted file for the month, oldest first
    deadline: Deadline | None = None
    attempts: list[dict] = field(default_factory=list)  # refused files for the month (they count for nothing)

    @property
    def current_files(self) -> list[MaterialFile]:
        return [f for f in self.files if f.current]

    @property
    def received_kinds(self) -> list[str]:
        return [k for k in KINDS if any(f.kind == k for f in self.files)]

    @property
    def label(self) -> str:
        """A short Chinese cell for a status table: 按时 / 迟报 2 天 / 逾期（缺盖章版） / 未到期（已收电子版）."""
        if self.state == ON_TIME:
            return "按时"
        if self.state == LATE:
            return f"迟报 {self.days_late} 天"
        if self.state == OVERDUE:
            return "逾期未报" if not self.files else f"逾期（缺{'、'.join(KIND_SHORT[k] for k in self.missing)}）"
        got = self.received_kinds
        return "未到期" + (f"（已收{'、'.join(KIND_SHORT[k] for k in got)}）" if got else "")

    @property
    def note(self) -> str:
        """What the state alone does not say, for the 说明 column: 迟报 2 天 / 缺盖章版，逾期 4 天 / 已收电子版."""
        if self.state == LATE:
            return f"迟报 {self.days_late} 天"
        if self.state == OVERDUE:
            what = "未报送" if not self.files else "缺" + "、".join(KIND_SHORT[k] for k in self.missing)
            return f"{what}，逾期 {self.days_overdue} 天"
        if self.state == PENDING and self.files:
            return "已收" + "、".join(KIND_SHORT[k] for k in self.received_kinds)
        return ""

    def summary_dict(self, tz) -> dict:
        """The `materials` object of `status --json` (spec 12)."""
        return {"state": self.state, "received_at": self.received_at.astimezone(tz).isoformat(timespec="seconds")
                if self.received_at else None, "days_late": self.days_late, "missing": list(self.missing)}

    def to_dict(self, tz) -> dict:
        """One unit of `materials status --json` (spec 12)."""
        return {"unit": self.unit, **self.summary_dict(tz), "state_label": self.label,
                "days_overdue": self.days_overdue, "files": [f.to_dict(tz) for f in self.files],
                "rejected_attempts": len(self.attempts)}


def state_of(cfg: Config, unit: str, month: Month, files: list[MaterialFile], as_of: datetime) -> MaterialState:
    """The state of one (unit, month) from its accepted files (received at or before `as_of`), spec 10: the
    set is complete when both kinds are in; its time is the arrival of the file that completed it."""
    due = materials_deadline(cfg, month)
    tz = cfg.bureau.tz
    seen: set[str] = set()
    completed: datetime | None = None
    for f in sorted(files, key=lambda f: (f.received_at, f.id)):
        seen.add(f.kind)
        if len(seen) == len(KINDS):
            completed = f.received_at.astimezone(tz)
            break
    have = {f.kind for f in files}
    missing = [k for k in KINDS if k not in have]
    if completed is not None:
        if completed < due.boundary:
            return MaterialState(unit, month, ON_TIME, completed, files=files, deadline=due)
        return MaterialState(unit, month, LATE, completed, days_late=(completed.date() - due.last_day).days,
                             files=files, deadline=due)
    if as_of >= due.boundary:
        return MaterialState(unit, month, OVERDUE, missing=missing, files=files, deadline=due,
                             days_overdue=(as_of.astimezone(tz).date() - due.last_day).days)
    return MaterialState(unit, month, PENDING, missing=missing, files=files, deadline=due)


def expected_units(cfg: Config, month: Month) -> list[Unit]:
    """The units that owe materials for `month`: expected that month and not opted out (`materials = false`)."""
    if not cfg.in_period(month):
        return []
    return [u for u in cfg.units if u.materials and u.expected_in(month)]


def material_states(cfg: Config, ledger: Ledger, month: Month, as_of: datetime) -> list[MaterialState]:
    """Every unit that owes materials for `month`, in config order, as of `as_of`."""
    files = material_files(ledger, as_of, month)
    refused = [r for r in rejected_materials(ledger, as_of) if (r["year"], r["month"]) == (month.year, month.month)]
    states = []
    for u in expected_units(cfg, month):
        s = state_of(cfg, u.name, month, [f for f in files if f.unit == u.name], as_of)
        s.attempts = [r for r in refused if r["unit"] == u.name]
        states.append(s)
    return states


def year_history(cfg: Config, ledger: Ledger, unit: Unit, month: Month, as_of: datetime) -> list[MaterialState]:
    """The unit's materials state for each month of `month`'s year up to `month` (for strikes)."""
    if not unit.materials:
        return []
    files = [f for f in material_files(ledger, as_of, unit=unit.name) if f.year == month.year]
    return [state_of(cfg, unit.name, m, [f for f in files if f.month == m.month], as_of)
            for m in expected_months(cfg, unit, month) if m.year == month.year]


def strike_months(cfg: Config, ledger: Ledger, month: Month, as_of: datetime) -> dict[str, list[Month]]:
    """Unit -> the months of the year up to `month` whose materials were late or overdue as of `as_of`
    (spec 12: any late or overdue obligation makes the month a strike; integration unions these months
    with the Annex 2 ones)."""
    return {u.name: [s.month for s in year_history(cfg, ledger, u, month, as_of) if s.state in (LATE, OVERDUE)]
            for u in cfg.units if u.materials}


@dataclass
class MaterialsStatus:
    month: Month
    deadline: Deadline
    as_of: datetime
    units: list[MaterialState]

    def count(self, state: str) -> int:
        return sum(1 for u in self.units if u.state == state)

    @property
    def summary(self) -> str:
        text = (f"材料齐全 {self.count(ON_TIME) + self.count(LATE)}/{len(self.units)}，按时 {self.count(ON_TIME)}，"
                f"迟报 {self.count(LATE)}，逾期未齐 {self.count(OVERDUE)}")
        return text + (f"，未到期 {self.count(PENDING)}" if self.count(PENDING) else "")

    def to_dict(self, tz) -> dict:
        return {"month": str(self.month), "deadline": self.deadline.last_moment.isoformat(timespec="seconds"),
                "as_of": self.as_of.astimezone(tz).isoformat(timespec="seconds"), "summary": self.summary,
                "units": [u.to_dict(tz) for u in self.units]}


def materials_status(cfg: Config, ledger: Ledger, month: Month, as_of: datetime) -> MaterialsStatus:
    return MaterialsStatus(month, materials_deadline(cfg, month), as_of, material_states(cfg, ledger, month, as_of))


def kind_label(kind: str | None) -> str:
    return KIND_LABELS.get(kind or "", "—")
