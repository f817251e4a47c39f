"""The `--json` summary object of each command that changes or writes something (merge, notices, export; ingest's
is its BatchResult.to_dict, intake/report.py). Keys are stable: the README lists them; more may be added, none
renamed."""
from __future__ import annotations

from datetime import datetime
from pathlib import Path


def _notice(folder: Path, n) -> dict:
    return {"kind": n.kind, "path": str(folder / n.file), "unit": n.unit or None, "recipients": list(n.recipients)}


def notices_summary(month, as_of: datetime, folder: Path, written, sent: int | None) -> dict:
    """notices --json: {"month", "as_of", "folder", "notices": [{"kind", "path", "unit", "recipients"}], "sent"}"""
    return {"month": str(month), "as_of": as_of.isoformat(timespec="seconds"), "folder": str(folder),
            "notices": [_notice(folder, n) for n in written], "sent": sent}


def merge_summary(month, as_of: datetime, ingested, out) -> dict:
    """merge --json: {"month", "as_of", "ingest": <ingest --json, BatchResult.to_dict>, "leadership", "master", "notices_dir",
    "notices": [...], "status": <status --json>}"""
    return {"month": str(month), "as_of": as_of.isoformat(timespec="seconds"),
            "ingest": ingested.to_dict(),
            "leadership": str(out.leadership.path), "master": str(out.master.path),
            "notices_dir": str(out.notices_dir), "notices": [_notice(out.notices_dir, n) for n in out.notices],
            "status": out.status.to_dict()}


def export_summary(month, as_of: datetime, fmt: str, path: Path, rows: int | None, cover) -> dict:
    """export --json: {"month", "as_of", "format": "csv"|"annex2", "path", "rows", "coverage": {"reported",
    "missing", "expected", "complete"}}"""
    return {"month": str(month), "as_of": as_of.isoformat(timespec="seconds"), "format": fmt, "path": str(path),
            "rows": rows, "coverage": cover.to_dict()}
