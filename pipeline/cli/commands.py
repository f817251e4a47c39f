"""The `annex2` command: parses options, calls the library, prints. No logic of its own."""
from __future__ import annotations

import sys
from contextlib import nullcontext
from pathlib import Path

import click

from ..core.files import WORKBOOK
from ..core.months import Month
from .support import (
    MOMENT,
    MONTH,
    echo_json,
    internal_error,
    load_config,
    moment,
    month_and_moment,
    now_in,
    open_session,
    print_unseen_files,
    run_ingest,
    writing_outputs,
)
from .tasks import tasks as tasks_group
from .zh_click import ZhGroup


@click.group(cls=ZhGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", "config_path", type=click.Path(path_type=Path), default=None,
              envvar="ANNEX2_CONFIG", metavar="文件",
              help="使用这个 config.toml，或这个工作目录中的（默认：当前文件夹或其上层文件夹中最近的 config.toml；"
                   "也可设环境变量 ANNEX2_CONFIG，或写在子命令之后）。")
@click.version_option(package_name="annex2", message="%(prog)s 版本 %(version)s")
def cli(config_path):
    """annex2 —— 安全生产督查情况统计表（附件2）的收集、校验与汇总。

    各单位每月把附件2表格放进 inbox/<单位>/（或用邮件发来）；annex2 逐个校验、保存每个原始文件、
    把受理的表格记入台账，并生成局领导汇总表、通知文书和上报市局的附件2。
    在工作目录（含 config.toml 的文件夹）或它的任何子文件夹中运行均可。

    \b
    示例：
        annex2 init D:\\安全统计              # 建立工作目录
        cd /d D:\\安全统计                    # 进入工作目录（cmd.exe）
        annex2 template --unit 执法大队 --month 2023-05   # 为某单位生成模板
        annex2 validate inbox/执法大队/附件2.xlsx          # 只检查，不改动
    """


class DocNumberType(click.ParamType):
    """12, １２, 12号 or 岳云交安〔2023〕12号 (docnumbers.parse_number)."""

    name = "文号"  # the placeholder in --help: --number 文号 (12, 12号 or the whole 岳云交安〔2023〕12号)

    def convert(self, value, param, ctx):
        from ..documents.docnumbers import BadNumber, parse_number

        if isinstance(value, int):
            return value
        try:
            return parse_number(value)
        except BadNumber as exc:
            self.fail(str(exc), param, ctx)


NUMBER_OPTION = click.option(
    "--number", type=DocNumberType(), default=None,
    help="通报的发文号（本局发文登记中的号，如 12，即 岳云交安〔2023〕12号）。不给时用 config.toml 中 "
         "[notices] next_number，再不然留空由股室填写；同一个月重新生成时保留已给的号。")


@cli.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
                metavar="文件...")
@click.option("--json", "as_json", is_flag=True, help="输出 JSON（供脚本使用），而不是文字。")
@click.option("--markup", type=click.Path(file_okay=False, path_type=Path), default=None, metavar="目录",
              help="把每个被退回表格的错误标注副本写到这个文件夹。")
@click.pass_context
def validate(ctx, files: tuple[Path, ...], as_json: bool, markup: Path | None):
    """检查报表，不做任何改动（除非给了 --markup）。

    退出状态：全部通过（允许有提示）时为 0，有任何文件被退回时为 1。

    \b
    示例：
        annex2 validate inbox/执法大队/附件2.xlsx
        annex2 validate --json *.xlsx > 校验结果.json
    """
    from ..reading.sandbox import warm_up

    warm_up()  # the parsing child starts while this process goes on importing
    import json

    from ..intake.check import check_files
    from ..intake.report import FileReport
    from ..reading.reader import check_xml_defenses
    from .printers import print_report  # here, not at the top: `--help` and `status` never load the reports

    check_xml_defenses()
    cfg = load_config(ctx)
    now = now_in(cfg)

    def copy_of(path: Path, verdict: FileReport, data: bytes | None) -> None:
        """A rejected workbook's marked-up copy, drawn from what the sandbox extracted while judging `data` (the
        unit's own .xlsx is taken apart again only in the sandbox): nothing is parsed here, nothing read twice."""
        from ..reading.markup import write_markup
        from ..statistics.template import write_blank

        if markup is None or verdict.outcome != "rejected" or verdict.kind != WORKBOOK or verdict.workbook is None:
            return
        try:
            out = write_markup(markup / f"{path.stem}_错误标注.xlsx", verdict.workbook, list(verdict.issues),
                               path.name, source=data, now=now, limits=cfg.limits, located=verdict.located,
                               blank=write_blank)
        except OSError as exc:
            click.echo(f"标注副本未能写入（{path.name}：{exc.strerror or exc}）", err=True)
            return
        click.echo(f"标注副本：{out}", err=True)

    looking = open_session(ctx, cfg, "validate", lock=False, read_only=True) if cfg.ledger.exists() else nullcontext()
    with looking as ledger:
        report = check_files(list(files), cfg, now, ledger, judged=copy_of if markup is not None else None)
    if as_json:
        click.echo(json.dumps(report.to_dict(), ensure_ascii=False, indent=2))
    else:
        for f in report.files:
            print_report(f)
    rejected = not report.ok
    ctx.exit(1 if rejected else 0)


@cli.command()
@click.argument("paths", nargs=-1, type=click.Path(exists=True, path_type=Path), metavar="[文件或目录]...")
@click.option("--received-at", type=MOMENT, default=None,
              help="给出的文件实际收到的时间，如 2023-05-22T16:40 或“2023年5月22日 16:40”（收件箱以外的文件必填；不能晚于现在，也不能早于表所报月份的 1 日）。")
@click.option("--unit", default=None, metavar="单位", help="给出的文件由哪个单位报送（名称或别名）。")
@click.option("--month", type=MONTH, default=None,
              help="给出的工作材料属于哪个月，如 2023-05（文件名和正文都没写月份时用）。")
@click.option("--json", "as_json", is_flag=True, help="输出 JSON 摘要（供脚本使用），而不是文字。")
@click.pass_context
def ingest(ctx, paths: tuple[Path, ...], received_at: str | None, unit: str | None, month: Month | None = None,
           as_json: bool = False):
    """处理一遍收件箱（或给出的文件）：校验、存档、记入台账、写回执。

    重复运行不会重复记录。收件箱以外的文件只复制、不移动，并且要用 --received-at 给出收到时间。
    退出状态：有文件被退回时为 1，否则为 0。

    \b
    示例：
        annex2 ingest                   # 处理收件箱中的全部文件
        annex2 ingest "D:\\邮件附件\\附件2 执法大队.xlsx" --unit 执法大队 --received-at "2023年5月22日 16:40"
    """
    from .printers import print_report

    cfg = load_config(ctx)
    result = run_ingest(ctx, cfg, paths, received_at, unit, "ingest", quiet=as_json, month=month)
    if as_json:
        echo_json(result.to_dict())
        ctx.exit(0 if result.ok else 1)
    for r in result.files:
        print_report(r)
    click.echo(result.summary, err=True)
    ctx.exit(0 if result.ok else 1)


@cli.command()
@click.option("--month", type=MONTH, default=None, help="报送月份，如 2023-05 或 2023年5月（默认：本月）。")
@click.option("--as-of", "as_of", type=MOMENT, default=None,
              help="按这个时刻判断，只算此前收到的文件（默认：现在）。")
@click.option("--json", "as_json", is_flag=True, help="输出 JSON（供脚本使用），而不是表格。")
@click.pass_context
def status(ctx, month: Month | None, as_of: str | None, as_json: bool):
    """某月各单位的报送情况：按时、迟报、逾期，重点任务滞后、逾期，以及是否上报局领导。

    也列出收件箱中不是任何单位现在的文件夹的文件夹（某单位原来的文件夹，或不属于任何单位、其中文件暂不处理的）。

    \b
    示例：
        annex2 status                   # 本月情况
        annex2 status --month 2023年5月 --as-of 2023-05-31 --json   # 5月底时的情况，JSON 格式
    """
    import json

    from ..core.textable import render
    from ..intake.unclaimed import unclaimed_for_status, unclaimed_lines
    from ..monthly import status
    from ..monthly.obligations import load_obligations
    from ..statistics.timeliness import STATE_LABELS

    cfg = load_config(ctx)
    month, when = month_and_moment(cfg, month, as_of)
    from ..intake.folders import Folders, foreign_lines

    with open_session(ctx, cfg, "status", lock=False) as ledger:
        obligations = load_obligations(cfg, ledger, month, when, warn=lambda text: click.echo(text, err=True))
        result = status.status(cfg, ledger, month, when, obligations)
        foreign = Folders(cfg, ledger).foreign()  # folders below the inbox that are no unit's current folder
        unclaimed = unclaimed_for_status(cfg, ledger)
    if as_json:
        click.echo(json.dumps({**result.to_dict(), "foreign_folders": [
            {"folder": o.folder, "kind": o.kind, "unit": o.unit.name if o.unit else None, "files": n}
            for o, n in foreign], "unclaimed": unclaimed}, ensure_ascii=False, indent=2))
        return
    tz = cfg.bureau.tz
    if not result.in_period:
        click.echo(result.summary)
        for line in [*foreign_lines(foreign), *unclaimed_lines(cfg, unclaimed)]:  # (the mailbox's: any month)
            click.echo(line)
        return
    rows = []
    for u in result.units:
        c = u.current
        days = str(c.days_late) if c.days_late is not None else (f"逾期{c.days_overdue}" if c.days_overdue else "")
        rows.append([u.name, STATE_LABELS[c.state] + ("（曾被退回）" if u.attempts and not c.received_at else ""),
                     c.received_at.astimezone(tz).strftime("%Y-%m-%d %H:%M") if c.received_at else "",
                     days, *[ob.cell_text(u.name) for ob in obligations if ob.column], str(u.strikes),
                     "是" if u.escalate else ""])
    click.echo(f"{month.label} 报送情况（截止 {result.deadline.last_day:%Y-%m-%d}，"
               f"统计至 {when.astimezone(tz):%Y-%m-%d %H:%M}）")
    click.echo(render(["单位", "统计表", "收到时间", "迟报天数", *[ob.column for ob in obligations if ob.column],
                       "本年迟报/逾期", "上报局领导"], rows))
    click.echo(result.summary)
    from ..materials.state import materials_deadline
    from ..tasks.state import task_deadline

    notes = {"统计表": result.deadline.note, "工作材料": materials_deadline(cfg, month).note,
             "重点任务推进情况表": task_deadline(cfg, month).note}
    for note in dict.fromkeys(n for n in notes.values() if n):  # the same shift said once
        click.echo(f"注意：{'、'.join(k for k, v in notes.items() if v == note)}{note}。", err=True)
    for line in unclaimed_lines(cfg, unclaimed):
        click.echo(line)
    print_unseen_files(cfg)
    for line in foreign_lines(foreign):
        click.echo(line)


@cli.command()
@click.option("--month", type=MONTH, required=True, help="报送月份，如 2023-05 或 2023年5月。")
@click.option("--as-of", "as_of", type=MOMENT, default=None,
              help="按这个时刻判断，文书中的日期也用它（默认：现在）。")
@click.option("--send", is_flag=True, help="通过 config.toml 中 [smtp] 配置的邮件服务器发出邮件草稿。")
@NUMBER_OPTION
@click.option("--json", "as_json", is_flag=True, help="输出 JSON 摘要（供脚本使用），而不是文件列表。")
@click.pass_context
def notices(ctx, month: Month, as_of: str | None, send: bool, number: int | None = None, as_json: bool = False):
    """生成当月的催报通知、通报和报告。

    给逾期单位的催报通知、月度通报、上报局领导的报告（股室签报），写成 .docx 和 .eml 草稿，
    放在 outbox/YYYY-MM/notices/ 中。只有通报编发文字号：用 --number 给出，或取 config.toml 中
    [notices] next_number，否则留空由股室填写；同一个月重新生成保留原号。不加 --send 不会发送任何邮件。

    \b
    示例：
        annex2 notices --month 2023-05 --as-of 2023-05-31   # 按 5 月 31 日的情况
        annex2 notices --month 2023-05 --number 12   # 通报编为 岳云交安〔2023〕12号
        annex2 notices --month 2023-05 --send        # 同时发出邮件
    """
    from ..documents.docnumbers import NumberTaken
    from ..monthly import status
    from ..monthly.notices import SendError, send_notices, write_notices
    from ..monthly.obligations import load_obligations

    cfg = load_config(ctx)
    when = moment(cfg, as_of)
    if send and cfg.smtp is None:
        raise click.UsageError("config.toml 中没有 [smtp] 配置：不加 --send 只生成草稿，加 --send 需先配置 [smtp]")
    try:  # under the lock `merge` holds while it writes the same folder (never a mixed set)
        with open_session(ctx, cfg, "notices") as ledger, writing_outputs(cfg):
            obligations = load_obligations(cfg, ledger, month, when, warn=lambda text: click.echo(text, err=True))
            folder, written = write_notices(cfg, ledger, month, when,
                                            status.status(cfg, ledger, month, when, obligations), number=number,
                                            warn=lambda text: click.echo(f"注意：{text}", err=True))
    except NumberTaken as exc:
        raise click.BadParameter(str(exc), param_hint="--number") from None
    if not as_json:
        for n in written:
            click.echo(str(folder / n.file))
    sent = None
    if send:  # after the lock is given back: a slow mail server never holds up the watcher (each sent
        # message's event is its own SQLite transaction, which needs no folder lock)
        with open_session(ctx, cfg, "notices", lock=False) as ledger:
            try:
                sent = send_notices(cfg, ledger, folder, written, moment(cfg, None))
            except SendError as exc:
                raise click.ClickException(str(exc)) from None
        click.echo(f"已发送 {len(sent)} 封邮件", err=True)
    if as_json:
        from ..core.summaries import notices_summary

        echo_json(notices_summary(month, when, folder, written, len(sent) if sent is not None else None))


@cli.command()
@click.option("--month", type=MONTH, required=True, help="报送月份，如 2023-05 或 2023年5月。")
@click.option("--as-of", "as_of", type=MOMENT, default=None,
              help="按台账在这个时刻的状态生成（默认：现在）。")
@NUMBER_OPTION
@click.option("--json", "as_json", is_flag=True, help="输出 JSON 摘要（供脚本使用），而不是文字。")
@click.pass_context
def merge(ctx, month: Month, as_of: str | None, number: int | None = None, as_json: bool = False):
    """每月汇总：生成局领导汇总表、台账总表和通知文书。

    先处理收件箱，再生成台账总表 outbox/master.xlsx、outbox/YYYY-MM/ 下的局领导汇总表和
    通知文书。有文件被退回或单位逾期只作报告，不算失败（退出状态 0）。

    \b
    示例：
        annex2 merge --month 2023-05                # 汇总 5 月
        annex2 merge --month 2023年5月 --as-of "2023年5月31日 18:00"
    """
    from ..documents.docnumbers import NumberTaken
    from ..monthly.merge import merge as do_merge
    from .printers import print_report

    cfg = load_config(ctx)
    when = moment(cfg, as_of)
    result = run_ingest(ctx, cfg, (), None, None, "merge", quiet=as_json)
    for r in result.files if not as_json else ():
        print_report(r)
    if result.files:
        click.echo(result.summary, err=True)
    try:
        with open_session(ctx, cfg, "merge") as ledger, writing_outputs(cfg):  # lock, ledger, then outputs, as before
            out = do_merge(cfg, ledger, month, when, now_in(cfg), warn=lambda text: click.echo(text, err=True),
                           number=number)
            ledger.log("merged", now_in(cfg), None, {"month": str(month), "as_of": when.isoformat()})
    except NumberTaken as exc:
        raise click.BadParameter(str(exc), param_hint="--number") from None
    for published in (out.master, out.leadership):
        if published.alternative:
            click.echo(f"注意：{published.reason}", err=True)
    if as_json:
        from ..core.summaries import merge_summary

        echo_json(merge_summary(month, when, result, out))
        return
    click.echo(f"领导汇总表：{out.leadership.path}")
    click.echo(f"台账总表：  {out.master.path}")
    click.echo(f"通知文书：  {out.notices_dir}（{len(out.notices)} 个文件）")
    if out.materials is not None:
        pdf = f"，材料汇编 {out.materials.pdf.name}" if out.materials.pdf else ""
        click.echo(f"工作材料：  {out.materials.folder}{pdf}")
    click.echo(f"统计表：{out.status.summary}")


@cli.command()
@click.option("--month", type=MONTH, required=True, help="报送月份，如 2023-05 或 2023年5月。")
@click.option("--as-of", "as_of", type=MOMENT, default=None, help="按台账在这个时刻的状态导出（默认：现在）。")
@click.option("--csv", "csv_path", type=click.Path(dir_okay=False, path_type=Path), default=None, metavar="文件",
              help="导出 CSV：每个单位每个行业领域一行（UTF-8 带 BOM，Excel/WPS 可直接打开）。")
@click.option("--annex2", "annex2_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              metavar="文件", help="把全区合计写成填好的附件2，上报市局。")
@click.option("--labels", type=click.Choice(["keys", "zh"]), default="zh", show_default=True,
              help="CSV 的表头和行业领域：zh 用中文（在 Excel/WPS 中阅读），keys 用英文键名（供其他程序读取）。")
@click.option("--json", "as_json", is_flag=True, help="输出 JSON 摘要（供脚本使用），而不是文字。")
@click.pass_context
def export(ctx, month: Month, as_of: str | None, csv_path: Path | None, annex2_path: Path | None,
           labels: str = "zh", as_json: bool = False):
    """导出汇总数据：CSV，或上报市局的附件2。

    CSV 每个单位每个行业领域一行；附件2 是填好全区合计的表格（填报单位为本局），
    市局可用同一工具接收。导出时会说明合计包含了几个单位、缺了哪些单位。
    目标文件已存在时整体替换（须是普通文件）；附件2不要存进某单位的收件箱文件夹。

    \b
    示例：
        annex2 export --month 2023-05 --csv 2023年5月.csv                 # 中文表头
        annex2 export --month 2023-05 --csv 2023年5月.csv --labels keys   # 英文键名，供其他程序读取
        annex2 export --month 2023-05 --annex2 云溪区_附件2_2023年5月.xlsx
    """
    from ..monthly.export import coverage, export_annex2, export_csv

    if (csv_path is None) == (annex2_path is None):
        raise click.UsageError("请给出 --csv 文件 或 --annex2 文件 之一（只给一个）")
    cfg = load_config(ctx)
    when = moment(cfg, as_of)
    with writing_outputs(cfg), open_session(ctx, cfg, "export", lock=False) as ledger:
        cover = coverage(cfg, ledger, month, when)
        n = None
        if csv_path:
            n = export_csv(cfg, ledger, month, when, csv_path, labels=labels)
        else:
            assert annex2_path is not None  # one of the two is required above
            export_annex2(cfg, ledger, month, when, annex2_path)
    # Said every time on stderr, so a total that leaves units out is never sent on without a word.
    click.echo(f"{'注意：' if not cover.complete else ''}{month.label}合计{cover.text}。", err=True)
    if as_json:
        from ..core.summaries import export_summary

        target = csv_path or annex2_path
        assert target is not None
        echo_json(export_summary(month, when, "csv" if csv_path else "annex2", target, n, cover))
    elif csv_path:
        click.echo(f"{csv_path}（{n} 行）")
    else:
        click.echo(str(annex2_path))


@cli.command()
@click.option("--polling", is_flag=True, default=None,
              help="定时轮询收件箱，而不是等待文件事件（收件箱在网络共享 SMB/NFS 上时使用）。")
@click.pass_context
def watch(ctx, polling: bool | None):
    """自动监视收件箱，随到随处理。

    文件一到就处理，几秒内写好回执，并保持汇总表最新；一直运行直到停止
    （按 Ctrl+C：处理完当前文件后退出）。config.toml 中配置了 [mail] 时，还每隔
    poll_seconds 秒收取一次本局邮箱（同 annex2 fetch），邮件服务器支持 IDLE 时新邮件一到即收取；
    邮箱连不上只记一行日志，下次再试。

    \b
    示例：
        annex2 watch                # 一直运行，按 Ctrl+C 停止
        annex2 watch --polling      # 收件箱在网络共享上
    """
    import signal
    from contextlib import ExitStack

    from ..intake.watch import Watcher
    from ..intake.workspace import ensure_folders
    from ..reading.reader import check_xml_defenses

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
    from ..storage.lock import LockBusy, batch_lock, holder_of

    # one watcher per working folder: a second one (a scheduled task started twice) would race the first for every
    # file and mail; it is told who is watching and leaves
    watch_lock = Path(str(cfg.lock_file) + ".watch")
    with ExitStack() as held:
        try:
            held.enter_context(batch_lock(watch_lock, "annex2 watch", timeout=0))
        except LockBusy:
            raise click.ClickException(f"另一个 annex2 watch 已在监视这个工作目录（{holder_of(watch_lock)}），"
                                       "同一工作目录只需运行一个。") from None
        click.echo(f"正在监视 {cfg.inbox}（{'轮询' if watcher.polling else '文件事件'}），按 Ctrl+C 停止", err=True)
        if cfg.mail is not None:
            click.echo(f"并每 {cfg.mail.poll_seconds:g} 秒收取一次邮箱 {cfg.mail.user}（{cfg.mail.host}，"
                       f"文件夹 {cfg.mail.folder}）；服务器支持 IDLE 时新邮件一到即收取", err=True)
        watcher.run()
    click.echo("已停止。", err=True)


# The commands in their own modules (imported here, after `cli` exists, as click wants its group first).
from .fetch import fetch  # noqa: E402
from .history import history, void  # noqa: E402
from .materials import materials  # noqa: E402
from .workfolder import backup, demo, init, template  # noqa: E402

for command in (init, template, backup, demo, history, void, tasks_group, materials, fetch):
    cli.add_command(command)

def main() -> None:
    """The clerk never sees a Python traceback: an unexpected error is logged in full and summed up in one
    Chinese line with where the log is, exit status 3 (spec 13)."""
    from .support import log_unraisable

    sys.unraisablehook = log_unraisable
    try:
        cli(prog_name="annex2", standalone_mode=True)
    except SystemExit:
        raise
    except KeyboardInterrupt:
        click.echo("已中断。", err=True)
        sys.exit(130)
    except Exception as exc:
        sys.exit(internal_error(exc))


if __name__ == "__main__":  # pragma: no cover
    main()
