"""`annex2 init`, `template`, `backup` and `demo`: making a working folder, the blank forms, a copy of the ledger,
and a newcomer's first run. Parses options, calls the library, prints."""
from __future__ import annotations

from pathlib import Path

import click

from ..core.months import Month
from .support import MONTH, config_or_defaults, load_config, now_in, open_session, writing_outputs
from .tasks import write_task_form_command


@click.command()
@click.argument("directory", type=click.Path(path_type=Path), default=".", metavar="[目录]")
@click.option("--force", is_flag=True, help="覆盖已有的 config.toml。")
def init(directory: Path, force: bool):
    """建立工作目录。

    内含 config.toml、inbox/（每个单位一个子文件夹，内含 回执/）、outbox/、archive/ 和
    templates/annex2.xlsx。不给文件夹时用当前文件夹。报送期从建立的当月开始
    （config.toml 中 [reporting] start），建好后请核对它、单位名单和任务清单的年份。

    \b
    示例：
        annex2 init D:\\安全统计
        annex2 init "D:\\安全 统计\\2023年"     # 路径中有空格时加英文双引号
    """
    from ..core.config import CONFIG_NAME, find_config
    from ..intake.workspace import WorkspaceExists
    from ..intake.workspace import init as do_init

    enclosing = find_config(None, start=directory.resolve().parent)
    if enclosing.is_file() and not (directory / CONFIG_NAME).exists() and not force:
        raise click.ClickException(f"{directory} 位于已有的工作目录 {enclosing.parent} 之内，不能在里面再建一个"
                                   f"（在它的任何子文件夹中都可以直接运行 annex2 的命令）。确需如此，请加 --force。")
    from ..core.config import defaults

    start = Month.of(now_in(defaults(directory)))  # this month in the bureau's time, whatever the PC's zone
    try:
        layout = do_init(directory, force=force, start=start)
    except WorkspaceExists as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"已建立工作目录 {layout.root.resolve()}", err=True)
    for path in layout.created:
        click.echo(str(path))
    cfg = layout.config
    click.echo(f"报送期自本月 {cfg.start.label} 起（config.toml 中 [reporting] start = \"{cfg.start}\"），"
               "此前的月份不判断按时、迟报和逾期。", err=True)
    click.echo("下一步，请用记事本打开 config.toml 核对：\n"
               f"  1. [reporting] start：从哪个月开始要求各单位报送（现为 {cfg.start.label}）；\n"
               "  2. [[units]]：单位名单、别名和邮箱，以及 [contact] 联系人；\n"
               f"  3. 重点任务清单 {cfg.tasks.file} 的年份（[tasks] year，现按 {cfg.task_year} 年计算完成时限）。\n"
               "核对后，把 templates/annex2.xlsx 发给各单位。", err=True)
    from ..intake.workspace import start_month_warning

    warning = start_month_warning(cfg, now_in(cfg))
    if warning:
        click.echo(warning, err=True)
    from ..intake.folders import Folders, foreign_lines

    for line in foreign_lines(Folders(cfg).foreign()):  # an inbox that was there before
        click.echo(line, err=True)


@click.command()
@click.option("-o", "--output", type=click.Path(path_type=Path), default=None, metavar="文件",
              help="写到哪个文件（默认：当前文件夹中的 附件2[_单位][_YYYY年M月].xlsx）。")
@click.option("--unit", default=None, metavar="单位", help="预先填好“填报单位”（config.toml 中的单位名称或别名）。")
@click.option("--month", type=MONTH, default=None, help="预先填好统计期间“1月至M月”（月份如 2023-05、2023年5月）。")
@click.option("--tasks", "task_form", is_flag=True,
              help="改为生成该单位该月的重点任务推进情况表（附件1），须同时给出单位和月份。")
@click.pass_context
def template(ctx, output: Path | None, unit: str | None, month: Month | None, task_form: bool):
    """生成空白的附件2模板，或预先填好“填报单位”和统计期间的模板。

    \b
    示例：
        annex2 template -o 附件2.xlsx                      # 空白模板
        annex2 template --unit 执法大队 --month 2023-05           # 预填单位和期间
        annex2 template --tasks --unit 执法大队 --month 2023-05   # 重点任务推进情况表
    """
    from ..statistics.template import Header, default_filename, write_template

    if task_form:
        return write_task_form_command(ctx, output, unit, month)
    cfg = config_or_defaults(ctx)
    unit_name = None
    if unit:
        found = cfg.unit_named(unit)
        if found is None:
            raise click.BadParameter(f"“{unit}” 不是 config.toml 中的单位或别名", param_hint="--unit")
        unit_name = found.name
    year = month.year if month else cfg.reporting_month(Month.of(now_in(cfg))).year  # the reporting year
    header = Header(unit=unit_name, year=year, month_to=month.month if month else None)
    output = output or Path(default_filename(unit_name, month))
    with writing_outputs(cfg, output):  # a full disk or a read-only folder: one Chinese sentence, exit 1
        write_template(output, cfg.bureau.short_name, header)
    click.echo(str(output))


@click.command()
@click.argument("destination", type=click.Path(dir_okay=False, path_type=Path), required=False, metavar="[文件]")
@click.pass_context
def backup(ctx, destination: Path | None):
    """备份台账数据库。

    用 SQLite 的在线备份，watch 运行时也安全。不给文件时写到 outbox/backups/。
    给出的文件已存在时整体替换（须是普通文件，不能是链接或设备）。

    \b
    示例：
        annex2 backup D:\\备份\\annex2-2023-05.sqlite
    """
    cfg = load_config(ctx)
    with writing_outputs(cfg), open_session(ctx, cfg, "backup", lock=False) as ledger:
        dest = destination or cfg.outbox / "backups" / f"annex2-{now_in(cfg):%Y%m%d-%H%M%S}.sqlite"
        click.echo(str(ledger.backup(dest)))


@click.command()
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path), default="demo", metavar="[目录]")
def demo(directory: Path):
    """演示：用样例数据完整走一遍。

    建立一个工作目录，模拟各单位报送 2023 年 4、5 月的表格（按时、迟报、逾期、
    一份被退回后更正），处理并按 5 月 31 日汇总，然后告诉您先看哪些文件。
    文件夹不是空的则不运行。

    \b
    示例：
        annex2 demo                     # 在当前文件夹下的 demo 中演示
        annex2 demo D:\\annex2-演示
    """
    from ..demo.story import DemoFolderNotEmpty, run_demo
    from ..reading.reader import check_xml_defenses

    check_xml_defenses()
    try:
        result = run_demo(directory)
    except DemoFolderNotEmpty as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(result.summary())
