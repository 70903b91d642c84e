"""Dedup, notifications, SLA, config safety, the lock, receivers and the audit chain."""
import json
import sqlite3
from datetime import timedelta

import pytest

from day13_COMMANDS_cli import day13_command_run
from day13_RUNTIME_wiring import day13_ConfigUnusable, day13_run_lock
from day13_STORE_audit import day13_export_audit, day13_verify_audit


def _sent(db):
    return {r["receiver"]: r["sent_count"] for r in db.execute("SELECT receiver, sent_count FROM day13_notifications")}


def test_a_flood_of_10000_copies_yields_one_notification(run, db, drop, make_alert):
    drop("flood.json", [make_alert(n) for n in range(10_000)])  # same identity, 10,000 alert ids
    summary = run()
    assert (summary.received, summary.new_alerts, summary.duplicates) == (10_000, 1, 9_999)
    assert summary.notifications_sent == 1 and _sent(db) == {"aml-email": 1}  # High, then Critical on repeats
    assert db.execute("SELECT count FROM day13_alerts").fetchone()["count"] == 10_000


def test_repeats_stay_quiet_until_the_repeat_interval_even_across_a_restart(run, db, drop, make_alert, clock):
    drop("1.json", [make_alert(1)])
    run()
    drop("2.json", [make_alert(2)])
    clock.now += timedelta(hours=1)
    run()  # a new process: only the notification log remembers
    assert _sent(db) == {"aml-email": 1}
    drop("3.json", [make_alert(3)])
    clock.now += timedelta(hours=4)  # past the 4 h repeat interval
    run()
    assert _sent(db) == {"aml-email": 2}


def test_repeat_count_raises_the_severity_with_the_reason_stored(run, db, drop, make_alert):
    drop("three.json", [make_alert(n) for n in range(3)])
    run()
    row = db.execute("SELECT severity, rationale FROM day13_alerts").fetchone()
    assert row["severity"] == "Critical" and "seen 3 times (>= 3): +1 to Critical" in row["rationale"]


def test_classification_rationale_names_each_rule(run, db, drop, make_alert):
    drop("s.json", [make_alert(1, alert_type="sanctions_hit", match_score="88", amount="300000", jurisdiction="IR")])
    run()
    row = db.execute("SELECT severity, rationale FROM day13_alerts").fetchone()
    assert row["severity"] == "Critical"
    assert row["rationale"] == ("base High for sanctions_hit; high-risk jurisdiction IR: +1 to Critical")


def test_sla_breach_with_a_controlled_clock_is_flagged_and_escalated(run, db, drop, make_alert, clock):
    drop("on_time.json", [make_alert(1, alert_type="sanctions_hit", match_score="99", entity_id="E1")])
    clock.now = clock.now.replace(minute=10)  # created 10:00, triaged 10:10: inside the 15 min Critical SLA
    assert run().sla_breaches == 0
    drop("late.json", [make_alert(2, alert_type="sanctions_hit", match_score="99", entity_id="E2")])
    clock.now = clock.now.replace(minute=20)  # 20 minutes: breached
    summary = run()
    assert (summary.sla_breaches, summary.escalated) == (1, 1)
    ticket = db.execute("SELECT queue, title FROM day13_tickets WHERE title LIKE 'SLA breached%'").fetchone()
    assert ticket["queue"] == "SANCTIONS"  # the sanctions route's escalation receiver
    from day13_ESCALATE_sla import day13_sla_report
    from day13_STORE_audit import day13_Store

    critical = next(r for r in day13_sla_report(day13_Store(db)) if r["severity"] == "Critical")
    assert (critical["count"], critical["breaches"], critical["median_minutes"]) == (2, 1, 15.0)


def test_silenced_and_inhibited_alerts_are_stored_and_audited_but_not_notified(run, db, drop, make_alert, clock):
    drop("a.json", [make_alert(1, alert_type="kyc_expiry", jurisdiction="SG", amount="", entity_id="E-K"),
                    make_alert(2, alert_type="sanctions_hit", match_score="99", entity_id="E-X"),
                    make_alert(3, alert_type="kyc_expiry", jurisdiction="GB", amount="", entity_id="E-X")])
    summary = run()
    assert (summary.new_alerts, summary.silenced, summary.inhibited) == (3, 1, 1)
    actions = {r["action"] for r in db.execute("SELECT action FROM day13_audit")}
    assert {"silenced", "inhibited"} <= actions
    silenced = db.execute("SELECT details FROM day13_audit WHERE action = 'silenced'").fetchone()
    assert json.loads(silenced["details"])["silenced_by"] == "jane.doe"
    assert "kyc-ticket" not in _sent(db)


def test_a_bad_routing_file_is_rejected_and_the_previous_version_stays(settings, run, db, drop, make_alert, tmp_path):
    routing = tmp_path / "routing.yaml"
    routing.write_text(settings.routing_path.read_text())
    run(routing_path=routing)
    routing.write_text("route: [broken")
    drop("a.json", [make_alert(1)])
    assert run(routing_path=routing).notifications_sent == 1  # routed with the previous version
    rejected = db.execute("SELECT rationale, details FROM day13_audit WHERE action = 'config_rejected'").fetchone()
    assert "not valid YAML" in rejected["rationale"] and json.loads(rejected["details"])["kept"]


def test_a_bad_config_with_no_earlier_version_stops_the_run(run, tmp_path):
    broken = tmp_path / "rules.yaml"
    broken.write_text("base_severity: {aml_structuring: Urgent}")
    with pytest.raises(day13_ConfigUnusable, match="'Urgent' is not one of Low, Medium, High, Critical"):
        run(rules_path=broken)


def test_a_second_run_while_the_lock_is_held_logs_and_exits(settings, drop, make_alert, caplog):
    drop("a.json", [make_alert(1)])
    with day13_run_lock(settings.lock_path):
        assert day13_command_run(settings) == 0
    assert (settings.drop_dir / "a.json").exists()  # untouched: the other run owns the work
    assert "another run is in progress" in caplog.text


def test_real_receivers_over_http_and_smtp_and_a_failure_retried_next_run(run, db, drop, make_alert, http_stand_in, clock):
    from aiosmtpd.controller import Controller

    url, posts, script = http_stand_in
    received = []

    class Sink:
        async def handle_DATA(self, server, session, envelope):
            received.append(envelope.content)
            return "250 OK"

    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(Sink(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        from pydantic import SecretStr

        receivers = dict(slack_webhook_url=SecretStr(f"{url}/slack"), ticket_api_url=url, smtp_host="127.0.0.1",
                         smtp_port=controller.port, smtp_security="none")
        script.extend([503, 503, 503])  # Slack down for the whole run: three tries, then 'failed'
        drop("a.json", [make_alert(1, alert_type="sanctions_hit", match_score="99"),   # Slack + ticket
                        make_alert(2, alert_type="trade_wash", entity_id="E-T")])       # e-mail
        summary = run(**receivers)
        assert summary.notifications_failed == 1
        assert [p["path"] for p in posts].count("/tickets") >= 1 and received
        failed = db.execute("SELECT status, last_error FROM day13_outbox WHERE receiver = 'sanctions-slack'").fetchone()
        assert failed["status"] == "pending" and failed["last_error"].startswith("transient: 503")  # kept for the next run
        clock.now += timedelta(minutes=6)
        assert run(**receivers).notifications_sent >= 1  # the next run delivers what failed
        assert db.execute("SELECT status FROM day13_notifications WHERE receiver = 'sanctions-slack'").fetchone()[0] == "sent"
        tickets = [p for p in posts if p["path"] == "/tickets"]
        assert all(len(t["headers"]["Idempotency-Key"]) == 32 == len(t["body"]["idempotency_key"]) for t in tickets)
        from email import message_from_bytes

        assert all(message_from_bytes(m)["Message-ID"].endswith("@day13.local>") for m in received)
        slack = [p["body"] for p in posts if p["path"] == "/slack"][-1]
        assert slack["channel"] == "#sanctions-alerts" and slack["blocks"][0]["type"] == "header"
    finally:
        controller.stop()


def test_the_audit_trail_is_append_only_and_tampering_is_found(run, db, drop, make_alert, tmp_path):
    drop("a.json", [make_alert(n, entity_id=f"E{n}") for n in range(5)])
    run()
    checked, broken, _ = day13_verify_audit(db)
    assert broken is None and checked > 10
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        db.execute("UPDATE day13_audit SET rationale = 'nothing to see' WHERE seq = 3")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        db.execute("DELETE FROM day13_audit WHERE seq = 3")
    db.execute("DROP TRIGGER day13_audit_no_update")  # someone with file access goes around the triggers
    db.execute("UPDATE day13_audit SET rationale = 'nothing to see' WHERE seq = 7")
    assert day13_verify_audit(db)[1:] == (7, "its content no longer matches its hash (the row was changed)")
    assert day13_export_audit(db, tmp_path / "audit.csv") == checked
    assert (tmp_path / "audit.csv").read_text().splitlines()[0].startswith("seq,at,actor,action")


def test_a_deleted_audit_row_is_named(run, db, drop, make_alert):
    drop("a.json", [make_alert(1)])
    run()
    db.execute("DROP TRIGGER day13_audit_no_delete")
    db.execute("DELETE FROM day13_audit WHERE seq = 2")
    assert day13_verify_audit(db)[1:] == (3, "rows 2..2 are missing")


def test_each_alert_trail_answers_when_it_was_classified_routed_notified_and_escalated_and_to_whom(
        run, db, drop, make_alert, tmp_path):
    routing = tmp_path / "routing.yaml"
    routing.write_text("route: {receiver: triage, group_wait: 0s, escalation_receiver: duty}\n"
                       "receivers: [{name: triage, email_configs: [{to: t@x}]}, {name: duty, email_configs: [{to: d@x}]}]\n")
    drop("a.json", [make_alert(1, created_at="2026-11-20T10:00:00Z")])  # two days old: breached at triage
    run(routing_path=routing)
    from day13_STORE_audit import day13_Store

    fingerprint = db.execute("SELECT fingerprint FROM day13_alerts").fetchone()[0]
    trail = day13_Store(db).audit_rows_for(fingerprint)
    # one row per event: the ingest row carries the classification (severity and its rationale) it was stored with
    assert [r["action"] for r in trail] == ["ingested", "sla_breached", "routed", "notified", "escalated"]
    assert json.loads(trail[0]["details"])["severity"] == "High"
    assert trail[0]["rationale"].startswith("base High for aml_structuring")
    assert [json.loads(r["details"])["receiver"] for r in trail[2:]] == ["triage", "triage", "duty"]
    assert day13_verify_audit(db)[1] is None
