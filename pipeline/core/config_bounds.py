"""Bounds on config values, checked when config.toml is read: a value the check lets through must never stop
a later command. A 90-character unit name made every inbox folder name too long for the filesystem,
`grace_days = 100000000` overflowed the date arithmetic and `month_offset = 100000` left the calendar — each
an internal error in every later command. Here each is one line naming the key and its line, exit 2."""
from __future__ import annotations

import math
import unicodedata
from typing import Any, Protocol

# Longest unit name, alias and folder (characters), and a folder's UTF-8 bytes: a folder name and the
# receipts and archive names built from it must fit the 255 bytes a filesystem allows for one name.
NAME_CHARS = 50
FOLDER_BYTES = 150
RECEIPTS = "回执"
# Names Windows reserves for devices, whatever the extension (a folder called CON cannot be made).
WINDOWS_DEVICES = {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(1, 10)), *(f"LPT{i}" for i in range(1, 10))}

# section -> key -> (least, most). Below the least is already said by the older checks ("不能为负数", "应为
# 不小于 … 的数"); here each value gets an upper bound too.
RANGES: dict[str, dict[str, tuple[float, float]]] = {
    "deadline": {"month_offset": (0, 12), "grace_days": (0, 366)},
    "materials": {"month_offset": (0, 12), "grace_days": (0, 366)},
    "tasks": {"month_offset": (0, 12), "grace_days": (0, 366), "ending_days": (0, 366)},
    "escalation": {"strikes": (0, 12), "overdue_days": (0, 366)},
    "limits": {"max_file_mb": (0.001, 4096), "max_uncompressed_mb": (0.001, 65536),
               "max_compression_ratio": (1, 100000), "max_zip_members": (1, 1_000_000),
               "lock_wait_seconds": (0, 86400), "ledger_wait_seconds": (0, 86400), "max_email_mb": (0.001, 4096),
               "max_attachments": (1, 100000), "parse_memory_mb": (128, 65536), "parse_seconds": (1, 3600),
               "max_count": (1, 10**12)},
    "watch": {"stable_seconds": (0, 86400), "rescan_seconds": (1, 86400), "rebuild_debounce_seconds": (0, 86400),
              "incomplete_seconds": (0, 7 * 86400), "office_lock_minutes": (0, 7 * 1440), "poll_seconds": (0.01, 3600)},
}
UNCHECKED_LEAST = {("watch", "poll_seconds")}  # no older check says it is too small
TEXT_CHARS: dict[tuple[str, str], int] = {("bureau", "name"): 60, ("bureau", "short_name"): 30,
                                          ("notices", "doc_prefix"): 20}


class Reporter(Protocol):
    """What the config builder offers: where a key is, and a way to say what is wrong with it."""

    def problem(self, line: int | None, message: str) -> None: ...

    def line_of(self, section: str | None, key: str | None = None, index: int | None = None) -> int | None: ...


def folder_name_problem(text: str) -> str | None:
    """Why `text` cannot be a unit's inbox folder (or a unit name, which is its default folder); None if it can."""
    if not text:
        return "不能为空"
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Cs") for ch in text):
        return "含有控制字符"
    if text in (".", ".."):
        return "不能是 . 或 ..（它们表示当前和上一级文件夹）"
    if text.startswith("."):
        return "不能以 . 开头（这样的文件夹是隐藏的，收件时被跳过）"
    if text == RECEIPTS:
        return f"不能是“{RECEIPTS}”（各单位文件夹中存放回执的子文件夹叫这个名字）"
    if text != text.rstrip(" ."):
        return "不能以空格或 . 结尾（Windows 会去掉它们）"
    if text.split(".")[0].upper() in WINDOWS_DEVICES:
        return "是 Windows 保留的设备名，不能用作文件夹名"
    if len(text) > NAME_CHARS:
        return f"太长（{len(text)} 个字，最多 {NAME_CHARS} 个）"
    if len(text.encode("utf-8")) > FOLDER_BYTES:
        return f"太长（{len(text.encode('utf-8'))} 字节，最多 {FOLDER_BYTES} 字节）"
    return None


def check_bounds(r: Reporter, sections: dict[str, dict[str, Any]], raw_units: Any) -> None:
    """Every bound at once, each problem one line (`r.problem`), so a clerk mends the file in one go."""
    for sec, keys in RANGES.items():
        for key, (least, most) in keys.items():
            value = sections.get(sec, {}).get(key)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                continue
            if not math.isfinite(value) or (value < least and (sec, key) not in UNCHECKED_LEAST):
                continue  # said by the older checks (negative, not a number, below the least)
            if not least <= value <= most:
                r.problem(r.line_of(sec, key), f"[{sec}] {key} 应在 {least:g}–{most:g} 之间，实际是 {value!r}")
    for (sec, key), most in TEXT_CHARS.items():
        value = sections.get(sec, {}).get(key)
        if isinstance(value, str) and len(value) > most:
            r.problem(r.line_of(sec, key), f"[{sec}] {key} 太长（{len(value)} 个字，最多 {most} 个）")
    if not isinstance(raw_units, list):
        return
    for i, entry in enumerate(raw_units):
        if not isinstance(entry, dict):
            continue
        name = entry.get("name")
        if isinstance(name, str):
            why = folder_name_problem(name.strip())
            if why:
                r.problem(r.line_of("units", "name", index=i),
                          f"单位名称 “{_shown(name)}” {why}（名称也是该单位收件文件夹的默认名）")
        folder = entry.get("folder")
        if isinstance(folder, str) and folder.strip():
            why = folder_name_problem(folder.strip())
            if why:
                r.problem(r.line_of("units", "folder", index=i), f"folder “{_shown(folder)}” {why}")
        aliases = entry.get("aliases")
        for alias in aliases if isinstance(aliases, list) else ():
            if isinstance(alias, str) and len(alias.strip()) > NAME_CHARS:
                r.problem(r.line_of("units", "aliases", index=i),
                          f"别名 “{_shown(alias)}” 太长（{len(alias.strip())} 个字，最多 {NAME_CHARS} 个）")


def _shown(text: str) -> str:
    """A name as it can be printed: control characters visible, a long one cut."""
    text = "".join(ch if unicodedata.category(ch) not in ("Cc", "Cf", "Cs") else f"\\u{ord(ch):04x}" for ch in text)
    return text if len(text) <= 24 else text[:20] + "…"
