"""Cell values as units really type them -> numbers. Never turns an unparseable text into 0."""
from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from functools import lru_cache
from typing import Any

# Typed in a count cell to mean "none".
NOTHING = frozenset({"", "/", "\\", "-", "--", "—", "——", "–", "－", "―", "─", "无", "没有", "暂无", "空", "n/a", "na", "none"})
COUNT_SUFFIXES = ("人次", "个", "家", "项", "人", "次", "处", "起", "户", "组", "条")
_THOUSANDS = re.compile(r"^[+-]?\d{1,3}(,\d{3})+(\.\d+)?$")
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
_SPACES = re.compile(r"\s+")
MAX_COUNT = 10_000_000  # the default of config [limits] max_count


@dataclass(frozen=True)
class Parsed:
    value: float | None  # None: not a number (see `problem`), or an empty rate
    problem: str | None = None  # why the text is not a number, for the message


ZERO = Parsed(0.0)


CACHED_TEXT = 256  # texts up to this length are normalised once per process (labels repeat in every file)


def _clean(text: str) -> str:
    return _SPACES.sub("", unicodedata.normalize("NFKC", text))


_clean_cached = lru_cache(maxsize=16384)(_clean)


def clean_text(raw: Any) -> str:
    """NFKC (full-width digits, letters and spaces), no spaces at all."""
    text = raw if type(raw) is str else str(raw)
    return _clean_cached(text) if len(text) <= CACHED_TEXT else _clean(text)


def count(raw: Any, max_count: int = MAX_COUNT) -> Parsed:
    """A count cell: blank and the usual "none" marks are 0; `3项`, `1,234`, `１２` are numbers. A number that
    is not finite, or whose size is over `max_count`, is not a count (`1e19`, `1e400`, `inf`), and neither
    is a text so small it would round to 0 (`1e-400`): every value returned is finite and at most
    `max_count` in size, so no sum of them can overflow."""
    if raw is None:
        return ZERO
    if type(raw) is float and -max_count <= raw <= max_count:  # most cells: a finite float within bounds
        return Parsed(raw)
    if type(raw) is str and len(raw) <= CACHED_TEXT:
        return _count_text(raw, max_count)
    if isinstance(raw, bool):
        return Parsed(None, "是逻辑值（TRUE/FALSE）")
    if isinstance(raw, (int, float)):
        if isinstance(raw, float) and (math.isnan(raw) or math.isinf(raw)):
            return Parsed(None, "不是有效数字")
        if abs(raw) > max_count:  # compared before float(): an int of 400 digits does not fit a float
            return Parsed(None, _too_large(max_count))
        return Parsed(float(raw))
    if isinstance(raw, (datetime, date, time)):
        return Parsed(None, "是日期或时间")
    return _count_text_uncached(str(raw), max_count)


def _count_text_uncached(raw: str, max_count: int) -> Parsed:
    text = clean_text(raw)
    if text.lower() in NOTHING:
        return ZERO
    for suffix in COUNT_SUFFIXES:
        if text.endswith(suffix) and len(text) > len(suffix):
            text = text[: -len(suffix)]
            break
    if _THOUSANDS.match(text):
        text = text.replace(",", "")
    if _NUMBER.match(text):
        exact = Decimal(text)  # exact whatever the exponent: 1e400 and 1e-400 are judged before any rounding
        if abs(exact) > max_count:
            return Parsed(None, _too_large(max_count))
        value = float(exact)
        if value == 0 and exact != 0:
            return Parsed(None, "不是有效数字（数值过小）")
        return Parsed(value)
    return Parsed(None, "不是数字")


# a count typed as text (`１２项`, `—`) is parsed once per process: the same few texts recur in every file
_count_text = lru_cache(maxsize=16384)(_count_text_uncached)


def _too_large(max_count: int) -> str:
    return f"超出计数的上限 {max_count:,}（不是有效的计数）"


def rate(raw: Any) -> Parsed:
    """A rate cell: `85%`, `0.85` and `85` all mean 85 (per cent); blank and `—` mean no rate."""
    if raw is None or isinstance(raw, bool) or isinstance(raw, (datetime, date, time)):
        return Parsed(None)
    if isinstance(raw, (int, float)):
        if math.isnan(raw) or math.isinf(raw):
            return Parsed(None)
        value = float(raw)
        return Parsed(value * 100 if 0 < value <= 1 else value)
    text = clean_text(raw)
    if text.lower() in NOTHING:
        return Parsed(None)
    percent = text.endswith("%")
    text = text.rstrip("%")
    if not _NUMBER.match(text):
        return Parsed(None, "不是数字")
    value = float(text)
    return Parsed(value if percent else (value * 100 if 0 < value <= 1 else value))


def is_whole(value: float) -> bool:
    return abs(value - round(value)) < 1e-9


def _per_text(fn):
    """`fn(raw)` remembered for short texts: the labels of the form are looked up again in every file."""
    cached = lru_cache(maxsize=16384)(fn)

    def key(raw: Any) -> str:
        return cached(raw) if type(raw) is str and len(raw) <= CACHED_TEXT else fn(raw)

    key.__doc__ = fn.__doc__
    return key


@_per_text
def label_key(raw: Any) -> str:
    """How a label is compared: NFKC, no spaces or line breaks, no trailing colon."""
    return clean_text(raw).rstrip(":：")


_NUMBERING = re.compile(r"^(\(?[0-9]+[\.、)）]?|[一二三四五六七八九十]+[、.．]|[（(][一二三四五六七八九十0-9]+[)）])")
_PAREN = re.compile(r"[（(][^（()）]*[)）]$")


@_per_text
def row_label_key(raw: Any) -> str:
    """A sector label without its numbering: `1.建设领域`, `一、建设领域`, `(1)建设领域` -> 建设领域."""
    key = label_key(raw)
    return _NUMBERING.sub("", key, count=1) if key else key


@_per_text
def header_key(raw: Any) -> str:
    """A column header without a unit in brackets: `重大隐患数（项）` -> 重大隐患数."""
    key = label_key(raw)
    return _PAREN.sub("", key) if key else key


_PHONE_CHARS = re.compile(r"[\s\-－—()（）+]")


def looks_like_phone(raw: Any) -> bool:
    if isinstance(raw, float) and raw.is_integer():
        raw = int(raw)
    text = clean_text(raw)
    text = re.split(r"(转|ext|EXT|分机)", text)[0]
    digits = _PHONE_CHARS.sub("", text)
    if digits.startswith("86") and len(digits) > 11:
        digits = digits[2:]
    return digits.isdigit() and 7 <= len(digits) <= 12
