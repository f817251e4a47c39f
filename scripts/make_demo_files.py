"""Makes the workbooks `annex2 demo` ships in pipeline/defaults/, each built with the tests' file maker
(tests/factory.py) and saved again by LibreOffice (headless), as a unit's office program would:

- demo_retyped_<unit>_2023年<month>月.xlsx: the tables the story's retyping units typed themselves, at an
  offset with the units row and `1 建设领域` labels, with the demo's figures and people;
- demo_公路中心_2023年5月.xls: the road maintenance centre's May report as an Excel 97 file (openpyxl and
  xlsxwriter cannot write .xls).

    python scripts/make_demo_files.py

Run it again when the demo's figures change; tests/test_demo.py checks the shipped files still say what the
story says."""
from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from factory import make_submission  # noqa: E402
from office import convert  # noqa: E402

from pipeline.demo.story import DEMO_XLS, SCENARIO, demo_people, demo_values, retyped_file  # noqa: E402

DEFAULTS = ROOT / "pipeline" / "defaults"


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        made = []
        for n, (unit, month, _received, style) in enumerate(SCENARIO):
            if style != "retyped":
                continue
            head, filler, phone = demo_people(n)
            src = make_submission(Path(tmp) / retyped_file(unit, month), layout="retyped", unit=unit, year=2023,
                                  month_from=1, month_to=month, values=demo_values(unit, month), head=head,
                                  filler=filler, phone=phone, offset=(2, 1))
            made.append((convert(src, "xlsx:Calc MS Excel 2007 XML", Path(tmp) / "saved"), src.name))
        src = make_submission(Path(tmp) / "demo.xlsx", layout="retyped", unit="公路中心", month_to=5,
                              values=demo_values("区公路建设养护中心", 5), offset=(1, 1), head="周建国",
                              filler="陈晓燕", phone="0730-8412345")
        made.append((convert(src, "xls:MS Excel 97", Path(tmp) / "xls"), DEMO_XLS))
        for saved, name in made:
            (DEFAULTS / name).write_bytes(saved.read_bytes())
            print(DEFAULTS / name)


if __name__ == "__main__":
    main()
