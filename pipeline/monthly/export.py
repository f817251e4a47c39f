"""The merged data for others: CSV (spec section 7), or the district total as a filled-in Annex 2 that the
same tool can ingest one level up."""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from ..core import form
from ..core.config import Config
from ..core.months import Month
from ..core.safe_names import csv_cell
from ..statistics.template import Header, write_template
from ..storage.durable import replace_with
from ..storage.ledger import Ledger
from . import dataset

# The spec's columns, then one more at the end (spec 7 lets keys be added; the rows stay the units whose current
# submission is for the month): what the district total holds besides these rows — the carry-forward (spec 12).
CSV_COLUMNS = ["unit", "year", "month_from", "month_to", "sector", *[m.key for m in form.METRICS], "district_note"]
# --labels zh, the default: the same columns for a person opening the file in Excel/WPS (--labels keys for scripts)
CSV_COLUMNS_ZH = ["单位", "年份", "起始月", "截止月", "行业领域", *[f"{m.label}（{m.unit}）" for m in form.METRICS],
                  "全区合计说明"]
SECTOR_LABELS = {s.key: s.label for s in form.SECTORS}


@dataclass(frozen=True)
class Coverage:
    """Which expected units the month's total includes (an honest export says so)."""

    month: Month
    reported: tuple[str, ...]
    missing: tuple[str, ...]
    carried: tuple[tuple[str, int], ...] = ()  # missing units whose latest figures the total carries (unit, month)

    @property
    def expected(self) -> int:
        return len(self.reported) + len(self.missing)

    @property
    def complete(self) -> bool:
        return not self.missing

    @property
    def text(self) -> str:
        text = f"已报 {len(self.reported)}/{self.expected}"
        if not self.missing:
            return text + "，全部单位均已包含"
        if self.carried:
            text += "，" + dataset.carry_text(self.carried)
        carried = {u for u, _ in self.carried}
        left_out = [u for u in self.missing if u not in carried]
        return text + (f"，未含 {'、'.join(left_out)}" if left_out else "")

    def to_dict(self) -> dict:
        return {"reported": list(self.reported), "missing": list(self.missing), "expected": self.expected,
                "complete": self.complete,
                "carried": [{"unit": u, "month": str(Month(self.month.year, m))} for u, m in self.carried]}


def coverage(cfg: Config, ledger: Ledger, month: Month, as_of: datetime) -> Coverage:
    """Units whose current submission is for the month, the expected units that have none (config order), and
    which of those the total carries forward (spec 12)."""
    data = dataset.load(cfg, ledger, as_of)
    reported = set(data.reported_units(month))
    order = {name: i for i, name in enumerate(u.name for u in cfg.units)}
    return Coverage(month, tuple(sorted(reported, key=lambda n: (order.get(n, len(order)), n))),
                    tuple(n for n in dataset.expected_units(cfg, month) if n not in reported),
                    tuple(data.carried_from(month)))


def _count(value) -> str:
    return str(int(value))


def _rate(value) -> str:
    return "" if value is None or value != value else f"{value:.1f}"  # None or NaN: nothing found


def export_csv(cfg: Config, ledger: Ledger, month: Month, as_of: datetime, path: Path, labels: str = "zh") -> int:
    """One row per unit and sector whose current submission is for the month; UTF-8 with a BOM for Excel.
    labels="zh" (the default, for a person in Excel/WPS): Chinese headers and sector names; "keys": the spec's keys. The last column says, on every row, what
    the district total holds that these rows do not (“全区合计另含沿用：现代物流中心（沿用4月累计数）”), or is empty."""
    zh = labels == "zh"
    data = dataset.load(cfg, ledger, as_of)
    rows = dataset.with_rates(data.for_month(month).sort_values(["unit", "sector"], key=_sector_order))
    carried = data.carry_note(month)
    note = f"全区合计另{carried}" if carried else ""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS_ZH if zh else CSV_COLUMNS)
    for _, row in rows.iterrows():
        sector = SECTOR_LABELS[row["sector"]] if zh else row["sector"]
        writer.writerow([csv_cell(row["unit"]), int(row["year"]), int(row["month_from"]), int(row["month_to"]),
                         csv_cell(sector),
                         *[(_rate if m.is_rate else _count)(row[m.key]) for m in form.METRICS], note])
    body = out.getvalue().encode("utf-8-sig")
    replace_with(path, lambda tmp: tmp.write_bytes(body))
    return len(rows)


def _sector_order(column):
    order = {s.key: i for i, s in enumerate(form.SECTORS)}
    return column.map(order) if column.name == "sector" else column


def export_annex2(cfg: Config, ledger: Ledger, month: Month, as_of: datetime, path: Path) -> dict:
    """The district total in our template, 填报单位 = the bureau, so the city can ingest it like any unit's.
    A note line under the footer says how many units the total covers and which are missing."""
    data = dataset.load(cfg, ledger, as_of)
    cover = coverage(cfg, ledger, month, as_of)
    district = data.district(month)
    values = {s.key: {m.key: int(district.loc[s.key, m.key]) for m in form.COUNT_METRICS} for s in form.SECTORS}
    header = Header(unit=cfg.bureau.name, year=month.year, month_to=month.month, filler=cfg.contact.person or None,
                    phone=cfg.contact.phone or None, filled_on=as_of.astimezone(cfg.bureau.tz).date(),
                    note=f"说明：本表合计{cover.text}（数据截至 {as_of.astimezone(cfg.bureau.tz):%Y-%m-%d %H:%M}）。")
    # beside the target, then a rename: a full disk leaves no 0-byte workbook under the target's name
    replace_with(path, lambda tmp: write_template(tmp, cfg.bureau.short_name, header, values))
    return values
