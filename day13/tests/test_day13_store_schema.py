"""The alert state lives in a narrow table of its own (a state change no longer rewrites the alert's wide row):
databases written by earlier versions keep every alert's state, breach and escalation when they are opened."""
import json
import sqlite3
from datetime import datetime

from day13_STORE_audit import day13_Store

DAY13_OLD_ALERTS = """
CREATE TABLE day13_alerts (
    fingerprint TEXT PRIMARY KEY, alert_type TEXT NOT NULL, entity_id TEXT NOT NULL, severity TEXT NOT NULL,
    rationale TEXT NOT NULL, labels TEXT NOT NULL, count INTEGER NOT NULL, created_at TEXT NOT NULL,
    first_seen TEXT NOT NULL, last_seen TEXT NOT NULL, triaged_at TEXT NOT NULL, sla_minutes INTEGER NOT NULL,
    sla_breached INTEGER NOT NULL DEFAULT 0, rules_version TEXT NOT NULL);
"""
DAY13_WITH_STATES = """
ALTER TABLE day13_alerts ADD COLUMN state TEXT NOT NULL DEFAULT 'notified';
ALTER TABLE day13_alerts ADD COLUMN sla_deadline TEXT NOT NULL DEFAULT '';
ALTER TABLE day13_alerts ADD COLUMN escalated_at TEXT;
CREATE INDEX day13_alerts_to_route ON day13_alerts (fingerprint) WHERE state = 'stored';
"""


def _old_database(path, with_states: bool) -> None:
    db = sqlite3.connect(path)
    db.executescript(DAY13_OLD_ALERTS + (DAY13_WITH_STATES if with_states else ""))
    columns = "fingerprint, alert_type, entity_id, severity, rationale, labels, count, created_at, first_seen, last_seen," \
              " triaged_at, sla_minutes, sla_breached, rules_version"
    rows = [("f-stored", 0, "stored", None), ("f-routed", 0, "routed", None), ("f-escalated", 1, "escalated", "2026-11-22T11:00:00+00:00"),
            ("f-closed", 1, "closed", None)]
    for fingerprint, breached, state, escalated_at in rows:
        db.execute(f"INSERT INTO day13_alerts ({columns}) VALUES (?, 't', 'E', 'High', 'why', ?, 1, 'c', 'f', 'l', 'tr', 60, ?, 'v')",
                   (fingerprint, json.dumps({"fingerprint": fingerprint, "alert_type": "t"}), breached))
        if with_states:
            db.execute("UPDATE day13_alerts SET state = ?, escalated_at = ? WHERE fingerprint = ?", (state, escalated_at, fingerprint))
    db.commit()
    db.close()


def _states(store) -> dict:
    return {r[0]: tuple(r[1:]) for r in store.db.execute(
        "SELECT fingerprint, state, sla_breached, escalated_at FROM day13_alert_state")}


def test_an_older_database_keeps_every_alert_state_breach_and_escalation_in_the_state_table(tmp_path):
    _old_database(tmp_path / "audit.db", with_states=True)
    store = day13_Store.open(tmp_path / "audit.db")
    assert _states(store) == {"f-stored": ("stored", 0, None), "f-routed": ("routed", 0, None),
                              "f-escalated": ("escalated", 1, "2026-11-22T11:00:00+00:00"), "f-closed": ("closed", 1, None)}
    columns = {r["name"] for r in store.db.execute("PRAGMA table_info(day13_alerts)")}
    assert not columns & {"state", "sla_breached", "escalated_at"}  # one place for the state: never two that disagree
    assert store.alerts_to_route(10) == ["f-stored"]
    assert store.state_counts() == {"stored": 1, "routed": 1, "escalated": 1, "closed": 1}
    store.close()
    reopened = day13_Store.open(tmp_path / "audit.db")  # opening again changes nothing
    assert _states(reopened)["f-escalated"] == ("escalated", 1, "2026-11-22T11:00:00+00:00")
    reopened.close()


def test_a_database_from_before_alert_states_counts_its_alerts_as_notified(tmp_path):
    _old_database(tmp_path / "audit.db", with_states=False)
    store = day13_Store.open(tmp_path / "audit.db")
    assert {state for state, _, _ in _states(store).values()} == {"notified"}  # neither re-sent nor re-routed
    assert store.alerts_to_route(10) == []
    store.close()


def test_a_new_database_numbers_audit_rows_without_a_sequence_table_and_verifies(tmp_path):
    store = day13_Store.open(tmp_path / "audit.db")
    audit = store.audit("t")
    with store.transaction(audit):
        audit.record("config_loaded", datetime(2026, 11, 22), rationale="x")
        audit.record("config_loaded", datetime(2026, 11, 22), rationale="y")
    assert store.db.execute("SELECT sql FROM sqlite_schema WHERE name = 'day13_audit'").fetchone()[0].count("AUTOINCREMENT") == 0
    assert [r[0] for r in store.db.execute("SELECT seq FROM day13_audit")] == [1, 2]
    assert store.verify_audit() == (2, None, "")
    store.close()


def test_a_database_with_the_earlier_table_layouts_triages_end_to_end(settings, run, db, drop, make_alert):
    db.close()
    settings.audit_log_path.unlink()
    _old_database(settings.audit_log_path, with_states=True)
    old = sqlite3.connect(settings.audit_log_path)
    old.executescript("""
        CREATE TABLE day13_notifications (
            fingerprint TEXT NOT NULL, receiver TEXT NOT NULL, status TEXT NOT NULL, group_key TEXT NOT NULL,
            pending_since TEXT, last_sent_at TEXT, sent_count INTEGER NOT NULL DEFAULT 0, attempts INTEGER NOT NULL DEFAULT 0,
            last_error TEXT, PRIMARY KEY (fingerprint, receiver));
        CREATE TABLE day13_received (
            source TEXT NOT NULL, source_id TEXT NOT NULL, fingerprint TEXT NOT NULL, alert_id TEXT NOT NULL,
            created_at TEXT NOT NULL, received_at TEXT NOT NULL, PRIMARY KEY (source, source_id));""")
    old.close()
    drop("a.json", [make_alert(1, alert_type="sanctions_hit", match_score="99", created_at="2026-11-20T10:00:00Z")])
    assert run().new_alerts == 1
    store = day13_Store.open(settings.audit_log_path)
    new = store.db.execute("SELECT fingerprint FROM day13_alerts WHERE alert_type = 'sanctions_hit'").fetchone()[0]
    assert {r[0] for r in store.db.execute("SELECT status FROM day13_notifications WHERE fingerprint = ?", (new,))} == {"sent"}
    assert _states(store)[new] == ("escalated", 1, _states(store)[new][2]) and _states(store)["f-routed"][0] == "routed"
    assert store.verify_audit()[1] is None
    store.close()


def test_an_alert_left_stored_for_over_a_day_is_still_routed_with_its_labels(run, db, drop, make_alert, clock):
    from datetime import timedelta

    drop("a.json", [make_alert(1)])
    run()
    db.execute("UPDATE day13_alert_state SET state = 'stored'")  # as if a run had died before routing it
    clock.now += timedelta(days=2)  # outside the 24 h window of alerts whose labels the route stage reads up front
    run()
    assert db.execute("SELECT state FROM day13_alert_state").fetchone()[0] != "stored"
    repeats = [json.loads(r[0])["repeat"] for r in db.execute("SELECT details FROM day13_audit WHERE action = 'routed'")]
    assert repeats == [False, True]


def test_rows_recorded_for_many_alerts_at_once_are_the_rows_recorded_one_by_one(tmp_path):
    at = datetime(2026, 11, 22, 10, 5)
    tables = []
    for n, many in enumerate((False, True)):
        store = day13_Store.open(tmp_path / f"{n}.db")
        audit = store.audit("t", "rules-v", "routing-v")
        with store.transaction(audit):
            if many:
                audit.record_each("notified", at, ["f1", "f2", ""], rationale="3 alerts", receiver="r", outbox_id=7)
            else:
                for fingerprint in ("f1", "f2", ""):
                    audit.record("notified", at, fingerprint=fingerprint, rationale="3 alerts", receiver="r", outbox_id=7)
        tables.append([tuple(r) for r in store.db.execute("SELECT * FROM day13_audit ORDER BY seq")])
        assert store.verify_audit() == (3, None, "")
        store.close()
    assert tables[0] == tables[1]


def test_alerts_are_routed_in_chunks_each_exactly_once(settings, db, drop, make_alert, clock):
    from contextlib import ExitStack

    from day13_PIPELINE_triage import day13_run_triage
    from day13_RUNTIME_wiring import day13_run_context

    drop("a.json", [make_alert(n, entity_id=f"E{n}") for n in range(7)])
    with ExitStack() as stack:
        store = day13_Store.open(settings.audit_log_path)
        stack.callback(store.close)
        ctx = day13_run_context(settings, store, stack, now=clock)
        ctx.route_chunk = 2  # four chunks, the last one short
        day13_run_triage(ctx, drop_dir=settings.drop_dir, inbox_dir=settings.inbox_dir)
    routed = [r[0] for r in db.execute("SELECT fingerprint FROM day13_audit WHERE action IN ('routed', 'inhibited', 'silenced')")]
    assert len(routed) == len(set(routed)) == 7
    assert db.execute("SELECT COUNT(*) FROM day13_alert_state WHERE state = 'stored'").fetchone()[0] == 0


DAY13_OLD_NOTIFICATIONS = """
CREATE TABLE day13_notifications (
    fingerprint TEXT NOT NULL, receiver TEXT NOT NULL, status TEXT NOT NULL, group_key TEXT NOT NULL,
    pending_since TEXT, last_sent_at TEXT, sent_count INTEGER NOT NULL DEFAULT 0, attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT, PRIMARY KEY (fingerprint, receiver));
"""


def _twenty_thousand_notifications(tmp_path, layout: str):
    """A store in that notifications layout: 20,000 rows in 100 groups, and message 7's three rows in group 'target'."""
    path = tmp_path / f"{layout}.db"
    if layout == "earlier":
        old = sqlite3.connect(path)
        old.executescript(DAY13_OLD_NOTIFICATIONS)
        old.close()
    store = day13_Store.open(path)
    with store.transaction():
        store.db.executemany("INSERT INTO day13_notifications (fingerprint, receiver, status, group_key, outbox_id)"
                             " VALUES (?, 'r', 'sent', ?, ?)", [(f"f{n:06d}", f"g{n % 100}", n % 100) for n in range(20_000)])
        store.db.executemany("INSERT INTO day13_notifications (fingerprint, receiver, status, group_key, outbox_id)"
                             " VALUES (?, 'r', 'queued', 'target', 7)", [(f"t{n}",) for n in range(3)])
    return store


def test_a_message_is_marked_sent_by_its_groups_rows_in_either_notifications_layout(tmp_path):
    """outbox_sent and group_in_outbox find a group's rows by (receiver, group_key): in the layout from before that is
    not the primary key, and without an index every delivered message would read every notification ever written."""
    steps = {}
    for layout in ("earlier", "current"):
        store = _twenty_thousand_notifications(tmp_path, layout)
        with store.transaction():
            store.db.executemany("INSERT INTO day13_alert_state (fingerprint, state) VALUES (?, 'routed')",
                                 [(f"t{n}",) for n in range(3)])
        counted = [0]
        store.db.set_progress_handler(lambda: counted.__setitem__(0, counted[0] + 1), 100)
        with store.transaction():
            store.outbox_sent(7, "notify", "r", "target", datetime(2026, 11, 22, 10, 5))
        store.db.set_progress_handler(None, 100)
        steps[layout] = counted[0]
        assert store.state_counts() == {"notified": 3}
        assert {r[0] for r in store.db.execute("SELECT status FROM day13_notifications WHERE group_key = 'target'")} == {"sent"}
        store.close()
    assert steps["earlier"] <= 10 * steps["current"] + 20  # not a read of all 20,000 rows (~2,000 ticks)


def test_a_commit_is_on_disk_before_anything_acts_on_it(settings):
    """A file moves to processed/ and the API answers 202 right after their commit: that commit must survive a power
    cut, not only a killed process. WAL with synchronous=NORMAL syncs only at checkpoints, so a power cut can take the
    last commits while the move (or the sender's discard) survives; FULL syncs the WAL in every COMMIT."""
    from contextlib import ExitStack

    from day13_RUNTIME_wiring import day13_open_run_store
    from day13_STORE_audit import day13_Store

    store = day13_Store.open(settings.audit_log_path)  # the API's and the tools' store
    try:
        assert store.db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    finally:
        store.close()
    with ExitStack() as stack:  # a triage run's store
        assert day13_open_run_store(settings, stack).db.execute("PRAGMA synchronous").fetchone()[0] == 2


def test_a_failed_message_finds_its_rows_by_its_group_not_by_reading_every_notification(tmp_path):
    """outbox_failed picked a message's rows by outbox_id alone, which no index holds: with a receiver down, every
    run read every notification ever written once per failed message."""
    steps = {}
    for layout in ("earlier", "current"):
        store = _twenty_thousand_notifications(tmp_path, layout)
        with store.transaction():
            store.db.execute("INSERT INTO day13_outbox (id, idempotency_key, kind, receiver, group_key, title, lines, more,"
                             " fingerprints, created_at) VALUES (7, 'k', 'notify', 'r', 'target', 't', '[]', 0, '[]', 'x')")
        counted = [0]
        store.db.set_progress_handler(lambda: counted.__setitem__(0, counted[0] + 1), 100)
        with store.transaction():
            store.outbox_failed(7, "r", "target", "transient: 503", False, ["slack_configs[0]"])
        store.db.set_progress_handler(None, 100)
        steps[layout] = counted[0]
        rows = store.db.execute("SELECT status, attempts, last_error FROM day13_notifications WHERE group_key = 'target'")
        assert {tuple(r) for r in rows} == {("queued", 1, "transient: 503")}
        assert store.db.execute("SELECT COUNT(*) FROM day13_notifications WHERE last_error IS NOT NULL").fetchone()[0] == 3
        assert tuple(store.db.execute("SELECT status, delivered FROM day13_outbox WHERE id = 7").fetchone()) == (
            "pending", '["slack_configs[0]"]')
        store.close()
    assert steps["earlier"] <= 10 * steps["current"] + 20 and steps["current"] < 200  # not a read of 20,000 rows


def test_a_new_database_has_16_kib_pages_and_an_existing_one_keeps_its_own(tmp_path):
    """A run appends ~200,000 audit rows per 50,000 alerts: 16 KiB pages write them to the WAL in a quarter of the
    frames (and syscalls) 4 KiB pages took. A database created before keeps its page size (WAL cannot change it)."""
    fresh = day13_Store.open(tmp_path / "new.db")
    try:
        assert fresh.db.execute("PRAGMA page_size").fetchone()[0] == 16384
    finally:
        fresh.close()
    old = sqlite3.connect(tmp_path / "old.db")
    old.execute("PRAGMA page_size=4096")
    old.execute("PRAGMA journal_mode=WAL")
    old.execute("CREATE TABLE t (x)")
    old.close()
    existing = day13_Store.open(tmp_path / "old.db")
    try:
        assert existing.db.execute("PRAGMA page_size").fetchone()[0] == 4096
        with existing.transaction():
            existing.db.execute("INSERT INTO day13_quarantine (source, item, reason, raw, at) VALUES ('f', 'i', 'r', '', 'x')")
        assert existing.count("day13_quarantine") == 1
    finally:
        existing.close()
    for path in (tmp_path / "new.db", tmp_path / "old.db"):  # the automatic checkpoint after ~40 MB of WAL in both
        store = day13_Store.open(path)
        try:
            pages = store.db.execute("PRAGMA wal_autocheckpoint").fetchone()[0]
            assert pages * store.db.execute("PRAGMA page_size").fetchone()[0] == 40 * 2**20
        finally:
            store.close()
