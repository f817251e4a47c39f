"""The demo's files follow its story's dates (April–May 2023), not the day it is run."""
import re
import zipfile

from pipeline.demo.story import SCENARIO, TASK_FORMS, run_demo
from pipeline.storage.ledger import Ledger


def test_archive_ledger_and_files_carry_the_scripted_dates(tmp_path):
    demo = run_demo(tmp_path / "demo")
    archive = demo.root / "archive"
    assert sorted(p.name for p in archive.iterdir()) == ["2023-04", "2023-05"]
    stamps = sorted(p.name[:15] for p in archive.rglob("*.xls*"))
    scripted = sorted(re.sub(r"[-:]", "", t).replace("T", "-") + "00" for _u, _m, t, _s in SCENARIO + TASK_FORMS)
    assert stamps == scripted  # e.g. 20230417-160500 for the road transport centre's April file
    with Ledger(demo.root / "annex2.sqlite") as ledger:
        arrivals = ledger.arrivals()
        recorded = {row[0]: row[1] for row in ledger.db.execute("SELECT id, recorded_at FROM arrivals")}
    first = [a for a in arrivals if a.kind == "workbook"][0]  # (the month's materials came earlier)
    assert (first.original_name, first.received_at.isoformat()) == (
        "附件2_区道路运输服务中心_2023年4月.xlsx", "2023-04-17T08:05:00+00:00")
    assert all(recorded[a.id] == a.received_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ") for a in arrivals)
    saved = [p for p in archive.rglob("*.xlsx") if "附件2_区道路运输服务中心_2023年4月" in p.name][0]
    with zipfile.ZipFile(saved) as z:
        core = z.read("docProps/core.xml").decode()
    assert re.search(r"<dcterms:modified[^>]*>2023-04-17T07:58:00Z<", core)  # saved 7 minutes before it came
