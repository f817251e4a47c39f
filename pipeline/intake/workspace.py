"""Lays out a working folder: config.toml, inbox/ with a sub-folder per unit, outbox/, archive/, the template."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from ..core import config as config_mod
from ..core import form
from ..core.files import INSTRUCTIONS_NAME, RECEIPTS_DIR
from ..core.months import Month
from ..core.textable import wrap


class WorkspaceExists(Exception):
    "The folder already has a config.toml"


@dataclass(frozen=True)
class Layout:
    root: Path
    created: tuple[Path, ...]
    config: config_mod.Config


def _due(d: config_mod.Deadline) -> str:
    """A deadline rule as a unit reads it: “每月 16 日前（当天 24 时前都算按时）”."""
    month = {0: "每月", 1: "次月"}.get(d.month_offset, f"报送月份之后第 {d.month_offset} 个月的")
    return (f"{month} {d.day} 日前" + ("（当天 24 时前都算按时）" if d.inclusive else "（当天 0 时起即算迟报）")
            + ("；截止日逢法定节假日或周末，顺延到下一个工作日" if d.holiday_shift else ""))


def instructions(cfg: config_mod.Config, unit_folder: str | None) -> str:
    """填报说明.txt (spec 12): the three monthly obligations — what to send, by which day, in which format, how to
    name the files, where the receipts appear, how to correct — for one unit's folder (`unit_folder`), or for the
    inbox root (None). Written from config, so it follows the clerk's settings (ensure_folders refreshes it)."""
    c = cfg.contact
    unit = cfg.unit_by_folder(unit_folder) if unit_folder else None
    example = unit.name if unit else cfg.units[0].name
    start = max(cfg.start, unit.first) if unit is not None and unit.first else cfg.start
    sample = Month(start.year, max(start.month, 5)) if start.month < 12 else start
    office = f"{cfg.bureau.name}{c.department.removeprefix('局')}" if c.department else cfg.bureau.name
    numbers = iter("一二三四")
    lines = [f"{cfg.bureau.short_name}交通运输系统安全生产月度报送 填报说明",
             f"（{unit.name}）" if unit else "（各单位通用。请把文件放入本单位自己的子文件夹，不要放在这里。）",
             "",
             (f"本文件夹是{unit.name}向{office}报送的专用文件夹，只有本单位和局里看得到。" if unit else
              f"收件箱中每个单位有一个以单位名称命名的子文件夹，是该单位向{office}报送的专用文件夹。"),
             f"从 {start.label} 起" + (f"到 {cfg.end.label} 止" if cfg.end else "") + "，每月报送以下几项：",
             "",
             f"{next(numbers)}、附件2 统计表（《{form.title(cfg.bureau.short_name)}》）",
             f"  · 截止时间：{_due(cfg.deadline)}。",
             f"  · 填写内容：当年 1月至本月的累计数（例如 {sample.month} 月填“{sample.year}年 1月至 {sample.month}月”）。"
             f"从 {start.label} 开始报送，之前的月份不用补报；统计期间也从 1 月算起，不是从开始报送的月份算起。",
             "    行业领域 7 行都要保留，没有的填 0；合计和整改率由系统自动计算。",
             f"  · 格式：用局里下发的模板 annex2.xlsx 填写，保存为 .xlsx（也收 .xls、.ods；不收 .csv 和 WPS 的 .et）。"
             f"“填报单位”写全称（例如“{example}”），并填写单位负责人、填表人和联系电话。",
             f"  · 文件名：例如“附件2_{example}_{sample.year}年{sample.month}月.xlsx”。",
             ""]
    if unit is None or unit.materials:
        lines += [f"{next(numbers)}、月度工作情况材料（盖章版和电子版都要报）",
                  f"  · 截止时间：{_due(cfg.materials)}。",
                  "  · 盖章版：盖章后扫描成 PDF（或拍成 JPG、PNG 图片）；电子版：Word 文档（.docx、.doc 或 .wps）。"
                  "两个版本都收到才算报齐，缺哪一版回执会写明。",
                  f"  · 文件名写明单位和月份，例如“{example}{sample.year}年{sample.month}月工作情况.docx”"
                  f"和“{example}{sample.year}年{sample.month}月工作情况（盖章）.pdf”。",
                  ""]
    lines += [f"{next(numbers)}、重点任务推进情况表（附件1 责任措施清单中本单位承担的任务）",
              f"  · 截止时间：{_due(cfg.tasks.deadline)}。",
              "  · 用局里每月下发的《重点任务推进情况表》（.xlsx）填写，表中列出本单位当月要报告的任务，"
              "逐项填写本月进展和完成情况（未启动、推进中、已完成）。",
              f"  · 文件名保持下发时的名称，例如“重点任务推进情况表_{example}_{sample.year}年{sample.month}月.xlsx”。",
              "",
              "回执",
              (f"  文件放入本文件夹后，系统处理完（一般几分钟内）会在本文件夹的“{RECEIPTS_DIR}”子文件夹里留下回执（.txt），"
               if unit else
               f"  文件放入本单位的子文件夹后，系统处理完（一般几分钟内）会在该文件夹的“{RECEIPTS_DIR}”子文件夹里留下回执（.txt），")
              + "写明：已受理（按时，或迟报几天）、被退回（原因和有误的单元格，表格另附一份标出错误的副本"
              "“…_错误标注.xlsx”）或重复报送。处理过的文件会从文件夹中移走，原件由局里存档，这是正常的。",
              "",
              "更正",
              "  发现报错了，或者被退回了：改好后把整份文件重新放入即可（文件名相同或不同都行），"
              "以最后收到的那一份为准，之前的原件都保留。是否按时，以第一次受理的时间为准。",
              "",
              "本说明由系统根据局里的设置生成，设置改变时会自动更新，请不要在本文件中修改。",
              f"联系人：{c.department} {c.person}  电话：{c.phone}  邮箱：{c.email}",
              ""]
    return "\r\n".join(_wrapped(lines))


def _wrapped(lines: list[str], width: int = 74) -> list[str]:
    """Lines of about `width` columns, 80 at most (Notepad does not wrap by default); a bullet's continuation lines
    are indented under its text."""
    out: list[str] = []
    for line in lines:
        body = line.lstrip(" ")
        indent = line[:len(line) - len(body)]
        hang = indent + ("  " if body.startswith("· ") else "")
        out += wrap(body, width, indent, hang) if body else [""]
    return out


_START_LINE = re.compile(r'^(start\s*=\s*)"[^"]*"', re.MULTILINE)


def with_start(text: str, start: Month) -> str:
    """The config text with [reporting] start set to `start` (the first `start = "…"` line is that key)."""
    return _START_LINE.sub(lambda m: f'{m.group(1)}"{start}"', text, count=1)


def init(root: Path, force: bool = False, config_text: str | None = None, start: Month | None = None) -> Layout:
    """Lay out the working folder. `start`: the month reporting starts ([reporting] start), normally the
    current month in the bureau's time, which the caller reads from its clock; None keeps the text's."""
    root = Path(root)
    cfg_path = root / config_mod.CONFIG_NAME
    if cfg_path.exists() and not force:
        raise WorkspaceExists(f"{cfg_path} 已存在，未做任何改动。如确需覆盖，请加 --force。")
    root.mkdir(parents=True, exist_ok=True)
    text = config_text if config_text is not None else config_mod.default_config_text()
    if start is not None:
        text = with_start(text, start)
    cfg = config_mod.parse(text, cfg_path)  # check before anything is written
    created: list[Path] = []
    cfg_path.write_text(text, encoding="utf-8")
    created.append(cfg_path)
    created += ensure_folders(cfg)
    from ..statistics.template import Header, write_template

    write_template(cfg.template, cfg.bureau.short_name, Header())
    created.append(cfg.template)
    if not cfg.task_list_path.exists():  # the clerk's own list: never overwritten, even with --force
        from ..tasks.task_list import write_task_list

        created.append(write_task_list(cfg.task_list_path))
    return Layout(root, tuple(created), cfg)


def ensure_folders(cfg: config_mod.Config) -> list[Path]:
    """Create the folders the config names (idempotent) and the units' instruction files."""
    made: list[Path] = []
    for folder in (cfg.inbox, cfg.outbox, cfg.archive, cfg.ledger.parent, cfg.template.parent):
        if not folder.exists():
            folder.mkdir(parents=True, exist_ok=True)
            made.append(folder)
    for unit in cfg.units:
        receipts = cfg.inbox / unit.folder / RECEIPTS_DIR
        if not receipts.exists():
            receipts.mkdir(parents=True, exist_ok=True)
            made.append(cfg.inbox / unit.folder)
        refresh(cfg.inbox / unit.folder / INSTRUCTIONS_NAME, instructions(cfg, unit.folder))
    refresh(cfg.inbox / INSTRUCTIONS_NAME, instructions(cfg, None))
    return made


def refresh(note: Path, text: str) -> bool:
    """Write an instructions file when it is missing or says something else (the file is ours: a changed
    deadline or contact reaches the units with the next ingest). UTF-8 with a BOM and CRLF, like the receipts,
    so any Notepad shows it. Never through a link (a unit's dangling link would make us write elsewhere), never
    over a folder of that name."""
    data = text.encode("utf-8-sig")
    if note.is_symlink() or (note.exists() and not note.is_file()):
        return False
    try:
        if note.exists() and note.read_bytes() == data:
            return False
        note.write_bytes(data)
    except OSError:  # a unit's folder the bureau may not write to: its instructions stay as they were
        return False
    return True


def start_month_warning(cfg: config_mod.Config, now: datetime) -> str | None:
    """Said by `init` when this month's first deadline has already passed: every unit would show as overdue for a
    month no one was asked to report (and be struck for it), unless the clerk moves the start on or chases it."""
    from ..core.deadlines import deadline
    from ..materials.state import materials_deadline

    month = cfg.start
    passed = [(label, due) for label, due in (("月度工作情况材料和重点任务推进情况表", materials_deadline(cfg, month)),
                                              ("安全生产督查情况统计表", deadline(cfg, month))) if now >= due.boundary]
    if not passed:
        return None
    what = "、".join(f"{label}（{due.last_day.month}月{due.last_day.day}日）" for label, due in passed)
    return (f"注意：本月的报送截止日已过：{what}。各单位本月都会显示为逾期未报并计入本年迟报/逾期次数；"
            f"如果本月不要求报送，请把 [reporting] start 改为下个月（\"{month.plus(1)}\"）。")
