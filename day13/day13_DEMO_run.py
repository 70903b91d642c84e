"""--demo: yesterday's synthetic alerts on all three sources, triaged on embedded receivers.

Drop files and .eml messages are written to a demo folder; API payloads are POSTed over real HTTP to
the /alerts endpoint (waitress on a free port). Then one triage run, a second run that must find
nothing new, and the audit chain verified. State lives in day13/state/demo/, recreated each time.
"""
from __future__ import annotations

import json
import shutil
import socket
import threading
from collections import Counter
from datetime import datetime, timedelta, timezone

from day13_CONFIG_settings import DAY13_DIR
from day13_COMMANDS_cli import day13_command_run
from day13_ESCALATE_sla import day13_sla_report
from day13_STORE_audit import day13_Store

DAY13_DEMO_DIR = DAY13_DIR / "state" / "demo"
DAY13_DEMO_ALERTS = 400


def _post_api_payloads(settings, lines: list[str]) -> Counter:
    import requests
    from waitress import create_server

    from day13_API_alerts import day13_create_api

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = create_server(day13_create_api(settings),
                           host="127.0.0.1", port=port, threads=4)
    threading.Thread(target=server.run, daemon=True).start()
    codes: Counter = Counter()
    with requests.Session() as session:
        for line in lines:
            codes[session.post(f"http://127.0.0.1:{port}/alerts", data=line.encode(),
                               headers={"content-type": "application/json"}, timeout=10).status_code] += 1
    server.close()
    return codes


def day13_demo(settings) -> int:
    from shared_synthetic_data import compliance

    shutil.rmtree(DAY13_DEMO_DIR, ignore_errors=True)
    demo = settings.model_copy(update={
        "audit_log_path": DAY13_DEMO_DIR / "day13_demo_audit.db", "drop_dir": DAY13_DEMO_DIR / "drop",
        "inbox_dir": DAY13_DEMO_DIR / "inbox", "outbox_dir": DAY13_DEMO_DIR / "outbox", "lock_path": DAY13_DEMO_DIR / "demo.lock",
        "slack_webhook_url": None, "smtp_host": None, "ticket_api_url": None, "file_settle_seconds": 0.0})
    yesterday = datetime.now(timezone.utc).date() - timedelta(days=1)
    dataset = compliance.generate(size=DAY13_DEMO_ALERTS, defects=("duplicates", "malformed"), end_date=yesterday)
    staging = DAY13_DEMO_DIR / "generated"
    dataset.write(staging)
    shutil.copytree(staging / "compliance" / "drop", demo.drop_dir)
    shutil.copytree(staging / "compliance" / "inbox", demo.inbox_dir)
    api_codes = _post_api_payloads(demo, (staging / "compliance" / "api_payloads.jsonl").read_text().splitlines())
    day13_command_run(demo)
    day13_command_run(demo)  # the same sources again: nothing new, nothing notified twice
    store = day13_Store.open(demo.audit_log_path)
    checked, broken, _ = store.verify_audit()
    counts = store.audit_counts()
    alerts, tickets, slack = (store.count(t) for t in ("day13_alerts", "day13_tickets", "day13_slack_outbox"))
    sla = {r["severity"]: r["breaches"] for r in day13_sla_report(store)}
    store.close()
    mails = len(list(demo.outbox_dir.glob("*.eml"))) if demo.outbox_dir.is_dir() else 0
    print(f"day13 demo: API answered {dict(sorted(api_codes.items()))}; {counts.get('ingested', 0)} alerts ingested into "
          f"{alerts} distinct alerts ({counts.get('ingested', 0) - alerts} repeats), {counts.get('quarantined', 0)} quarantined, "
          f"{counts.get('silenced', 0)} silenced, {counts.get('inhibited', 0)} inhibited; notified {counts.get('notified', 0)} "
          f"alert-receiver pairs in {slack} Slack posts, {mails} e-mails, {tickets} tickets; SLA breaches "
          f"{json.dumps(sla)} escalated {counts.get('escalated', 0)}; audit chain "
          f"{'intact' if broken is None else 'BROKEN at ' + str(broken)} ({checked} rows); "
          f"state: {DAY13_DEMO_DIR.relative_to(DAY13_DIR.parent)}")
    return 0 if broken is None else 1
