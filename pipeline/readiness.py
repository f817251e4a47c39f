"""Is a file in the inbox complete, or still being written? A container format says so itself: a zip
(.xlsx .ods .docx) ends with its central directory, an OLE file (.xls .doc) has as many sectors as its
header's tables point to, a PDF ends with `%%EOF`, a JPEG with its end marker. Anything else is ready once
its size and mtime have stopped changing (and, where the platform tells, the writer closed it). A file of
0 bytes is incomplete whatever its name: a copy creates the file first and writes it afterwards.

A copy that pauses half-way is therefore waited for, never taken; one that never completes is taken after
`[watch] incomplete_seconds` and rejected with a reason (an empty one as empty)."""
from __future__ import annotations

import os
import stat as stat_mod
import struct
from pathlib import Path

ZIP_MAGIC = b"PK\x03\x04"
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_EOCD = b"PK\x05\x06"
_EOCD64_LOCATOR = b"PK\x06\x07"
_TAIL = 64 * 1024 + 22  # the end record plus the longest possible zip comment
_FREE, _END_OF_CHAIN = 0xFFFFFFFF, 0xFFFFFFFE
# Why a file waits, as ingest prints it.
FRESH = "文件刚刚写入，稍后再处理"
CHANGING = "文件正在变化（仍在复制或保存），下次再处理"


def container_complete(path: Path, size: int | None = None) -> bool | None:
    """True or False for a container format; None when the format says nothing (use stability)."""
    try:
        # Never follow a link, never block: a FIFO named like a workbook would wait for a writer for ever.
        flags = os.O_RDONLY | getattr(os, "O_BINARY", 0) | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
        with os.fdopen(os.open(path, flags), "rb") as f:
            opened = os.fstat(f.fileno())
            if not stat_mod.S_ISREG(opened.st_mode):
                return False
            size = opened.st_size if size is None else size
            if size == 0:
                return False  # created, not written yet: a copy or a save is under way, whatever the format
            head = f.read(512)
            if head.startswith(ZIP_MAGIC):
                f.seek(max(0, size - _TAIL))
                return _zip_complete(f.read(), size)
            if head.startswith(OLE_MAGIC):
                return _ole_complete(head, size)
            if head.startswith(b"%PDF"):
                f.seek(max(0, size - 2048))
                return b"%%EOF" in f.read()
            if head.startswith(b"\xff\xd8\xff"):
                f.seek(max(0, size - 2))
                return f.read() == b"\xff\xd9"
            if head.startswith(b"\x89PNG"):
                f.seek(max(0, size - 12))
                return f.read().startswith(b"\x00\x00\x00\x00IEND")
            return None
    except OSError:
        return False


def _zip_complete(tail: bytes, size: int) -> bool:
    """The end-of-central-directory record is there and its central directory ends where it stands."""
    at = tail.rfind(_EOCD)
    if at < 0 or len(tail) - at < 22:
        return False
    cd_size, cd_offset = struct.unpack_from("<II", tail, at + 12)
    eocd_pos = size - len(tail) + at
    if cd_offset == 0xFFFFFFFF or cd_size == 0xFFFFFFFF:  # zip64: the locator precedes the record
        return tail.rfind(_EOCD64_LOCATOR, 0, at) >= 0
    return cd_offset + cd_size == eocd_pos


def _ole_complete(head: bytes, size: int) -> bool:
    """Every sector the header points to (FAT sectors, directory, mini-FAT) lies inside the file."""
    if len(head) < 512:
        return False
    shift = struct.unpack_from("<H", head, 30)[0]
    if shift not in (9, 12):
        return True  # not a header we understand: the reader will judge it
    sector = 1 << shift
    sectors = (size - sector) // sector if size >= 2 * sector else 0
    if sectors <= 0:
        return False
    dir_start = struct.unpack_from("<I", head, 48)[0]
    minifat_start, _minifat_count, difat_start = struct.unpack_from("<III", head, 60)
    difat = struct.unpack_from("<109I", head, 76)
    pointers = [p for p in (dir_start, minifat_start, difat_start, *difat) if p not in (_FREE, _END_OF_CHAIN)]
    return all(p < sectors for p in pointers)


def office_lock_for(path: Path) -> Path | None:
    """The lock file Excel, WPS or LibreOffice keeps beside a workbook while it is open, if there is one.
    Excel writes `~$name` (for long names it drops the first two characters of the name), WPS `~$name` or
    `.~name`, LibreOffice `.~lock.name#`."""
    name = path.name
    for lock in (f"~${name}", f"~${name[2:]}", f"~${name[1:]}", f".~{name}", f".~lock.{name}#"):
        candidate = path.with_name(lock)
        if lock != name and candidate.exists():
            return candidate
    return None


def empty_reason(st: os.stat_result, cfg, now_ts: float) -> str | None:
    """Why a 0-byte file waits (it is being written), or None: it has content, or it has stayed empty longer
    than `[watch] incomplete_seconds` (then it is taken, and rejected as empty)."""
    if st.st_size != 0 or now_ts - st.st_mtime > cfg.watch.incomplete_seconds:
        return None
    return empty_wait_text(cfg)


def empty_wait_text(cfg) -> str:
    minutes = cfg.watch.incomplete_seconds / 60
    shown = f"{minutes:.0f} 分钟" if minutes >= 1 else f"{cfg.watch.incomplete_seconds:g} 秒"
    return f"文件是空的（0 字节），可能仍在复制或写入，等待写完后再处理（{shown}后仍为空则按空文件退回）"


def wait_reason(path: Path, st: os.stat_result, cfg, now_ts: float, settled: bool = False) -> str | None:
    """None when the file can be taken now, else why it waits (in the words ingest prints). `settled`: the
    watcher has already seen it stop changing (or the writer close it)."""
    lock = office_lock_for(path)
    if lock is not None:
        try:
            held = now_ts - lock.stat().st_mtime < cfg.watch.office_lock_minutes * 60
        except OSError:
            held = False
        if held:
            return f"文件仍在 Excel/WPS 中打开（{lock.name}），关闭后再处理"
    if st.st_size == 0:
        return empty_reason(st, cfg, now_ts)
    complete = container_complete(path, st.st_size)
    if complete is True:
        return None
    if complete is False:
        if now_ts - st.st_mtime > cfg.watch.incomplete_seconds:
            return None  # a copy that broke off long ago: taken, and rejected with a reason
        return "文件尚未写完整（正在复制或保存），写完后再处理"
    if settled or now_ts - st.st_mtime >= cfg.watch.stable_seconds:
        return None
    return FRESH
