"""The month and the unit a material names, in its file name or its first lines (spec 10).

Months: `2023年5月`, `5月`, `05月`, `五月`, `2023-05`; of two months (`4-5月`, `4至5月`, `1月至5月`) the last.
A date (`6月16日`, `2023-06-16`) is when something was written or sent, never the month reported on.
Units: the configured names and aliases; a longer name wins over a shorter one inside it (现代物流中心 over
物流中心), and a name that sits inside another unit's name is not a second unit.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from ..core.config import Config, Unit, name_key

_CN_DIGIT = {"一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9, "十": 10,
             "十一": 11, "十二": 12, "元": 1, "正": 1}
_CN = r"十[一二]|十|[一二三四五六七八九]"
_NUM = rf"(?:\d{{1,2}}|{_CN})"
_RANGE_SEP = r"\s*(?:[-－—–~～至到]|月至|月到|月-|月—|月－)\s*"
_NOT_DAY = r"(?!\s*(?:\d{1,2}|[一二三四五六七八九十]{1,3})\s*[日号])"
_MONTH_WORD = re.compile(
    rf"(?:(?P<year>(?:19|20)\d{{2}})\s*年\s*)?(?:(?P<first>{_NUM}){_RANGE_SEP})?(?P<month>{_NUM})\s*月(?!\d){_NOT_DAY}")
_ISO_MONTH = re.compile(r"(?<!\d)(?P<year>20\d{2})\s*[-._/]\s*(?P<month>\d{1,2})(?![\d])(?!\s*[-._/]\s*\d)")
_CN_YEAR_DIGITS = str.maketrans("〇零一二三四五六七八九", "00123456789")
_CN_YEAR = re.compile(r"[二][〇零一二三四五六七八九]{3}(?=\s*年)")


@dataclass(frozen=True)
class NamedMonth:
    year: int | None
    month: int


def _number(text: str) -> int | None:
    if text.isdigit():
        return int(text)
    return _CN_DIGIT.get(text)


def normalized(text: str) -> str:
    text = unicodedata.normalize("NFKC", text)
    return _CN_YEAR.sub(lambda m: m.group(0).translate(_CN_YEAR_DIGITS), text)


def month_in(text: str) -> NamedMonth | None:
    """The month a file name or a line of text names (the first such mention), or None."""
    text = normalized(text)
    for m in _MONTH_WORD.finditer(text):
        month = _number(m.group("month"))
        if month is None or not 1 <= month <= 12:
            continue
        start = m.start("month")
        if start > 0 and text[start - 1].isdigit():
            continue  # "12345月": not a month
        year = int(m.group("year")) if m.group("year") else None
        return NamedMonth(year, month)
    for m in _ISO_MONTH.finditer(text):
        month = int(m.group("month"))
        if 1 <= month <= 12:
            return NamedMonth(int(m.group("year")), month)
    return None


def month_in_lines(lines: list[str], count: int = 8) -> NamedMonth | None:
    """The month named by the first `count` lines of a document (its title and heading)."""
    for line in lines[:count]:
        found = month_in(line)
        if found:
            return found
    return None


def units_in(cfg: Config, text: str) -> list[Unit]:
    """The configured units a text names, in the order they first appear (each once)."""
    hay = name_key(normalized(text))
    spans: list[tuple[int, int, Unit]] = []
    for unit in cfg.units:
        for label in (unit.name, *unit.aliases):
            key = name_key(label)
            if len(key) < 2:
                continue
            start = hay.find(key)
            while start >= 0:
                spans.append((start, start + len(key), unit))
                start = hay.find(key, start + 1)
    # A mention inside a longer mention is part of it (物流中心 inside 现代物流中心; a short alias of one unit
    # inside the full name of another is not a second unit).
    spans.sort(key=lambda s: (s[0], -(s[1] - s[0])))
    kept: list[tuple[int, int, Unit]] = []
    for span in spans:
        if any(k[0] <= span[0] and span[1] <= k[1] for k in kept):
            continue
        kept.append(span)
    out: list[Unit] = []
    for _s, _e, unit in sorted(kept, key=lambda s: s[0]):
        if unit not in out:
            out.append(unit)
    return out


def unit_in_lines(cfg: Config, lines: list[str], count: int = 5) -> Unit | None:
    """The one unit the first lines of a document name (its heading or 报送单位 line); None when none or several."""
    for line in lines[:count]:
        found = units_in(cfg, line)
        if len(found) == 1:
            return found[0]
        if found:
            return None
    return None


STAMP_WORDS = ("盖章", "签章", "扫描", "公章")


def name_says_stamped(name: str) -> bool:
    return any(word in unicodedata.normalize("NFKC", name) for word in STAMP_WORDS)
