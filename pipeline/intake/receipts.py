"""Receipts (回执): what a unit reads in its own 回执/ folder a few seconds after dropping a file."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from ..core import form
from ..core.config import Config
from ..core.files import RECEIPTS_DIR
from ..core.issues import CATALOGUE
from ..core.months import period_label
from ..core.safe_names import display_name, safe_filename

OUTCOME_TEXT = {
    "accepted": "已受理",
    "rejected": "退回 —— 请按下列说明修改后重新报送",
    "duplicate": "重复报送 —— 与已受理的文件内容完全相同，未重复计入",
    "material": "已收到 —— 月度工作情况材料",
    "email": "已收到邮件",
    "failed": "系统处理出错，已记录 —— 请联系局安全监督股（不需要重新报送，系统会再处理一次）",
}
# The one catalogue of outcomes in Chinese: the console/log word, the receipt's short and long forms.
OUTCOME_LABEL = {"accepted": "受理", "rejected": "退回", "duplicate": "重复", "material": "材料",
                 "resumed": "续完", "failed": "失败", "email": "邮件"}
OUTCOME_SHORT = {"accepted": "已受理", "rejected": "退回", "duplicate": "重复报送，未重复计入",
                 "material": "已收到（月度工作材料）", "failed": "系统处理出错，已记录"}


def receipt_folder(cfg: Config, folder_unit: str | None, unit: str | None) -> Path:
    """A unit's own 回执/ folder when the file came from its inbox folder; otherwise the clerk's outbox."""
    if folder_unit:
        owner = next(u for u in cfg.units if u.name == folder_unit)
        folder = cfg.inbox / owner.folder / RECEIPTS_DIR
        if _own_folder(folder):
            return folder
        unit = owner.name  # a 回执 that is a link (or junction) elsewhere: never written through
    return cfg.outbox / "receipts" / safe_filename(unit or "未知单位")


def _own_folder(folder: Path) -> bool:
    """The unit's 回执 is a real folder inside its own folder (or not there yet), not a link or junction a
    unit made to have its receipts and marked-up copies written into another unit's inbox."""
    if folder.is_symlink():
        return False
    if not folder.exists():
        return True
    try:
        return folder.resolve() == folder.parent.resolve() / folder.name
    except OSError:
        return False


def receipt_name(received_at: datetime, original_name: str, arrival_id: int) -> str:
    """Unique per arrival (its id in the name: two files of one name arriving in the same second keep a
    receipt each, and their marked-up copies too), and short enough that the marked-up copy's name beside it
    (`…_错误标注.xlsx`) still fits the filesystem."""
    stem = Path(original_name).stem
    return safe_filename(f"回执_{received_at:%Y%m%d-%H%M%S}_{arrival_id}_{stem}.txt", max_bytes=200)


@dataclass(frozen=True)
class Replaced:
    """The submission a correction replaces (or, after a void, the one that is current again)."""

    arrival_id: int
    name: str
    received_at: datetime


@dataclass(frozen=True)
class Timeliness:
    """What decides 按时/迟报 for the month: the first accepted submission's received time against the deadline."""

    deadline_day: date  # the last day on which a report is on time
    first_received_at: datetime
    days_late: int | None  # None or 0: on time


def _when(cfg: Config, moment: datetime) -> str:
    return f"{moment.astimezone(cfg.bureau.tz):%Y-%m-%d %H:%M:%S}"


def timeliness_line(cfg: Config, t: Timeliness) -> str:
    """报送情况：按时 / 迟报 N 天, with the deadline."""
    due = f"截止日期 {t.deadline_day.year}年{t.deadline_day.month}月{t.deadline_day.day}日"
    if t.days_late:
        return f"报送情况：迟报 {t.days_late} 天（{due}，首次受理于 {_when(cfg, t.first_received_at)}）"
    return f"报送情况：按时（{due}）"


def replaces_line(cfg: Config, replaced: Replaced, first_received_at: datetime) -> str:
    """What a correction replaces, and that timeliness stays with the first accepted submission (spec 8.6)."""
    return (f"本表为更正报送：替换 {_when(cfg, replaced.received_at)} 受理的“{replaced.name}”（编号 {replaced.arrival_id}），"
            f"原表数据不再计入汇总；是否按时仍以首次受理时间 {_when(cfg, first_received_at)} 为准。")


def receipt_text(cfg: Config, *, original_name: str, received_at: datetime, received_rule: str, unit: str | None,
                 year: int | None, month_from: int | None, month_to: int | None, outcome: str, issues: list[dict],
                 duplicate_of_time: datetime | None = None, markup_name: str | None = None,
                 markup_note: str | None = None, attachments: list[str] | None = None, timeliness: Timeliness | None = None,
                 replaces: Replaced | None = None) -> str:
    tz = cfg.bureau.tz
    period = f"{period_label(year, month_from, month_to)}（累计数）" if year and month_to else "—"
    lines = [
        f"回执 —— {form.title(cfg.bureau.short_name)}",
        "",
        f"文件：{display_name(original_name)}",  # a line break in a name must not forge a line of the receipt
        f"收到时间：{received_at.astimezone(tz):%Y-%m-%d %H:%M:%S}（{cfg.bureau.timezone}）",
        f"填报单位：{unit or '未能确定'}",
        f"统计期间：{period}",
        f"结果：{OUTCOME_TEXT[outcome]}",
    ]
    if duplicate_of_time is not None:
        lines.append(f"（原文件于 {duplicate_of_time.astimezone(tz):%Y-%m-%d %H:%M:%S} 受理）")
    if outcome == "accepted" and timeliness is not None:
        lines.append(timeliness_line(cfg, timeliness))
    if outcome == "accepted" and replaces is not None:
        lines.append(replaces_line(cfg, replaces, timeliness.first_received_at if timeliness else replaces.received_at))
    errors = [i for i in issues if i["severity"] == "error"]
    warnings = [i for i in issues if i["severity"] != "error"]
    for title, group in (("需要改正的错误", errors), ("请核对的提示（不影响受理）", warnings)):
        if group:
            lines += ["", f"{title}："]
            lines += [f"  {n}. {CATALOGUE[i['code']][1]} —— {display_name(i['message'], 2000)}（{i['code']}）"
                      for n, i in enumerate(group, 1)]
    if markup_name:
        lines += ["", f"有误的单元格已在“{display_name(markup_name)}”中标红并加了批注。"]
    if markup_note:  # the copy kept not the unit's own workbook (a cap hit), or none could be made
        lines += [markup_note] if markup_name else ["", markup_note]
    if attachments:
        lines += ["", "邮件中的附件："] + [f"  - {display_name(a)}" for a in attachments]
    if outcome == "accepted":
        lines += ["", "如需更正，请直接报送更正后的表格：新表格会替换本表的数据，报送时间仍以首次受理为准。"]
    c = cfg.contact
    lines += ["", f"联系人：{c.department} {c.person}  电话：{c.phone}  邮箱：{c.email}", ""]
    return "\r\n".join(lines)


def void_receipt_text(cfg: Config, *, arrival_id: int, original_name: str, received_at: datetime, unit: str,
                      year: int, month_from: int | None, month_to: int, reason: str, voided_at: datetime,
                      current_again: Replaced | None, timeliness: Timeliness | None,
                      kind_label: str = "附件2统计表") -> str:
    """The unit's notice that a file that counted was withdrawn by the clerk (annex2 void): an Annex 2, or
    (`kind_label`) a progress form or a work material — each replaced only by its own kind."""
    annex2 = kind_label == "附件2统计表"
    period = f"{period_label(year, month_from, month_to)}（累计数）" if annex2 else f"{year}年{month_to}月"
    what = "报表" if annex2 else kind_label
    lines = [
        f"回执 —— {form.title(cfg.bureau.short_name) if annex2 else kind_label}",
        "",
        f"撤销通知：已受理的{what}被撤销（编号 {arrival_id}）",
        "",
        f"文件：{display_name(original_name)}",
        f"原收到时间：{_when(cfg, received_at)}（{cfg.bureau.timezone}）",
        f"填报单位：{unit}",
        f"{'统计期间' if annex2 else '报告月份'}：{period}",
        f"撤销时间：{_when(cfg, voided_at)}",
        f"撤销原因：{reason}",
        "",
    ]
    if current_again is not None:
        lines.append(f"现以 {_when(cfg, current_again.received_at)} 受理的“{display_name(current_again.name)}”"
                     f"（编号 {current_again.arrival_id}）为本单位{year}年{month_to}月的有效{what}。")
    else:
        lines.append(f"本单位{year}年{month_to}月目前没有有效{what}，请尽快重新报送。")
    if timeliness is not None:
        lines.append(timeliness_line(cfg, timeliness))
    c = cfg.contact
    lines += ["", "原文件仍保存在存档中，未被删除。如有疑问请联系：",
              f"联系人：{c.department} {c.person}  电话：{c.phone}  邮箱：{c.email}", ""]
    return "\r\n".join(lines)
