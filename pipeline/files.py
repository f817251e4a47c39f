"""What kind of file something in the inbox is: ignored, a workbook, an e-mail, or other material."""
from __future__ import annotations

from pathlib import Path

from .workspace import INSTRUCTIONS_NAME, RECEIPTS_DIR

WORKBOOK_SUFFIXES = frozenset({".xlsx", ".xlsm", ".xls", ".ods"})
EMAIL_SUFFIXES = frozenset({".eml"})
TEMP_SUFFIXES = frozenset({".tmp", ".temp", ".part", ".crdownload", ".partial", ".swp", ".bak", ".download"})
IGNORED_NAMES = frozenset({INSTRUCTIONS_NAME, "thumbs.db", "desktop.ini", ".ds_store"})

IGNORED, WORKBOOK, EMAIL, MATERIAL = "ignored", "workbook", "email", "material"


def kind_of(path: Path, inbox: Path | None = None) -> str:
    """Lock files (`~$*`, `.~lock.*#`), hidden and temp files, receipts and our instruction file are ignored."""
    path = Path(path)
    name = path.name
    lower = name.lower()
    if (name.startswith(("~$", ".~lock.", ".", "~")) or name.endswith(("#", "~")) or lower in IGNORED_NAMES
            or path.suffix.lower() in TEMP_SUFFIXES):
        return IGNORED
    if inbox is not None:
        try:
            parts = path.resolve().relative_to(Path(inbox).resolve()).parts[:-1]
        except ValueError:
            parts = ()
        if RECEIPTS_DIR in parts or any(p.startswith(".") for p in parts):
            return IGNORED
    suffix = path.suffix.lower()
    if suffix in WORKBOOK_SUFFIXES:
        return WORKBOOK
    if suffix in EMAIL_SUFFIXES:
        return EMAIL
    return MATERIAL
