"""What each ORCHESTRATOR subcommand does, with its dependencies passed in."""
from __future__ import annotations

import json
import logging
from contextlib import ExitStack
from datetime import datetime, timedelta, timezone
from pathlib import Path

from day13_PIPELINE_triage import day13_run_triage, day13_sla_report, day13_Triage
from day13_RUNTIME_wiring import day13_Busy, day13_dispatcher, day13_load_configs, day13_run_lock
from day13_STORE_audit import day13_connect, day13_export_audit, day13_verify_audit

DAY13_LOG = logging.getLogger("day13")


def day13_command_run(settings, now=lambda: datetime.now(timezone.utc), after_commit=None) -> int:
    """One triage run under the lock; a second concurrent run logs and exits 0."""
    try:
        with day13_run_lock(settings.lock_path), ExitStack() as stack:
            db = day13_connect(settings.audit_log_path)
            rules, routing = day13_load_configs(db, settings, now())
            triage = day13_Triage(db, rules, routing, day13_dispatcher(settings, db, stack), now=now, after_commit=after_commit)
            summary = day13_run_triage(triage, drop_dir=settings.drop_dir, inbox_dir=settings.inbox_dir)
            db.close()
    except day13_Busy as exc:
        DAY13_LOG.warning("skipped: another run is in progress", extra={"detail": str(exc)})
        return 0
    print(json.dumps(summary.fields(), sort_keys=True))
    return 0


def day13_command_route_test(settings, pairs: list[str], now: datetime | None = None) -> int:
    """route-test alert_type=sanctions_hit severity=Critical [entity_id=...]: receivers, silence, inhibition."""
    labels = dict(pair.split("=", 1) for pair in pairs if "=" in pair)
    labels.setdefault("fingerprint", "route-test")
    db = day13_connect(settings.audit_log_path)
    now = now or datetime.now(timezone.utc)
    _, routing = day13_load_configs(db, settings, now)
    routes = routing.root.match(labels)
    print(f"labels:    {', '.join(f'{k}={v}' for k, v in sorted(labels.items()) if k != 'fingerprint')}")
    for route in routes:
        print(f"route:     {route.name} -> receiver {route.receiver} (group_by {', '.join(route.group_by) or '-'}, "
              f"repeat {route.repeat_interval}, escalation {route.escalation_receiver or '-'})")
    silence = routing.silence_for(labels, now)
    by = f"yes, by {silence.created_by} until {silence.ends_at.isoformat()}: {silence.comment}" if silence else "no"
    print(f"silenced:  {by}")
    since = (now - timedelta(hours=24)).isoformat()
    active = [json.loads(r["labels"]) for r in db.execute("SELECT labels FROM day13_alerts WHERE last_seen >= ?", (since,))]
    muted = routing.inhibitor(labels, active)
    by = f"yes, by {muted[1]['severity']} alert {muted[1]['fingerprint']} (equal {', '.join(muted[0].equal)})" if muted else "no"
    print(f"inhibited: {by}")
    db.close()
    return 0


def day13_command_verify(settings) -> int:
    db = day13_connect(settings.audit_log_path)
    checked, broken, why = day13_verify_audit(db)
    db.close()
    if broken is None:
        print(f"audit chain intact: {checked} rows verified")
        return 0
    print(f"audit chain BROKEN at row {broken}: {why} ({checked} rows read)")
    return 1


def day13_command_export(settings, target: str) -> int:
    db = day13_connect(settings.audit_log_path)
    count = day13_export_audit(db, Path(target))
    db.close()
    print(f"exported {count} audit rows to {target}")
    return 0


def day13_command_sla(settings) -> int:
    db = day13_connect(settings.audit_log_path)
    print(f"{'severity':<9} {'count':>6} {'SLA min':>8} {'median':>8} {'p95':>8} {'breaches':>9}")
    for row in day13_sla_report(db):
        print(f"{row['severity']:<9} {row['count']:>6} {row['sla_minutes'] or '-':>8} {row['median_minutes'] or '-':>8} "
              f"{row['p95_minutes'] or '-':>8} {row['breaches']:>9}")
    db.close()
    return 0


def day13_command_serve(settings) -> int:
    from waitress import serve

    from day13_API_alerts import day13_create_api

    DAY13_LOG.info("alert API listening", extra={"host": settings.api_host, "port": settings.api_port})
    serve(day13_create_api(settings.audit_log_path, max_body_bytes=settings.max_body_bytes),
          host=settings.api_host, port=settings.api_port, threads=4)
    return 0
