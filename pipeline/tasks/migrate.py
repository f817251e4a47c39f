"""Bringing a working folder's task list up to the list the current version writes (issue 23): the first
version transcribed Annex 1's OCR-garbled table; this one follows the plan's text under 二 (tasks_list.seed_rows).

A working folder keeps the list its clerk edited (templates/annex1_tasks.xlsx) until the clerk asks:

    differences(cfg, task_list)   the rows whose responsible units differ from the new default, and the
                                  measures the folder's list lacks (`annex2 tasks list` shows them)
    plan_replacement(old, new)    the new list with the folder's ids and 完成时限 kept where a row is the
                                  same measure, and the clerk's own rows kept (pure: rows in, rows out)
    config_additions(cfg)         the [tasks] lines the new list needs that the folder's config.toml lacks
    add_to_config(text, ...)      config.toml's text with those lines inserted

`annex2 tasks init --replace` (cli_tasks.py) puts them together: the old workbook and config.toml are kept
beside as backups, nothing is lost.
"""
from __future__ import annotations

import dataclasses
import difflib
import re
from dataclasses import dataclass
from pathlib import Path

from ..core.config import Config, defaults
from .task_list import ONGOING_WORD, BadUnits, TaskList, cell_text, find_header, resolve_units, seed_rows

V1_IDS = frozenset(f"T{n:02d}" for n in range(1, 24))  # the first list's ids: the same 23 measures as now
SAME_MEASURE = 0.5  # difflib ratio of two 具体措施 texts above which an old row of the same id is the same measure
OTHER_MEASURE = 0.7  # … for an id the first list did not have (a row the clerk added may carry it)
MOVED_MEASURE = 0.9  # a row of another id holding (nearly) the default's very text: the measure, renumbered


@dataclass(frozen=True)
class Difference:
    id: str
    name: str
    kind: str  # units | missing
    ours: tuple[tuple[str, ...], tuple[str, ...]] | None  # (lead, implementing) in the folder's list
    theirs: tuple[tuple[str, ...], tuple[str, ...]]  # … in the new default

    def text(self) -> str:
        def side(lead_units) -> str:
            lead, units = lead_units
            return f"牵头：{'、'.join(lead) or '无'}；落实：{'、'.join(units) or '无'}"

        if self.kind == "missing":
            return f"{self.id}“{self.name}”：清单中没有这一措施（方案正文有：{side(self.theirs)}）"
        return f"{self.id}“{self.name}”：清单为 {side(self.ours)}；方案正文为 {side(self.theirs)}"

    def to_dict(self) -> dict:
        return {"id": self.id, "name": self.name, "kind": self.kind,
                "list": {"lead": list(self.ours[0]), "units": list(self.ours[1])} if self.ours else None,
                "default": {"lead": list(self.theirs[0]), "units": list(self.theirs[1])}}


def with_default_names(cfg: Config) -> Config:
    """`cfg` with the default config's [tasks.names] and untracked added where the folder's config lacks them: the
    default list's 责任单位 (局属各单位, 局机关党支部) resolve even in a folder made before they existed."""
    base = defaults(cfg.root).tasks
    have = {spelling for spelling, _u in cfg.tasks.names}
    names = cfg.tasks.names + tuple((s, u) for s, u in base.names if s not in have)
    untracked = cfg.tasks.untracked + tuple(u for u in base.untracked if u not in cfg.tasks.untracked)
    return dataclasses.replace(cfg, tasks=dataclasses.replace(cfg.tasks, names=names, untracked=untracked))


def differences(cfg: Config, task_list: TaskList) -> list[Difference]:
    """Rows of the folder's list whose lead or implementing units differ from the new default's row with the same
    id, and the default's measures the list lacks. Empty when the list is the new default (or the clerk's edits
    touch no units)."""
    wide = with_default_names(cfg)
    out = []
    for row in seed_rows():
        try:
            lead, units, _untracked = resolve_units(row["units"], wide)
        except BadUnits:
            continue  # a unit the folder removed: nothing to compare
        task = task_list.by_id.get(row["id"])
        if task is not None and not _same_measure({"id": task.id, "measure": task.measure}, row):
            task = None  # the clerk's own row holds this id
        if task is None:  # the measure under another id (`tasks init --replace` renumbered it)?
            task = next((t for t in task_list.tasks if _ratio(t.measure, row["measure"]) >= MOVED_MEASURE), None)
        if task is None:
            out.append(Difference(row["id"], row["name"], "missing", None, (lead, units)))
        elif (set(task.lead), set(task.units)) != (set(lead), set(units)):
            out.append(Difference(task.id, row["name"], "units", (task.lead, task.units), (lead, units)))
    return out


def read_rows(cfg: Config, path: Path) -> list[dict[str, str]]:
    """The rows of a task list workbook as written (no window or unit is checked): the old list to replace."""
    sheet, header, cols = find_header(cfg, path)
    out = []
    for values in sheet.rows[header + 1:]:
        cells = {k: cell_text(values[c]) if c < len(values) else "" for k, c in cols.items()}
        if any(cells.values()):
            out.append(cells)
    return out


@dataclass
class Replacement:
    rows: list[dict[str, str]]
    kept_windows: list[str]  # "T18：保留清单中的完成时限“4月底”（方案附件1为“12月底”）"
    kept_rows: list[str]  # the clerk's own rows, kept at the end
    renumbered: list[str]  # new measures given another id because the clerk's row has theirs


def _window(text: str) -> str:
    return ONGOING_WORD if not text.strip() else re.sub(r"\s+", "", text)


def _ratio(a: str, b: str) -> float:
    return difflib.SequenceMatcher(None, a, b).ratio()


def _same_measure(old: dict[str, str], new: dict[str, str]) -> bool:
    ratio = _ratio(old.get("measure", ""), new.get("measure", ""))
    return ratio >= (SAME_MEASURE if old["id"] in V1_IDS else OTHER_MEASURE)


def plan_replacement(old: list[dict[str, str]], new: list[dict[str, str]]) -> Replacement:
    """The new list, keeping what the clerk decided: a row of the old list with the same id and the same measure
    keeps its id and its 完成时限 (when the clerk changed it); old rows that are no measure of the new list (the
    clerk's own) are kept at the end with their ids; a new measure whose id such a row holds gets the next free id."""
    by_id = {r["id"].strip().upper(): {**r, "id": r["id"].strip().upper()} for r in old if r.get("id", "").strip()}
    matched = {i for i, r in by_id.items() if any(n["id"] == i and _same_measure(r, n) for n in new)}
    taken = set(by_id)
    numbers = [int(m.group(1)) for i in taken | {n["id"] for n in new} if (m := re.fullmatch(r"T(\d+)", i))]
    next_n = max(numbers, default=0) + 1
    rows, kept_windows, renumbered = [], [], []
    for n in new:
        row = dict(n)
        if n["id"] in matched:
            mine = by_id[n["id"]]
            if _window(mine.get("window", "")) != _window(n.get("window", "")):
                row["window"] = mine.get("window", "")
                kept_windows.append(f"{n['id']}：保留清单中的完成时限“{_window(mine.get('window', ''))}”"
                                    f"（方案附件1为“{_window(n.get('window', ''))}”）")
        elif n["id"] in taken:  # the clerk's own row holds this id: the new measure takes the next free one
            row["id"] = f"T{next_n:02d}"
            renumbered.append(f"{n['id']}“{n['name']}”编为 {row['id']}（{n['id']} 是清单中你单位自己加的一行）")
            next_n += 1
        rows.append(row)
    own = [r for i, r in by_id.items() if i not in matched]
    kept_rows = [f"{r['id']}“{r.get('name', '')}”" for r in own]
    for r in own:
        rows.append({**r, "note": r.get("note") or "本单位在清单中自行增加的任务（替换清单时保留）"})
    return Replacement(rows, kept_windows, kept_rows, renumbered)


def config_additions(cfg: Config) -> tuple[list[tuple[str, tuple[str, ...]]], list[str]]:
    """The default [tasks.names] entries and [tasks] untracked names the folder's config lacks (by spelling)."""
    base = defaults(cfg.root).tasks
    have = {spelling for spelling, _u in cfg.tasks.names}
    names = [(s, u) for s, u in base.names if s not in have]
    untracked = [u for u in base.untracked if u not in cfg.tasks.untracked]
    return names, untracked


def _toml_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def add_to_config(text: str, names: list[tuple[str, tuple[str, ...]]], untracked: list[str],
                  present_untracked: tuple[str, ...]) -> str:
    """config.toml's text with the [tasks.names] entries and the untracked names added, each right under its
    table's header (a key there belongs to that table); a missing table is added at the end."""
    lines = text.splitlines(keepends=True)
    newline = "\r\n" if text.endswith("\r\n") else "\n"

    def header(name: str) -> int | None:
        return next((i for i, line in enumerate(lines) if re.match(rf"^\s*\[\s*{re.escape(name)}\s*\]", line)), None)

    if names:
        entries = [f"{_toml_string(s)} = [{', '.join(_toml_string(u) for u in units)}]"
                   f"  # annex2 tasks init --replace 加入（方案正文的写法）{newline}" for s, units in names]
        at = header("tasks.names")
        if at is None:
            lines += [newline, f"[tasks.names]{newline}", *entries]
        else:
            lines[at + 1:at + 1] = entries
    if untracked:
        every = [*present_untracked, *untracked]
        line = (f"untracked = [{', '.join(_toml_string(u) for u in every)}]"
                f"  # 不是报送单位的责任单位：照原文保留，不跟踪{newline}")
        existing = next((i for i, text_line in enumerate(lines) if re.match(r"^\s*untracked\s*=", text_line)), None)
        at = header("tasks")
        if existing is not None:
            lines[existing] = line
        elif at is None:
            lines += [newline, f"[tasks]{newline}", line]
        else:
            lines.insert(at + 1, line)
    out = "".join(lines)
    return out if out.endswith(("\n", "\r\n")) or not out else out + newline
