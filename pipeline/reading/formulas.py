"""Which cells hold a formula, and which of those have no stored result: python-calamine gives values only, so
a light scan of the sheet XML (xlsx), the BIFF records (xls) or content.xml (ods) tells them apart."""
from __future__ import annotations

import io
import re
import struct
from html import unescape
from typing import Protocol

from .book import MAX_COLS, MAX_ROWS, _fail


class Parts(Protocol):
    """A checked zip's members (zipped._Members): their names, and one member's bytes."""

    names: set[str]

    def read(self, name: str) -> bytes: ...


_REF = re.compile(rb'\br="([A-Z]{1,3})(\d{1,7})"')  # a real cell: a longer one lies past every sheet's end
_HAS_F = re.compile(rb"<(?:\w+:)?f\b")
# Where no `:f` stands (no prefixed formula element), _HAS_F finds just what _PLAIN_F finds, faster: a
# pattern with a literal start, which the regex engine skips to.
_PREFIXED_F = re.compile(rb":f\b")
_PLAIN_F = re.compile(rb"<f\b")
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
    return {k.split(b":")[-1]: unescape(v.decode("utf-8", "replace")) for k, v in _ATTR.findall(text)}


def _xlsx_formulas(members: Parts) -> dict[str, tuple[frozenset, frozenset]]:
    """Sheet name -> (formula cells, formula cells without a cached value), from the sheet XML. The
    workbook part and its relationships are read with plain patterns: their DOCTYPE was refused already,
    and they are two small lists (sheet name -> part)."""
    rels_name, names = "xl/_rels/workbook.xml.rels", members.names
    if rels_name not in names:
        return {}
    targets = {}
    for attrs in map(_attrs, _REL_TAG.findall(members.read(rels_name))):
        target = attrs.get(b"Target", "")
        targets[attrs.get(b"Id")] = target.lstrip("/") if target.startswith("/") else "xl/" + target
    out = {}
    for attrs in map(_attrs, _SHEET_TAG.findall(members.read("xl/workbook.xml"))):
        part = targets.get(attrs.get(b"id"))
        if not part or part not in names:
            continue
        out[attrs.get(b"name", "")] = _formula_cells(members.read(part))
    return out


_CELL_CLOSE = re.compile(rb"</(?:\w+:)?c>|<(?:\w+:)?c\b")
_CELL_START = re.compile(rb"<(?:\w+:)?c\s")  # `<c r=`, `<x:c\tr=`: a `:c ` in an attribute's value is no cell
# A formula cell as Excel, WPS and LibreOffice write it: `<c r="B7" s="3"><f>SUM(B5:B6)</f><v>9</v></c>`. What
# the general steps below find for such a cell, this one match finds at once; any other shape takes them.
_PLAIN_CELL = re.compile(rb'<c r="([A-Z]{1,3})(\d{1,7})"[^<>]*><f\b[^<>]*(?:/>|>[^<]*</f>)(?:<v>([^<]*)</v>)?</c>')
_COLUMNS: dict[bytes, int] = {}  # column letters -> index, at most 18,278 of them (A to ZZZ)


def _column(letters: bytes) -> int:
    col = _COLUMNS.get(letters)
    if col is None:
        col = _COLUMNS[letters] = col_index(letters.decode())
    return col


def _formula_cells(xml: bytes) -> tuple[frozenset, frozenset]:
    """Only the few formula cells matter: find each `<f`, step back to the cell that holds it, look ahead
    to the cell's end for a cached `<v>`. One forward pass: the step back never goes behind the end of the
    cell found last (the holding cell starts after it), so each byte is looked at a bounded number of
    times whatever the number of formulas."""
    formulas, missing = set(), set()
    pos = 0
    prefixed = _PREFIXED_F.search(xml) is not None
    search = (_HAS_F if prefixed else _PLAIN_F).search
    while True:
        f = search(xml, pos)
        if not f:
            break
        tag = -1 if prefixed else xml.rfind(b"<", pos, f.start())
        plain = _PLAIN_CELL.match(xml, tag) if tag >= 0 else None
        if plain is not None:
            letters, digits, cached = plain.groups()
            cell = (int(digits) - 1, _column(letters))
            formulas.add(cell)
            if cached is None or not cached.strip():
                missing.add(cell)
            pos = plain.end() - 4  # at its `</c>`, as below
            continue
        start = -1
        for cell_start in _CELL_START.finditer(xml, pos, f.start()):  # the last cell opened before the `<f`
            start = cell_start.start()
        end_match = _CELL_CLOSE.search(xml, f.end())
        end = end_match.start() if end_match else len(xml)
        pos = max(end, f.end())
        if start < 0:
            continue
        ref = _REF.search(xml, start, f.start())  # in the cell's tag (a `>` may stand in an attribute's value)
        if not ref:
            continue
        cell = (int(ref.group(2)) - 1, _column(ref.group(1)))
        formulas.add(cell)
        body = xml[start:end]
        if not _HAS_V.search(body) and not _HAS_IS.search(body):
            missing.add(cell)
    return frozenset(formulas), frozenset(missing)


def _xls_formulas(biff: bytes) -> dict[str, tuple[frozenset, frozenset]]:
    """Formula cells of a BIFF8 workbook stream, from its FORMULA records (.xls always caches results)."""

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
            elif kind == 0x0200 and len(body) >= 14:  # DIMENSIONS (BIFF8): first row, last row + 1, columns
                first_row, end_row, first_col, end_col = struct.unpack_from("<IIHH", body, 0)
                if not (first_row <= end_row <= 65536 and first_col <= end_col <= 256):
                    raise _fail("文件已损坏（工作表的范围超出了 .xls 格式的上限）")
            elif kind == 0x0006 and current is not None and len(body) >= 4:  # FORMULA
                row, col = struct.unpack_from("<HH", body, 0)
                out.setdefault(current, set()).add((row, col))
            pos += 4 + size
    except struct.error:
        pass  # a damaged tail: calamine will judge the file; what was found still counts
    return {name: (frozenset(cells), frozenset()) for name, cells in out.items()}


def _ods_formulas(content: bytes) -> dict[str, tuple[frozenset, frozenset]]:
    if b"table:formula" not in content:
        return {}
    from xml.etree.ElementTree import ParseError

    from defusedxml import DefusedXmlException
    from defusedxml.ElementTree import iterparse

    try:
        return _ods_table_formulas(content, iterparse)
    except (ParseError, DefusedXmlException, ValueError, OverflowError):
        raise _fail("表格内容无法解析（content.xml 已损坏）") from None


def _ods_table_formulas(content: bytes, iterparse) -> dict[str, tuple[frozenset, frozenset]]:
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
            out[name or ""] = (frozenset(formulas), frozenset(missing))
            el.clear()
    return out
