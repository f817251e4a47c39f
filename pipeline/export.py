"""The merged data for others: CSV (spec section 7), or the district total as a filled-in Annex 2 that the
same tool can ingest one level up."""
from __future__ import annotations

import csv
import io
from datetime import datetime
from pathlib import Path

from . import dataset, form
from .config import Config
from .durable import write_atomic
from .ledger import Ledger
from .months import Month
from .safe_names import csv_cell
from .template import Header, write_template

CSV_COLUMNS = ["unit", "year", "month_from", "month_to", "sector", *[m.key for m in form.METRICS]]


def _count(value) -> str:
    return str(int(value))


def _rate(value) -> str:
    return "" if value is None or value != value else f"{value:.1f}"  # None or NaN: nothing found


def export_csv(cfg: Config, ledger: Ledger, month: Month, as_of: datetime, path: Path) -> int:
    """One row per unit and sector whose current submission is for the month; UTF-8 with a BOM for Excel."""
    data = dataset.load(cfg, ledger, as_of)
    rows = dataset.with_rates(data.for_month(month).sort_values(["unit", "sector"], key=_sector_order))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for _, row in rows.iterrows():
        writer.writerow([csv_cell(row["unit"]), int(row["year"]), int(row["month_from"]), int(row["month_to"]),
                         csv_cell(row["sector"]),
                         *[(_rate if m.is_rate else _count)(row[m.key]) for m in form.METRICS]])
    write_atomic(path, out.getvalue().encode("utf-8-sig"))
    return len(rows)


def _sector_order(column):
    order = {s.key: i for i, s in enumerate(form.SECTORS)}
    return column.map(order) if column.name == "sector" else column


def export_annex2(cfg: Config, ledger: Ledger, month: Month, as_of: datetime, path: Path) -> dict:
    """The district total in our template, 填报单位 = the bureau, so the city can ingest it like any unit's."""
    data = dataset.load(cfg, ledger, as_of)
    district = data.district(month)
    values = {s.key: {m.key: int(district.loc[s.key, m.key]) for m in form.COUNT_METRICS} for s in form.SECTORS}
    header = Header(unit=cfg.bureau.name, year=month.year, month_to=month.month, filler=cfg.contact.person or None,
                    phone=cfg.contact.phone or None, filled_on=as_of.astimezone(cfg.bureau.tz).date())
    write_template(path, cfg.bureau.short_name, header, values)
    return values
