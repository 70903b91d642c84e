"""The send ledger: one SQLite row per (report, date, recipients), claimed before sending.

Claim, send, then mark sent or failed. A re-run finds the row and sends nothing unless forced;
a claim left by a crashed run is taken over once it is older than the claim timeout, and a
fresh claim (another run sending right now) is never taken over, not even with --force.
"""
from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

DAY14_LEDGER_SCHEMA = """
CREATE TABLE IF NOT EXISTS day14_sends (
    report        TEXT NOT NULL,
    report_date   TEXT NOT NULL,
    recipients    TEXT NOT NULL,
    status        TEXT NOT NULL CHECK (status IN ('claimed', 'sent', 'failed')),
    message_id    TEXT NOT NULL,
    claimed_at    TEXT NOT NULL,
    finished_at   TEXT,
    attempts      INTEGER NOT NULL DEFAULT 0,
    sends         INTEGER NOT NULL DEFAULT 0,
    server_reply  TEXT,
    accepted      TEXT,
    refused       TEXT,
    error         TEXT,
    PRIMARY KEY (report, report_date, recipients)
)
"""


@dataclass(frozen=True)
class day14_LedgerKey:
    report: str
    report_date: str
    recipients: str


@dataclass(frozen=True)
class day14_Claim:
    outcome: str  # claimed | already_sent | in_progress
    took_over: str | None = None  # the status we replaced: failed, sent (forced) or a stale claim


class day14_SendLedger:
    def __init__(self, path: Path):
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(path, isolation_level=None, timeout=30)
        self.db.row_factory = sqlite3.Row
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute(DAY14_LEDGER_SCHEMA)

    def close(self) -> None:
        self.db.close()

    def row(self, key: day14_LedgerKey) -> dict | None:
        found = self.db.execute("SELECT * FROM day14_sends WHERE report=? AND report_date=? AND recipients=?",
                                (key.report, key.report_date, key.recipients)).fetchone()
        return dict(found) if found else None

    def claim(self, key: day14_LedgerKey, message_id: str, *, now: datetime, stale_after: timedelta,
              force: bool = False) -> day14_Claim:
        self.db.execute("BEGIN IMMEDIATE")  # one writer decides; a parallel run waits, then sees our row
        try:
            existing = self.row(key)
            if existing is None:
                self.db.execute("INSERT INTO day14_sends (report, report_date, recipients, status, message_id, claimed_at)"
                                " VALUES (?, ?, ?, 'claimed', ?, ?)",
                                (key.report, key.report_date, key.recipients, message_id, now.isoformat()))
                self.db.execute("COMMIT")
                return day14_Claim("claimed")
            fresh_claim = existing["status"] == "claimed" and datetime.fromisoformat(existing["claimed_at"]) > now - stale_after
            if fresh_claim or (existing["status"] == "sent" and not force):
                self.db.execute("COMMIT")
                return day14_Claim("in_progress" if fresh_claim else "already_sent")
            self.db.execute("UPDATE day14_sends SET status='claimed', message_id=?, claimed_at=?, finished_at=NULL,"
                            " error=NULL WHERE report=? AND report_date=? AND recipients=?",
                            (message_id, now.isoformat(), key.report, key.report_date, key.recipients))
            self.db.execute("COMMIT")
            return day14_Claim("claimed", took_over="stale claim" if existing["status"] == "claimed" else existing["status"])
        except BaseException:
            self.db.execute("ROLLBACK")
            raise

    def mark_sent(self, key: day14_LedgerKey, *, now: datetime, attempts: int, server_reply: str,
                  accepted, refused: dict) -> None:
        self.db.execute("UPDATE day14_sends SET status='sent', finished_at=?, attempts=?, sends=sends+1,"
                        " server_reply=?, accepted=?, refused=? WHERE report=? AND report_date=? AND recipients=?",
                        (now.isoformat(), attempts, server_reply, json.dumps(list(accepted)), json.dumps(refused),
                         key.report, key.report_date, key.recipients))

    def mark_failed(self, key: day14_LedgerKey, *, now: datetime, attempts: int, error: str) -> None:
        self.db.execute("UPDATE day14_sends SET status='failed', finished_at=?, attempts=?, error=?"
                        " WHERE report=? AND report_date=? AND recipients=?",
                        (now.isoformat(), attempts, error, key.report, key.report_date, key.recipients))
