"""Any workbook (.xlsx .xlsm .xls .ods) -> the cell values of every sheet, safely.

Before a parser sees the bytes: the size is capped; a zip container's declared sizes, compression ratios
and member count are checked (a zip bomb is refused from its central directory, without inflating it);
XML parts that declare a DOCTYPE or entities are refused (no entity is ever expanded); an OLE container
holding an encrypted workbook is recognised. Values come from python-calamine; formula cells (which
calamine cannot tell apart) are found by a light scan of the sheet XML itself.
"""
from __future__ import annotations

import io
import re
import zipfile
from dataclasses import dataclass, field
from typing import Any

import python_calamine

from .config import Limits

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


@dataclass
class SheetData:
    name: str
    rows: list[list[Any]]  # absolute grid: rows[r][c] is the cell at (r, c); '' when empty
    formulas: frozenset[Cell] = frozenset()  # cells holding a formula
    no_cached_value: frozenset[Cell] = frozenset()  # formula cells with no stored result
    visible: bool = True
    merged: tuple[tuple[Cell, Cell], ...] = ()  # ((top, left), (bottom, right)) where the format tells

    def merge_end(self, r: int, c: int) -> int:
        """The last column of the merged range starting at (r, c), or c."""
        return next((c2 for (r1, c1), (_r2, c2) in self.merged if r1 == r and c1 == c), c)

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
    if not data:
        raise _fail("文件是空的（0 字节），可能复制或下载没有完成")
    if len(data) > limits.max_file_mb * 1024 * 1024:
        raise _fail(f"文件大小 {len(data) / 1024 / 1024:.1f} MB，超过上限 {limits.max_file_mb:g} MB")
    if data.startswith(OLE_MAGIC):
        return _read_ole(data)
    if data.startswith(ZIP_MAGIC):
        return _read_zip(data, limits)
    raise _fail(_describe(data))


def _read_ole(data: bytes) -> WorkbookData:
    import msoffcrypto
    import olefile

    try:
        ole = olefile.OleFileIO(io.BytesIO(data))
    except Exception:
        raise _fail("文件已损坏（OLE 结构无法读取）") from None
    try:
        streams = {"/".join(s).lower() for s in ole.listdir()}
        stream = "workbook" if "workbook" in streams else "book"
        biff = ole.openstream(stream).read() if stream in streams else b""
    except Exception:
        raise _fail("文件已损坏（OLE 结构无法读取）") from None
    finally:
        ole.close()
    if {"encryptioninfo", "encryptedpackage"} <= streams:
        raise ReadProblem("E_ENCRYPTED", "工作簿设置了打开密码")
    if "workbook" not in streams and "book" not in streams:
        if "worddocument" in streams:
            raise _fail("这是一个 Word 文档，不是表格")
        raise _fail("文件不是 Excel 97-2003 (.xls) 表格")
    try:
        if msoffcrypto.OfficeFile(io.BytesIO(data)).is_encrypted():
            raise ReadProblem("E_ENCRYPTED", "工作簿设置了打开密码")
    except ReadProblem:
        raise
    except Exception:
        pass  # msoffcrypto does not know every BIFF variant; calamine will say whether it can read it
    return _values(data, "xls", _xls_formulas(biff))


def _read_zip(data: bytes, limits: Limits) -> WorkbookData:
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        infos = zf.infolist()
    except (zipfile.BadZipFile, OSError, ValueError):
        raise _fail("文件不完整或已损坏（压缩结构无法读取），可能复制或下载没有完成") from None
    if len(infos) > limits.max_zip_members:
        raise _fail(f"压缩包内有 {len(infos)} 个部件，超过上限 {limits.max_zip_members}")
    total = sum(i.file_size for i in infos)
    if total > limits.max_uncompressed_mb * 1024 * 1024:
        raise _fail(f"解压后大小 {total / 1024 / 1024:.0f} MB，超过上限 {limits.max_uncompressed_mb:g} MB（疑似压缩炸弹）")
    for info in infos:
        if info.file_size > 1024 * 1024 and info.file_size > limits.max_compression_ratio * max(info.compress_size, 1):
            raise _fail(f"部件 {info.filename} 的压缩比异常（疑似压缩炸弹）")
    names = {i.filename for i in infos}
    try:
        _refuse_entities(zf, infos)
        if "mimetype" in names and zf.read("mimetype").strip() == ODS_MIME:
            formulas = _ods_formulas(zf) if "content.xml" in names else {}
            return _values(data, "ods", formulas)
        if "xl/workbook.xml" in names:
            return _values(data, "xlsx", _xlsx_formulas(zf, names))
    except (zipfile.BadZipFile, EOFError, zipfile.LargeZipFile, OSError, RuntimeError) as exc:
        if "encrypted" in str(exc).lower():
            raise ReadProblem("E_ENCRYPTED", "工作簿设置了打开密码") from None
        raise _fail("文件不完整或已损坏（压缩数据无法解开）") from None
    if "word/document.xml" in names:
        raise _fail("这是一个 Word 文档，不是表格")
    if "mimetype" in names:
        raise _fail("这是一个 OpenDocument 文件，但不是电子表格 (.ods)")
    raise _fail("压缩包里没有表格（不是 .xlsx / .ods 文件）")


_ROOT_START = re.compile(rb"<[A-Za-z_]")
PROLOG_LIMIT = 64 * 1024


def _refuse_entities(zf: zipfile.ZipFile, infos: list[zipfile.ZipInfo]) -> None:
    """A DOCTYPE (and with it any entity) can only stand in the prolog, before the root element: read each
    XML part only that far. A prolog longer than any real file's is refused as well."""
    for info in infos:
        if not info.filename.endswith((".xml", ".rels", ".vml")):
            continue
        with zf.open(info) as part:
            head = b""
            while True:
                chunk = part.read(256 if not head else 4096)  # the root element is almost always in the first line or two
                head += chunk
                root = _ROOT_START.search(head)
                if root or not chunk:
                    break
                if len(head) > PROLOG_LIMIT:
                    raise _fail(f"部件 {info.filename} 的开头异常（疑似恶意文件），出于安全原因不予读取")
        prolog = head[: root.start()] if root else head
        if b"<!DOCTYPE" in prolog or b"<!ENTITY" in prolog or b"<!doctype" in prolog:
            raise _fail(f"部件 {info.filename} 含有 XML 实体声明（DOCTYPE），出于安全原因不予读取")


_REF = re.compile(rb'\br="([A-Z]+)(\d+)"')
_HAS_F = re.compile(rb"<(?:\w+:)?f\b")
_HAS_V = re.compile(rb"<(?:\w+:)?v>\s*[^<\s]")
_HAS_IS = re.compile(rb"<(?:\w+:)?is>")


def col_index(letters: str) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + (ord(ch) - 64)
    return n - 1


_SHEET_TAG = re.compile(rb"<(?:\w+:)?sheet\b([^>]*)/?>")
_REL_TAG = re.compile(rb"<(?:\w+:)?Relationship\b([^>]*)/?>")
_ATTR = re.compile(rb'([\w:]+)\s*=\s*"([^"]*)"')


def _attrs(text: bytes) -> dict[bytes, str]:
    from html import unescape

    return {k.split(b":")[-1]: unescape(v.decode("utf-8", "replace")) for k, v in _ATTR.findall(text)}


def _xlsx_formulas(zf: zipfile.ZipFile, names: set[str]) -> dict[str, tuple[frozenset, frozenset]]:
    """Sheet name -> (formula cells, formula cells without a cached value), from the sheet XML. The
    workbook part and its relationships are read with plain patterns: their DOCTYPE was refused already,
    and they are two small lists (sheet name -> part)."""
    rels_name = "xl/_rels/workbook.xml.rels"
    if rels_name not in names:
        return {}
    targets = {}
    for attrs in map(_attrs, _REL_TAG.findall(zf.read(rels_name))):
        target = attrs.get(b"Target", "")
        targets[attrs.get(b"Id")] = target.lstrip("/") if target.startswith("/") else "xl/" + target
    out = {}
    for attrs in map(_attrs, _SHEET_TAG.findall(zf.read("xl/workbook.xml"))):
        part = targets.get(attrs.get(b"id"))
        if not part or part not in names:
            continue
        out[attrs.get(b"name")] = _formula_cells(zf.read(part))
    return out


_CELL_OPEN = re.compile(rb"<(?:\w+:)?c\b")
_CELL_CLOSE = re.compile(rb"</(?:\w+:)?c>|<(?:\w+:)?c\b")


def _formula_cells(xml: bytes) -> tuple[frozenset, frozenset]:
    """Only the few formula cells matter: find each `<f`, step back to the cell that holds it, look ahead
    to the cell's end for a cached `<v>`. One forward pass: the step back never goes behind the end of the
    cell found last (the holding cell starts after it), so each byte is looked at a bounded number of
    times whatever the number of formulas."""
    formulas, missing = set(), set()
    pos = 0
    while True:
        f = _HAS_F.search(xml, pos)
        if not f:
            break
        start = max(xml.rfind(b"<c ", pos, f.start()), xml.rfind(b":c ", pos, f.start()))
        end_match = _CELL_CLOSE.search(xml, f.end())
        end = end_match.start() if end_match else len(xml)
        pos = max(end, f.end())
        if start < 0:
            continue
        tag_end = xml.find(b">", start, f.start())
        ref = _REF.search(xml, start, tag_end) if tag_end >= 0 else None
        if not ref:
            continue
        cell = (int(ref.group(2)) - 1, col_index(ref.group(1).decode()))
        formulas.add(cell)
        body = xml[tag_end:end]
        if not _HAS_V.search(body) and not _HAS_IS.search(body):
            missing.add(cell)
    return frozenset(formulas), frozenset(missing)


def _xls_formulas(biff: bytes) -> dict[str, tuple[frozenset, frozenset]]:
    """Formula cells of a BIFF8 workbook stream, from its FORMULA records (.xls always caches results)."""
    import struct

    names: dict[int, str] = {}
    out: dict[str, set] = {}
    pos, current = 0, None
    try:
        while pos + 4 <= len(biff):
            kind, size = struct.unpack_from("<HH", biff, pos)
            body = biff[pos + 4:pos + 4 + size]
            if kind == 0x0085 and len(body) >= 8:  # BOUNDSHEET: where a sheet's BOF lies, and its name
                offset, count, high = struct.unpack_from("<IBxB", body, 0)[0], body[6], body[7]
                raw = body[8:8 + count * (2 if high else 1)]
                names[offset] = raw.decode("utf-16-le" if high else "latin-1", errors="replace")
            elif kind == 0x0809:  # BOF
                current = names.get(pos)
            elif kind == 0x0006 and current is not None and len(body) >= 4:  # FORMULA
                row, col = struct.unpack_from("<HH", body, 0)
                out.setdefault(current, set()).add((row, col))
            pos += 4 + size
    except struct.error:
        pass  # a damaged tail: calamine will judge the file; what was found still counts
    return {name: (frozenset(cells), frozenset()) for name, cells in out.items()}


def _ods_formulas(zf: zipfile.ZipFile) -> dict[str, tuple[frozenset, frozenset]]:
    content = zf.read("content.xml")
    if b"table:formula" not in content:
        return {}
    from defusedxml.ElementTree import iterparse

    t = "{urn:oasis:names:tc:opendocument:xmlns:table:1.0}"
    o = "{urn:oasis:names:tc:opendocument:xmlns:office:1.0}"
    out: dict[str, tuple[frozenset, frozenset]] = {}
    name, row, col = None, 0, 0
    formulas: set = set()
    missing: set = set()
    for event, el in iterparse(io.BytesIO(content), events=("start", "end")):
        tag = el.tag
        if event == "start":
            if tag == t + "table":
                name, row, formulas, missing = el.get(t + "name"), 0, set(), set()
            elif tag == t + "table-row":
                col = 0
            continue
        if tag in (t + "table-cell", t + "covered-table-cell"):
            repeat = int(el.get(t + "number-columns-repeated", "1"))
            if el.get(t + "formula") is not None and row < MAX_ROWS:
                for k in range(min(repeat, MAX_COLS)):
                    formulas.add((row, col + k))
                    if el.get(o + "value-type") is None:
                        missing.add((row, col + k))
            col += repeat
            el.clear()
        elif tag == t + "table-row":
            row += int(el.get(t + "number-rows-repeated", "1"))
            el.clear()
        elif tag == t + "table":
            out[name] = (frozenset(formulas), frozenset(missing))
            el.clear()
    return out


def _values(data: bytes, kind: str, formulas: dict[str, tuple[frozenset, frozenset]]) -> WorkbookData:
    try:
        wb = python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(data))
        book = WorkbookData(kind)
        for i, meta in enumerate(wb.sheets_metadata):
            if meta.typ != python_calamine.SheetTypeEnum.WorkSheet:
                continue
            sheet = wb.get_sheet_by_index(i)
            rows = sheet.to_python(skip_empty_area=False, nrows=MAX_ROWS)
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
    except Exception as exc:  # calamine raises several types for broken files; all mean the same here
        if "password" in str(exc).lower() or "encrypt" in str(exc).lower():
            raise ReadProblem("E_ENCRYPTED", "工作簿设置了打开密码") from None
        raise _fail(f"表格内容无法解析（{type(exc).__name__}）") from None


def check_xml_defenses() -> None:
    """openpyxl parses untrusted XML (the marked-up copy reads comments); it must use defusedxml."""
    from openpyxl.xml import DEFUSEDXML

    if not DEFUSEDXML:
        raise RuntimeError("defusedxml is not active for openpyxl: refusing to read untrusted workbooks")
