"""What the commands share: parameter types, opening the config and the ledger, the ingest runner and
the printers. Only the edge of the program (click, the terminal, the clock) lives here and in cli.py."""
from __future__ import annotations

import sys
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Iterator

import click

from ..core import config as config_mod
from ..core.months import BadMonth, Month, period_label
from ..intake.collect import folder_unit_of
from . import zh_click

zh_click.install()  # click's own words (用法、选项、错误) in Chinese, before any command prints


class MonthType(click.ParamType):
    """2023-05, 2023/5, 2023.5, 202305, 2023年5月 (months.Month.parse)."""

    name = "月份"

    def convert(self, value, param, ctx):
        if isinstance(value, Month):
            return value
        try:
            return Month.parse(value)
        except BadMonth as exc:
            self.fail(str(exc), param, ctx)


MONTH = MonthType()


class MomentType(click.ParamType):
    """Kept as ISO text (2023年5月23日 18:00 -> 2023-05-23T18:00:00); turned into a moment in the bureau's zone
    once the config is loaded."""

    name = "时刻"

    def convert(self, value, param, ctx):
        from ..core.clock import BadMoment, normalize_moment

        try:
            return normalize_moment(value)
        except BadMoment as exc:
            self.fail(str(exc), param, ctx)


MOMENT = MomentType()


def moment(cfg: config_mod.Config, text: str | None) -> datetime:
    from ..core.clock import parse_moment

    return parse_moment(text, cfg.bureau.tz) if text else now_in(cfg)


@contextmanager
def open_session(ctx: click.Context, cfg: config_mod.Config, command: str, *, lock: bool = True,
                 read_only: bool = False):
    """The command's session (storage/session.py: the folder's batch lock, the program log, the ledger) in the
    clerk's words: a folder busy past `[limits] lock_wait_seconds` is `错误：…` and exit 1, a ledger that cannot
    be opened one line and exit 1. `lock=False` for commands that only read (or, like backup and export, write
    a file of their own from one consistent read): they never wait for the watcher's batch."""
    from ..storage.ledger import LedgerError
    from ..storage.lock import LockBusy
    from ..storage.session import session

    try:
        with session(cfg, command, lock=lock, read_only=read_only, warn=lambda text: click.echo(text, err=True)) as ledger:
            yield ledger
    except LockBusy as exc:
        click.echo(f"错误：{exc}", err=True)
        ctx.exit(1)
    except LedgerError as exc:
        raise click.ClickException(str(exc)) from None


def output_fault_text(cfg: config_mod.Config, exc: OSError, target: Path | None = None) -> str:
    """What the clerk reads when an output (notices, workbooks, an export, the 汇编, a backup) cannot be written."""
    import errno

    if exc.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)):
        why = "磁盘空间不足"
    elif exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        why = "文件夹只读或没有写入权限"
    else:
        why = exc.strerror or str(exc)
    where = exc.filename if exc.filename else (target or cfg.outbox)
    return (f"无法写入 {where}（{why}），本次输出没有生成。收件箱和台账中的文件没有丢失；"
            "腾出磁盘空间或取得写入权限后重新运行本命令即可。")


@contextmanager
def writing_outputs(cfg: config_mod.Config, target: Path | None = None) -> Iterator[None]:
    """A read-only or full outbox ends the command with one Chinese sentence and exit 1, never a traceback.
    `target`: the file named when the error does not say which (default: the outbox)."""
    from ..storage.durable import OddTarget

    try:
        yield
    except OddTarget as exc:
        raise click.ClickException(str(exc)) from None
    except Exception as exc:
        cause = os_error_in(exc)
        if cause is None:
            raise
        raise click.ClickException(output_fault_text(cfg, cause, target)) from None


def os_error_in(exc: BaseException | None) -> OSError | None:
    """The OSError an exception is or wraps (a writer library re-raises a full disk as its own error)."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, OSError):
            return exc
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return None


def log_unraisable(unraisable) -> None:
    """Python's "Exception ignored in …" (a zip file closed on a full disk during clean-up) goes to the log, not
    the clerk's screen."""
    import logging

    logging.getLogger("annex2").warning("清理时出错（已忽略）：%r in %r", unraisable.exc_value, unraisable.object)


SQLITE_MAX_ID = 2**63 - 1
FUTURE_SKEW = timedelta(minutes=5)  # a --received-at this far ahead of the PC's clock is a typo, not a skew


def require_arrival(ledger, arrival_id: int, hint: str) -> None:
    """A file number typed on the command line names a recorded file, or the command ends here (exit 1) with
    the same sentence whatever the number is — 20 digits, 0 or negative included (SQLite's integers end at
    2**63 - 1: a larger one reached the query as an internal error)."""
    found = 0 < arrival_id <= SQLITE_MAX_ID and ledger.has_arrival(arrival_id)
    if not found:
        raise click.ClickException(f"台账中没有编号为 {arrival_id} 的文件（{hint}）")


def load_config(ctx: click.Context) -> config_mod.Config:
    """The working folder's config; a bad or missing one ends the command with exit status 2."""
    path = config_mod.find_config(ctx.find_root().params.get("config_path"))
    try:
        return config_mod.load(path)
    except config_mod.ConfigError as exc:
        for problem in exc.problems:
            click.echo(problem, err=True)
        ctx.exit(2)
        raise  # unreachable; keeps type checkers calm


def config_or_defaults(ctx: click.Context) -> config_mod.Config:
    """The working folder's config when there is one, else the embedded defaults."""
    given = ctx.find_root().params.get("config_path")
    if given is not None or config_mod.find_config(None).exists():
        return load_config(ctx)
    return config_mod.defaults()


def echo_json(data) -> None:
    """A --json summary on stdout (UTF-8 text, Chinese kept readable)."""
    import json

    click.echo(json.dumps(data, ensure_ascii=False, indent=2))


def now_in(cfg: config_mod.Config) -> datetime:
    return datetime.now(cfg.bureau.tz)


def run_ingest(ctx, cfg, paths: tuple[Path, ...], received_at: str | None, unit: str | None, command: str,
               quiet: bool = False, month=None):
    """Ingest the inbox (or the given paths) under the batch lock; returns the BatchResult."""
    from ..core.files import IGNORED, ignored_note, kind_of
    from ..core.safe_names import display_name
    from ..intake.ingest import Candidate, Ingester, in_inbox, scan_inbox
    from ..intake.witness import scan_of
    from ..intake.workspace import ensure_folders
    from ..reading.reader import check_xml_defenses

    check_xml_defenses()
    ensure_folders(cfg)
    sender = None
    if unit:
        sender = cfg.unit_named(unit)
        if sender is None:
            raise click.BadParameter(f"“{unit}” 不是 config.toml 中的单位或别名", param_hint="--unit")
    at = moment(cfg, received_at) if received_at else None
    if at is not None and at > now_in(cfg) + FUTURE_SKEW:
        raise click.BadParameter(f"{at.astimezone(cfg.bureau.tz):%Y-%m-%d %H:%M} 晚于现在"
                                 f"（{now_in(cfg):%Y-%m-%d %H:%M}）：收到时间不能在将来，请核对日期和时间",
                                 param_hint="--received-at")
    if at is not None:
        refuse_before_period(cfg, at, [p for p in paths or () if not p.is_dir()])
    candidates = []
    scans = []
    for path in paths or ():
        if not path.is_dir() and kind_of(path, cfg.inbox) == IGNORED:  # `inbox/单位/*` picks up ~$附件2.xlsx
            click.echo(f"跳过  {display_name(path.name)}：{ignored_note(path)}", err=True)
            continue
        if path.is_dir():
            if not in_inbox(cfg, path):
                raise click.BadParameter(f"{path} 不在收件箱中；请给出文件", param_hint="PATH")
            started = now_in(cfg)  # the scan looks from now on: a file it does not see came later
            found = scan_inbox(cfg, path)
            scans.append(scan_of(cfg.inbox, found, path, started))
            candidates += found
        elif in_inbox(cfg, path):
            candidates.append(Candidate(path, "inbox", sender or folder_unit_of(cfg, path), at, "clerk" if at else None))
        else:
            if at is None:
                raise click.UsageError(f"{path} 不在收件箱中：请用 --received-at 给出它实际收到的时间"
                                       "（例如邮件的收到时间 2023-05-22T16:40）")
            candidates.append(Candidate(path, "external", sender, at, "clerk"))
    if not paths:
        started = now_in(cfg)
        candidates = scan_inbox(cfg)
        scans.append(scan_of(cfg.inbox, candidates, None, started))
    with open_session(ctx, cfg, command) as ledger:
        ingester = Ingester(cfg, ledger, lambda: now_in(cfg), month_hint=month)
        if len(candidates) > 1 and not quiet:
            with click.progressbar(length=len(candidates), label="处理中", file=sys.stderr) as bar:
                result = ingester.run(candidates, progress=lambda r: bar.update(1), settle=True,
                                      scans=tuple(scans))
        else:
            result = ingester.run(candidates, settle=True, scans=tuple(scans))
    for w in result.waiting:
        click.echo(f"等待  {w.path.name}：{w.reason}", err=True)
    return result


def received_before_period(cfg, at: datetime, entries) -> str | None:
    """Why a --received-at cannot be true of these files (validate's reports): a report for month M is made in M
    at the earliest, so a time before the 1st of its to-month (bureau's time) is a typo; None when all fit."""
    from ..intake.report import FileReport

    tz = cfg.bureau.tz
    for f in entries:
        if not isinstance(f, FileReport):
            continue
        year, month_to = f.year, f.month_to
        if not isinstance(year, int) or not isinstance(month_to, int) or not 1 <= month_to <= 12:
            continue
        try:
            begins = datetime(year, month_to, 1, tzinfo=tz)
        except ValueError:
            continue
        if at < begins:
            period = period_label(year, f.month_from, month_to)
            return (f"{at.astimezone(tz):%Y-%m-%d %H:%M} 不可能是 {f.path} 的收到时间：这份表报的是{period}，"
                    f"{begins:%Y-%m-%d} 之前还做不出来，请核对收到时间")
    return None


def refuse_before_period(cfg, at: datetime, files: list[Path]) -> None:
    """The files given with --received-at are read first (nothing written): one whose report period begins after
    that time ends the command (exit 2) before anything is recorded."""
    from ..intake.check import check_files

    if not files:
        return
    why = received_before_period(cfg, at, check_files(files, cfg, at).files)
    if why:
        raise click.BadParameter(why, param_hint="--received-at")


def month_and_moment(cfg, month: Month | None, as_of: str | None):
    """--as-of (default now) and --month (default: the calendar month of that moment, bureau's zone)."""
    when = moment(cfg, as_of)
    return (month or Month.of(when.astimezone(cfg.bureau.tz))), when


def internal_error(exc: BaseException) -> int:
    """Log the traceback where the working folder keeps its log (a temp folder when there is none), print
    one Chinese line, and give exit status 3."""
    import logging
    import traceback

    from ..storage import logs
    outbox, tz = None, "Asia/Shanghai"
    try:
        path = config_mod.find_config(None)
        if path.exists():
            cfg = config_mod.load(path)
            outbox, tz = cfg.outbox, cfg.bureau.timezone
    except Exception:
        pass
    where = logs.attach(outbox, tz)
    logging.getLogger("annex2").error("程序内部错误：%s\n%s", exc,
                                      "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)))
    click.echo(f"系统内部错误（{type(exc).__name__}），已记录在 {where}；请把该文件发给技术人员。"
               "收件箱中的文件没有丢失。", err=True)
    return 3


def print_unseen_files(cfg, older_than_days: float = 1.0) -> None:
    """Files the intake skips (lock, temp, system files) that have sat in the inbox for over a day: so
    nothing sits there unseen (a unit may have saved its report under a temp name)."""
    import time

    from ..intake.collect import ignored_files

    found = ignored_files(cfg, older_than_days * 86400, time.time())
    if not found:
        return
    click.echo(f"\n注意：收件箱中有 {len(found)} 个文件超过一天未处理（被视为锁文件、临时文件或系统文件）：")
    for path, age in found[:20]:
        from ..core.safe_names import display_name

        click.echo(f"  {display_name(str(path.relative_to(cfg.inbox)))}（{age / 86400:.0f} 天）")
