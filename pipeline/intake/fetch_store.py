"""The ledger's record of the bureau's mailbox (tables of migration 8): every message read once, what became
of it, and the replies sent. Only this module writes SQL for them."""
from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime
from typing import Callable

from ..storage.ledger import Ledger, from_utc_text, utc_text

FETCHED, UNCLAIMED, INGESTED, TOO_BIG, SAME_AS = "fetched", "unclaimed", "ingested", "too_big", "same_as"

Steps = Callable[[str], None]  # a test's hook between a fetch's steps (production: nothing)


@dataclass(frozen=True)
class MailRow:
    id: int
    mailbox: str
    uidvalidity: int
    uid: int
    message_id: str
    sha256: str | None
    size: int
    received_at: datetime  # INTERNALDATE, UTC
    sender: str
    subject: str
    spool_path: str | None
    state: str
    arrival_id: int | None
    reply_due: bool
    after_done: bool
    auto: bool = False


_COLS = ("id, mailbox, uidvalidity, uid, message_id, sha256, size, internal_utc, sender, subject, spool_path, state, "
         "arrival_id, reply_due, after_done, auto")


def has_tables(ledger: Ledger) -> bool:
    """The mailbox's tables exist (a ledger opened read-only before their migration lacks them)."""
    return ledger.db.execute("SELECT 1 FROM sqlite_master WHERE name = 'mail_messages'").fetchone() is not None


def _row(r) -> MailRow:
    v = list(r)
    v[7] = from_utc_text(v[7])
    v[13], v[14], v[15] = bool(v[13]), bool(v[14]), bool(v[15])
    return MailRow(*v)


def known_uids(ledger: Ledger, mailbox: str, uidvalidity: int) -> set[int]:
    return {uid for (uid,) in ledger.db.execute(
        "SELECT uid FROM mail_messages WHERE mailbox = ? AND uidvalidity = ?", (mailbox, uidvalidity))}


def same_message(ledger: Ledger, sha256: str, message_id: str) -> MailRow | None:
    """The second key: the same bytes with the same Message-ID, already recorded under another UID (the folder
    was rebuilt and its UIDVALIDITY changed, or the message was moved back)."""
    r = ledger.db.execute(f"SELECT {_COLS} FROM mail_messages WHERE sha256 = ? AND message_id = ? AND state != ? "
                          "ORDER BY id LIMIT 1", (sha256, message_id, SAME_AS)).fetchone()
    return _row(r) if r else None


def record_message(ledger: Ledger, now: datetime, *, mailbox: str, uidvalidity: int, uid: int, message_id: str,
                   sha256: str | None, size: int, received_at: datetime, sender: str, subject: str,
                   spool_path: str | None, state: str, same_as: int | None = None, reply_due: bool = False,
                   auto: bool = False) -> bool:
    """One message read from the folder; False when it was already recorded (a racing or earlier run)."""
    try:
        with ledger.transaction() as db:
            db.execute(
                "INSERT INTO mail_messages (mailbox, uidvalidity, uid, message_id, sha256, size, internal_utc, sender, "
                "subject, spool_path, state, same_as, reply_due, auto, fetched_utc) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (mailbox, uidvalidity, uid, message_id, sha256, size, utc_text(received_at), sender, subject,
                 spool_path, state, same_as, int(reply_due and not auto), int(auto), utc_text(now)))
            ledger.event(db, "mail_fetched", now, None, {"mailbox": mailbox, "uidvalidity": uidvalidity, "uid": uid,
                                                         "state": state, "sender": sender})
    except sqlite3.IntegrityError:
        return False
    return True


def max_id(ledger: Ledger) -> int:
    return ledger.db.execute("SELECT COALESCE(MAX(id), 0) FROM mail_messages").fetchone()[0]


def pending(ledger: Ledger) -> list[MailRow]:
    """Messages downloaded but not yet judged, and those waiting for their sender's unit, oldest first."""
    return [_row(r) for r in ledger.db.execute(
        f"SELECT {_COLS} FROM mail_messages WHERE state IN (?, ?) ORDER BY internal_utc, id", (FETCHED, UNCLAIMED))]


def rows(ledger: Ledger, state: str | None = None) -> list[MailRow]:
    sql = f"SELECT {_COLS} FROM mail_messages" + (" WHERE state = ?" if state else "") + " ORDER BY internal_utc, id"
    return [_row(r) for r in ledger.db.execute(sql, (state,) if state else ())]


def set_unclaimed(ledger: Ledger, ids: list[int]) -> None:
    if ids:
        with ledger.transaction() as db:
            db.executemany("UPDATE mail_messages SET state = ? WHERE id = ? AND state = ?",
                           [(UNCLAIMED, i, FETCHED) for i in ids])


def set_ingested(ledger: Ledger, now: datetime, done: list[tuple[int, int]], reply: bool) -> None:
    """(message row, arrival id) pairs: judged by the intake. `reply`: a reply is due for each."""
    if done:
        with ledger.transaction() as db:
            for row_id, arrival_id in done:
                db.execute("UPDATE mail_messages SET state = ?, arrival_id = ?, reply_due = ? AND auto = 0 WHERE id = ?",
                           (INGESTED, arrival_id, int(reply), row_id))
                ledger.event(db, "mail_ingested", now, arrival_id, {"message": row_id})


def after_pending(ledger: Ledger, mailbox: str, uidvalidity: int) -> list[MailRow]:
    """Recorded messages of this folder still to be flagged or moved (`[mail] after`)."""
    return [_row(r) for r in ledger.db.execute(
        f"SELECT {_COLS} FROM mail_messages WHERE mailbox = ? AND uidvalidity = ? AND after_done = 0 AND state != ? "
        "ORDER BY uid", (mailbox, uidvalidity, TOO_BIG))]


def set_after_done(ledger: Ledger, row_id: int) -> None:
    with ledger.transaction() as db:
        db.execute("UPDATE mail_messages SET after_done = 1 WHERE id = ?", (row_id,))


def replies_due(ledger: Ledger) -> list[MailRow]:
    """Messages owed a reply that has never been started (a reply started and cut off is not sent again)."""
    return [_row(r) for r in ledger.db.execute(
        f"SELECT {_COLS} FROM mail_messages WHERE reply_due = 1 AND id NOT IN (SELECT message FROM mail_replies) "
        "ORDER BY internal_utc, id")]


def start_reply(ledger: Ledger, now: datetime, row_id: int, to_addr: str) -> bool:
    """Written and committed BEFORE the reply is handed to the SMTP server: a kill while sending leaves it
    'sending', and no later run sends it again (at most once). False: another run has started it."""
    try:
        with ledger.transaction() as db:
            db.execute("INSERT INTO mail_replies (message, to_addr, state, started_utc) VALUES (?, ?, 'sending', ?)",
                       (row_id, to_addr, utc_text(now)))
    except sqlite3.IntegrityError:
        return False
    return True


def end_reply(ledger: Ledger, now: datetime, row_id: int, ok: bool, detail: str = "") -> None:
    with ledger.transaction() as db:
        db.execute("UPDATE mail_replies SET state = ?, done_utc = ?, detail = ? WHERE message = ?",
                   ("sent" if ok else "failed", utc_text(now), detail, row_id))
        ledger.event(db, "mail_reply_sent" if ok else "mail_reply_failed", now, None, {"message": row_id, "detail": detail})


def unclaimed(ledger: Ledger) -> list[MailRow]:
    """待认领: from an address no unit has — not counting automatic mail (newsletters, bounces, out-of-office
    answers), which is kept all the same but is nobody's report."""
    return [r for r in rows(ledger, UNCLAIMED) if not r.auto]
