"""Names of any bytes, made safe: for a filesystem (`safe_filename`), for a person (`display_name`), for the
formats we write (`xml_text`) and for a spreadsheet that opens a CSV (`csv_cell`).

A name arrives as whatever bytes a unit's computer wrote: invalid UTF-8 (which `os.fsdecode` turns into
lone surrogates), control characters, CR/LF (which could forge a line of a receipt), right-to-left marks
(which make `xlsx.exe` look like `exe.xlsx`), 255-byte names, astral characters four bytes each.
"""
from __future__ import annotations

import re
import unicodedata

_RESERVED = {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(1, 10)), *(f"LPT{i}" for i in range(1, 10))}
_BAD = re.compile(r'[\x00-\x1f<>:"/\\|?*]')
MAX_NAME = 80  # characters; leaves room for folders under Windows' 260-character path limit
MAX_BYTES = 255  # what ext4, NTFS (in UTF-16 units, never more than UTF-8 bytes) and APFS allow for one name
_INVISIBLE = {"Cc", "Cf", "Cs", "Zl", "Zp"}  # controls, format marks (bidi, zero-width), surrogates, line breaks


def _replace_invisible(text: str, mark) -> str:
    """Each control, format mark, line or paragraph separator and lone surrogate replaced by mark(ch)."""
    return "".join(mark(ch) if unicodedata.category(ch) in _INVISIBLE else ch for ch in text)


def _cut_bytes(text: str, max_bytes: int) -> str:
    """The longest prefix of `text` whose UTF-8 encoding fits `max_bytes` (never half a character)."""
    data = text.encode("utf-8")
    if len(data) <= max_bytes:
        return text
    return data[:max(max_bytes, 0)].decode("utf-8", "ignore")


def safe_filename(name: str, max_len: int = MAX_NAME, max_bytes: int = MAX_BYTES) -> str:
    """A file name people still recognise, with nothing a filesystem or a shell could trip on: never empty,
    no control or format characters, at most `max_len` characters and `max_bytes` bytes of UTF-8. A caller
    that adds a prefix or suffix passes what is left of the 255 bytes as `max_bytes`."""
    if max_bytes < 1 or max_len < 1:
        raise ValueError("a file name needs at least one character")
    name = unicodedata.normalize("NFC", _replace_invisible(str(name), lambda ch: "_"))
    name = _BAD.sub("_", name).strip(" .")
    stem, dot, ext = name.rpartition(".")
    if not dot or len(ext) > 8 or not ext.isalnum() or len(ext) + 2 > max_len or len(ext.encode()) + 2 > max_bytes:
        # no extension (or no room for one and a character before it): no dot may make the cut name look
        # as if it had one (the name must come out the same when made safe twice)
        stem, ext = name.replace(".", "_"), ""
    ext = ext.lower()
    tail = f".{ext}" if ext else ""
    room_chars, room_bytes = max_len - len(tail), max_bytes - len(tail.encode())
    stem = _cut_bytes(stem.strip(" .")[:room_chars], room_bytes).rstrip(" .")
    if stem.split(".")[0].upper() in _RESERVED:
        stem = _cut_bytes(("_" + stem)[:room_chars], room_bytes).rstrip(" .")
    if not stem:
        stem = _cut_bytes("file"[:room_chars], room_bytes)
    return stem + tail


_PICTURES = {0x7F: "\u2421"}  # ␡
# What XML 1.0 forbids (C0 controls other than tab, LF and CR; lone surrogates; U+FFFE and U+FFFF): lxml, and so
# python-docx and openpyxl, raise on it; xlsxwriter and fpdf write a file Office calls damaged.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
# Unicode's noncharacters (U+FDD0–U+FDEF and the last two code points of every plane): never a letter of a name
_NONCHARACTER = re.compile("[\ufdd0-\ufdef\ufffe\uffff\U0001fffe\U0001ffff\U0002fffe\U0002ffff"
                           "\U0003fffe\U0003ffff\U000efffe\U000effff\U000ffffe\U000fffff\U0010fffe\U0010ffff]")


def _visible(ch: str) -> str:
    code = ord(ch)
    if code < 0x20:
        return chr(0x2400 + code)  # ␀ … ␟: a line feed shows as ␊, a tab as ␉
    return _PICTURES.get(code, "\ufffd")


def display_name(name: str | bytes, max_chars: int = 120) -> str:
    """A name as shown to a person (receipts, notices, workbooks, CSV): bytes that are not UTF-8 as �,
    control characters as their visible pictures (␍␊ cannot start a new line), format marks as �, and no
    longer than `max_chars` (the middle is cut, the end with its extension kept)."""
    if isinstance(name, str) and any("\udc80" <= ch <= "\udcff" for ch in name):
        name = name.encode("utf-8", "surrogateescape")  # a POSIX name whose bytes were not UTF-8
    if isinstance(name, bytes):
        raw = name
        try:
            name = raw.decode("utf-8")
        except UnicodeDecodeError:
            try:
                name = raw.decode("gb18030")  # a Chinese share's names are usually GBK
            except UnicodeDecodeError:
                name = raw.decode("utf-8", "replace")
    text = unicodedata.normalize("NFC", _NONCHARACTER.sub("\ufffd", _replace_invisible(str(name), _visible)))
    if len(text) > max_chars:
        keep_end = min(16, max_chars // 3)
        text = text[: max_chars - keep_end - 1] + "…" + text[len(text) - keep_end:]
    return text


def xml_text(text: str) -> str:
    """`text` as every format we write accepts it (.docx, .xlsx, .eml, PDF): each character XML 1.0 forbids
    replaced — a C0 control by its visible picture (␁), a lone surrogate or U+FFFE/U+FFFF by �. The writers'
    last guard: names and cell texts reach them from units' files and from ledgers older than the rules."""
    if not _NOT_XML.search(text):
        return text
    return _NOT_XML.sub(lambda m: chr(0x2400 + ord(m.group())) if m.group() < " " else "\ufffd", text)


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(text):
    """A text cell for a CSV that Excel or WPS will open: one that starts like a formula (= + - @ tab CR)
    gets a leading ' so it stays text (CSV injection). Anything that is not a str is returned unchanged."""
    if isinstance(text, str) and text.startswith(_FORMULA_START):
        return "'" + text
    return text
