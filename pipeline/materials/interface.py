"""Monthly work materials (月度工作情况材料, spec 9, 10, 12): the interface intake and the monthly outputs call.

    judge_material(name, data, folder_unit, cfg, received_at, month_hint) -> MaterialJudgement   (pure)
    material_arrival_fields(judgement) -> dict        the arrivals-row fields for Ledger.record
    record_material(db, arrival_id, judgement)        inside the intake's ledger transaction
    material_receipt_text(cfg, ledger, arrival_id) -> str
    material_states(cfg, ledger, month, as_of) -> list[MaterialState]
    materials_status(cfg, ledger, month, as_of) -> MaterialsStatus (`materials status --json`)
    set_kind(ledger, arrival_id, kind, now)           the clerk's reclassification (event log)
    write_month_materials(cfg, ledger, month, as_of, outbox_dir) -> MaterialsPack

Intake, for a file of kind MATERIAL (or an e-mail attachment that is not a spreadsheet):

    j = run_untrusted(judge_material, name, data, owner_name_or_None, cfg, received_at, month_hint,
                      limits=cfg.limits)                  # sandbox.py; j.is_spreadsheet: validate it as Annex 2
    with ledger.transaction() as db:
        arrival_id = ledger.record(db, ..., issues=j.issues, event="material" if j.ok else "rejected",
                                   **material_arrival_fields(j))
        record_material(db, arrival_id, j)
    write the receipt: material_receipt_text(cfg, ledger, arrival_id)   (after the commit: it reads the ledger)

The work is done in materials_detect (what a file is), materials_names (month and unit in names and text),
materials_classify (the judgement), materials_state (ledger and state), materials_receipt, materials_report
(status/notices/workbook data), materials/obligation.py (the monthly loop's seam), materials_sheet (the master workbook's 材料 sheet), materials_pack (the month's folder and 材料汇编 PDF) and materials_samples
(sample files and the demo's story).
"""
from __future__ import annotations

from .classify import ELECTRONIC, KIND_LABELS, STAMPED, MaterialJudgement, assumed_month, judge_material
from .pack import MaterialsPack, write_month_materials
from .receipt import material_receipt_text
from .report import bulletin_paragraphs, material_reminders, reminder_lines, unit_sentence, workbook_rows
from .sheet import write_materials_sheet
from .state import (
                              MaterialFile,
                              MaterialsStatus,
                              MaterialState,
                              NotAMaterial,
                              material_arrival_fields,
                              material_files,
                              material_states,
                              materials_deadline,
                              materials_status,
                              record_material,
                              set_kind,
                              strike_months,
)

__all__ = [
    "ELECTRONIC", "KIND_LABELS", "STAMPED", "MaterialFile", "MaterialJudgement", "MaterialState", "MaterialsPack",
    "MaterialsStatus", "NotAMaterial", "assumed_month", "bulletin_paragraphs", "judge_material",
    "material_arrival_fields", "material_files", "material_reminders", "material_receipt_text", "material_states",
    "materials_deadline", "materials_status", "record_material", "reminder_lines", "set_kind", "strike_months",
    "unit_sentence", "workbook_rows", "write_materials_sheet", "write_month_materials",
]
