"""What reading a workbook gives: each sheet's cells as values (SheetData, WorkbookData), or a ReadProblem in
Chinese. The reader's modules (reader, ole, zipped, formulas) share these; everything else imports them
from reader.py."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
ZIP_MAGIC = b"PK\x03\x04"
MAX_ROWS = 1000  # the form is small; a sheet's rows past this are never looked at
MAX_COLS = 100
ODS_MIME = b"application/vnd.oasis.opendocument.spreadsheet"

Cell = tuple[int, int]  # (row, col), 0-based


class ReadProblem(Exception):
    "The file cannot be read as a workbook; `code` is E_UNREADABLE or E_ENCRYPTED, `reason` is for people"

    def __init__(self, code: str, reason: str):
        self.code = code
        self.reason = reason
        super().__init__(f"{code}: {reason}")

    def __reduce__(self):  # crosses from the sandbox's child process to the parent
        return (ReadProblem, (self.code, self.reason))


@dataclass
class SheetData:
    name: str
    rows: list[list[Any]]  # absolute grid: rows[r][c] is the cell at (r, c); '' when empty
    formulas: frozenset[Cell] = frozenset()  # cells holding a formula
    no_cached_value: frozenset[Cell] = frozenset()  # formula cells with no stored result
    visible: bool = True
    merged: tuple[tuple[Cell, Cell], ...] = ()  # ((top, left), (bottom, right)) where the format tells
    _merge_ends: dict[Cell, int] | None = field(default=None, repr=False, compare=False)

    def merge_end(self, r: int, c: int) -> int:
        """The last column of the merged range starting at (r, c), or c."""
        if self._merge_ends is None:
            self._merge_ends = {}
            for (r1, c1), (_r2, c2) in self.merged:
                self._merge_ends.setdefault((r1, c1), c2)  # the first range listed from a cell, as before
        return self._merge_ends.get((r, c), c)

    def value(self, r: int, c: int) -> Any:
        if r < len(self.rows) and c < len(self.rows[r]):
            return self.rows[r][c]
        return ""


@dataclass
class WorkbookData:
    kind: str  # xlsx | xls | ods
    sheets: list[SheetData] = field(default_factory=list)


def _fail(reason: str) -> ReadProblem:
    return ReadProblem("E_UNREADABLE", reason)


Checked = tuple[bytes, str, "dict[str, tuple[frozenset, frozenset]]"]  # what calamine reads, kind, formula cells
