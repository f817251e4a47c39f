"""`annex2 fetch`: the units' e-mails from the bureau's mailbox (spec 14)."""
from __future__ import annotations

import click

from .printers import print_report
from .support import echo_json, load_config, now_in, open_session


@click.command()
@click.option("--json", "as_json", is_flag=True, help="输出 JSON 摘要（供脚本使用），而不是文字。")
@click.pass_context
def fetch(ctx, as_json: bool):
    """从本局邮箱收取各单位发来的邮件，并像保存到收件箱的邮件一样处理。

    按 config.toml 中 [mail] 的设置登录邮箱（IMAP），收取尚未收过的邮件：原邮件存档，
    按发件邮箱认定单位，逐个附件校验、记入台账、写回执；收到时间以邮箱服务器收到邮件的
    时间为准。不属于任何单位邮箱的邮件列为“待认领”（annex2 status 中可见），在
    config.toml 中把该邮箱加到单位的 emails 后，下次收取时按原收到时间处理。
    重复运行不会重复记录，也不会重复回复。

    退出状态：全部正常为 0；有邮件或附件被退回、邮件过大、邮箱无法连接或登录失败时为 1。

    \b
    示例：
        set ANNEX2_MAIL_PASSWORD=授权码     # cmd.exe；或存入系统凭据管理器
        annex2 fetch                        # 收取一次
        annex2 fetch --json > 收取结果.json  # JSON 摘要
    """
    from ..intake.fetch import fetch as do_fetch
    from ..intake.fetch import fetch_summary, too_big_line
    from ..intake.workspace import ensure_folders
    from ..reading.reader import check_xml_defenses

    check_xml_defenses()
    cfg = load_config(ctx)
    if cfg.mail is None:
        click.echo("config.toml 中没有 [mail] 配置：请按 config.toml 中的说明填写本局邮箱（IMAP）的设置后再运行 "
                   "annex2 fetch。", err=True)
        ctx.exit(2)
    ensure_folders(cfg)
    with open_session(ctx, cfg, "fetch") as ledger:
        result = do_fetch(cfg, ledger, lambda: now_in(cfg))
    if as_json:
        echo_json(fetch_summary(cfg, result))
        ctx.exit(0 if result.ok else 1)
    if result.error:
        click.echo(f"错误：{result.error}", err=True)
    for r in result.batch.files:
        print_report(r)
    for row in result.too_big:
        click.echo(too_big_line(cfg, row))
    for row in result.unclaimed:
        click.echo(f"待认领  {row.sender or '发件人不明'}  {row.received_at.astimezone(cfg.bureau.tz):%Y-%m-%d %H:%M}  "
                   f"{row.subject}（该邮箱不属于任何单位：确认后把它加到 config.toml 中该单位的 emails，下次收取时处理）")
    for text in result.reply_errors:
        click.echo(f"错误：{text}", err=True)
    click.echo(result.summary, err=True)
    ctx.exit(0 if result.ok else 1)
