"""Received time from what the intake witnessed (a file is placed between the scan that missed it and the scan
that found it, never earlier), a unit as an identity across a rename and its former folder, files in a
folder of no one held for the clerk. A working folder made by `annex2 init` and real `python -m pipeline`
processes."""
from factory import make_submission
from helpers import edit_config, rows, run_cli

EXEC = "交通运输综合行政执法大队"
SAFETY = "局安全监督股"


# --- received time from events we witnessed -------------------------------------------------------

def test_a_folder_moved_in_from_the_units_receipts_is_received_when_a_scan_found_it(workdir):
    """Attack 2, finding 3: the file came in between two scans, its ctime says before the first: received at
    the second scan (the one that found it), never backdated to the first (was: the first)."""
    import os

    hidden = workdir / "inbox" / EXEC / "回执" / "5月报表"  # 回执/ is never scanned: prepared there in advance
    hidden.mkdir(parents=True)
    make_submission(hidden / "附件2.xlsx")
    prepared = os.lstat(hidden / "附件2.xlsx").st_ctime_ns
    assert run_cli(workdir, "ingest").returncode == 0  # a scan of the whole inbox: nothing to take
    ((missed,),) = rows(workdir, "SELECT last_utc FROM inbox_scans WHERE scope = ''")
    os.rename(hidden, workdir / "inbox" / EXEC / "5月报表")  # a directory rename keeps its files' ctime
    assert os.lstat(workdir / "inbox" / EXEC / "5月报表" / "附件2.xlsx").st_ctime_ns == prepared
    result = run_cli(workdir, "ingest")
    assert result.returncode == 0, result.stderr
    ((found,),) = rows(workdir, "SELECT last_utc FROM inbox_scans WHERE scope = ''")
    assert found > missed
    assert rows(workdir, "SELECT original_name, outcome, received_utc, received_rule FROM arrivals") == [
        ("附件2.xlsx", "accepted", found, "inbox_scan")]


def test_metadata_places_a_file_only_between_two_scans(workdir):
    """Library level, with times written out: a scan at 10:00 that saw nothing, then a scan on the 24th at
    08:00 that finds two files. The one whose ctime says 09:00 (moved in inside a folder: a rename keeps the
    ctime) came some time in (10:00, 08:00 next day] — received at 08:00 on the 24th, when the scan found it,
    never backdated to 10:00 (was, before attack 2's finding 3). One whose ctime says 10:30 keeps 10:30."""
    from helpers import arriving_at, at

    from pipeline.core import config
    from pipeline.intake.ingest import Ingester, scan_inbox
    from pipeline.intake.witness import record_scan, scan_of
    from pipeline.storage.ledger import Ledger

    cfg = config.load(workdir / "config.toml")
    with Ledger(cfg.ledger) as ledger:
        record_scan(ledger, scan_of(cfg.inbox, scan_inbox(cfg), None, at("2023-05-23T10:00")))
    make_submission(workdir / "inbox" / EXEC / "移入" / "附件2.xlsx")
    make_submission(workdir / "inbox" / SAFETY / "附件2.xlsx", unit=SAFETY)

    def stat(path):
        moment = "2023-05-23T09:00" if "移入" in str(path) else "2023-05-23T10:30"
        return arriving_at(at(moment))(path)

    with Ledger(cfg.ledger) as ledger:
        started = at("2023-05-24T08:00")
        found = scan_inbox(cfg)
        result = Ingester(cfg, ledger, lambda: at("2023-05-24T08:00"), stat=stat,
                          wall=lambda: 4e9).run(found, scans=(scan_of(cfg.inbox, found, None, started),))
        got = sorted((a.unit, a.received_at.astimezone(at("2023-05-23T10:00").tzinfo).isoformat(), a.received_rule)
                     for a in ledger.arrivals())
    assert [f.outcome for f in result.files] == ["accepted", "accepted"]
    assert got == [(EXEC, "2023-05-24T08:00:00+08:00", "inbox_scan"),
                   (SAFETY, "2023-05-23T10:30:00+08:00", "inbox_ctime")]


def test_a_received_at_in_the_future_is_refused(workdir, tmp_path):
    outside = make_submission(tmp_path / "邮件附件" / "附件2.xlsx")
    result = run_cli(workdir, "ingest", str(outside), "--unit", "执法大队", "--received-at", "2036-05-22T16:40")
    assert result.returncode == 2, result.stderr
    assert "2036-05-22 16:40 晚于现在" in result.stderr and "收到时间不能在将来" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (workdir / "annex2.sqlite").exists() or rows(workdir, "SELECT COUNT(*) FROM arrivals") == [(0,)]


# --- a unit is an identity, not a name ------------------------------------------------------------

RENAMED = "云溪区交通运输综合行政执法大队"


def rename_exec(work, folder=True):
    """The clerk renames 执法大队 in config, keeping the old name as an alias (and, with `folder`, its folder)."""
    edit_config(work, 'name = "交通运输综合行政执法大队"\naliases = ["执法大队", "综合行政执法大队", "区交通运输综合行政执法大队"]',
                f'name = "{RENAMED}"\n' + ('folder = "交通运输综合行政执法大队"\n' if folder else "") +
                'aliases = ["执法大队", "综合行政执法大队", "区交通运输综合行政执法大队", "交通运输综合行政执法大队"]')


def test_a_renamed_unit_keeps_one_history_and_counts_once_in_the_district_total(workdir):
    import csv
    import json

    make_submission(workdir / "inbox" / EXEC / "附件2.xlsx")
    assert run_cli(workdir, "ingest").returncode == 0
    rename_exec(workdir)
    make_submission(workdir / "inbox" / EXEC / "附件2-更正.xlsx", cells={("traffic", "inspectors"): 30})
    assert run_cli(workdir, "ingest").returncode == 0

    exported = run_cli(workdir, "export", "--month", "2023-05", "--csv", "五月.csv", "--labels", "keys")
    assert exported.returncode == 0, exported.stderr
    assert "2023年5月合计已报 1/9" in exported.stderr
    with open(workdir / "五月.csv", encoding="utf-8-sig") as f:
        table = list(csv.DictReader(f))
    assert {r["unit"] for r in table} == {RENAMED} and len(table) == 7  # one unit, seven sectors, once
    assert [r["inspectors"] for r in table if r["sector"] == "traffic"] == ["30"]

    status = json.loads(run_cli(workdir, "status", "--month", "2023-05", "--json").stdout)
    assert [u["unit"] for u in status["units"] if "执法大队" in u["unit"]] == [RENAMED]
    assert rows(workdir, "SELECT unit, folder_unit, declared_unit FROM arrivals ORDER BY id") == [
        (RENAMED, RENAMED, EXEC), (RENAMED, RENAMED, EXEC)]  # the typed name is kept as typed
    history = json.loads(run_cli(workdir, "history", "--unit", "执法大队", "--json").stdout)
    assert [(r["file"], r["status"]) for r in history["arrivals"]] == [
        ("附件2.xlsx", "superseded"), ("附件2-更正.xlsx", "current")]
    (event,) = [json.loads(d) for (k, d) in rows(workdir, "SELECT kind, detail FROM events") if k == "unit_renamed"]
    assert (event["from"], event["to"]) == (EXEC, RENAMED)


# --- folders that belong to no one are not the clerk's root ----------------------------------------

def test_a_units_former_folder_is_still_that_units_never_the_name_typed_in_the_form(workdir):
    import json

    edit_config(workdir, 'name = "交通运输综合行政执法大队"\n', 'name = "交通运输综合行政执法大队"\nfolder = "执法大队"\n')
    # The old folder (init made it; the unit can still write there): a form typed as another unit's.
    form = make_submission(workdir / "inbox" / EXEC / "附件2.xlsx", unit=SAFETY)
    checked = run_cli(workdir, "validate", str(form))  # validate judges it as ingest will
    assert checked.returncode == 1 and "E_UNIT_MISMATCH" in checked.stdout, checked.stdout
    result = run_cli(workdir, "ingest")
    assert result.returncode == 1, result.stderr  # rejected: the folder says 执法大队, the form says 安监股
    assert rows(workdir, "SELECT unit, folder_unit, declared_unit, outcome FROM arrivals") == [
        (EXEC, EXEC, SAFETY, "rejected")]
    assert f"来自“{EXEC}”文件夹——{EXEC}原来的文件夹（现在是“执法大队”），按{EXEC}的文件处理" in result.stdout
    assert "E_UNIT_MISMATCH" in result.stdout
    status = run_cli(workdir, "status", "--month", "2023-05")
    assert f"  {EXEC}/ —— {EXEC}原来的文件夹（现在是“执法大队”），其中 0 个文件按{EXEC}的文件处理" in status.stdout
    listed = json.loads(run_cli(workdir, "status", "--month", "2023-05", "--json").stdout)["foreign_folders"]
    assert listed == [{"folder": EXEC, "kind": "former", "unit": EXEC, "files": 0}]


def test_files_in_a_folder_of_no_one_are_held_until_the_clerk_says_whose(workdir):
    held = make_submission(workdir / "inbox" / "临时" / "附件2.xlsx", unit=SAFETY)
    make_submission(workdir / "inbox" / "临时" / "草稿" / "附件2-草稿.xlsx", unit=SAFETY)
    result = run_cli(workdir, "ingest")
    assert result.returncode == 0, result.stderr
    assert "等待  附件2.xlsx：文件夹“临时”不属于任何单位（不是 config.toml 中某个单位的 folder），文件暂不处理" in result.stderr
    assert held.exists() and rows(workdir, "SELECT COUNT(*) FROM arrivals") == [(0,)]
    status = run_cli(workdir, "status", "--month", "2023-05")
    assert "  临时/ —— 不属于任何单位，其中 2 个文件暂不处理" in status.stdout
    named = run_cli(workdir, "ingest", str(held), "--unit", "安监股")  # the clerk says whose it is
    assert named.returncode == 0, named.stderr
    assert rows(workdir, "SELECT unit, folder_unit, outcome FROM arrivals") == [(SAFETY, SAFETY, "accepted")]
    again = run_cli(workdir, "init", ".", "--force")
    assert "  临时/ —— 不属于任何单位，其中 1 个文件暂不处理" in again.stderr


def test_a_scan_recorded_late_forgets_no_file_a_later_scan_saw(workdir):
    """`ingest` scans, then waits for the lock while the watcher records a later scan that sees a new file:
    the earlier scan, recorded last, must not forget that file (its bound would move to after its arrival)."""
    from helpers import at

    from pipeline.core import config
    from pipeline.intake.witness import Scan, Witness, record_scan
    from pipeline.storage.ledger import Ledger

    cfg = config.load(workdir / "config.toml")
    report = make_submission(workdir / "inbox" / EXEC / "附件2.xlsx")
    ino = report.stat().st_ino
    with Ledger(cfg.ledger) as ledger:
        record_scan(ledger, Scan("", at("2023-05-23T09:00"), ()))  # nothing there yet
        record_scan(ledger, Scan("", at("2023-05-23T10:05"), ((f"{EXEC}/附件2.xlsx", ino),)))  # the watcher's
        record_scan(ledger, Scan("", at("2023-05-23T10:00"), ()))  # ingest's, begun earlier, recorded now
        assert Witness(ledger).window(cfg.inbox, report, ino)[0] == at("2023-05-23T09:00")
