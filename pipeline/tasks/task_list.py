"""The Annex 1 task list (责任措施清单): the seed's table as package data, the workbook the clerk keeps
(templates/annex1_tasks.xlsx), and reading that workbook back into tasks with windows and units (spec 11).

Nothing is guessed: a 完成时限 outside the grammar (task_window.py) or a 责任单位 name that is neither a
configured unit nor an alias is a problem naming its row and cell, and the list is not used until fixed.
"""
from __future__ import annotations

import re
import tomllib
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from importlib import resources
from pathlib import Path

from ..core.config import Config
from ..core.months import Month
from ..core.normalize import clean_text
from ..reading.locate import a1
from ..reading.reader import ReadProblem, SheetData, read_workbook
from .window import BadWindow, Window, parse_window

SHEET_NAME = "责任措施清单"
TITLE = "云溪区交通运输系统“打好安全生产翻身仗”交通运输行业责任措施清单"
COLUMNS = (("id", "编号", 7), ("project", "项目名称", 14), ("name", "任务名称", 16), ("units", "责任单位", 30),
           ("measure", "具体措施", 62), ("window", "完成时限", 11), ("note", "备注", 40))
LABELS = {key: label for key, label, _w in COLUMNS}
REQUIRED = ("id", "project", "name", "units", "measure", "window")  # 备注 is optional (lists made before it)
HEADER_ROW = 1  # 0-based: row 2 in Excel, under the title
LIST_VERSION = "2"  # 1: transcribed from the Annex 1 table; 2: from the plan's text under 二 (issue 23)
ONGOING_WORD = "长期坚持"  # how a blank 完成时限 is written and shown (the seed's word)


class TaskListError(Exception):
    "The task list cannot be used; `problems` holds one Chinese line per row and cell"

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("\n".join(problems))


class BadUnits(ValueError):
    "A 责任单位 text names a unit the config does not know, or is written in a way we do not read"


@dataclass(frozen=True)
class Task:
    id: str
    project: str
    name: str
    units_text: str  # 责任单位 as written in the list
    measure: str
    window: Window
    lead: tuple[str, ...]  # canonical unit names (…牵头)
    units: tuple[str, ...]  # implementing units (…落实, 按职责分工落实, 配合…), lead excluded
    row: int = 0  # the row in the workbook (1-based), for messages
    untracked: tuple[str, ...] = ()  # named in 责任单位 but not reporting units ([tasks] untracked): text only
    note: str = ""  # 备注: where the plan's Annex 1 table says otherwise

    @property
    def responsible(self) -> tuple[str, ...]:
        return self.lead + self.units

    def role(self, unit: str) -> str | None:
        return "lead" if unit in self.lead else ("implementing" if unit in self.units else None)

    def to_dict(self) -> dict:
        return {"id": self.id, "project": self.project, "name": self.name, "measure": self.measure,
                "units_text": self.units_text, **self.window.to_dict(), "lead": list(self.lead),
                "units": list(self.units), "untracked": list(self.untracked)}


@dataclass(frozen=True)
class TaskList:
    year: int
    tasks: tuple[Task, ...]
    source: str = ""  # the file it was read from, for messages

    @cached_property
    def by_id(self) -> dict[str, Task]:
        return {t.id: t for t in self.tasks}

    def of_unit(self, unit: str) -> list[Task]:
        return [t for t in self.tasks if unit in t.responsible]

    def active(self, unit: str, month: Month) -> list[Task]:
        """The unit's tasks whose window covers the month: the rows of its progress form."""
        return [t for t in self.of_unit(unit) if t.window.covers(month)]

    @property
    def responsible_units(self) -> list[str]:
        seen: dict[str, None] = {}
        for t in self.tasks:
            for u in t.responsible:
                seen.setdefault(u)
        return list(seen)

    def to_dict(self) -> dict:
        return {"year": self.year, "tasks": [t.to_dict() for t in self.tasks]}


# --- the seed's table ------------------------------------------------------------------------------------

def seed_rows() -> list[dict[str, str]]:
    """The seed's Annex 1, one dict per 具体措施 (id, project, name, units, measure, window)."""
    text = resources.files("pipeline.tasks").joinpath("defaults/annex1_tasks.toml").read_text(encoding="utf-8")
    return tomllib.loads(text)["tasks"]


def write_task_list(path: Path, rows: list[dict[str, str]] | None = None) -> Path:
    """The clerk's task list workbook: a title, the six columns, one row per measure (values only)."""
    rows = seed_rows() if rows is None else rows
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    import xlsxwriter

    wb = xlsxwriter.Workbook(str(path), {"strings_to_formulas": False, "strings_to_urls": False,
                                         "strings_to_numbers": False})
    try:
        wb.set_properties({"title": TITLE, "subject": "附件1", "author": "annex2", "created": datetime(2023, 1, 1)})
        wb.set_custom_property("annex2_task_list_version", LIST_VERSION)
        ws = wb.add_worksheet(SHEET_NAME)
        base = {"font_name": "宋体", "font_size": 10, "valign": "vcenter", "border": 1, "text_wrap": True}
        title = wb.add_format({"font_name": "黑体", "font_size": 16, "align": "center", "valign": "vcenter",
                               "text_wrap": True})
        head = wb.add_format({**base, "bold": True, "align": "center", "bg_color": "#D9E1F2"})
        cell = wb.add_format(base)
        center = wb.add_format({**base, "align": "center"})
        ws.merge_range(0, 0, 0, len(COLUMNS) - 1, TITLE, title)
        ws.set_row(0, 40)
        for c, (_key, label, width) in enumerate(COLUMNS):
            ws.write_string(HEADER_ROW, c, label, head)
            ws.set_column(c, c, width)
        for r, row in enumerate(rows, start=HEADER_ROW + 1):
            for c, (key, _label, _w) in enumerate(COLUMNS):
                text = str(row.get(key, ""))
                if key == "window" and not text.strip():
                    text = ONGOING_WORD  # blank in the seed: 未明确时间节点的工作任务为长期坚持
                ws.write_string(r, c, text, center if key in ("id", "window") else cell)
        ws.freeze_panes(HEADER_ROW + 1, 0)
        ws.repeat_rows(HEADER_ROW)
        ws.set_landscape()
        ws.set_paper(9)
        ws.fit_to_pages(1, 0)
        ws.set_margins(left=0.4, right=0.4, top=0.5, bottom=0.6)
        ws.set_footer("&C第 &P 页，共 &N 页")
    finally:
        wb.close()
    return path


# --- 责任单位 -------------------------------------------------------------------------------------------

_ROLE_SUFFIXES = ("按职责分工落实", "按职责分工负责", "负责落实", "落实", "负责")


def _names(part: str) -> list[str]:
    return [n for n in re.split(r"[、,，;；/]", part) if n]


def split_units(text: str) -> tuple[list[str], list[str]]:
    """责任单位 text -> (lead names, implementing names) as written; BadUnits when a clause has no names.

    `A牵头，B、C按职责分工落实` -> ([A], [B, C]);  `A配合B落实` -> ([], [A, B]);  a bare list of names is
    implementing (the column says they are responsible)."""
    s = clean_text(text or "")
    if not s:
        raise BadUnits("责任单位未填写")
    lead: list[str] = []
    implementing: list[str] = []
    for clause in (c for c in re.split(r"[,，;；。]", s) if c):
        if clause.endswith("牵头"):
            names = _names(clause[:-2])
            target = lead
        else:
            body = clause
            for suffix in _ROLE_SUFFIXES:
                if body.endswith(suffix):
                    body = body[: -len(suffix)]
                    break
            if body.startswith("配合"):
                body = body[2:]
            elif body.endswith("配合"):
                body = body[:-2]
            names = [n for piece in body.split("配合") for n in _names(piece)]
            target = implementing
        if not names:
            raise BadUnits(f"“{clause}”中没有单位名称")
        target += names
    return lead, implementing


def resolve_units(text: str, cfg: Config) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    """责任单位 text -> (lead, implementing, untracked): canonical unit names, and the names config lists as
    `[tasks] untracked` (not reporting units: kept as written, never tracked). A name is a unit's name or alias,
    or a `[tasks.names]` spelling, which may stand for several units (a list). BadUnits names every unknown name."""
    lead_names, impl_names = split_units(text)

    def units(name: str) -> list[str] | None:
        found = cfg.unit_named(name)
        if found is not None:
            return [found.name]
        targets = cfg.tasks.units_for(name)
        if targets is None:
            return None
        resolved = [cfg.unit_named(t) for t in targets]  # [tasks.names] may give an alias
        return None if any(u is None for u in resolved) else [u.name for u in resolved]  # type: ignore[union-attr]

    unknown = [n for n in lead_names + impl_names if not cfg.tasks.is_untracked(n) and units(n) is None]
    if unknown:
        raise BadUnits("、".join(f"“{n}”" for n in dict.fromkeys(unknown)) + " 不是 config.toml 中的单位或别名"
                       "（请在 config.toml 的 [tasks.names] 中写明它指哪个或哪几个单位，或给相应单位加别名、增加该单位；"
                       "不是报送单位的写进 [tasks] untracked）")
    untracked = tuple(dict.fromkeys(n for n in lead_names + impl_names if cfg.tasks.is_untracked(n)))
    lead = tuple(dict.fromkeys(u for n in lead_names if not cfg.tasks.is_untracked(n) for u in units(n) or []))
    impl = tuple(u for u in dict.fromkeys(u for n in impl_names if not cfg.tasks.is_untracked(n) for u in units(n) or [])
                 if u not in lead)
    return lead, impl, untracked


# --- reading the clerk's workbook -----------------------------------------------------------------------

def cell_text(value) -> str:
    """A cell as text: a whole float without its `.0`, stripped."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def cell_label(value) -> str:
    """A label cell as compared: NFKC, no spaces at all (the normaliser of the Annex 2 labels)."""
    return clean_text(cell_text(value))


def read_task_list(cfg: Config, path: Path | None = None) -> TaskList:
    """The task list workbook (default: config `[tasks] file`) -> TaskList, or TaskListError naming every
    bad row and cell."""
    path = Path(path) if path is not None else cfg.task_list_path
    shown = path.name
    if not path.is_file():
        raise TaskListError([f"{path}：找不到重点任务清单。新建的工作目录由 `annex2 init` 写出；"
                             f"已有的工作目录可运行 `annex2 tasks init` 按附件1原文写出。"])
    sheet, header, cols = find_header(cfg, path)
    return _parse_rows(cfg, sheet.rows, header, cols, shown, sheet.name)


def find_header(cfg: Config, path: Path) -> tuple[SheetData, int, dict[str, int]]:
    """The sheet of a task list workbook holding the list, its header row and the column of each field; else
    TaskListError saying why."""
    try:
        book = read_workbook(Path(path).read_bytes(), cfg.limits)
    except (OSError, ReadProblem) as exc:
        raise TaskListError([f"{path}：{getattr(exc, 'reason', exc)}"]) from None
    for sheet in book.sheets:
        for r, row in enumerate(sheet.rows[:20]):
            labels = [cell_label(v) for v in row]
            if all(LABELS[key] in labels for key in REQUIRED):
                return sheet, r, {k: labels.index(v) for k, v in LABELS.items() if v in labels}
    raise TaskListError([f"{path}：没有找到表头（编号、项目名称、任务名称、责任单位、具体措施、完成时限）"])


def _parse_rows(cfg: Config, rows: list[list], header: int, cols: dict[str, int], shown: str,
                sheet: str) -> TaskList:
    year = cfg.task_year
    tasks: list[Task] = []
    problems: list[str] = []
    seen: dict[str, int] = {}

    def where(r: int, key: str) -> str:
        return f"{shown} 第{r + 1}行 {a1(r, cols[key])}（{LABELS[key]}）"

    for r in range(header + 1, len(rows)):
        row = rows[r]
        cell = {k: cell_text(row[c]) if c < len(row) else "" for k, c in cols.items()}
        if not any(cell.values()):
            continue
        task_id = unicodedata.normalize("NFKC", cell["id"]).upper().replace(" ", "")
        if not task_id:
            problems.append(f"{where(r, 'id')}：编号未填写（每条措施要有固定的编号，例如 T27）")
            continue
        if task_id in seen:
            problems.append(f"{where(r, 'id')}：编号 {task_id} 与第{seen[task_id] + 1}行重复")
            continue
        seen[task_id] = r
        try:
            window = parse_window(cell["window"], year)
        except BadWindow as exc:
            problems.append(f"{where(r, 'window')}：{exc}")
            window = None
        try:
            lead, units, untracked = resolve_units(cell["units"], cfg)
        except BadUnits as exc:
            problems.append(f"{where(r, 'units')}：{exc}")
            lead = units = untracked = None  # type: ignore[assignment]
        if window is not None and lead is not None and units is not None and untracked is not None:
            tasks.append(Task(task_id, cell["project"], cell["name"], cell["units"], cell["measure"], window,
                              lead, units, r + 1, untracked, cell.get("note", "")))
    if problems:
        raise TaskListError(problems)
    if not tasks:
        raise TaskListError([f"{shown}：清单中没有任务"])
    return TaskList(year, tuple(tasks), shown)

