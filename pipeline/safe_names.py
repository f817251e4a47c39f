"""File names that are safe on Windows and POSIX, whatever text they come from."""
from __future__ import annotations

import re
import unicodedata

_RESERVED = {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(1, 10)), *(f"LPT{i}" for i in range(1, 10))}
_BAD = re.compile(r'[\x00-\x1f<>:"/\\|?*]')
MAX_NAME = 80  # characters; leaves room for folders under Windows' 260-character path limit


def display_name(name: str, max_len: int = 120) -> str:
    """A name as shown to people: bytes that were not UTF-8 become U+FFFD, control characters (a newline
    could forge a receipt line) become visible marks, and the length is bounded."""
    text = str(name)
    if any("\udc80" <= ch <= "\udcff" for ch in text):  # bytes that were not UTF-8 (a POSIX name)
        raw = text.encode("utf-8", "surrogateescape")
        try:
            text = raw.decode("gb18030")  # a Chinese share's names are usually GBK
        except UnicodeDecodeError:
            text = raw.decode("utf-8", "replace")
    text = text.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
    text = "".join(ch if ch.isprintable() or ch == " " else "\ufffd" for ch in text)
    return text if len(text) <= max_len else text[: max_len - 1] + "…"


def safe_filename(name: str, max_len: int = MAX_NAME, max_bytes: int = 240) -> str:
    """A file name people still recognise, with nothing a filesystem or a shell could trip on; its UTF-8
    form fits `max_bytes` (filesystems count bytes: 255)."""
    name = display_name(name, 10_000)
    name = unicodedata.normalize("NFC", str(name))
    name = _BAD.sub("_", name).strip().strip(".")
    stem, dot, ext = name.rpartition(".")
    if not dot or len(ext) > 8 or not ext.isalnum():
        stem, ext = name, ""
    stem = stem.strip(" .") or "file"
    if stem.split(".")[0].upper() in _RESERVED:
        stem = "_" + stem
    room = max_len - (len(ext) + 1 if ext else 0)
    stem = stem[:max(room, 1)].rstrip(" .") or "file"
    tail = f".{ext.lower()}" if ext else ""
    while len((stem + tail).encode("utf-8")) > max_bytes and len(stem) > 1:
        stem = stem[:-1]
    return stem + tail
