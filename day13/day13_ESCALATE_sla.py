"""Escalate stage: every open alert past its SLA, whichever run found it, and the SLA report.

Due: breached at triage (created → stored later than the SLA), or still stored/routed (not notified)
after its deadline. In one transaction: the alerts marked escalated, one escalation message per
escalation receiver in the outbox, and their audit rows; the dispatch stage sends the messages.
"""
from __future__ import annotations

import logging
import statistics
from collections import defaultdict
from datetime import datetime

import orjson

from day13_DISPATCH_outbox import day13_alert_line, day13_outbox_key
from day13_ROUTING_tree import day13_RouteMemo
from day13_RULES_classify import DAY13_SEVERITIES

DAY13_LOG = logging.getLogger("day13.escalate")


def day13_escalate(ctx) -> None:
    now = ctx.now()
    due = ctx.store.escalation_due(now)
    if not due:
        return
    by_receiver: dict[str, list[dict]] = defaultdict(list)
    nowhere = 0
    memo = day13_RouteMemo(ctx.routing, now)
    with ctx.store.transaction(ctx.audit):
        for row in due:
            labels = orjson.loads(row["labels"])
            if not row["sla_breached"]:
                ctx.summary.sla_breaches += 1
                ctx.audit.record("sla_breached", now, fingerprint=row["fingerprint"],
                                 rationale=f"{row['severity']} SLA is {row['sla_minutes']} min; still not notified")
            route = memo.routes(labels)[0]
            if route.escalation_receiver:
                by_receiver[route.escalation_receiver].append(labels)
            else:  # said in the audit and the log, never a silent 'escalated' that reached nobody
                nowhere += 1
                ctx.audit.record("sla_breached", now, fingerprint=row["fingerprint"],
                                 rationale=f"not escalated: {route.name} has no escalation_receiver")
        for receiver, items in sorted(by_receiver.items()):
            shown = items[:ctx.routing.max_alerts_per_message]
            fingerprints = [labels["fingerprint"] for labels in items]
            title = f"SLA breached: {len(items)} alert(s) triaged late"
            key = day13_outbox_key("escalate", receiver, now.isoformat(), *fingerprints)
            outbox_id = ctx.store.add_outbox(key, "escalate", receiver, "", title, [day13_alert_line(l) for l in shown],
                                             len(items) - len(shown), fingerprints, now)
            ctx.audit.record("escalation_queued", now, rationale=title, receiver=receiver, outbox_id=outbox_id,
                             alerts=len(items), idempotency_key=key)
        ctx.store.mark_escalated([row["fingerprint"] for row in due], now)
    if nowhere:
        DAY13_LOG.warning("SLA breaches with no escalation receiver on their route: recorded, nobody told",
                          extra={"alerts": nowhere})


def day13_sla_report(store) -> list[dict]:
    """Per severity: count, median and p95 minutes from creation to triage, breaches."""
    report = []
    for severity in reversed(DAY13_SEVERITIES):
        rows = store.sla_rows(severity)
        minutes = sorted((datetime.fromisoformat(r["triaged_at"]) - datetime.fromisoformat(r["created_at"])).total_seconds() / 60
                         for r in rows)
        report.append({"severity": severity, "count": len(rows), "sla_minutes": rows[0]["sla_minutes"] if rows else None,
                       "median_minutes": round(statistics.median(minutes), 1) if minutes else None,
                       "p95_minutes": round(minutes[min(len(minutes) - 1, int(0.95 * len(minutes)))], 1) if minutes else None,
                       "breaches": sum(r["sla_breached"] for r in rows)})
    return report
