"""The seam every monthly obligation implements (spec 9, 10, 11, 12): the monthly loop (status, notices,
workbooks, merge) asks each one the same questions and knows nothing of any one of them.

    kinds                          the file kinds it owns (storage.supersession.FileKind)
    column / cell_text(unit)       its column in the `annex2 status` table
    key / unit_json(unit)          its key in each unit object of `status --json` (None: the key is left out)
    sheet_columns / sheet_cells    its columns in the leadership workbook's 报送情况 sheet; `beside_form`:
                                   they stand beside the Annex 2 form's state (a file due by a day), else last
    strike_rule / strike_months    what of it counts as a strike, and the months of the year that are strikes
                                   because of it, each with its reason (status joins them: one strike a month)
    escalation_title               what it adds to the title of the 报告 to the main leaders
    bulletin_section()             its own section of the monthly 通报
    bulletin_duty()                (day, what is due by it), for the 通报's opening
    reporting_title / reporting_paragraphs()
                                   what it files with the 通报's part on 材料报送不及时 (files late or missing)
    needs_reminder / reminder_title / reminder_section / reminder_attachments
                                   its part of the unit's 催报通知 (after its own deadline)
    own_reminders()                催报 it sends as documents of their own (the materials' 催报)
    leadership_sheets / master_sheets   its sheets in the month's leadership workbook and the master workbook
    month_pack(now)                what it files for the month besides (the materials' folder and 汇编)

    load(cfg, ledger, month, as_of, warn)   builds it for a month and a moment (None: its inputs are broken)

An obligation computes its month's states once, when it is built for (month, as-of); every answer reads
them. The registry that builds them lives in monthly/obligations.py.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from ..core.months import Month
from ..storage.supersession import FileKind

if TYPE_CHECKING:
    from ..core.config import Config
    from ..storage.ledger import Ledger
    from .notice import Document, Section

Warn = Callable[[str], None]
Attachment = tuple[str, bytes, tuple[str, str]]  # a file an e-mail carries: name, bytes, MIME type


@dataclass(frozen=True)
class OwnReminder:
    """A 催报 that is a document of its own: to `unit`, written as `<stem>.docx` (and `.eml` when the unit
    has an address); `label` is its 类别 in the notices' index."""

    unit: str
    stem: str
    label: str
    document: Document


class Obligation:
    """What every obligation answers; the defaults say "nothing to add"."""

    kinds: tuple[FileKind, ...] = ()
    key = ""  # its key in each unit of status --json
    column = ""  # its column in the status table
    beside_form = False  # its sheet columns stand beside the Annex 2 form's state
    strike_rule = ""  # what of it counts as a strike, for the 报告 (empty: it never does)
    escalation_title: tuple[str, ...] = ()  # phrases it adds to the 报告's title
    reporting_title = ""  # the 通报 section's heading when it is the first to file late or missing files

    @classmethod
    def load(cls, cfg: Config, ledger: Ledger, month: Month, as_of: datetime, warn: Warn) -> Obligation | None:
        """The obligation for `month` as of `as_of`; None, said once through `warn`, when its own inputs cannot
        be used (a broken task list): the monthly loop carries on without it."""
        return cls(cfg, ledger, month, as_of)  # type: ignore[call-arg]

    def cell_text(self, unit: str) -> str:
        return ""

    def unit_json(self, unit: str) -> object:
        return None

    @property
    def sheet_columns(self) -> tuple[tuple[str, float], ...]:
        """(header, width) of its columns in the 报送情况 sheet: by default its status column."""
        return ((self.column, 14),) if self.column else ()

    def sheet_cells(self, unit: str) -> list[object]:
        return [self.cell_text(unit)] if self.column else []

    def strike_months(self, unit: str) -> dict[Month, str]:
        """The months of the year up to the month asked about that are strikes because of it -> the reason."""
        return {}

    def bulletin_section(self) -> Section | None:
        return None

    def bulletin_duty(self) -> tuple[int, str] | None:
        """What the 通报's opening says it asks of each unit: (the day of the month, what is due by it)."""
        return None

    def reporting_paragraphs(self) -> tuple[list[str], str]:
        """Paragraphs for the 通报's part on 材料报送不及时, and what they criticise ('' : they name no unit late or
        not reporting)."""
        return [], ""

    def needs_reminder(self, unit: str) -> bool:
        return False

    def reminder_title(self) -> list[str]:
        """What the 催报 asks for, as title phrases (the title breaks only between them)."""
        return []

    def reminder_section(self, unit: str) -> Section | None:
        return None

    def reminder_attachments(self, unit: str, folder: Path) -> list[Attachment]:
        """Files the 催报's e-mail carries for the unit; `folder` is scratch space."""
        return []

    def own_reminders(self) -> list[OwnReminder]:
        return []

    def leadership_sheets(self, wb) -> None:
        pass

    def master_sheets(self, wb, fmt: dict) -> None:
        pass

    def month_pack(self, now: datetime) -> object:
        """What it files for the month in the outbox (None: nothing)."""
        return None
