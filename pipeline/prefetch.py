"""Reading a batch's workbooks ahead, on every core: while the parent judges one file, the sandbox workers
already parse the next ones. The same child-process reader as one file at a time (same limits, same
answers); only the waiting overlaps."""
from __future__ import annotations

import os
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Callable

from .config import Limits
from .reader import read_workbook
from .sandbox import SandboxPool, read_workbook_isolated

MIN_FILES = 16  # below this, starting more workers costs more than it saves


class Prefetcher:
    """`submit(data)` starts parsing `data` in a free worker; `read(data, limits)` (a drop-in for
    read_workbook_isolated) returns that result, or parses now when `data` was not submitted."""

    def __init__(self, limits: Limits, workers: int | None = None):
        self.limits = limits
        workers = workers or min(os.cpu_count() or 1, 4)
        self.pool = SandboxPool(limits, workers)
        self.threads = ThreadPoolExecutor(workers, thread_name_prefix="annex2-read")
        self.pending: dict[int, tuple[bytes, Future]] = {}

    def submit(self, data: bytes) -> None:
        if id(data) not in self.pending:
            self.pending[id(data)] = (data, self.threads.submit(self.pool.run, read_workbook, data, self.limits,
                                                                seconds=self.limits.parse_seconds))

    def read(self, data: bytes, limits: Limits) -> Any:
        entry = self.pending.pop(id(data), None)
        if entry is None or entry[0] is not data:  # the id of a bytes object that is gone may be reused
            return read_workbook_isolated(data, limits)
        return entry[1].result()  # the worker's WorkbookData, or its ReadProblem / SandboxFailure raised here

    def close(self) -> None:
        self.threads.shutdown(wait=True, cancel_futures=True)
        self.pool.close()
        self.pending.clear()


def reader_for(count: int, limits: Limits, default: Callable) -> tuple[Callable, Prefetcher | None]:
    """The reader to use for a batch of `count` workbooks, and the prefetcher to feed (None: one at a time)."""
    if count < MIN_FILES or default is not read_workbook_isolated:
        return default, None
    ahead = Prefetcher(limits)
    return ahead.read, ahead
