"""An .xlsx or .ods (a zip container) checked before a parser sees it: the directory's member count, declared
sizes and compression ratios (a zip bomb is refused without inflating it); each XML part's prolog (no
DOCTYPE, no entity is ever expanded), inflated a chunk at a time; the formula cells (formulas.py)."""
from __future__ import annotations

import io
import re
import struct
import zipfile
import zlib

from ..core.config import Limits
from .book import ODS_MIME, ZIP_MAGIC, Checked, ReadProblem, _fail
from .formulas import _ods_formulas, _xlsx_formulas


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
