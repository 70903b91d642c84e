"""The triage database (SQLite, WAL): every table, every query, and the hash-chained audit trail.

No other module writes SQL. The stages call day13_Store methods inside day13_Store.transaction(),
which also appends the audit rows of that change: there is no state change without its audit row,
and no notification owed without its outbox row.

Alert states (day13_alert_state.state, beside the alert's row), each change committed with its audit rows:
    stored   -> routed    notifications rows written 'pending' (or nothing owed: notified / closed)
    routed   -> notified  every outbox message carrying the alert was delivered
    *        -> escalated past its SLA while open: an escalation message was put in the outbox
    *        -> closed    silenced or inhibited (stored and audited, nothing sent)
A repeat of a known alert puts it back to 'stored', so the next route stage looks at it again.

The audit trail is append-only (triggers refuse UPDATE and DELETE) and hash-chained: each row's hash
covers its content and the previous row's hash, so changing or removing any row breaks the chain at
that row, and day13_verify_audit names the first broken one.
"""
from __future__ import annotations

import csv
import hashlib
from hashlib import sha256
import json
import logging
import sqlite3
import threading
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Iterable, Iterator

import orjson

DAY13_SCHEMA = """
CREATE TABLE IF NOT EXISTS day13_alerts (
    fingerprint TEXT PRIMARY KEY, alert_type TEXT NOT NULL, entity_id TEXT NOT NULL, severity TEXT NOT NULL,
    rationale TEXT NOT NULL, labels TEXT NOT NULL, count INTEGER NOT NULL, created_at TEXT NOT NULL,
    first_seen TEXT NOT NULL, last_seen TEXT NOT NULL, triaged_at TEXT NOT NULL, sla_minutes INTEGER NOT NULL,
    rules_version TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS day13_alert_state (
    fingerprint TEXT PRIMARY KEY, state TEXT NOT NULL, sla_breached INTEGER NOT NULL DEFAULT 0, escalated_at TEXT)
    WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS day13_received (
    source TEXT NOT NULL, source_id TEXT NOT NULL, fingerprint TEXT NOT NULL, alert_id TEXT NOT NULL,
    created_at TEXT NOT NULL, received_at TEXT NOT NULL, PRIMARY KEY (source, source_id));
CREATE TABLE IF NOT EXISTS day13_files (
    source TEXT NOT NULL, name TEXT NOT NULL, sha256 TEXT NOT NULL, moved_to TEXT NOT NULL, alerts INTEGER NOT NULL,
    committed_at TEXT NOT NULL,
    PRIMARY KEY (source, name, sha256));
CREATE TABLE IF NOT EXISTS day13_api_inbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT, body TEXT NOT NULL, received_at TEXT NOT NULL, done INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS day13_quarantine (
    id INTEGER PRIMARY KEY AUTOINCREMENT, source TEXT NOT NULL, item TEXT NOT NULL, reason TEXT NOT NULL,
    raw TEXT, at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS day13_notifications (
    fingerprint TEXT NOT NULL, receiver TEXT NOT NULL, status TEXT NOT NULL, group_key TEXT NOT NULL,
    pending_since TEXT, last_sent_at TEXT, sent_count INTEGER NOT NULL DEFAULT 0, attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT, PRIMARY KEY (receiver, group_key, fingerprint), UNIQUE (fingerprint, receiver)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS day13_groups (
    receiver TEXT NOT NULL, group_key TEXT NOT NULL, last_sent_at TEXT, PRIMARY KEY (receiver, group_key));
CREATE TABLE IF NOT EXISTS day13_outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT, idempotency_key TEXT NOT NULL UNIQUE, kind TEXT NOT NULL,
    receiver TEXT NOT NULL, group_key TEXT NOT NULL, title TEXT NOT NULL, lines TEXT NOT NULL, more INTEGER NOT NULL,
    fingerprints TEXT NOT NULL, status TEXT NOT NULL DEFAULT 'pending', attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT, created_at TEXT NOT NULL, sent_at TEXT);
CREATE INDEX IF NOT EXISTS day13_outbox_status ON day13_outbox (status);
CREATE TABLE IF NOT EXISTS day13_tickets (
    id INTEGER PRIMARY KEY AUTOINCREMENT, queue TEXT NOT NULL, title TEXT NOT NULL, body TEXT NOT NULL, created_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS day13_slack_outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT, channel TEXT NOT NULL, payload TEXT NOT NULL, posted_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS day13_config_versions (
    kind TEXT NOT NULL, version TEXT NOT NULL, content TEXT NOT NULL, loaded_at TEXT NOT NULL, PRIMARY KEY (kind, version));
CREATE TABLE IF NOT EXISTS day13_audit (
    seq INTEGER PRIMARY KEY, at TEXT NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL,
    fingerprint TEXT, alert_id TEXT, rules_version TEXT, routing_version TEXT, rationale TEXT, details TEXT,
    prev_hash TEXT NOT NULL, hash TEXT NOT NULL);
CREATE TRIGGER IF NOT EXISTS day13_audit_no_update BEFORE UPDATE ON day13_audit
    BEGIN SELECT RAISE(ABORT, 'day13_audit is append-only'); END;
CREATE TRIGGER IF NOT EXISTS day13_audit_no_delete BEFORE DELETE ON day13_audit
    BEGIN SELECT RAISE(ABORT, 'day13_audit is append-only'); END;
"""
# Databases created by this version keep day13_received and day13_notifications WITHOUT ROWID (one B-tree per
# table, not a table and its key index) and a group's notifications side by side, so delivering one message
# rewrites the pages of its own group, not a page per alert across the table. Databases from before keep their
# layout: every query reads both the same.
# Columns added after the first release: (table, column, definition). Existing alerts count as notified,
# so an upgrade neither re-sends nor escalates what the old code already handled.
DAY13_MIGRATIONS = (
    ("day13_alerts", "sla_deadline", "TEXT NOT NULL DEFAULT ''"),
    ("day13_received", "content_hash", "TEXT NOT NULL DEFAULT ''"),
    ("day13_notifications", "outbox_id", "INTEGER"),
    ("day13_tickets", "idempotency_key", "TEXT"),
    ("day13_outbox", "delivered", "TEXT NOT NULL DEFAULT '[]'"),  # targets of a receiver already reached
)
# What changes after an alert is stored (state, breach, escalation) lives in day13_alert_state, a narrow table:
# a run changes every alert's state three times, and in day13_alerts each change rewrote the wide row (labels,
# rationale) and dirtied a page per alert. Databases from before keep their values; the old columns are dropped
# so the state is never in two places. The alerts of a database from before states existed count as notified.
DAY13_STATE_COLUMNS = (("state", "'notified'"), ("sla_breached", "0"), ("escalated_at", "NULL"))
# Partial indexes hold only the rows a stage still has to look at, so a state change removes a row from
# them instead of rewriting a full index. The alerts to route are found by walking day13_alert_state in key
# order (a few dozen bytes per alert): an index of them would be a second B-tree keyed by random fingerprints,
# rewritten page by page on every ingest commit.
DAY13_INDEXES = """
CREATE INDEX IF NOT EXISTS day13_notifications_pending ON day13_notifications (pending_since) WHERE status = 'pending';
CREATE UNIQUE INDEX IF NOT EXISTS day13_tickets_key ON day13_tickets (idempotency_key);
"""
# A message's rows are found by (receiver, group_key): the primary key's prefix in this version's layout; the layout
# from before (keyed by fingerprint, receiver) needs an index, or every delivered message reads the whole table.
DAY13_LEGACY_GROUP_INDEX = "CREATE INDEX IF NOT EXISTS day13_notifications_group ON day13_notifications (receiver, group_key)"
DAY13_AUDIT_COLUMNS = ("at", "actor", "action", "fingerprint", "alert_id", "rules_version", "routing_version",
                       "rationale", "details")
DAY13_STORE_LOG = logging.getLogger("day13.store")
DAY13_GENESIS = "0" * 64
DAY13_DETAILS_FALLBACK = json.JSONEncoder(default=str, sort_keys=True)  # sorted like the orjson path
DAY13_ACTIONS = ("ingested", "quarantined", "classified", "routed", "notified", "notify_failed", "inhibited",
                 "silenced", "sla_breached", "escalated", "config_loaded", "config_rejected", "notification_queued",
                 "escalation_queued", "auth_rejected")
DAY13_ACTION_SET = frozenset(DAY13_ACTIONS)
DAY13_CHECKPOINT_IDLE_S = 1.0  # how often the checkpoint thread looks for its stop signal when no commit woke it
DAY13_WAL_CHECKPOINT_BYTES = 40 * 2**20  # the automatic checkpoint (the checkpoint thread's safety net): 10x SQLite's
DAY13_CHUNK = 500  # SQLite's default limit is 999 host parameters per statement


def _chunks(items: list, size: int = DAY13_CHUNK) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _marks(items: list) -> str:
    return ", ".join("?" * len(items))


def day13_json(value) -> str:
    """Compact JSON for audit details and labels: orjson (C) on the 10k alerts/s path, stdlib for what it refuses."""
    try:
        return orjson.dumps(value, default=str, option=orjson.OPT_SORT_KEYS).decode()
    except TypeError:  # integers beyond 64 bits, non-text keys, lone surrogates
        return DAY13_DETAILS_FALLBACK.encode(value)


def day13_safe_text(value: str) -> str:
    """Text SQLite and logs can take: lone surrogates (undecodable file names) become \\udcxx escapes."""
    return value.encode("utf-8", "backslashreplace").decode("utf-8")


def _row_hash(prev_hash: str, values: tuple) -> str:
    """sha256 over the previous hash and the row's text fields, separated by a control character."""
    return hashlib.sha256("\x1e".join((prev_hash, *[v or "" for v in values])).encode()).hexdigest()


class day13_Audit:
    """Buffers hash-chained audit rows for the open transaction; day13_Store.transaction writes them."""

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
        if action not in DAY13_ACTION_SET:
            raise ValueError(f"unknown audit action {action!r}")
        if at is not self._last_at:  # one run stamps thousands of rows with the same instant
            self._last_at, self._last_iso = at, at.isoformat()
        values = (self._last_iso, self.actor, action, fingerprint or "", alert_id or "", self.rules_version or "",
                  self.routing_version or "", rationale or "", day13_json(details) if details else "{}")
        prev = self._head if self._head is not None else self.head()
        # _row_hash inlined (a run hashes five rows per alert): the same text (None as ""), so verification agrees
        self._head = head = sha256("\x1e".join((prev, *values)).encode()).hexdigest()
        self._rows.append((*values, prev, head))

    def record_each(self, action: str, at: datetime, fingerprints: Iterable[str], *, rationale: str = "", **details) -> None:
        """One row per alert for what happened to many at one instant (a message delivered): the rows of
        record() with the same text but the fingerprint, the shared part formatted once."""
        if action not in DAY13_ACTION_SET:
            raise ValueError(f"unknown audit action {action!r}")
        iso = self.stamp(at)
        before = (iso, self.actor, action)
        after = ("", self.rules_version or "", self.routing_version or "", rationale or "",
                 day13_json(details) if details else "{}")
        head_text, tail_text = "\x1e".join(before) + "\x1e", "\x1e" + "\x1e".join(after)
        prev = self._head if self._head is not None else self.head()
        rows = self._rows
        for fingerprint in fingerprints:
            head = sha256(f"{prev}\x1e{head_text}{fingerprint or ''}{tail_text}".encode()).hexdigest()
            rows.append((*before, fingerprint or "", *after, prev, head))
            prev = head
        self._head = prev

    def stamp(self, at: datetime) -> str:
        """at.isoformat(), remembered for the instant a run stamps thousands of rows with."""
        if at is not self._last_at:
            self._last_at, self._last_iso = at, at.isoformat()
        return self._last_iso

    def begin(self) -> None:
        """Inside BEGIN IMMEDIATE: another process (the API) may have appended since this object last wrote."""
        self._rows, self._head = [], None

    def flush(self) -> None:
        """Write the buffered rows (call before COMMIT; executemany keeps 50k-alert runs fast)."""
        if self._rows:
            self.db.executemany(f"INSERT INTO day13_audit ({', '.join(DAY13_AUDIT_COLUMNS)}, prev_hash, hash) "
                                f"VALUES ({', '.join('?' * (len(DAY13_AUDIT_COLUMNS) + 2))})", self._rows)
            self._rows = []

    def discard(self) -> None:
        """After a ROLLBACK: forget buffered rows and re-read the head from the database."""
        self._rows, self._head = [], None


def _move_alert_state(db: sqlite3.Connection) -> None:
    """A database from before day13_alert_state: its alerts' state columns copied there and dropped, in one transaction."""
    if not _legacy_state_columns(db):
        return
    db.execute("BEGIN IMMEDIATE")
    try:
        legacy = _legacy_state_columns(db)  # another process may have moved them while this one waited
        if legacy:
            values = ", ".join(name if name in legacy else default for name, default in DAY13_STATE_COLUMNS)
            db.execute(f"INSERT OR IGNORE INTO day13_alert_state (fingerprint, state, sla_breached, escalated_at)"
                       f" SELECT fingerprint, {values} FROM day13_alerts")
            db.execute("DROP INDEX IF EXISTS day13_alerts_to_route")
            for name in legacy:
                db.execute(f"ALTER TABLE day13_alerts DROP COLUMN {name}")
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise


def _legacy_state_columns(db: sqlite3.Connection) -> list[str]:
    present = {r[1] for r in db.execute("PRAGMA table_info(day13_alerts)")}
    return [name for name, _ in DAY13_STATE_COLUMNS if name in present]


def _checkpoint_connection(path: Path) -> sqlite3.Connection:
    # mode=rw: never creates a database. The run's file removed or moved away must not leave an empty one at the
    # path (the next run would take it for a fresh, intact audit trail), nor meet the old WAL there.
    return sqlite3.connect(f"{Path(path).resolve().as_uri()}?mode=rw", uri=True, isolation_level=None, timeout=30,
                           check_same_thread=False)


class day13_Checkpointer:
    """Copies the WAL into the database from a thread of its own, so a run's commits never wait for it.

    SQLite's automatic checkpoint runs inside the COMMIT that crosses wal_autocheckpoint: the writer stops while
    tens of megabytes are copied and synced (600 ms of a 50k-alert run). SQLite's documentation suggests the
    alternative used here: a second connection runs PASSIVE checkpoints, which never block a writer, after each
    commit; sqlite3 releases the GIL while it copies, so that work runs on the other core. The automatic
    checkpoint stays on as the safety net: for writers without this thread (the API, tools) and if it stops."""

    def __init__(self, path: Path):
        self.path, self.last = Path(path), None  # last: (busy, frames in the WAL, frames copied) of the last pass
        self._wake, self._stop = threading.Event(), threading.Event()
        self._thread = threading.Thread(target=self._loop, name="day13-checkpoint", daemon=True)
        self._thread.start()

    def nudge(self) -> None:
        """A commit happened: copy it when the thread is free (commits in the meantime are taken together)."""
        self._wake.set()

    def alive(self) -> bool:
        return self._thread.is_alive()

    def _loop(self) -> None:
        db = None
        try:
            while not self._stop.is_set():
                if not self._wake.wait(DAY13_CHECKPOINT_IDLE_S):
                    continue
                self._wake.clear()
                db = db or _checkpoint_connection(self.path)
                self.last = tuple(db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone())
        except Exception as exc:  # never a traceback from a thread: named by type (the text can hold the path)
            DAY13_STORE_LOG.warning("background checkpoint stopped; SQLite's automatic checkpoint takes over",
                                    extra={"error": type(exc).__name__})
        finally:
            if db is not None:
                db.close()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join()


class day13_Store:
    """All SQL of day13. Methods named for what they mean; call writers inside transaction()."""

    def __init__(self, db: sqlite3.Connection, checkpointer: day13_Checkpointer | None = None):
        self.db, self.checkpointer = db, checkpointer

    # --- connection and transactions ----------------------------------------------------------
    @classmethod
    def open(cls, path: Path, background_checkpoint: bool = False) -> "day13_Store":
        """background_checkpoint: for a triage run's store (day13_open_run_store), see day13_Checkpointer."""
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(path, isolation_level=None, timeout=30, check_same_thread=False)
        db.row_factory = sqlite3.Row
        # A new database only (an existing one keeps its size: WAL cannot change it): a run appends ~4 audit rows per
        # alert, and 16 KiB pages carry them to the WAL in a quarter of the frames and write() calls of 4 KiB ones.
        db.execute("PRAGMA page_size=16384")
        db.execute("PRAGMA journal_mode=WAL")
        # FULL: every COMMIT syncs the WAL. A commit is acted on at once (its file moved to processed/, the API's 202),
        # and NORMAL syncs only at checkpoints: a power cut could take the commit and keep the move.
        db.execute("PRAGMA synchronous=FULL")
        # A run writes megabytes of audit rows per file: the automatic checkpoint after DAY13_WAL_CHECKPOINT_BYTES of WAL
        # (counted in pages, whatever their size), and the primary-key pages of a 50k-alert run in a 64 MB cache.
        page_size = db.execute("PRAGMA page_size").fetchone()[0]
        db.execute(f"PRAGMA wal_autocheckpoint={DAY13_WAL_CHECKPOINT_BYTES // page_size}")
        db.execute("PRAGMA cache_size=-65536")
        db.executescript(DAY13_SCHEMA)
        for table, column, definition in DAY13_MIGRATIONS:
            if column not in {r["name"] for r in db.execute(f"PRAGMA table_info({table})")}:
                db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {definition}")
        _move_alert_state(db)
        db.executescript(DAY13_INDEXES)
        key = [r["name"] for r in sorted(db.execute("PRAGMA table_info(day13_notifications)"), key=lambda r: r["pk"]) if r["pk"]]
        if key[:2] != ["receiver", "group_key"]:
            db.execute(DAY13_LEGACY_GROUP_INDEX)
        return cls(db, day13_Checkpointer(path) if background_checkpoint else None)

    def close(self) -> None:
        if self.checkpointer is not None:
            self.checkpointer.stop()
        self.db.close()

    def audit(self, actor: str, rules_version: str = "", routing_version: str = "") -> day13_Audit:
        return day13_Audit(self.db, actor, rules_version, routing_version)

    @contextmanager
    def transaction(self, audit: day13_Audit | None = None) -> Iterator[None]:
        """BEGIN IMMEDIATE ... COMMIT with the audit rows of the change; ROLLBACK of both on any error."""
        self.db.execute("BEGIN IMMEDIATE")
        if audit is not None:
            audit.begin()
        try:
            yield
            if audit is not None:
                audit.flush()
            self.db.execute("COMMIT")
            if self.checkpointer is not None:
                self.checkpointer.nudge()
        except BaseException:
            self.db.execute("ROLLBACK")
            if audit is not None:
                audit.discard()
            raise

    # --- ingest -------------------------------------------------------------------------------
    def received_hashes(self, source: str, source_ids: list[str]) -> dict[str, str]:
        """source id -> content hash of what was stored under it before."""
        found = {}
        for chunk in _chunks(source_ids):
            found.update((r[0], r[1]) for r in self.db.execute(
                f"SELECT source_id, content_hash FROM day13_received WHERE source = ? AND source_id IN ({_marks(chunk)})",
                [source, *chunk]))
        return found

    def known_alerts(self, fingerprints: list[str]) -> dict[str, tuple[int, str]]:
        """fingerprint -> (count, severity), one query per 500 fingerprints instead of one per alert."""
        found = {}
        for chunk in _chunks(fingerprints):
            for row in self.db.execute(f"SELECT fingerprint, count, severity FROM day13_alerts WHERE fingerprint IN "
                                       f"({_marks(chunk)})", chunk):
                found[row[0]] = (row[1], row[2])
        return found

    def add_quarantine(self, rows: list[tuple[str, str, str, str, str]]) -> None:
        """rows: (source, item, reason, raw, at)."""
        self.db.executemany("INSERT INTO day13_quarantine (source, item, reason, raw, at) VALUES (?, ?, ?, ?, ?)", rows)

    def write_ingest(self, received: list[tuple], new: list[tuple], new_states: list[tuple], updates: list[tuple]) -> None:
        """Inserts first, so a repeat's update finds its row; a repeat puts its alert back to 'stored'.
        new_states: (fingerprint, sla_breached) of each new alert; updates end with the fingerprint."""
        self.db.executemany("INSERT INTO day13_received (source, source_id, fingerprint, alert_id, created_at, received_at,"
                            " content_hash) VALUES (?, ?, ?, ?, ?, ?, ?)", received)
        self.db.executemany(
            "INSERT INTO day13_alerts (fingerprint, alert_type, entity_id, severity, rationale, labels, count, created_at,"
            " first_seen, last_seen, triaged_at, sla_minutes, rules_version, sla_deadline)"
            " VALUES (?, ?, ?, ?, ?, ?, 1, ?, ?, ?, ?, ?, ?, ?)", new)
        self.db.executemany("INSERT INTO day13_alert_state (fingerprint, state, sla_breached) VALUES (?, 'stored', ?)"
                            " ON CONFLICT (fingerprint) DO UPDATE SET state = 'stored', sla_breached = excluded.sla_breached",
                            new_states)
        self.db.executemany("UPDATE day13_alerts SET count = ?, last_seen = ?, severity = ?, rationale = ?, labels = ?"
                            " WHERE fingerprint = ?", updates)
        self.db.executemany("UPDATE day13_alert_state SET state = 'stored' WHERE fingerprint = ?", [u[-1:] for u in updates])

    def file_committed(self, source: str, name: str, digest: str) -> sqlite3.Row | None:
        """(moved_to, alerts) of this file, byte for byte, committed before (a crash came before its move)."""
        return self.db.execute("SELECT moved_to, alerts FROM day13_files WHERE source = ? AND name = ? AND sha256 = ?",
                               (source, name, digest)).fetchone()

    def file_done(self, source: str, name: str, digest: str, moved_to: str, alerts: int, at: datetime) -> None:
        self.db.execute("INSERT OR IGNORE INTO day13_files (source, name, sha256, moved_to, alerts, committed_at)"
                        " VALUES (?, ?, ?, ?, ?, ?)", (source, name, digest, moved_to, alerts, at.isoformat()))

    def api_inbox_waiting(self) -> list[sqlite3.Row]:
        return self.db.execute("SELECT id, body FROM day13_api_inbox WHERE done = 0 ORDER BY id").fetchall()

    def api_inbox_done(self, ids: list[int]) -> None:
        self.db.executemany("UPDATE day13_api_inbox SET done = 1 WHERE id = ?", [(i,) for i in ids])

    def api_inbox_add(self, body: str, at: datetime) -> None:
        self.db.execute("INSERT INTO day13_api_inbox (body, received_at) VALUES (?, ?)", (body, at.isoformat()))

    # --- route ----------------------------------------------------------------------------------
    def alerts_to_route(self, limit: int, after: str = "") -> list[str]:
        """Fingerprints of alerts in state 'stored' after `after`, in order (their labels: active_labels, or alert_labels)."""
        return [r[0] for r in self.db.execute("SELECT fingerprint FROM day13_alert_state WHERE fingerprint > ? AND state = 'stored'"
                                              " ORDER BY fingerprint LIMIT ?", (after, limit))]

    def alert_labels(self, fingerprints: list[str]) -> dict[str, str]:
        """fingerprint -> labels JSON."""
        found = {}
        for chunk in _chunks(fingerprints):
            found.update((r[0], r[1]) for r in self.db.execute(
                f"SELECT fingerprint, labels FROM day13_alerts WHERE fingerprint IN ({_marks(chunk)})", chunk))
        return found

    def active_labels(self, since: datetime) -> list[tuple[str, str]]:
        """(fingerprint, labels JSON) of every alert seen since then."""
        return self.db.execute("SELECT fingerprint, labels FROM day13_alerts WHERE last_seen >= ?",
                               (since.isoformat(),)).fetchall()

    def notification_log(self, fingerprints: list[str]) -> dict[tuple[str, str], tuple[str, str | None]]:
        """(fingerprint, receiver) -> (status, last_sent_at)."""
        log = {}
        for chunk in _chunks(fingerprints):
            for row in self.db.execute("SELECT fingerprint, receiver, status, last_sent_at FROM day13_notifications"
                                       f" WHERE fingerprint IN ({_marks(chunk)})", chunk):
                log[(row[0], row[1])] = (row[2], row[3])
        return log

    def queue_notifications(self, rows: list[tuple[str, str, str, str]]) -> None:
        """rows: (fingerprint, receiver, group_key, pending_since), each waiting for its group's next message."""
        self.db.executemany(
            "INSERT INTO day13_notifications (fingerprint, receiver, status, group_key, pending_since) VALUES (?, ?, 'pending', ?, ?)"
            " ON CONFLICT (fingerprint, receiver) DO UPDATE SET status = 'pending', group_key = excluded.group_key,"
            " pending_since = excluded.pending_since, outbox_id = NULL", rows)

    def set_states(self, changes: Iterable[tuple[str, str]]) -> None:
        """changes: (state, fingerprint)."""
        self.db.executemany("UPDATE day13_alert_state SET state = ? WHERE fingerprint = ?", changes)

    # --- dispatch: grouping into the outbox, then delivery ------------------------------------
    def pending_notifications(self) -> list[sqlite3.Row]:
        """Oldest first; the labels of the alerts a message shows: alert_labels."""
        return self.db.execute("SELECT fingerprint, receiver, group_key, pending_since FROM day13_notifications"
                               " WHERE status = 'pending' ORDER BY pending_since, fingerprint").fetchall()

    def group_last_sent(self, receiver: str, group_key: str) -> str | None:
        row = self.db.execute("SELECT last_sent_at FROM day13_groups WHERE receiver = ? AND group_key = ?",
                              (receiver, group_key)).fetchone()
        return row[0] if row else None

    def add_outbox(self, key: str, kind: str, receiver: str, group_key: str, title: str, lines: list[str], more: int,
                   fingerprints: list[str], at: datetime) -> int:
        cursor = self.db.execute(
            "INSERT INTO day13_outbox (idempotency_key, kind, receiver, group_key, title, lines, more, fingerprints, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (key, kind, receiver, group_key, title, day13_json(lines), more, day13_json(fingerprints), at.isoformat()))
        return cursor.lastrowid

    def group_in_outbox(self, outbox_id: int, receiver: str, group_key: str) -> None:
        """Every pending notification of the group (the rows pending_notifications just read, in this transaction)
        now waits in that outbox message: one range update of the group's rows, not one statement per alert."""
        self.db.execute("UPDATE day13_notifications SET status = 'queued', outbox_id = ? WHERE receiver = ?"
                        " AND group_key = ? AND status = 'pending'", (outbox_id, receiver, group_key))

    def group_flushed(self, receiver: str, group_key: str, at: datetime) -> None:
        self.db.execute("INSERT INTO day13_groups (receiver, group_key, last_sent_at) VALUES (?, ?, ?)"
                        " ON CONFLICT (receiver, group_key) DO UPDATE SET last_sent_at = excluded.last_sent_at",
                        (receiver, group_key, at.isoformat()))

    def outbox_waiting(self) -> list[sqlite3.Row]:
        return self.db.execute("SELECT * FROM day13_outbox WHERE status = 'pending' ORDER BY id").fetchall()

    def outbox_sent(self, outbox_id: int, kind: str, receiver: str, group_key: str, at: datetime) -> None:
        """The message went out: its alerts' notifications are sent; an alert with nothing else owed is notified."""
        now = at.isoformat()
        self.db.execute("UPDATE day13_outbox SET status = 'sent', sent_at = ?, attempts = attempts + 1, last_error = NULL"
                        " WHERE id = ?", (now, outbox_id))
        if kind != "notify":
            return
        # set-based over the group's rows (its primary-key range), the message's own rows picked by outbox_id
        self.db.execute("UPDATE day13_notifications SET status = 'sent', last_sent_at = ?, sent_count = sent_count + 1,"
                        " attempts = attempts + 1, last_error = NULL WHERE receiver = ? AND group_key = ? AND outbox_id = ?",
                        (now, receiver, group_key, outbox_id))
        self.db.execute("UPDATE day13_alert_state SET state = 'notified' WHERE state = 'routed' AND fingerprint IN"
                        " (SELECT fingerprint FROM day13_notifications WHERE receiver = ? AND group_key = ? AND outbox_id = ?)"
                        " AND NOT EXISTS (SELECT 1 FROM day13_notifications n WHERE n.fingerprint = day13_alert_state.fingerprint"
                        " AND n.status IN ('pending', 'queued'))", (receiver, group_key, outbox_id))

    def outbox_failed(self, outbox_id: int, receiver: str, group_key: str, error: str, permanent: bool,
                      delivered: list[str] = ()) -> None:
        """Transient: stays pending for the next run. Permanent: marked failed, its notifications too.
        `delivered`: the receiver's targets this message did reach, skipped when it is retried."""
        self.db.execute("UPDATE day13_outbox SET status = ?, attempts = attempts + 1, last_error = ?, delivered = ?"
                        " WHERE id = ?", ("failed" if permanent else "pending", error, day13_json(list(delivered)), outbox_id))
        # the group's rows (its primary-key range, as in outbox_sent), the message's own picked by outbox_id
        self.db.execute("UPDATE day13_notifications SET attempts = attempts + 1, last_error = ?, status = ?"
                        " WHERE receiver = ? AND group_key = ? AND outbox_id = ?",
                        (error, "failed" if permanent else "queued", receiver, group_key, outbox_id))

    def notification_status(self, receiver: str) -> list[sqlite3.Row]:
        return self.db.execute("SELECT fingerprint, status, last_error, sent_count FROM day13_notifications"
                               " WHERE receiver = ?", (receiver,)).fetchall()

    # --- escalate ------------------------------------------------------------------------------
    def escalation_due(self, now: datetime) -> list[sqlite3.Row]:
        """Open alerts past their SLA, found by any run: breached at triage, or still unnotified past the deadline."""
        return self.db.execute(
            "SELECT s.fingerprint, a.labels, a.severity, a.sla_minutes, s.sla_breached, a.created_at"
            " FROM day13_alert_state s JOIN day13_alerts a USING (fingerprint)"
            " WHERE s.escalated_at IS NULL AND s.state != 'closed' AND (s.sla_breached = 1 OR"
            " (s.state IN ('stored', 'routed') AND a.sla_deadline != '' AND a.sla_deadline < ?)) ORDER BY s.fingerprint",
            (now.isoformat(),)).fetchall()

    def mark_escalated(self, fingerprints: list[str], at: datetime) -> None:
        now = at.isoformat()
        self.db.executemany("UPDATE day13_alert_state SET escalated_at = ?, sla_breached = 1, state = 'escalated'"
                            " WHERE fingerprint = ?", [(now, f) for f in fingerprints])

    # --- configuration versions ----------------------------------------------------------------
    def latest_config(self, kind: str) -> sqlite3.Row | None:
        return self.db.execute("SELECT version, content FROM day13_config_versions WHERE kind = ? ORDER BY loaded_at DESC"
                               " LIMIT 1", (kind,)).fetchone()

    def config_known(self, kind: str, version: str) -> bool:
        return self.db.execute("SELECT 1 FROM day13_config_versions WHERE kind = ? AND version = ?",
                               (kind, version)).fetchone() is not None

    def add_config(self, kind: str, version: str, content: str, at: datetime) -> None:
        self.db.execute("INSERT INTO day13_config_versions (kind, version, content, loaded_at) VALUES (?, ?, ?, ?)",
                        (kind, version, content, at.isoformat()))

    # --- the embedded receivers -----------------------------------------------------------------
    def local_slack_post(self, channel: str, payload: dict, at: datetime) -> None:
        """Like Slack: no idempotency key, so a repeat is a second post."""
        self.db.execute("INSERT INTO day13_slack_outbox (channel, payload, posted_at) VALUES (?, ?, ?)",
                        (channel, json.dumps(payload), at.isoformat()))

    def local_ticket(self, queue: str, title: str, body: str, key: str, at: datetime) -> None:
        """Like a ticket API with an Idempotency-Key: the same key twice is one ticket."""
        self.db.execute("INSERT INTO day13_tickets (queue, title, body, created_at, idempotency_key) VALUES (?, ?, ?, ?, ?)"
                        " ON CONFLICT (idempotency_key) DO NOTHING", (queue, title, body, at.isoformat(), key))

    # --- reports ---------------------------------------------------------------------------------
    def sla_rows(self, severity: str) -> list[sqlite3.Row]:
        return self.db.execute("SELECT a.created_at, a.triaged_at, s.sla_breached, a.sla_minutes FROM day13_alerts a"
                               " JOIN day13_alert_state s USING (fingerprint) WHERE a.severity = ?", (severity,)).fetchall()

    def state_counts(self) -> dict[str, int]:
        return {r[0]: r[1] for r in self.db.execute("SELECT state, COUNT(*) FROM day13_alert_state GROUP BY state")}

    def outbox_by_receiver(self) -> list[sqlite3.Row]:
        """Per receiver and kind: messages, alerts carried, and how many are sent / pending / failed."""
        return self.db.execute(
            "SELECT receiver, kind, COUNT(*) AS messages, SUM(json_array_length(fingerprints)) AS alerts,"
            " SUM(status = 'sent') AS sent, SUM(status = 'pending') AS pending, SUM(status = 'failed') AS failed"
            " FROM day13_outbox GROUP BY receiver, kind ORDER BY kind DESC, alerts DESC").fetchall()

    def quarantine_reasons(self, limit: int) -> list[sqlite3.Row]:
        return self.db.execute("SELECT source, reason, COUNT(*) AS items FROM day13_quarantine GROUP BY source, reason"
                               " ORDER BY items DESC, reason LIMIT ?", (limit,)).fetchall()

    def example_alert(self) -> sqlite3.Row | None:
        """The alert with the longest audited life (most audit rows), for a one-alert history."""
        return self.db.execute(
            "SELECT a.fingerprint, a.alert_type, a.entity_id, a.severity, a.rationale, s.state, a.sla_minutes"
            " FROM day13_alerts a JOIN day13_alert_state s USING (fingerprint) JOIN day13_audit u USING (fingerprint)"
            " GROUP BY a.fingerprint"
            " ORDER BY COUNT(*) DESC, a.severity = 'Critical' DESC, a.fingerprint LIMIT 1").fetchone()

    def audit_rows_for(self, fingerprint: str) -> list[sqlite3.Row]:
        return self.db.execute("SELECT seq, at, actor, action, rationale, details, prev_hash, hash FROM day13_audit"
                               " WHERE fingerprint = ? ORDER BY seq", (fingerprint,)).fetchall()

    def audit_counts(self) -> dict[str, int]:
        return {r[0]: r[1] for r in self.db.execute("SELECT action, COUNT(*) FROM day13_audit GROUP BY action")}

    def count(self, table: str) -> int:
        assert table.startswith("day13_") and table.isidentifier(), table
        return self.db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]

    def verify_audit(self) -> tuple[int, int | None, str]:
        return day13_verify_audit(self.db)

    def export_audit(self, target: Path) -> int:
        return day13_export_audit(self.db, target)


def day13_connect(path: Path) -> sqlite3.Connection:
    """The raw connection (tests and tools that read tables directly)."""
    return day13_Store.open(path).db


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
