"""Writes that survive a crash: a temporary file in the same folder, fsync, then an atomic replace."""
from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path


def fsync_dir(folder: Path) -> None:
    """Make a rename durable (POSIX). Windows has no directory handles to sync; NTFS journals renames."""
    if sys.platform == "win32":
        return
    fd = os.open(str(folder), os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path: Path, data: bytes) -> Path:
    """`path` holds either its old content or all of `data`, never a part."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=str(path.parent), prefix=".tmp-", suffix=path.suffix)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    fsync_dir(path.parent)
    return path
