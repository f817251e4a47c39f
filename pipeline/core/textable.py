"""Plain-text tables that line up in a terminal with Chinese text (wide characters take two columns)."""
from __future__ import annotations

import unicodedata


def width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in text)


def pad(text: str, size: int) -> str:
    return text + " " * max(size - width(text), 0)


def render(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max(width(str(x)) for x in col) for col in zip(headers, *rows)]
    lines = ["  ".join(pad(str(h), w) for h, w in zip(headers, widths)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(pad(str(c), w) for c, w in zip(row, widths)).rstrip() for row in rows]
    return "\n".join(lines)
