"""Benchmarks, run by hand (not part of the tests):

    python benchmarks/run.py                 # 1,000 units for one month, 12 months × 200 units
    python benchmarks/run.py --units 200 --history-units 50 --repeat 3    # a quicker look

Each stage runs in its own process so its peak memory (RSS) is its own. Figures are medians of --repeat
runs, ours side by side with the naive approach on the same files, and go to benchmarks/results.md.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from importlib.metadata import version
from pathlib import Path
from zoneinfo import ZoneInfo

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

SH = ZoneInfo("Asia/Shanghai")
TARGETS = {"validate_fps": 1000, "validate_ratio": 5, "ingest_fps": 150, "merge_seconds": 10, "rss_mb": 500}


def peak_rss_mb() -> float:
    # ru_maxrss is KiB on Linux, bytes on macOS
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / 1024 / (1024 if sys.platform == "darwin" else 1)


def config_text(units: int) -> str:
    from pipeline.config import default_config_text

    base = default_config_text().split("[[units]]")[0]
    return base + "".join(f'\n[[units]]\nname = "测试单位{i:04d}"\naliases = []\nemails = []\n' for i in range(units))


# --- stages (each run in a child process) -------------------------------------------------------------

def stage_generate(work: Path, units: int, history_units: int) -> dict:
    """N submissions for one month (our template and retyped tables), and a 12-month history."""
    from pipeline.samples import make_submission, sample_values

    started = time.perf_counter()
    month_dir = work / "month"
    month_dir.mkdir(parents=True)
    for i in range(units):
        values = sample_values()
        values["other"]["penalties"] = i % 7
        make_submission(month_dir / f"{i:04d}.xlsx", layout="retyped" if i % 3 == 0 else "template",
                        unit=f"测试单位{i:04d}", month_to=5, values=values)
    hist_dir = work / "history"
    hist_dir.mkdir()
    for i in range(history_units):
        for month in range(1, 13):
            values = {s: {k: v * month for k, v in row.items()} for s, row in sample_values().items()}
            values["other"]["penalties"] = month + i % 3
            make_submission(hist_dir / f"{i:04d}_{month:02d}.xlsx", unit=f"测试单位{i:04d}", year=2023,
                            month_to=month, values=values)
    return {"seconds": time.perf_counter() - started}


def stage_validate(work: Path, repeat: int) -> dict:
    import pandas as pd

    from pipeline import config
    from pipeline.parallel import validate_paths
    from pipeline.validate import validate_bytes

    cfg = config.parse(config_text(len(list((work / "month").iterdir()))), work / "config.toml")
    now = datetime(2023, 6, 10, tzinfo=SH)
    paths = sorted((work / "month").iterdir())
    ours, naive, both = [], [], []
    for _ in range(repeat):
        t = time.perf_counter()
        results = [validate_bytes(p.read_bytes(), cfg, now) for p in paths]
        ours.append(len(paths) / (time.perf_counter() - t))
        assert all(r.ok for r in results), [r.issues for r in results if not r.ok][:1]
        t = time.perf_counter()
        for p in paths:  # the naive approach: every sheet through openpyxl, and no checks at all
            pd.read_excel(p, engine="openpyxl", sheet_name=None, header=None)
        naive.append(len(paths) / (time.perf_counter() - t))
        t = time.perf_counter()
        validate_paths([(p, None) for p in paths], cfg, now, workers=os.cpu_count())
        both.append(len(paths) / (time.perf_counter() - t))
    return {"files": len(paths), "ours_fps": statistics.median(ours), "naive_fps": statistics.median(naive),
            "all_cores_fps": statistics.median(both), "ratio": statistics.median(ours) / statistics.median(naive),
            "cores": os.cpu_count(), "rss_mb": peak_rss_mb()}


def _working_folder(parent: Path, units: int) -> "object":
    from pipeline import config
    from pipeline.workspace import init

    root = parent / "work"
    init(root, config_text=config_text(units))
    return config.load(root / "config.toml")


def stage_ingest(work: Path, repeat: int) -> dict:
    """End to end: hash, validate (with history), archive with fsync, ledger commit, receipt, removal."""
    from pipeline.ingest import Ingester, scan_inbox
    from pipeline.ledger import Ledger

    paths = sorted((work / "month").iterdir())
    rates = []
    for _ in range(repeat):
        with tempfile.TemporaryDirectory(dir=work) as tmp:
            cfg = _working_folder(Path(tmp), len(paths))
            for i, p in enumerate(paths):
                shutil.copyfile(p, cfg.inbox / cfg.units[i].folder / p.name)
            with Ledger(cfg.ledger, "benchmark") as ledger:
                t = time.perf_counter()
                result = Ingester(cfg, ledger, lambda: datetime(2023, 6, 10, tzinfo=SH)).run(scan_inbox(cfg))
                rates.append(len(paths) / (time.perf_counter() - t))
            assert result.count("accepted") == len(paths), result.summary
    return {"files": len(paths), "ingest_fps": statistics.median(rates), "rss_mb": peak_rss_mb()}


def stage_history(work: Path) -> dict:
    """Ingest the 12-month history into the working folder the merge stage then reads."""
    from pipeline.ingest import Ingester, scan_inbox
    from pipeline.ledger import Ledger

    paths = sorted((work / "history").iterdir())
    units = len({p.name.split("_")[0] for p in paths})
    cfg = _working_folder(work / "merge", units)
    for p in paths:
        shutil.copyfile(p, cfg.inbox / cfg.units[int(p.name[:4])].folder / p.name)
    with Ledger(cfg.ledger, "benchmark") as ledger:
        t = time.perf_counter()
        result = Ingester(cfg, ledger, lambda: datetime(2024, 1, 10, tzinfo=SH)).run(scan_inbox(cfg))
        fps = len(paths) / (time.perf_counter() - t)
        assert result.count("accepted") == len(paths), result.summary
        rows = ledger.counts()["submission_values"]
    return {"submissions": len(paths), "value_rows": rows, "history_ingest_fps": fps, "rss_mb": peak_rss_mb()}


def stage_merge(work: Path, repeat: int) -> dict:
    from pipeline import config
    from pipeline.ledger import Ledger
    from pipeline.merge import write_workbooks
    from pipeline.months import Month

    cfg = config.load(work / "merge" / "work" / "config.toml")
    now = datetime.now(SH)  # the files arrived when the history stage copied them: as of now sees them all
    times = []
    with Ledger(cfg.ledger, "benchmark") as ledger:
        for _ in range(repeat):
            t = time.perf_counter()
            master, leadership, st = write_workbooks(cfg, ledger, Month(2023, 12), now, now)
            times.append(time.perf_counter() - t)
    import openpyxl

    rows = openpyxl.load_workbook(master.path, read_only=True)["台账"].max_row - 1
    assert rows == 7 * len(ledger_current_ids(cfg)), rows
    return {"merge_seconds": statistics.median(times), "master_rows": rows, "rss_mb": peak_rss_mb()}


def ledger_current_ids(cfg) -> list[int]:
    from pipeline.ledger import Ledger

    with Ledger(cfg.ledger) as ledger:
        return [a.id for a in ledger.current()]


def stage_naive_merge(work: Path, repeat: int) -> dict:
    """The naive approach on the same ledger: the value table straight to Excel through openpyxl."""
    import sqlite3

    import pandas as pd

    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        with sqlite3.connect(work / "merge" / "work" / "annex2.sqlite") as db:
            frame = pd.read_sql("SELECT * FROM submission_values", db)
        frame.to_excel(work / "naive.xlsx", engine="openpyxl")
        times.append(time.perf_counter() - t)
    return {"naive_dump_seconds": statistics.median(times), "rss_mb": peak_rss_mb()}


STAGES = {"generate": stage_generate, "validate": stage_validate, "ingest": stage_ingest, "history": stage_history,
          "merge": stage_merge, "naive_merge": stage_naive_merge}


# --- the driver -----------------------------------------------------------------------------------------

def child(stage: str, work: Path, **kwargs) -> dict:
    cmd = [sys.executable, __file__, "--stage", stage, "--work", str(work), "--kwargs", json.dumps(kwargs)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"stage {stage} failed:\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def machine() -> dict:
    mem = next((line.split()[1] for line in Path("/proc/meminfo").read_text().splitlines()
                if line.startswith("MemTotal")), "?") if Path("/proc/meminfo").exists() else "?"
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor()) if Path("/proc/cpuinfo").exists() else platform.processor()
    libs = {name: version(name) for name in ("pandas", "openpyxl", "xlsxwriter", "python-calamine", "watchdog",
                                             "defusedxml", "python-docx")}
    return {"cores": os.cpu_count(), "memory": f"{int(mem) / 1024 / 1024:.1f} GiB" if mem != "?" else "?",
            "cpu": cpu, "python": platform.python_version(), "system": platform.platform(), "libs": libs}


def report(args, m: dict, gen: dict, val: dict, ing: dict, mer: dict, latency: dict | None) -> str:
    def mark(ok: bool) -> str:
        return "met" if ok else "**not met**"

    rss = max(val["rss_mb"], ing["rss_mb"], mer["rss_mb"], mer["merge_rss_mb"])
    lines = [
        "# Benchmark results",
        "",
        f"Run {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC with `python benchmarks/run.py --units {args.units} "
        f"--history-units {args.history_units} --repeat {args.repeat}`; medians of {args.repeat} runs.",
        "",
        "## Machine",
        "",
        f"- {m['cores']} cores ({m['cpu']}), {m['memory']} memory; {m['system']}",
        f"- Python {m['python']}; " + ", ".join(f"{k} {v}" for k, v in m["libs"].items()),
        "",
        "## Figures",
        "",
        "| what | ours | naive, same files, same run | ratio | target | |",
        "|---|---|---|---|---|---|",
        f"| validate, one process ({val['files']} files) | {val['ours_fps']:.0f} files/s | {val['naive_fps']:.0f} files/s "
        f"(`pandas.read_excel(engine=\"openpyxl\")`, no checks) | {val['ratio']:.1f}× | ≥ 5× | {mark(val['ratio'] >= 5)} |",
        f"| validate, all {val['cores']} cores | {val['all_cores_fps']:.0f} files/s | | | ≥ 1,000 files/s | "
        f"{mark(val['all_cores_fps'] >= 1000)} |",
        f"| ingest end to end ({ing['files']} files: hash, validate, archive + fsync, commit, receipt) | "
        f"{ing['ingest_fps']:.0f} files/s | | | ≥ 150 files/s | {mark(ing['ingest_fps'] >= 150)} |",
        f"| merge: master ({mer['master_rows']:,} rows) + leadership workbooks from {mer['value_rows']:,} value rows "
        f"({mer['submissions']:,} submissions) | {mer['merge_seconds']:.2f} s | {mer['naive_dump_seconds']:.2f} s "
        f"(the value table dumped with `DataFrame.to_excel(engine=\"openpyxl\")`, no layout) | "
        f"{mer['naive_dump_seconds'] / mer['merge_seconds']:.1f}× | < 10 s | {mark(mer['merge_seconds'] < 10)} |",
        f"| peak RSS (validate / ingest / history ingest / merge) | {val['rss_mb']:.0f} / {ing['rss_mb']:.0f} / "
        f"{mer['rss_mb']:.0f} / {mer['merge_rss_mb']:.0f} MB | naive dump: {mer['naive_rss_mb']:.0f} MB | | < 500 MB | "
        f"{mark(rss < 500)} |",
        "",
        f"Generating the {val['files']} + {mer['submissions']} files took {gen['seconds']:.0f} s (not measured above). "
        f"Ingesting the 12-month history (with its history rules) ran at {mer['history_ingest_fps']:.0f} files/s.",
    ]
    if latency:
        lines += ["", "## Watcher latency", "",
                  f"{latency['files']} files dropped one at a time into a running `annex2 watch` (native events, "
                  f"`stable_seconds = {latency['stable_seconds']}`): from the moment the file was complete in the "
                  f"inbox to its receipt appearing, median **{latency['median']:.2f} s** (p90 {latency['p90']:.2f} s); "
                  f"of that, {latency['stable_seconds']} s is the configured stability window, so the work itself "
                  f"takes a median {latency['median'] - latency['stable_seconds']:.2f} s."]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--units", type=int, default=1000)
    parser.add_argument("--history-units", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--latency-files", type=int, default=50)
    parser.add_argument("--stage", choices=sorted(STAGES), help=argparse.SUPPRESS)
    parser.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--kwargs", default="{}", help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, default=HERE / "results.md")
    args = parser.parse_args()
    if args.stage:
        print(json.dumps(STAGES[args.stage](args.work, **json.loads(args.kwargs))))
        return
    with tempfile.TemporaryDirectory(prefix="annex2-bench-") as tmp:
        work = Path(tmp)
        print("generating files …", file=sys.stderr)
        gen = child("generate", work, units=args.units, history_units=args.history_units)
        print("validate …", file=sys.stderr)
        val = child("validate", work, repeat=args.repeat)
        print("ingest …", file=sys.stderr)
        ing = child("ingest", work, repeat=max(1, args.repeat // 2))
        print("merge …", file=sys.stderr)
        mer = child("history", work)
        mer.update({f"merge_{k}" if k == "rss_mb" else k: v for k, v in child("merge", work, repeat=args.repeat).items()})
        naive = child("naive_merge", work, repeat=max(1, args.repeat // 2))
        mer["naive_dump_seconds"], mer["naive_rss_mb"] = naive["naive_dump_seconds"], naive["rss_mb"]
    latency = None
    if args.latency_files:
        print("watcher latency …", file=sys.stderr)
        from watch_latency import measure

        latency = measure(args.latency_files)
    text = report(args, machine(), gen, val, ing, mer, latency)
    args.out.write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
