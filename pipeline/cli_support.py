"""What the commands share: parameter types, opening the config and the ledger, the ingest runner and
the printers. Only the edge of the program (click, the terminal, the clock) lives here and in cli.py."""
from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path

import click

from . import config as config_mod
from . import zh_click
from .ingest import folder_unit_of
from .months import BadMonth, Month

zh_click.install()  # click's own words (用法、选项、错误) in Chinese, before any command prints


class MonthType(click.ParamType):
    """2023-05, 2023/5, 2023.5, 202305, 2023年5月 (months.Month.parse)."""

    name = "YYYY-MM"

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

    name = "DATE[THH:MM]"

    def convert(self, value, param, ctx):
        from .clock import BadMoment, normalize_moment

        try:
            return normalize_moment(value)
        except BadMoment as exc:
            self.fail(str(exc), param, ctx)


MOMENT = MomentType()


def moment(cfg: config_mod.Config, text: str | None) -> datetime:
    from .clock import parse_moment

    return parse_moment(text, cfg.bureau.tz) if text else now_in(cfg)


def open_ledger(cfg: config_mod.Config, command: str):
    from .ledger import Ledger, LedgerError, network_filesystem

    fs = network_filesystem(cfg.ledger.parent)
    if fs:
        click.echo(f"警告：台账 {cfg.ledger} 位于网络文件系统（{fs}）上，SQLite 在网络共享上加锁不可靠，"
                   "请把 [paths] ledger 放在本机磁盘上。", err=True)
    try:
        return Ledger(cfg.ledger, command)
    except LedgerError as exc:
        raise click.ClickException(str(exc)) from None


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


def print_validation(path: str, v, out=click.echo) -> None:
    period = f"{v.year}年{v.month_from}月至{v.month_to}月" if v.year and v.month_to else "期间不明"
    mark = "✓ 受理" if v.ok else "✗ 退回"
    out(f"{mark}  {path}  {v.unit or v.declared_unit or '单位不明'}  {period}")
    for it in v.issues:
        out(f"    {'错误' if it.severity == 'error' else '提示'}：{it.message}（{it.code}）")


def validate_email(cfg, path: Path, now):
    """Each spreadsheet attached to a saved e-mail, checked as ingest would (the sender's unit owns it)."""
    from .mail import MailProblem, parse
    from .validate import Validation, validate_bytes
    from .issues import issue

    try:
        mail = parse(path.read_bytes(), now, cfg.limits.max_email_mb, cfg.limits.max_attachments)
    except MailProblem as exc:
        return [("", Validation([issue("E_UNREADABLE", str(exc))]))]
    owner = cfg.unit_by_email(mail.sender) if mail.sender else None
    says = f"发件邮箱 {mail.sender} 属于“{owner.name}”" if owner else None
    return [(a.filename, validate_bytes(a.data, cfg, now, owner or folder_unit_of(cfg, path), says))
            for a in mail.workbooks]


OUTCOME_LABEL = {"accepted": "受理", "rejected": "退回", "duplicate": "重复", "material": "材料",
                 "resumed": "续完", "failed": "失败", "email": "邮件"}


def print_file_result(r, cfg) -> None:
    line = f"{OUTCOME_LABEL.get(r.outcome, r.outcome)}  {r.unit or '单位不明'}  {r.path.name}"
    if r.period:
        line += f"  {r.period}"
    click.echo(line)
    for it in r.issues:
        click.echo(f"    {'错误' if it.severity == 'error' else '提示'}：{it.message}（{it.code}）")
    if r.message:
        click.echo(f"    {r.message}")


def run_ingest(ctx, cfg, paths: tuple[Path, ...], received_at: str | None, unit: str | None, command: str,
               quiet: bool = False):
    """Ingest the inbox (or the given paths) under the batch lock; returns the BatchResult."""
    from .ingest import Candidate, Ingester, in_inbox, scan_inbox
    from .lock import LockBusy, folder_lock
    from .reader import check_xml_defenses
    from .workspace import ensure_folders

    check_xml_defenses()
    ensure_folders(cfg)
    sender = None
    if unit:
        sender = cfg.unit_named(unit)
        if sender is None:
            raise click.BadParameter(f"“{unit}” 不是 config.toml 中的单位或别名", param_hint="--unit")
    at = moment(cfg, received_at) if received_at else None
    candidates = []
    for path in paths or ():
        if path.is_dir():
            if not in_inbox(cfg, path):
                raise click.BadParameter(f"{path} 不在收件箱中；请给出文件", param_hint="PATH")
            candidates += scan_inbox(cfg, path)
        elif in_inbox(cfg, path):
            candidates.append(Candidate(path, "inbox", sender or folder_unit_of(cfg, path), at, "clerk" if at else None))
        else:
            if at is None:
                raise click.UsageError(f"{path} 不在收件箱中：请用 --received-at 给出它实际收到的时间"
                                       "（例如邮件的收到时间 2023-05-22T16:40）")
            candidates.append(Candidate(path, "external", sender, at, "clerk"))
    if not paths:
        candidates = scan_inbox(cfg)
    try:
        with folder_lock(cfg, command), open_ledger(cfg, command) as ledger:
            ingester = Ingester(cfg, ledger, lambda: now_in(cfg))
            if len(candidates) > 1 and not quiet:
                with click.progressbar(length=len(candidates), label="处理中", file=sys.stderr) as bar:
                    result = ingester.run(candidates, progress=lambda r: bar.update(1))
            else:
                result = ingester.run(candidates)
    except LockBusy as exc:
        click.echo(f"错误：{exc}", err=True)
        ctx.exit(1)
    return result


def month_and_moment(cfg, month: Month | None, as_of: str | None):
    """--as-of (default now) and --month (default: the calendar month of that moment, bureau's zone)."""
    when = moment(cfg, as_of)
    return (month or Month.of(when.astimezone(cfg.bureau.tz))), when
