"""The program's own log: one file per working folder (outbox/logs/annex2.log), lines in Chinese with the
bureau's local time. Tracebacks go here, never to the clerk's screen."""
from __future__ import annotations

import logging
import logging.handlers
import os
import tempfile
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

LOG_NAME = "annex2.log"


class BureauTimeFormatter(logging.Formatter):
    LEVELS = {"DEBUG": "调试", "INFO": "信息", "WARNING": "警告", "ERROR": "错误", "CRITICAL": "严重"}

    def __init__(self, tz: ZoneInfo):
        super().__init__("%(asctime)s %(levelname)s %(message)s")
        self.tz = tz

    def formatTime(self, record, datefmt=None):
        return datetime.fromtimestamp(record.created, self.tz).strftime("%Y-%m-%d %H:%M:%S")

    def format(self, record):
        record.levelname = self.LEVELS.get(record.levelname, record.levelname)
        return super().format(record)


def log_path(outbox: Path | None) -> Path:
    if outbox is not None:
        return Path(outbox) / "logs" / LOG_NAME
    return Path(tempfile.gettempdir()) / "annex2" / LOG_NAME


class QuietFileHandler(logging.handlers.RotatingFileHandler):
    """A log file that cannot be written (a read-only or full outbox) loses the record, never prints a Python
    traceback on the clerk's screen (logging's default)."""

    def handleError(self, record: logging.LogRecord) -> None:
        pass


def _writable(path: Path) -> bool:
    """The log can be opened for appending (without making it before a record comes)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError:
        return False
    return os.access(path if path.exists() else path.parent, os.W_OK)


def attach(outbox: Path | None, tz: ZoneInfo | str = "Asia/Shanghai", name: str = "annex2") -> Path:
    """Send the `annex2` logger's records to the working folder's log file (once per file); when that cannot be
    written (read-only or full outbox), to the log in the temp folder. Returns the file the records go to."""
    tz = ZoneInfo(tz) if isinstance(tz, str) else tz
    path = log_path(outbox)
    logger = logging.getLogger(name)
    logger.setLevel(logging.INFO)
    for handler in logger.handlers:
        if getattr(handler, "baseFilename", None) == os.path.abspath(path):
            return path
    if not _writable(path):
        path = log_path(None)
        for handler in logger.handlers:
            if getattr(handler, "baseFilename", None) == os.path.abspath(path):
                return path
        if not _writable(path):
            logger.addHandler(logging.NullHandler())  # nowhere to write: still never on the clerk's screen
            logger.propagate = False
            return path
    handler = QuietFileHandler(path, maxBytes=5_000_000, backupCount=5, encoding="utf-8", delay=True)
    handler.setFormatter(BureauTimeFormatter(tz))
    logger.addHandler(handler)
    logger.propagate = False
    return path
