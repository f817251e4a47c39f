"""What a material file really is, and what it holds: its type from its bytes (never only from its name), its
pages, whether it has a text layer and pictures, and its first lines of text. Safely, as reader.py reads
workbooks: the size is capped before any parser sees the bytes, zip containers (docx, odt, ofd) pass the
same size/ratio/entity checks as workbooks, and an image's pixel count is checked before it is decoded.

Libraries: pypdf (pages, text layer, encryption), Pillow (images), olefile (Word 97-2003 / WPS containers);
.docx/.odt/.ofd are read as plain zip + defusedxml, because only the first lines and "is there anything at
all" are needed, and that is cheaper and safer than loading the whole document model.
"""
from __future__ import annotations

import io
import logging
import re
import struct
import warnings
import zipfile
from dataclasses import dataclass, field

from ..core.config import Limits
from .book import OLE_MAGIC, ReadProblem
from .zipped import _Members, check_zip_directory

PDF, DOCX, DOC, WPS, ODT, RTF, OFD = "pdf", "docx", "doc", "wps", "odt", "rtf", "ofd"
IMAGE_TYPES = {"JPEG": "jpg", "PNG": "png", "TIFF": "tiff", "BMP": "bmp", "GIF": "gif", "WEBP": "webp"}
WORD_TYPES = frozenset({DOCX, DOC, WPS, ODT, RTF})
SPREADSHEET_TYPES = frozenset({"xlsx", "xls", "ods"})
MAX_LINES = 20  # the first lines of text are all that is ever looked at (unit, month)
MAX_PDF_PAGES = 300  # pages examined for a text layer; a real monthly report is far shorter
MAX_PIXELS = 200_000_000  # per image: a phone photo is ~50 MP; a decompression bomb is far more
MAX_TOTAL_PIXELS = 600_000_000  # all frames of one image looked at for content together (as derived.py)

ODT_MIME = b"application/vnd.oasis.opendocument.text"
# pypdf logs every flaw of a real-world PDF ("EOF marker not found") as a warning; what matters reaches the
# judgement as an issue, so its log stays quiet unless something is an error.
logging.getLogger("pypdf").setLevel(logging.ERROR)
_PAINT = re.compile(rb"(?:^|\s)(?:f\*?|F|B\*?|b\*?|S|s|sh)(?=\s|$)")
_INLINE_IMAGE = re.compile(rb"(?:^|\s)BI\s")
_TEXT_MODE = re.compile(rb"(?<![\w.])([0-7])\s+Tr\b")


# A material that cannot be read is the same problem as a workbook that cannot be: one exception for both
# (`code` is E_UNREADABLE or E_ENCRYPTED, `reason` is for people; it pickles across the sandbox).
Unreadable = ReadProblem


@dataclass
class Probe:
    detected_type: str  # pdf docx doc wps odt rtf ofd jpg png tiff ... | xlsx xls ods | exe zip text html unknown
    pages: int | None = None  # None: not counted (OFD, Word documents)
    text_pages: int = 0  # pages with a text layer (PDF)
    ocr_pages: int = 0  # of those, pages whose text is invisible (render mode 3) over a picture: an OCR'd scan
    has_text: bool = False
    has_image: bool = False
    has_drawing: bool = False  # vector marks on a PDF page (a seal exported as paths)
    lines: list[str] = field(default_factory=list)

    @property
    def scanned(self) -> bool:
        """A PDF whose pages show only pictures: no text layer, or only a scanner's invisible OCR text."""
        return self.text_pages == self.ocr_pages

    @property
    def is_spreadsheet(self) -> bool:
        return self.detected_type in SPREADSHEET_TYPES


def sniff(data: bytes) -> str:
    """The type the bytes say, from their magic numbers alone."""
    head = data[:16]
    if b"%PDF-" in data[:1024]:
        return PDF
    if head.startswith(b"\xff\xd8\xff"):
        return "jpg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith((b"II*\x00", b"MM\x00*")):
        return "tiff"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "gif"
    if head.startswith(b"RIFF") and data[8:12] == b"WEBP":
        return "webp"
    if head.startswith(b"BM") and len(data) > 26 and struct.unpack_from("<I", data, 2)[0] in (0, len(data)):
        return "bmp"
    if data[4:12] in (b"ftypheic", b"ftypheix", b"ftyphevc", b"ftypmif1", b"ftypmsf1"):
        return "heic"  # an iPhone photo: Pillow cannot read it without a plug-in
    if head.startswith(OLE_MAGIC):
        return "ole"
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return "zip"
    if head.lstrip(b"\xef\xbb\xbf").startswith(b"{\\rtf"):
        return RTF
    if head.startswith(b"MZ") or head.startswith(b"\x7fELF") or head[:4] in (b"\xca\xfe\xba\xbe", b"\xcf\xfa\xed\xfe"):
        return "exe"
    if head.startswith((b"Rar!", b"7z\xbc\xaf", b"\x1f\x8b")):
        return "archive"
    lowered = data[:512].lstrip(b"\xef\xbb\xbf \r\n\t").lower()
    if lowered.startswith((b"<html", b"<!doctype html", b"mime-version:")):
        return "html"  # includes Word's "single file web page" (.mht) saved with a .doc name
    if _looks_like_text(data[:4096]):
        return "text"
    return "unknown"


def _looks_like_text(head: bytes) -> bool:
    if not head or b"\x00" in head:
        return False
    for encoding in ("utf-8", "gb18030"):
        try:
            head.decode(encoding)
            return True
        except UnicodeDecodeError as exc:
            if exc.start > len(head) - 4:  # cut in the middle of a character at the end
                return True
    return False


def probe(data: bytes, limits: Limits, name_suffix: str = "") -> Probe:
    """Read what a material holds. Raises Unreadable (E_UNREADABLE / E_ENCRYPTED), and nothing else: the
    parsers meet hostile bytes, and whatever one of them raises on them means the file cannot be read."""
    try:
        return _probe(data, limits, name_suffix)
    except Unreadable:
        raise
    except Exception as exc:
        raise Unreadable("E_UNREADABLE", f"文件内容无法解析（{type(exc).__name__}）") from None


def _probe(data: bytes, limits: Limits, name_suffix: str) -> Probe:
    if not data:
        raise Unreadable("E_UNREADABLE", "文件是空的（0 字节），可能复制或下载没有完成")
    if len(data) > limits.max_file_mb * 1024 * 1024:
        raise Unreadable("E_UNREADABLE", f"文件大小 {len(data) / 1024 / 1024:.1f} MB，超过上限 {limits.max_file_mb:g} MB")
    kind = sniff(data)
    if kind == PDF:
        return _pdf(data)
    if kind in IMAGE_TYPES.values():
        return _image(data, limits)
    if kind == "ole":
        return _ole(data, name_suffix)
    if kind == "zip":
        return _zip(data, limits)
    if kind == RTF:
        return _rtf(data)
    return Probe(kind)


# --- PDF ------------------------------------------------------------------------------------------------

def _pdf(data: bytes) -> Probe:
    from pypdf import PasswordType, PdfReader
    from pypdf.errors import DependencyError, FileNotDecryptedError, PdfReadError

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pypdf warns about every small flaw of real-world PDFs
        try:
            pdf = PdfReader(io.BytesIO(data), strict=False)
            if pdf.is_encrypted:
                # Many exported PDFs are "encrypted" with an empty open password (only printing/copying is
                # restricted): they open in any viewer without a password, so they are not E_ENCRYPTED.
                try:
                    opened = pdf.decrypt("")
                except (DependencyError, NotImplementedError):
                    opened = PasswordType.NOT_DECRYPTED
                if opened == PasswordType.NOT_DECRYPTED:
                    raise Unreadable("E_ENCRYPTED", "PDF 设置了打开密码")
            pages = list(pdf.pages)
            out = Probe(PDF, pages=len(pages))
            for page in pages[:MAX_PDF_PAGES]:
                text = page.extract_text() or ""
                content = _page_content(page)
                image = _has_image_xobject(page.get("/Resources")) or bool(_INLINE_IMAGE.search(content))
                out.has_image = out.has_image or image
                out.has_drawing = out.has_drawing or bool(_PAINT.search(content))
                if text.strip():
                    out.text_pages += 1
                    out.has_text = True
                    if image and set(_TEXT_MODE.findall(content)) == {b"3"}:
                        out.ocr_pages += 1
                    if len(out.lines) < MAX_LINES:
                        out.lines += _lines(text)[:MAX_LINES - len(out.lines)]
                if out.text_pages > out.ocr_pages and len(out.lines) >= MAX_LINES:
                    break  # visible text and the first lines: all that decides anything is known
            return out
        except Unreadable:
            raise
        except FileNotDecryptedError:
            raise Unreadable("E_ENCRYPTED", "PDF 设置了打开密码") from None
        except (PdfReadError, ValueError, KeyError, TypeError, AttributeError, IndexError, OSError, RecursionError,
                struct.error, AssertionError, ZeroDivisionError):
            raise Unreadable("E_UNREADABLE", "PDF 文件已损坏或不完整，无法读取") from None


def _page_content(page) -> bytes:
    try:
        contents = page.get_contents()
        return contents.get_data() if contents is not None else b""
    except Exception:  # a broken content stream: the page's other evidence still counts
        return b""


def _has_image_xobject(resources, depth: int = 0) -> bool:
    """An image XObject on the page, or inside a form XObject it draws (scanners wrap pages in forms)."""
    if resources is None or depth > 4:
        return False
    try:
        xobjects = resources.get_object().get("/XObject")
        if xobjects is None:
            return False
        for ref in xobjects.get_object().values():
            obj = ref.get_object()
            subtype = obj.get("/Subtype")
            if subtype == "/Image":
                return True
            if subtype == "/Form" and _has_image_xobject(obj.get("/Resources"), depth + 1):
                return True
    except Exception:
        return False
    return False


# --- images -------------------------------------------------------------------------------------------

def _image(data: bytes, limits: Limits) -> Probe:
    from PIL import Image, UnidentifiedImageError

    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(io.BytesIO(data)) as im:
                fmt = IMAGE_TYPES.get(im.format or "", (im.format or "image").lower())
                width, height = im.size
                if width * height > MAX_PIXELS:
                    raise Unreadable("E_UNREADABLE", f"图片尺寸 {width}×{height} 过大，超过处理上限")
                frames = getattr(im, "n_frames", 1)
                has_image = _any_frame_drawn(im, frames)
        except Unreadable:
            raise
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise Unreadable("E_UNREADABLE", "图片尺寸过大，超过处理上限") from None
        except (UnidentifiedImageError, OSError, ValueError, SyntaxError, struct.error, EOFError):
            raise Unreadable("E_UNREADABLE", "图片文件已损坏或不完整，无法读取") from None
    return Probe(fmt, pages=frames, has_image=has_image)


def _any_frame_drawn(im, frames: int) -> bool:
    """Whether any frame (the first MAX_PDF_PAGES, at most MAX_TOTAL_PIXELS together) holds more than one colour.
    A page of a single colour holds nothing: a blank scan is empty, not a stamped version; but a scanner's blank
    cover page before the stamped one is not. Each frame's size is checked before it is decoded."""
    total = 0
    for n in range(min(frames, MAX_PDF_PAGES)):
        im.seek(n)
        width, height = im.size
        if width * height > MAX_PIXELS:
            raise Unreadable("E_UNREADABLE", f"第 {n + 1} 页图片尺寸 {width}×{height} 过大，超过处理上限")
        total += width * height
        if total > MAX_TOTAL_PIXELS:
            break
        im.draft("L", (512, 512))  # a JPEG decodes at a fraction of its size: enough to see it is not blank
        small = im.convert("L")
        small.thumbnail((256, 256))
        low, high = small.getextrema()  # one band ("L"): two numbers
        if float(high) - float(low) > 8:
            return True
    return False


# --- OLE: Word 97-2003 / WPS, encrypted OOXML ---------------------------------------------------------

def _ole(data: bytes, name_suffix: str) -> Probe:
    import olefile

    try:
        ole = olefile.OleFileIO(io.BytesIO(data))
    except Exception:
        raise Unreadable("E_UNREADABLE", "文件已损坏（OLE 结构无法读取）") from None
    try:
        streams = {"/".join(s).lower(): s for s in ole.listdir()}
        if {"encryptioninfo", "encryptedpackage"} <= streams.keys():
            raise Unreadable("E_ENCRYPTED", "文档设置了打开密码")
        if "worddocument" in streams:
            kind = WPS if name_suffix == ".wps" else DOC
            word = ole.openstream("WordDocument").read()
            flags = struct.unpack_from("<H", word, 0x0A)[0] if len(word) >= 0x0C else 0
            if flags & 0x0100:  # FIB fEncrypted
                raise Unreadable("E_ENCRYPTED", "文档设置了打开密码")
            table_name = "1Table" if flags & 0x0200 else "0Table"
            table = ole.openstream(table_name).read() if table_name.lower() in streams else b""
            text = _doc_text(word, table)
            pictures = "data" in streams and ole.get_size("Data") > 0
            lines = _lines(text)
            return Probe(kind, has_text=bool(lines), has_image=pictures or "objectpool" in {k.split("/")[0] for k in streams},
                         lines=lines[:MAX_LINES])
        if "workbook" in streams or "book" in streams:
            return Probe("xls")
        if name_suffix == ".wps":
            # Older Kingsoft WPS formats keep the text in their own streams: an electronic version we cannot
            # read the text of, but a document nonetheless.
            return Probe(WPS, has_text=True)
        return Probe("ole")
    except Unreadable:
        raise
    except Exception:
        raise Unreadable("E_UNREADABLE", "文件已损坏（OLE 结构无法读取）") from None
    finally:
        ole.close()


def _doc_text(word: bytes, table: bytes, limit: int = 20000) -> str:
    """The main text of a Word 97-2003 document from its piece table ([MS-DOC] 2.8.35), the first
    `limit` characters only. Nothing found (a damaged or unusual file) is an empty string."""
    try:
        ccp_text = struct.unpack_from("<I", word, 0x4C)[0]
        fc_clx, lcb_clx = struct.unpack_from("<II", word, 0x01A2)
        clx = table[fc_clx:fc_clx + lcb_clx]
        pos = 0
        while pos < len(clx) and clx[pos] == 0x01:  # Prc: property modifiers, skipped
            pos += 3 + struct.unpack_from("<H", clx, pos + 1)[0]
        if pos >= len(clx) or clx[pos] != 0x02:
            return ""
        lcb = struct.unpack_from("<I", clx, pos + 1)[0]
        plc = clx[pos + 5:pos + 5 + lcb]
        n = (len(plc) - 4) // 12
        cps = struct.unpack_from(f"<{n + 1}I", plc, 0)
        out, total = [], 0
        for i in range(n):
            start, end = cps[i], min(cps[i + 1], ccp_text)
            if end <= start:
                continue
            fc_raw = struct.unpack_from("<I", plc, 4 * (n + 1) + 8 * i + 2)[0]
            count = min(end - start, limit - total)
            if fc_raw & 0x40000000:  # compressed: one byte per character at fc/2
                fc = (fc_raw & 0x3FFFFFFF) // 2
                out.append(word[fc:fc + count].decode("cp1252", "replace"))
            else:
                out.append(word[fc_raw:fc_raw + 2 * count].decode("utf-16-le", "replace"))
            total += count
            if total >= limit:
                break
        return "".join(out).replace("\r", "\n").replace("\x07", "\n")
    except (struct.error, IndexError, ValueError):
        return ""


# --- zip: docx, odt, ofd (and spreadsheets in disguise) -------------------------------------------------

def _zip(data: bytes, limits: Limits) -> Probe:
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        infos = zf.infolist()
    except Exception:  # zipfile raises many types for a damaged directory
        raise Unreadable("E_UNREADABLE", "文件不完整或已损坏（压缩结构无法读取），可能复制或下载没有完成") from None
    try:
        check_zip_directory(infos, limits)
        members = _Members(data, infos, limits)
        names = members.names
        mimetype = members.read("mimetype").strip() if "mimetype" in names else b""
        if "word/document.xml" in names:
            lines = _xml_lines(members.read("word/document.xml"),
                               "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}")
            pictures = any(n.startswith("word/media/") for n in names)
            return Probe(DOCX, has_text=bool(lines), has_image=pictures, lines=lines)
        if mimetype == ODT_MIME and "content.xml" in names:
            lines = _xml_lines(members.read("content.xml"), "{urn:oasis:names:tc:opendocument:xmlns:text:1.0}")
            pictures = any(n.startswith("Pictures/") for n in names)
            return Probe(ODT, has_text=bool(lines), has_image=pictures, lines=lines)
        if "OFD.xml" in names:
            members.read("OFD.xml")  # its prolog is checked like any XML part
            pages = sum(1 for n in names if re.search(r"(?i)/pages/[^/]+/content\.xml$", n))
            return Probe(OFD, pages=pages or None, has_image=True)
        if "xl/workbook.xml" in names:
            return Probe("xlsx")
        if mimetype.startswith(b"application/vnd.oasis.opendocument.spreadsheet"):
            return Probe("ods")
        return Probe("zip")
    except ReadProblem as problem:
        raise Unreadable(problem.code, problem.reason) from None


def _xml_lines(xml: bytes, ns: str) -> list[str]:
    """The first lines of a word-processing part (paragraphs of docx `w:p`/`w:t`, odt `text:p`/`text:h`);
    empty when it has no text at all. Stops once enough lines are found."""
    from defusedxml.ElementTree import ParseError, iterparse

    paragraph = {ns + "p", ns + "h"}
    text_tag = ns + "t"
    odt = "opendocument" in ns
    lines: list[str] = []
    current: list[str] = []
    try:
        for _event, el in iterparse(io.BytesIO(xml), events=("end",)):
            if el.tag == text_tag and not odt:
                current.append(el.text or "")
            elif el.tag in paragraph:
                line = "".join(current) if not odt else "".join(el.itertext())
                current = []
                if line.strip():
                    lines.append(line.strip())
                    if len(lines) >= MAX_LINES:
                        break
                el.clear()
    except ParseError:
        raise Unreadable("E_UNREADABLE", "文档内容（XML）已损坏，无法读取") from None
    return lines


# --- RTF ----------------------------------------------------------------------------------------------

_RTF_TOKEN = re.compile(rb"\\'([0-9a-fA-F]{2})|\\u(-?\d+) ?\??|\\([a-zA-Z]+)(-?\d+)? ?|\\(.)|([{}])|([^\\{}\r\n]+)|[\r\n]+")
_RTF_SKIP = {b"fonttbl", b"colortbl", b"stylesheet", b"info", b"pict", b"header", b"footer", b"listtable",
             b"listoverridetable", b"rsidtbl", b"generator", b"xmlnstbl", b"themedata", b"datastore", b"latentstyles"}


def _rtf(data: bytes) -> Probe:
    """The first lines of an RTF file's text, skipping its tables and pictures; a `\\pict` is an image."""
    codepage = re.search(rb"\\ansicpg(\d+)", data[:2000])
    encoding = f"cp{codepage.group(1).decode()}" if codepage else "cp936"
    try:
        "".encode(encoding)
    except LookupError:
        encoding = "cp936"
    out: list[str] = []
    pending = bytearray()
    depth, skip_depth, uc_skip, uc_n = 0, None, 0, 1
    has_image = b"\\pict" in data

    def flush() -> None:
        if pending:
            out.append(pending.decode(encoding, "replace"))
            pending.clear()

    for m in _RTF_TOKEN.finditer(data[:2_000_000]):
        hexbyte, uni, word, arg, symbol, brace, text = m.groups()
        if brace == b"{":
            depth += 1
            continue
        if brace == b"}":
            if skip_depth is not None and depth <= skip_depth:
                skip_depth = None
            depth -= 1
            continue
        if skip_depth is not None:
            continue
        if symbol == b"*":
            skip_depth = depth
        elif word is not None:
            if word in _RTF_SKIP:
                skip_depth = depth
            elif word == b"uc" and arg is not None:
                uc_n = int(arg)
            elif word in (b"par", b"line", b"row", b"cell", b"sect", b"page"):
                flush()
                out.append("\n")
        elif hexbyte is not None:
            if uc_skip:
                uc_skip -= 1
            else:
                pending.append(int(hexbyte, 16))
        elif uni is not None:
            flush()
            out.append(chr(int(uni) % 65536))
            uc_skip = max(uc_n - (1 if m.group(0).endswith(b"?") else 0), 0)  # the fallback for old readers
        elif text is not None:
            if uc_skip:
                cut = min(uc_skip, len(text))
                text, uc_skip = text[cut:], uc_skip - cut
            flush()
            out.append(text.decode(encoding, "replace"))
        if sum(len(s) for s in out) > 20000:
            break
    flush()
    lines = _lines("".join(out))
    return Probe(RTF, has_text=bool(lines), has_image=has_image, lines=lines[:MAX_LINES])


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]
