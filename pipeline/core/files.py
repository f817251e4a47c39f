"""What kind of file something in the inbox is: ignored, a workbook, an e-mail, or other material."""
from __future__ import annotations

from pathlib import Path

RECEIPTS_DIR = "回执"  # a unit folder's receipts: never taken in
INSTRUCTIONS_NAME = "填报说明.txt"  # reserved: ingest ignores it wherever it lies

WORKBOOK_SUFFIXES = frozenset({".xlsx", ".xlsm", ".xls", ".ods"})
EMAIL_SUFFIXES = frozenset({".eml"})
TEMP_SUFFIXES = frozenset({".tmp", ".temp", ".part", ".crdownload", ".partial", ".swp", ".bak", ".download"})
IGNORED_NAMES = frozenset({INSTRUCTIONS_NAME, "thumbs.db", "desktop.ini", ".ds_store"})

# Spreadsheets we do not read: the unit is told to save the form as .xlsx (E_FORMAT), never filed as material.
REFUSED_SPREADSHEET_SUFFIXES = frozenset({".csv", ".et", ".ett", ".numbers", ".tsv"})
MATERIAL_SUFFIXES = frozenset({".pdf", ".ofd", ".jpg", ".jpeg", ".png", ".tif", ".tiff", ".docx", ".doc", ".wps",
                               ".odt", ".rtf", ".wpt", ".dotx"})
KNOWN_SUFFIXES = WORKBOOK_SUFFIXES | EMAIL_SUFFIXES | REFUSED_SPREADSHEET_SUFFIXES | MATERIAL_SUFFIXES

IGNORED, WORKBOOK, EMAIL, MATERIAL = "ignored", "workbook", "email", "material"
REFUSED_SPREADSHEET = "spreadsheet_format"


def is_junk(name: str) -> bool:
    """What an office program, an OS or a copy tool leaves behind: never a unit's report. A name that only
    looks hidden (`..x.xlsx`, `.5月报表.xlsx`) with a suffix we know is a real file and is processed."""
    lower = name.lower()
    if name.startswith(("~$", ".~lock.", "._", ".tmp-", ".~", "~")) or name.endswith(("#", "~")):
        return True
    if lower in IGNORED_NAMES or Path(lower).suffix in TEMP_SUFFIXES:
        return True
    if name.startswith("."):
        return Path(lower).suffix not in KNOWN_SUFFIXES
    return False


def kind_of(path: Path, inbox: Path | None = None) -> str:
    """Lock files (`~$*`, `.~lock.*#`), OS junk and temp files, receipts and our instruction file are ignored."""
    path = Path(path)
    parts: tuple[str, ...] = ()
    if inbox is not None and not is_junk(path.name):
        try:
            parts = path.parent.resolve().relative_to(Path(inbox).resolve()).parts
        except (ValueError, OSError):
            pass
    return kind_in(path.name, parts)


def ignored_note(path: Path) -> str:
    """Why a file named on the command line is skipped (it is `IGNORED`), in Chinese, for the clerk."""
    name = Path(path).name
    if name.startswith("~$") or name.startswith(".~lock."):
        return "Excel/WPS/LibreOffice 打开表格时留下的锁文件，不是报送的文件，已跳过"
    if name.lower() == INSTRUCTIONS_NAME.lower():
        return "这是系统放在收件箱里的填报说明，已跳过"
    if RECEIPTS_DIR in Path(path).parts:
        return "回执文件夹中的文件是系统写给单位的回执，已跳过"
    return "临时文件、隐藏文件或系统文件，不是报送的文件，已跳过"


def kind_in(name: str, folders: tuple[str, ...]) -> str:
    """`kind_of` for a file `name` in the inbox `folders` below the inbox, already resolved."""
    if is_junk(name) or RECEIPTS_DIR in folders or any(p.startswith(".") for p in folders):
        return IGNORED
    suffix = Path(name).suffix.lower()
    if suffix in WORKBOOK_SUFFIXES:
        return WORKBOOK
    if suffix in EMAIL_SUFFIXES:
        return EMAIL
    if suffix in REFUSED_SPREADSHEET_SUFFIXES:
        return REFUSED_SPREADSHEET
    return MATERIAL
