"""The model of a notice the bureau sends (催报通知, 通报, 报告): sections, the document itself (rendered as an
official .docx and as the text of an e-mail), and the lines every notice shares (the basis it rests on, the
contact). Each obligation builds its sections and documents from these; monthly/notices writes them."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from ..core.config import Config
from ..core.deadlines import chinese_date

if TYPE_CHECKING:  # python-docx loads only when a .docx is written: `annex2 status` never pays for it
    from .officialdoc import Table

XLSX_TYPE = ("application", "vnd.openxmlformats-officedocument.spreadsheetml.sheet")
DOCX_TYPE = ("application", "vnd.openxmlformats-officedocument.wordprocessingml.document")
ORDINALS = "一二三四五六七八九十"


@dataclass
class Section:
    """One part of a notice: a heading (numbered 一、二、… when the document is rendered) and its paragraphs.
    The 通报 has one section per obligation; code that tracks another obligation appends its own."""

    title: str
    paragraphs: list[str]
    criticise: bool = False  # it names late, overdue or lagging units: the 通报 closes with 通报批评
    criticised: str = ""  # for what, in the closing (对以上<criticised>的单位予以通报批评); '' : from the title


@dataclass
class Document:
    """One notice, rendered both as a .docx and as the text of an e-mail. `title` is a list of phrases: the
    title breaks only between them. `letterhead`: a bureau document (red 版头, signed by the bureau); without
    it a section's memo (plain, signed by the section)."""

    kind: str  # reminder | bulletin | escalation | materials_reminder
    title: list[str]
    addressee: str
    opening: list[str]
    signer: str
    letterhead: bool
    sections: list[Section] = field(default_factory=list)
    closing: list[str] = field(default_factory=list)
    note: str = ""
    table: Table | None = None
    number: str = ""  # the 发文字号: the 通报's only (docnumbers.py)
    memo_from: str = ""  # a section's 签报 to the main leaders: the section, shown at its head

    @property
    def title_text(self) -> str:
        return "".join(self.title)

    def numbered_sections(self) -> list[tuple[str, list[str]]]:
        return [(f"{ORDINALS[i] if i < len(ORDINALS) else i + 1}、{s.title}", s.paragraphs)
                for i, s in enumerate(self.sections)]

    def docx(self, issuer: str, moment: datetime) -> bytes:
        from .officialdoc import OfficialDocument

        doc = OfficialDocument(self.title, moment, issuer=issuer if self.letterhead else None,
                               number=self.number, author=self.signer, memo_from=self.memo_from)
        doc.addressee(self.addressee)
        for text in self.opening:
            doc.paragraph(text)
        if self.table:
            doc.table(self.table)
        for heading, paragraphs in self.numbered_sections():
            doc.heading(heading)
            for text in paragraphs:
                doc.item(text)
        for text in self.closing:
            doc.paragraph(text)
        doc.closing(self.signer, self.note)
        return doc.to_bytes()

    def text(self, moment: datetime) -> str:
        lines = [f"签报（{self.memo_from}）", ""] if self.memo_from else []
        lines.append(self.title_text)
        if self.number:
            lines.append(self.number)
        lines += ["", f"{self.addressee}：", ""]
        lines += [f"    {p}" for p in self.opening]
        if self.table:
            lines += ["", " | ".join(self.table.headers)] + [" | ".join(r) for r in self.table.rows]
        for heading, paragraphs in self.numbered_sections():
            lines += [f"    {heading}"] + [f"    {p}" for p in paragraphs]
        lines += [f"    {p}" for p in self.closing]
        lines += ["", self.signer, chinese_date(moment)]
        if self.note:
            lines += ["", f"（{self.note}）"]
        return "\n".join(lines) + "\n"


def basis(cfg: Config) -> str:
    """The document the notices rest on, as cited: 《title》（number）."""
    n = cfg.notices
    return f"《{n.basis_title}》（{n.basis_number}）" if n.basis_number else f"《{n.basis_title}》"


def contact_line(cfg: Config) -> str:
    c = cfg.contact
    return f"联系人：{c.department} {c.person}，联系电话：{c.phone}，邮箱：{c.email}"
