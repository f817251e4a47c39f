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
from datetime import datetime
from typing import Any

from ..core.config import Limits
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


def own_workbook_copy(source: bytes, issues: list, original_name: str, limits: Limits,
                      now: datetime | None = None) -> bytes:
    """The marked-up copy of a unit's own .xlsx/.xlsm (markup.py's layout: its form with the problems marked,
    the notes sheet first), as .xlsx bytes. Runs in the sandbox. The reader's checks first (size, zip
    directory, XML prologs), then the merged and hyperlink ranges are counted before openpyxl loads a thing;
    formulas that could reach out of the file, links and macros are dropped. `now`: the copy's own dates."""
    import openpyxl

    from . import marks as markup
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
    if now is None:
        return out.getvalue()
    from ..core.docprops import stamped

    return stamped(out.getvalue(), now)


# --- a stamped material's pages for the 材料汇编 ---------------------------------------------------------

MAX_PAGES = 300  # pages (or image frames) of one stamped file; a month's report is a few
MAX_PIXELS = 200_000_000  # one frame, as materials_detect (a phone photo is ~50 MP)
MAX_TOTAL_PIXELS = 600_000_000  # all frames of one image file together
DECODE_SHARE = 0.4  # of parse_memory_mb: what one frame may take decoded (and converted) at once
MAX_DEPTH = 100  # nesting of the objects a PDF page draws with (pypdf copies them recursively)
MAX_OBJECTS = 200_000  # objects one file's pages reach in all
PAGE_DPI = 200  # images are re-rendered to fit an A4 page at this resolution
A4_PX = (round(210 / 25.4 * PAGE_DPI), round(297 / 25.4 * PAGE_DPI))
# What a page keeps: how it looks. Annotations (links, form fields, attached files), actions (/AA), thumbnails,
# article beads, metadata and everything else stay behind, and a catalog of our own has no /OpenAction,
# /Names (JavaScript, embedded files) or /AcroForm.
PAGE_KEYS = ("/MediaBox", "/CropBox", "/Rotate", "/Resources", "/Contents", "/UserUnit", "/Group")
# Keys that make a viewer act (or carry a file) wherever they sit in what a page's resources reach
ACTIVE_KEYS = frozenset({"/AA", "/OpenAction", "/JS", "/JavaScript", "/Annots", "/AcroForm", "/EmbeddedFiles",
                         "/EF", "/URI", "/Launch", "/SubmitForm", "/ImportData", "/Names", "/XFA"})
_BYTES_PER_PIXEL = {"1": 1, "L": 1, "P": 1}  # Pillow holds every other mode in 4 bytes a pixel
_EXIF_TURNS = {2: "FLIP_LEFT_RIGHT", 3: "ROTATE_180", 4: "FLIP_TOP_BOTTOM", 5: "TRANSPOSE", 6: "ROTATE_270",
               7: "TRANSVERSE", 8: "ROTATE_90"}


def stamped_pages(data: bytes, detected_type: str, limits: Limits) -> tuple[bytes, int]:
    """A stamped material (a PDF, or an image of one or more frames) as PDF pages fit to join into the 汇编:
    a PDF's pages stripped of everything but how they look, an image's frames re-rendered onto A4 pages. Runs
    in the sandbox; returns the PDF's bytes and its page count, or raises Refused (a cap) — or whatever a
    damaged file makes a library raise (the caller names the type)."""
    if detected_type == "pdf":
        return _clean_pdf(data)
    return _image_pdf(data, limits)


def join_pdfs(parts: list[bytes]) -> bytes:
    """The 汇编: our cover and the pages `stamped_pages` made, one PDF. Runs in the sandbox too: the pages
    hold objects a unit wrote, even cleaned."""
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for data in parts:
            writer.append(PdfReader(io.BytesIO(data), strict=False))
        out = io.BytesIO()
        writer.write(out)
    return out.getvalue()


def _clean_pdf(data: bytes) -> tuple[bytes, int]:
    from pypdf import PageObject, PdfReader, PdfWriter
    from pypdf.generic import ArrayObject, FloatObject, NameObject

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted:  # only an empty open password gets this far (materials_detect)
            reader.decrypt("")
        catalog: Any = reader.trailer["/Root"]
        declared = catalog["/Pages"].get("/Count", 0)
        if not isinstance(declared, int) or declared > MAX_PAGES:
            raise Refused(f"PDF 声明有 {declared} 页，超过处理上限 {MAX_PAGES} 页")
        pages = list(reader.pages)
        if len(pages) > MAX_PAGES:
            raise Refused(f"PDF 有 {len(pages)} 页，超过处理上限 {MAX_PAGES} 页")
        writer = PdfWriter()
        budget = [MAX_OBJECTS]
        seen: set[tuple[int, int]] = set()  # objects pages share (their fonts, say) are walked once
        for page in pages:
            clean = PageObject(reader)
            clean[NameObject("/Type")] = NameObject("/Page")
            for key in PAGE_KEYS:
                if key in page:
                    clean[NameObject(key)] = page.raw_get(key)
            if "/MediaBox" not in clean:
                clean[NameObject("/MediaBox")] = ArrayObject([FloatObject(0), FloatObject(0), FloatObject(595),
                                                              FloatObject(842)])
            _defuse_graph(clean, budget, seen)
            writer.add_page(clean)
        out = io.BytesIO()
        writer.write(out)
    return out.getvalue(), len(writer.pages)


def _defuse_graph(root, budget: list[int], seen: set[tuple[int, int]]) -> None:
    """Walk what a page reaches, without recursion: refuse nesting deeper than MAX_DEPTH and more than
    MAX_OBJECTS objects (a chain of 3,000 indirect arrays made pypdf's copy recurse to death), and take out
    every key that makes a viewer act — before pypdf copies a thing."""
    from pypdf.generic import ArrayObject, DictionaryObject, IndirectObject

    stack = [(root, 0)]
    while stack:
        obj, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise Refused(f"PDF 对象嵌套超过 {MAX_DEPTH} 层，超过处理上限")
        if isinstance(obj, IndirectObject):
            key = (obj.idnum, obj.generation)
            if key in seen:
                continue
            seen.add(key)
            budget[0] -= 1
            if budget[0] < 0:
                raise Refused(f"PDF 页面引用的对象超过 {MAX_OBJECTS} 个，超过处理上限")
            stack.append((obj.get_object(), depth + 1))
        elif isinstance(obj, DictionaryObject):  # a stream too
            for name in list(obj.keys()):
                value = obj.raw_get(name)
                if name in ACTIVE_KEYS or (name == "/A" and _is_action(value)):
                    del obj[name]
                elif name != "/Parent":
                    stack.append((value, depth + 1))
        elif isinstance(obj, ArrayObject):
            stack.extend((item, depth + 1) for item in obj)


def _is_action(value) -> bool:
    from pypdf.generic import DictionaryObject

    try:
        target = value.get_object()
    except Exception:
        return True  # an /A that cannot even be resolved goes too
    return isinstance(target, DictionaryObject) and ("/S" in target or target.get("/Type") == "/Action")


def _image_pdf(data: bytes, limits: Limits) -> tuple[bytes, int]:
    """Each frame of an image re-rendered (at most A4 at PAGE_DPI, turned as its EXIF says, metadata left
    behind) onto its own A4 page. Frames, pixels and the memory one frame takes decoded are capped from the
    headers, before a frame is decoded."""
    from PIL import Image

    try:
        return _image_pages(data, limits)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):  # Pillow's own cap, as the probe's
        raise Refused("图片尺寸过大，超过处理上限") from None


def _image_pages(data: bytes, limits: Limits) -> tuple[bytes, int]:
    from fpdf import FPDF
    from PIL import Image

    budget = int(limits.parse_memory_mb * 1024 * 1024 * DECODE_SHARE)
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        with Image.open(io.BytesIO(data)) as im:
            frames = getattr(im, "n_frames", 1)
            if frames > MAX_PAGES:
                raise Refused(f"图片有 {frames} 页（帧），超过处理上限 {MAX_PAGES} 页")
            total = 0
            for n in range(frames):
                im.seek(n)
                _draft(im)
                w, h = im.size
                if w * h > MAX_PIXELS:
                    raise Refused(f"第 {n + 1} 页图片尺寸 {w}×{h} 过大，超过处理上限")
                need = w * h * (_BYTES_PER_PIXEL.get(im.mode, 4) + (0 if im.mode == _target(im.mode) else
                                                                   _BYTES_PER_PIXEL.get(_target(im.mode), 4)))
                if need > budget:
                    raise Refused(f"第 {n + 1} 页图片 {w}×{h} 解码需要约 {need / 2 ** 20:.0f} MB 内存，"
                                  f"超过处理上限 {budget / 2 ** 20:.0f} MB")
                total += w * h
            if total > MAX_TOTAL_PIXELS:
                raise Refused(f"图片各页共 {total} 像素，超过处理上限 {MAX_TOTAL_PIXELS}")
            pdf = FPDF(unit="mm", format="A4")
            pdf.set_auto_page_break(False)
            pdf.set_margins(0, 0, 0)
            for n in range(frames):
                im.seek(n)
                _draft(im)
                page = _rendered(im)
                w, h = page.size
                landscape = w > h
                pdf.add_page(orientation="L" if landscape else "P")
                page_w, page_h = (297, 210) if landscape else (210, 297)
                scale = min((page_w - 10) / w, (page_h - 10) / h)
                iw, ih = w * scale, h * scale
                pdf.image(page, x=(page_w - iw) / 2, y=(page_h - ih) / 2, w=iw, h=ih)
    return bytes(pdf.output()), frames


def _target(mode: str) -> str:
    return "L" if mode in ("1", "L", "LA", "I", "I;16", "F") else "RGB"


def _draft(im) -> None:
    """A JPEG decodes at 1/2, 1/4 or 1/8 of its size when that is still enough for an A4 page."""
    if im.format == "JPEG":
        im.draft(_target(im.mode), (A4_PX[1], A4_PX[1]))


def _rendered(im):
    """One frame decoded, in L or RGB, no larger than an A4 page at PAGE_DPI, turned upright."""
    from PIL import Image

    im.load()
    frame = im if im.mode == _target(im.mode) else im.convert(_target(im.mode))
    turn = _EXIF_TURNS.get(im.getexif().get(0x0112, 1)) if im.format == "JPEG" else None
    w, h = frame.size
    long_side, short_side = max(A4_PX), min(A4_PX)
    scale = min(1.0, long_side / max(w, h), short_side / min(w, h))
    if scale < 1.0:
        frame = frame.resize((max(1, round(w * scale)), max(1, round(h * scale))), Image.Resampling.LANCZOS,
                             reducing_gap=3.0)
    elif frame is im:
        frame = im.copy()  # the file's image stays for its next frame
    if turn:
        frame = frame.transpose(getattr(Image.Transpose, turn))
    return frame
