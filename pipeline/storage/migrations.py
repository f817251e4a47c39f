"""The ledger's schema, as numbered steps applied in order, each in its own transaction (a ledger records
which it has in `schema_migrations`). Steps are never edited once released: a change is a new step. The
numbering is shared by all slices, so that a ledger made by any earlier annex2 opens unchanged; each table
has one owner, the only module whose SQL touches it:

    1, 2  arrivals, issues, submission_values, events   storage/ledger.py
    3     voided                                         storage/ledger.py (void, voids)
    4     doc_numbers                                    documents/docnumbers.py
    5     material_files                                 materials/store.py
    6, 10 task_reports, task_closes                      tasks/store.py
    7     inbox_scans, inbox_sightings                   intake/witness.py
    8     the `counted` view (what counts, per kind)     storage/supersession.py
    9     mail_messages, mail_replies                    intake/fetch_store.py

(storage/identity.py renames a unit in every table that holds a unit's name: the one step that crosses them.)"""
from __future__ import annotations

import sqlite3
from datetime import datetime, timezone
from pathlib import Path

from .connection import LedgerError, transaction
from .supersession import COUNTED_VIEW
from .timestamps import utc_text

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


def migrate(db: sqlite3.Connection, path: Path) -> None:
    """Apply the steps the ledger at `path` lacks; refuse one made by a newer annex2."""
    db.execute("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_utc TEXT NOT NULL)")
    done = {v for (v,) in db.execute("SELECT version FROM schema_migrations")}
    newest = max(v for v, _ in MIGRATIONS)
    if done and max(done) > newest:
        raise LedgerError(f"台账 {path} 由更新版本的 annex2 建立（版本 {max(done)}），请升级 annex2")
    for version, script in MIGRATIONS:
        if version in done:
            continue
        if version in REBUILDS:
            db.execute("PRAGMA foreign_keys = OFF")
        try:
            with transaction(db) as tx:
                for statement in _statements(script):
                    tx.execute(statement)
                if version in REBUILDS and tx.execute("PRAGMA foreign_key_check").fetchone():
                    raise LedgerError(f"台账 {path} 升级时发现不一致的记录，已撤销升级")
                tx.execute("INSERT INTO schema_migrations VALUES (?, ?)", (version, utc_text(datetime.now(timezone.utc))))
        finally:
            db.execute("PRAGMA foreign_keys = ON")


def read_only_views(db: sqlite3.Connection) -> None:
    """A ledger written by an older annex2 lacks views a newer one reads; looking at it (validate) must
    not migrate it, so they are made for this connection only (SQLite's temp schema)."""
    have = db.execute("SELECT 1 FROM sqlite_master WHERE type = 'view' AND name = 'counted'").fetchone()
    tables = {n for (n,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if have is None and {"arrivals", "material_files", "voided"} <= tables:
        view = COUNTED_VIEW[COUNTED_VIEW.index("CREATE VIEW"):].replace("CREATE VIEW", "CREATE TEMP VIEW")
        db.execute(view.strip().rstrip(";"))


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

