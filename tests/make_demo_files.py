"""Makes the retyped tables `annex2 demo` ships (pipeline/defaults/demo_retyped_*.xlsx): each unit that
retypes the table in the demo's story, for each month it does, with the demo's figures and people, built
at an offset with the units row and `1 建设领域` labels, then saved again by LibreOffice as a unit's office
program would. Run it again (`python tests/make_demo_files.py`) when the demo's figures change;
tests/test_demo.py checks the shipped files still say what the story says."""
from __future__ import annotations

import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]

from factory import make_submission  # noqa: E402
from office import convert  # noqa: E402

from pipeline.demo import SCENARIO, demo_people, demo_values, retyped_file  # noqa: E402

DEFAULTS = HERE.parent / "pipeline" / "defaults"


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        for n, (unit, month, _received, style) in enumerate(SCENARIO):
            if style != "retyped":
                continue
            head, filler, phone = demo_people(n)
            made = make_submission(Path(tmp) / retyped_file(unit, month), layout="retyped", unit=unit, year=2023,
                                   month_from=1, month_to=month, values=demo_values(unit, month), head=head,
                                   filler=filler, phone=phone, offset=(2, 1))
            saved = convert(made, "xlsx:Calc MS Excel 2007 XML", Path(tmp) / "saved")
            (DEFAULTS / made.name).write_bytes(saved.read_bytes())
            print(DEFAULTS / made.name)


if __name__ == "__main__":
    main()
