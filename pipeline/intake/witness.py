"""Received time from what we witnessed, not from metadata a unit controls (spec 4, issue 25 item 3).

A file's inode change time says when it reached its folder — unless it came inside a folder that was moved
in: a directory rename keeps its files' change times (and on Windows every move keeps the creation time). A
unit that prepared its report days ago in a folder the scan skips (its own 回执/, a hidden folder) and moves
that folder into its inbox folder after the deadline would be received "before" it was released.

So every scan of the inbox is recorded in the ledger: when it looked (its start), where (the whole inbox, or
one folder below it), and which files it saw. A file found later that the last scan covering its place did
not see arrived after that scan: its received time is never earlier than that scan. Between two of our own
observations the change time places it; outside them it cannot."""
from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from ..storage.ledger import Ledger, from_utc_text, utc_text
from .collect import Candidate, text_of_path

RULE = "inbox_scan"  # the received time is the scan that found the file (its metadata said before the scan that did not)


@dataclass(frozen=True)
class Scan:
    """One look at the inbox: where (below the inbox, '' for all of it), from when, and what it saw."""

    scope: str
    started: datetime
    seen: tuple[tuple[str, int], ...]


def place(inbox: Path, path: Path) -> str | None:
    """A path as the scans record it: below the (resolved) inbox, '/'-separated; None when outside it."""
    try:
        rel = Path(os.path.abspath(path.parent)).resolve().relative_to(inbox.resolve()) / path.name
    except (ValueError, OSError):
        return None
    return text_of_path(rel.as_posix()).removeprefix("./")


def scan_of(inbox: Path, candidates: list[Candidate], folder: Path | None, started: datetime) -> Scan:
    """What a scan of `folder` (None: the whole inbox) begun at `started` saw."""
    scope = ""
    if folder is not None:
        try:
            scope = text_of_path(Path(folder).resolve().relative_to(inbox.resolve()).as_posix())
        except (ValueError, OSError):
            scope = "\0outside"  # covers nothing in the inbox
        scope = "" if scope == "." else scope
    seen = []
    for cand in candidates:
        where = place(inbox, cand.path)
        if where is None:
            continue
        try:
            ino = ino_key(os.lstat(cand.path).st_ino)
        except OSError:
            continue
        seen.append((where, ino))
    return Scan(scope, started, tuple(seen))


def ino_key(ino: int) -> int:
    """An inode number as SQLite can hold it (ReFS file ids are 128 bits)."""
    return ino & 0x7FFFFFFFFFFFFFFF


def _covers(scope: str, path: str) -> bool:
    return scope == "" or path.startswith(scope + "/")


def _latest_covering(scopes: dict[str, str], path: str, before: str | None = None) -> str | None:
    times = [at for scope, at in scopes.items() if _covers(scope, path) and (before is None or at < before)]
    return max(times) if times else None  # fixed-width UTC text: text order is time order


def record_scan(ledger: Ledger, scan: Scan) -> None:
    """Keep what a scan saw (one transaction): new files with the latest earlier scan of their place, files
    gone from the place forgotten, the place's last scan moved on."""
    started = utc_text(scan.started)
    with ledger.transaction() as db:
        scopes = dict(db.execute("SELECT scope, last_utc FROM inbox_scans"))
        if scan.scope == "":
            rows = db.execute("SELECT path, ino, first_utc FROM inbox_sightings")
        else:
            rows = db.execute("SELECT path, ino, first_utc FROM inbox_sightings WHERE substr(path, 1, ?) = ?",
                              (len(scan.scope) + 1, scan.scope + "/"))
        known = {(p, i): first for p, i, first in rows}
        seen = set(scan.seen)
        # A scan is recorded once its command holds the lock, which may be after a later scan (the watcher's)
        # was recorded: only scans that began before this one bound its new files, and only files first seen
        # before it began can be gone for it.
        db.executemany("INSERT INTO inbox_sightings (path, ino, first_utc, unseen_utc) VALUES (?, ?, ?, ?)",
                       [(p, i, started, _latest_covering(scopes, p, before=started)) for p, i in sorted(seen - set(known))])
        db.executemany("DELETE FROM inbox_sightings WHERE path = ? AND ino = ?",
                       sorted(k for k, first in known.items() if k not in seen and first <= started))
        if scopes.get(scan.scope, "") < started:
            db.execute("INSERT INTO inbox_scans (scope, last_utc) VALUES (?, ?) "
                       "ON CONFLICT (scope) DO UPDATE SET last_utc = excluded.last_utc", (scan.scope, started))


class Witness:
    """The earliest a file found in the inbox can have been received, from the recorded scans (read once)."""

    def __init__(self, ledger: Ledger):
        self.ledger = ledger
        self._scopes: dict[str, str] | None = None

    def window(self, inbox: Path, path: Path, ino: int) -> tuple[datetime | None, datetime | None]:
        """(T1, T2): the last scan covering the file's place that did not see it, and the scan that first saw
        it; either None when there is none (a file named on the command line was seen by no scan)."""
        where = place(inbox, path)
        if where is None:
            return None, None
        row = self.ledger.db.execute("SELECT unseen_utc, first_utc FROM inbox_sightings WHERE path = ? AND ino = ?",
                                     (where, ino_key(ino))).fetchone()
        if row is not None:
            return (from_utc_text(row[0]) if row[0] else None), from_utc_text(row[1])
        if self._scopes is None:  # never seen by a scan (named on the command line): the latest scan of its place
            self._scopes = dict(self.ledger.db.execute("SELECT scope, last_utc FROM inbox_scans"))
        at = _latest_covering(self._scopes, where)
        return (from_utc_text(at) if at else None), None
