"""Drive a real LibreOffice (headless) from tests and fixture scripts."""
from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

# Without this, LibreOffice shows the cached values of an .xlsx instead of recalculating on load.
_RECALC_ALWAYS = """<?xml version="1.0" encoding="UTF-8"?>
<oor:items xmlns:oor="http://openoffice.org/2001/registry" xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
<item oor:path="/org.openoffice.Office.Calc/Formula/Load"><prop oor:name="OOXMLRecalcMode" oor:op="fuse"><value>0</value></prop></item>
<item oor:path="/org.openoffice.Office.Calc/Formula/Load"><prop oor:name="ODFRecalcMode" oor:op="fuse"><value>0</value></prop></item>
</oor:items>
"""


def soffice() -> str:
    exe = shutil.which("soffice") or shutil.which("libreoffice")
    if not exe:
        raise RuntimeError("LibreOffice (soffice) is not installed: `apt-get install libreoffice-calc libreoffice-writer`")
    return exe


def convert(src: Path, fmt: str, outdir: Path, recalc: bool = True, timeout: int = 180) -> Path:
    """Convert with a private profile (parallel runs must not share one); returns the output file."""
    outdir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="lo-profile-") as profile:
        user = Path(profile) / "user"
        user.mkdir()
        if recalc:
            (user / "registrymodifications.xcu").write_text(_RECALC_ALWAYS, encoding="utf-8")
        cmd = [soffice(), f"-env:UserInstallation={Path(profile).as_uri()}", "--headless", "--norestore",
               "--convert-to", fmt, "--outdir", str(outdir), str(src)]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    ext = fmt.split(":")[0]
    out = outdir / (src.stem + "." + ext)
    if not out.exists():
        raise RuntimeError(f"soffice did not write {out}: {proc.stdout}\n{proc.stderr}")
    return out
