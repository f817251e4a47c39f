"""发文字号 of the monthly 通报 (岳云交安〔2023〕12号). The numbers belong to the bureau's own register (发文登记),
which this tool does not keep: the number is the clerk's — given with `--number`, or reserved in config
(`[notices] next_number`) — else it is printed blank (岳云交安〔2023〕  号) for the clerk to fill in. A number
once given to a month's 通报 is kept in the ledger, so writing the month's notices again keeps it. 催报通知
and the section's memo to the main leaders carry no number (spec 12)."""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime

from ..core.config import Notices
from ..core.months import Month
from ..storage.ledger import Ledger, utc_text

BULLETIN = "bulletin"
BLANK = "  "  # where the clerk writes the number by hand


class NumberTaken(Exception):
    "The 发文字号 given is already the number of another month's 通报"


class BadNumber(ValueError):
    "Not a document number (12, 12号 or 岳云交安〔2023〕12号)"


@dataclass(frozen=True)
class DocNumber:
    prefix: str
    year: int
    n: int | None  # None: blank, for the clerk to fill in

    def __str__(self) -> str:
        return f"{self.prefix}〔{self.year}〕{self.n if self.n is not None else BLANK}号"


@dataclass(frozen=True)
class Numbered:
    number: DocNumber
    note: str = ""  # what the clerk should know (a blank number, a reserved number already used)


def parse_number(text: str) -> int:
    """The number as a clerk types it: 12, １２, 12号, or the whole 发文字号 岳云交安〔2023〕12号."""
    cleaned = unicodedata.normalize("NFKC", str(text)).strip()
    m = re.fullmatch(r"(?:.*[〕\]）)])?\s*(\d{1,6})\s*号?", cleaned)
    if not m or int(m.group(1)) < 1:
        raise BadNumber(f"“{text}” 不是发文号，请写成 12、12号 或 岳云交安〔2023〕12号")
    return int(m.group(1))


def _holder(db, year: int, prefix: str, n: int) -> str | None:
    row = db.execute("SELECT month FROM doc_numbers WHERE year = ? AND prefix = ? AND n = ?", (year, prefix, n)).fetchone()
    return row[0] if row else None


def bulletin_number(ledger: Ledger, notices: Notices, month: Month, issued: datetime,
                    given: int | None = None) -> Numbered:
    """The 发文字号 of `month`'s 通报: `given` (the clerk's --number) replaces what the month had; else the
    number the month already has; else `[notices] next_number` when no other 通报 has it; else blank.
    The year is the year of issue (`issued`, in the bureau's zone): December's 通报 sent in January counts
    in the new year; a month keeps the year it was first numbered in. NumberTaken when `given` is the number
    of another month's 通报."""
    prefix, year = notices.doc_prefix, issued.year
    with ledger.transaction() as db:
        # Earlier versions numbered every 催报 and the memo from a register of their own: those numbers were
        # never the bureau's and would block the clerk's. A 通报's number stays: it went out on paper.
        db.execute("DELETE FROM doc_numbers WHERE kind <> ? OR unit <> ''", (BULLETIN,))
        row = db.execute("SELECT year, n FROM doc_numbers WHERE prefix = ? AND kind = ? AND month = ? AND unit = ''",
                         (prefix, BULLETIN, str(month))).fetchone()
        if given is not None:
            holder = _holder(db, year, prefix, given)
            if holder is not None and holder != str(month):
                raise NumberTaken(f"发文字号 {DocNumber(prefix, year, given)} 已用于{Month.parse(holder).label}的通报，"
                                  "请核对本局发文登记后给出另一个号")
            db.execute("DELETE FROM doc_numbers WHERE prefix = ? AND kind = ? AND month = ? AND unit = ''",
                       (prefix, BULLETIN, str(month)))
            db.execute("INSERT INTO doc_numbers (year, prefix, n, kind, month, unit, issued_utc) "
                       "VALUES (?, ?, ?, ?, ?, '', ?)", (year, prefix, given, BULLETIN, str(month), utc_text(issued)))
            return Numbered(DocNumber(prefix, year, given))
        if row is not None:
            return Numbered(DocNumber(prefix, row[0], row[1]))
        blank = DocNumber(prefix, year, None)
        reserved = notices.next_number
        if reserved is None:
            return Numbered(blank, f"通报的发文字号留空（{blank}），请按本局发文登记填写；"
                                   "也可用 --number 给出，或在 config.toml 的 [notices] next_number 中写好下一个号")
        holder = _holder(db, year, prefix, reserved)
        if holder is not None:
            return Numbered(blank, f"config.toml 中 [notices] next_number = {reserved} 已用于"
                                   f"{Month.parse(holder).label}的通报，本期通报的发文字号留空（{blank}）；"
                                   "请把 next_number 改为本局发文登记的下一个号，或用 --number 给出")
        db.execute("INSERT INTO doc_numbers (year, prefix, n, kind, month, unit, issued_utc) "
                   "VALUES (?, ?, ?, ?, ?, '', ?)", (year, prefix, reserved, BULLETIN, str(month), utc_text(issued)))
        return Numbered(DocNumber(prefix, year, reserved),
                        f"通报的发文字号取 config.toml 中 [notices] next_number：{DocNumber(prefix, year, reserved)}；"
                        "下一期之前请把 next_number 改为发文登记的下一个号")
