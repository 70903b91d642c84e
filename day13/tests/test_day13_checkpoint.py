"""A triage run's store copies its WAL into the database from a thread of its own (the writer's commits never
stop for a checkpoint), says so once by error type when that thread cannot work, and leaves no thread behind."""
import logging
import sqlite3
import threading
import time
from contextlib import ExitStack
from datetime import datetime, timezone

import day13_STORE_audit
from day13_RUNTIME_wiring import day13_open_run_store
from day13_STORE_audit import day13_Store


def _commit_audit_rows(store, rows: int) -> None:
    audit = store.audit("test")
    with store.transaction(audit):
        for n in range(rows):
            audit.record("config_loaded", datetime.now(timezone.utc), rationale=f"row {n}")


def _wait_for(condition, seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return False


def test_a_run_store_checkpoints_every_commit_in_the_background_and_stops_with_the_store(settings):
    with ExitStack() as stack:
        store = day13_open_run_store(settings, stack)
        store.db.execute("PRAGMA wal_autocheckpoint=0")  # only the background thread may checkpoint here
        _commit_audit_rows(store, 2_000)
        checkpointer = store.checkpointer
        # (busy, frames in the WAL, frames copied into the database) of the thread's last pass
        assert _wait_for(lambda: checkpointer.last is not None and checkpointer.last[1] > 0
                         and checkpointer.last[1] == checkpointer.last[2])
        assert any(t.name == "day13-checkpoint" for t in threading.enumerate())
    assert not any(t.name == "day13-checkpoint" for t in threading.enumerate())  # stopped and joined with the store
    db = sqlite3.connect(settings.audit_log_path)
    assert db.execute("SELECT COUNT(*) FROM day13_audit").fetchone()[0] == 2_000
    db.close()


def test_stores_outside_a_run_start_no_thread(settings):
    store = day13_Store.open(settings.audit_log_path)  # the API opens one per request: no thread each
    try:
        assert store.checkpointer is None
        assert not any(t.name == "day13-checkpoint" for t in threading.enumerate())
    finally:
        store.close()


def test_a_checkpoint_thread_that_cannot_work_says_so_once_by_type_and_the_run_goes_on(settings, monkeypatch, caplog,
                                                                                        capsys):
    hooked = []
    monkeypatch.setattr(threading, "excepthook", lambda args: hooked.append(args))  # a traceback would land here

    def refuse(*args, **kwargs):
        raise sqlite3.OperationalError(f"unable to open database file {settings.audit_log_path} secret=hunter2")

    caplog.set_level(logging.INFO, logger="day13")
    with ExitStack() as stack:
        store = day13_open_run_store(settings, stack)
        monkeypatch.setattr(day13_STORE_audit, "_checkpoint_connection", refuse)
        for _ in range(3):
            _commit_audit_rows(store, 10)  # the writer goes on: SQLite's automatic checkpoint is the safety net
        assert _wait_for(lambda: not store.checkpointer.alive())
    warnings = [r for r in caplog.records if r.name == "day13.store" and r.levelno == logging.WARNING]
    assert len(warnings) == 1 and warnings[0].error == "OperationalError"
    text = caplog.text + capsys.readouterr().err
    assert "hunter2" not in text and str(settings.audit_log_path) not in text and "Traceback" not in text
    assert not hooked
    db = sqlite3.connect(settings.audit_log_path)
    assert db.execute("SELECT COUNT(*) FROM day13_audit").fetchone()[0] == 30
    db.close()


def test_the_checkpoint_thread_never_creates_a_database_where_the_runs_was_removed(settings, caplog):
    caplog.set_level(logging.INFO, logger="day13")
    with ExitStack() as stack:
        store = day13_open_run_store(settings, stack)
        settings.audit_log_path.unlink()  # removed (or moved away) under a running run
        _commit_audit_rows(store, 10)
        assert _wait_for(lambda: store.checkpointer.last is not None or not store.checkpointer.alive())
    # an empty database left at the path would be opened by the next run as a fresh, "intact" audit trail
    assert not settings.audit_log_path.exists()
