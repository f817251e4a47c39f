"""An inbox file's bytes, read without following a link and known to be the very file that was looked at (a
file replaced between the look and the read is `_Changed`); a file over the size limit is copied in chunks."""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

from ..reading.readiness import open_no_follow
from ..storage.durable import fsync_dir

CHUNK = 1024 * 1024
OVER_LIMIT_HEAD = 64 * 1024  # a file over the size limit is known and archived by its size and these first bytes


class _Changed(Exception):
    "The file changed while it was being read"


def _open_no_follow(path: Path):
    return open_no_follow(path)


def _same_file(opened: os.stat_result, st) -> bool:
    return (opened.st_size, opened.st_mtime_ns) == (st.st_size, st.st_mtime_ns) and \
        not (getattr(st, "st_ino", None) and opened.st_ino != st.st_ino)


def _read(path: Path, st: os.stat_result, whole: bool) -> tuple[bytes | None, str]:
    """The bytes (when within limits) and their hash, read in chunks from one open handle; the handle's
    own stat must match what was seen before, so what is judged is what is archived."""
    with _open_no_follow(path) as f:
        if not _same_file(os.fstat(f.fileno()), st):
            raise _Changed
        return _read_open(f, st, whole)


def _read_open(f, st, whole: bool) -> tuple[bytes | None, str]:
    """`_read` on a handle already open. A file over the limit (`whole` False) is never read past its first
    bytes: it is known by its size and those (OVER_LIMIT_HEAD), not by a hash of gigabytes every run."""
    digest, chunks = hashlib.sha256(), []
    f.seek(0)
    if whole:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
            chunks.append(chunk)
    else:
        digest.update(over_limit_prefix(st.st_size))
        digest.update(f.read(OVER_LIMIT_HEAD))
    after = os.fstat(f.fileno())
    if (after.st_size, after.st_mtime_ns) != (st.st_size, st.st_mtime_ns):
        raise _Changed
    return (b"".join(chunks) if whole else None), digest.hexdigest()


def over_limit_prefix(size: int) -> bytes:
    return f"annex2 over-limit file: {size} bytes, first {OVER_LIMIT_HEAD} bytes follow\n".encode()


def _copy_chunked(source: Path, dest: Path, sha256: str) -> None:
    """A file over the size limit: its first OVER_LIMIT_HEAD bytes are archived (what it was, for the clerk
    and the unit); the whole of it stays in the inbox, never read further (a 3 GiB file costs a unit
    nothing to make, and would cost the bureau its disk and a full read every run)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".tmp-{os.getpid()}-" + dest.name)
    try:
        with _open_no_follow(source) as src, open(tmp, "wb") as out:
            digest = hashlib.sha256(over_limit_prefix(os.fstat(src.fileno()).st_size))
            chunk = src.read(OVER_LIMIT_HEAD)
            digest.update(chunk)
            out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        if digest.hexdigest() != sha256:
            raise OSError("文件在存档时发生了变化")
        os.replace(tmp, dest)
    finally:
        if tmp.exists():
            tmp.unlink()
    fsync_dir(dest.parent)


def _same_content(path: Path, sha256: str) -> bool:
    try:
        digest = hashlib.sha256()
        with _open_no_follow(path) as f:
            while chunk := f.read(CHUNK):
                digest.update(chunk)
        return digest.hexdigest() == sha256
    except OSError:
        return False
