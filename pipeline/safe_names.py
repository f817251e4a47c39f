"""File names that are safe on Windows and POSIX, whatever text they come from."""
from __future__ import annotations

import re
import unicodedata

_RESERVED = {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(1, 10)), *(f"LPT{i}" for i in range(1, 10))}
_BAD = re.compile(r'[\x00-\x1f<>:"/\\|?*]')
MAX_NAME = 80  # characters; leaves room for folders under Windows' 260-character path limit


def safe_filename(name: str, max_len: int = MAX_NAME) -> str:
    """A file name people still recognise, with nothing a filesystem or a shell could trip on."""
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
    return f"{stem}.{ext.lower()}" if ext else stem
