"""Makes pipeline/defaults/demo_公路中心_2023年5月.xls, the .xls the demo ships: openpyxl and xlsxwriter
cannot write .xls, so a retyped table is built here and saved by LibreOffice (headless), as a unit's PC would.

    python scripts/make_demo_xls.py
"""
from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from office import convert  # noqa: E402
from pipeline.demo import DEMO_XLS, demo_values  # noqa: E402
from pipeline.samples import make_submission  # noqa: E402


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        src = make_submission(Path(tmp) / "demo.xlsx", layout="retyped", unit="公路中心", month_to=5,
                              values=demo_values("区公路建设养护中心", 5), offset=(1, 1), head="周建国",
                              filler="陈晓燕", phone="0730-8412345")
        out = convert(src, "xls:MS Excel 97", Path(tmp) / "out")
        target = ROOT / "pipeline" / "defaults" / DEMO_XLS
        shutil.copyfile(out, target)
        print(target)


if __name__ == "__main__":
    main()
