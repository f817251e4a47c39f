"""Writes that survive a crash: a temporary file in the same folder, fsync, then an atomic replace."""
from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


UMASK = _umask()
STALE_TEMP_SECONDS = 3600


def abandoned_temp(tmp: Path, now_ts: float) -> bool:
    """A `.tmp-<pid>-…` file whose writer is gone (POSIX asks the process table; elsewhere: old enough)."""
    parts = tmp.name.split("-")
    try:
        age = now_ts - tmp.stat().st_mtime
    except OSError:
        return False
    if sys.platform != "win32" and len(parts) > 2 and parts[1].isdigit():
        pid = int(parts[1])
        if pid == os.getpid():
            return False
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        except OSError:
            return age > STALE_TEMP_SECONDS
        return age > STALE_TEMP_SECONDS  # alive (or a reused pid): only when it has clearly been abandoned
    return age > STALE_TEMP_SECONDS


def fsync_dir(folder: Path) -> None:
    """Make a rename durable (POSIX). Windows has no directory handles to sync; NTFS journals renames."""
    if sys.platform == "win32":
        return
    fd = os.open(str(folder), os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def barrier(paths: list[Path]) -> None:
    """Make files written with `durable=False` durable, with their names: one `sync()` for a whole group on
    POSIX (cheaper than an fsync per file and per folder), an fsync per file where there is no sync()."""
    if not paths:
        return
    if hasattr(os, "sync"):
        os.sync()
        return
    for path in paths:
        try:
            with open(path, "rb+") as f:
                os.fsync(f.fileno())
        except OSError:
            pass


def write_atomic(path: Path, data: bytes, durable: bool = True) -> Path:
    """`path` holds either its old content or all of `data`, never a part. `durable=False`: the caller makes
    a group of such writes durable at once with `barrier()`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=str(path.parent), prefix=f".tmp-{os.getpid()}-", suffix=path.suffix)
    try:
        os.chmod(tmp, 0o666 & ~UMASK)  # as readable as the umask says (a unit reads its receipt on a share)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            if durable:
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    if durable:
        fsync_dir(path.parent)
    return path
