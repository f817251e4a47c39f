"""An Office file's own dates (docProps/core.xml: created, modified) set to a given moment, so a file written
for a past moment (the demo's story, a replayed month) does not say it was made today."""
from __future__ import annotations

import io
import re
import zipfile
from datetime import datetime, timezone
from pathlib import Path

_DATES = re.compile(rb"(<dcterms:(?:created|modified)[^>]*>)[^<]*")


def stamp(path: Path, moment: datetime) -> None:
    Path(path).write_bytes(stamped(Path(path).read_bytes(), moment))


def stamped(src: bytes, moment: datetime) -> bytes:
    """`stamp` on bytes (the sandbox stamps the copy of a unit's own workbook before it hands it back)."""
    when = moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ").encode()
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(src)) as zin, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zout:
        for item in zin.infolist():
            data = zin.read(item)
            if item.filename == "docProps/core.xml":
                data = _DATES.sub(lambda m: m.group(1) + when, data)
            zout.writestr(item, data)
    return out.getvalue()
