"""Opening the ledger's SQLite file: the error a clerk reads when it cannot be opened, and the warning for
a ledger on a network share (SQLite's locking is unreliable there)."""
from __future__ import annotations

import sqlite3
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator


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


@contextmanager
def transaction(db: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """One write transaction, taking SQLite's write lock at its start (a reader-turned-writer cannot deadlock)."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield db
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")
