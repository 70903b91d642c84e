"""Route stage: every alert in state 'stored' (this run's, or one an earlier run stored and never routed).

Per chunk, in one transaction: the routing decision for each alert (silenced, inhibited, or the
receivers it is owed to), its notification rows and its new state, with their audit rows. A crash
rolls the chunk back; the next run routes those alerts again, so each is routed exactly once.
"""
from __future__ import annotations

import json
from datetime import datetime, timedelta

import orjson

from day13_ROUTING_tree import day13_InhibitionIndex, day13_RouteMemo

DAY13_ACTIVE_WINDOW = timedelta(hours=24)  # an alert seen within this window can inhibit others


def day13_route(ctx) -> None:
    now = ctx.now()
    index, active = None, {}
    memo, group_keys, after = day13_RouteMemo(ctx.routing, now), {}, ""
    while True:
        fingerprints = ctx.store.alerts_to_route(ctx.route_chunk, after)  # each chunk goes on where the last one ended
        if not fingerprints:
            return
        after = fingerprints[-1]
        if index is None:  # built once per run, after ingest: this run's alerts can inhibit too
            active = {fingerprint: orjson.loads(labels) for fingerprint, labels in ctx.store.active_labels(
                now - DAY13_ACTIVE_WINDOW)}
            index = day13_InhibitionIndex(ctx.routing.inhibitions, list(active.values()))
        missing = ctx.store.alert_labels([f for f in fingerprints if f not in active])  # stored over a day ago
        batch = {f: active.get(f) or orjson.loads(missing[f]) for f in fingerprints}
        log = ctx.store.notification_log(list(batch))
        queued: list[tuple] = []
        with ctx.store.transaction(ctx.audit):
            states = [(_route_one(ctx, labels, index, memo, group_keys, now, log, queued), fingerprint)
                      for fingerprint, labels in batch.items()]
            ctx.checkpoint("mid_routing")  # the drill kills here: decisions made, nothing committed
            ctx.store.queue_notifications(queued)
            ctx.store.set_states(states)


def _route_one(ctx, labels: dict, index: day13_InhibitionIndex, memo: day13_RouteMemo, group_keys: dict, now: datetime,
               log: dict, queued: list) -> str:
    """The alert's new state: closed (silenced or inhibited), routed (something owed), notified (nothing owed now)."""
    fingerprint = labels["fingerprint"]
    silence = memo.silence(labels)
    if silence:
        ctx.summary.silenced += 1
        ctx.audit.record("silenced", now, fingerprint=fingerprint, rationale=silence.comment,
                         silenced_by=silence.created_by, until=silence.ends_at.isoformat())
        return "closed"
    muted = index.find(labels)
    if muted:
        rule, source = muted
        ctx.summary.inhibited += 1
        ctx.audit.record("inhibited", now, fingerprint=fingerprint,
                         rationale=f"{source.get('severity', '?')} alert {source.get('fingerprint', '?')} for the same "
                                   f"{', '.join(rule.equal)}", equal=list(rule.equal))
        return "closed"
    owed = [_queue(ctx, fingerprint, labels, route, _group_key(route, labels, group_keys), now, log, queued)
            for route in memo.routes(labels)]
    return "routed" if any(owed) else "notified"


def _group_key(route, labels: dict, known: dict) -> str:
    """The group's key as JSON text, made once per run for each route and group_by values."""
    values = tuple([labels.get(g, "") for g in route.group_key_labels(labels)])
    key = known.get((route.name, values))
    if key is None:
        key = known[(route.name, values)] = json.dumps([route.name, *values])
    return key


def _queue(ctx, fingerprint: str, labels: dict, route, group_key: str, now: datetime, log: dict, queued: list) -> bool:
    """True when a notification to this route's receiver is owed (queued now, or still waiting from before)."""
    status, last_sent_at = log.get((fingerprint, route.receiver), (None, None))
    if status == "sent" and datetime.fromisoformat(last_sent_at) + route.repeat_interval > now:
        return False  # notified recently: a repeat inside the repeat interval stays quiet
    if status in ("pending", "queued"):
        return True  # already waiting to go out
    queued.append((fingerprint, route.receiver, group_key, ctx.audit.stamp(now)))
    ctx.summary.routed += 1
    ctx.audit.record("routed", now, fingerprint=fingerprint, rationale=f"route {route.name}",
                     receiver=route.receiver, repeat=status is not None)
    return True
