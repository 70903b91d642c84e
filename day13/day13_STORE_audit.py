"""The triage database (SQLite, WAL): alerts, what was received, notifications, and the audit trail.

The audit trail is append-only (triggers refuse UPDATE and DELETE) and hash-chained: each row's hash
covers its content and the previous row's hash, so changing or removing any row breaks the chain at
that row, and day13_verify_audit names the first broken one. Audit rows are written in the same
transaction as the state change they record: there is no change without its audit row.
"""
from __future__ import annotations

import csv
import hashlib
import json
import sqlite3
from datetime import datetime
from pathlib import Path

import orjson

DAY13_SCHEMA = """
CREATE TABLE IF NOT EXISTS day13_alerts (
    fingerprint TEXT PRIMARY KEY, alert_type TEXT NOT NULL, entity_id TEXT NOT NULL, severity TEXT NOT NULL,
    rationale TEXT NOT NULL, labels TEXT NOT NULL, count INTEGER NOT NULL, created_at TEXT NOT NULL,
    first_seen TEXT NOT NULL, last_seen TEXT NOT NULL, triaged_at TEXT NOT NULL, sla_minutes INTEGER NOT NULL,
    sla_breached INTEGER NOT NULL DEFAULT 0, rules_version TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS day13_received (
    source TEXT NOT NULL, source_id TEXT NOT NULL, fingerprint TEXT NOT NULL, alert_id TEXT NOT NULL,
    created_at TEXT NOT NULL, received_at TEXT NOT NULL, PRIMARY KEY (source, source_id));
CREATE TABLE IF NOT EXISTS day13_api_inbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT, body TEXT NOT NULL, received_at TEXT NOT NULL, done INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS day13_quarantine (
    id INTEGER PRIMARY KEY AUTOINCREMENT, source TEXT NOT NULL, item TEXT NOT NULL, reason TEXT NOT NULL,
    raw TEXT, at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS day13_notifications (
    fingerprint TEXT NOT NULL, receiver TEXT NOT NULL, status TEXT NOT NULL, group_key TEXT NOT NULL,
    pending_since TEXT, last_sent_at TEXT, sent_count INTEGER NOT NULL DEFAULT 0, attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT, PRIMARY KEY (fingerprint, receiver));
CREATE TABLE IF NOT EXISTS day13_groups (
    receiver TEXT NOT NULL, group_key TEXT NOT NULL, last_sent_at TEXT, PRIMARY KEY (receiver, group_key));
CREATE TABLE IF NOT EXISTS day13_tickets (
    id INTEGER PRIMARY KEY AUTOINCREMENT, queue TEXT NOT NULL, title TEXT NOT NULL, body TEXT NOT NULL, created_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS day13_slack_outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT, channel TEXT NOT NULL, payload TEXT NOT NULL, posted_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS day13_config_versions (
    kind TEXT NOT NULL, version TEXT NOT NULL, content TEXT NOT NULL, loaded_at TEXT NOT NULL, PRIMARY KEY (kind, version));
CREATE TABLE IF NOT EXISTS day13_audit (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL,
    fingerprint TEXT, alert_id TEXT, rules_version TEXT, routing_version TEXT, rationale TEXT, details TEXT,
    prev_hash TEXT NOT NULL, hash TEXT NOT NULL);
CREATE TRIGGER IF NOT EXISTS day13_audit_no_update BEFORE UPDATE ON day13_audit
    BEGIN SELECT RAISE(ABORT, 'day13_audit is append-only'); END;
CREATE TRIGGER IF NOT EXISTS day13_audit_no_delete BEFORE DELETE ON day13_audit
    BEGIN SELECT RAISE(ABORT, 'day13_audit is append-only'); END;
"""
DAY13_AUDIT_COLUMNS = ("at", "actor", "action", "fingerprint", "alert_id", "rules_version", "routing_version",
                       "rationale", "details")
DAY13_GENESIS = "0" * 64
DAY13_DETAILS_FALLBACK = json.JSONEncoder(default=str, sort_keys=True)  # sorted like the orjson path
DAY13_ACTIONS = ("ingested", "quarantined", "classified", "routed", "notified", "notify_failed", "inhibited",
                 "silenced", "sla_breached", "escalated", "config_loaded", "config_rejected")


def day13_connect(path: Path) -> sqlite3.Connection:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path, isolation_level=None, timeout=30)
    db.row_factory = sqlite3.Row
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    # A run writes megabytes of audit rows per file: checkpoint the WAL every ~40 MB rather than every 4 MB,
    # and keep the primary-key pages of a 50k-alert run in a 64 MB cache.
    db.execute("PRAGMA wal_autocheckpoint=10000")
    db.execute("PRAGMA cache_size=-65536")
    db.executescript(DAY13_SCHEMA)
    return db


def day13_json(value) -> str:
    """Compact JSON for audit details and labels: orjson (C) on the 10k alerts/s path, stdlib for what it refuses."""
    try:
        return orjson.dumps(value, default=str, option=orjson.OPT_SORT_KEYS).decode()
    except TypeError:  # integers beyond 64 bits, non-text keys
        return DAY13_DETAILS_FALLBACK.encode(value)


def _row_hash(prev_hash: str, values: tuple) -> str:
    """sha256 over the previous hash and the row's text fields, separated by a control character."""
    return hashlib.sha256("\x1e".join((prev_hash, *[v or "" for v in values])).encode()).hexdigest()


class day13_Audit:
    """Appends hash-chained audit rows; use inside the transaction of the change being recorded."""

    def __init__(self, db: sqlite3.Connection, actor: str, rules_version: str = "", routing_version: str = ""):
        self.db, self.actor = db, actor
        self.rules_version, self.routing_version = rules_version, routing_version
        self._head: str | None = None
        self._rows: list[tuple] = []
        self._last_at, self._last_iso = None, ""

    def head(self) -> str:
        if self._head is None:
            last = self.db.execute("SELECT hash FROM day13_audit ORDER BY seq DESC LIMIT 1").fetchone()
            self._head = last["hash"] if last else DAY13_GENESIS
        return self._head

    def record(self, action: str, at: datetime, *, fingerprint: str = "", alert_id: str = "", rationale: str = "",
               **details) -> None:
        assert action in DAY13_ACTIONS, action
        if at is not self._last_at:  # one run stamps thousands of rows with the same instant
            self._last_at, self._last_iso = at, at.isoformat()
        values = (self._last_iso, self.actor, action, fingerprint, alert_id, self.rules_version, self.routing_version,
                  rationale, day13_json(details) if details else "{}")
        prev = self.head()
        self._head = _row_hash(prev, values)
        self._rows.append((*values, prev, self._head))

    def flush(self) -> None:
        """Write the buffered rows (call before COMMIT; executemany keeps 50k-alert runs fast)."""
        if self._rows:
            self.db.executemany(f"INSERT INTO day13_audit ({', '.join(DAY13_AUDIT_COLUMNS)}, prev_hash, hash) "
                                f"VALUES ({', '.join('?' * (len(DAY13_AUDIT_COLUMNS) + 2))})", self._rows)
            self._rows = []

    def discard(self) -> None:
        """After a ROLLBACK: forget buffered rows and re-read the head from the database."""
        self._rows, self._head = [], None


def day13_verify_audit(db: sqlite3.Connection) -> tuple[int, int | None, str]:
    """(rows checked, first broken seq or None, what is wrong there)."""
    expected_prev, checked, expected_seq = DAY13_GENESIS, 0, None
    for row in db.execute(f"SELECT seq, {', '.join(DAY13_AUDIT_COLUMNS)}, prev_hash, hash FROM day13_audit ORDER BY seq"):
        checked += 1
        if expected_seq is not None and row["seq"] != expected_seq:
            return checked, row["seq"], f"rows {expected_seq}..{row['seq'] - 1} are missing"
        if row["prev_hash"] != expected_prev:
            return checked, row["seq"], "does not follow the previous row (a row before it was changed or removed)"
        if _row_hash(row["prev_hash"], tuple(row[c] for c in DAY13_AUDIT_COLUMNS)) != row["hash"]:
            return checked, row["seq"], "its content no longer matches its hash (the row was changed)"
        expected_prev, expected_seq = row["hash"], row["seq"] + 1
    return checked, None, ""


def day13_export_audit(db: sqlite3.Connection, target: Path) -> int:
    columns = ("seq", *DAY13_AUDIT_COLUMNS, "prev_hash", "hash")
    rows = db.execute(f"SELECT {', '.join(columns)} FROM day13_audit ORDER BY seq").fetchall()
    Path(target).parent.mkdir(parents=True, exist_ok=True)
    with open(target, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        writer.writerows(tuple(r) for r in rows)
    return len(rows)
