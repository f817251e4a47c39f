"""One arrival row is written once, complete: the arrival's kind, outcome, unit, month and receipt are in the
row as it is inserted; nothing rewrites it afterwards (a trigger of the test's own refuses any UPDATE)."""
import time

from factory import docx
from helpers import arriving_at, at, drop

from pipeline.core import config
from pipeline.intake.ingest import Ingester, scan_inbox
from pipeline.storage.ledger import Ledger

EXEC = "交通运输综合行政执法大队"


def test_a_workbook_and_a_material_are_each_inserted_whole_and_never_updated(workdir):
    drop(workdir, EXEC, "附件2.xlsx", unit="执法大队")
    (workdir / "inbox" / EXEC / "执法大队5月工作情况.docx").write_bytes(docx("2023年5月工作情况", "正文"))
    cfg = config.load(workdir / "config.toml")
    with Ledger(cfg.ledger) as ledger:
        ledger.db.execute("CREATE TEMP TRIGGER arrivals_written_once BEFORE UPDATE ON arrivals "
                          "BEGIN SELECT RAISE(ABORT, 'an arrival row was rewritten'); END")
        result = Ingester(cfg, ledger, lambda: at("2023-05-20T10:00"), wall=lambda: time.time() + 60,
                          stat=arriving_at(at("2023-05-20T10:00"))).run(scan_inbox(cfg))
        rows = ledger.db.execute(
            "SELECT a.original_name, a.kind, a.outcome, a.unit, a.year, a.month_from, a.month_to, "
            "a.receipt_path LIKE 'inbox/' || ? || '/回执/%.txt', m.kind FROM arrivals a "
            "LEFT JOIN material_files m ON m.arrival_id = a.id ORDER BY a.original_name", (EXEC,)).fetchall()
    assert sorted((r.name, r.outcome) for r in result.files) == [("执法大队5月工作情况.docx", "material"),
                                                                 ("附件2.xlsx", "accepted")]
    assert rows == [("执法大队5月工作情况.docx", "material", "material", EXEC, 2023, 5, 5, 1, "electronic"),
                    ("附件2.xlsx", "workbook", "accepted", EXEC, 2023, 1, 5, 1, None)]
