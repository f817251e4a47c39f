"""`annex2 materials …`: the monthly work materials (月度工作情况材料). Parses options, calls the library, prints."""
from __future__ import annotations

import json

import click

from ..core.months import Month
from .support import (
    MOMENT,
    MONTH,
    load_config,
    month_and_moment,
    now_in,
    open_session,
    require_arrival,
    writing_outputs,
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def materials():
    """月度工作情况材料（盖章版含电子版，每月 16 日前报送）：查看报送情况、更正文件类型、生成汇编。

    各单位把盖章版（盖章后扫描的 PDF 或图片）和电子版（Word 文档）放入本单位收件文件夹，
    系统按文件内容判断类型，按文件名或正文开头判断月份，并出具回执。

    \b
    示例：
        annex2 materials status --month 2023-05     # 5月各单位材料报送情况
        annex2 materials set-kind 42 盖章版         # 把 42 号文件改为盖章版
        annex2 materials pack --month 2023-05       # 生成5月材料汇编
    """


@materials.command("status")
@click.option("--month", type=MONTH, default=None, help="材料所属月份，格式 YYYY-MM（默认：--as-of 所在月份）。")
@click.option("--as-of", "as_of", type=MOMENT, default=None,
              help="按此时刻统计，只计此前收到的文件（默认：现在）。例如 2023-05-20 或 2023-05-20T18:00。")
@click.option("--json", "as_json", is_flag=True, help="输出 JSON（键名见说明文档）。")
@click.pass_context
def status_cmd(ctx, month: Month | None, as_of: str | None, as_json: bool):
    """各单位某月工作材料的报送情况：按时、迟报、逾期未齐（缺哪一版）、未到期，以及收到的每个文件。

    盖章版和电子版都收到才算报齐；报齐时间以补齐的那个文件的收到时间为准。
    同一版本后报的文件替换先报的（原件都保留），是否按时仍以首次报齐为准。

    \b
    示例：
        annex2 materials status --month 2023-05      # 5月材料报送情况（表格）
        annex2 materials status --month 2023-05 --as-of 2023-05-20 --json   # 截至5月20日，输出 JSON
    """
    from ..core.textable import render
    from ..materials.state import STATE_LABELS, materials_status

    cfg = load_config(ctx)
    month, when = month_and_moment(cfg, month, as_of)
    tz = cfg.bureau.tz
    with open_session(ctx, cfg, "materials status", lock=False) as ledger:
        result = materials_status(cfg, ledger, month, when)
    if as_json:
        click.echo(json.dumps(result.to_dict(tz), ensure_ascii=False, indent=2))
        return
    rows = []
    for s in result.units:
        files = "；".join(f"[{f.id}] {'盖章版' if f.kind == 'stamped' else '电子版'} {f.name}"
                         f"{'' if f.current else '（已被替换）'}" for f in s.files)
        note = s.note + (f"（另有 {len(s.attempts)} 个文件被退回）" if s.attempts else "")
        rows.append([s.unit, STATE_LABELS[s.state], note,
                     s.received_at.astimezone(tz).strftime("%Y-%m-%d %H:%M") if s.received_at else "", files])
    due = result.deadline.last_day
    click.echo(f"{month.label} 工作材料报送情况（截止 {due:%Y-%m-%d}，统计至 {when.astimezone(tz):%Y-%m-%d %H:%M}）")
    click.echo(render(["单位", "状态", "说明", "报齐时间", "文件（[编号] 类型 文件名）"], rows))
    click.echo(result.summary)


class KindType(click.ParamType):
    """盖章版 or 电子版 (the English keys stamped / electronic are kept as aliases, for scripts)."""

    name = "类型"

    def get_metavar(self, param, ctx=None) -> str:
        return "{盖章版|电子版}"

    def convert(self, value, param, ctx):
        from ..materials.classify import KIND_SHORT

        text = str(value).strip()
        for key, label in KIND_SHORT.items():
            if text in (key, label, label.removesuffix("版")):
                return key
        self.fail(f"“{value}” 不是材料类型，请写 盖章版 或 电子版", param, ctx)


@materials.command("set-kind")
@click.argument("file_id", metavar="文件编号", type=int)
@click.argument("kind", type=KindType())
@click.pass_context
def set_kind_cmd(ctx, file_id: int, kind: str):
    """更正一个材料文件的类型：盖章版或电子版。记入台账的事件日志。

    文件编号是 `annex2 materials status` 中方括号里的编号。例如某单位把带电子签章的 PDF
    命名为“工作情况.pdf”，系统按有文字层判为电子版，经办人核实后可改为盖章版。
    （也可写 stamped / electronic，与 盖章版 / 电子版 相同。）

    \b
    示例：
        annex2 materials set-kind 42 盖章版       # 42 号文件改为盖章版
        annex2 materials set-kind 43 电子版       # 43 号文件改为电子版
    """
    from ..materials.state import KIND_LABELS, NotAMaterial, set_kind

    cfg = load_config(ctx)
    with open_session(ctx, cfg, "materials set-kind", lock=False) as ledger:  # one SQLite transaction, as before
        require_arrival(ledger, file_id, "可用 annex2 materials status --month M 查看文件编号")
        try:
            before, after = set_kind(ledger, file_id, kind, now_in(cfg))
        except NotAMaterial as exc:
            raise click.BadParameter(str(exc), param_hint="文件编号") from None
        a = ledger.arrival(file_id)
    click.echo(f"已将 [{file_id}] {a.original_name}（{a.unit}）由{KIND_LABELS.get(before, '—')}改为{KIND_LABELS[after]}。")


@materials.command("pack")
@click.option("--month", type=MONTH, required=True, help="材料所属月份，格式 YYYY-MM。")
@click.option("--as-of", "as_of", type=MOMENT, default=None, help="按此时刻统计（默认：现在）。")
@click.pass_context
def pack_cmd(ctx, month: Month, as_of: str | None):
    """把某月各单位现行的材料复制到 outbox/YYYY-MM/材料/<单位>/，并生成 材料汇编_YYYY年M月.pdf：
    封面列出各单位报送了什么、何时报送、谁还缺，后面按单位顺序合并全部盖章版（PDF 和图片），便于打印或转发。

    \b
    示例：
        annex2 materials pack --month 2023-05      # 生成5月材料文件夹和材料汇编
    """
    from ..materials.pack import NoCjkFont, write_month_materials

    cfg = load_config(ctx)
    month, when = month_and_moment(cfg, month, as_of)
    # Without the folder lock, as before the move: the pack reads the ledger and sandboxes every stamped page, and
    # holding the lock that long would stop the watcher's batches for the whole of it.
    with writing_outputs(cfg), open_session(ctx, cfg, "materials pack", lock=False) as ledger:
        try:
            pack = write_month_materials(cfg, ledger, month, when, cfg.outbox, now_in(cfg))
        except NoCjkFont as exc:
            raise click.ClickException(str(exc)) from None
    click.echo(str(pack.pdf))
    click.echo(f"已生成材料汇编：共 {pack.pages} 页（封面 {pack.cover_pages} 页），复制文件 {len(pack.copies)} 个到 "
               f"{pack.folder}", err=True)
    for note in pack.not_joined:
        click.echo(f"未并入：{note}", err=True)
    for note in pack.notes:
        click.echo(f"注意：{note}", err=True)
