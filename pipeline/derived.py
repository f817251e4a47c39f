"""What we make from a unit's bytes besides its judgement — the marked-up copy of its own workbook, the pages of
its stamped material for the 材料汇编 — made where the bytes are read: in the sandbox's worker
(`sandbox.run_untrusted`), under the same memory and time caps. With reader.py, materials_detect.py and mail.py
this is the only code that parses a unit's bytes (the `reading/` package takes it as it is); the parent only
writes what comes back. A file that passed the sandbox once is no safer the second time: a workbook the reader
read in 0.1 s can still declare one merged range of 17 billion cells for openpyxl, a PDF whose first page
showed a scan can still chain 3,000 arrays for a writer to copy, a TIFF accepted on its first frame can hold
24 more of 800 million pixels each.

Every entry point takes bytes and returns bytes (or raises `Refused` with the reason in Chinese), and checks
its caps — frames, pixels, pages, nesting, merged areas — before a parser decodes anything. A cap hit or a
failure costs that one file its derived output, said where the clerk or the unit reads it; never the batch,
the merge or the lock.
"""
from __future__ import annotations

import io
import re
import warnings
import zipfile

from .config import Limits
from .reader import ReadProblem

MAX_RANGE_CELLS = 200_000  # cells of merged ranges and hyperlink ranges in all (a form has a few hundred)


class Refused(ReadProblem):
    "A derived output was not made: a cap was hit before decoding, or the file cannot be taken apart"

    def __init__(self, reason: str):
        super().__init__("E_UNREADABLE", reason)

    def __reduce__(self):  # crosses from the sandbox's child process to the parent
        return (Refused, (self.reason,))


# --- the marked-up copy of a unit's own .xlsx -----------------------------------------------------------

_RANGE_TAG = re.compile(rb"<(?:[\w.-]+:)?(?:mergeCell|hyperlink)\b([^>]*)>")
_REF = re.compile(rb"""\bref\s*=\s*["']\s*\$?([A-Za-z]{1,3})\$?(\d{1,7})(?:\s*:\s*\$?([A-Za-z]{1,3})\$?(\d{1,7}))?""")


def _col(letters: bytes) -> int:
    n = 0
    for ch in letters.upper():
        n = n * 26 + ch - 64
    return n


def range_cells(sheet_xml: bytes) -> int:
    """How many cells the sheet's merged ranges and hyperlink ranges cover in all: openpyxl makes an object
    for each of them when it loads the sheet (A40:XFD1048576 is 17 billion)."""
    total = 0
    for tag in _RANGE_TAG.finditer(sheet_xml):
        m = _REF.search(tag.group(1))
        if m is None:
            continue
        c1, r1, c2, r2 = m.groups()
        if c2 is None:
            total += 1
            continue
        total += (abs(_col(c2) - _col(c1)) + 1) * (abs(int(r2) - int(r1)) + 1)
    return total


def own_workbook_copy(source: bytes, issues: list, original_name: str, limits: Limits) -> bytes:
    """The marked-up copy of a unit's own .xlsx/.xlsm (markup.py's layout: its form with the problems marked,
    the notes sheet first), as .xlsx bytes. Runs in the sandbox. The reader's checks first (size, zip
    directory, XML prologs), then the merged and hyperlink ranges are counted before openpyxl loads a thing;
    formulas that could reach out of the file, links and macros are dropped."""
    import openpyxl

    from . import markup
    from .reader import _checked, check_xml_defenses

    checked, kind, _formulas = _checked(source, limits)
    if kind != "xlsx":
        raise Refused("不是 .xlsx 工作簿")
    with zipfile.ZipFile(io.BytesIO(checked)) as zf:
        covered = sum(range_cells(zf.read(info)) for info in zf.infolist()
                      if info.filename.lower().startswith("xl/worksheets/") and info.filename.lower().endswith(".xml"))
    if covered > MAX_RANGE_CELLS:
        raise Refused(f"表格的合并单元格或超链接范围共 {covered} 个单元格，超过处理上限 {MAX_RANGE_CELLS}")
    check_xml_defenses()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # openpyxl warns about every extension it does not keep
        wb = openpyxl.load_workbook(io.BytesIO(checked), keep_links=False, keep_vba=False)
        cached = openpyxl.load_workbook(io.BytesIO(checked), data_only=True, keep_links=False)
    for ws in wb.worksheets:
        markup.defuse(ws, cached[ws.title])
    for name in list(wb.defined_names):
        if not markup.safe_formula("=" + str(wb.defined_names[name].attr_text)):
            del wb.defined_names[name]
    marks = []
    for it in issues:
        ws = wb[it.sheet] if it.sheet in wb.sheetnames else None
        cell = markup.top_left(ws, it.cell) if ws is not None and it.cell and markup.A1.match(it.cell) else None
        marks.append(markup.Mark(it, ws.title if ws is not None and cell else None, cell))
    markup.mark(wb, marks)
    markup.notes_sheet(wb, marks, original_name, own=True)
    out = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        wb.save(out)
    return out.getvalue()
