"""发文字号: 岳云交安〔2023〕N号, N running per year and prefix, kept in the ledger. Asking again for the same
document (kind, month, addressee) gives the number it already has: writing the notices twice uses none up."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from .ledger import Ledger, utc_text
from .months import Month


@dataclass(frozen=True)
class DocNumber:
    prefix: str
    year: int
    n: int

    def __str__(self) -> str:
        return f"{self.prefix}〔{self.year}〕{self.n}号"


def number(ledger: Ledger, prefix: str, kind: str, month: Month, unit: str, issued: datetime) -> DocNumber:
    """The document's number; a new one (the year's next) only for a document not numbered before. The year
    is the year of issue (`issued`, in the bureau's zone), so December's notices sent in January count in
    the new year."""
    year = issued.year
    with ledger.transaction() as db:
        row = db.execute("SELECT n FROM doc_numbers WHERE year = ? AND prefix = ? AND kind = ? AND month = ? "
                         "AND unit = ?", (year, prefix, kind, str(month), unit)).fetchone()
        if row is None:
            n = db.execute("SELECT COALESCE(MAX(n), 0) + 1 FROM doc_numbers WHERE year = ? AND prefix = ?",
                           (year, prefix)).fetchone()[0]
            db.execute("INSERT INTO doc_numbers (year, prefix, n, kind, month, unit, issued_utc) "
                       "VALUES (?, ?, ?, ?, ?, ?, ?)", (year, prefix, n, kind, str(month), unit, utc_text(issued)))
        else:
            n = row[0]
    return DocNumber(prefix, year, n)
