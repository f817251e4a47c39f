"""Is a file in the inbox complete, or still being written? A container format says so itself: a zip
(.xlsx .ods .docx) ends with its central directory, an OLE file (.xls .doc) has as many sectors as its
header's tables point to, a JPEG with its end marker, a MIME message (.eml) with the closing boundary of its
outermost multipart. A PDF says less: an incrementally updated PDF has a `%%EOF` after every revision, so a
copy pausing after the first one looks whole; a PDF is ready when its last `%%EOF` is at the end *and* its
size has stayed the same over the stability window. Anything else is ready once its size and mtime have
stopped changing (and, where the platform tells, the writer closed it). A file of 0 bytes is incomplete
whatever its name: a copy creates the file first and writes it afterwards. A file another process holds
open for writing (Linux: its /proc/*/fdinfo; elsewhere nothing tells, and the rules above stand alone) is
never taken nor removed.

A copy that pauses half-way is therefore waited for, never taken; one that never completes is taken after
`[watch] incomplete_seconds` and rejected with a reason (an empty one as empty)."""
from __future__ import annotations

import os
import stat as stat_mod
import struct
from email.parser import BytesHeaderParser
from pathlib import Path
from typing import BinaryIO

ZIP_MAGIC = b"PK\x03\x04"
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_EOCD = b"PK\x05\x06"
_EOCD64_LOCATOR = b"PK\x06\x07"
_TAIL = 64 * 1024 + 22  # the end record plus the longest possible zip comment
_FREE, _END_OF_CHAIN = 0xFFFFFFFF, 0xFFFFFFFE
# Why a file waits, as ingest prints it.
FRESH = "文件刚刚写入，稍后再处理"
CHANGING = "文件正在变化（仍在复制或保存），下次再处理"
WRITING = "文件仍被其他程序打开写入（正在复制或保存），写完关闭后再处理"
_PDF_TAIL = 1024  # where readers look for the last `%%EOF`
_MIME_TAIL = 64 * 1024  # the closing boundary and an epilogue
_MIME_HEAD = 64 * 1024  # the message's own header


def container_complete(path: Path, size: int | None = None) -> bool | None:
    """True or False for a container format; None when the format says nothing (use stability)."""
    try:
        # Never follow a link, never block: a FIFO named like a workbook would wait for a writer for ever.
        with open_no_follow(path) as f:
            opened = os.fstat(f.fileno())
            if not stat_mod.S_ISREG(opened.st_mode):
                return False
            return complete_in(f, opened.st_size if size is None else size, path.name)
    except OSError:
        return False


def open_no_follow(path: Path) -> BinaryIO:
    """Open for reading without following a link or blocking on a FIFO (no effect on a regular file)."""
    flags = os.O_RDONLY | getattr(os, "O_BINARY", 0) | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    return os.fdopen(os.open(path, flags), "rb")


def complete_in(f: BinaryIO, size: int, name: str) -> bool | None:
    """`container_complete` on a handle already open: the caller reads the bytes it judges from this very
    handle, so a file replaced after the look is not the one judged (read once)."""
    try:
        if size == 0:
            return False  # created, not written yet: a copy or a save is under way, whatever the format
        f.seek(0)
        head = f.read(512)
        if head.startswith(ZIP_MAGIC):
            f.seek(max(0, size - _TAIL))
            return _zip_complete(f.read(_TAIL), size)
        if head.startswith(OLE_MAGIC):
            return _ole_complete(head, size)
        if head.startswith(b"%PDF"):
            f.seek(max(0, size - _PDF_TAIL))
            # the last `%%EOF` at the end says only that a revision ended: whether it was the last one, only
            # the stability window (and a writer's close) can tell
            return None if b"%%EOF" in f.read(_PDF_TAIL) else False
        if head.startswith(b"\xff\xd8\xff"):
            f.seek(max(0, size - 2))
            return f.read(2) == b"\xff\xd9"
        if head.startswith(b"\x89PNG"):
            f.seek(max(0, size - 12))
            return f.read(12).startswith(b"\x00\x00\x00\x00IEND")
        if name.lower().endswith(".eml"):
            return _mime_complete(f, size)
        return None
    except OSError:
        return False


def _mime_complete(f: BinaryIO, size: int) -> bool | None:
    """A message whose header has not ended yet is incomplete; a multipart one is complete once the closing
    boundary of its outermost part is there; a single-part one says nothing (stability decides)."""
    f.seek(0)
    head = f.read(min(size, _MIME_HEAD))
    ends = [at for at in (head.find(b"\r\n\r\n"), head.find(b"\n\n")) if at >= 0]
    if not ends:
        return False if size <= _MIME_HEAD else None  # a header longer than that: the reader judges it
    header = BytesHeaderParser().parsebytes(head[:min(ends) + 2])
    if header.get_content_maintype() != "multipart":
        return None
    boundary = header.get_boundary()
    if not boundary:
        return None  # the reader judges a multipart without a boundary
    f.seek(max(0, size - _MIME_TAIL))
    tail = f.read(_MIME_TAIL)
    return f"--{boundary}--".encode("utf-8", "surrogateescape") in tail


def open_for_writing() -> set[tuple[int, int]] | None:
    """(device, inode) of every file another process of ours (or any, as root) holds open for writing, from
    /proc/*/fdinfo; None where the platform does not tell (then the other rules decide alone)."""
    proc = Path("/proc")
    if not (proc / "self" / "fdinfo").is_dir():
        return None
    me, out = os.getpid(), set()
    try:
        pids = [e.name for e in os.scandir(proc) if e.name.isdigit() and int(e.name) != me]
    except OSError:
        return None
    for pid in pids:
        try:
            fds = list(os.scandir(f"/proc/{pid}/fdinfo"))
        except OSError:
            continue  # gone, or another user's (not ours to see)
        for fd in fds:
            try:
                with open(fd.path, "rb") as info:
                    flags = next((line for line in info.read(256).splitlines() if line.startswith(b"flags:")), b"")
                if not flags or int(flags.split()[1], 8) & 3 == os.O_RDONLY:
                    continue
                st = os.stat(f"/proc/{pid}/fd/{fd.name}")
            except (OSError, ValueError, IndexError):
                continue
            if stat_mod.S_ISREG(st.st_mode):
                out.add((st.st_dev, st.st_ino))
    return out


def is_open_for_writing(st: os.stat_result, writers: set[tuple[int, int]] | None = None) -> bool:
    """Whether another process holds this file open for writing (False where the platform does not tell)."""
    writers = open_for_writing() if writers is None else writers
    return writers is not None and (st.st_dev, st.st_ino) in writers


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


def wait_reason(path: Path, st: os.stat_result, cfg, now_ts: float, settled: bool = False,
                handle: BinaryIO | None = None, writers: set[tuple[int, int]] | None = None) -> str | None:
    """None when the file can be taken now, else why it waits (in the words ingest prints). `settled`: the
    watcher has already seen it stop changing (or the writer close it). `handle`: the file already open, the
    one whose bytes will be judged (`st` its fstat). `writers`: `open_for_writing()` of this batch."""
    if is_open_for_writing(st, writers):
        return WRITING  # whatever its age or format: never taken, never removed while a writer holds it
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
    complete = container_complete(path, st.st_size) if handle is None else complete_in(handle, st.st_size, path.name)
    if complete is True:
        return None
    if complete is False:
        if now_ts - st.st_mtime > cfg.watch.incomplete_seconds:
            return None  # a copy that broke off long ago: taken, and rejected with a reason
        return "文件尚未写完整（正在复制或保存），写完后再处理"
    if settled or now_ts - st.st_mtime >= cfg.watch.stable_seconds:
        return None
    return FRESH
