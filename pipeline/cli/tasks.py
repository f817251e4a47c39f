"""`annex2 tasks …` and `annex2 template --tasks`: the Annex 1 key tasks at the command line (spec 11, 12).
Parses options, calls the library, prints. A task list that cannot be used exits 2 naming its rows and cells."""
from __future__ import annotations

import json
from pathlib import Path

import click

from ..core.months import Month
from ..tasks.window import window_label
from .support import MOMENT, MONTH, load_config, month_and_moment, now_in, open_session, writing_outputs


def _task_list(ctx: click.Context, cfg):
    from ..tasks.task_list import TaskListError, read_task_list

    try:
        return read_task_list(cfg)
    except TaskListError as exc:
        click.echo("重点任务清单有误，请改正后再运行：", err=True)
        for problem in exc.problems:
            click.echo(f"  {problem}", err=True)
        ctx.exit(2)


def _unit(cfg, text: str, option: str = "--unit") -> str:
    found = cfg.unit_named(text)
    if found is None:
        raise click.BadParameter(f"“{text}” 不是 config.toml 中的单位或别名", param_hint=option)
    return found.name


@click.group("tasks")
def tasks():
    """附件1 重点任务（责任措施清单）：清单、各单位每月推进状态、销号。

    清单是工作目录中的 templates/annex1_tasks.xlsx（可用 Excel/WPS 修改），每次运行都重新读取。
    各单位每月用“重点任务推进情况表”报送进展（annex2 template --tasks 生成），与月度工作材料同时截止。

    \b
    示例：
        annex2 tasks list                     # 列出全部任务
        annex2 tasks status --month 2023-06   # 6月各单位任务进度
        annex2 tasks close T01 --unit 运输中心 --note "隐患清零已完成，见6月台账"
    """


@tasks.command("list")
@click.option("--json", "as_json", is_flag=True, help="输出 JSON（规格 §12 的格式）。")
@click.pass_context
def list_tasks(ctx, as_json: bool):
    """列出清单中的每项任务：完成时限及其起止月份、牵头单位和落实单位。

    完成时限无法识别、或责任单位不在 config.toml 的单位和别名中时，逐条指出行号和单元格，退出状态 2。
    清单中责任单位与方案正文（本版本的默认清单）不同的行、以及清单中缺少的措施，在列表后逐条列出
    （由旧版按附件1表格转录的清单升级时会看到），可用 annex2 tasks init --replace 换成新清单。

    \b
    示例：
        annex2 tasks list                     # 列出全部任务
        annex2 tasks list --json > 任务清单.json   # 给脚本用
    """
    from ..core.textable import render
    from ..tasks.migrate import differences

    cfg = load_config(ctx)
    tl = _task_list(ctx, cfg)
    differ = differences(cfg, tl)
    if as_json:
        click.echo(json.dumps({"year": tl.year, "tasks": [t.to_dict() for t in tl.tasks],
                               "differences": [d.to_dict() for d in differ]}, ensure_ascii=False, indent=2))
    else:
        rows = [[t.id, t.name, window_label(t.window), f"{t.window.first.month}–{t.window.last.month}月",
                 "、".join(t.lead + tuple(f"{u}（不跟踪）" for u in t.untracked)) or "—", "、".join(t.units) or "—"]
                for t in tl.tasks]
        click.echo(f"{tl.year}年 重点任务清单（{tl.source}，{len(tl.tasks)} 项）")
        click.echo(render(["编号", "任务名称", "完成时限", "起止", "牵头", "落实"], rows))
    if differ:
        click.echo(f"注意：清单与方案正文“二、重点任务及责任分工”有 {len(differ)} 处不同（旧版清单按附件1表格转录，"
                   "表格有错位和识别错误）：", err=True)
        for d in differ:
            click.echo(f"  {d.text()}", err=True)
        click.echo("核对后可运行 annex2 tasks init --replace 换成按方案正文转录的清单（原清单另存备份，编号不变，"
                   "你改过的完成时限和自己加的任务保留）。", err=True)


@tasks.command("status")
@click.option("--month", type=MONTH, default=None, help="月份 YYYY-MM（默认：当前月份）。")
@click.option("--as-of", "as_of", type=MOMENT, default=None, help="按此时刻的台账判断，只计此前收到的表（默认：现在）。")
@click.option("--json", "as_json", is_flag=True, help="输出 JSON（规格 §12 的格式）。")
@click.pass_context
def status(ctx, month: Month | None, as_of: str | None, as_json: bool):
    """各单位每项重点任务在该月的状态，按所报推进情况表的内容判断（迟报的表同样按内容判断，表本身记迟报）：
    正常推进、阶段性完成（在完成时限内取得阶段性成效，此后长期坚持）、滞后（已进入完成时限仍报“未启动”）、
    逾期（完成时限已过，未报“已完成”或“阶段性完成”）、未报送（截止时没有报送推进情况表）、已完成、已销号、
    未开始；未到期：截止前尚未报送。

    \b
    示例：
        annex2 tasks status --month 2023-06   # 6月各单位任务进度
        annex2 tasks status --month 2023-06 --as-of 2023-06-30 --json   # 按 6月30日 的情况
    """
    from ..core.textable import render
    from ..tasks.state import STATE_LABELS, tasks_status

    cfg = load_config(ctx)
    month, when = month_and_moment(cfg, month, as_of)
    tl = _task_list(ctx, cfg)
    with open_session(ctx, cfg, "tasks status", lock=False) as ledger:
        board = tasks_status(cfg, ledger, tl, month, when)
    if as_json:
        click.echo(json.dumps(board.to_dict(), ensure_ascii=False, indent=2))
        return
    tz = cfg.bureau.tz
    click.echo(f"{month.label} 重点任务推进情况（推进情况表截止 {board.due.last_day:%Y-%m-%d}，"
               f"统计至 {when.astimezone(tz):%Y-%m-%d %H:%M}）")
    rows = []
    for c in board.cells.values():
        latest = f"{c.latest.month.month}月 {c.latest.status_label}" if c.latest else ""
        rows.append([c.task.id, c.task.name, c.unit + ("（牵头）" if c.role == "lead" else ""),
                     window_label(c.task.window), STATE_LABELS[c.state], latest])
    click.echo(render(["编号", "任务名称", "单位", "完成时限", "状态", "最近一次报送"], rows))
    click.echo("推进情况表：" + "；".join(f"{f.unit} {f.label}" for f in board.forms.values()))
    click.echo("；".join(f"{u}：{board.summary_text(u)}" for u in board.units))


@tasks.command("close")
@click.argument("task_id", metavar="任务编号")
@click.option("--unit", required=True, metavar="单位", help="销号的责任单位（名称或别名）。")
@click.option("--note", default="", metavar="文本", help="说明（例如核实的依据）。")
@click.pass_context
def close(ctx, task_id: str, unit: str, note: str):
    """销号：确认某单位的一项任务已完成（记入台账的事件日志，从销号这一刻起，当月及以后该单位该任务的状态为“已销号”；截止日已过的月份不变）。

    \b
    示例：
        annex2 tasks close T01 --unit 运输中心 --note "经核实已完成隐患清零"
    """
    from ..tasks.state import CloseRefused, close_task

    cfg = load_config(ctx)
    name = _unit(cfg, unit)
    tl = _task_list(ctx, cfg)
    with open_session(ctx, cfg, "tasks close", lock=False) as ledger:  # one SQLite transaction, as before
        try:
            close_task(ledger, tl, task_id, name, note, now_in(cfg))
        except CloseRefused as exc:
            raise click.BadParameter(str(exc), param_hint="TASK_ID / --unit") from None
    click.echo(f"已销号：{task_id.strip().upper()} {name}")


@tasks.command("init")
@click.option("--force", is_flag=True, help="覆盖已有的清单（清单中的修改会丢失）。")
@click.option("--replace", is_flag=True,
              help="换成本版本按方案正文转录的清单：原清单另存备份；同一措施编号不变，改过的完成时限和自己加的任务保留。")
@click.pass_context
def init_list(ctx, force: bool, replace: bool):
    """按附件1写出重点任务清单（[tasks] file，默认 templates/annex1_tasks.xlsx）：用于 annex2 init 之前建立的工作目录，
    或用 --replace 把旧版清单换成按方案正文“二、重点任务及责任分工”转录的清单。

    --replace 时：原清单另存为 templates/annex1_tasks_替换前_年月日-时分秒.xlsx；同一措施保留原编号（推进情况表和
    销号记录仍然对得上），你改过的完成时限保留，你自己加的任务保留在最后；新清单需要而 config.toml 中没有的
    [tasks.names] 写法（如“局属各单位”）和 [tasks] untracked（如“局机关党支部”）会加入 config.toml
    （原文件同样另存备份）。

    \b
    示例：
        annex2 tasks init                     # 补写任务清单
        annex2 tasks list                     # 升级后：看清单与方案正文有哪些不同
        annex2 tasks init --replace           # 换成按方案正文转录的清单
    """
    from ..tasks.task_list import write_task_list

    if force and replace:
        raise click.UsageError("--force 与 --replace 只能选一个。")
    cfg = load_config(ctx)
    path = cfg.task_list_path
    if replace and path.exists():
        _replace_list(ctx, cfg)
        return
    if path.exists() and not force:
        raise click.ClickException(f"{path} 已存在，未做任何改动。换成本版本按方案正文转录的清单请加 --replace"
                                   "（保留编号和你的修改）；如确需按原文重写、丢弃修改，请加 --force。")
    click.echo(str(write_task_list(path)))


def _replace_list(ctx: click.Context, cfg) -> None:
    """`tasks init --replace`: back up, merge (tasks_migrate.plan_replacement), write, extend config.toml."""
    import shutil

    from ..core.config import ConfigError, load
    from ..tasks.migrate import add_to_config, config_additions, plan_replacement, read_rows
    from ..tasks.task_list import TaskListError, read_task_list, seed_rows, write_task_list

    path = cfg.task_list_path
    try:
        old = read_rows(cfg, path)
    except TaskListError as exc:
        raise click.ClickException("原清单无法读取，未做任何改动：" + "；".join(exc.problems)) from None
    plan = plan_replacement(old, seed_rows())
    stamp = now_in(cfg).strftime("%Y%m%d-%H%M%S")
    backup = path.with_name(f"{path.stem}_替换前_{stamp}{path.suffix}")
    shutil.copy2(path, backup)
    names, untracked = config_additions(cfg)
    config_path = cfg.root / "config.toml"
    config_backup = None
    if (names or untracked) and config_path.is_file():
        text = config_path.read_text(encoding="utf-8")
        config_backup = path.with_name(f"config_替换前_{stamp}.toml")
        shutil.copy2(config_path, config_backup)
        config_path.write_text(add_to_config(text, names, untracked, cfg.tasks.untracked), encoding="utf-8")
        try:
            cfg = load(config_path)
        except ConfigError as exc:  # never leave the clerk with a config that does not load
            shutil.copy2(config_backup, config_path)
            raise click.ClickException(f"无法在 config.toml 中加入新清单需要的写法（{exc}），已恢复原文件，清单未改动。") from None
    write_task_list(path, plan.rows)
    click.echo(str(path))
    click.echo(f"已换成按方案正文转录的清单（{len(plan.rows)} 项）；原清单另存为 {backup.name}。", err=True)
    for line in plan.kept_windows + [f"保留你加的任务：{r}" for r in plan.kept_rows] + plan.renumbered:
        click.echo(f"  {line}", err=True)
    if config_backup is not None:
        added = [f"[tasks.names] “{s}”" for s, _u in names] + [f"[tasks] untracked “{u}”" for u in untracked]
        click.echo(f"config.toml 中加入了 {'、'.join(added)}（原文件另存为 {config_backup.name}），请核对。", err=True)
    try:
        read_task_list(cfg)
    except TaskListError as exc:
        click.echo("新清单还有需要改正之处（运行 annex2 tasks list 查看）：", err=True)
        for problem in exc.problems:
            click.echo(f"  {problem}", err=True)
        ctx.exit(2)


def write_task_form_command(ctx: click.Context, output: Path | None, unit: str | None, month: Month | None) -> None:
    """`annex2 template --tasks --unit U --month M`: the unit's progress form for the month."""
    from ..tasks.form import default_filename, write_task_form
    from ..tasks.state import task_deadline

    if not unit or month is None:
        raise click.UsageError("生成重点任务推进情况表需要 --unit 和 --month，例如：annex2 template --tasks --unit 运输中心 --month 2023-06")
    cfg = load_config(ctx)
    name = _unit(cfg, unit)
    tl = _task_list(ctx, cfg)
    output = output or Path(default_filename(name, month))
    with writing_outputs(cfg, output):
        write_task_form(output, cfg, tl, name, month, task_deadline(cfg, month).last_day)
    active = tl.active(name, month)
    click.echo(str(output))
    click.echo(f"{name} {month.label}：{len(active)} 项任务" + (f"（{'、'.join(t.id for t in active)}）" if active else ""),
               err=True)
