"""The ledger as it stood at a moment, as pandas frames: current submissions, district totals, increments.
The workbook writers and the exports read these and nothing else."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import pandas as pd

from ..core import form
from ..core.config import Config
from ..core.months import Month, period_label
from ..storage.ledger import Ledger, utc_text
from ..storage.supersession import standings, status_of

COUNT_KEYS = [m.key for m in form.COUNT_METRICS]
SECTOR_KEYS = [s.key for s in form.SECTORS]


def with_rates(frame: pd.DataFrame) -> pd.DataFrame:
    """Add the two rates (per cent, one decimal, half-up; NaN where nothing was found) in form order."""
    out = frame.copy()
    for m in form.RATE_METRICS:
        fixed, found = m.rate_of  # type: ignore[misc]
        out[m.key] = [form.rate(f, n) for f, n in zip(out[fixed], out[found])]
        out[m.key] = out[m.key].astype("float64")
    keys = [c for c in out.columns if c not in form.METRIC_BY_KEY]
    return out[keys + [m.key for m in form.METRICS]]


def carry_text(carried: list[tuple[str, int]] | tuple[tuple[str, int], ...]) -> str:
    """The mark of a total that carries units forward (spec 12): “含沿用：现代物流中心（沿用4月累计数）”; "" for none."""
    return "含沿用：" + "、".join(f"{u}（沿用{m}月累计数）" for u, m in carried) if carried else ""


def expected_units(cfg: Config, month: Month) -> list[str]:
    """The units that owe a report for `month`, in config order."""
    return [u.name for u in cfg.units if u.expected_in(month) and cfg.in_period(month)]


@dataclass
class Dataset:
    as_of: datetime
    submissions: pd.DataFrame  # one row per current submission × sector: unit, year, month_from, month_to, sector, counts
    arrivals: pd.DataFrame  # every file that arrived by as_of, with its derived status
    cfg: Config | None = None  # who owes a report when, and [merge] carry_forward; None: no carry-forward

    def for_month(self, month: Month) -> pd.DataFrame:
        s = self.submissions
        return s[(s["year"] == month.year) & (s["month_to"] == month.month)]

    def carried(self, month: Month) -> pd.DataFrame:
        """Spec 12, carry-forward: for each unit that owes a report for `month` and has none, its latest current
        submission of the same year for an earlier month (rows as in `submissions`; config order). Empty when
        `carry_forward` is off."""
        s = self.submissions
        if self.cfg is None or not self.cfg.merge.carry_forward or s.empty:
            return s.iloc[0:0]
        reported = set(self.for_month(month)["unit"])
        owing = [name for name in expected_units(self.cfg, month) if name not in reported]
        earlier = s[(s["year"] == month.year) & (s["month_to"] < month.month) & s["unit"].isin(owing)]
        latest = earlier[earlier["month_to"] == earlier.groupby("unit")["month_to"].transform("max")]
        order = {name: i for i, name in enumerate(owing)}
        return latest.sort_values("unit", key=lambda c: c.map(order), kind="stable")

    def carried_from(self, month: Month) -> list[tuple[str, int]]:
        """(unit, the month whose cumulative figures stand in for it) for the units carried into `month`'s total."""
        rows = self.carried(month).drop_duplicates("unit")
        return [(str(u), int(m)) for u, m in zip(rows["unit"], rows["month_to"])]

    def carry_note(self, month: Month) -> str:
        """“含沿用：现代物流中心（沿用4月累计数）”, or "" when the total holds only this month's reports."""
        return carry_text(self.carried_from(month))

    def in_total(self, month: Month) -> pd.DataFrame:
        """The rows the district total of `month` sums: this month's current submissions and the carried ones."""
        carried = self.carried(month)
        return pd.concat([self.for_month(month), carried]) if not carried.empty else self.for_month(month)

    def district(self, month: Month) -> pd.DataFrame:
        """Sector × metric sums over the units whose current submission is for `month` (and, with carry-forward,
        the latest figures of those that owe one and sent none), 合计 added, rates computed."""
        rows = self.in_total(month)
        sums = rows.groupby("sector")[COUNT_KEYS].sum().reindex(SECTOR_KEYS, fill_value=0)
        sums.loc[form.TOTAL.key] = sums.sum()
        sums.index.name = "sector"
        return with_rates(sums.reset_index()).set_index("sector")

    def reported_units(self, month: Month) -> list[str]:
        return sorted(set(self.for_month(month)["unit"]))

    def increments(self) -> pd.DataFrame:
        """Monthly increments per unit and sector (spec 8.14): cumulative(M) − cumulative(previous reported month
        of the same year); after a skip the increment spans both months and says so; the skipped month itself
        has no row (unknown, never 0)."""
        s = self.submissions.sort_values(["unit", "sector", "year", "month_to"])
        if s.empty:
            return pd.DataFrame(columns=["unit", "sector", "year", "month", "span", "label", *COUNT_KEYS])
        previous = s.groupby(["unit", "sector", "year"])[["month_to", *COUNT_KEYS]].shift(1)
        out = s[["unit", "sector", "year"]].copy()
        out["month"] = s["month_to"]
        prev_month = previous["month_to"].fillna(0).astype(int)
        out["span"] = s["month_to"] - prev_month
        for key in COUNT_KEYS:
            out[key] = s[key] - previous[key].fillna(0)
        out["label"] = [f"{m}月" if span == 1 else f"{m - span + 1}–{m}月（跨{span}个月）"
                        for m, span in zip(out["month"], out["span"])]
        return out.reset_index(drop=True)

    def trend(self, year: int, up_to: int) -> pd.DataFrame:
        """District figures by month: units reporting, summed increments, cumulative rectification rates."""
        inc = self.increments()
        inc = inc[(inc["year"] == year) & (inc["month"] <= up_to)]
        by_month = inc.groupby("month")[COUNT_KEYS].sum()
        spans = inc[inc["span"] > 1].groupby("month")["unit"].nunique()
        rows = []
        for month in range(1, up_to + 1):
            district = self.district(Month(year, month))
            total = district.loc[form.TOTAL.key]
            units = len(self.reported_units(Month(year, month)))
            row: dict[str, float | None] = {"month": month, "units": units,
                                             "spanning_units": int(spans.get(month, 0))}
            for key in COUNT_KEYS:
                row[key] = float(by_month.loc[month, key]) if month in by_month.index else None
            row["found"] = (row["major_hazards"] or 0) + (row["other_hazards"] or 0) if month in by_month.index else None
            row["fixed"] = (row["major_fixed"] or 0) + (row["other_fixed"] or 0) if month in by_month.index else None
            row["major_fix_rate"] = total["major_fix_rate"] if units else None
            row["other_fix_rate"] = total["other_fix_rate"] if units else None
            rows.append(row)
        return pd.DataFrame(rows)


def load(cfg: Config, ledger: Ledger, as_of: datetime) -> Dataset:
    current = ledger.current(as_of)
    values = ledger.values_for([a.id for a in current])
    records = []
    for a in current:
        for sector in SECTOR_KEYS:
            row = values[a.id].get(sector, {})
            records.append({"unit": a.unit, "year": a.year, "month_from": a.month_from, "month_to": a.month_to,
                            "sector": sector, **{k: int(row.get(k, 0)) for k in COUNT_KEYS},
                            "arrival_id": a.id, "received_at": a.received_at.astimezone(cfg.bureau.tz),
                            "file": a.original_name})
    columns = ["unit", "year", "month_from", "month_to", "sector", *COUNT_KEYS, "arrival_id", "received_at", "file"]
    submissions = pd.DataFrame.from_records(records, columns=columns)
    standing = standings(ledger.db, utc_text(as_of))  # every kind current or superseded by its own kind only
    voided = ledger.voids()
    issue_codes = ledger.issue_codes()
    arrivals = pd.DataFrame.from_records([{
        "id": a.id, "received_at": a.received_at.astimezone(cfg.bureau.tz), "rule": a.received_rule,
        "unit": a.unit, "file": a.original_name, "kind": a.kind,
        "period": period_label(a.year, a.month_from, a.month_to),
        "status": status_of(standing.get(a.id), a.id in voided, a.outcome),
        "codes": " ".join(issue_codes.get(a.id, [])), "archived": a.archived_path,
    } for a in ledger.arrivals(as_of)], columns=["id", "received_at", "rule", "unit", "file", "kind", "period",
                                                  "status", "codes", "archived"])
    return Dataset(as_of, submissions, arrivals, cfg)
