"""待认领: messages in the bureau's mailbox from addresses no unit has, as `status` lists them. Read from the
mailbox's own tables (fetch_store), so `status` does not load the intake to show them."""
from __future__ import annotations

from ..core.config import Config
from ..storage.ledger import Ledger
from . import fetch_store as store

SHOWN_UNCLAIMED = 20  # lines of 待认领 in the status table (all of them in --json)


def unclaimed_entry(cfg: Config, row: store.MailRow) -> dict:
    """One 待认领 message as `status --json` lists it under "unclaimed"."""
    return {"id": row.id, "sender": row.sender, "subject": row.subject,
            "received_at": row.received_at.astimezone(cfg.bureau.tz).isoformat(timespec="seconds"),
            "archived_path": row.spool_path}


def unclaimed_for_status(cfg: Config, ledger: Ledger) -> list[dict]:
    """`status --json`'s "unclaimed": messages from addresses no unit has (empty before any fetch)."""
    if not store.has_tables(ledger):
        return []  # a ledger opened read-only before migration 8
    return [unclaimed_entry(cfg, r) for r in store.unclaimed(ledger)]


def unclaimed_lines(cfg: Config, entries: list[dict]) -> list[str]:
    """The status table's 待认领 section."""
    if not entries:
        return []
    lines = ["", f"待认领的邮件 {len(entries)} 封（发件邮箱不属于任何单位；确认是哪个单位后，把该邮箱加到 config.toml 中"
                 "该单位的 emails，下次 annex2 fetch 时按原收到时间处理）："]
    for e in entries[:SHOWN_UNCLAIMED]:
        lines.append(f"  待认领  {e['sender'] or '发件人不明'}  {e['received_at'][:16].replace('T', ' ')}  {e['subject']}")
    if len(entries) > SHOWN_UNCLAIMED:
        lines.append(f"  ……另有 {len(entries) - SHOWN_UNCLAIMED} 封（annex2 status --json 列出全部）")
    return lines
