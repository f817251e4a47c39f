"""Writes that survive a crash: a temporary file in the same folder, fsync, then an atomic replace."""
from __future__ import annotations

import os
import stat
import sys
import tempfile
from collections.abc import Callable
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


class OddTarget(Exception):
    """An output's target exists and is not a regular file (the message, in Chinese, says what it is)."""


def odd_target(path: Path) -> str | None:
    """Why `path` may not be replaced by an output (a device, FIFO, folder or link there; in Chinese), or None
    when it is free or a regular file. A rename would put a regular file where the device or link was."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return None
    except OSError:
        return None  # the write itself will say what is wrong with the folder
    if stat.S_ISREG(mode):
        return None
    what = ("符号链接（快捷方式）" if stat.S_ISLNK(mode) else "文件夹" if stat.S_ISDIR(mode)
            else "设备或管道等特殊文件")
    return f"{path} 已存在，是{what}而不是普通文件，不能用输出替换它；请给出普通文件的路径"


def replace_with(path: Path, write: Callable[[Path], object]) -> Path:
    """`write(tmp)` writes the whole output to a temporary file beside `path`, which then replaces `path`
    atomically: a full disk or a crash leaves nothing half-written under `path`. An OSError that names no file
    (a full disk while writing) names the folder of `path`, where space or permission is missing."""
    path = Path(path)
    why = odd_target(path)
    if why:
        raise OddTarget(why)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=str(path.parent), prefix=f".tmp-{os.getpid()}-", suffix=path.suffix)
    os.close(fd)
    tmp = Path(name)
    try:
        os.chmod(tmp, 0o666 & ~UMASK)
        write(tmp)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        tmp.unlink(missing_ok=True)
        _name_folder(exc, tmp, path.parent)
        raise
    fsync_dir(path.parent)
    return path


def _name_folder(exc: BaseException | None, tmp: Path, folder: Path) -> None:
    """The OSError an exception is or wraps (a writer library re-raises a full disk as its own) names `folder`
    when it named no file or the temporary one."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, OSError):
            if exc.filename is None or str(exc.filename) == str(tmp):
                exc.filename = str(folder)
            return
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
