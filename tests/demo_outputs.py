"""What `annex2 demo` produces, as data a test can compare: the golden snapshot behind tests/test_demo_outputs.py.

`snapshot(folder)` walks a demo working folder and extracts, for every file, keyed by its path relative to the
folder (with `/`), what a person reads in it:

  .docx                      paragraphs, tables (rows of cell texts), headers and footers, the document
                             properties (title, author, created, ...) (python-docx)
  .eml                       Subject, From, To, Cc, the decoded text body and the attachments' names
  .txt .csv .md .json .toml  the text
  .xlsx                      per sheet: the non-empty cell values by coordinate (openpyxl, data_only), the
                             formulas by coordinate, the merged ranges; the workbook's document properties
  .pdf                       `pdftotext -layout` (poppler)
  anything else              sha256 of the bytes

The ledger (annex2.sqlite) is not read directly -- its tables are internal and may be reorganised; instead
`take()` adds what the CLI reports from it (`status --json` for May as of the 31st) and the demo's own
console output, under keys in angle brackets.

Only public, stable things are used: the demo runs through the CLI in a subprocess (`python -m pipeline demo`),
never through internal module paths, so this test runs unchanged when the package is reorganised.

The fixture tests/fixtures/demo_outputs.json is the snapshot of the demo at commit f548420 (before the
restructure of issue 24). Regenerate it with

    PYTHONPATH=$PWD python tests/demo_outputs.py --write

ONLY when a change of the demo's outputs is intended, and say so (which files, why) in the commit message.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
from datetime import date, datetime, time
from email import policy
from email.parser import BytesParser
from pathlib import Path

FIXTURE = Path(__file__).parent / "fixtures" / "demo_outputs.json"
DEMO_NAME = "demo"  # the folder's name shows in the demo's console output, so it is always the same
TEXT_SUFFIXES = {".txt", ".csv", ".md", ".json", ".toml"}
# Not snapshotted byte for byte: the ledger's file (internal tables; summed up by `status --json` instead).
SKIPPED = {"annex2.sqlite"}
# An archived copy's name carries the first 10 hex digits of its sha256 (`20230513-090000_9dca3dfaa7_…`). The
# demo's 工作材料 (.docx, .pdf) and 推进情况表 (.xlsx) are generated at run time and carry the wall-clock time
# (fpdf2's /CreationDate, the .docx/.xlsx zip members' dates), so their bytes -- and this digest -- differ on
# every run. The digest is masked wherever an archive path shows (the files' names, master.xlsx's 文件记录 sheet,
# column 存档位置); the file's content is compared like any other file's.
ARCHIVE_DIGEST = re.compile(r"(archive/[^/\s]+/[^/\s]+/\d{8}-\d{6}_)[0-9a-f]{10}(_)")


def _mask(value):
    """`value` with every archive digest masked, in every string it holds (see ARCHIVE_DIGEST)."""
    if isinstance(value, str):
        return ARCHIVE_DIGEST.sub(r"\g<1><sha256[:10]>\g<2>", value)
    if isinstance(value, dict):
        return {_mask(k): _mask(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_mask(v) for v in value]
    return value


DOCX_PROPERTIES = ("title", "subject", "author", "last_modified_by", "created", "modified", "keywords",
                   "category", "comments")
XLSX_PROPERTIES = ("title", "subject", "creator", "lastModifiedBy", "created", "modified", "keywords",
                   "category", "description")
# The demo edits the task list (T02's window) and saves it with openpyxl, which sets `modified` to the
# wall-clock time; every other document's properties carry the story's moments and are compared.
WALL_CLOCK = {("templates/annex1_tasks.xlsx", "modified")}


def _cell(value):
    """A cell value as JSON: dates and times as ISO text, everything else as it is."""
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    return value


def _docx(path: Path) -> dict:
    import docx

    document = docx.Document(str(path))
    tables = [[[cell.text for cell in row.cells] for row in table.rows] for table in document.tables]
    headers, footers = [], []
    for section in document.sections:
        headers.append([p.text for p in section.header.paragraphs])
        footers.append([p.text for p in section.footer.paragraphs])
    props = document.core_properties
    properties = {name: _cell(getattr(props, name)) for name in DOCX_PROPERTIES}
    return {"paragraphs": [p.text for p in document.paragraphs], "tables": tables,
            "headers": headers, "footers": footers, "properties": properties}


def _xlsx(path: Path) -> dict:
    import openpyxl

    values = openpyxl.load_workbook(path, data_only=True)
    formulas = openpyxl.load_workbook(path)
    sheets = {}
    for sheet in values.worksheets:
        cells = {c.coordinate: _cell(c.value) for row in sheet.iter_rows() for c in row
                 if c.value is not None and c.value != ""}
        written = formulas[sheet.title]
        formula = {c.coordinate: c.value for row in written.iter_rows() for c in row
                   if isinstance(c.value, str) and c.value.startswith("=")}
        sheets[sheet.title] = {"cells": cells, "formulas": formula,
                               "merged": sorted(str(r) for r in sheet.merged_cells.ranges)}
    properties = {name: _cell(getattr(values.properties, name)) for name in XLSX_PROPERTIES}
    return {"sheets": list(values.sheetnames), "content": sheets, "properties": properties}


def _eml(path: Path) -> dict:
    message = BytesParser(policy=policy.default).parsebytes(path.read_bytes())
    body = message.get_body(preferencelist=("plain",))
    # Not Date nor Message-ID: both are made at run time.
    return {"headers": {k: str(message[k]) for k in ("Subject", "From", "To", "Cc") if message[k] is not None},
            "body": body.get_content() if body is not None else None,
            "attachments": [part.get_filename() for part in message.iter_attachments()]}


def _pdf(path: Path) -> str:
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, check=True,
                          text=True, encoding="utf-8").stdout


def extract(path: Path):
    """What a person reads in one file (see the module's docstring)."""
    suffix = path.suffix.lower()
    if suffix == ".docx":
        return _docx(path)
    if suffix == ".xlsx":
        return _xlsx(path)
    if suffix == ".eml":
        return _eml(path)
    if suffix == ".pdf":
        return _pdf(path)
    if suffix in TEXT_SUFFIXES:
        return path.read_text(encoding="utf-8-sig")
    return {"sha256": hashlib.sha256(path.read_bytes()).hexdigest()}


def snapshot(folder: Path) -> dict:
    """Every file under the demo's working folder, by its relative path, with what it says."""
    out = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        key = path.relative_to(folder).as_posix()
        if key in SKIPPED:
            continue
        out[key] = extract(path)
        for name, prop in WALL_CLOCK:
            if name == key:
                out[key]["properties"][prop] = "<wall clock>"
    return _mask(out)


def _annex2(args: list[str], cwd: Path) -> str:
    env = dict(os.environ, PYTHONIOENCODING="utf-8")
    env.pop("ANNEX2_CONFIG", None)
    proc = subprocess.run([sys.executable, "-m", "pipeline", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, encoding="utf-8", timeout=600)
    if proc.returncode != 0:
        raise RuntimeError(f"annex2 {' '.join(args)} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}")
    return proc.stdout


def take(parent: Path) -> dict:
    """Run `annex2 demo` into parent/demo and snapshot it, with the demo's console output and `status --json`."""
    stdout = _annex2(["demo", DEMO_NAME], cwd=parent)
    folder = parent / DEMO_NAME
    out = snapshot(folder)
    # The console names the working folder by its absolute path, which is wherever the test's tmp_path is.
    out["<annex2 demo: console>"] = stdout.replace(str(folder), "<folder>")
    status = _annex2(["status", "--month", "2023-05", "--as-of", "2023-05-31", "--json"], cwd=folder)
    out["<annex2 status --month 2023-05 --as-of 2023-05-31 --json>"] = json.loads(status)
    return out


def dump(snap: dict) -> str:
    return json.dumps(snap, ensure_ascii=False, indent=1, sort_keys=True) + "\n"


def main(argv: list[str]) -> int:
    import tempfile

    if argv != ["--write"]:
        print(__doc__)
        return 2
    with tempfile.TemporaryDirectory(prefix="annex2-demo-outputs-") as tmp:
        snap = take(Path(tmp))
    FIXTURE.write_text(dump(snap), encoding="utf-8")
    print(f"{FIXTURE}: {len(snap)} entries")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
