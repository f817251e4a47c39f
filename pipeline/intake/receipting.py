"""The receipts of recorded arrivals (the unit's 回执 .txt, and a rejected workbook's marked-up copy beside it),
written after the ledger's commit and again on a resume; a receipt that cannot be written never undoes the
record."""
from __future__ import annotations

import logging
import os
from datetime import datetime
from pathlib import Path
from typing import Callable

from ..core.config import Config
from ..core.files import EMAIL, MATERIAL, WORKBOOK
from ..reading.markup import make_markup
from ..statistics.template import write_blank
from ..statistics.validate import Validation, validate_bytes
from ..storage.durable import write_atomic
from ..storage.ledger import Arrival, Ledger
from .corrections import receipt_context
from .judge import TASK_FORM, Judged
from .receipts import OUTCOME_SHORT, receipt_text

log = logging.getLogger("annex2")


class Receipting:
    """Ingester's receipts (a mixin: the Ingester holds the folder, the ledger, the clock and the reader)."""

    cfg: Config
    ledger: Ledger
    clock: Callable[[], datetime]
    read: Callable

    def _receipt_guarded(self, arrival_id: int, judged: Judged | None) -> list[Path]:
        """A receipt that cannot be written is logged; the arrival is recorded and the batch goes on. Returns
        what was written (made durable by the caller's barrier)."""
        try:
            kind = self.ledger.arrival(arrival_id).kind
            if kind == TASK_FORM:
                return self._write_task_receipt(arrival_id, judged.task if judged else None)
            if kind == MATERIAL:
                return self._write_material_receipt(arrival_id)
            return self._write_receipt(arrival_id, judged.validation if judged else None)
        except Exception as exc:
            log.exception("回执写入失败（登记号 %s）", arrival_id)
            if isinstance(exc, OSError) and getattr(exc, "errno", None) == 28:
                raise
            return []

    def _write_receipt(self, arrival_id: int, validation: Validation | None) -> list[Path]:
        a = self.ledger.arrival(arrival_id)
        if not a.receipt_path:
            return []
        receipt = self.cfg.root / a.receipt_path
        markup_name = markup_note = None
        if a.outcome == "rejected" and a.kind == WORKBOOK:
            markup_name, markup_note = self._markup(a, receipt, validation)
        dup_time = self.ledger.arrival(a.duplicate_of).received_at if a.duplicate_of else None
        attachments = None
        if a.kind == EMAIL:
            children = self.ledger.children(a.id)
            attachments = [f"{c.original_name} —— {OUTCOME_SHORT.get(c.outcome, c.outcome)}" for c in children]
            if not any(c.kind == WORKBOOK for c in children):
                attachments.append("邮件中没有附件2表格（.xlsx/.xls/.ods），请把填好的附件2作为附件重新发送")
        text = receipt_text(self.cfg, original_name=a.original_name, received_at=a.received_at,
                            received_rule=a.received_rule, unit=a.unit, year=a.year, month_from=a.month_from,
                            month_to=a.month_to, outcome=a.outcome, issues=self.ledger.issues_of(a.id),
                            duplicate_of_time=dup_time, markup_name=markup_name, markup_note=markup_note,
                            attachments=attachments,
                            **(receipt_context(self.cfg, self.ledger, a.id) if a.kind == WORKBOOK else {}))
        written = [write_atomic(receipt, text.encode("utf-8-sig"), durable=False)]
        return written + ([receipt.with_name(markup_name)] if markup_name else [])

    def _write_material_receipt(self, arrival_id: int) -> list[Path]:
        from ..materials.receipt import material_receipt_text

        a = self.ledger.arrival(arrival_id)
        if not a.receipt_path:
            return []
        text = material_receipt_text(self.cfg, self.ledger, arrival_id)
        return [write_atomic(self.cfg.root / a.receipt_path, text.encode("utf-8-sig"), durable=False)]

    def _write_task_receipt(self, arrival_id: int, task) -> list[Path]:
        from ..core.months import Month
        from ..tasks.form import task_form_receipt_text, task_form_waiting_text
        from ..tasks.state import replaced_form_time, task_deadline
        from ..tasks.task_list import read_task_list

        a = self.ledger.arrival(arrival_id)
        if not a.receipt_path:
            return []
        if a.outcome == "failed":
            if any(i["code"] == "E_TASK_LIST" for i in self.ledger.issues_of(a.id)):
                text = task_form_waiting_text(self.cfg, original_name=a.original_name, received_at=a.received_at,
                                              unit=a.unit or a.folder_unit)
                return [write_atomic(self.cfg.root / a.receipt_path, text.encode("utf-8-sig"), durable=False)]
            return self._write_receipt(arrival_id, None)
        if task is None:  # resuming after a crash: judge the archived form again
            from ..tasks.form import check_task_form

            book = self.read((self.cfg.root / a.archived_path).read_bytes(), self.cfg.limits)
            task = check_task_form(book, self.cfg, a.folder_unit, self.clock(), read_task_list(self.cfg))
        month = Month(a.year, a.month_to) if a.year and a.month_to else None
        text = task_form_receipt_text(
            self.cfg, original_name=a.original_name, received_at=a.received_at, judgement=task,
            task_list=read_task_list(self.cfg), due=task_deadline(self.cfg, month) if month else None,
            replaces=replaced_form_time(self.ledger, a.unit, month, a.received_at) if month and a.unit else None)
        return [write_atomic(self.cfg.root / a.receipt_path, text.encode("utf-8-sig"), durable=False)]

    def _markup(self, a: Arrival, receipt: Path, validation: Validation | None) -> tuple[str | None, str | None]:
        """The marked-up copy beside the receipt: its name, and a note for the receipt when the unit's own
        workbook could not be kept (a cap hit in the sandbox) or no copy could be made at all."""
        markup = receipt.with_name(receipt.stem + "_错误标注.xlsx")
        try:
            source = (self.cfg.root / a.archived_path).read_bytes()
            if validation is None or validation.workbook is None:  # resuming: the workbook is in the archive
                validation = validate_bytes(source, self.cfg, self.clock(), self.cfg.unit_named(a.folder_unit),
                                            read=self.read)
            if validation.workbook is None:
                return None, None
            tmp = markup.with_name(f".tmp-{os.getpid()}-" + markup.name)
            made = make_markup(tmp, validation.workbook, validation.issues, a.original_name, source=source,
                               now=self.clock(), limits=self.cfg.limits, located=validation.located, blank=write_blank)
            os.replace(tmp, markup)
            note = f"（原表格式无法保留：{made.reason}；标注副本按附件2模板重新排版。）" if made.reason else None
            return markup.name, note
        except Exception:
            log.exception("标注副本生成失败（登记号 %s）", a.id)
            return None, "标注副本未能生成，请按上面列出的问题逐项修改。"
