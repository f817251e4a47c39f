"""The `annex2` command: parses options, calls the library, prints. No logic of its own."""
from __future__ import annotations

import sys
from pathlib import Path

import click

from .cli_support import (MOMENT, MONTH, print_validation, validate_email, config_or_defaults, load_config,
                          moment, month_and_moment, now_in, open_ledger, print_file_result, run_ingest)
from .ingest import folder_unit_of
from .months import Month


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", "config_path", type=click.Path(path_type=Path), default=None,
              help="config.toml to use (default: ./config.toml).")
@click.version_option(package_name="annex2")
def cli(config_path):
    """annex2 — 安全生产督查情况统计表（附件2）的收集、校验与汇总。

    Units drop their monthly Annex 2 workbooks into inbox/<unit>/; annex2 checks each one, keeps every
    file, merges the accepted ones into a ledger and writes the workbooks and notices the bureau needs.

    \b
    Example:
        annex2 init mybureau && cd mybureau
        annex2 template --unit 执法大队 --month 2023-05
        annex2 validate inbox/*/*.xlsx
    """


@cli.command()
@click.argument("directory", type=click.Path(path_type=Path), default=".")
@click.option("--force", is_flag=True, help="Overwrite an existing config.toml.")
def init(directory: Path, force: bool):
    """Lay out a working folder: config.toml, inbox/ (one sub-folder per unit, each with 回执/),
    outbox/, archive/ and templates/annex2.xlsx.

    \b
    Example:
        annex2 init D:/安全统计
    """
    from .workspace import WorkspaceExists, init as do_init

    try:
        layout = do_init(directory, force=force)
    except WorkspaceExists as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"已建立工作目录 {layout.root.resolve()}", err=True)
    for path in layout.created:
        click.echo(str(path))
    click.echo("下一步：编辑 config.toml 中的单位名单和联系人，然后把 templates/annex2.xlsx 发给各单位。", err=True)


@cli.command()
@click.option("-o", "--output", type=click.Path(path_type=Path), default=None,
              help="Where to write (default: 附件2[_UNIT][_YYYY年M月].xlsx in the current folder).")
@click.option("--unit", default=None, help="Pre-fill 填报单位 with this unit (name or alias from config).")
@click.option("--month", type=MONTH, default=None, help="Pre-fill the period 1月至M月 of this month.")
@click.pass_context
def template(ctx, output: Path | None, unit: str | None, month: Month | None):
    """Write the blank Annex 2 template, or one with 填报单位 and the period filled in.

    \b
    Example:
        annex2 template -o 附件2.xlsx
        annex2 template --unit 执法大队 --month 2023-05
    """
    from .template import Header, default_filename, write_template

    cfg = config_or_defaults(ctx)
    unit_name = None
    if unit:
        found = cfg.unit_named(unit)
        if found is None:
            raise click.BadParameter(f"“{unit}” 不是 config.toml 中的单位或别名", param_hint="--unit")
        unit_name = found.name
    year = month.year if month else now_in(cfg).year
    header = Header(unit=unit_name, year=year, month_to=month.month if month else None)
    output = output or Path(default_filename(unit_name, month))
    write_template(output, cfg.bureau.short_name, header)
    click.echo(str(output))


@cli.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the spec's JSON instead of text.")
@click.option("--markup", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Also write a marked-up copy of each rejected workbook into this folder.")
@click.pass_context
def validate(ctx, files: tuple[Path, ...], as_json: bool, markup: Path | None):
    """Check submissions and change nothing (unless --markup is given).

    Exit status 0 when every file passes (warnings allowed), 1 when any is rejected.

    \b
    Example:
        annex2 validate inbox/执法大队/附件2.xlsx
        annex2 validate --json *.xlsx > report.json
    """
    import json

    from .files import EMAIL, IGNORED, MATERIAL, WORKBOOK, kind_of
    from .markup import write_markup
    from .parallel import validate_paths
    from .reader import check_xml_defenses
    from .validate import validate_bytes

    check_xml_defenses()
    cfg = load_config(ctx)
    now = now_in(cfg)
    reports, rejected = [], False
    workbooks = [p for p in files if kind_of(p, cfg.inbox) == WORKBOOK]
    checked = dict(zip(workbooks, validate_paths([(p, folder_unit_of(cfg, p)) for p in workbooks], cfg, now)))
    for path in files:
        kind = kind_of(path, cfg.inbox)
        if kind == EMAIL:
            for name, v in validate_email(cfg, path, now):
                rejected |= not v.ok
                reports.append(v.to_dict(f"{path}#{name}"))
                if not as_json:
                    print_validation(f"{path}#{name}", v)
            continue
        if kind != WORKBOOK:
            what = {IGNORED: "ignored", MATERIAL: "material"}.get(kind, kind)
            reports.append({"path": str(path), what: True, "ok": True, "unit": None, "year": None,
                            "month_from": None, "month_to": None, "issues": [], "values": {}})
            if not as_json:
                click.echo(f"- {'忽略' if kind == IGNORED else '附件材料（不是表格，不校验）'}  {path}")
            continue
        v = checked[path]
        rejected |= not v.ok
        reports.append(v.to_dict(str(path)))
        if not as_json:
            print_validation(str(path), v)
        if markup is not None and not v.ok:
            full = validate_bytes(path.read_bytes(), cfg, now, folder_unit_of(cfg, path))
            out = write_markup(markup / f"{path.stem}_错误标注.xlsx", full.workbook, full.issues, path.name)
            click.echo(f"标注副本：{out}", err=True)
    if as_json:
        click.echo(json.dumps({"files": reports}, ensure_ascii=False, indent=2))
    ctx.exit(1 if rejected else 0)


@cli.command()
@click.argument("paths", nargs=-1, type=click.Path(exists=True, path_type=Path))
@click.option("--received-at", type=MOMENT, default=None,
              help="When the given files really arrived (required for files outside the inbox).")
@click.option("--unit", default=None, help="The unit that sent the given files (name or alias).")
@click.pass_context
def ingest(ctx, paths: tuple[Path, ...], received_at: str | None, unit: str | None):
    """Process what is in the inbox (or the given files) once: check, archive, record, write receipts.

    Running it again changes nothing. A file given from outside the inbox is copied, never moved, and
    needs --received-at. Exit status 1 when any file was rejected.

    \b
    Example:
        annex2 ingest
        annex2 ingest D:/邮件附件/附件2.xlsx --unit 执法大队 --received-at 2023-05-22T16:40
    """
    cfg = load_config(ctx)
    result = run_ingest(ctx, cfg, paths, received_at, unit, "ingest")
    for r in result.files:
        print_file_result(r, cfg)
    click.echo(result.summary, err=True)
    ctx.exit(0 if result.ok else 1)


@cli.command()
@click.argument("destination", type=click.Path(dir_okay=False, path_type=Path), required=False)
@click.pass_context
def backup(ctx, destination: Path | None):
    """Copy the ledger with SQLite's online backup (safe while the watcher runs).

    \b
    Example:
        annex2 backup D:/备份/annex2-2023-05.sqlite
    """
    cfg = load_config(ctx)
    with open_ledger(cfg, "backup") as ledger:
        dest = destination or cfg.outbox / "backups" / f"annex2-{now_in(cfg):%Y%m%d-%H%M%S}.sqlite"
        click.echo(str(ledger.backup(dest)))


@cli.command()
@click.option("--month", type=MONTH, default=None, help="The reporting month (default: the current month).")
@click.option("--as-of", "as_of", type=MOMENT, default=None,
              help="Judge as of this moment; only files received by then count (default: now).")
@click.option("--json", "as_json", is_flag=True, help="Print the spec's JSON instead of a table.")
@click.pass_context
def status(ctx, month: Month | None, as_of: str | None, as_json: bool):
    """Who reported for the month, on time or not, and who is to be escalated.

    \b
    Example:
        annex2 status
        annex2 status --month 2023-05 --as-of 2023-05-31 --json
    """
    import json

    from .textable import render
    from .timeliness import STATE_LABELS, status as month_status

    cfg = load_config(ctx)
    month, when = month_and_moment(cfg, month, as_of)
    with open_ledger(cfg, "status") as ledger:
        result = month_status(cfg, ledger, month, when)
    if as_json:
        click.echo(json.dumps(result.to_dict(), ensure_ascii=False, indent=2))
        return
    tz = cfg.bureau.tz
    rows = []
    for u in result.units:
        c = u.current
        days = str(c.days_late) if c.days_late is not None else (f"逾期{c.days_overdue}" if c.days_overdue else "")
        rows.append([u.name, STATE_LABELS[c.state] + ("（曾被退回）" if u.attempts and not c.received_at else ""),
                     c.received_at.astimezone(tz).strftime("%Y-%m-%d %H:%M") if c.received_at else "",
                     days, str(u.strikes), "是" if u.escalate else ""])
    click.echo(f"{month.label} 报送情况（截止 {result.deadline.last_day:%Y-%m-%d}，"
               f"统计至 {when.astimezone(tz):%Y-%m-%d %H:%M}）")
    click.echo(render(["单位", "状态", "收到时间", "迟报天数", "本年迟报/逾期", "上报局领导"], rows))
    click.echo(result.summary)


@cli.command()
@click.option("--month", type=MONTH, required=True, help="The reporting month, YYYY-MM.")
@click.option("--as-of", "as_of", type=MOMENT, default=None,
              help="Judge as of this moment; every date in the documents is this moment (default: now).")
@click.option("--send", is_flag=True, help="Send the e-mail drafts through the [smtp] server in config.toml.")
@click.pass_context
def notices(ctx, month: Month, as_of: str | None, send: bool):
    """Write the month's notices: 催报通知 to overdue units, the monthly 通报, the escalation 报告,
    as .docx and .eml drafts, into outbox/YYYY-MM/notices/. Nothing is sent without --send.

    \b
    Example:
        annex2 notices --month 2023-05 --as-of 2023-05-31
        annex2 notices --month 2023-05 --send
    """
    from .notices import SendError, send_notices, write_notices

    cfg = load_config(ctx)
    when = moment(cfg, as_of)
    if send and cfg.smtp is None:
        raise click.UsageError("config.toml 中没有 [smtp] 配置：不加 --send 只生成草稿，加 --send 需先配置 [smtp]")
    with open_ledger(cfg, "notices") as ledger:
        folder, written = write_notices(cfg, ledger, month, when)
        for n in written:
            click.echo(str(folder / n.file))
        if send:
            try:
                sent = send_notices(cfg, ledger, folder, written, moment(cfg, None))
            except SendError as exc:
                raise click.ClickException(str(exc)) from None
            click.echo(f"已发送 {len(sent)} 封邮件", err=True)


@cli.command()
@click.option("--month", type=MONTH, required=True, help="The reporting month, YYYY-MM.")
@click.option("--as-of", "as_of", type=MOMENT, default=None,
              help="Write the outputs as the ledger stood at this moment (default: now).")
@click.pass_context
def merge(ctx, month: Month, as_of: str | None):
    """The clerk's monthly command: ingest what is in the inbox, then write outbox/master.xlsx, the month's
    leadership workbook under outbox/YYYY-MM/ and the notices. Rejected files and overdue units are
    reported, not failures (exit status 0).

    \b
    Example:
        annex2 merge --month 2023-05
        annex2 merge --month 2023-05 --as-of 2023-05-31T18:00
    """
    from .lock import LockBusy, folder_lock
    from .merge import merge as do_merge

    cfg = load_config(ctx)
    when = moment(cfg, as_of)
    result = run_ingest(ctx, cfg, (), None, None, "merge")
    for r in result.files:
        print_file_result(r, cfg)
    if result.files:
        click.echo(result.summary, err=True)
    try:
        with folder_lock(cfg, "merge"), open_ledger(cfg, "merge") as ledger:
            out = do_merge(cfg, ledger, month, when, now_in(cfg))
            ledger.log("merged", now_in(cfg), None, {"month": str(month), "as_of": when.isoformat()})
    except LockBusy as exc:
        click.echo(f"错误：{exc}", err=True)
        ctx.exit(1)
    for published in (out.master, out.leadership):
        if published.alternative:
            click.echo(f"注意：{published.reason}", err=True)
    click.echo(f"领导汇总表：{out.leadership.path}")
    click.echo(f"台账总表：  {out.master.path}")
    click.echo(f"通知文书：  {out.notices_dir}（{len(out.notices)} 个文件）")
    click.echo(out.status.summary)


@cli.command()
@click.option("--month", type=MONTH, required=True, help="The reporting month, YYYY-MM.")
@click.option("--as-of", "as_of", type=MOMENT, default=None, help="As the ledger stood at this moment (default: now).")
@click.option("--csv", "csv_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write one row per unit and sector (UTF-8 with BOM).")
@click.option("--annex2", "annex2_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the district total as a filled-in Annex 2 for the city bureau.")
@click.pass_context
def export(ctx, month: Month, as_of: str | None, csv_path: Path | None, annex2_path: Path | None):
    """Export the merged data as CSV, or the district total as a filled-in Annex 2 (填报单位 = the bureau)
    that the same tool can ingest one level up.

    \b
    Example:
        annex2 export --month 2023-05 --csv 2023-05.csv
        annex2 export --month 2023-05 --annex2 云溪区_附件2_2023年5月.xlsx
    """
    from .export import export_annex2, export_csv

    if (csv_path is None) == (annex2_path is None):
        raise click.UsageError("请给出 --csv FILE 或 --annex2 FILE 之一")
    cfg = load_config(ctx)
    when = moment(cfg, as_of)
    with open_ledger(cfg, "export") as ledger:
        if csv_path:
            n = export_csv(cfg, ledger, month, when, csv_path)
            click.echo(f"{csv_path}（{n} 行）")
        else:
            export_annex2(cfg, ledger, month, when, annex2_path)
            click.echo(str(annex2_path))


@cli.command()
@click.option("--polling", is_flag=True, default=None,
              help="Poll the folder instead of waiting for file events (network shares: SMB/NFS).")
@click.pass_context
def watch(ctx, polling: bool | None):
    """Ingest files as they arrive, answer each within seconds, keep the workbooks current; run until
    stopped (Ctrl+C or SIGTERM finish the file at hand, then exit).

    \b
    Example:
        annex2 watch
        annex2 watch --polling      # the inbox is on a network share
    """
    import signal

    from .reader import check_xml_defenses
    from .watch import Watcher
    from .workspace import ensure_folders

    check_xml_defenses()
    cfg = load_config(ctx)
    ensure_folders(cfg)
    watcher = Watcher(cfg, lambda: now_in(cfg), polling=polling or None,
                      out=lambda line: click.echo(line))

    def stop(signum, frame):
        click.echo("正在停止：处理完当前文件后退出……", err=True)
        watcher.stop()

    for name in ("SIGINT", "SIGTERM", "SIGBREAK"):
        if hasattr(signal, name):
            try:
                signal.signal(getattr(signal, name), stop)
            except (ValueError, OSError):
                pass  # not the main thread, or not available on this platform
    click.echo(f"正在监视 {cfg.inbox}（{'轮询' if watcher.polling else '文件事件'}），按 Ctrl+C 停止", err=True)
    watcher.run()
    click.echo("已停止。", err=True)


@cli.command()
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path), default="demo")
def demo(directory: Path):
    """A first run: a working folder with sample units, April and May 2023 submissions in the styles units
    really send (on time, late, one unit overdue, one rejected file and its correction), ingested and
    merged as of 31 May — then where to look. Refuses a folder that is not empty.

    \b
    Example:
        annex2 demo
        annex2 demo D:/annex2-演示
    """
    from .demo import DemoFolderNotEmpty, run_demo
    from .reader import check_xml_defenses

    check_xml_defenses()
    try:
        result = run_demo(directory)
    except DemoFolderNotEmpty as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(result.summary())


from .cli_materials import materials  # noqa: E402

cli.add_command(materials)


def main() -> None:
    cli(prog_name="annex2")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
