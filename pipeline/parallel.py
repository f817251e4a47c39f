"""Validating many files on all cores. Each worker returns the slim result (no cell grid), so what crosses
the process boundary is small; the marked-up copy, when asked for, is made again in the parent."""
from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime
from pathlib import Path

from .config import Config, Unit
from .validate import Validation, validate_bytes

MIN_FOR_POOL = 32  # below this, starting processes costs more than it saves


def _check(job: tuple[str, Config, datetime, Unit | None]) -> Validation:
    path, cfg, now, owner = job
    v = validate_bytes(Path(path).read_bytes(), cfg, now, owner)
    v.workbook = None
    v.located = None
    return v


def validate_paths(jobs: list[tuple[Path, Unit | None]], cfg: Config, now: datetime,
                   workers: int | None = None) -> list[Validation]:
    """Validate (path, owner) pairs in order, on `workers` processes (default: every core)."""
    workers = workers or os.cpu_count() or 1
    args = [(str(path), cfg, now, owner) for path, owner in jobs]
    if workers <= 1 or len(args) < MIN_FOR_POOL:
        return [_check(a) for a in args]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(_check, args, chunksize=max(8, len(args) // (workers * 8))))
