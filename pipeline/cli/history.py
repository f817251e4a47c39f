"""`annex2 history` and `annex2 void`: one unit's arrivals, and withdrawing a wrongly accepted submission."""
from __future__ import annotations

import json

import click

from ..core.months import Month, period_label
from .support import MONTH, load_config, now_in, open_session, require_arrival


@click.command()
@click.option("--unit", required=True, metavar="单位", help="单位名称或别名（config.toml 中的）。")
@click.option("--month", type=MONTH, default=None, help="只看这个月份的报表，如 2023-05 或 2023年5月。")
@click.option("--json", "as_json", is_flag=True, help="输出 JSON（供脚本使用），而不是表格。")
@click.pass_context
def history(ctx, unit: str, month: Month | None, as_json: bool):
    """查看一个单位收到过的每个文件。

    按收到时间列出：编号（撤销时用：annex2 void 编号）、收到时间及其依据、文件名、类别（附件2统计表、
    工作材料盖章版/电子版、重点任务推进情况表）、统计期间、处理结果（有效、已被更正替换、已撤销、
    退回、重复……）和问题代码。每类文件只被同一类的新文件替换。

    \b
    示例：
        annex2 history --unit 执法大队
        annex2 history --unit 执法大队 --month 2023-05 --json   # 5月的报表，JSON 格式
    """
    from ..core.received_rules import RULE_LABELS
    from ..core.textable import render
    from ..intake.corrections import ARRIVAL_KIND_LABELS, status_label, unit_history

    cfg = load_config(ctx)
    found = cfg.unit_named(unit)
    if found is None:
        raise click.BadParameter(f"“{unit}” 不是 config.toml 中的单位或别名", param_hint="--unit")
    with open_session(ctx, cfg, "history", lock=False) as ledger:
        h = unit_history(cfg, ledger, found.name, month)
    if as_json:
        click.echo(json.dumps(h.to_dict(cfg), ensure_ascii=False, indent=2))
        return
    tz = cfg.bureau.tz
    rows = []
    for r in h.rows:
        a = r.arrival
        monthly = a.kind in ("material", "task_form") and a.year and a.month_to  # one month, not 1月至M月
        period = f"{a.year}年{a.month_to}月" if monthly else period_label(a.year, a.month_from, a.month_to)
        result = status_label(r.status)
        if r.void:
            result += f"（{r.void[0].astimezone(tz):%Y-%m-%d %H:%M}：{r.void[1]}）"
        kind = r.file_kind.label if r.file_kind else ARRIVAL_KIND_LABELS.get(a.kind, a.kind)
        rows.append([str(a.id), f"{a.received_at.astimezone(tz):%Y-%m-%d %H:%M:%S}",
                     RULE_LABELS.get(a.received_rule, a.received_rule), a.original_name, kind, period, result,
                     " ".join(r.codes)])
    title = f"{found.name} 收到的文件" + (f"（{month.label}）" if month else "")
    click.echo(f"{title}：共 {len(rows)} 个")
    if rows:
        click.echo(render(["编号", "收到时间", "时间依据", "文件", "类别", "统计期间", "结果", "问题代码"], rows))


@click.command()
@click.argument("arrival_id", metavar="编号", type=int)
@click.option("--reason", required=True, metavar="文本", help="撤销原因（必填，会写入台账和给单位的回执）。")
@click.option("--json", "as_json", is_flag=True, help="输出 JSON（供脚本使用）。")
@click.pass_context
def void(ctx, arrival_id: int, reason: str, as_json: bool):
    """撤销一份误受理的报表（附件2、重点任务推进情况表或工作材料）。

    报表不会被删除：台账记下撤销的时间和原因，原文件仍在存档中；该单位该月此前受理的同类文件
    （如有）重新生效，单位的 回执/ 文件夹中会收到撤销通知。是否按时仍以首次受理时间为准；
    若撤销的正是首次受理的报表，则改以剩下的最早受理报表为准（可能因此变为迟报），并会提示。
    编号用 annex2 history 查看。撤销后请重新运行 annex2 merge 更新汇总表。

    \b
    示例：
        annex2 history --unit 执法大队 --month 2023-05          # 先查编号
        annex2 void 17 --reason "误收：这是物流中心的表格"
    """
    from ..intake.corrections import VoidRefused, timeliness_for
    from ..intake.corrections import void as do_void
    from ..intake.receipts import timeliness_line
    from ..storage.supersession import FileKind

    cfg = load_config(ctx)
    try:
        with open_session(ctx, cfg, "void") as ledger:
            require_arrival(ledger, arrival_id, "用 annex2 history --unit 单位 查看编号")
            result = do_void(cfg, ledger, arrival_id, reason, now_in(cfg))
    except VoidRefused as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        click.echo(json.dumps(result.to_dict(cfg), ensure_ascii=False, indent=2))
        return
    a, tz = result.voided, cfg.bureau.tz
    annex2 = result.kind is FileKind.ANNEX2
    what = "" if annex2 else f"{result.kind.label} "
    click.echo(f"已撤销：{what}编号 {a.id} {a.unit} {a.year}年{a.month_to}月 “{a.original_name}”（{result.reason}）")
    if result.current_again:
        c = result.current_again
        click.echo(f"现在有效：编号 {c.id} “{c.original_name}”（{c.received_at.astimezone(tz):%Y-%m-%d %H:%M:%S} 受理）")
    else:
        click.echo(f"{a.unit} {a.year}年{a.month_to}月 现在没有有效{'报表' if annex2 else result.kind.label}。")
    t = timeliness_for(cfg, result.first_after)
    if annex2 and result.timeliness_changed:
        click.echo("注意：撤销的是该月首次受理的报表，是否按时改以剩下的最早受理报表为准：" +
                   (timeliness_line(cfg, t) if t else "现已无报表（到期后即为逾期未报）"), err=True)
    click.echo(f"回执：{result.receipt}")
    click.echo(f"请运行 annex2 merge --month {a.year}-{a.month_to:02d} 更新汇总表。", err=True)
