"""Which files are there to take in, and whose they are: the one list of candidates that `ingest`, `watch`,
`merge` and `demo` all work from. Symbolic links are never followed (a unit cannot make the tool read
another folder); names of any bytes are carried as they are and shown sanitized."""
from __future__ import annotations

import os
import stat as stat_mod
import sys
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from ..core.config import Config, Unit
from ..core.files import IGNORED, RECEIPTS_DIR, kind_in, kind_of


@dataclass(frozen=True)
class Candidate:
    path: Path
    source: str  # inbox | external
    folder_unit: Unit | None = None
    received_at: datetime | None = None  # None: the file's arrival time from its metadata
    rule: str | None = None
    settled: bool = False  # the watcher has already seen it stop changing


def arrival_time(st: os.stat_result, cfg: Config) -> datetime:
    """When a file reached the folder: the inode change time, which a copy or move sets (the mtime survives
    a copy, so it says when the unit saved it, not when it arrived). Windows: the creation time."""
    ns = st.st_ctime_ns
    if sys.platform == "win32" and hasattr(st, "st_birthtime_ns"):
        ns = st.st_birthtime_ns
    return datetime.fromtimestamp(ns / 1e9, cfg.bureau.tz)


def scan_inbox(cfg: Config, folder: Path | None = None) -> list[Candidate]:
    """Every file under the inbox (or one of its folders) that is not ignored, links included (they are
    rejected, not followed). Directory links are not descended into."""
    inbox = cfg.inbox
    out = []
    for dirpath, dirnames, filenames in os.walk(folder or inbox, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if d != RECEIPTS_DIR and not d.startswith("."))
        links = [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]
        dirnames[:] = [d for d in dirnames if d not in links]
        for name in sorted(filenames) + links:
            path = Path(dirpath) / name
            if kind_of(path, inbox) == IGNORED:
                continue
            try:
                mode = path.lstat().st_mode
            except OSError:
                continue
            if stat_mod.S_ISREG(mode) or stat_mod.S_ISLNK(mode):
                out.append(Candidate(path, "inbox", folder_unit_of(cfg, path)))
    return out


def ignored_files(cfg: Config, older_than: float, now_ts: float) -> list[tuple[Path, float]]:
    """Files the intake skips (lock, temp, hidden) that have sat in the inbox longer than `older_than`
    seconds: `status` lists them so nothing sits there unseen."""
    out = []
    for dirpath, dirnames, filenames in os.walk(cfg.inbox, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if d != RECEIPTS_DIR)
        for name in sorted(filenames):
            path = Path(dirpath) / name
            if kind_of(path, cfg.inbox) != IGNORED:
                continue
            try:
                age = now_ts - path.lstat().st_mtime
            except OSError:
                continue
            if age > older_than:
                out.append((path, age))
    return out


def _relative(cfg: Config, path: Path) -> tuple[str, ...] | None:
    """The path's parts below the inbox, without resolving the file itself (it may be a link)."""
    parts = _below_inbox(Path(path).parent, cfg.inbox.resolve())
    return None if parts is None else (*parts, Path(path).name)


def _below_inbox(folder: Path, inbox: Path) -> tuple[str, ...] | None:
    """A folder's parts below the (resolved) inbox once resolved; None when it lies elsewhere."""
    try:
        return folder.resolve().relative_to(inbox).parts
    except (ValueError, OSError):
        return None


@dataclass(frozen=True)
class Placement:
    """Where a path given on the command line lies: what kind of file, whose folder, the clerk's folder."""

    kind: str
    folder_unit: Unit | None
    clerk_folder: bool


def placement(cfg: Config, path: Path, inbox: Path, folders: dict[str, tuple[str, ...] | None]) -> Placement:
    """`kind_of`, `folder_unit_of` and `in_clerk_folder` at once, for one of a batch of paths that `validate`
    reads and nothing writes (`inbox` resolved once; `folders`: each folder's parts below it, found once)."""
    text = os.fspath(path)
    folder, name = os.path.dirname(text) or ".", os.path.basename(text)
    if folder not in folders:
        folders[folder] = _below_inbox(Path(folder), inbox)
    parts = folders[folder]
    if parts is None:
        return Placement(kind_in(name, ()), None, False)
    return Placement(kind_in(name, parts), cfg.unit_by_folder(parts[0]) if parts else None, not parts)


def folder_unit_of(cfg: Config, path: Path) -> Unit | None:
    rel = _relative(cfg, path)
    return cfg.unit_by_folder(rel[0]) if rel and len(rel) > 1 else None


def in_inbox(cfg: Config, path: Path) -> bool:
    return _relative(cfg, path) is not None


def in_clerk_folder(cfg: Config, path: Path) -> bool:
    """Straight in the inbox root, where only the clerk saves e-mails from the bureau's mail server."""
    rel = _relative(cfg, path)
    return rel is not None and len(rel) == 1


def text_of_path(text: str) -> str:
    """A path or name as text SQLite and any file can hold: bytes that are not UTF-8 (kept by Python as
    lone surrogates) become visible escapes, the same ones every run."""
    return text.encode("utf-8", "surrogatepass").decode("utf-8", "backslashreplace")
