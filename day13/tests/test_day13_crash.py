"""kill -9 at every step of a real run (subprocess, real files, real SQLite, real SMTP), then a re-run:
every alert routed once, every group notified (at most one repeat per crash to Slack, none to the
ticket API or e-mail, which take an idempotency key), every SLA breach escalated, the audit chain intact."""
import json
import signal
import sqlite3
import subprocess
import sys
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from day13_RUN_context import DAY13_FAULT_POINTS

ORCHESTRATOR = Path(__file__).resolve().parents[1] / "day13_ORCHESTRATOR_alert_triage.py"


def _workload(make_alert) -> list[list[dict]]:
    """Two files: fresh alerts (inside their SLA) and old ones (breached), to Slack, tickets and e-mail."""
    fresh = (datetime.now(timezone.utc) - timedelta(minutes=1)).isoformat(timespec="seconds").replace("+00:00", "Z")
    first = [make_alert(n, alert_type="sanctions_hit", match_score="99", entity_id=f"S{n}", created_at=fresh) for n in range(4)]
    first += [make_alert(10 + n, alert_type="trade_wash", entity_id=f"T{n}", amount="100", created_at=fresh) for n in range(3)]
    second = [make_alert(20 + n, alert_type="fraud_card", entity_id=f"F{n}", amount="30000") for n in range(3)]  # old: breached
    second += [make_alert(30 + n, alert_type="aml_large_cash", entity_id=f"A{n}", amount="300000") for n in range(3)]
    return [first, second]


def _outcome(settings) -> dict:
    db = sqlite3.connect(settings.audit_log_path)
    db.row_factory = sqlite3.Row
    routed = Counter((r["fingerprint"], json.loads(r["details"])["receiver"])
                     for r in db.execute("SELECT fingerprint, details FROM day13_audit WHERE action = 'routed'"))
    slack = Counter((r["channel"], json.loads(r["payload"])["text"]) for r in db.execute("SELECT channel, payload FROM day13_slack_outbox"))
    tickets = Counter((r["queue"], r["title"]) for r in db.execute("SELECT queue, title FROM day13_tickets"))
    states = Counter(r[0] for r in db.execute("SELECT state FROM day13_alert_state"))
    breached = {r[0] for r in db.execute("SELECT fingerprint FROM day13_alert_state WHERE sla_breached = 1")}
    escalated = Counter(r[0] for r in db.execute("SELECT fingerprint FROM day13_audit WHERE action = 'escalated'"))
    unsent = db.execute("SELECT COUNT(*) FROM day13_notifications WHERE status != 'sent'").fetchone()[0]
    outbox = Counter(r[0] for r in db.execute("SELECT status FROM day13_outbox"))
    db.close()
    mails = sorted(p.name for p in settings.outbox_dir.glob("*.eml"))
    deliveries = Counter((settings.outbox_dir / "day13_deliveries.log").read_text().split())
    return {"routed": routed, "slack": slack, "tickets": tickets, "states": states, "breached": breached,
            "escalated": escalated, "unsent": unsent, "outbox": outbox, "mails": mails, "deliveries": deliveries}


def _write(settings, files):
    settings.drop_dir.mkdir(parents=True, exist_ok=True)
    for n, records in enumerate(files):
        (settings.drop_dir / f"{n}_alerts.json").write_text(json.dumps(records))


@pytest.mark.parametrize("fault", DAY13_FAULT_POINTS)
def test_kill_9_at_each_step_then_a_rerun_loses_nothing_and_repeats_at_most_one_slack_post(
        fault, settings, make_alert, tmp_path, cli, cli_env):
    files = _workload(make_alert)
    clean = settings.model_copy(update={k: tmp_path / "clean" / v for k, v in (
        ("audit_log_path", "audit.db"), ("drop_dir", "drop"), ("inbox_dir", "inbox"), ("outbox_dir", "outbox"),
        ("lock_path", "lock"), ("log_path", "run.log"))})
    _write(clean, files)
    cli(cli_env(clean), "run")
    expected = _outcome(clean)

    _write(settings, files)
    env = cli_env(settings)
    crashed = subprocess.run([sys.executable, str(ORCHESTRATOR), "run", "--fault", fault], env=env, timeout=180,
                             capture_output=True, text=True)
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr[-2000:]
    cli(env, "run")
    got = _outcome(settings)

    assert set(got["routed"].values()) == {1} and got["routed"] == expected["routed"]  # every alert routed once
    assert got["unsent"] == 0 and set(got["outbox"]) == {"sent"}  # every group notified, nothing left in the outbox
    assert got["tickets"] == expected["tickets"]  # the ticket API's idempotency key: never a second ticket
    assert len(got["mails"]) == len(expected["mails"]) >= 1  # one mail per Message-ID (keys carry the time)
    assert sum(got["deliveries"].values()) - sum(expected["deliveries"].values()) <= 1
    assert set(got["slack"]) == set(expected["slack"])
    assert sum(got["slack"].values()) - sum(expected["slack"].values()) <= 1  # at most the one post in flight
    assert got["breached"] == expected["breached"] and len(got["breached"]) == 6
    assert set(got["escalated"]) == got["breached"] and set(got["escalated"].values()) == {1}  # every breach, once
    assert got["states"] == expected["states"]
    assert "audit chain intact" in cli(env, "verify-audit").stdout


def test_alerts_stored_by_a_crashed_run_are_escalated_by_a_later_one_when_their_sla_passes(settings, make_alert, cli, cli_env):
    fresh = (datetime.now(timezone.utc) - timedelta(minutes=1)).isoformat(timespec="seconds").replace("+00:00", "Z")
    _write(settings, [[make_alert(1, alert_type="sanctions_hit", match_score="99", created_at=fresh)], [make_alert(2)]])
    env = cli_env(settings)
    assert subprocess.run([sys.executable, str(ORCHESTRATOR), "run", "--fault", "after_ingest_commit"], env=env,
                          timeout=180).returncode == -signal.SIGKILL
    db = sqlite3.connect(settings.audit_log_path)
    assert db.execute("SELECT state, sla_breached FROM day13_alert_state").fetchall() == [("stored", 0)]
    db.execute("UPDATE day13_alerts SET sla_deadline = ?", ((datetime.now(timezone.utc) - timedelta(minutes=1)).isoformat(),))
    db.commit()  # the Critical 15-minute SLA ran out while nobody was running
    cli(env, "run")
    row = db.execute("SELECT state, sla_breached, escalated_at FROM day13_alert_state JOIN day13_alerts USING (fingerprint)"
                     " WHERE entity_id = 'ENT-1' AND alert_type = 'sanctions_hit'").fetchone()
    assert row[0] == "escalated" and row[1] == 1 and row[2]
    assert db.execute("SELECT COUNT(*) FROM day13_tickets WHERE title LIKE 'SLA breached%' AND queue = 'SANCTIONS'").fetchone()[0] == 1
    db.close()


def test_a_file_removed_after_its_commit_does_not_abort_the_run(settings, run, db, drop, make_alert, monkeypatch):
    import day13_INGEST_stage

    drop("a.json", [make_alert(1)])
    drop("b.json", [make_alert(2, entity_id="E2")])
    original = day13_INGEST_stage.day13_ingest_batch

    def batch_then_vanish(ctx, alerts, quarantined, also=None, **more):
        original(ctx, alerts, quarantined, also, **more)
        for path in settings.drop_dir.glob("a.json"):
            path.unlink()  # someone else tidied the folder between our commit and our move

    monkeypatch.setattr(day13_INGEST_stage, "day13_ingest_batch", batch_then_vanish)
    summary = run()
    assert summary.new_alerts == 2 and summary.notifications_sent >= 1
    assert db.execute("SELECT COUNT(*) FROM day13_alert_state WHERE state = 'stored'").fetchone()[0] == 0


def test_kill_9_between_commit_and_file_move_then_rerun_loses_and_doubles_nothing(settings, drop, make_alert, db, cli, cli_env):
    drop("a_first.json", [make_alert(n, entity_id=f"E{n}") for n in range(3)])
    drop("b_second.json", [make_alert(n, entity_id=f"F{n}") for n in range(3, 6)])
    env = cli_env(settings)
    crashed = subprocess.run([sys.executable, str(ORCHESTRATOR), "run", "--fault", "after_ingest_commit"], env=env, timeout=120)
    assert crashed.returncode == -signal.SIGKILL
    assert (settings.drop_dir / "a_first.json").exists()  # committed, never moved
    assert db.execute("SELECT COUNT(*) FROM day13_received").fetchone()[0] == 3
    rerun = subprocess.run([sys.executable, str(ORCHESTRATOR)], env=env, timeout=120, capture_output=True, text=True)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    summary = json.loads(rerun.stdout.strip().splitlines()[-1])
    assert (summary["already_seen"], summary["new_alerts"]) == (3, 3)  # the first file recognised, the second new
    assert db.execute("SELECT COUNT(*), SUM(count) FROM day13_alerts").fetchone()[:] == (6, 6)
    assert sorted(p.name for p in (settings.drop_dir / "processed").iterdir()) == ["a_first.json", "b_second.json"]
    assert "audit chain intact" in cli(env, "verify-audit").stdout
