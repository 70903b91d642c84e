"""What each ORCHESTRATOR subcommand does, with its dependencies passed in."""
from __future__ import annotations

import ipaddress
import json
import logging
from contextlib import ExitStack
from datetime import datetime, timedelta, timezone
from pathlib import Path

import orjson

from day13_ESCALATE_sla import day13_sla_report
from day13_PIPELINE_triage import day13_run_triage
from day13_RUNTIME_wiring import day13_Busy, day13_load_configs, day13_open_run_store, day13_run_context, day13_run_lock
from day13_STORE_audit import day13_Store

DAY13_LOG = logging.getLogger("day13")


class day13_UnsafeBind(RuntimeError):
    """serve: a non-loopback address without a sender credential configured."""


def day13_command_run(settings, now=lambda: datetime.now(timezone.utc), fault: str | None = None) -> int:
    """One triage run under the lock; a second concurrent run logs and exits 0."""
    try:
        with day13_run_lock(settings.lock_path), ExitStack() as stack:
            store = day13_open_run_store(settings, stack)
            ctx = day13_run_context(settings, store, stack, now=now, fault=fault)
            summary = day13_run_triage(ctx, drop_dir=settings.drop_dir, inbox_dir=settings.inbox_dir)
    except day13_Busy as exc:
        DAY13_LOG.warning("skipped: another run is in progress", extra={"detail": str(exc)})
        return 0
    print(json.dumps(summary.fields(), sort_keys=True))
    return 0


def day13_command_route_test(settings, pairs: list[str], now: datetime | None = None) -> int:
    """route-test alert_type=sanctions_hit severity=Critical [entity_id=...]: receivers, silence, inhibition."""
    labels = dict(pair.split("=", 1) for pair in pairs if "=" in pair)
    labels.setdefault("fingerprint", "route-test")
    store = day13_Store.open(settings.audit_log_path)
    now = now or datetime.now(timezone.utc)
    _, routing = day13_load_configs(store, settings, now)
    routes = routing.root.match(labels)
    print(f"labels:    {', '.join(f'{k}={v}' for k, v in sorted(labels.items()) if k != 'fingerprint')}")
    for route in routes:
        print(f"route:     {route.name} -> receiver {route.receiver} (group_by {', '.join(route.group_by) or '-'}, "
              f"repeat {route.repeat_interval}, escalation {route.escalation_receiver or '-'})")
    silence = routing.silence_for(labels, now)
    by = f"yes, by {silence.created_by} until {silence.ends_at.isoformat()}: {silence.comment}" if silence else "no"
    print(f"silenced:  {by}")
    active = [orjson.loads(text) for _, text in store.active_labels(now - timedelta(hours=24))]
    muted = routing.inhibitor(labels, active)
    if muted:
        rule, source = muted
        print(f"inhibited: yes, by {source.get('severity', '?')} alert {source.get('fingerprint', '?')} "
              f"(equal {', '.join(rule.equal)})")
    else:
        print("inhibited: no")
    store.close()
    return 0


def day13_command_verify(settings) -> int:
    store = day13_Store.open(settings.audit_log_path)
    checked, broken, why = store.verify_audit()
    store.close()
    if broken is None:
        print(f"audit chain intact: {checked} rows verified")
        return 0
    print(f"audit chain BROKEN at row {broken}: {why} ({checked} rows read)")
    return 1


def day13_command_export(settings, target: str) -> int:
    store = day13_Store.open(settings.audit_log_path)
    count = store.export_audit(Path(target))
    store.close()
    print(f"exported {count} audit rows to {target}")
    return 0


def day13_command_sla(settings) -> int:
    store = day13_Store.open(settings.audit_log_path)
    print(f"{'severity':<9} {'count':>6} {'SLA min':>8} {'median':>8} {'p95':>8} {'breaches':>9}")
    for row in day13_sla_report(store):
        print(f"{row['severity']:<9} {row['count']:>6} {row['sla_minutes'] or '-':>8} {row['median_minutes'] or '-':>8} "
              f"{row['p95_minutes'] or '-':>8} {row['breaches']:>9}")
    store.close()
    return 0


def day13_check_bind(settings) -> None:
    """Anyone who can reach a non-loopback address could file alerts: that needs a sender credential."""
    if settings.api_token or settings.api_hmac_secret:
        return
    try:
        loopback = ipaddress.ip_address(settings.api_host).is_loopback
    except ValueError:
        loopback = settings.api_host == "localhost"
    if not loopback:
        raise day13_UnsafeBind(f"DAY13_API_HOST={settings.api_host} is not loopback and neither DAY13_API_TOKEN nor "
                               "DAY13_API_HMAC_SECRET is set: refusing to accept alerts from anyone")


def day13_command_serve(settings) -> int:
    from waitress import serve

    from day13_API_alerts import day13_create_api

    day13_check_bind(settings)
    DAY13_LOG.info("alert API listening", extra={"host": settings.api_host, "port": settings.api_port})
    serve(day13_create_api(settings), host=settings.api_host, port=settings.api_port, threads=4)
    return 0
