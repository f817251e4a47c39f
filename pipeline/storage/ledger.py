"""The ledger: a SQLite file recording every file that arrived, the values of accepted submissions, and an
append-only event log. Migrations are versioned steps, each in its own transaction."""
from __future__ import annotations

import errno
import json
import os
import sqlite3
import sys
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

from .supersession import COUNTED_VIEW, FileKind, current_ids, current_with_hash, first_ids

if TYPE_CHECKING:
    from ..core.config import Config


MIGRATIONS: list[tuple[int, str]] = [
    (1, """
    CREATE TABLE arrivals (
        id INTEGER PRIMARY KEY,
        original_name TEXT NOT NULL,
        source TEXT NOT NULL,                 -- inbox | external | email
        source_path TEXT NOT NULL,            -- where it was found
        source_ctime_ns INTEGER,              -- with path, size and hash: recognises a surviving inbox copy
        sha256 TEXT NOT NULL,
        size INTEGER NOT NULL,
        received_utc TEXT NOT NULL,           -- ISO 8601 in UTC, fixed width, so text order is time order
        received_rule TEXT NOT NULL,          -- watcher_event | inbox_ctime | clerk | email_received | email_date | email_arrival
        kind TEXT NOT NULL,                   -- workbook | material | email
        unit TEXT,                            -- canonical name from config
        folder_unit TEXT,                     -- owner of the inbox sub-folder it came from
        declared_unit TEXT,                   -- 填报单位 as typed
        year INTEGER, month_from INTEGER, month_to INTEGER, sheet TEXT,
        outcome TEXT NOT NULL CHECK (outcome IN ('accepted', 'rejected', 'duplicate', 'material', 'email')),
        duplicate_of INTEGER REFERENCES arrivals(id),
        parent_id INTEGER REFERENCES arrivals(id),   -- the e-mail that carried it
        archived_path TEXT NOT NULL,          -- relative to the working folder
        receipt_path TEXT,
        recorded_at TEXT NOT NULL,
        command TEXT NOT NULL
    );
    CREATE INDEX arrivals_sha ON arrivals (sha256);
    CREATE INDEX arrivals_period ON arrivals (unit, year, month_to, outcome, received_utc);
    CREATE INDEX arrivals_source ON arrivals (source_path, size, source_ctime_ns);
    CREATE TABLE issues (
        arrival_id INTEGER NOT NULL REFERENCES arrivals(id),
        seq INTEGER NOT NULL,
        code TEXT NOT NULL, severity TEXT NOT NULL, sheet TEXT, cell TEXT, sector TEXT, metric TEXT,
        message TEXT NOT NULL,
        PRIMARY KEY (arrival_id, seq)
    );
    CREATE TABLE submission_values (
        arrival_id INTEGER NOT NULL REFERENCES arrivals(id),
        sector TEXT NOT NULL,
        metric TEXT NOT NULL,
        value INTEGER NOT NULL,
        PRIMARY KEY (arrival_id, sector, metric)
    ) WITHOUT ROWID;
    CREATE TABLE events (
        id INTEGER PRIMARY KEY,
        at_utc TEXT NOT NULL,
        command TEXT NOT NULL,
        kind TEXT NOT NULL,
        arrival_id INTEGER REFERENCES arrivals(id),
        detail TEXT NOT NULL DEFAULT '{}'
    );
    CREATE TRIGGER events_append_only_u BEFORE UPDATE ON events
        BEGIN SELECT RAISE(ABORT, 'the event log is append-only'); END;
    CREATE TRIGGER events_append_only_d BEFORE DELETE ON events
        BEGIN SELECT RAISE(ABORT, 'the event log is append-only'); END;
    -- The current submission for (unit, year, to-month): the accepted one received last (spec 8.11).
    """),
    # Robustness (spec 13): outcome `failed` (an internal error on one file, retried once), a unique key on
    # what identifies an arrival (two processes racing cannot record it twice), and the retry's link.
    # SQLite cannot alter a CHECK constraint, so the table is rebuilt (foreign keys are off meanwhile).
    (2, """
    CREATE TABLE arrivals_v2 (
        id INTEGER PRIMARY KEY,
        original_name TEXT NOT NULL,
        source TEXT NOT NULL,
        source_path TEXT NOT NULL,
        source_ctime_ns INTEGER,
        sha256 TEXT NOT NULL,
        size INTEGER NOT NULL,
        received_utc TEXT NOT NULL,
        received_rule TEXT NOT NULL,
        kind TEXT NOT NULL,
        unit TEXT,
        folder_unit TEXT,
        declared_unit TEXT,
        year INTEGER, month_from INTEGER, month_to INTEGER, sheet TEXT,
        outcome TEXT NOT NULL CHECK (outcome IN ('accepted', 'rejected', 'duplicate', 'material', 'email', 'failed')),
        duplicate_of INTEGER REFERENCES arrivals(id),
        parent_id INTEGER REFERENCES arrivals(id),
        archived_path TEXT NOT NULL,
        receipt_path TEXT,
        recorded_at TEXT NOT NULL,
        command TEXT NOT NULL,
        arrival_key TEXT UNIQUE,              -- NULL for e-mail parts; see Ledger.arrival_key
        retry_of INTEGER REFERENCES arrivals(id)
    );
    INSERT INTO arrivals_v2 (id, original_name, source, source_path, source_ctime_ns, sha256, size, received_utc,
        received_rule, kind, unit, folder_unit, declared_unit, year, month_from, month_to, sheet, outcome,
        duplicate_of, parent_id, archived_path, receipt_path, recorded_at, command)
        SELECT id, original_name, source, source_path, source_ctime_ns, sha256, size, received_utc,
        received_rule, kind, unit, folder_unit, declared_unit, year, month_from, month_to, sheet, outcome,
        duplicate_of, parent_id, archived_path, receipt_path, recorded_at, command FROM arrivals;
    DROP TABLE arrivals;
    ALTER TABLE arrivals_v2 RENAME TO arrivals;
    CREATE INDEX arrivals_sha ON arrivals (sha256);
    CREATE INDEX arrivals_period ON arrivals (unit, year, month_to, outcome, received_utc);
    CREATE INDEX arrivals_source ON arrivals (source_path, size, source_ctime_ns);
    CREATE UNIQUE INDEX arrivals_one_retry ON arrivals (retry_of) WHERE retry_of IS NOT NULL;
    """),
    (3, """
    -- A clerk's withdrawal of an accepted submission (annex2 void). The arrival keeps its outcome; a voided one
    -- counts for nothing (values, timeliness, duplicates). Permanent: a void is corrected by a new submission.
    CREATE TABLE voided (
        arrival_id INTEGER PRIMARY KEY REFERENCES arrivals(id),
        at_utc TEXT NOT NULL,
        reason TEXT NOT NULL CHECK (length(trim(reason)) > 0),
        command TEXT NOT NULL
    );
    CREATE TRIGGER voided_permanent_u BEFORE UPDATE ON voided
        BEGIN SELECT RAISE(ABORT, 'a void is permanent'); END;
    CREATE TRIGGER voided_permanent_d BEFORE DELETE ON voided
        BEGIN SELECT RAISE(ABORT, 'a void is permanent'); END;
    """),
    (4, """
    -- 发文字号: one running number per (year, prefix); the same document (kind, month, unit) keeps its number
    -- when the notices are written again, so a re-run never uses up numbers.
    CREATE TABLE doc_numbers (
        year INTEGER NOT NULL,
        prefix TEXT NOT NULL,
        n INTEGER NOT NULL CHECK (n >= 1),
        kind TEXT NOT NULL,                   -- reminder | bulletin | escalation | ...
        month TEXT NOT NULL,                  -- the reporting month the document is about, YYYY-MM
        unit TEXT NOT NULL DEFAULT '',        -- the addressee of a per-unit document ('' for the others)
        issued_utc TEXT NOT NULL,
        PRIMARY KEY (year, prefix, n),
        UNIQUE (year, prefix, kind, month, unit)
    );
    """),
    (5, """
    -- Monthly work materials (spec 10): what each material file was judged to be. The arrival row holds its
    -- unit, year and month (month_from = month_to) and outcome ('material' or 'rejected').
    CREATE TABLE material_files (
        arrival_id INTEGER PRIMARY KEY REFERENCES arrivals(id),
        kind TEXT CHECK (kind IN ('stamped', 'electronic')),              -- from the content; NULL: no material
        clerk_kind TEXT CHECK (clerk_kind IN ('stamped', 'electronic')),  -- `annex2 materials set-kind`
        detected_type TEXT NOT NULL,          -- pdf docx doc wps odt rtf ofd jpg png tiff ... (from the bytes)
        pages INTEGER,
        month_rule TEXT NOT NULL,             -- option | name | text | assumed
        unit_rule TEXT                        -- folder | name | text
    );
    """),
]

# Migrations that rebuild a table run with foreign keys off (SQLite ignores the pragma inside a transaction).
REBUILDS = frozenset({2})

# Annex 1 key tasks (spec 11): each accepted progress form's rows (an arrivals row of kind 'task_form'
# holds its unit, year and month_to), and the clerk's 销号 of a (task, unit).
MIGRATIONS.append((6, """
    CREATE TABLE task_reports (
        arrival_id INTEGER NOT NULL REFERENCES arrivals(id),
        task_id TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('unstarted', 'in_progress', 'completed')),
        progress TEXT NOT NULL DEFAULT '',
        evidence TEXT NOT NULL DEFAULT '',
        cell TEXT,
        PRIMARY KEY (arrival_id, task_id)
    ) WITHOUT ROWID;
    CREATE TABLE task_closes (
        id INTEGER PRIMARY KEY,
        task_id TEXT NOT NULL,
        unit TEXT NOT NULL,
        at_utc TEXT NOT NULL,
        note TEXT NOT NULL DEFAULT '',
        command TEXT NOT NULL
    );
    CREATE INDEX task_closes_task ON task_closes (task_id, unit, at_utc);
    """))
# Issue 25 item 3 (witness.py): the scans of the inbox, so a received time is never earlier than the last scan
# that did not see the file (a file whose metadata says earlier is received when a scan first saw it). One row per place scanned ('' = the whole inbox, else a folder below it, a/b); the
# files the scans see (path below the inbox, inode), first seen when, and the latest earlier scan of its place
# (which did not see it; NULL: none). Rows of files gone are dropped by the next scan of their place.
MIGRATIONS.append((7, """
    CREATE TABLE inbox_scans (
        scope TEXT PRIMARY KEY,
        last_utc TEXT NOT NULL
    );
    CREATE TABLE inbox_sightings (
        path TEXT NOT NULL,
        ino INTEGER NOT NULL,
        first_utc TEXT NOT NULL,
        unseen_utc TEXT,
        PRIMARY KEY (path, ino)
    ) WITHOUT ROWID;
"""))
# Supersession per unit, month and kind (spec 4): the files that count, with their kind (supersession.py).
MIGRATIONS.append((8, COUNTED_VIEW))


# The bureau's mailbox (spec 14, `annex2 fetch`): each message read from an IMAP folder, once (UIDVALIDITY + UID;
# Message-ID + SHA-256 as the second key), what became of it, and each reply sent (at most one per message).
MIGRATIONS.append((9, """
    CREATE TABLE mail_messages (
        id INTEGER PRIMARY KEY,
        mailbox TEXT NOT NULL,                -- user@host/folder
        uidvalidity INTEGER NOT NULL,
        uid INTEGER NOT NULL,
        message_id TEXT NOT NULL DEFAULT '',
        sha256 TEXT,                          -- NULL: not downloaded (over the size cap)
        size INTEGER NOT NULL,
        internal_utc TEXT NOT NULL,           -- the server's INTERNALDATE: the received time
        sender TEXT NOT NULL DEFAULT '',
        subject TEXT NOT NULL DEFAULT '',
        spool_path TEXT,                      -- the raw message, relative to the working folder
        state TEXT NOT NULL CHECK (state IN ('fetched', 'unclaimed', 'ingested', 'too_big', 'same_as')),
        arrival_id INTEGER REFERENCES arrivals(id),
        same_as INTEGER REFERENCES mail_messages(id),
        auto INTEGER NOT NULL DEFAULT 0,      -- an automatic message (RFC 3834): never answered (no reply loops)
        reply_due INTEGER NOT NULL DEFAULT 0,
        after_done INTEGER NOT NULL DEFAULT 0,
        fetched_utc TEXT NOT NULL,
        UNIQUE (mailbox, uidvalidity, uid)
    );
    CREATE INDEX mail_messages_second_key ON mail_messages (sha256, message_id);
    CREATE INDEX mail_messages_state ON mail_messages (state);
    CREATE TABLE mail_replies (
        message INTEGER PRIMARY KEY REFERENCES mail_messages(id),
        to_addr TEXT NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('sending', 'sent', 'failed')),
        started_utc TEXT NOT NULL,
        done_utc TEXT,
        detail TEXT NOT NULL DEFAULT ''
    );
    """))

# 阶段性完成 (spec 11, issue 23): a progress form's row may say the task reached its phase within its window.
# SQLite cannot alter a CHECK constraint: the table is rebuilt (nothing references it).
MIGRATIONS.append((10, """
    CREATE TABLE task_reports_v2 (
        arrival_id INTEGER NOT NULL REFERENCES arrivals(id),
        task_id TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('unstarted', 'in_progress', 'phase_done', 'completed')),
        progress TEXT NOT NULL DEFAULT '',
        evidence TEXT NOT NULL DEFAULT '',
        cell TEXT,
        PRIMARY KEY (arrival_id, task_id)
    ) WITHOUT ROWID;
    INSERT INTO task_reports_v2 (arrival_id, task_id, status, progress, evidence, cell)
        SELECT arrival_id, task_id, status, progress, evidence, cell FROM task_reports;
    DROP TABLE task_reports;
    ALTER TABLE task_reports_v2 RENAME TO task_reports;
    """))

class LedgerError(Exception):
    "The ledger database cannot be opened or is from a newer version of annex2"


def ledger_open_text(path: Path, exc: BaseException) -> str:
    text = str(exc).lower()
    if "readonly" in text or "read-only" in text or "unable to open" in text:
        why = "无法写入（文件只读、没有权限或所在磁盘只读）"
    elif "not a database" in text or "malformed" in text:
        why = "已损坏（不是有效的台账文件）；请用 annex2 backup 做过的备份替换它"
    elif "full" in text:
        why = "无法写入（磁盘空间不足）"
    else:
        why = f"无法打开（{exc}）"
    return f"台账数据库 {path} {why}"


def utc_text(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("received times must carry a time zone")
    u = moment.astimezone(timezone.utc)  # %Y does not pad years below 1000 on every platform: text order is time order
    return f"{u.year:04d}-{u.month:02d}-{u.day:02d}T{u.hour:02d}:{u.minute:02d}:{u.second:02d}.{u.microsecond:06d}Z"


def from_utc_text(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc)


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


def network_filesystem(path: Path) -> str | None:
    """The network filesystem type `path` lies on, if any (SQLite's locking is unreliable there)."""
    path = Path(path).resolve()
    if sys.platform == "win32":
        text = str(path)
        if text.startswith("\\\\"):
            return "UNC share"
        try:
            import ctypes

            if ctypes.windll.kernel32.GetDriveTypeW(text[:3]) == 4:  # DRIVE_REMOTE
                return "network drive"
        except Exception:
            return None
        return None
    try:
        mounts = Path("/proc/mounts").read_text().splitlines()
    except OSError:
        return None
    best, fstype = "", None
    for line in mounts:
        parts = line.split()
        if len(parts) >= 3:
            point = parts[1].replace("\\040", " ")
            if (str(path) == point or str(path).startswith(point.rstrip("/") + "/")) and len(point) >= len(best):
                best, fstype = point, parts[2]
    network = {"nfs", "nfs4", "cifs", "smb3", "smbfs", "fuse.sshfs", "9p", "afs", "ceph", "glusterfs"}
    return fstype if fstype in network else None


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
                self._migrate()
            else:
                self._read_only_views()
        except sqlite3.DatabaseError as exc:
            raise LedgerError(ledger_open_text(self.path, exc)) from None

    @classmethod
    def of(cls, cfg: Config, command: str, **options: Any) -> Ledger:
        """The working folder's ledger, waiting for another program writing it as `[limits]` says; a unit
        renamed in config (its old name kept as an alias) keeps one history (identity.py)."""
        ledger = cls(cfg.ledger, command, wait=cfg.limits.ledger_wait_seconds, **options)
        if not options.get("read_only"):
            from .identity import reconcile_unit_names

            try:
                reconcile_unit_names(cfg, ledger, datetime.now(timezone.utc))
            except sqlite3.DatabaseError as exc:
                ledger.close()
                raise LedgerError(ledger_open_text(ledger.path, exc)) from None
        return ledger

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> "Ledger":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    def _migrate(self) -> None:
        self.db.execute("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_utc TEXT NOT NULL)")
        done = {v for (v,) in self.db.execute("SELECT version FROM schema_migrations")}
        newest = max(v for v, _ in MIGRATIONS)
        if done and max(done) > newest:
            raise LedgerError(f"台账 {self.path} 由更新版本的 annex2 建立（版本 {max(done)}），请升级 annex2")
        for version, script in MIGRATIONS:
            if version in done:
                continue
            if version in REBUILDS:
                self.db.execute("PRAGMA foreign_keys = OFF")
            try:
                with self.transaction() as db:
                    for statement in _statements(script):
                        db.execute(statement)
                    if version in REBUILDS and db.execute("PRAGMA foreign_key_check").fetchone():
                        raise LedgerError(f"台账 {self.path} 升级时发现不一致的记录，已撤销升级")
                    db.execute("INSERT INTO schema_migrations VALUES (?, ?)", (version, utc_text(datetime.now(timezone.utc))))
            finally:
                self.db.execute("PRAGMA foreign_keys = ON")

    def _read_only_views(self) -> None:
        """A ledger written by an older annex2 lacks views a newer one reads; looking at it (validate) must
        not migrate it, so they are made for this connection only (SQLite's temp schema)."""
        have = self.db.execute("SELECT 1 FROM sqlite_master WHERE type = 'view' AND name = 'counted'").fetchone()
        tables = {n for (n,) in self.db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if have is None and {"arrivals", "material_files", "voided"} <= tables:
            view = COUNTED_VIEW[COUNTED_VIEW.index("CREATE VIEW"):].replace("CREATE VIEW", "CREATE TEMP VIEW")
            self.db.execute(view.strip().rstrip(";"))

    @property
    def schema_version(self) -> int:
        return self.db.execute("SELECT MAX(version) FROM schema_migrations").fetchone()[0]

    # --- writing ----------------------------------------------------------------------------------

    def record(self, db: sqlite3.Connection, *, now: datetime, values: dict | None = None, issues=(),
               event: str, detail: dict | None = None, **arrival) -> int:
        """Insert one arrival with its issues, values and event (call inside `transaction()`)."""
        arrival["received_utc"] = utc_text(arrival.pop("received_at"))
        arrival["recorded_at"] = utc_text(now)
        arrival.setdefault("command", self.command)
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

    def set_receipt(self, arrival_id: int, receipt: str) -> None:
        with self.transaction() as db:
            db.execute("UPDATE arrivals SET receipt_path = ? WHERE id = ?", (receipt, arrival_id))

    # --- reading ----------------------------------------------------------------------------------

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

    def events(self) -> list[dict]:
        cur = self.db.execute("SELECT id, at_utc, command, kind, arrival_id, detail FROM events ORDER BY id")
        return [dict(zip(("id", "at_utc", "command", "kind", "arrival_id", "detail"), r)) for r in cur]

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


def _statements(script: str) -> list[str]:
    """Split a migration into statements, keeping trigger bodies whole."""
    out, buf = [], []
    for line in script.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("--"):
            continue
        buf.append(line)
        joined = "\n".join(buf)
        if stripped.endswith(";") and sqlite3.complete_statement(joined):
            out.append(joined)
            buf = []
    return out

