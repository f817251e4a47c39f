"""One session of work on a working folder: the folder's batch lock, the ledger and the program's log,
assembled in one place for every command, the watcher, the mailbox round and the demo.

    with session(cfg, "merge", warn=echo) as ledger:   # lock, then log, then ledger; all given back at the end
        ...

The lock is held for the session only (lock.py): the watcher opens one session per batch, never one for its
life, so a clerk's `merge` slips in between two batches. Failures are left to the caller, which owns the
words: LockBusy (another process holds the folder past `[limits] lock_wait_seconds`) and LedgerError (the
ledger cannot be opened; its text is the Chinese sentence the clerk reads)."""
from __future__ import annotations

import sqlite3
from contextlib import ExitStack, contextmanager
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Callable, Iterator

from . import logs
from .connection import LedgerError, ledger_open_text, network_filesystem
from .identity import reconcile_unit_names
from .ledger import Ledger
from .lock import folder_lock

if TYPE_CHECKING:
    from ..core.config import Config

# Commands that refuse a damaged ledger instead of reading it (Ledger's `verify`)
VERIFYING = frozenset({"status", "backup", "export", "notices"})


def network_warning(cfg: Config) -> str | None:
    """The warning for a ledger on a network share (SQLite's locking is unreliable there); None on a local disk."""
    fs = network_filesystem(cfg.ledger.parent)
    if not fs:
        return None
    return (f"警告：台账 {cfg.ledger} 位于网络文件系统（{fs}）上，SQLite 在网络共享上加锁不可靠，"
            "请把 [paths] ledger 放在本机磁盘上。")


def open_ledger(cfg: Config, command: str, *, read_only: bool = False, verify: bool = False) -> Ledger:
    """The working folder's ledger, waiting for another program writing it as `[limits]` says; a unit
    renamed in config (its old name kept as an alias) keeps one history (identity.py)."""
    ledger = Ledger(cfg.ledger, command, read_only=read_only, verify=verify, wait=cfg.limits.ledger_wait_seconds)
    if not read_only:
        try:
            reconcile_unit_names(cfg, ledger, datetime.now(timezone.utc))
        except sqlite3.DatabaseError as exc:
            ledger.close()
            raise LedgerError(ledger_open_text(ledger.path, exc)) from None
    return ledger


@contextmanager
def session(cfg: Config, command: str, *, lock: bool = True, read_only: bool = False,
            program_log: bool = True, warn: Callable[[str], None] | None = None) -> Iterator[Ledger]:
    """The ledger, opened for `command` under the folder's batch lock.

    `lock=False`: for sessions that only read, or write in one SQLite transaction and must not wait on a
    batch (see each caller's reason). `program_log`: send the `annex2` logger to outbox/logs/annex2.log.
    `warn`: where the network-share warning goes (None: not checked)."""
    with ExitStack() as held:
        if lock:
            held.enter_context(folder_lock(cfg, command))
        if program_log:
            logs.attach(cfg.outbox, cfg.bureau.tz)
        if warn is not None and (text := network_warning(cfg)):
            warn(text)
        yield held.enter_context(open_ledger(cfg, command, read_only=read_only, verify=command in VERIFYING))
