"""The monthly work materials (spec 10, 12) as one obligation of the monthly loop: the month's states are
read from the ledger once, when it is built, and every answer (status, 催报, 通报, workbooks, the month's
folder) is made from them."""
from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from ..core.config import Config
from ..core.months import Month
from ..documents.obligation import Obligation, OwnReminder
from ..storage.ledger import Ledger
from ..storage.supersession import FileKind
from . import state
from .report import bulletin_paragraphs, criticised, material_reminders, workbook_rows

if TYPE_CHECKING:  # the pack and the sheet load when a merge writes them, not for `annex2 status`
    from .pack import MaterialsPack


class MaterialsObligation(Obligation):
    """月度工作情况材料: a stamped and an electronic version of each unit's month, due by the [materials] day."""

    kinds = (FileKind.STAMPED, FileKind.ELECTRONIC)
    key = "materials"
    column = "工作材料"
    beside_form = True
    reporting_title = "月度工作情况材料报送情况"

    def __init__(self, cfg: Config, ledger: Ledger, month: Month, as_of: datetime):
        self.cfg, self.ledger, self.month, self.as_of = cfg, ledger, month, as_of
        self.states = state.material_states(cfg, ledger, month, as_of)
        self.by_unit = {s.unit: s for s in self.states}
        self._strikes: dict[str, list[Month]] | None = None  # the year's late months, when first asked
        # a month whose units owe no materials adds nothing to the escalation's criteria
        self.strike_rule = "月度工作材料迟报或未报齐" if self.states else ""

    def cell_text(self, unit: str) -> str:
        s = self.by_unit.get(unit)
        return s.label if s is not None else "—"

    def unit_json(self, unit: str) -> dict | None:
        s = self.by_unit.get(unit)
        return s.summary_dict(self.as_of.tzinfo) if s is not None else None

    @property
    def sheet_columns(self) -> tuple[tuple[str, float], ...]:
        return (("工作材料（16日前）", 20), ("材料齐全时间", 17))

    def sheet_cells(self, unit: str) -> list[object]:
        s = self.by_unit.get(unit)
        if s is None:
            return ["不需报送", ""]
        received = s.received_at.astimezone(self.cfg.bureau.tz).strftime("%Y-%m-%d %H:%M") if s.received_at else ""
        return [s.label, received]

    def strike_months(self, unit: str) -> dict[Month, str]:
        if self._strikes is None:
            self._strikes = state.strike_months(self.cfg, self.ledger, self.month, self.as_of)
        return {m: "月度工作材料未按时报齐" for m in self._strikes.get(unit, [])}

    def bulletin_duty(self) -> tuple[int, str] | None:
        """Said when the 通报 reports on materials: when some unit owes them this month."""
        return (self.cfg.materials.day, "月度工作情况材料（盖章版含电子版）") if self.states else None

    def reporting_paragraphs(self) -> tuple[list[str], str]:
        return bulletin_paragraphs(self.cfg, self.ledger, self.month, self.as_of, self.states), criticised(self.states)

    def own_reminders(self) -> list[OwnReminder]:
        """Materials are chased after their own deadline, in a 催报 of their own naming the missing version."""
        return [OwnReminder(unit, f"催报通知_工作材料_{unit}", "催报通知（月度工作材料）", doc)
                for unit, doc in material_reminders(self.cfg, self.ledger, self.month, self.as_of, self.states)]

    def master_sheets(self, wb, fmt: dict) -> None:
        from .sheet import write_materials_sheet

        write_materials_sheet(wb, workbook_rows(self.cfg, self.ledger, self.as_of), self.as_of)

    def month_pack(self, now: datetime) -> MaterialsPack:
        """outbox/YYYY-MM/材料/ and the 汇编 PDF."""
        from .pack import write_month_materials

        return write_month_materials(self.cfg, self.ledger, self.month, self.as_of, now=now, states=self.states)

