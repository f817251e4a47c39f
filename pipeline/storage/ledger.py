"""The ledger: a SQLite file recording every file that arrived, the values of accepted submissions, and an
append-only event log. Its schema is in migrations.py; opening errors in connection.py."""
from __future__ import annotations

import errno
import json
import os
import sqlite3
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Callable

from .connection import LedgerError, ledger_open_text, transaction
from .migrations import MIGRATIONS, migrate, read_only_views
from .supersession import FileKind, current_ids, current_with_hash, first_ids
from .timestamps import from_utc_text, utc_text

# Names other modules and tests import from here
__all__ = ["Arrival", "Ledger", "LedgerError", "MIGRATIONS", "from_utc_text", "utc_text"]


@dataclass(frozen=True)
class Arrival:
    id: int
    original_name: str
    source: str
    source_path: str
    sha256: str
    size: int
    received_at: datetime
    received_rule: str
    kind: str
    unit: str | None
    year: int | None
    month_from: int | None
    month_to: int | None
    outcome: str
    archived_path: str
    receipt_path: str | None
    duplicate_of: int | None
    parent_id: int | None
    declared_unit: str | None
    folder_unit: str | None
    sheet: str | None
    retry_of: int | None = None


_ARRIVAL_COLS = ("id, original_name, source, source_path, sha256, size, received_utc, received_rule, kind, unit, "
                 "year, month_from, month_to, outcome, archived_path, receipt_path, duplicate_of, parent_id, "
                 "declared_unit, folder_unit, sheet, retry_of")


def _arrival(row) -> Arrival:
    values = list(row)
    values[6] = from_utc_text(values[6])
    return Arrival(*values)



class Ledger:
    def __init__(self, path: Path, command: str = "annex2", read_only: bool = False, verify: bool = False,
                 wait: float = 30):
        """`read_only`: for commands that only look (validate); `verify`: refuse a damaged file instead of
        reading it (status, backup); `wait`: seconds to wait while another program writes the file."""
        self.path = Path(path)
        self.command = command
        try:
            if read_only:
                self.db = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True,
                                          isolation_level=None, timeout=wait)
            else:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self.db = sqlite3.connect(str(self.path), isolation_level=None, timeout=wait)
                self.db.execute("PRAGMA foreign_keys = ON")
                self.db.execute("PRAGMA journal_mode = WAL")
                self.db.execute("PRAGMA synchronous = FULL")
            if verify and (problem := self.quick_check()) is not None:
                self.db.close()
                raise LedgerError(f"台账数据库 {self.path} 已损坏（{problem}），为免读出错误数据已停止。"
                                  "请用 annex2 backup 做过的备份替换它，或联系技术人员。")
            if not read_only:
                migrate(self.db, self.path)
            else:
                read_only_views(self.db)
        except sqlite3.DatabaseError as exc:
            raise LedgerError(ledger_open_text(self.path, exc)) from None

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> "Ledger":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def transaction(self) -> AbstractContextManager[sqlite3.Connection]:
        return transaction(self.db)

    # --- writing ----------------------------------------------------------------------------------

    def record(self, db: sqlite3.Connection, *, now: datetime, values: dict | None = None, issues=(),
               event: str, detail: dict | None = None, receipt: Callable[[int], str] | None = None,
               **arrival) -> int:
        """Insert one arrival, whole, with its issues, values and event (call inside `transaction()`); the row is
        never rewritten after. `receipt`: the receipt's path, from the arrival's id (the receipt's name carries
        it): the id is the one SQLite would give (one more than the largest), taken under the transaction."""
        arrival["received_utc"] = utc_text(arrival.pop("received_at"))
        arrival["recorded_at"] = utc_text(now)
        arrival.setdefault("command", self.command)
        if receipt is not None:
            arrival["id"] = db.execute("SELECT COALESCE(MAX(id), 0) + 1 FROM arrivals").fetchone()[0]
            arrival["receipt_path"] = receipt(arrival["id"])
        cols = ", ".join(arrival)
        marks = ", ".join("?" for _ in arrival)
        cur = db.execute(f"INSERT INTO arrivals ({cols}) VALUES ({marks})", tuple(arrival.values()))
        arrival_id = cur.lastrowid
        db.executemany("INSERT INTO issues VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                       [(arrival_id, n, i.code, i.severity, i.sheet, i.cell, i.sector, i.metric, i.message)
                        for n, i in enumerate(issues)])
        if values:
            db.executemany("INSERT INTO submission_values VALUES (?, ?, ?, ?)",
                           [(arrival_id, s, m, int(v)) for s, row in values.items() for m, v in row.items()])
        self.event(db, event, now, arrival_id, detail or {})
        return arrival_id  # type: ignore[return-value]

    def event(self, db: sqlite3.Connection, kind: str, now: datetime, arrival_id: int | None = None,
              detail: dict | None = None) -> None:
        db.execute("INSERT INTO events (at_utc, command, kind, arrival_id, detail) VALUES (?, ?, ?, ?, ?)",
                   (utc_text(now), self.command, kind, arrival_id, json.dumps(detail or {}, ensure_ascii=False)))

    def log(self, kind: str, now: datetime, arrival_id: int | None = None, detail: dict | None = None) -> None:
        with self.transaction() as db:
            self.event(db, kind, now, arrival_id, detail)

    def void(self, db: sqlite3.Connection, arrival_id: int, now: datetime, reason: str) -> None:
        """Withdraw an accepted submission (call inside `transaction()`); the event log says so."""
        db.execute("INSERT INTO voided (arrival_id, at_utc, reason, command) VALUES (?, ?, ?, ?)",
                   (arrival_id, utc_text(now), reason, self.command))
        self.event(db, "voided", now, arrival_id, {"reason": reason})

    def voids(self) -> dict[int, tuple[datetime, str]]:
        """arrival id -> (when it was voided, why)."""
        return {aid: (from_utc_text(at), reason)
                for aid, at, reason in self.db.execute("SELECT arrival_id, at_utc, reason FROM voided")}

    # --- reading ----------------------------------------------------------------------------------

    def has_arrival(self, arrival_id: int) -> bool:
        return self.db.execute("SELECT 1 FROM arrivals WHERE id = ?", (arrival_id,)).fetchone() is not None

    def inbox_folder_owners(self, prefix: str) -> list[tuple[str, str, int]]:
        """(folder directly below `prefix`, the unit that owned it, the latest arrival id) for each folder that
        inbox arrivals under `prefix` (the inbox's path, ending in /) came from with a folder owner."""
        at = len(prefix) + 1
        return list(self.db.execute(
            "SELECT substr(source_path, ?, instr(substr(source_path, ?), '/') - 1) AS folder, folder_unit, MAX(id) "
            "FROM arrivals WHERE source = 'inbox' AND folder_unit IS NOT NULL AND substr(source_path, 1, ?) = ? "
            "AND instr(substr(source_path, ?), '/') > 1 GROUP BY folder", (at, at, len(prefix), prefix, at)))

    def arrival(self, arrival_id: int) -> Arrival:
        return _arrival(self.db.execute(f"SELECT {_ARRIVAL_COLS} FROM arrivals WHERE id = ?", (arrival_id,)).fetchone())

    def arrivals(self, as_of: datetime | None = None) -> list[Arrival]:
        args: tuple[str, ...] = ()
        sql = f"SELECT {_ARRIVAL_COLS} FROM arrivals"
        if as_of is not None:
            sql, args = sql + " WHERE received_utc <= ?", (utc_text(as_of),)
        return [_arrival(r) for r in self.db.execute(sql + " ORDER BY received_utc, id", args)]

    def same_arrival(self, source_path: str, size: int, ctime_ns: int | None, sha256: str) -> Arrival | None:
        row = self.db.execute(
            f"SELECT {_ARRIVAL_COLS} FROM arrivals WHERE source_path = ? AND size = ? AND source_ctime_ns IS ? "
            "AND sha256 = ? AND source = 'inbox' ORDER BY id LIMIT 1", (source_path, size, ctime_ns, sha256)).fetchone()
        return _arrival(row) if row else None

    def current_with_hash(self, sha256: str) -> list[Arrival]:
        """Current files (of any unit and kind) with these bytes: a new file equal to one is a duplicate."""
        return self._arrivals(current_with_hash(self.db, sha256))

    def by_key(self, key: str) -> Arrival | None:
        row = self.db.execute(f"SELECT {_ARRIVAL_COLS} FROM arrivals WHERE arrival_key = ?", (key,)).fetchone()
        return _arrival(row) if row else None

    def failed_unretried(self) -> list[Arrival]:
        """Files that ended `failed` and have not had their one retry yet (spec 13)."""
        return [_arrival(r) for r in self.db.execute(
            f"SELECT {_ARRIVAL_COLS} FROM arrivals a WHERE outcome = 'failed' AND parent_id IS NULL "
            "AND retry_of IS NULL AND NOT EXISTS (SELECT 1 FROM arrivals r WHERE r.retry_of = a.id) ORDER BY id")]

    def quick_check(self) -> str | None:
        """None when the database file is sound, else SQLite's first complaint."""
        try:
            row = self.db.execute("PRAGMA quick_check").fetchone()
        except sqlite3.DatabaseError as exc:
            return str(exc)
        return None if row and row[0] == "ok" else (row[0] if row else "无结果")

    def children(self, arrival_id: int) -> list[Arrival]:
        return [_arrival(r) for r in self.db.execute(
            f"SELECT {_ARRIVAL_COLS} FROM arrivals WHERE parent_id = ? ORDER BY id", (arrival_id,))]

    def emails_with_hash(self, sha256: str) -> list[Arrival]:
        return [_arrival(r) for r in self.db.execute(
            f"SELECT {_ARRIVAL_COLS} FROM arrivals WHERE sha256 = ? AND kind = 'email' AND outcome = 'email' ORDER BY id",
            (sha256,))]

    def issues_of(self, arrival_id: int) -> list[dict]:
        cur = self.db.execute("SELECT code, severity, sheet, cell, sector, metric, message FROM issues "
                              "WHERE arrival_id = ? ORDER BY seq", (arrival_id,))
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row)) for row in cur]

    def issue_codes(self) -> dict[int, list[str]]:
        out: dict[int, list[str]] = {}
        for aid, code in self.db.execute("SELECT arrival_id, code FROM issues ORDER BY arrival_id, seq"):
            out.setdefault(aid, []).append(code)
        return out

    def warnings_for(self, arrival_ids: list[int]) -> list[tuple[int, dict]]:
        out = []
        for chunk in range(0, len(arrival_ids), 500):
            ids = arrival_ids[chunk:chunk + 500]
            marks = ",".join("?" for _ in ids)
            cur = self.db.execute(
                f"SELECT arrival_id, code, severity, sheet, cell, sector, metric, message FROM issues "
                f"WHERE severity = 'warning' AND arrival_id IN ({marks}) ORDER BY arrival_id, seq", ids)
            names = [d[0] for d in cur.description][1:]
            out += [(row[0], dict(zip(names, row[1:]))) for row in cur]
        return out

    def current(self, as_of: datetime | None = None, unit: str | None = None) -> list[Arrival]:
        """The current Annex 2 of each (unit, year, to-month): the accepted one received last, not voided
        (supersession.py; the from-month is not part of the key, spec 8.11)."""
        ids = current_ids(self.db, FileKind.ANNEX2, utc_text(as_of) if as_of else None, unit)
        return sorted(self._arrivals(ids), key=lambda a: (a.unit, a.year, a.month_to))

    def first_accepted(self, as_of: datetime | None = None) -> dict[tuple[str, int, int], Arrival]:
        """(unit, year, to-month) -> the first accepted Annex 2 not voided: it decides timeliness (spec 4)."""
        firsts = self._arrivals(first_ids(self.db, FileKind.ANNEX2, utc_text(as_of) if as_of else None))
        return {(a.unit, a.year, a.month_to): a for a in firsts}  # type: ignore[misc]

    def _arrivals(self, ids: list[int]) -> list[Arrival]:
        out: list[Arrival] = []
        for chunk in range(0, len(ids), 500):
            part = ids[chunk:chunk + 500]
            marks = ",".join("?" for _ in part)
            out += [_arrival(r) for r in self.db.execute(
                f"SELECT {_ARRIVAL_COLS} FROM arrivals WHERE id IN ({marks}) ORDER BY received_utc, id", part)]
        return out

    def arrivals_of(self, unit: str, year: int | None = None, month_to: int | None = None) -> list[Arrival]:
        """Every arrival of a unit (by its recognised unit, or the inbox folder it came from), oldest first."""
        args: list[object] = [unit, unit]
        cond = "(unit = ? OR (unit IS NULL AND folder_unit = ?))"
        if year is not None:
            cond, args = cond + " AND year = ? AND month_to = ?", [*args, year, month_to]
        return [_arrival(r) for r in self.db.execute(
            f"SELECT {_ARRIVAL_COLS} FROM arrivals WHERE {cond} ORDER BY received_utc, id", args)]

    def values_for(self, arrival_ids: list[int]) -> dict[int, dict[str, dict[str, int]]]:
        out: dict[int, dict[str, dict[str, int]]] = {i: {} for i in arrival_ids}
        for chunk in range(0, len(arrival_ids), 500):
            ids = arrival_ids[chunk:chunk + 500]
            marks = ",".join("?" for _ in ids)
            for aid, sector, metric, value in self.db.execute(
                    f"SELECT arrival_id, sector, metric, value FROM submission_values WHERE arrival_id IN ({marks})", ids):
                out[aid].setdefault(sector, {})[metric] = value
        return out

    def counts(self) -> dict[str, int]:
        return {table: self.db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
                for table in ("arrivals", "issues", "submission_values", "events")}

    def backup(self, dest: Path) -> Path:
        """An online backup (consistent even while another process writes), never a file copy."""
        from .durable import replace_with

        def write(tmp: Path) -> None:
            target = sqlite3.connect(str(tmp))
            try:
                self.db.backup(target)
            except sqlite3.OperationalError as exc:  # SQLite says "disk is full" in its own words
                why = _SQLITE_IO.get(getattr(exc, "sqlite_errorcode", 0) & 0xFF)
                if why is None:
                    raise
                raise OSError(why, os.strerror(why)) from exc
            finally:
                target.close()

        return replace_with(Path(dest), write)



# SQLite's primary result codes a backup's target can meet, as the OSError a full or read-only folder gives
_SQLITE_IO = {13: errno.ENOSPC, 8: errno.EROFS, 14: errno.EACCES, 10: errno.EIO}  # FULL, READONLY, CANTOPEN, IOERR

