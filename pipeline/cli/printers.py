"""How the clerk reads a report on the terminal: one printer per report type (intake/report.py), each giving
the lines of one file — the outcome and the file first, then each issue in Chinese with its code last."""
from __future__ import annotations

from functools import singledispatch

import click

from ..core.months import period_label
from ..intake.receipts import OUTCOME_LABEL
from ..intake.report import FileReport, FileResult, IgnoredFile

MATERIAL_KIND = {"stamped": "盖章版", "electronic": "电子版"}
VALIDATE_MARK = {"duplicate": "✓ 重复", "email": "✓ 邮件", "failed": "✗ 出错"}


@singledispatch
def report_lines(report) -> list[str]:
    raise TypeError(f"no printer for {type(report).__name__}")


@report_lines.register
def _ignored(f: IgnoredFile) -> list[str]:
    return [f"- 忽略（锁文件、临时文件或系统文件）  {f.path}"]


@report_lines.register
def _judged(f: FileReport) -> list[str]:
    """One file `validate` judged."""
    unit = f.unit or "单位不明"
    if f.material and f.ok:
        kind = MATERIAL_KIND.get(f.material.get("kind"), "材料")  # type: ignore[arg-type]
        month = f"{f.year}年{f.month_to}月" if f.year and f.month_to else "月份不明"
        return [f"✓ 工作材料（{kind}）  {f.path}  {unit}  {month}"] + \
            [f"    提示：{it.message}（{it.code}）" for it in f.issues]
    period = period_label(f.year, f.month_from, f.month_to, missing="期间不明")
    mark = VALIDATE_MARK.get(f.outcome, "✓ 受理" if f.ok else "✗ 退回")
    return [f"{mark}  {f.path}  {unit}  {period}"] + [_issue_line(it) for it in f.issues]


@report_lines.register
def _ingested(r: FileResult) -> list[str]:
    """One file `ingest` (or `merge`, `fetch`) processed: outcome, unit, name, period; then each issue."""
    line = f"{OUTCOME_LABEL.get(r.outcome, r.outcome)}  {r.unit or '单位不明'}  {r.name}"
    if r.period:
        line += f"  {r.period}"
    lines = [line] + [_issue_line(it) for it in r.issues]
    if r.message:
        lines.append(f"    {r.message}")
    return lines


def _issue_line(it) -> str:
    return f"    {'错误' if it.severity == 'error' else '提示'}：{it.message}（{it.code}）"


def print_report(report) -> None:
    for line in report_lines(report):
        click.echo(line)
