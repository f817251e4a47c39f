"""A Chinese official document (.docx) laid out after GB/T 9704-2012 where practical: A4, 22 lines of 28
characters; a bureau's document has the 版头 (the issuing body in red, the 发文字号 in 〔〕, the red rule); a
section's memo has no red letterhead. The title in 2号小标宋, broken between phrases into balanced lines; body
in 3号仿宋 with a two-character first-line indent; the signature, the date in Arabic numerals and the contact
note kept on one page with the body's last lines; page numbers `— 1 —` in 4号宋体. Fonts are asked for by their
standard names, with the usual substitutes named in the font table. Reproducible: every date, including the
file's own properties and its zip entries, comes from the moment given."""
from __future__ import annotations

import io
import itertools
import unicodedata
import zipfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import docx
from docx.enum.section import WD_ORIENT
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_BREAK, WD_LINE_SPACING
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Mm, Pt, RGBColor
from lxml import etree

from ..core.deadlines import chinese_date
from ..core.safe_names import xml_text

TITLE_FONT = "方正小标宋简体"
BODY_FONT = "仿宋_GB2312"
HEADING_FONT = "黑体"
KAI_FONT = "楷体_GB2312"
PAGE_FONT = "宋体"
# What an office program should use where the standard font is not installed (Word reads w:altName).
FALLBACKS = {TITLE_FONT: "华文中宋", BODY_FONT: "仿宋", KAI_FONT: "楷体", HEADING_FONT: "SimHei", PAGE_FONT: "SimSun"}
RED = RGBColor(0xE6, 0x00, 0x12)
SIZE_2, SIZE_3, SIZE_4 = Pt(22), Pt(16), Pt(14)  # 二号, 三号, 四号
LINE = Pt(29)  # 22 lines on the 225 mm type area
TITLE_CHARS = 20  # characters of 二号 on one line of the type area (156 mm / 22 pt)


def text_width(text: str) -> float:
    """Width in full-width characters: a Chinese character or punctuation mark is 1, a digit or letter ½, and
    ½ more at each change between the two (Word and LibreOffice put space between Chinese and Latin text)."""
    wide = [unicodedata.east_asian_width(ch) in "WFA" for ch in text]
    changes = sum(1 for a, b in zip(wide, wide[1:]) if a != b and not text.isspace())
    return sum(1.0 if w else 0.5 for w in wide) + 0.5 * changes


def title_lines(phrases: list[str], max_width: float = TITLE_CHARS) -> list[str]:
    """Break a title only between the phrases it is made of, into as few lines as fit, balanced: two lines
    as an inverted trapezoid (the first no shorter), three as that or a diamond (the middle longest)."""
    n = len(phrases)
    for count in range(1, n + 1):
        best: tuple[float, list[str]] | None = None
        for cuts in itertools.combinations(range(1, n), count - 1):
            bounds = (0, *cuts, n)
            lines = ["".join(phrases[a:b]) for a, b in zip(bounds, bounds[1:])]
            widths = [text_width(s) for s in lines]
            if max(widths) > max_width:
                continue
            # within one character counts as even: 10.5 over 11 is a rectangle, not an upright trapezoid
            shaped = all(a >= b - 1 for a, b in zip(widths, widths[1:])) or (
                len(widths) == 3 and widths[1] >= widths[0] and widths[1] >= widths[2])
            score = (max(widths) - min(widths)) + (0 if shaped else 100)
            if best is None or score < best[0]:
                best = (score, lines)
        if best is not None:
            return best[1]
    return ["".join(phrases)]


def _font(run, name: str, size, bold: bool = False, color: RGBColor | None = None) -> None:
    run.font.name = name
    run.font.size = size
    run.font.bold = bold
    rpr = run._element.get_or_add_rPr()
    rpr.get_or_add_rFonts().set(qn("w:eastAsia"), name)
    if color is not None:
        run.font.color.rgb = color
    if size == SIZE_3:
        # 28 characters of 三号 (16 pt) on the 156 mm line: each character 0.25 pt closer (w:spacing in 1/20 pt)
        spacing = OxmlElement("w:spacing")
        spacing.set(qn("w:val"), "-5")
        rpr.insert_element_before(spacing, "w:w", "w:kern", "w:position", "w:sz", "w:szCs", "w:highlight",
                                  "w:u", "w:effect", "w:bdr", "w:shd", "w:fitText", "w:vertAlign", "w:rtl",
                                  "w:cs", "w:em", "w:lang", "w:eastAsianLayout", "w:specVanish", "w:oMath")


@dataclass(frozen=True)
class Table:
    headers: list[str]
    rows: list[list[str]]
    widths_mm: list[float]


class OfficialDocument:
    """`issuer` given: a bureau document with the red 版头; None: a section's memo, plain."""

    def __init__(self, title: list[str], moment: datetime, *, issuer: str | None, number: str = "",
                 author: str = "", memo_from: str = ""):
        self.moment = moment
        self.doc = docx.Document()
        section = self.doc.sections[0]
        section.page_width, section.page_height, section.orientation = Mm(210), Mm(297), WD_ORIENT.PORTRAIT
        section.top_margin, section.bottom_margin = Mm(37), Mm(35)
        section.left_margin, section.right_margin = Mm(28), Mm(26)
        section.footer_distance = Mm(25)
        props = self.doc.core_properties
        props.title = xml_text("".join(title))
        props.author = props.last_modified_by = author or issuer or ""
        # core properties are UTC (W3CDTF with Z); office programs show them in the reader's zone
        props.created = props.modified = moment.astimezone(timezone.utc).replace(tzinfo=None, microsecond=0)
        props.revision = 1
        self._font_table()
        self._page_numbers()
        if issuer:
            self._letterhead(issuer, number)
        elif memo_from:
            self._memo_head(memo_from)
        elif number:
            self.paragraph(number, align=WD_ALIGN_PARAGRAPH.RIGHT, indent=False, space_after=Pt(12))
        self._title(title)

    # --- the parts of the page ---------------------------------------------------------------------

    def _font_table(self) -> None:
        part = next(r.target_part for r in self.doc.part.rels.values() if r.reltype.endswith("/fontTable"))
        root = etree.fromstring(part.blob)
        for name, alt in FALLBACKS.items():
            font = etree.SubElement(root, qn("w:font"))
            font.set(qn("w:name"), name)
            for tag, value in (("w:altName", alt), ("w:charset", "86"), ("w:family", "auto"),
                               ("w:pitch", "variable")):
                etree.SubElement(font, qn(tag)).set(qn("w:val"), value)
        part._blob = etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True)

    def _spacing(self, p, space_after=None) -> None:
        fmt = p.paragraph_format
        fmt.line_spacing_rule = WD_LINE_SPACING.EXACTLY
        fmt.line_spacing = LINE
        fmt.space_before = Pt(0)
        fmt.space_after = space_after or Pt(0)
        fmt.widow_control = True

    def _letterhead(self, issuer: str, number: str) -> None:
        p = self.doc.add_paragraph()
        p.alignment = WD_ALIGN_PARAGRAPH.CENTER
        p.paragraph_format.space_after = Pt(18)
        _font(p.add_run(xml_text(issuer)), TITLE_FONT, Pt(30), color=RED)
        p = self.paragraph(number, align=WD_ALIGN_PARAGRAPH.CENTER, indent=False, space_after=Pt(6))
        # the red rule under the 发文字号 (a bottom border on its paragraph)
        border = OxmlElement("w:pBdr")
        bottom = OxmlElement("w:bottom")
        for key, value in (("w:val", "single"), ("w:sz", "18"), ("w:space", "6"), ("w:color", "E60012")):
            bottom.set(qn(key), value)
        border.append(bottom)
        # OOXML fixes the order of paragraph properties; a border placed after them is ignored by readers
        p._p.get_or_add_pPr().insert_element_before(
            border, "w:shd", "w:tabs", "w:suppressAutoHyphens", "w:spacing", "w:ind", "w:jc", "w:rPr")
        self.doc.add_paragraph().paragraph_format.space_after = Pt(6)

    def _memo_head(self, section: str) -> None:
        """A section's 签报 to the leaders: 签报 at the head (black: not the bureau's red 版头), then the section
        and the date over a rule, and room for the leaders' 批示."""
        p = self.doc.add_paragraph()
        p.alignment = WD_ALIGN_PARAGRAPH.CENTER
        p.paragraph_format.space_after = Pt(12)
        _font(p.add_run("签　报"), TITLE_FONT, Pt(26))
        p = self.paragraph(f"签报单位：{section}　　　签报日期：{chinese_date(self.moment)}", indent=False,
                           space_after=Pt(6))
        self._rule(p, "000000")
        self.paragraph("局领导批示：", font=HEADING_FONT, indent=False, space_after=Pt(0))
        for _ in range(2):  # room for the leaders' hand
            self.paragraph("", indent=False)
        self._rule(self.doc.paragraphs[-1], "000000")
        self.doc.add_paragraph().paragraph_format.space_after = Pt(6)

    def _rule(self, p, color: str) -> None:
        """A line under the paragraph (a bottom border; OOXML fixes where it goes among the properties)."""
        border = OxmlElement("w:pBdr")
        bottom = OxmlElement("w:bottom")
        for key, value in (("w:val", "single"), ("w:sz", "12"), ("w:space", "6"), ("w:color", color)):
            bottom.set(qn(key), value)
        border.append(bottom)
        p._p.get_or_add_pPr().insert_element_before(
            border, "w:shd", "w:tabs", "w:suppressAutoHyphens", "w:spacing", "w:ind", "w:jc", "w:rPr")

    def _title(self, title: list[str]) -> None:
        p = self.doc.add_paragraph()
        p.alignment = WD_ALIGN_PARAGRAPH.CENTER
        fmt = p.paragraph_format
        fmt.line_spacing_rule = WD_LINE_SPACING.EXACTLY
        fmt.line_spacing = Pt(35)
        fmt.space_after = LINE
        fmt.keep_with_next = True
        lines = title_lines(title)
        for i, line in enumerate(lines):
            run = p.add_run(xml_text(line))
            _font(run, TITLE_FONT, SIZE_2)
            if i < len(lines) - 1:
                run.add_break(WD_BREAK.LINE)

    def _page_numbers(self) -> None:
        """`— 1 —` in 4号宋体: odd pages at the right, even pages at the left, one character in (GB/T 9704 7.5)."""
        self.doc.settings.odd_and_even_pages_header_footer = True
        section = self.doc.sections[0]
        self._page_number(section.footer.paragraphs[0], WD_ALIGN_PARAGRAPH.RIGHT)
        self._page_number(section.even_page_footer.paragraphs[0], WD_ALIGN_PARAGRAPH.LEFT)

    def _page_number(self, footer, align) -> None:
        footer.alignment = align
        if align == WD_ALIGN_PARAGRAPH.RIGHT:
            footer.paragraph_format.right_indent = SIZE_4
        else:
            footer.paragraph_format.left_indent = SIZE_4
        _font(footer.add_run("— "), PAGE_FONT, SIZE_4)
        run = footer.add_run()
        _font(run, PAGE_FONT, SIZE_4)
        for tag, text in (("begin", None), (None, "PAGE"), ("end", None)):
            if tag:
                el = OxmlElement("w:fldChar")
                el.set(qn("w:fldCharType"), tag)
            else:
                el = OxmlElement("w:instrText")
                el.set(qn("xml:space"), "preserve")
                el.text = text
            run._r.append(el)
        _font(footer.add_run(" —"), PAGE_FONT, SIZE_4)

    # --- content -------------------------------------------------------------------------------------

    def paragraph(self, text: str, *, font: str = BODY_FONT, size=SIZE_3, bold: bool = False,
                  align=WD_ALIGN_PARAGRAPH.JUSTIFY, indent: bool = True, space_after=None, keep: bool = False):
        p = self.doc.add_paragraph()
        p.alignment = align
        self._spacing(p, space_after)
        if indent:
            p.paragraph_format.first_line_indent = Pt(32)  # two characters of 三号
        if keep:
            p.paragraph_format.keep_with_next = True
        _font(p.add_run(xml_text(text)), font, size, bold)
        return p

    def item(self, text: str) -> None:
        """A paragraph that opens with a 二级标题 such as `（一）按时报送的单位：`: the lead in 楷体."""
        lead, sep, rest = text.partition("：")
        if not sep or not lead.startswith("（"):
            self.paragraph(text)
            return
        p = self.paragraph(lead + sep, font=KAI_FONT)
        _font(p.add_run(xml_text(rest)), BODY_FONT, SIZE_3)

    def addressee(self, text: str) -> None:
        self.paragraph(f"{text}：", indent=False)

    def heading(self, text: str) -> None:
        """一级标题 (一、…) in 黑体; it stays with the paragraph after it."""
        self.paragraph(text, font=HEADING_FONT, keep=True)

    def table(self, table: Table) -> None:
        self.doc.add_paragraph().paragraph_format.space_after = Pt(0)
        t = self.doc.add_table(rows=1, cols=len(table.headers))
        t.style = "Table Grid"
        t.autofit = False
        for cell, text in zip(t.rows[0].cells, table.headers):
            cell.text = ""
            cell.paragraphs[0].alignment = WD_ALIGN_PARAGRAPH.CENTER
            _font(cell.paragraphs[0].add_run(xml_text(text)), HEADING_FONT, Pt(12))
        for row in table.rows:
            cells = t.add_row().cells
            for cell, text in zip(cells, row):
                cell.text = ""
                _font(cell.paragraphs[0].add_run(xml_text(text)), BODY_FONT, Pt(12))
        for column, w in zip(t.columns, table.widths_mm):
            column.width = Mm(w)  # the grid LibreOffice lays out by
        for row in t.rows:
            for cell, w in zip(row.cells, table.widths_mm):
                cell.width = Mm(w)
        # the header row repeats on a new page; the last row stays with what follows it
        tr_pr = t.rows[0]._tr.get_or_add_trPr()
        tr_pr.append(OxmlElement("w:tblHeader"))
        for row in t.rows:
            for cell in row.cells:
                for p in cell.paragraphs:
                    p.paragraph_format.space_before = p.paragraph_format.space_after = Pt(3)
        for cell in t.rows[-1].cells:
            for p in cell.paragraphs:
                p.paragraph_format.keep_with_next = True
        self.doc.add_paragraph().paragraph_format.keep_with_next = True

    def closing(self, signer: str, note: str = "") -> None:
        """署名, 成文日期 and the contact note (附注), kept on the page that holds the body's last lines:
        the paragraph before them is marked keep-with-next, and so is each of them but the last."""
        body = self.doc.paragraphs[-1]
        body.paragraph_format.keep_with_next = True
        self.paragraph("", indent=False, keep=True)
        for text in (signer, chinese_date(self.moment)):
            p = self.paragraph(text, align=WD_ALIGN_PARAGRAPH.RIGHT, indent=False, keep=bool(note) or text == signer)
            p.paragraph_format.right_indent = Pt(64)  # 右空四字
        if note:  # 附注: on the line after the date (GB/T 9704 7.3.6)
            # left-aligned: justified, a line ending before a long phone number or address spreads apart
            self.paragraph(f"（{note}）", indent=True, align=WD_ALIGN_PARAGRAPH.LEFT)

    def to_bytes(self) -> bytes:
        raw = io.BytesIO()
        self.doc.save(raw)
        return stable_zip(raw.getvalue(), self.moment)

    def save(self, path: Path) -> Path:
        from ..storage.durable import write_atomic

        return write_atomic(path, self.to_bytes())


def stable_zip(data: bytes, moment: datetime) -> bytes:
    """The same zip with every entry stamped `moment`, so the same input gives the same bytes."""
    stamp = (max(moment.year, 1980), moment.month, moment.day, moment.hour, moment.minute, moment.second)
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            info = zipfile.ZipInfo(item.filename, date_time=stamp)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = item.external_attr
            dst.writestr(info, src.read(item))
    return out.getvalue()
