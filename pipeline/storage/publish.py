"""Publishing an output file: write beside it, close, fsync, replace. A reader (or Excel holding it open)
sees the old file or the new one, never half of one."""
from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Callable

from .durable import UMASK, abandoned_temp, fsync_dir


@dataclass(frozen=True)
class Published:
    path: Path  # where the new file is
    alternative: bool = False  # True when the target was locked and the new file went beside it
    reason: str = ""


def _replace(src: Path, dst: Path) -> None:
    os.replace(src, dst)


def _sweep_abandoned(folder: Path) -> None:
    """Half-written copies a killed or full-disk run left beside the outputs (`.tmp-<pid>-…`): the clerk and
    leadership open this folder, so what a dead writer left goes once a later run publishes here."""
    for left in folder.glob(".tmp-*"):
        if left.is_file() and abandoned_temp(left, datetime.now().timestamp()):
            try:
                left.unlink()
            except OSError:
                pass


def publish(target: Path, write: Callable[[Path], None], now: datetime) -> Published:
    """`write(tmp_path)` writes the whole file; then it takes the target's place. When the target is locked
    (Excel on Windows holds open files), the old one stays and a timestamped alternative is written."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    _sweep_abandoned(target.parent)
    fd, name = tempfile.mkstemp(dir=str(target.parent), prefix=f".tmp-{os.getpid()}-", suffix=target.suffix)
    os.close(fd)
    tmp = Path(name)
    os.chmod(tmp, 0o666 & ~UMASK)  # readable as the umask says, not mkstemp's 0600
    try:
        write(tmp)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        try:
            _replace(tmp, target)
        except PermissionError as exc:
            alt = target.with_name(f"{target.stem}_{now:%Y%m%d-%H%M%S}{target.suffix}")
            _replace(tmp, alt)
            fsync_dir(target.parent)
            return Published(alt, True, f"{target.name} 正被其他程序打开（{exc.strerror or exc}），"
                                        f"旧文件保持不变，新文件写为 {alt.name}")
        fsync_dir(target.parent)
        return Published(target)
    finally:
        if tmp.exists():
            tmp.unlink()
