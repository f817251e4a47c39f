"""`annex2 validate`: each file judged exactly as ingest would judge it, nothing written, the verdicts returned
as a typed Report (report.py) that the CLI prints or dumps."""
from __future__ import annotations

import os
import stat as stat_mod
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Callable

from ..core.config import Config
from ..core.files import EMAIL, IGNORED, WORKBOOK
from ..core.issues import issue
from ..core.safe_names import display_name
from ..reading.prefetch import reader_for
from ..storage.ledger import Ledger
from .collect import Placement, placement, text_of_path
from .folders import FORMER, Folders
from .inbox_files import _Changed, _read
from .ingest import GROUP, LINK, isolated_reader
from .judge import Incoming, Judge, Judged, failed
from .report import Entry, FileReport, IgnoredFile, Report, file_report


def check_files(paths: list[Path], cfg: Config, now: datetime, ledger: Ledger | None = None,
                read: Callable | None = None,
                judged: Callable[[Path, FileReport, bytes | None], None] | None = None) -> Report:
    """What `annex2 validate` prints: each file judged exactly as ingest would judge it (with the history
    rules when a ledger is given), and nothing written. Many files are parsed ahead on every core.
    `judged(path, report, data)` is called for each file judged, with the very bytes judged (its workbook as
    the sandbox extracted it, and the form located in it, are in the report): `validate --markup` draws its
    copies from that, never reading a file again."""
    paths = [Path(p) for p in paths]
    default = read or isolated_reader()
    reader, ahead = reader_for(len(paths), cfg.limits, default)
    judge = Judge(cfg, ledger, now, reader)
    files: list[Entry] = []
    inbox = cfg.inbox.resolve()
    folders: dict[str, tuple[str, ...] | None] = {}
    owners = Folders(cfg, ledger)
    try:
        for at in range(0, len(paths), GROUP):
            chunk = [_load_for_check(path, _owned(placement(cfg, path, inbox, folders), path, owners), cfg, now)
                     for path in paths[at:at + GROUP]]
            if ahead is not None:
                for _path, kind, _shown, got in chunk:
                    if kind == WORKBOOK and isinstance(got, Incoming) and got.data is not None:
                        ahead.submit(got.data)
            for path, (where, kind, shown, got) in zip(paths[at:at + GROUP], chunk):
                if isinstance(got, IgnoredFile):
                    files.append(got)
                    continue
                if isinstance(got, Incoming):
                    data = got.data
                    try:
                        got = judge.file(got, kind, where.folder_unit, clerk_folder=where.clerk_folder)
                    except Exception as exc:
                        got = failed(kind, shown, exc)
                    if judged is not None:
                        judged(path, file_report(shown, got), data)
                if got.parts:  # an e-mail: its attachments, and itself only when it is refused
                    files += [file_report(f"{shown}#{p.name}", j) for p, j in got.parts]
                    if got.outcome in ("rejected", "failed"):
                        files.append(file_report(shown, got))
                else:
                    files.append(file_report(shown, got))
    finally:
        if ahead is not None:
            ahead.close()
    return Report(tuple(files))


def _owned(where: Placement, path: Path, owners: Folders) -> Placement:
    """A file in a unit's former folder is judged as that unit's, as ingest judges it (folders.py)."""
    if where.folder_unit is not None or where.clerk_folder:
        return where
    owner = owners.of_path(path)
    return replace(where, folder_unit=owner.unit) if owner is not None and owner.kind == FORMER else where


def _load_for_check(path: Path, where: Placement, cfg: Config,
                    now: datetime) -> tuple[Placement, str, str, "Incoming | Judged | IgnoredFile"]:
    """One file for `validate`: its bytes to judge, or already a verdict (ignored, a link, unreadable)."""
    kind = where.kind
    shown = text_of_path(str(path))
    if kind == IGNORED:
        return where, kind, shown, IgnoredFile(shown)
    owner = where.folder_unit
    try:
        st = os.lstat(path)
        if stat_mod.S_ISLNK(st.st_mode):
            return where, LINK, shown, Judged("rejected", LINK, owner.name if owner else None, issues=[issue(
                "E_UNREADABLE", "这是一个快捷方式（符号链接），不是文件本身；出于安全原因不予读取")])
        limit = cfg.limits.max_email_mb if kind == EMAIL else cfg.limits.max_file_mb
        data, sha = _read(path, st, whole=st.st_size <= limit * 1024 * 1024)
        return where, kind, shown, Incoming(display_name(path.name), data, sha, st.st_size, shown, None, now, "clerk")
    except (OSError, _Changed) as exc:
        return where, kind, shown, Judged("rejected", kind, issues=[issue("E_UNREADABLE", f"文件无法读取（{exc}）")])
