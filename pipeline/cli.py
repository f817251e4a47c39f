"""The `annex2` command: parses options, calls the library, prints. No logic of its own."""
from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path

import click

from . import config as config_mod
from .months import BadMonth, Month


class MonthType(click.ParamType):
    name = "YYYY-MM"

    def convert(self, value, param, ctx):
        if isinstance(value, Month):
            return value
        try:
            return Month.parse(value)
        except BadMonth as exc:
            self.fail(str(exc), param, ctx)


MONTH = MonthType()


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


def now_in(cfg: config_mod.Config) -> datetime:
    return datetime.now(cfg.bureau.tz)


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


def _print_validation(path: str, v, out=click.echo) -> None:
    period = f"{v.year}年{v.month_from}月至{v.month_to}月" if v.year and v.month_to else "期间不明"
    mark = "✓ 受理" if v.ok else "✗ 退回"
    out(f"{mark}  {path}  {v.unit or v.declared_unit or '单位不明'}  {period}")
    for it in v.issues:
        out(f"    {'错误' if it.severity == 'error' else '提示'} {it.code}  {it.message}")


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

    from .files import IGNORED, MATERIAL, WORKBOOK, kind_of
    from .markup import write_markup
    from .reader import check_xml_defenses
    from .validate import validate_bytes

    check_xml_defenses()
    cfg = load_config(ctx)
    now = now_in(cfg)
    reports, rejected = [], False
    for path in files:
        kind = kind_of(path, cfg.inbox)
        if kind != WORKBOOK:
            what = {IGNORED: "ignored", MATERIAL: "material"}.get(kind, kind)
            reports.append({"path": str(path), what: True, "ok": True, "unit": None, "year": None,
                            "month_from": None, "month_to": None, "issues": [], "values": {}})
            if not as_json:
                click.echo(f"- {'忽略' if kind == IGNORED else '附件材料（不是表格，不校验）'}  {path}")
            continue
        folder_unit = _folder_unit(cfg, path)
        v = validate_bytes(path.read_bytes(), cfg, now, folder_unit)
        rejected |= not v.ok
        reports.append(v.to_dict(str(path)))
        if not as_json:
            _print_validation(str(path), v)
        if markup is not None and not v.ok:
            out = write_markup(markup / f"{path.stem}_错误标注.xlsx", v.workbook, v.issues, path.name)
            click.echo(f"标注副本：{out}", err=True)
    if as_json:
        click.echo(json.dumps({"files": reports}, ensure_ascii=False, indent=2))
    ctx.exit(1 if rejected else 0)


def _folder_unit(cfg, path: Path):
    """The unit owning the inbox sub-folder the file sits in, if it sits in one."""
    try:
        rel = path.resolve().relative_to(cfg.inbox.resolve())
    except ValueError:
        return None
    return cfg.unit_by_folder(rel.parts[0]) if len(rel.parts) > 1 else None


def main() -> None:
    cli(prog_name="annex2")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
