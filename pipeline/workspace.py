"""Lays out a working folder: config.toml, inbox/ with a sub-folder per unit, outbox/, archive/, the template."""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from . import config as config_mod
from . import form
from .months import Month

RECEIPTS_DIR = "回执"
INSTRUCTIONS_NAME = "填报说明.txt"  # reserved: ingest ignores it wherever it lies


class WorkspaceExists(Exception):
    "The folder already has a config.toml"


@dataclass(frozen=True)
class Layout:
    root: Path
    created: tuple[Path, ...]
    config: config_mod.Config


def instructions(cfg: config_mod.Config, unit_folder: str | None) -> str:
    c = cfg.contact
    where = f"本文件夹（{unit_folder}）" if unit_folder else "本文件夹中属于本单位的子文件夹"
    return f"""{form.title(cfg.bureau.short_name)} 填报说明

1. 请使用本系统下发的模板 annex2.xlsx（附件2）填写，或按附件2的表样自行制表。
2. 填写 1月至本月的累计数；行业领域 7 行都要保留，没有的填 0 或留空；整改率和合计由系统自动计算。
3. 填报单位请写全称（例如“{cfg.units[0].name}”），并填写单位负责人、填表人、填报日期和联系电话。
4. 每月 {cfg.deadline.day} 日前将填好的表格（.xlsx、.xls 或 .ods）放入{where}。
5. 几秒钟后，“{RECEIPTS_DIR}”文件夹中会出现回执：写明已受理、退回（并标出有误的单元格）或重复报送。
   被退回的，请按回执修改后重新放入；更正后的表格会替换之前的数据，不影响按时报送的认定。
6. 盖章扫描件（PDF、图片）可以一并放入，系统会存档。

联系人：{c.department} {c.person}  电话：{c.phone}  邮箱：{c.email}
"""


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
    from .template import Header, write_template

    write_template(cfg.template, cfg.bureau.short_name, Header())
    created.append(cfg.template)
    if not cfg.task_list_path.exists():  # the clerk's own list: never overwritten, even with --force
        from .tasks_list import write_task_list

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
        note = cfg.inbox / unit.folder / INSTRUCTIONS_NAME
        if not note.exists() and not note.is_symlink():  # never written through a unit's (dangling) link
            note.write_text(instructions(cfg, unit.folder), encoding="utf-8")
    note = cfg.inbox / INSTRUCTIONS_NAME
    if not note.exists():
        note.write_text(instructions(cfg, None), encoding="utf-8")
    return made
