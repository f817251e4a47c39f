"""One session per command or batch (storage/session.py): the folder's lock is held for the session only,
writers wait for it and say who holds it, readers never wait."""
import pytest
from helpers import edit_config, rows, run_cli


@pytest.fixture
def cfg(workdir):
    from pipeline.core import config

    edit_config(workdir, "lock_wait_seconds = 120", "lock_wait_seconds = 1")
    return config.load(workdir / "config.toml")


def test_the_lock_is_held_for_the_session_and_given_back_after_it(cfg):
    from pipeline.storage.lock import LockBusy, batch_lock
    from pipeline.storage.session import session

    with session(cfg, "merge") as ledger:
        assert ledger.command == "merge"
        with pytest.raises(LockBusy):
            with batch_lock(cfg.lock_file, "watch", timeout=0):
                pass
    with batch_lock(cfg.lock_file, "watch", timeout=0):  # free again: the watcher's next batch goes in
        pass


def test_a_session_that_does_not_lock_opens_while_another_holds_the_folder(cfg):
    from pipeline.storage.lock import batch_lock
    from pipeline.storage.session import session

    with batch_lock(cfg.lock_file, "watch"), session(cfg, "status", lock=False) as ledger:
        assert ledger.counts() == {"arrivals": 0, "issues": 0, "submission_values": 0, "events": 0}


def test_a_writing_session_waits_for_the_holder_then_says_who_it_is(cfg):
    from pipeline.storage.lock import LockBusy, batch_lock
    from pipeline.storage.session import session

    with batch_lock(cfg.lock_file, "watch"):
        with pytest.raises(LockBusy) as busy:
            with session(cfg, "notices"):
                pass
    assert str(busy.value).startswith("另一个 annex2 进程正在处理（watch，进程 ")


def test_materials_set_kind_and_status_run_while_merge_holds_the_folder_lock(workdir, cfg):
    # set-kind is one SQLite transaction: like status, it never waited for the folder's batch lock, and the
    # restructure keeps it so (a clerk's correction is not held up by the watcher's batch)
    from pipeline.storage.lock import batch_lock

    with batch_lock(cfg.lock_file, "merge"):  # as `merge` holds it while it writes the month's outputs
        corrected = run_cli(workdir, "materials", "set-kind", "1", "盖章版")
        looked = run_cli(workdir, "status", "--month", "2023-05", "--as-of", "2023-06-10")
    assert corrected.returncode == 1, corrected.stderr
    assert "台账中没有编号为 1 的文件" in corrected.stderr and "另一个 annex2 进程" not in corrected.stderr
    assert looked.returncode == 0, looked.stderr
    assert rows(workdir, "SELECT kind FROM events WHERE command = 'materials set-kind'") == []


def test_a_ledger_at_the_latest_step_opens_again_with_nothing_reapplied(cfg):
    from pipeline.storage.session import session

    def schema(ledger):
        return (ledger.db.execute("SELECT version, applied_utc FROM schema_migrations ORDER BY version").fetchall(),
                ledger.db.execute("SELECT type, name, sql FROM sqlite_master ORDER BY name").fetchall())

    with session(cfg, "status", lock=False) as ledger:
        before = schema(ledger)
    with session(cfg, "merge") as ledger:
        after = schema(ledger)
    assert [v for v, _at in before[0]] == [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]
    assert after == before
