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
import struct
import zipfile
import zlib
from dataclasses import dataclass, field
from html import unescape
from typing import Any

import python_calamine

from ..core.config import Limits

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


def _describe(data: bytes) -> str:
    head = data[:8]
    if head.startswith(b"%PDF"):
        return "这是一个 PDF 文件，不是表格"
    if head[:4] in (b"\x89PNG", b"\xff\xd8\xff\xe0", b"\xff\xd8\xff\xe1") or head.startswith(b"\xff\xd8"):
        return "这是一张图片，不是表格"
    if data[:512].lstrip().lower().startswith((b"<html", b"<!doctype html")):
        return "这是一个网页文件，不是表格"
    return "文件内容不是 Excel/WPS 表格（可能只是改了扩展名）"


Checked = tuple[bytes, str, "dict[str, tuple[frozenset, frozenset]]"]  # what calamine reads, kind, formula cells


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


def _checked_ole(data: bytes) -> Checked:
    import msoffcrypto
    import olefile

    _check_ole_header(data)
    try:
        ole = olefile.OleFileIO(io.BytesIO(data))
    except Exception:
        raise _fail("文件已损坏（OLE 结构无法读取）") from None
    try:
        if any(e is not None and e.entry_type in (olefile.STGTY_STREAM, olefile.STGTY_ROOT) and e.size > len(data)
               for e in ole.direntries):
            raise _fail(_OLE_SIZE)
        streams = {"/".join(s).lower() for s in ole.listdir()}
        stream = "workbook" if "workbook" in streams else "book"
        biff = ole.openstream(stream).read() if stream in streams else b""
    except ReadProblem:
        raise
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
    return data, "xls", _xls_formulas(biff)


_OLE_SIZE = "文件已损坏或不完整（OLE 结构与文件大小不符）"


def _check_ole_header(data: bytes) -> None:
    """The counts in an OLE header (sectors of the allocation tables, where the directory starts) must fit
    the file's size. A copy cut short, or a header that claims thousands of sectors in 12 KB, is refused
    before any parser sizes its buffers by them."""
    if len(data) < 512:
        raise _fail(_OLE_SIZE)
    major, byte_order, shift, mini_shift = struct.unpack_from("<HHHH", data, 0x1A)
    if byte_order != 0xFFFE or (major, shift) not in ((3, 9), (4, 12)) or mini_shift != 6:
        raise _fail("文件已损坏（OLE 文件头无效）")
    sector = 1 << shift
    sectors = -(-(len(data) - sector) // sector)  # the header takes the first sector's room
    n_fat, first_dir = struct.unpack_from("<II", data, 0x2C)
    _first_minifat, n_minifat, _first_difat, n_difat = struct.unpack_from("<IIII", data, 0x3C)
    if not 0 < n_fat <= sectors or n_minifat > sectors or n_difat > sectors or first_dir >= sectors:
        raise _fail(_OLE_SIZE)


def check_zip_directory(infos: list[zipfile.ZipInfo], limits: Limits) -> None:
    """A zip's directory within the limits (member count, declared total size, compression ratio), before any
    member is inflated: for workbooks and for materials (.docx, .odt, .ofd) alike."""
    if len(infos) > limits.max_zip_members:
        raise _fail(f"压缩包内有 {len(infos)} 个部件，超过上限 {limits.max_zip_members}")
    total = sum(i.file_size for i in infos)
    if total > limits.max_uncompressed_mb * 1024 * 1024:
        raise _fail(f"解压后大小 {total / 1024 / 1024:.0f} MB，超过上限 {limits.max_uncompressed_mb:g} MB（疑似压缩炸弹）")
    for info in infos:
        if info.file_size > 1024 * 1024 and info.file_size > limits.max_compression_ratio * max(info.compress_size, 1):
            raise _fail(f"部件 {_shown(info.filename)} 的压缩比异常（疑似压缩炸弹）")
        if "\x00" in info.orig_filename:  # zipfile cuts the name there; another reader may not
            raise _fail(f"部件名称 {_shown(info.filename)} 含有空字符（疑似恶意文件），出于安全原因不予读取")


def _checked_zip(data: bytes, limits: Limits) -> Checked:
    eocd = data.rfind(b"PK\x05\x06", max(0, len(data) - 65557))  # end of central directory: its entry count
    if eocd >= 0 and eocd + 12 <= len(data):  # comes before zipfile builds an object for every entry
        entries = struct.unpack_from("<H", data, eocd + 10)[0]
        if entries != 0xFFFF and entries > limits.max_zip_members:
            raise _fail(f"压缩包内有 {entries} 个部件，超过上限 {limits.max_zip_members}")
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        infos = zf.infolist()
    except Exception:  # zipfile raises many types for a damaged directory (BadZipFile, ValueError, struct.error…)
        raise _fail("文件不完整或已损坏（压缩结构无法读取），可能复制或下载没有完成") from None
    check_zip_directory(infos, limits)
    members = _Members(data, infos, limits)
    names = members.names
    if "mimetype" in names and members.read("mimetype").strip() == ODS_MIME:
        formulas = _ods_formulas(members.read("content.xml")) if "content.xml" in names else {}
        members.check_rest()
        return members.checked_copy() or data, "ods", formulas
    if "xl/workbook.xml" in names:
        formulas = _xlsx_formulas(members)
        members.check_rest()
        return members.checked_copy() or data, "xlsx", formulas
    if "word/document.xml" in names:  # not a spreadsheet: no parser will read its parts, so neither do we
        raise _fail("这是一个 Word 文档，不是表格")
    if "mimetype" in names:
        raise _fail("这是一个 OpenDocument 文件，但不是电子表格 (.ods)")
    raise _fail("压缩包里没有表格（不是 .xlsx / .ods 文件）")


def _shown(name: str) -> str:
    from ..core.safe_names import display_name

    return display_name(name, 80)


_PROLOG_MARK = re.compile(rb"<!--|<\?|<[A-Za-z_]")  # a comment, a processing instruction, or the root element
PROLOG_LIMIT = 64 * 1024
CHUNK = 1024 * 1024  # inflated bytes held at a time while a member is only checked
KEEP = 16 * 1024 * 1024  # members inflated and kept for the value parser, at most (every real form fits)
_XML_PARTS = (".xml", ".rels", ".vml")
_CORRUPT = "文件不完整或已损坏（压缩数据无法解开）"


class _Members:
    """Each member of the zip inflated once, here, before any other parser sees it: with a running count
    that stops at the size its directory entry declares and at `max_uncompressed_mb` for all of them
    together, whatever the headers say; its CRC checked; an XML part refused on the way if its prolog
    declares a DOCTYPE (so no entity is ever expanded, by us or by calamine). `read` gives a member's
    bytes (the few parts we parse ourselves); `check_rest` inflates the others. The members are kept while
    they fit in KEEP, and `checked_copy` hands calamine those very bytes; otherwise what calamine inflates
    from the original is known to be what the directory says."""

    def __init__(self, data: bytes, infos: list[zipfile.ZipInfo], limits: Limits):
        self.data = memoryview(data)
        self.infos = infos
        self.by_name = {i.filename: i for i in infos}  # the last of two same-named entries, as zipfile does
        self.names = set(self.by_name)
        self.budget = int(limits.max_uncompressed_mb * 1024 * 1024)
        self.limit_mb = limits.max_uncompressed_mb
        self.done: set[int] = set()
        self.kept: dict[int, bytes] | None = {}  # each member inflated and checked; None once one did not fit
        self.keep_room = KEEP

    def read(self, name: str) -> bytes:
        info = self.by_name[name]
        return self._whole(info) if info.file_size <= CHUNK else b"".join(self._inflate(info))

    def checked_copy(self) -> bytes | None:
        """After `check_rest`: the zip made again from the members as inflated and checked here, stored
        uncompressed, in the same order under the same names -- so the parser that reads the values inflates
        nothing and sees only bytes that passed every check. None when the members did not fit in KEEP
        (the parser then reads the original, whose every member was checked the same way)."""
        if self.kept is None or len(self.kept) != len(self.infos):
            return None
        local: list[bytes] = []
        central: list[bytes] = []
        offset = 0
        for info in self.infos:
            body, name = self.kept[id(info)], info.filename.encode("utf-8")
            if len(name) > 0xFFFF:  # a name that fits no zip once in UTF-8: calamine reads the original
                return None
            head = struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0x800, 0, 0, 0x21, info.CRC, len(body), len(body),
                               len(name), 0)
            local += (head, name, body)
            central.append(struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0x800, 0, 0, 0x21, info.CRC,
                                       len(body), len(body), len(name), 0, 0, 0, 0, 0, offset) + name)
            offset += len(head) + len(name) + len(body)
        directory = b"".join(central)
        end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(central), len(central), len(directory), offset, 0)
        return b"".join([*local, directory, end])

    def _keep(self, info: zipfile.ZipInfo, body: bytes | None) -> None:
        """Hold a checked member for `checked_copy`; once one does not fit in KEEP, hold none."""
        if self.kept is None or id(info) in self.kept:
            return
        if body is None or len(body) > self.keep_room:
            self.kept = None
            return
        self.kept[id(info)] = body
        self.keep_room -= len(body)

    def check_rest(self) -> None:
        for info in self.infos:
            if id(info) not in self.done:
                if info.file_size <= CHUNK:
                    self._whole(info)
                else:
                    for _chunk in self._inflate(info):
                        pass

    def _compressed(self, info: zipfile.ZipInfo):
        """The member's compressed bytes, where its local header says they start, and an inflater (None when
        stored)."""
        self.done.add(id(info))
        if info.flag_bits & 0x1:
            raise ReadProblem("E_ENCRYPTED", "工作簿设置了打开密码")
        offset = info.header_offset
        if offset < 0 or self.data[offset:offset + 4] != ZIP_MAGIC or offset + 30 > len(self.data):
            raise _fail(_CORRUPT)
        name_len, extra_len = struct.unpack_from("<HH", self.data, offset + 26)
        start = offset + 30 + name_len + extra_len
        raw = self.data[start:start + info.compress_size]
        if len(raw) < info.compress_size:
            raise _fail(_CORRUPT)
        if info.compress_type == zipfile.ZIP_STORED:
            return raw, None
        if info.compress_type == zipfile.ZIP_DEFLATED:
            return raw, zlib.decompressobj(-15)
        raise _fail(f"部件 {_shown(info.filename)} 使用了表格文件不用的压缩方式（{info.compress_type}）")

    def _whole(self, info: zipfile.ZipInfo) -> bytes:
        """A member declared small (most of them) inflated in one call, never past one byte more than its
        declared size, with the same checks as `_inflate`."""

        raw, inflater = self._compressed(info)
        try:
            out = inflater.decompress(raw, info.file_size + 1) if inflater else bytes(raw[:info.file_size + 1])
        except zlib.error:
            raise _fail(_CORRUPT) from None
        self._count(info, len(out), len(out))
        if _is_xml(info.filename, out) and _check_prolog(out, info.filename) is not None:
            _check_prolog(out, info.filename, final=True)
        if (inflater is not None and not inflater.eof) or len(out) != info.file_size or zlib.crc32(out) != info.CRC:
            raise _fail(_CORRUPT)
        self._keep(info, out)
        return out

    def _count(self, info: zipfile.ZipInfo, size: int, added: int) -> None:
        """`added` bytes more inflated from `info`, `size` in all: neither past what its directory entry
        declares nor, with every member before it, past `max_uncompressed_mb`."""
        if size > info.file_size:
            raise _fail(f"部件 {_shown(info.filename)} 解压后比它声明的 {info.file_size} 字节大（疑似压缩炸弹），不予读取")
        self.budget -= added
        if self.budget < 0:
            raise _fail(f"解压后大小超过上限 {self.limit_mb:g} MB（疑似压缩炸弹）")

    def _inflate(self, info: zipfile.ZipInfo):

        raw, inflater = self._compressed(info)
        if inflater is None:
            pieces = (raw[i:i + CHUNK] for i in range(0, len(raw), CHUNK))
        else:
            pieces = _inflated(inflater, raw)
        name = info.filename  # shown in a message (_shown) only when there is one to give
        size, crc = 0, 0
        head: bytes | None = b""  # the start, while it may still be an XML prolog; None once judged
        kept: list[bytes] | None = [] if self.kept is not None and info.file_size <= self.keep_room else None
        try:
            for piece in pieces:
                size += len(piece)
                self._count(info, size, len(piece))
                crc = zlib.crc32(piece, crc)
                if head is not None:
                    head += bytes(piece)
                    head = _check_prolog(head, name) if _is_xml(name, head) else None
                if kept is not None:
                    kept.append(bytes(piece))
                yield bytes(piece)
        except zlib.error:
            raise _fail(_CORRUPT) from None
        if head:
            _check_prolog(head, name, final=True)
        if (inflater is not None and not inflater.eof) or size != info.file_size or crc != info.CRC:
            raise _fail(_CORRUPT)
        self._keep(info, b"".join(kept) if kept is not None else None)


def _inflated(inflater, raw: memoryview):
    """Inflate `raw` in pieces of at most CHUNK bytes: a member that expands a thousandfold never sits in
    memory whole."""
    for i in range(0, len(raw), 64 * 1024):
        out = inflater.decompress(raw[i:i + 64 * 1024], CHUNK)
        yield out
        while inflater.unconsumed_tail and not inflater.eof:
            yield inflater.decompress(inflater.unconsumed_tail, CHUNK)
        if inflater.eof:
            return


def _is_xml(name: str, start: bytes) -> bool:
    """A part to check for a DOCTYPE: named as XML, or starting as XML text whatever its name (a relationship
    can send a parser to any part). A part that only starts like `<` and holds zero bytes (an obfuscated
    font, an image) is binary, not XML in another encoding."""
    if name.endswith(_XML_PARTS):
        return True
    return _XML_START.match(start) is not None and (start.find(b"\x00", 0, PROLOG_LIMIT) < 0
                                                    or _utf16(start) is not None)


_XML_START = re.compile(rb"(?:\xef\xbb\xbf)?\s*<[?!A-Za-z_]|\xff\xfe<\x00|\xfe\xff\x00<|<\x00[?!A-Za-z_]\x00|"
                        rb"\x00<\x00[?!A-Za-z_]")


def _utf16(head: bytes) -> str | None:
    """UTF-16 by its byte-order mark, or by where the zero byte stands beside the first `<`."""
    return {b"\xff\xfe": "utf-16-le", b"\xfe\xff": "utf-16-be", b"<\x00": "utf-16-le", b"\x00<": "utf-16-be"}.get(head[:2])


def _check_prolog(head: bytes, name: str, final: bool = False) -> bytes | None:
    """A DOCTYPE (and with it any entity) can only stand in the prolog, before the root element. Returns
    the bytes seen so far while the root is not found yet, None once the prolog has been judged. A prolog
    longer than any real file's is refused as well. A UTF-16 part (which the standard allows, and document
    management systems write) is judged on its text; any other encoding with zero bytes is refused."""
    text = _as_utf8(head, name)
    root = _root_at(text)
    if root is None and not final:
        if len(text) > PROLOG_LIMIT:
            raise _fail(f"部件 {_shown(name)} 的开头异常（疑似恶意文件），出于安全原因不予读取")
        return head
    prolog = text[:root] if root is not None else text
    if root is not None and root > PROLOG_LIMIT:
        raise _fail(f"部件 {_shown(name)} 的开头异常（疑似恶意文件），出于安全原因不予读取")
    if b"<!DOCTYPE" in prolog or b"<!ENTITY" in prolog or b"<!doctype" in prolog:
        raise _fail(f"部件 {_shown(name)} 含有 XML 实体声明（DOCTYPE），出于安全原因不予读取")
    return None


def _as_utf8(head: bytes, name: str) -> bytes:
    """The start of an XML part as UTF-8 bytes: as it is, or decoded from UTF-16 (by its byte-order mark, or
    by where the zero bytes stand around the first `<`)."""
    if head.find(b"\x00", 0, PROLOG_LIMIT) < 0:
        return head
    encoding = _utf16(head)
    start = head[:2 * PROLOG_LIMIT + 2]
    text = start[:len(start) // 2 * 2].decode(encoding, "replace").encode("utf-8") if encoding else b"\x00"
    if b"\x00" in text[:PROLOG_LIMIT]:
        raise _fail(f"部件 {_shown(name)} 的编码异常（不是 UTF-8 或 UTF-16），出于安全原因不予读取")
    return text.removeprefix(b"\xef\xbb\xbf")


def _root_at(head: bytes) -> int | None:
    """Where the root element starts, past comments and processing instructions (a `<a` inside a comment is
    not the root); None while it has not been seen."""
    pos = 0
    while (mark := _PROLOG_MARK.search(head, pos)) is not None:
        if mark.group() == b"<!--":
            end = head.find(b"-->", mark.end())
            pos = end + 3
        elif mark.group() == b"<?":
            end = head.find(b"?>", mark.end())
            pos = end + 2
        else:
            return mark.start()
        if end < 0:
            return None
    return None


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


def _xlsx_formulas(members: "_Members") -> dict[str, tuple[frozenset, frozenset]]:
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
