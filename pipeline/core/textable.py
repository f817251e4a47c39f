"""Plain text with Chinese in it, laid out for a terminal or Notepad: wide characters take two columns; tables
line up; lines wrap between Chinese characters or at spaces, never inside 2023年5月 or after an opening bracket."""
from __future__ import annotations

import re
import unicodedata


def display_width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in text)


def pad(text: str, size: int) -> str:
    return text + " " * max(size - display_width(text), 0)


def render(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max(display_width(str(x)) for x in col) for col in zip(headers, *rows)]
    lines = ["  ".join(pad(str(h), w) for h, w in zip(headers, widths)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(pad(str(c), w) for c, w in zip(row, widths)).rstrip() for row in rows]
    return "\n".join(lines)


_WIDE = re.compile(r"[\u2e80-\u9fff\uf900-\ufaff\ufe30-\ufe4f\uff00-\uffef\u3000-\u303f“”‘’…—]")
_NO_LINE_START = set("，。、；：？！）》」』】”’…%,.;:)")
_NO_LINE_END = set("（《「『【“‘(")


def join_lines(lines: list[str]) -> str:
    """One paragraph from the lines of a docstring: a space between two Latin words, none beside Chinese."""
    out = ""
    for line in (line.strip() for line in lines):
        if out and line and not (_WIDE.match(out[-1]) or _WIDE.match(line[0])):
            out += " "
        out += line
    return out


def _tokens(text: str) -> list[str]:
    """Pieces that may not be broken: a line may break at a space or between two Chinese characters only
    (so 附件2[_单位].xlsx and 2023年5月 stay whole where Latin touches Chinese)."""
    out: list[str] = []
    cur = ""
    for ch in text:
        if ch.isspace():
            if cur:
                out.append(cur)
                cur = ""
            if out and not out[-1].isspace():
                out.append(" ")
        elif cur and _WIDE.match(ch) and _WIDE.match(cur[-1]):
            out.append(cur)
            cur = ch
        else:
            cur += ch
    if cur:
        out.append(cur)
    return out


def wrap(text: str, width: int, indent: str = "", subsequent: str | None = None) -> list[str]:
    """`text` as lines no wider than `width` terminal columns (a Latin word longer than that stays whole)."""
    subsequent = indent if subsequent is None else subsequent
    lines, cur, space = [], indent, False
    at_start = True
    for tok in _tokens(text):
        if tok.isspace():
            space = not at_start
            continue
        piece = (" " if space else "") + tok
        if not at_start and display_width(cur + piece) > width and tok[0] not in _NO_LINE_START:
            carry = ""
            if cur[-1] in _NO_LINE_END and len(cur.strip()) > 1:  # an opening bracket goes with what it opens
                cur, carry = cur[:-1], cur[-1]
            lines.append(cur)
            cur, piece = subsequent + carry, tok
        cur += piece
        at_start, space = False, False
    lines.append(cur)
    return lines
