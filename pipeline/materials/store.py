"""The materials slice's table, material_files (what each material file was judged to be, and the clerk's
reclassification), and its reads of the arrivals it belongs to. Every SQL statement of materials/ is here."""
from __future__ import annotations

import sqlite3
from datetime import datetime

from ..storage.ledger import Ledger, utc_text
from .classify import MaterialJudgement


def insert_material_file(db: sqlite3.Connection, arrival_id: int, j: MaterialJudgement) -> None:
    """What a material file was judged to be (inside the transaction that recorded its arrival)."""
    db.execute("INSERT OR REPLACE INTO material_files (arrival_id, kind, detected_type, pages, month_rule, unit_rule) "
               "VALUES (?, ?, ?, ?, ?, ?)", (arrival_id, j.kind, j.detected_type, j.pages, j.month_rule, j.unit_rule))


def accepted_kind(db: sqlite3.Connection, arrival_id: int) -> tuple[str, str] | None:
    """(the kind that counts now, the file's name) of an accepted material file; None for any other id."""
    return db.execute("SELECT COALESCE(m.clerk_kind, m.kind), a.original_name FROM arrivals a "
                      "JOIN material_files m ON m.arrival_id = a.id WHERE a.id = ? AND a.outcome = 'material'",
                      (arrival_id,)).fetchone()


def set_clerk_kind(db: sqlite3.Connection, arrival_id: int, kind: str) -> None:
    db.execute("UPDATE material_files SET clerk_kind = ? WHERE arrival_id = ?", (kind, arrival_id))


def judged_file(ledger: Ledger, arrival_id: int) -> tuple[str | None, str | None, str, int | None, str] | None:
    """(judged kind, clerk's kind, detected type, pages, month rule) of a material arrival, None if it has none."""
    return ledger.db.execute("SELECT kind, clerk_kind, detected_type, pages, month_rule FROM material_files "
                             "WHERE arrival_id = ?", (arrival_id,)).fetchone()


_FILE_SQL = """
    SELECT a.id, a.original_name, COALESCE(m.clerk_kind, m.kind), m.kind, a.received_utc, a.received_rule,
           m.detected_type, m.pages, m.month_rule, a.archived_path, a.unit, a.year, a.month_to
    FROM counted c JOIN arrivals a ON a.id = c.id JOIN material_files m ON m.arrival_id = a.id
    WHERE c.file_kind IN ('stamped', 'electronic') {where}
    ORDER BY a.received_utc, a.id"""


def counted_file_rows(ledger: Ledger, as_of: datetime | None, year: int | None, month: int | None,
                      unit: str | None) -> list[tuple]:
    """The accepted material files (received at or before `as_of`), oldest first: id, name, kind that counts,
    judged kind, received (UTC text), rule, detected type, pages, month rule, archived path, unit, year, month."""
    cond: list[str] = []
    args: list[object] = []
    if as_of is not None:
        cond.append("a.received_utc <= ?")
        args.append(utc_text(as_of))
    if year is not None:
        cond += ["a.year = ?", "a.month_to = ?"]
        args += [year, month]
    if unit is not None:
        cond.append("a.unit = ?")
        args.append(unit)
    where = "".join(f" AND {c}" for c in cond)
    return list(ledger.db.execute(_FILE_SQL.format(where=where), args))


def rejected_rows(ledger: Ledger, as_of: datetime | None) -> list[tuple]:
    """(id, name, received (UTC text), unit, year, month) of the refused material files, oldest first."""
    sql = ("SELECT a.id, a.original_name, a.received_utc, a.unit, a.year, a.month_to FROM arrivals a "
           "WHERE a.kind = 'material' AND a.outcome = 'rejected'")
    args: list = []
    if as_of is not None:
        sql, args = sql + " AND a.received_utc <= ?", [utc_text(as_of)]
    return list(ledger.db.execute(sql + " ORDER BY a.received_utc, a.id", args))
