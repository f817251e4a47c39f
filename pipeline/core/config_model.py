"""The settings of a working folder as frozen dataclasses -- what config.toml means once it is read
(config.py reads and checks the file; every other module reads these)."""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from zoneinfo import ZoneInfo

from .months import Month

CONFIG_NAME = "config.toml"


class ConfigError(Exception):
    "config.toml is missing or has problems; `problems` holds one line for each"

    def __init__(self, path: Path, problems: list[str]):
        self.path = path
        self.problems = problems
        super().__init__("\n".join(problems))


@dataclass(frozen=True)
class Unit:
    name: str
    aliases: tuple[str, ...] = ()
    emails: tuple[str, ...] = ()
    folder: str = ""
    first: Month | None = None  # `from` in config
    last: Month | None = None  # `until` in config
    materials: bool = True  # false: the unit sends no monthly work materials (spec 9)

    def expected_in(self, month: Month) -> bool:
        return (self.first is None or month >= self.first) and (self.last is None or month <= self.last)


@dataclass(frozen=True)
class Bureau:
    name: str
    short_name: str
    timezone: str = "Asia/Shanghai"

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


@dataclass(frozen=True)
class Deadline:
    day: int = 23
    month_offset: int = 0
    inclusive: bool = True
    grace_days: int = 0
    holiday_shift: bool = False  # true: a due day on a statutory holiday or weekend moves to the next working day


@dataclass(frozen=True)
class Escalation:
    strikes: int = 2
    overdue_days: int = 7
    count_tasks: bool = True  # a month with a lagging or overdue Annex 1 task is a strike (spec 12)


@dataclass(frozen=True)
class Limits:
    max_file_mb: float = 20
    max_uncompressed_mb: float = 200
    max_compression_ratio: float = 200
    max_zip_members: int = 2000
    lock_wait_seconds: float = 120
    ledger_wait_seconds: float = 30  # how long to wait while another program (a DB browser, a backup) writes the ledger
    max_email_mb: float = 60
    max_attachments: int = 200
    parse_memory_mb: float = 512  # memory of the child process that reads an untrusted file (POSIX only)
    parse_seconds: float = 20  # time that child may take for one file
    max_count: int = 10_000_000  # a count above this is not a figure anyone reports (and sums cannot wrap)


@dataclass(frozen=True)
class Watch:
    polling: bool = False
    stable_seconds: float = 2.0
    rescan_seconds: float = 60
    rebuild_debounce_seconds: float = 3.0
    incomplete_seconds: float = 900  # a file still not a complete container after this long is ingested (and rejected)
    office_lock_minutes: float = 240  # a file beside an Office lock file (~$name) waits this long at most
    poll_seconds: float = 0.25  # with polling: how often the inbox is looked at (a receipt within a second)


@dataclass(frozen=True)
class Contact:
    department: str = ""
    person: str = ""
    phone: str = ""
    email: str = ""


@dataclass(frozen=True)
class Smtp:
    """Where `annex2 notices --send` delivers; without an [smtp] section nothing is ever sent."""

    host: str
    port: int = 587
    starttls: bool = True
    ssl: bool = False
    username: str = ""
    password_env: str = "ANNEX2_SMTP_PASSWORD"  # the password is read from this environment variable
    sender: str = ""


@dataclass(frozen=True)
class Tasks:
    """Annex 1 key tasks (spec 11): the list's year, where the clerk keeps the list, and when the monthly
    progress form is due (with the materials, day 16 by default)."""

    year: int | None = None  # None: the reporting year ([reporting] start)
    file: str = "templates/annex1_tasks.xlsx"
    day: int = 16
    month_offset: int = 0
    inclusive: bool = True
    grace_days: int = 0
    holiday_shift: bool = False
    ending_days: int = 30  # a window ending within this many days is marked as ending soon
    # [tasks.names]: a spelling in the task list -> the configured unit(s) it means (a list for a cell that fuses
    # two units, or a collective such as 局属各单位)
    names: tuple[tuple[str, tuple[str, ...]], ...] = ()
    untracked: tuple[str, ...] = ()  # 责任单位 named in the list that are not reporting units: kept as text only

    def units_for(self, text: str) -> tuple[str, ...] | None:
        """The unit names [tasks.names] gives for a spelling in the task list, or None when it has no entry."""
        key = name_key(text)
        return next((units for spelling, units in self.names if name_key(spelling) == key), None)

    def is_untracked(self, text: str) -> bool:
        key = name_key(text)
        return any(name_key(name) == key for name in self.untracked)

    @property
    def deadline(self) -> Deadline:
        return Deadline(self.day, self.month_offset, self.inclusive, self.grace_days, self.holiday_shift)


@dataclass(frozen=True)
class Notices:
    """What the bureau's documents cite, and the 发文字号 of the monthly 通报 (GB/T 9704: 岳云交安〔2023〕3号).
    The numbers belong to the bureau's own register: `next_number` is the one the clerk reserved there for
    the next 通报 (None: the number is left blank for the clerk to fill in)."""

    doc_prefix: str = "岳云交安"
    next_number: int | None = None
    basis_number: str = "岳云交发〔2023〕15号"
    basis_title: str = "岳阳市云溪区交通运输领域“打好安全生产翻身仗”工作方案"


@dataclass(frozen=True)
class Merge:
    """How the district total is formed (spec 12)."""

    carry_forward: bool = True  # a unit that has not reported this month counts with its latest cumulative figures


@dataclass(frozen=True)
class MailBox:
    """[mail] (spec 14): the bureau's mailbox that `annex2 fetch` reads over IMAP. The password is never here:
    it comes from the environment variable `password_env`, else the system keyring (service "annex2")."""

    host: str
    user: str
    port: int = 993
    tls: str = "ssl"  # ssl (993) | starttls (143) | none (tests only)
    verify_cert: bool = True
    password_env: str = "ANNEX2_MAIL_PASSWORD"
    folder: str = "INBOX"
    since: str = "2023-01-01"
    after: str = "seen"  # leave | seen | move:FOLDER
    poll_seconds: float = 60
    reply: bool = False

    @property
    def since_day(self):
        from datetime import date

        return date.fromisoformat(self.since)

    @property
    def move_to(self) -> str | None:
        return self.after.split(":", 1)[1].strip() if self.after.startswith("move:") else None


MATERIALS_DUE = Deadline(day=16)  # the default [materials]: with the Annex 1 progress form, by the 16th


@dataclass(frozen=True)
class Config:
    root: Path
    bureau: Bureau
    start: Month  # [reporting] start: the first month a report is expected at all
    deadline: Deadline
    escalation: Escalation
    limits: Limits
    watch: Watch
    contact: Contact
    units: tuple[Unit, ...]
    paths: dict[str, Path] = field(default_factory=dict)
    smtp: Smtp | None = None
    materials: Deadline = MATERIALS_DUE  # [materials]: when the monthly work materials are due (spec 9)
    tasks: Tasks = Tasks()
    notices: Notices = field(default_factory=Notices)
    merge: Merge = Merge()
    end: Month | None = None  # [reporting] end: the last month of the reporting period (None: open)

    def in_period(self, month: Month) -> bool:
        """Whether `month` lies in the reporting period ([reporting] start to end): only then is it judged."""
        return month >= self.start and (self.end is None or month <= self.end)

    def reporting_month(self, today: Month) -> Month:
        """`today`'s month held inside the reporting period: its year is the reporting year (the template's)."""
        if today < self.start:
            return self.start
        return self.end if self.end is not None and today > self.end else today

    @property
    def period_text(self) -> str:
        """The reporting period as a clerk reads it: 2023年4月起 / 2023年4月至2023年12月."""
        return f"{self.start.label}至{self.end.label}" if self.end else f"{self.start.label}起"
    mail: MailBox | None = None  # [mail]: without it `fetch` has nothing to read

    @property
    def task_year(self) -> int:
        """The year of the Annex 1 task list: [tasks] year, else the reporting year (never today's)."""
        return self.tasks.year or self.start.year

    @property
    def task_list_path(self) -> Path:
        return self.root / self.tasks.file

    @property
    def inbox(self) -> Path:
        return self.paths["inbox"]

    @property
    def outbox(self) -> Path:
        return self.paths["outbox"]

    @property
    def archive(self) -> Path:
        return self.paths["archive"]

    @property
    def ledger(self) -> Path:
        return self.paths["ledger"]

    @property
    def template(self) -> Path:
        return self.paths["template"]

    @property
    def lock_file(self) -> Path:
        """The per-batch lock of this working folder, beside the ledger it protects."""
        return self.ledger.with_name(self.ledger.name + ".lock")

    def unit_named(self, text: str | None) -> Unit | None:
        """The configured unit a typed name or alias means, or None."""
        if not text:
            return None
        return self._names.get(name_key(text))

    def is_bureau(self, text: str | None) -> bool:
        """The bureau's own name or short name (the district total's 填报单位), when no unit is called so."""
        if not text or self.unit_named(text) is not None:
            return False
        key = name_key(text)
        return key in (name_key(self.bureau.name), name_key(self.bureau.short_name))

    def unit_by_folder(self, folder: str) -> Unit | None:
        return self._folders.get(folder)

    def unit_by_email(self, address: str) -> Unit | None:
        return self._emails.get(address.strip().lower())

    @cached_property
    def _folders(self) -> dict[str, Unit]:
        return {u.folder: u for u in self.units}

    @cached_property
    def _emails(self) -> dict[str, Unit]:
        return {e.lower(): u for u in reversed(self.units) for e in u.emails}

    @cached_property
    def _names(self) -> dict[str, Unit]:
        """Name and alias -> unit, built once: a province's config has thousands of units."""
        names: dict[str, Unit] = {}
        for unit in self.units:
            for text in (unit.name, *unit.aliases):
                names[name_key(text)] = unit
        return names


_STAMP = re.compile(r"[（(](盖?章|公章|盖章)[)）]")


def name_key(text: str) -> str:
    """How a unit name is compared: NFKC, no spaces, no （章） / 盖章 decorations."""
    text = unicodedata.normalize("NFKC", str(text))
    text = _STAMP.sub("", text)
    text = re.sub(r"[\s:：]", "", text)
    text = text.replace("(盖章)", "").replace("盖章", "")
    return text
