"""Which file counts: supersession per unit, month and kind (spec 4), defined here and nowhere else.

A unit owes several kinds of file each month — the Annex 2, the stamped and the electronic work material,
the key-task progress form. Each kind is its own line of versions: the newest accepted file of a (unit,
year, month, kind) is current, the ones before it are superseded (kept), the oldest one decides that kind's
timeliness. A file of one kind never replaces, nor lends its time to, a file of another kind. Sending an
earlier version again makes it the newest, so it is current again.

The ledger's `counted` view (migration 8) says which arrivals take part and of which kind they are; the one
window query below ranks them. Everything that asks "current?", "superseded?", "replaces which?" or "first
accepted?" reads `standings` (directly or through Ledger.current / Ledger.first_accepted)."""
from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from enum import Enum


class FileKind(str, Enum):
    """The kinds of file that supersede only their own kind."""

    ANNEX2 = "annex2"
    STAMPED = "stamped"
    ELECTRONIC = "electronic"
    TASK_FORM = "task_form"

    @property
    def label(self) -> str:
        return KIND_LABELS[self]


KIND_LABELS = {FileKind.ANNEX2: "附件2统计表", FileKind.STAMPED: "工作材料盖章版",
               FileKind.ELECTRONIC: "工作材料电子版", FileKind.TASK_FORM: "重点任务推进情况表"}

# The view the ledger keeps (migration 8): every arrival that counts — an accepted Annex 2 or progress form,
# a received material — not voided, with its kind. A material's kind is the clerk's reclassification if any.
COUNTED_VIEW = """
    DROP VIEW IF EXISTS counted;
    CREATE VIEW counted AS
    SELECT a.id, a.unit, a.year, a.month_to, a.received_utc, a.sha256,
           CASE a.kind WHEN 'workbook' THEN 'annex2' WHEN 'task_form' THEN 'task_form'
                       ELSE COALESCE(m.clerk_kind, m.kind) END AS file_kind
    FROM arrivals a LEFT JOIN material_files m ON m.arrival_id = a.id
    WHERE ((a.kind IN ('workbook', 'task_form') AND a.outcome = 'accepted')
           OR (a.kind = 'material' AND a.outcome = 'material' AND COALESCE(m.clerk_kind, m.kind) IS NOT NULL))
      AND a.id NOT IN (SELECT arrival_id FROM voided);
"""

_KEY = "PARTITION BY unit, year, month_to, file_kind"
_OLDEST_FIRST = "ORDER BY received_utc, id"


def standings_sql(where: str = "") -> str:
    """The one ranking: per (unit, year, month, kind), by received time then arrival id. `where` filters the
    counted files before they are ranked (a moment: only what was received by then takes part)."""
    return f"""
        SELECT id, file_kind, unit, year, month_to,
               ROW_NUMBER() OVER ({_KEY} ORDER BY received_utc DESC, id DESC) = 1 AS is_current,
               FIRST_VALUE(id) OVER ({_KEY} {_OLDEST_FIRST}) AS first_id,
               LAG(id) OVER ({_KEY} {_OLDEST_FIRST}) AS replaces_id
        FROM counted {('WHERE ' + where) if where else ''}"""


@dataclass(frozen=True)
class Standing:
    """Where one counted file stands among the files of its unit, month and kind."""

    id: int
    kind: FileKind
    unit: str
    year: int
    month: int
    current: bool  # the newest of its kind (as of the moment asked about)
    first_id: int  # the oldest of its kind: it decides the kind's timeliness
    replaces_id: int | None  # the file of its kind received just before it (None: the first)


def standings(db: sqlite3.Connection, as_of_utc: str | None = None, unit: str | None = None,
              kind: FileKind | None = None) -> dict[int, Standing]:
    """arrival id -> its standing, for every counted file received by `as_of_utc` (ledger UTC text; None:
    everything recorded), of one unit and one kind if asked."""
    cond, args = [], []
    if as_of_utc is not None:
        cond.append("received_utc <= ?")
        args.append(as_of_utc)
    if unit is not None:
        cond.append("unit = ?")
        args.append(unit)
    if kind is not None:
        cond.append("file_kind = ?")
        args.append(kind.value)
    rows = db.execute(standings_sql(" AND ".join(cond)), args)
    return {i: Standing(i, FileKind(k), u, y, m, bool(cur), first, prev) for i, k, u, y, m, cur, first, prev in rows}


def current_ids(db: sqlite3.Connection, kind: FileKind, as_of_utc: str | None = None,
                unit: str | None = None) -> list[int]:
    """The current file of each (unit, year, month) of `kind`."""
    return [s.id for s in standings(db, as_of_utc, unit, kind).values() if s.current]


def current_with_hash(db: sqlite3.Connection, sha256: str) -> list[int]:
    """The counted files with these bytes that are current now: only those make a new file a duplicate; the
    same bytes as a superseded version are a new version (spec 4)."""
    same = db.execute("SELECT id, unit, file_kind FROM counted WHERE sha256 = ?", (sha256,)).fetchall()
    out = set()
    for unit, kind in {(u, k) for _i, u, k in same}:
        ranked = standings(db, unit=unit, kind=FileKind(kind))
        out |= {i for i, _u, k in same if k == kind and i in ranked and ranked[i].current}
    return sorted(out)


def first_ids(db: sqlite3.Connection, kind: FileKind, as_of_utc: str | None = None) -> list[int]:
    """The oldest counted file of each (unit, year, month) of `kind`: it decides timeliness."""
    return sorted({s.first_id for s in standings(db, as_of_utc, kind=kind).values()})


def status_of(standing: Standing | None, voided: bool, outcome: str) -> str:
    """What became of an arrival, as history and the master workbook's 文件记录 say it: voided, current,
    superseded, or its outcome when it never counted (rejected, duplicate, email, failed)."""
    if voided:
        return "voided"
    if standing is not None:
        return "current" if standing.current else "superseded"
    return outcome
