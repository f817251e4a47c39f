"""Reading a batch's workbooks in batches: the small files (every real form) a few at a time through
reader.read_workbooks, whose two passes keep each pass's code warm; in the sandbox workers on every core
while the parent judges the files before, or in this process when the caller chose in-process reading.
The same reader, limits and answers as one file at a time."""
from __future__ import annotations

import os
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Callable

from ..core.config import Limits
from .reader import read_workbook, read_workbooks
from .sandbox import SandboxPool, read_workbook_isolated

MIN_FILES = 16  # below this, starting more workers costs more than it saves
BATCH_FILES = 8  # files parsed in one call; a worker's first answer waits for the whole batch
BATCH_BYTES = 1024 * 1024  # a batch's size in all; a file over a quarter of it is parsed alone


class _Batch:
    def __init__(self) -> None:
        self.datas: list[bytes] = []
        self.size = 0
        self.future: Future | None = None  # in the workers; None while open, or when parsed in-process
        self.results: list | None = None


class Prefetcher:
    """`submit(data)` queues a workbook; calling the prefetcher like the reader it stands for (`read(data,
    limits)`) returns that workbook's WorkbookData or raises its ReadProblem / SandboxFailure. Data that
    was not submitted is read alone. In the workers a batch starts as soon as it is full; a batch that
    fails as a whole (its worker killed, out of memory or time) is parsed again one file at a time, so a
    hostile file fails only itself."""

    def __init__(self, limits: Limits, isolated: bool = True, workers: int | None = None,
                 many: Callable = read_workbooks):
        self.limits = limits
        self.in_process = not isolated  # e-mails too are then parsed here (Judge._parse_mail)
        self.many = many
        workers = workers or min(os.cpu_count() or 1, 4)
        self.pool = SandboxPool(limits, workers) if isolated else None
        self.threads = ThreadPoolExecutor(workers, thread_name_prefix="annex2-read") if isolated else None
        self.open = _Batch()
        self.pending: dict[int, tuple[bytes, _Batch]] = {}

    def submit(self, data: bytes) -> None:
        if id(data) in self.pending:
            return
        if len(data) > BATCH_BYTES // 4:
            alone = _Batch()
            self._add(alone, data)
            self._start(alone)
            return
        if self.open.size + len(data) > BATCH_BYTES:
            self._start(self.open)
        self._add(self.open, data)
        if len(self.open.datas) >= BATCH_FILES:
            self._start(self.open)

    def __call__(self, data: bytes, limits: Limits) -> Any:
        entry = self.pending.pop(id(data), None)
        if entry is None or entry[0] is not data:  # the id of a bytes object that is gone may be reused
            return (read_workbook if self.in_process else read_workbook_isolated)(data, limits)
        batch = entry[1]
        if batch is self.open:
            self._start(batch)
        if batch.results is None:  # in the workers, or in-process when parsing it was interrupted
            batch.results = batch.future.result() if batch.future is not None else self._parse(batch.datas)
        got = batch.results[next(i for i, d in enumerate(batch.datas) if d is data)]
        if isinstance(got, BaseException):
            raise got
        return got

    def _add(self, batch: _Batch, data: bytes) -> None:
        batch.datas.append(data)
        batch.size += len(data)
        self.pending[id(data)] = (data, batch)

    def _start(self, batch: _Batch) -> None:
        if batch is self.open:
            self.open = _Batch()
        if self.threads is None:
            batch.results = self._parse(batch.datas)
        else:
            batch.future = self.threads.submit(self._parse, batch.datas)

    def _parse(self, datas: list[bytes]) -> list:
        """Each file's WorkbookData or exception; never raises. A batch that fails as a whole (out of memory,
        here or in a worker; a worker killed or out of time) is parsed again one file at a time."""
        try:
            if self.pool is None:
                return self.many(datas, self.limits)
            return self.pool.run(self.many, datas, self.limits, seconds=self.limits.parse_seconds)
        except Exception as exc:  # MemoryError too: it fails the file that needs the memory, not its neighbours
            if len(datas) == 1:
                return [exc]
            return [self._parse([data])[0] for data in datas]

    def close(self) -> None:
        if self.threads is not None:
            self.threads.shutdown(wait=True, cancel_futures=True)
        if self.pool is not None:
            self.pool.close()
        self.pending.clear()


def reader_for(count: int, limits: Limits, default: Callable) -> tuple[Callable, Prefetcher | None]:
    """The reader to use for a batch of `count` workbooks, and the prefetcher to feed (None: one at a time)."""
    if default is read_workbook and count > 1:
        ahead = Prefetcher(limits, isolated=False)
        return ahead, ahead
    if count < MIN_FILES or default is not read_workbook_isolated:
        return default, None
    ahead = Prefetcher(limits)
    return ahead, ahead
