"""The send ledger: one SQLite row per (report, date), claimed before sending, plus one row per
recipient with what happened to it.

Claim, send, then finish as sent, partial (some recipients still owed) or failed. A re-run finds the
row and sends only to the recipients of its envelope still owed the message: nobody when all were
served ("already sent"), a newcomer to the list, one deferred last time; never one already delivered,
unless forced. A claim left by a crashed run is taken over once it is older than the
claim timeout, and a fresh claim (another run sending right now) is never taken over, not even with --force.

Recipient states: delivered (DATA accepted), refused (5xx at RCPT: not owed), deferred (4xx at RCPT or
an attempt that failed before acceptance: still owed), sending (DATA under way), ambiguous (a run died
while DATA was under way: it may have arrived, so it is not sent again unless forced).
"""
from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

DAY14_LEDGER_SCHEMA = """
CREATE TABLE IF NOT EXISTS day14_sends (
    report        TEXT NOT NULL,
    report_date   TEXT NOT NULL,
    recipients    TEXT NOT NULL,
    status        TEXT NOT NULL CHECK (status IN ('claimed', 'sent', 'partial', 'failed')),
    message_id    TEXT NOT NULL,
    claimed_at    TEXT NOT NULL,
    finished_at   TEXT,
    attempts      INTEGER NOT NULL DEFAULT 0,
    sends         INTEGER NOT NULL DEFAULT 0,
    server_reply  TEXT,
    accepted      TEXT,
    refused       TEXT,
    error         TEXT,
    note          TEXT,
    PRIMARY KEY (report, report_date, recipients)
);
CREATE TABLE IF NOT EXISTS day14_send_recipients (
    report        TEXT NOT NULL,
    report_date   TEXT NOT NULL,
    recipients    TEXT NOT NULL,
    address       TEXT NOT NULL,
    status        TEXT NOT NULL CHECK (status IN ('delivered', 'refused', 'deferred', 'sending', 'ambiguous')),
    reply         TEXT,
    attempts      INTEGER NOT NULL DEFAULT 0,
    updated_at    TEXT NOT NULL,
    PRIMARY KEY (report, report_date, recipients, address)
);
"""
DAY14_OLD_COLUMNS = ("report, report_date, recipients, status, message_id, claimed_at, finished_at, attempts, sends,"
                     " server_reply, accepted, refused, error")
DAY14_NOT_OWED = ("delivered", "refused", "ambiguous")
DAY14_LOCK_TIMEOUT_S = 30  # how long a run waits for another run's lock on the ledger before it gives up


DAY14_ANY_RECIPIENTS = "*"  # rows keyed per day: who is owed is the per-recipient table's business


@dataclass(frozen=True)
class day14_LedgerKey:
    report: str
    report_date: str
    recipients: str = DAY14_ANY_RECIPIENTS  # earlier versions keyed by the sorted envelope

    @property
    def params(self) -> tuple[str, str, str]:
        return self.report, self.report_date, self.recipients


@dataclass(frozen=True)
class day14_Claim:
    outcome: str  # claimed | already_sent | in_progress
    took_over: str | None = None  # the status we replaced: failed, partial, sent (forced) or a stale claim
    ambiguous: tuple[str, ...] = ()  # recipients a crashed run was sending to when it died


_KEY = "report=? AND report_date=? AND recipients=?"


class day14_SendLedger:
    def __init__(self, path: Path):
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(path, isolation_level=None, timeout=DAY14_LOCK_TIMEOUT_S)
        self.db.row_factory = sqlite3.Row
        self._use_wal()
        self._migrate()
        self.db.executescript(DAY14_LEDGER_SCHEMA)

    def _use_wal(self) -> None:
        """Switch to WAL, waiting for another run that holds the lock (cron and the scheduler at 07:00).

        A new ledger is still in rollback mode, so the switch writes its header: SQLite upgrades a read lock
        to a write lock for that and answers "database is locked" at once, without the busy timeout, when
        another run writes. Retried here for as long as the busy timeout would wait; a ledger already in
        WAL mode needs no write and passes first time.
        """
        deadline = time.monotonic() + DAY14_LOCK_TIMEOUT_S
        while True:
            try:
                self.db.execute("PRAGMA journal_mode=WAL")
                return
            except sqlite3.OperationalError as exc:
                if getattr(exc, "sqlite_errorcode", None) != sqlite3.SQLITE_BUSY or time.monotonic() >= deadline:
                    raise
                time.sleep(0.02)

    def _migrate(self) -> None:
        """Ledgers written before per-recipient outcomes: rebuild day14_sends with the new states and note."""
        if not self._needs_migration():
            return
        self.db.execute("BEGIN IMMEDIATE")
        try:
            if self._needs_migration():  # decided again under the lock: another run may have migrated meanwhile
                statements = ["ALTER TABLE day14_sends RENAME TO day14_sends_v1",
                              *(s for s in DAY14_LEDGER_SCHEMA.split(";") if s.strip()),
                              f"INSERT INTO day14_sends ({DAY14_OLD_COLUMNS}) SELECT {DAY14_OLD_COLUMNS} FROM day14_sends_v1",
                              "DROP TABLE day14_sends_v1"]
                for statement in statements:  # one by one: executescript would commit the open transaction
                    self.db.execute(statement)
                self._carry_over_v1_sends()
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise

    def _needs_migration(self) -> bool:
        found = self.db.execute("SELECT sql FROM sqlite_master WHERE type='table' AND name='day14_sends'").fetchone()
        return found is not None and "'partial'" not in found[0]

    def _carry_over_v1_sends(self) -> None:
        """Rows keyed by the old sorted-envelope key also count for the per-day key, so a day sent before
        the upgrade is not sent again after it: its delivered and refused recipients become recipient rows."""
        old = self.db.execute("SELECT * FROM day14_sends WHERE recipients != ? AND status = 'sent'",
                              (DAY14_ANY_RECIPIENTS,)).fetchall()
        for row in old:
            key = day14_LedgerKey(row["report"], row["report_date"])
            self.db.execute("INSERT OR IGNORE INTO day14_sends (report, report_date, recipients, status, message_id,"
                            " claimed_at, finished_at, attempts, sends, server_reply, note) VALUES"
                            " (?, ?, ?, 'sent', ?, ?, ?, 0, 0, ?, 'carried over from a ledger of the previous version')",
                            (*key.params, row["message_id"], row["claimed_at"], row["finished_at"], row["server_reply"]))
            refused = json.loads(row["refused"] or "{}")
            people = {a: ("delivered", row["server_reply"]) for a in json.loads(row["accepted"] or "[]")}
            people |= {a: ("refused", reply) for a, reply in refused.items()}
            self.db.executemany(
                "INSERT OR IGNORE INTO day14_send_recipients (report, report_date, recipients, address, status, reply,"
                " attempts, updated_at) VALUES (?, ?, ?, ?, ?, ?, 0, ?)",
                [(*key.params, a, status, reply, row["finished_at"] or row["claimed_at"])
                 for a, (status, reply) in people.items()])

    def close(self) -> None:
        self.db.close()

    def row(self, key: day14_LedgerKey) -> dict | None:
        found = self.db.execute(f"SELECT * FROM day14_sends WHERE {_KEY}", key.params).fetchone()
        return dict(found) if found else None

    def recipients(self, key: day14_LedgerKey) -> dict[str, dict]:
        rows = self.db.execute(f"SELECT * FROM day14_send_recipients WHERE {_KEY} ORDER BY address", key.params)
        return {row["address"]: dict(row) for row in rows}

    def owed(self, key: day14_LedgerKey, envelope: tuple[str, ...]) -> tuple[str, ...]:
        """The envelope minus everyone already delivered, refused for good, or possibly delivered."""
        done = {a for a, row in self.recipients(key).items() if row["status"] in DAY14_NOT_OWED}
        return tuple(a for a in envelope if a not in done)

    def claim(self, key: day14_LedgerKey, message_id: str, *, now: datetime, stale_after: timedelta,
              force: bool = False, envelope: tuple[str, ...] = ()) -> day14_Claim:
        """Claim the day's send for this envelope; 'already_sent' when nobody in it is owed the message."""
        self.db.execute("BEGIN IMMEDIATE")  # one writer decides; a parallel run waits, then sees our row
        try:
            claim = self._claim(key, message_id, now=now, stale_after=stale_after, force=force, envelope=envelope)
            self.db.execute("COMMIT")
            return claim
        except BaseException:
            self.db.execute("ROLLBACK")
            raise

    def _claim(self, key, message_id, *, now, stale_after, force, envelope) -> day14_Claim:
        existing = self.row(key)
        if existing is None:
            self.db.execute("INSERT INTO day14_sends (report, report_date, recipients, status, message_id, claimed_at)"
                            " VALUES (?, ?, ?, 'claimed', ?, ?)", (*key.params, message_id, now.isoformat()))
            return day14_Claim("claimed")
        fresh_claim = existing["status"] == "claimed" and datetime.fromisoformat(existing["claimed_at"]) > now - stale_after
        if fresh_claim:
            return day14_Claim("in_progress")
        if existing["status"] == "sent" and not force and not self.owed(key, envelope):
            return day14_Claim("already_sent")
        ambiguous = ()
        if existing["status"] == "claimed":  # a crashed run: whoever it was in DATA with may have the message
            ambiguous = tuple(a for a, row in self.recipients(key).items() if row["status"] == "sending")
            self.db.execute(f"UPDATE day14_send_recipients SET status='ambiguous', updated_at=?,"
                            f" reply='a run died during DATA: may or may not have arrived' WHERE {_KEY}"
                            " AND status='sending'", (now.isoformat(), *key.params))
        if force:
            self.db.execute(f"DELETE FROM day14_send_recipients WHERE {_KEY}", key.params)
        self.db.execute("UPDATE day14_sends SET status='claimed', message_id=?, claimed_at=?, finished_at=NULL,"
                        f" error=NULL, note=NULL WHERE {_KEY}", (message_id, now.isoformat(), *key.params))
        took_over = "stale claim" if existing["status"] == "claimed" else existing["status"]
        return day14_Claim("claimed", took_over=took_over, ambiguous=() if force else ambiguous)

    def set_recipients(self, key: day14_LedgerKey, outcomes: dict[str, tuple[str, str | None]], *, now: datetime,
                       attempted: bool = False) -> None:
        """outcomes: address -> (status, reply); attempted counts one more attempt for each."""
        with self.db:
            self.db.execute("BEGIN IMMEDIATE")
            self.db.executemany(
                "INSERT INTO day14_send_recipients (report, report_date, recipients, address, status, reply, attempts,"
                " updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (report, report_date, recipients, address)"
                " DO UPDATE SET status=excluded.status, reply=COALESCE(excluded.reply, reply),"
                " attempts=attempts+excluded.attempts, updated_at=excluded.updated_at",
                [(*key.params, address, status, reply, int(attempted), now.isoformat())
                 for address, (status, reply) in outcomes.items()])

    def finish(self, key: day14_LedgerKey, status: str, *, now: datetime, attempts: int, server_reply: str | None,
               note: str = "", error: str = "") -> None:
        """Close the run's claim: sent, partial or failed; attempts add up over the runs of the row."""
        people = self.recipients(key)
        delivered = [a for a, row in people.items() if row["status"] == "delivered"]
        refused = {a: row["reply"] for a, row in people.items() if row["status"] == "refused"}
        self.db.execute("UPDATE day14_sends SET status=?, finished_at=?, attempts=attempts+?,"
                        " sends=sends+?, server_reply=COALESCE(?, server_reply), accepted=?, refused=?, error=?, note=?"
                        f" WHERE {_KEY}",
                        (status, now.isoformat(), attempts, int(server_reply is not None), server_reply,
                         json.dumps(delivered), json.dumps(refused), error or None, note or None, *key.params))
