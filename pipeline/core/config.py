"""config.toml -> frozen dataclasses (config_model.py). Every problem in the file is reported at once, with its line."""
from __future__ import annotations

import re
import tomllib
from dataclasses import MISSING, fields
from importlib import resources
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .config_bounds import check_bounds
from .config_model import (
    CONFIG_NAME,
    MATERIALS_DUE,
    Bureau,
    Config,
    ConfigError,
    Contact,
    Deadline,
    Escalation,
    Limits,
    MailBox,
    Merge,
    Notices,
    Smtp,
    Tasks,
    Unit,
    Watch,
    name_key,
)
from .months import BadMonth, Month

# The rest of the program reads the settings from here: the model (config_model.py) with its loader.
__all__ = ["CONFIG_NAME", "MATERIALS_DUE", "Bureau", "Config", "ConfigError", "Contact", "Deadline", "Escalation",
           "Limits", "MailBox", "Merge", "Notices", "Smtp", "Tasks", "Unit", "Watch", "name_key",
           "default_config_text", "defaults", "find_config", "load", "parse"]


# section -> key -> (python type(s), default). A default of ... means required. Sections with a dataclass take
# their keys, types and defaults from it (one place for each default); defaults/config.toml states the same
# values (tests/test_config_defaults.py holds them together).
_FIELD_TYPES: dict[str, tuple[type, ...]] = {"str": (str,), "int": (int,), "float": (int, float), "bool": (bool,),
                                             "int | None": (int,)}


def _schema_of(cls: type, instance: Any = None,
               **special: tuple[tuple[type, ...], Any]) -> dict[str, tuple[tuple[type, ...], Any]]:
    """The keys of a section from its dataclass; defaults from `instance` when the section's defaults are
    not the class's own (the materials deadline is a Deadline due on the 16th)."""
    out: dict[str, tuple[tuple[type, ...], Any]] = {}
    for f in fields(cls):
        if f.name in special:
            out[f.name] = special[f.name]
        elif instance is not None:
            out[f.name] = (_FIELD_TYPES[str(f.type)], getattr(instance, f.name))
        else:
            out[f.name] = (_FIELD_TYPES[str(f.type)], ... if f.default is MISSING else f.default)
    return out


_SCHEMA: dict[str, dict[str, tuple[tuple[type, ...], Any]]] = {
    "bureau": _schema_of(Bureau),
    "reporting": {"start": ((str,), "2023-01"), "end": ((str,), None)},
    "deadline": _schema_of(Deadline),
    "escalation": _schema_of(Escalation),
    "paths": {"inbox": ((str,), "inbox"), "outbox": ((str,), "outbox"), "archive": ((str,), "archive"),
              "ledger": ((str,), "annex2.sqlite"), "template": ((str,), "templates/annex2.xlsx")},
    "limits": _schema_of(Limits),
    "watch": _schema_of(Watch),
    "contact": _schema_of(Contact),
    "smtp": _schema_of(Smtp),
    "materials": _schema_of(Deadline, instance=MATERIALS_DUE),
    "notices": _schema_of(Notices),
    "merge": _schema_of(Merge),
    # names: a table in the file, pairs in the dataclass; untracked: a list in the file, a tuple in the dataclass
    "tasks": _schema_of(Tasks, names=((dict,), {}), untracked=((list,), [])),
    "mail": _schema_of(MailBox),
}
_OPTIONAL_SECTIONS = {"smtp", "mail"}
_UNIT_KEYS: dict[str, tuple[tuple[type, ...], Any]] = {
    "name": ((str,), ...), "aliases": ((list,), []), "emails": ((list,), []), "folder": ((str,), ""),
    "from": ((str,), None), "until": ((str,), None), "materials": ((bool,), True),
}
_TYPE_NAMES = {str: "文本", int: "整数", float: "数字", bool: "true/false", list: "列表"}
_TYPE_NAMES[dict] = "表"


class _Lines:
    """Finds the line of a key in the TOML text (tomllib reports positions for syntax errors only)."""

    def __init__(self, text: str):
        self.lines = text.splitlines()

    def _section_start(self, section: str, index: int | None) -> int | None:
        seen = -1
        for n, line in enumerate(self.lines):
            s = line.strip()
            if index is None and re.match(rf"^\[\s*{re.escape(section)}\s*\]", s):
                return n
            if index is not None and re.match(rf"^\[\[\s*{re.escape(section)}\s*\]\]", s):
                seen += 1
                if seen == index:
                    return n
        return None

    def of(self, section: str | None, key: str | None = None, index: int | None = None) -> int | None:
        start = 0 if section is None else self._section_start(section, index)
        if start is None:
            return None
        if key is None:
            return start + 1
        for n in range(start + (0 if section is None else 1), len(self.lines)):
            s = self.lines[n].strip()
            if s.startswith("[") and section is not None:
                break
            if re.match(rf'^"?{re.escape(key)}"?\s*=', s):
                return n + 1
        return start + 1


def default_config_text() -> str:
    return resources.files("pipeline.core").joinpath("defaults/config.toml").read_text(encoding="utf-8")


def find_config(path: Path | None, start: Path | None = None) -> Path:
    """The given path; else the nearest config.toml in `start` (default: the current folder) or a folder above
    it, as git finds its repository, so a command run inside inbox/<unit>/ uses its working folder's config.
    When there is none, `start/config.toml` (which does not exist: load() then says how to make one)."""
    if path is not None:
        path = Path(path)
        return path / CONFIG_NAME if path.is_dir() else path  # --config D:\安全统计 means its config.toml
    here = Path(start) if start is not None else Path.cwd()
    for folder in (here, *here.resolve().parents):
        candidate = folder / CONFIG_NAME
        if candidate.is_file():
            return candidate
    return here / CONFIG_NAME


def load(path: Path) -> Config:
    path = Path(path)
    if not path.is_file():
        raise ConfigError(path, [
            f"{path}: 找不到配置文件 config.toml（在 {path.parent.resolve()} 中查找）。"
            f"请先运行 `annex2 init {path.parent}` 建立工作目录，或用 --config 指定配置文件。"
        ])
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")  # Notepad writes UTF-8 with or without a BOM
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise ConfigError(path, [
            f"{path}:{line}: config.toml 不是 UTF-8 编码（多半是用记事本另存为了 ANSI/GBK），中文会读成乱码。"
            "请用 UTF-8 编码保存 config.toml：用记事本打开，点“文件 → 另存为”，“编码”选 UTF-8 后保存。"
        ]) from None
    return parse(text, path)


def parse(text: str, path: Path) -> Config:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        from .toml_errors import explain

        raise ConfigError(path, explain(exc, text, path)) from None
    return _Builder(text, path).build(data)


class _Builder:
    def __init__(self, text: str, path: Path):
        self.lines = _Lines(text)
        self.path = path
        self.problems: list[str] = []

    def line_of(self, section: str | None, key: str | None = None, index: int | None = None) -> int | None:
        return self.lines.of(section, key, index)

    def problem(self, line: int | None, message: str) -> None:
        where = f"{self.path}:{line}" if line else str(self.path)
        self.problems.append(f"{where}: {message}")

    def _check_value(self, where: str, key: str, value: Any, types: tuple[type, ...], line: int | None) -> bool:
        ok = isinstance(value, types) and not (isinstance(value, bool) and bool not in types)
        if not ok:
            want = "或".join(_TYPE_NAMES[t] for t in types)
            self.problem(line, f"[{where}] {key} 应为{want}，实际是 {value!r}")
        return ok

    def section(self, data: dict, name: str) -> dict[str, Any]:
        schema = _SCHEMA[name]
        raw = data.get(name, {})
        out: dict[str, Any] = {}
        if not isinstance(raw, dict):
            self.problem(self.lines.of(None, name), f"{name} 应为一个表 [{name}]")
            raw = {}
        for key, value in raw.items():
            line = self.lines.of(name, key)
            if key not in schema:
                self.problem(line, f"[{name}] 中有未知的键 “{key}”（可用的键：{', '.join(schema)}）")
            elif self._check_value(name, key, value, schema[key][0], line):
                out[key] = value
        for key, (_types, default) in schema.items():
            if key not in raw:
                if default is ...:
                    self.problem(self.lines.of(name), f"[{name}] 缺少必填的键 “{key}”")
                else:
                    out[key] = default
        return out

    def month(self, text: str | None, line: int | None, what: str) -> Month | None:
        if text is None:
            return None
        try:
            return Month.parse(text)
        except BadMonth as exc:
            self.problem(line, f"{what}：{exc}")
            return None

    def units(self, data: dict) -> tuple[Unit, ...]:
        raw = data.get("units", [])
        if not isinstance(raw, list) or not raw:
            self.problem(self.lines.of(None, "units"), "至少要配置一个报送单位 [[units]]")
            return ()
        units: list[Unit] = []
        claimed: dict[str, str] = {}
        folders: dict[str, str] = {}
        for i, entry in enumerate(raw):
            if not isinstance(entry, dict):
                self.problem(None, f"第 {i + 1} 个 [[units]] 应为一个表")
                continue
            vals: dict[str, Any] = {}
            for key, value in entry.items():
                line = self.lines.of("units", key, index=i)
                if key not in _UNIT_KEYS:
                    self.problem(line, f"[[units]] 中有未知的键 “{key}”（可用的键：{', '.join(_UNIT_KEYS)}）")
                elif self._check_value("units", key, value, _UNIT_KEYS[key][0], line):
                    if isinstance(value, list) and not all(isinstance(v, str) for v in value):
                        self.problem(line, f"[[units]] {key} 应为文本列表")
                        continue
                    vals[key] = value
            if "name" not in vals:
                if "name" not in entry:
                    self.problem(self.lines.of("units", None, index=i), f"第 {i + 1} 个 [[units]] 缺少 name")
                continue
            name = vals["name"].strip()
            first = self.month(vals.get("from"), self.lines.of("units", "from", index=i), f"{name} 的 from")
            last = self.month(vals.get("until"), self.lines.of("units", "until", index=i), f"{name} 的 until")
            if first and last and last < first:
                self.problem(self.lines.of("units", "until", index=i), f"{name} 的 until 早于 from")
            aliases = tuple(a.strip() for a in vals.get("aliases", []) if a.strip())
            for text in (name, *aliases):
                key = name_key(text)
                line = self.lines.of("units", "aliases" if text != name else "name", index=i)
                if key in claimed and claimed[key] != name:
                    self.problem(line, f"名称或别名 “{text}” 同时属于 “{claimed[key]}” 和 “{name}”，请只保留一个")
                claimed.setdefault(key, name)
            folder = vals.get("folder", "").strip() or name
            if re.search(r'[\\/:*?"<>|]', folder):
                self.problem(self.lines.of("units", "folder", index=i), f"{name} 的 folder “{folder}” 含有不能用于文件夹名的字符")
            if folder in folders:
                self.problem(self.lines.of("units", "folder", index=i), f"文件夹 “{folder}” 同时属于 “{folders[folder]}” 和 “{name}”")
            folders.setdefault(folder, name)
            units.append(Unit(name, aliases, tuple(e.strip() for e in vals.get("emails", [])), folder, first, last,
                              vals.get("materials", True)))
        return tuple(units)

    def check_tasks(self, t: dict[str, Any], units: tuple[Unit, ...]) -> None:
        if t.get("year") is not None and not 2000 <= t["year"] <= 2100:
            self.problem(self.lines.of("tasks", "year"), f"[tasks] year 应为四位年份，实际是 {t['year']}")
        if "day" in t and not 1 <= t["day"] <= 31:
            self.problem(self.lines.of("tasks", "day"), f"[tasks] day 应在 1–31 之间，实际是 {t['day']}")
        for key in ("month_offset", "grace_days", "ending_days"):
            if key in t and t[key] < 0:
                self.problem(self.lines.of("tasks", key), f"[tasks] {key} 不能为负数")
        # A spelling whose unit is not (or no longer) configured is not a config error: it only matters to the
        # task list, which names the row whose 责任单位 cannot be resolved (`annex2 tasks list`).
        names: list[tuple[str, tuple[str, ...]]] = []
        for spelling, target in t.get("names", {}).items():
            if isinstance(target, str):
                names.append((spelling, (target,)))
            elif isinstance(target, list) and target and all(isinstance(u, str) and u.strip() for u in target):
                names.append((spelling, tuple(u.strip() for u in target)))
            else:
                self.problem(self.lines.of("tasks.names", spelling),
                             f"[tasks.names] “{spelling}” 应写成 config 中某个单位的全称（文本），或几个单位全称的列表"
                             f"（例如 [\"交通质量和安全监督站\", \"交通运输综合行政执法大队\"]），实际是 {target!r}")
        t["names"] = tuple(names)
        untracked = t.get("untracked", [])
        if not all(isinstance(u, str) and u.strip() for u in untracked):
            self.problem(self.lines.of("tasks", "untracked"),
                         f"[tasks] untracked 应为名称（文本）的列表，例如 [\"局机关党支部\"]，实际是 {untracked!r}")
            untracked = []
        t["untracked"] = tuple(u.strip() for u in untracked)

    def check_limits_and_paths(self, s: dict[str, dict[str, Any]]) -> None:
        """Limits a clerk can mistype into rejecting every good report (parse_seconds = 0 makes each one
        “文件已损坏”), and folders that would make `ingest` take in its own archive, output or config."""
        import math

        least = {("limits", "max_file_mb"): 0.001, ("limits", "max_uncompressed_mb"): 0.001,
                 ("limits", "max_compression_ratio"): 1, ("limits", "max_zip_members"): 1,
                 ("limits", "lock_wait_seconds"): 0, ("limits", "ledger_wait_seconds"): 0,
                 ("limits", "max_email_mb"): 0.001,
                 ("limits", "max_attachments"): 1, ("limits", "parse_memory_mb"): 128, ("limits", "parse_seconds"): 1,
                 ("limits", "max_count"): 1, ("watch", "stable_seconds"): 0, ("watch", "rescan_seconds"): 1,
                 ("watch", "rebuild_debounce_seconds"): 0, ("watch", "incomplete_seconds"): 0,
                 ("watch", "office_lock_minutes"): 0}
        for (sec, key), low in least.items():
            value = s.get(sec, {}).get(key)
            if isinstance(value, (int, float)) and not (math.isfinite(value) and low <= value <= 1e9):
                self.problem(self.lines.of(sec, key), f"[{sec}] {key} 应为不小于 {low:g} 的数，实际是 {value!r}")
        root = self.path.resolve().parent
        paths = s.get("paths", {})
        if not isinstance(paths.get("inbox"), str):
            return
        inbox = (root / paths["inbox"]).resolve()
        inside: list[tuple[str, Path, str | None]] = [("config.toml", self.path.resolve(), None)]
        inside += [(f"[paths] {k}", (root / v).resolve(), k) for k, v in paths.items() if k != "inbox" and isinstance(v, str)]
        for what, where, path_key in inside:
            if where == inbox or inbox in where.parents:
                self.problem(self.lines.of("paths", path_key or "inbox"),
                             f"{what}（{where}）不能在收件箱 [paths] inbox（{inbox}）之内：ingest 会把它当作报送的文件收走。"
                             "请把收件箱设为工作目录下单独的文件夹，如 inbox = \"inbox\"")

    def check_mail(self, m: dict[str, Any]) -> None:
        """[mail]: values a typo would turn into a silent failure, and a certificate check turned off without
        the reason written next to it (a comment on the same line)."""
        from datetime import date

        line = lambda key: self.lines.of("mail", key)  # noqa: E731
        if m.get("tls") not in ("ssl", "starttls", "none"):
            self.problem(line("tls"), f"[mail] tls 应为 \"ssl\"（993 端口）、\"starttls\"（143 端口）或 \"none\"，实际是 {m.get('tls')!r}")
        if "port" in m and not 1 <= m["port"] <= 65535:
            self.problem(line("port"), f"[mail] port 应在 1–65535 之间，实际是 {m['port']}")
        try:
            date.fromisoformat(str(m.get("since")))
        except ValueError:
            self.problem(line("since"), f"[mail] since 应为日期，如 \"2023-01-01\"，实际是 {m.get('since')!r}")
        after = str(m.get("after"))
        if after not in ("leave", "seen") and not (after.startswith("move:") and after[5:].strip()):
            self.problem(line("after"), f"[mail] after 应为 \"leave\"、\"seen\" 或 \"move:文件夹名\"（如 \"move:已收报表\"），实际是 {after!r}")
        if isinstance(m.get("poll_seconds"), (int, float)) and not 5 <= m["poll_seconds"] <= 86400:
            self.problem(line("poll_seconds"), f"[mail] poll_seconds 应在 5–86400 秒之间，实际是 {m['poll_seconds']}")
        if m.get("verify_cert") is False:
            n = line("verify_cert")
            text = self.lines.lines[n - 1] if n else ""
            if "#" not in text or not text.split("#", 1)[1].strip():
                self.problem(n, "[mail] verify_cert = false 会让密码可能被截获：只有确有理由（如单位内部自建的邮件服务器）"
                                "才可关闭，并在同一行的注释中写明理由，如 verify_cert = false  # 局内部邮件服务器，自签名证书")

    def build(self, data: dict) -> Config:
        for key in data:
            if key not in _SCHEMA and key != "units":
                self.problem(self.lines.of(key) or self.lines.of(None, key),
                             f"未知的配置节 “{key}”（可用：{', '.join([*_SCHEMA, 'units'])}）")
        s = {name: self.section(data, name) for name in _SCHEMA if name not in _OPTIONAL_SECTIONS or name in data}
        units = self.units(data)
        start = self.month(s["reporting"].get("start"), self.lines.of("reporting", "start"), "[reporting] start")
        end = self.month(s["reporting"].get("end"), self.lines.of("reporting", "end"), "[reporting] end")
        if start and end and end < start:
            self.problem(self.lines.of("reporting", "end"), f"[reporting] end（{end}）早于 start（{start}）")
        n = s["notices"].get("next_number")
        if n is not None and not 1 <= n <= 100_000:
            self.problem(self.lines.of("notices", "next_number"), f"[notices] next_number 应为正整数（下一个通报的发文号），实际是 {n}")
        tz = s["bureau"].get("timezone", "Asia/Shanghai")
        try:
            ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError):
            self.problem(self.lines.of("bureau", "timezone"), f"[bureau] timezone “{tz}” 不是已知的时区（例如 Asia/Shanghai）")
        d = s["deadline"]
        if "day" in d and not 1 <= d["day"] <= 31:
            self.problem(self.lines.of("deadline", "day"), f"[deadline] day 应在 1–31 之间，实际是 {d['day']}")
        m = s["materials"]
        if "day" in m and not 1 <= m["day"] <= 31:
            self.problem(self.lines.of("materials", "day"), f"[materials] day 应在 1–31 之间，实际是 {m['day']}")
        for sec, key in (("deadline", "grace_days"), ("deadline", "month_offset"), ("escalation", "strikes"),
                         ("escalation", "overdue_days"), ("materials", "grace_days"), ("materials", "month_offset")):
            if key in s[sec] and s[sec][key] < 0:
                self.problem(self.lines.of(sec, key), f"[{sec}] {key} 不能为负数")
        self.check_tasks(s["tasks"], units)
        self.check_limits_and_paths(s)
        check_bounds(self, s, data.get("units"))
        if "mail" in s:
            self.check_mail(s["mail"])
            if s["mail"].get("reply") and "smtp" not in s:
                self.problem(self.lines.of("mail", "reply"), "[mail] reply = true 要通过 [smtp]（发信服务器）发出回执邮件，"
                             "请同时配置 [smtp]，或改为 reply = false")
        if self.problems:
            raise ConfigError(self.path, self.problems)
        root = self.path.resolve().parent
        return Config(
            root=root,
            bureau=Bureau(**s["bureau"]),
            start=start,  # type: ignore[arg-type]
            deadline=Deadline(**s["deadline"]),
            escalation=Escalation(**s["escalation"]),
            limits=Limits(**s["limits"]),
            watch=Watch(**s["watch"]),
            contact=Contact(**s["contact"]),
            units=units,
            paths={k: (root / v) for k, v in s["paths"].items()},
            smtp=Smtp(**s["smtp"]) if "smtp" in s else None,
            materials=Deadline(**s["materials"]),
            tasks=Tasks(**s["tasks"]),
            notices=Notices(**s["notices"]),
            end=end,
            mail=MailBox(**s["mail"]) if "mail" in s else None,
            merge=Merge(**s["merge"]),
        )


def defaults(root: Path | None = None) -> Config:
    """The embedded default configuration, as if config.toml sat in `root`."""
    root = Path(root or Path.cwd())
    return parse(default_config_text(), root / CONFIG_NAME)
