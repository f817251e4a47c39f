"""A Chinese official document (.docx) laid out after GB/T 9704 where practical: A4 with the standard margins,
the issuing body in red over a red rule, the title in 2号小标宋, body text in 3号仿宋 with a two-character
first-line indent, the signature and date at the right, page numbers `— 1 —`. Reproducible: every date,
including the file's own properties and its zip entries, comes from the moment given."""
from __future__ import annotations

import io
import zipfile
from datetime import datetime, timezone
from pathlib import Path

import docx
from docx.enum.section import WD_ORIENT
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_LINE_SPACING
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Mm, Pt, RGBColor

TITLE_FONT = "方正小标宋简体"
BODY_FONT = "仿宋_GB2312"
HEADING_FONT = "黑体"
RED = RGBColor(0xE6, 0x00, 0x12)
SIZE_2, SIZE_3 = Pt(22), Pt(16)  # 二号, 三号


def chinese_date(moment: datetime) -> str:
    return f"{moment.year}年{moment.month}月{moment.day}日"


def _font(run, name: str, size, bold: bool = False, color: RGBColor | None = None) -> None:
    run.font.name = name
    run.font.size = size
    run.font.bold = bold
    rpr = run._element.get_or_add_rPr()
    rpr.get_or_add_rFonts().set(qn("w:eastAsia"), name)
    if color is not None:
        run.font.color.rgb = color


class OfficialDocument:
    def __init__(self, issuer: str, title: str, moment: datetime):
        self.moment = moment
        self.doc = docx.Document()
        section = self.doc.sections[0]
        section.page_width, section.page_height, section.orientation = Mm(210), Mm(297), WD_ORIENT.PORTRAIT
        section.top_margin, section.bottom_margin = Mm(37), Mm(35)
        section.left_margin, section.right_margin = Mm(28), Mm(26)
        props = self.doc.core_properties
        props.title, props.author, props.last_modified_by = title, issuer, issuer
        # core properties are UTC (W3CDTF with Z); office programs show them in the reader's zone
        props.created = props.modified = moment.astimezone(timezone.utc).replace(tzinfo=None, microsecond=0)
        props.revision = 1
        self._page_numbers()
        self._issuer(issuer)
        self.paragraph(title, font=TITLE_FONT, size=SIZE_2, align=WD_ALIGN_PARAGRAPH.CENTER, indent=False,
                       space_after=Pt(16))

    def _spacing(self, p, space_after=None) -> None:
        fmt = p.paragraph_format
        fmt.line_spacing_rule = WD_LINE_SPACING.EXACTLY
        fmt.line_spacing = Pt(29)
        fmt.space_before = Pt(0)
        fmt.space_after = space_after or Pt(0)

    def _issuer(self, issuer: str) -> None:
        p = self.doc.add_paragraph()
        p.alignment = WD_ALIGN_PARAGRAPH.CENTER
        _font(p.add_run(issuer), TITLE_FONT, Pt(30), color=RED)
        p.paragraph_format.space_after = Pt(6)
        # the red rule under the issuing body (a bottom border on its paragraph)
        border = OxmlElement("w:pBdr")
        bottom = OxmlElement("w:bottom")
        for key, value in (("w:val", "single"), ("w:sz", "18"), ("w:space", "4"), ("w:color", "E60012")):
            bottom.set(qn(key), value)
        border.append(bottom)
        # OOXML fixes the order of paragraph properties; a border placed after them is ignored by readers
        p._p.get_or_add_pPr().insert_element_before(
            border, "w:shd", "w:tabs", "w:suppressAutoHyphens", "w:spacing", "w:ind", "w:jc", "w:rPr")
        self.doc.add_paragraph().paragraph_format.space_after = Pt(6)

    def _page_numbers(self) -> None:
        footer = self.doc.sections[0].footer.paragraphs[0]
        footer.alignment = WD_ALIGN_PARAGRAPH.CENTER
        _font(footer.add_run("— "), BODY_FONT, Pt(14))
        run = footer.add_run()
        _font(run, BODY_FONT, Pt(14))
        for tag, text in (("begin", None), (None, "PAGE"), ("end", None)):
            if tag:
                el = OxmlElement("w:fldChar")
                el.set(qn("w:fldCharType"), tag)
            else:
                el = OxmlElement("w:instrText")
                el.set(qn("xml:space"), "preserve")
                el.text = text
            run._r.append(el)
        _font(footer.add_run(" —"), BODY_FONT, Pt(14))

    def paragraph(self, text: str, *, font: str = BODY_FONT, size=SIZE_3, bold: bool = False,
                  align=WD_ALIGN_PARAGRAPH.JUSTIFY, indent: bool = True, space_after=None):
        p = self.doc.add_paragraph()
        p.alignment = align
        self._spacing(p, space_after)
        if indent:
            p.paragraph_format.first_line_indent = Pt(32)  # two characters of 三号
        _font(p.add_run(text), font, size, bold)
        return p

    def addressee(self, text: str) -> None:
        self.paragraph(f"{text}：", indent=False)

    def heading(self, text: str) -> None:
        self.paragraph(text, font=HEADING_FONT)

    def table(self, headers: list[str], rows: list[list[str]], widths_mm: list[float] | None = None) -> None:
        t = self.doc.add_table(rows=1, cols=len(headers))
        t.style = "Table Grid"
        t.autofit = False
        for cell, text in zip(t.rows[0].cells, headers):
            cell.text = ""
            _font(cell.paragraphs[0].add_run(text), HEADING_FONT, Pt(12))
        for row in rows:
            cells = t.add_row().cells
            for cell, text in zip(cells, row):
                cell.text = ""
                _font(cell.paragraphs[0].add_run(text), BODY_FONT, Pt(12))
        if widths_mm:
            for column, w in zip(t.columns, widths_mm):
                column.width = Mm(w)  # the grid LibreOffice lays out by
            for row in t.rows:
                for cell, w in zip(row.cells, widths_mm):
                    cell.width = Mm(w)
        self.doc.add_paragraph()

    def signature(self, signer: str) -> None:
        self.doc.add_paragraph()
        for text in (signer, chinese_date(self.moment)):
            p = self.paragraph(text, align=WD_ALIGN_PARAGRAPH.RIGHT, indent=False)
            p.paragraph_format.right_indent = Pt(64)  # 右空四字

    def note(self, text: str) -> None:
        self.doc.add_paragraph()
        self.paragraph(f"（{text}）", indent=True)

    def to_bytes(self) -> bytes:
        raw = io.BytesIO()
        self.doc.save(raw)
        return stable_zip(raw.getvalue(), self.moment)

    def save(self, path: Path) -> Path:
        from .durable import write_atomic

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
