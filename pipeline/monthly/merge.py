"""The clerk's monthly job after ingest: from the ledger as it stood at a moment, publish the master
workbook, the month's leadership workbook and the notices."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from ..core.config import Config
from ..core.issues import title
from ..core.months import Month, period_label
from ..storage.ledger import Ledger
from ..storage.publish import Published, publish
from . import dataset
from .notices import Notice, write_notices
from .obligations import Warn, load_obligations
from .status import MonthStatus, status
from .workbook import write_leadership, write_master


@dataclass
class MergeResult:
    master: Published
    leadership: Published
    notices_dir: Path
    notices: list[Notice]
    status: MonthStatus
    packs: dict[str, object] = field(default_factory=dict)  # obligation key -> what it filed for the month

    @property
    def materials(self):
        """The materials' folder and 汇编 (materials.pack.MaterialsPack), which the CLI and the demo print."""
        return self.packs.get("materials")


def leadership_path(cfg: Config, month: Month) -> Path:
    return cfg.outbox / str(month) / f"安全生产督查情况汇总_{month.year}年{month.month}月.xlsx"


def open_warnings(cfg: Config, ledger: Ledger, data: dataset.Dataset, month: Month) -> list[dict]:
    rows = data.for_month(month).drop_duplicates("arrival_id")
    units = dict(zip(rows["arrival_id"], zip(rows["unit"], rows["month_from"])))
    out = []
    for arrival_id, w in ledger.warnings_for(sorted(units)):
        unit, month_from = units[arrival_id]
        out.append({**w, "unit": unit, "period": period_label(month.year, month_from, month.month),
                    "title": title(w["code"])})
    return out


def write_workbooks(cfg: Config, ledger: Ledger, month: Month, as_of: datetime, now: datetime,
                    warn: Warn | None = None):
    """The master and leadership workbooks; `warn` hears once of an obligation left out (a broken task list)."""
    data = dataset.load(cfg, ledger, as_of)
    st = status(cfg, ledger, month, as_of, load_obligations(cfg, ledger, month, as_of, warn))
    warnings = open_warnings(cfg, ledger, data, month)
    master = publish(cfg.outbox / "master.xlsx", lambda p: write_master(p, cfg, data, st.obligations), now)
    leadership = publish(leadership_path(cfg, month), lambda p: write_leadership(p, cfg, data, st, warnings), now)
    return master, leadership, st


def merge(cfg: Config, ledger: Ledger, month: Month, as_of: datetime, now: datetime,
          warn: Warn | None = None, number: int | None = None) -> MergeResult:
    """`number`: the 通报's 发文字号 the clerk gave (--number), see notices.write_notices. Each obligation's
    month states are read once (load_obligations) and serve the workbooks, the notices and its month pack."""
    master, leadership, st = write_workbooks(cfg, ledger, month, as_of, now, warn)
    folder, notices = write_notices(cfg, ledger, month, as_of, st, number=number, warn=warn)
    packs = {ob.key: pack for ob in st.obligations if (pack := ob.month_pack(now)) is not None}
    return MergeResult(master, leadership, folder, notices, st, packs)
