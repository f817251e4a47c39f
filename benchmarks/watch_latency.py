"""Watcher latency: from the moment a file is complete in the inbox to its receipt appearing.

    python benchmarks/watch_latency.py [N] [--polling]

Files are written beside the inbox and renamed into it (so each is complete at one instant), one at a
time, into a running watcher with the default configuration (native events, or the polling observer)."""
from __future__ import annotations

import os
import statistics
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]  # the tests' file maker (tests/factory.py)

SH = ZoneInfo("Asia/Shanghai")


def measure(n: int = 50, polling: bool = False) -> dict:
    from factory import make_submission

    from pipeline.core import config
    from pipeline.intake.watch import Watcher
    from pipeline.intake.workspace import init

    with tempfile.TemporaryDirectory(prefix="annex2-latency-") as tmp:
        root = Path(tmp) / "work"
        init(root)
        cfg = config.load(root / "config.toml")
        staging = Path(tmp) / "staging"
        staged = [make_submission(staging / f"{i:02d}.xlsx", month_to=1 + i % 5, cells={("other", "penalties"): i})
                  for i in range(n)]
        watcher = Watcher(cfg, lambda: datetime.now(SH), polling=polling, out=lambda line: None)
        started = threading.Event()
        thread = threading.Thread(target=watcher.run, kwargs={"on_started": started.set}, daemon=True)
        thread.start()
        started.wait(30)
        unit = cfg.units[6]
        receipts = cfg.inbox / unit.folder / "回执"
        latencies = []
        try:
            for i, src in enumerate(staged):
                os.replace(src, cfg.inbox / unit.folder / f"附件2_{i:02d}.xlsx")
                t0 = time.perf_counter()
                expected = f"_附件2_{i:02d}.txt"  # the finished receipt, not its temporary .tmp- file
                while not any(p.name.endswith(expected) and not p.name.startswith(".") for p in receipts.iterdir()):
                    time.sleep(0.005)
                latencies.append(time.perf_counter() - t0)
        finally:
            watcher.stop()
            thread.join(30)
    ordered = sorted(latencies)
    return {"files": n, "median": statistics.median(latencies), "p90": ordered[int(0.9 * (len(ordered) - 1))],
            "stable_seconds": cfg.watch.stable_seconds, "polling": polling}


if __name__ == "__main__":
    numbers = [a for a in sys.argv[1:] if a.isdigit()]
    result = measure(int(numbers[0]) if numbers else 50, polling="--polling" in sys.argv)
    print(("polling: " if result["polling"] else "native events: ") + f"median {result['median']:.2f} s, p90 {result['p90']:.2f} s over {result['files']} files "
          f"(stable_seconds = {result['stable_seconds']})")
