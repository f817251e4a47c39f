"""One batch at a time: an OS file lock held per batch (not for a process's life), so the clerk's `merge`
can slip in between the watcher's batches. Works on Windows (msvcrt) and POSIX (fcntl)."""
from __future__ import annotations

import json
import os
import socket
import sys
import time
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator


class LockBusy(Exception):
    "Another annex2 process is working on this folder"

    def __init__(self, path: Path, holder: str):
        self.path, self.holder = path, holder
        super().__init__(f"另一个 annex2 进程正在处理（{holder}），等待超时。请等它处理完后再试"
                         "（annex2 watch 在运行时，每批文件处理完就会让出）。")


def _try_lock(fd: int) -> bool:
    if sys.platform == "win32":
        import msvcrt

        try:
            os.lseek(fd, 0, os.SEEK_SET)
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
            return True
        except OSError:
            return False
    import fcntl

    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except OSError:
        return False


def _unlock(fd: int) -> None:
    if sys.platform == "win32":
        import msvcrt

        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
    else:
        import fcntl

        fcntl.flock(fd, fcntl.LOCK_UN)


def holder_of(path: Path) -> str:
    try:
        info = json.loads(Path(str(path) + ".owner").read_text(encoding="utf-8"))
        return f"{info['command']}，进程 {info['pid']}@{info['host']}，自 {info['since']} 起"
    except (OSError, ValueError, KeyError):
        return "未知进程"


@contextmanager
def batch_lock(path: Path, command: str, timeout: float = 120.0, poll: float = 0.1) -> Iterator[None]:
    """Hold the folder's lock for one batch; wait up to `timeout` seconds, then raise LockBusy."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(str(path), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + timeout
        while not _try_lock(fd):
            if time.monotonic() >= deadline:
                raise LockBusy(path, holder_of(path))
            time.sleep(poll)
        owner = Path(str(path) + ".owner")
        try:
            owner.write_text(json.dumps({"command": command, "pid": os.getpid(), "host": socket.gethostname(),
                                         "since": datetime.now(timezone.utc).isoformat(timespec="seconds")},
                                        ensure_ascii=False), encoding="utf-8")
        except OSError:
            pass  # who holds it is a courtesy for the message, not part of the lock
        try:
            yield
        finally:
            _unlock(fd)
    finally:
        os.close(fd)


def folder_lock(cfg, command: str):
    """The working folder's batch lock, waiting as long as config allows."""
    return batch_lock(cfg.lock_file, command, cfg.limits.lock_wait_seconds)
