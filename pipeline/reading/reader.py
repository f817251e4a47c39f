"""Any workbook (.xlsx .xlsm .xls .ods) -> the cell values of every sheet, safely.

Before a parser sees the bytes: the size is capped; a zip container's declared sizes, compression ratios
and member count are checked (a zip bomb is refused from its central directory, without inflating it);
XML parts that declare a DOCTYPE or entities are refused (no entity is ever expanded); an OLE container
holding an encrypted workbook is recognised. Values come from python-calamine; formula cells (which
calamine cannot tell apart) are found by a light scan of the sheet XML itself.
"""
from __future__ import annotations

import io

import python_calamine

from ..core.config import Limits

# The reader's parts, re-exported: callers import the types and the checks from here.
from .book import MAX_COLS, MAX_ROWS, OLE_MAGIC, ZIP_MAGIC, Checked, ReadProblem, SheetData, WorkbookData, _fail  # noqa: F401
from .formulas import _formula_cells, col_index  # noqa: F401
from .ole import _checked_ole
from .zipped import _checked_zip


def _describe(data: bytes) -> str:
    head = data[:8]
    if head.startswith(b"%PDF"):
        return "这是一个 PDF 文件，不是表格"
    if head[:4] in (b"\x89PNG", b"\xff\xd8\xff\xe0", b"\xff\xd8\xff\xe1") or head.startswith(b"\xff\xd8"):
        return "这是一张图片，不是表格"
    if data[:512].lstrip().lower().startswith((b"<html", b"<!doctype html")):
        return "这是一个网页文件，不是表格"
    return "文件内容不是 Excel/WPS 表格（可能只是改了扩展名）"


def read_workbook(data: bytes, limits: Limits) -> WorkbookData:
    return _values(*_checked(data, limits))


HELD = 32 * 1024 * 1024  # checked copies held between read_workbooks' two passes, at most


def read_workbooks(datas: list[bytes], limits: Limits) -> list[WorkbookData | Exception]:
    """read_workbook of each, in two passes over the batch: every file's checks, then every file's values
    (calamine). The same checks and the same answers as one at a time; only the order differs, so that each
    pass's code stays warm in the processor's caches (about a tenth faster on a batch of forms). A file's
    ReadProblem, or any failure of its own, is its result, never the batch's; running out of memory is
    the batch's (the heap is then suspect). The copies waiting for the second pass are held up to HELD."""
    out: list[WorkbookData | Exception | None] = [None] * len(datas)
    waiting: list[tuple[int, Checked]] = []
    held = 0

    def values() -> None:
        for i, checked in waiting:
            try:
                out[i] = _values(*checked)
            except MemoryError:
                raise
            except Exception as exc:
                out[i] = exc
        waiting.clear()

    for i, data in enumerate(datas):
        try:
            checked = _checked(data, limits)
        except MemoryError:
            raise
        except Exception as exc:
            out[i] = exc
            continue
        waiting.append((i, checked))
        held += len(checked[0])
        if held > HELD:
            values()
            held = 0
    values()
    return out  # type: ignore[return-value]  # every place is filled by now


def _checked(data: bytes, limits: Limits) -> Checked:
    """Every check before a parser reads the values: the bytes calamine may read, their kind, the formula cells."""
    if not data:
        raise _fail("文件是空的（0 字节），可能复制或下载没有完成")
    if len(data) > limits.max_file_mb * 1024 * 1024:
        raise _fail(f"文件大小 {len(data) / 1024 / 1024:.1f} MB，超过上限 {limits.max_file_mb:g} MB")
    if data.startswith(OLE_MAGIC):
        return _checked_ole(data)
    if data.startswith(ZIP_MAGIC):
        return _checked_zip(data, limits)
    raise _fail(_describe(data))


def _values(data: bytes, kind: str, formulas: dict[str, tuple[frozenset, frozenset]]) -> WorkbookData:
    try:
        wb = python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(data))
        book = WorkbookData(kind)
        for i, meta in enumerate(wb.sheets_metadata):
            if meta.typ != python_calamine.SheetTypeEnum.WorkSheet:
                continue
            sheet = wb.get_sheet_by_index(i)
            rows = sheet.to_python(skip_empty_area=False, nrows=MAX_ROWS)
            if rows and len(rows[0]) > MAX_COLS:  # calamine's rows are all as wide as the sheet
                rows = [row[:MAX_COLS] for row in rows]
            f, missing = formulas.get(meta.name, (frozenset(), frozenset()))
            try:
                merged = tuple(sheet.merged_cell_ranges or ())
            except Exception:  # not every format reports merges
                merged = ()
            book.sheets.append(SheetData(meta.name, rows, f, missing,
                                         meta.visible == python_calamine.SheetVisibleEnum.Visible, merged))
        wb.close()
        return book
    except python_calamine.PasswordError:
        raise ReadProblem("E_ENCRYPTED", "工作簿设置了打开密码") from None
    except ReadProblem:
        raise
    except BaseException as exc:  # calamine raises several types for broken files, and panics (a BaseException)
        if isinstance(exc, (KeyboardInterrupt, SystemExit, MemoryError)):
            raise
        if "password" in str(exc).lower() or "encrypt" in str(exc).lower():
            raise ReadProblem("E_ENCRYPTED", "工作簿设置了打开密码") from None
        raise _fail(f"表格内容无法解析（{type(exc).__name__}）") from None


def check_xml_defenses() -> None:
    """openpyxl parses untrusted XML (the marked-up copy reads comments); it must use defusedxml. The one
    place it does (derived.own_workbook_copy, in the sandbox) imports openpyxl and then calls this. While openpyxl is not loaded
    it parses nothing, and loading it (numpy with it, 0.2 s) only to check would slow every `annex2
    validate`: the check is then left to that moment."""
    import sys

    if "openpyxl" not in sys.modules:
        return
    from openpyxl.xml import DEFUSEDXML

    if not DEFUSEDXML:
        raise RuntimeError("defusedxml is not active for openpyxl: refusing to read untrusted workbooks")
