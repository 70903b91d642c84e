"""Two runs of the same day opening the same ledger at once: every step where they can interleave.

The interleavings are forced with a second connection holding SQLite's write lock (what the other run
does while it opens, migrates or claims), so each test shows its race on every run, not once in ten.
"""
import sqlite3
import threading
import time
from datetime import datetime, timedelta, timezone

from day14_LEDGER_sends import day14_LedgerKey, day14_SendLedger

NOW = datetime(2026, 11, 22, 20, 0, tzinfo=timezone.utc)
DAY = day14_LedgerKey("transport-kpi", "2026-11-22")
HOLD_S = 0.5  # how long the other run keeps the lock


def _hold_write_lock(path, seconds, then=None):
    """Another run: takes the write lock now, keeps it `seconds`, runs `then(db)` inside it, commits."""
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    db.execute("BEGIN IMMEDIATE")

    def release():
        time.sleep(seconds)
        if then is not None:
            then(db)
        db.execute("COMMIT")
        db.close()

    thread = threading.Thread(target=release)
    thread.start()
    return thread


def test_opening_a_new_ledger_while_another_run_holds_its_lock_waits_instead_of_crashing(tmp_path):
    # a brand-new ledger is still in rollback mode: switching it to WAL must write its header, and SQLite
    # answers that upgrade with "database is locked" at once (no busy wait) while another run writes
    path = tmp_path / "ledger.sqlite"
    holder = _hold_write_lock(path, HOLD_S)
    started = time.monotonic()
    ledger = day14_SendLedger(path)
    holder.join()
    assert time.monotonic() - started >= HOLD_S * 0.8, "it waited for the other run"
    assert ledger.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert ledger.claim(DAY, "<m>", now=NOW, stale_after=timedelta(minutes=30)).outcome == "claimed"
    ledger.close()


def test_two_runs_opening_a_new_ledger_at_once_both_start_and_exactly_one_claims(tmp_path):
    path = tmp_path / "ledger.sqlite"
    barrier, outcomes, errors = threading.Barrier(2), [], []

    def run():
        try:
            barrier.wait()
            ledger = day14_SendLedger(path)
            outcomes.append(ledger.claim(DAY, "<m>", now=NOW, stale_after=timedelta(minutes=30)).outcome)
            ledger.close()
        except Exception as exc:  # noqa: BLE001 - the test reports it
            errors.append(repr(exc))

    for _ in range(10):  # each round a fresh ledger: the window is only open before the first WAL switch
        path = tmp_path / f"ledger{_}.sqlite"
        outcomes.clear()
        threads = [threading.Thread(target=run) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert not errors and sorted(outcomes) == ["claimed", "in_progress"]


def _old_ledger(path):
    """A ledger written by the version before per-recipient outcomes (WAL, as that version also used)."""
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("""CREATE TABLE day14_sends (report TEXT NOT NULL, report_date TEXT NOT NULL,
            recipients TEXT NOT NULL, status TEXT NOT NULL CHECK (status IN ('claimed', 'sent', 'failed')),
            message_id TEXT NOT NULL, claimed_at TEXT NOT NULL, finished_at TEXT, attempts INTEGER NOT NULL DEFAULT 0,
            sends INTEGER NOT NULL DEFAULT 0, server_reply TEXT, accepted TEXT, refused TEXT, error TEXT,
            PRIMARY KEY (report, report_date, recipients))""")
        db.execute("INSERT INTO day14_sends VALUES ('transport-kpi', '2026-11-21', 'a@x.example', 'sent', '<m>',"
                   " '2026-11-21T20:00:00+00:00', NULL, 1, 1, '250 OK', '[\"a@x.example\"]', '{}', NULL)")
    sqlite3.connect(path).close()


def test_two_runs_upgrading_an_old_ledger_at_once_migrate_it_once(tmp_path):
    # the other run is migrating (it holds the write lock) when this one reads the old schema; once it
    # commits, this run must see the new schema and not migrate the migrated table a second time
    path = tmp_path / "old.sqlite"
    _old_ledger(path)

    def migrate(db):  # what the other run's ledger does inside its lock, on its own connection
        other = day14_SendLedger.__new__(day14_SendLedger)
        other.db = db
        db.row_factory = sqlite3.Row
        db.execute("ALTER TABLE day14_sends RENAME TO day14_sends_v1")
        from day14_LEDGER_sends import DAY14_LEDGER_SCHEMA, DAY14_OLD_COLUMNS
        for statement in DAY14_LEDGER_SCHEMA.split(";"):
            if statement.strip():
                db.execute(statement)
        db.execute(f"INSERT INTO day14_sends ({DAY14_OLD_COLUMNS}) SELECT {DAY14_OLD_COLUMNS} FROM day14_sends_v1")
        db.execute("DROP TABLE day14_sends_v1")
        other._carry_over_v1_sends()

    holder = _hold_write_lock(path, HOLD_S, then=migrate)
    ledger = day14_SendLedger(path)  # reads the old schema at once, then has to wait for the other run's lock
    holder.join()
    day = day14_LedgerKey("transport-kpi", "2026-11-21")
    assert ledger.row(day)["note"] == "carried over from a ledger of the previous version", \
        "the migrated table was migrated again and lost what the first migration wrote"
    assert not ledger.db.execute("SELECT name FROM sqlite_master WHERE name='day14_sends_v1'").fetchall()
    assert ledger.claim(day, "<m>", now=NOW, stale_after=timedelta(minutes=30),
                        envelope=("a@x.example",)).outcome == "already_sent"
    ledger.close()
