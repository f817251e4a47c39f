"""Receipts (回执): what a unit reads in its own 回执/ folder a few seconds after dropping a file."""
from __future__ import annotations

from datetime import datetime
from pathlib import Path

from . import form
from .config import Config
from .issues import CATALOGUE
from .safe_names import display_name, safe_filename
from .workspace import RECEIPTS_DIR

OUTCOME_TEXT = {
    "accepted": "已受理",
    "rejected": "退回 —— 请按下列说明修改后重新报送",
    "duplicate": "重复报送 —— 与已受理的文件内容完全相同，未重复计入",
    "material": "已存档（附件材料，不是附件2表格，不作校验）",
    "email": "已收到邮件",
}


def receipt_folder(cfg: Config, folder_unit: str | None, unit: str | None) -> Path:
    """A unit's own 回执/ folder when the file came from its inbox folder; otherwise the clerk's outbox."""
    if folder_unit:
        owner = next(u for u in cfg.units if u.name == folder_unit)
        return cfg.inbox / owner.folder / RECEIPTS_DIR
    return cfg.outbox / "receipts" / safe_filename(unit or "未知单位")


def receipt_name(received_at: datetime, original_name: str) -> str:
    stem = Path(original_name).stem
    return safe_filename(f"回执_{received_at:%Y%m%d-%H%M%S}_{stem}.txt")


def receipt_text(cfg: Config, *, original_name: str, received_at: datetime, received_rule: str, unit: str | None,
                 year: int | None, month_from: int | None, month_to: int | None, outcome: str, issues: list[dict],
                 duplicate_of_time: datetime | None = None, markup_name: str | None = None,
                 attachments: list[str] | None = None) -> str:
    tz = cfg.bureau.tz
    period = f"{year}年{month_from}月至{month_to}月（累计数）" if year and month_to else "—"
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
    errors = [i for i in issues if i["severity"] == "error"]
    warnings = [i for i in issues if i["severity"] != "error"]
    for title, group in (("需要改正的错误", errors), ("请核对的提示（不影响受理）", warnings)):
        if group:
            lines += ["", f"{title}："]
            lines += [f"  {n}. [{i['code']}] {CATALOGUE[i['code']][1]} —— {display_name(i['message'], 2000)}"
                      for n, i in enumerate(group, 1)]
    if markup_name:
        lines += ["", f"有误的单元格已在“{display_name(markup_name)}”中标红并加了批注。"]
    if attachments:
        lines += ["", "邮件中的附件："] + [f"  - {display_name(a)}" for a in attachments]
    if outcome == "accepted":
        lines += ["", "如需更正，请直接报送更正后的表格：新表格会替换本表的数据，报送时间仍以首次受理为准。"]
    c = cfg.contact
    lines += ["", f"联系人：{c.department} {c.person}  电话：{c.phone}  邮箱：{c.email}", ""]
    return "\r\n".join(lines)
