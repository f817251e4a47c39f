"""Folders that belong to no one are not the clerk's root (issue 25 item 4).

Only the inbox root is the clerk's: there a form's typed 填报单位 (or an e-mail's sender) says whose it is. A
folder below the inbox is a unit's current folder (config `folder`), else one of:

- a unit's *former* folder: files came from it for that unit before (the ledger says so), or it is named as
  the unit is or was (its name or an alias — a unit's default folder is its name). After the clerk gives a
  unit a shorter `folder`, the old one stays writable by that unit; its files are judged as that unit's, with
  a note to the clerk — never by the name typed in the form (a unit filing as another unit);
- *unknown*: its files are held in the inbox, not judged, until the clerk moves them to a unit's folder or
  names the unit (`annex2 ingest FILE --unit U`).

`init` and `status` list such folders."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ..core.config import Config, Unit
from ..core.files import IGNORED, RECEIPTS_DIR, kind_of
from .collect import text_of_path

CURRENT, FORMER, UNKNOWN = "current", "former", "unknown"


@dataclass(frozen=True)
class Owner:
    folder: str  # the folder's name straight below the inbox
    kind: str  # current | former | unknown
    unit: Unit | None = None

    @property
    def held_reason(self) -> str:
        return (f"文件夹“{self.folder}”不属于任何单位（不是 config.toml 中某个单位的 folder），文件暂不处理："
                "请把它移到报送单位的文件夹，或运行 annex2 ingest 该文件 --unit 单位")

    @property
    def note(self) -> str:
        assert self.unit is not None
        return (f"来自“{self.folder}”文件夹——{self.unit.name}原来的文件夹（现在是“{self.unit.folder}”），"
                f"按{self.unit.name}的文件处理")


class Folders:
    """Who owns each folder straight below the inbox: from config, and (when given) the ledger's history."""

    def __init__(self, cfg: Config, ledger=None):
        self.cfg = cfg
        self.current = {u.folder: u for u in cfg.units}
        self.former: dict[str, Unit] = {}
        if ledger is not None:
            self._from_history(ledger)
        for unit in cfg.units:  # a unit's default folder is its name: its name or an alias may be its old folder
            for text in (unit.name, *unit.aliases):
                if text not in self.current:
                    self.former.setdefault(text, unit)

    def _from_history(self, ledger) -> None:
        """The folder each inbox arrival came from, and its unit then (the latest arrival's, if it changed)."""
        try:
            inbox = self.cfg.inbox.resolve().relative_to(self.cfg.root.resolve()).as_posix()
        except ValueError:
            return  # an inbox outside the working folder: its paths are recorded absolute, not looked up here
        prefix = text_of_path(inbox) + "/"
        for folder, owner, _id in ledger.inbox_folder_owners(prefix):
            unit = self.cfg.unit_named(owner)
            if unit is not None and folder not in self.current:
                self.former.setdefault(folder, unit)

    def owner(self, folder: str) -> Owner:
        if folder in self.current:
            return Owner(folder, CURRENT, self.current[folder])
        if folder in self.former:
            return Owner(folder, FORMER, self.former[folder])
        return Owner(folder, UNKNOWN)

    def of_path(self, path: Path) -> Owner | None:
        """The owner of the folder below the inbox a file lies in; None for the root (the clerk's) or outside."""
        try:
            rel = Path(os.path.abspath(path.parent)).resolve().relative_to(self.cfg.inbox.resolve())
        except (ValueError, OSError):
            return None
        return self.owner(text_of_path(rel.parts[0])) if rel.parts else None

    def foreign(self) -> list[tuple[Owner, int]]:
        """Every folder below the inbox that is not a unit's current folder, with how many files wait in it."""
        out = []
        try:
            names = sorted(os.listdir(self.cfg.inbox))
        except OSError:
            return []
        for name in names:
            path = self.cfg.inbox / name
            if name.startswith(".") or name == RECEIPTS_DIR or name in self.current or not path.is_dir() \
                    or path.is_symlink():
                continue
            files = 0
            for dirpath, dirnames, filenames in os.walk(path, followlinks=False):
                dirnames[:] = [d for d in dirnames if d != RECEIPTS_DIR and not d.startswith(".")]
                files += sum(1 for f in filenames if kind_of(Path(dirpath) / f, self.cfg.inbox) != IGNORED)
            out.append((self.owner(text_of_path(name)), files))
        return out


def foreign_lines(folders: list[tuple[Owner, int]]) -> list[str]:
    """What `status` and `init` print about them (empty when there are none)."""
    if not folders:
        return []
    lines = [f"注意：收件箱中有 {len(folders)} 个文件夹不是任何单位现在的文件夹："]
    for owner, files in folders:
        if owner.kind == FORMER:
            assert owner.unit is not None
            lines.append(f"  {owner.folder}/ —— {owner.unit.name}原来的文件夹（现在是“{owner.unit.folder}”），"
                         f"其中 {files} 个文件按{owner.unit.name}的文件处理；不再需要时请删除或收回该单位的权限")
        else:
            lines.append(f"  {owner.folder}/ —— 不属于任何单位，其中 {files} 个文件暂不处理：请把文件移到报送单位的"
                         "文件夹，或运行 annex2 ingest 文件 --unit 单位")
    return lines
