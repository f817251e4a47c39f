"""One arrival on its way through intake: `Loaded` (its bytes read from the inbox), `Prepared` (judged, ready
to commit), `Plan` (being committed: where its files are archived, its ledger ids)."""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

from ..core.config import Config
from ..storage.ledger import Arrival
from .collect import Candidate
from .judge import Incoming, Judged


class LedgerFault(Exception):
    "The ledger cannot be written (full disk, read-only or damaged file); nothing of this file was recorded"


@dataclass(frozen=True)
class Loaded:
    cand: Candidate
    st: os.stat_result
    file: Incoming
    kind: str


@dataclass
class Prepared:
    """One arrival judged and ready to commit."""

    item: Loaded
    judged: Judged
    key: str | None
    retry_of: Arrival | None = None


@dataclass
class Plan:
    """One arrival being committed: where its files are archived, and (once recorded) its ids."""

    item: Loaded
    judged: Judged
    key: str | None
    retry_of: Arrival | None
    file: Incoming
    archived: Path
    parts: list[Path]
    receipts: Path
    top: int = 0
    ids: list[int] = field(default_factory=list)


def _hashes(p: "Prepared") -> set[str]:
    """The arrival's bytes and its attachments' (what a later duplicate would match)."""
    return {p.item.file.sha256, *(part.sha256 for part, _j in p.judged.parts)}


def file_key(*parts: object) -> str:
    return hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()


def ledger_fault_text(cfg: Config, exc: BaseException) -> str:
    """What the clerk reads when the ledger cannot be written."""
    text = str(exc).lower()
    if "full" in text or "disk" in text:
        why = "磁盘空间不足"
    elif "readonly" in text or "read-only" in text or "permission" in text:
        why = "台账文件只读或没有写入权限"
    elif "malformed" in text or "not a database" in text or "corrupt" in text:
        why = "台账文件已损坏（请用 annex2 backup 的备份恢复）"
    elif "locked" in text or "busy" in text:
        why = "台账正被其他程序占用"
    else:
        why = f"台账无法写入（{exc}）"
    return (f"错误：{why}：{cfg.ledger}。本批尚未登记的文件仍在收件箱中，没有任何文件丢失；"
            "处理好后重新运行 annex2 ingest 即可。")
