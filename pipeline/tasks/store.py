"""The tasks slice's tables: task_reports (the rows of each accepted 推进情况表) and task_closes (the clerk's
销号). Every SQL statement that reads or writes them is here; the rest of tasks/ works on what these return."""
from __future__ import annotations

import sqlite3
from datetime import datetime
from typing import Iterable, Protocol

from ..storage.ledger import Ledger, from_utc_text, utc_text
from ..storage.supersession import FileKind

_FORM = FileKind.TASK_FORM.value


class ReportRow(Protocol):
    @property
    def task_id(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def progress(self) -> str: ...
    @property
    def evidence(self) -> str: ...
    @property
    def cell(self) -> str | None: ...


def insert_reports(db: sqlite3.Connection, arrival_id: int, rows: Iterable[ReportRow]) -> None:
    """An accepted form's rows (inside the transaction that recorded its arrival)."""
    db.executemany("INSERT INTO task_reports (arrival_id, task_id, status, progress, evidence, cell) "
                   "VALUES (?, ?, ?, ?, ?, ?)",
                   [(arrival_id, r.task_id, r.status, r.progress, r.evidence, r.cell) for r in rows])


def counted_forms(ledger: Ledger, as_of: datetime) -> list[tuple[int, str, int, int, datetime]]:
    """(arrival id, unit, year, month, received) of the forms that count (supersession.py's view: accepted,
    not voided) received by `as_of`, oldest first."""
    return [(aid, unit, year, month, from_utc_text(received)) for aid, unit, year, month, received in ledger.db.execute(
        "SELECT id, unit, year, month_to, received_utc FROM counted WHERE file_kind = ? "
        "AND received_utc <= ? ORDER BY received_utc, id", (_FORM, utc_text(as_of)))]


def counted_rows(ledger: Ledger, as_of: datetime) -> list[tuple[int, str, str, str, str]]:
    """(arrival id, task id, status, progress, evidence) of every row of those forms."""
    return list(ledger.db.execute(
        "SELECT r.arrival_id, r.task_id, r.status, r.progress, r.evidence FROM task_reports r "
        "JOIN counted c ON c.id = r.arrival_id WHERE c.file_kind = ? "
        "AND c.received_utc <= ?", (_FORM, utc_text(as_of))))


def closes(ledger: Ledger, as_of: datetime) -> list[tuple[str, str, datetime, str]]:
    """(task id, unit, when, note) of the 销号 made by `as_of`, oldest first."""
    return [(task_id, unit, from_utc_text(at), note) for task_id, unit, at, note in ledger.db.execute(
        "SELECT task_id, unit, at_utc, note FROM task_closes WHERE at_utc <= ? ORDER BY at_utc, id",
        (utc_text(as_of),))]


def insert_close(db: sqlite3.Connection, task_id: str, unit: str, now: datetime, note: str, command: str) -> int:
    """One 销号 (inside the caller's transaction, with its event); returns its row id."""
    cur = db.execute("INSERT INTO task_closes (task_id, unit, at_utc, note, command) VALUES (?, ?, ?, ?, ?)",
                     (task_id, unit, utc_text(now), note, command))
    return cur.lastrowid  # type: ignore[return-value]


def latest_form_before(ledger: Ledger, unit: str, year: int, month: int, before: datetime) -> datetime | None:
    """When the unit's latest counted form for the month received before `before` arrived, or None."""
    row = ledger.db.execute(
        "SELECT received_utc FROM counted WHERE file_kind = ? AND unit = ? AND year = ? "
        "AND month_to = ? AND received_utc < ? ORDER BY received_utc DESC, id DESC LIMIT 1",
        (_FORM, unit, year, month, utc_text(before))).fetchone()
    return from_utc_text(row[0]) if row else None
