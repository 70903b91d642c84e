"""Dispatch stage: due notification groups into the outbox, then the outbox to the receivers.

Filling: a group whose group_wait/group_interval has passed becomes one outbox message; the message,
its notification rows ('queued') and the group's timer are committed together. Sending: each
pending outbox message is delivered with its idempotency key (ticket API: Idempotency-Key header;
e-mail: a Message-ID derived from the key), then marked sent with its alerts in one transaction.
A crash between delivery and that commit re-sends the one message in flight on the next run: a
repeat for Slack (no key), none for tickets or e-mail receivers that honour the key.
"""
from __future__ import annotations

import hashlib
import json
import logging
from collections import defaultdict
from datetime import datetime

import orjson

from day13_NOTIFY_receivers import day13_Notification, day13_PermanentError, day13_TransientError

DAY13_LOG = logging.getLogger("day13.dispatch")


def day13_outbox_key(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]


def day13_alert_line(labels: dict) -> str:
    return (f"{labels.get('severity')}: {labels.get('alert_type')} entity {labels.get('entity_id')} account "
            f"{labels.get('account_id')} ({labels.get('jurisdiction') or '-'}) [{labels.get('fingerprint', '')[:12]}]")


def _route_named(routing, name: str):
    stack = [routing.root]
    while stack:
        route = stack.pop()
        if route.name == name:
            return route
        stack.extend(route.routes)
    return routing.root  # the route was removed from the config: use the root's timers


def day13_fill_outbox(ctx) -> None:
    """Every due group becomes an outbox message; all of this run's in one transaction."""
    now = ctx.now()
    groups: dict[tuple[str, str], list] = defaultdict(list)
    with ctx.store.transaction(ctx.audit):
        for row in ctx.store.pending_notifications():
            groups[(row["receiver"], row["group_key"])].append(row)
        for (receiver, group_key), rows in groups.items():
            route = _route_named(ctx.routing, json.loads(group_key)[0])
            last_sent = ctx.store.group_last_sent(receiver, group_key)
            first_pending = min(datetime.fromisoformat(r["pending_since"]) for r in rows)
            if last_sent is None:
                if now - first_pending < route.group_wait:
                    continue  # a new group waits group_wait for more alerts to join it
            elif now - datetime.fromisoformat(last_sent) < route.group_interval:
                continue  # this group was notified recently; the next message goes after group_interval
            _queue_group(ctx, receiver, group_key, rows, now)


def _queue_group(ctx, receiver: str, group_key: str, rows, now: datetime) -> None:
    shown_fingerprints = [r["fingerprint"] for r in rows[:ctx.routing.max_alerts_per_message]]
    labels = ctx.store.alert_labels(shown_fingerprints)
    shown = [orjson.loads(labels[f]) for f in shown_fingerprints if f in labels]
    values = json.loads(group_key)[1:]
    title = f"{len(rows)} compliance alert(s): {' / '.join(v for v in values if v) or 'all'}"
    fingerprints = [r["fingerprint"] for r in rows]
    key = day13_outbox_key("notify", receiver, group_key, now.isoformat(), *fingerprints)
    outbox_id = ctx.store.add_outbox(key, "notify", receiver, group_key, title, [day13_alert_line(l) for l in shown],
                                     len(rows) - len(shown), fingerprints, now)
    ctx.store.group_in_outbox(outbox_id, receiver, group_key)
    ctx.store.group_flushed(receiver, group_key, now)
    ctx.audit.record("notification_queued", now, rationale=title, receiver=receiver, outbox_id=outbox_id,
                     alerts=len(rows), idempotency_key=key)


def day13_send_outbox(ctx, *, resuming: bool = False) -> None:
    """Deliver every pending outbox message; `resuming`: these are left from an earlier run."""
    for row in ctx.store.outbox_waiting():
        if resuming:
            ctx.summary.resumed_messages += 1
        _send(ctx, row)


def _send(ctx, row) -> None:
    fingerprints = orjson.loads(row["fingerprints"])
    note = day13_Notification(row["receiver"], row["title"], tuple(orjson.loads(row["lines"])), tuple(fingerprints),
                              more=row["more"], key=row["idempotency_key"])
    escalation = row["kind"] == "escalate"
    error, permanent = None, False
    delivered = set(orjson.loads(row["delivered"]))  # targets an earlier attempt reached: not sent again
    try:
        receiver = ctx.routing.receivers.get(row["receiver"])
        if receiver is None:
            raise day13_PermanentError(f"receiver {row['receiver']!r} is no longer in the routing file")
        ctx.dispatcher.deliver(receiver, note, delivered)
    except (day13_TransientError, day13_PermanentError) as exc:
        permanent = isinstance(exc, day13_PermanentError)
        error = f"{'permanent' if permanent else 'transient'}: {exc}"
    except Exception as exc:  # a client library refusing the message (e.g. a header it cannot take): retrying won't help,
        # and raising would stop this run and every later one at this message. Named by class only: no data, no secret.
        permanent, error = True, f"permanent: the receiver refused the message ({type(exc).__name__})"
    now = ctx.now()
    if error is None:
        ctx.checkpoint("mid_escalation" if escalation else "mid_notification")  # delivered, not yet recorded
        with ctx.store.transaction(ctx.audit):
            ctx.store.outbox_sent(row["id"], row["kind"], row["receiver"], row["group_key"], now)
            ctx.audit.record_each("escalated" if escalation else "notified", now, fingerprints, rationale=note.title,
                                  receiver=row["receiver"], outbox_id=row["id"])
        if escalation:
            ctx.summary.escalated += len(fingerprints)
        else:
            ctx.summary.notifications_sent += 1
        return
    with ctx.store.transaction(ctx.audit):
        ctx.store.outbox_failed(row["id"], row["receiver"], row["group_key"], error, permanent, sorted(delivered))
        ctx.audit.record_each("notify_failed", now, fingerprints, rationale=error, receiver=row["receiver"],
                              outbox_id=row["id"], retried=not permanent)
    ctx.summary.notifications_failed += 1
    DAY13_LOG.warning("delivery failed" + ("" if permanent else "; retried next run"),
                      extra={"receiver": row["receiver"], "error": error[:300], "alerts": len(fingerprints),
                             "outbox_id": row["id"]})
