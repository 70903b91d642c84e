"""One triage run: ingest every source, dedup, classify, route, notify, check SLAs, audit each step.

Crash safety: a file's alerts, their audit rows and its quarantine rows are committed in one
transaction, and only then is the file moved to processed/ or quarantine/. If the process dies in
between, the next run reads the file again and day13_received (primary key: source, source id)
recognises every alert in it, so nothing is lost and nothing is counted twice.
"""
from __future__ import annotations

import json
import logging
import shutil
import sqlite3
import statistics
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Callable

from day13_INGEST_sources import (day13_Alert, day13_InvalidAlert, day13_normalise, day13_read_drop_file, day13_read_eml,
                                  day13_UnreadableFile)
from day13_NOTIFY_receivers import day13_Dispatcher, day13_Notification, day13_PermanentError, day13_TransientError
from day13_ROUTING_tree import day13_InhibitionIndex, day13_Routing
from day13_RULES_classify import DAY13_SEVERITIES, day13_classify, day13_Rules
from day13_STORE_audit import day13_Audit, day13_json

DAY13_LOG = logging.getLogger("day13.triage")
DAY13_ACTIVE_WINDOW = timedelta(hours=24)  # an alert seen within this window can inhibit others


@dataclass
class day13_RunSummary:
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    received: int = 0
    new_alerts: int = 0
    duplicates: int = 0
    already_seen: int = 0
    quarantined: int = 0
    severities: Counter = field(default_factory=Counter)
    routed: int = 0
    silenced: int = 0
    inhibited: int = 0
    notifications_sent: int = 0
    notifications_failed: int = 0
    sla_breaches: int = 0
    escalated: int = 0
    duration_s: float = 0.0

    def fields(self) -> dict:
        out = {k: v for k, v in self.__dict__.items() if k != "severities"}
        out.update({f"severity_{s.lower()}": self.severities.get(s, 0) for s in DAY13_SEVERITIES})
        return out


class day13_Triage:
    def __init__(self, db: sqlite3.Connection, rules: day13_Rules, routing: day13_Routing, dispatcher: day13_Dispatcher,
                 *, now: Callable[[], datetime] = lambda: datetime.now(timezone.utc), actor: str = "day13-triage",
                 after_commit: Callable[[], None] | None = None):
        self.db, self.rules, self.routing, self.dispatcher, self.now = db, rules, routing, dispatcher, now
        self.after_commit = after_commit  # a fault-drill seam: runs after a file's commit, before it is moved
        self.audit = day13_Audit(db, actor, rules.version, routing.version)
        self.summary = day13_RunSummary()
        self.touched: dict[str, dict] = {}  # fingerprint -> current labels, for routing without re-reading
        self.breached: list[str] = []  # fingerprints that breached their SLA in this run
        self._known: dict[str, tuple[int, str]] = {}  # fingerprint -> (count, severity), prefetched per batch

    # --- ingestion --------------------------------------------------------------------------
    def ingest_batch(self, alerts: list[day13_Alert], quarantined: list[tuple[str, str, str, str]]) -> None:
        """Store alerts and quarantine rows with their audit rows, in one transaction."""
        now = self.now()
        self.db.execute("BEGIN IMMEDIATE")
        try:
            for source, item, reason, raw in quarantined:
                self.db.execute("INSERT INTO day13_quarantine (source, item, reason, raw, at) VALUES (?, ?, ?, ?, ?)",
                                (source, item, reason, raw[:20_000], now.isoformat()))
                self.audit.record("quarantined", now, alert_id=item, rationale=reason, source=source)
                self.summary.quarantined += 1
            self._prefetch({a.fingerprint for a in alerts})
            writes = {"received": [], "new": [], "updates": {}}
            seen = self._received_before(alerts)
            for alert in alerts:
                if (alert.source, alert.source_id) in seen:
                    self.summary.already_seen += 1  # the same item again (a re-run after a crash): nothing to do
                    continue
                seen.add((alert.source, alert.source_id))
                self._store(alert, now, writes)
            self._write(writes)
            self.audit.flush()
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            self.audit.discard()
            self._known.clear()
            raise

    def _received_before(self, alerts: list[day13_Alert]) -> set[tuple[str, str]]:
        seen: set[tuple[str, str]] = set()
        by_source: dict[str, list[str]] = defaultdict(list)
        for alert in alerts:
            by_source[alert.source].append(alert.source_id)
        for source, ids in by_source.items():
            for start in range(0, len(ids), 500):
                chunk = ids[start:start + 500]
                seen.update((source, r[0]) for r in self.db.execute(
                    f"SELECT source_id FROM day13_received WHERE source = ? AND source_id IN ({', '.join('?' * len(chunk))})",
                    [source, *chunk]))
        return seen

    def _prefetch(self, fingerprints: set[str]) -> None:
        """One query per 500 fingerprints instead of one per alert."""
        wanted = sorted(fingerprints - self._known.keys())
        for start in range(0, len(wanted), 500):
            chunk = wanted[start:start + 500]
            for row in self.db.execute(f"SELECT fingerprint, count, severity FROM day13_alerts WHERE fingerprint IN "
                                       f"({', '.join('?' * len(chunk))})", chunk):
                self._known[row["fingerprint"]] = (row["count"], row["severity"])

    def _store(self, alert: day13_Alert, now: datetime, writes: dict) -> None:
        fingerprint, now_iso = alert.fingerprint, now.isoformat()
        self.summary.received += 1
        writes["received"].append((alert.source, alert.source_id, fingerprint, alert.alert_id,
                                   alert.created_at.isoformat(), now_iso))
        row = self._known.get(fingerprint)  # (count, severity) or None
        count = (row[0] if row else 0) + 1
        severity, why = day13_classify(alert, count, self.rules)
        rationale = "; ".join(why)
        label_map = alert.labels(severity)
        labels = day13_json(label_map)
        self._known[fingerprint] = (count, severity)
        self.audit.record("ingested", now, fingerprint=fingerprint, alert_id=alert.alert_id, source=alert.source,
                          source_id=alert.source_id, occurrence=count)
        if row is None:
            sla = self.rules.sla_minutes[severity]
            breached = now - alert.created_at > timedelta(minutes=sla)
            writes["new"].append((fingerprint, alert.alert_type, alert.entity_id, severity, rationale, labels,
                                  alert.created_at.isoformat(), now_iso, now_iso, now_iso, sla, int(breached),
                                  self.rules.version))
            self.audit.record("classified", now, fingerprint=fingerprint, alert_id=alert.alert_id, rationale=rationale,
                              severity=severity, triage_minutes=round((now - alert.created_at).total_seconds() / 60, 1))
            self.summary.new_alerts += 1
            self.summary.severities[severity] += 1
            if breached:
                self.summary.sla_breaches += 1
                self.breached.append(fingerprint)
                self.audit.record("sla_breached", now, fingerprint=fingerprint, alert_id=alert.alert_id,
                                  rationale=f"{severity} SLA is {sla} min; triaged after "
                                            f"{(now - alert.created_at).total_seconds() / 60:.0f} min")
        else:
            self.summary.duplicates += 1
            writes["updates"][fingerprint] = (count, now_iso, severity, rationale, labels, fingerprint)  # last one wins
            if severity != row[1]:
                self.audit.record("classified", now, fingerprint=fingerprint, alert_id=alert.alert_id,
                                  rationale=rationale, severity=severity, previous=row[1])
        self.touched[fingerprint] = label_map

    def _write(self, writes: dict) -> None:
        """The batch's rows in three executemany calls: inserts first, so a repeat's update finds its row."""
        self.db.executemany("INSERT INTO day13_received (source, source_id, fingerprint, alert_id, created_at, received_at)"
                            " VALUES (?, ?, ?, ?, ?, ?)", writes["received"])
        self.db.executemany(
            "INSERT INTO day13_alerts (fingerprint, alert_type, entity_id, severity, rationale, labels, count, created_at,"
            " first_seen, last_seen, triaged_at, sla_minutes, sla_breached, rules_version)"
            " VALUES (?, ?, ?, ?, ?, ?, 1, ?, ?, ?, ?, ?, ?, ?)", writes["new"])
        self.db.executemany("UPDATE day13_alerts SET count = ?, last_seen = ?, severity = ?, rationale = ?, labels = ?"
                            " WHERE fingerprint = ?", list(writes["updates"].values()))

    def ingest_folder(self, folder: Path, source: str, reader) -> None:
        """Each file: parse, commit, then move. reader(path) -> [(source_id, record)]."""
        if not folder.is_dir():
            return
        for path in sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")):
            alerts, quarantined = [], []
            try:
                for n, (source_id, record) in enumerate(reader(path)):
                    try:
                        alerts.append(day13_normalise(record, source, self.now(), source_id))
                    except day13_InvalidAlert as exc:
                        quarantined.append((source, f"{path.name}#{n + 1}", str(exc), json.dumps(record, default=str)))
                destination = folder / "processed"
            except day13_UnreadableFile as exc:
                quarantined.append((source, path.name, str(exc), ""))
                destination = folder / "quarantine"
            self.ingest_batch(alerts, quarantined)
            if self.after_commit:
                self.after_commit()
            destination.mkdir(exist_ok=True)
            shutil.move(str(path), destination / path.name)  # only after the commit above

    def ingest_api_inbox(self) -> None:
        rows = self.db.execute("SELECT id, body FROM day13_api_inbox WHERE done = 0 ORDER BY id").fetchall()
        if not rows:
            return
        alerts, quarantined = [], []
        for row in rows:
            try:
                alerts.append(day13_normalise(json.loads(row["body"]), "api", self.now()))
            except (ValueError, day13_InvalidAlert) as exc:  # validated at the door; kept safe anyway
                quarantined.append(("api", f"api#{row['id']}", str(exc), row["body"]))
        self.ingest_batch(alerts, quarantined)
        self.db.executemany("UPDATE day13_api_inbox SET done = 1 WHERE id = ?", [(row["id"],) for row in rows])

    # --- routing ----------------------------------------------------------------------------
    def route(self) -> None:
        if not self.touched:
            return
        now = self.now()
        since = (now - DAY13_ACTIVE_WINDOW).isoformat()
        active = [self.touched.get(r["fingerprint"]) or json.loads(r["labels"])  # this run's labels are already parsed
                  for r in self.db.execute("SELECT fingerprint, labels FROM day13_alerts WHERE last_seen >= ?", (since,))]
        index = day13_InhibitionIndex(self.routing.inhibitions, active)
        log = self._notification_log(list(self.touched))
        queued: list[tuple] = []
        self.db.execute("BEGIN IMMEDIATE")
        try:
            for fingerprint in sorted(self.touched):
                self._route_one(self.touched[fingerprint], index, now, log, queued)
            self.db.executemany(
                "INSERT INTO day13_notifications (fingerprint, receiver, status, group_key, pending_since) VALUES (?, ?, 'pending', ?, ?)"
                " ON CONFLICT (fingerprint, receiver) DO UPDATE SET status = 'pending', group_key = excluded.group_key,"
                " pending_since = excluded.pending_since", queued)
            self.audit.flush()
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            self.audit.discard()
            raise

    def _notification_log(self, fingerprints: list[str]) -> dict[tuple[str, str], tuple[str, str | None]]:
        """(fingerprint, receiver) -> (status, last_sent_at), read in chunks rather than per alert."""
        log = {}
        for start in range(0, len(fingerprints), 500):
            chunk = fingerprints[start:start + 500]
            for row in self.db.execute("SELECT fingerprint, receiver, status, last_sent_at FROM day13_notifications"
                                       f" WHERE fingerprint IN ({', '.join('?' * len(chunk))})", chunk):
                log[(row["fingerprint"], row["receiver"])] = (row["status"], row["last_sent_at"])
        return log

    def _route_one(self, labels: dict, index: day13_InhibitionIndex, now: datetime, log: dict, queued: list) -> None:
        fingerprint = labels["fingerprint"]
        silence = self.routing.silence_for(labels, now)
        if silence:
            self.summary.silenced += 1
            self.audit.record("silenced", now, fingerprint=fingerprint, rationale=silence.comment,
                              silenced_by=silence.created_by, until=silence.ends_at.isoformat())
            return
        muted = index.find(labels)
        if muted:
            rule, source = muted
            self.summary.inhibited += 1
            self.audit.record("inhibited", now, fingerprint=fingerprint,
                              rationale=f"{source['severity']} alert {source['fingerprint']} for the same "
                                        f"{', '.join(rule.equal)}", equal=list(rule.equal))
            return
        for route in self.routing.root.match(labels):
            self._queue(fingerprint, labels, route, now, log, queued)

    def _queue(self, fingerprint: str, labels: dict, route, now: datetime, log: dict, queued: list) -> None:
        group_key = json.dumps([route.name] + [labels.get(g, "") for g in route.group_by])
        status, last_sent_at = log.get((fingerprint, route.receiver), (None, None))
        if status == "sent" and datetime.fromisoformat(last_sent_at) + route.repeat_interval > now:
            return  # notified recently: a repeat inside the repeat interval stays quiet
        if status in ("pending", "failed"):
            return  # already waiting to go out
        queued.append((fingerprint, route.receiver, group_key, now.isoformat()))
        self.summary.routed += 1
        self.audit.record("routed", now, fingerprint=fingerprint, rationale=f"route {route.name}",
                          receiver=route.receiver, repeat=status is not None)

    # --- notifications ----------------------------------------------------------------------
    def _route_named(self, name: str):
        stack = [self.routing.root]
        while stack:
            route = stack.pop()
            if route.name == name:
                return route
            stack.extend(route.routes)
        return self.routing.root  # the route was removed from the config: use the root's timers

    def notify(self) -> None:
        now = self.now()
        groups: dict[tuple[str, str], list[sqlite3.Row]] = defaultdict(list)
        for row in self.db.execute("SELECT n.*, a.labels FROM day13_notifications n JOIN day13_alerts a USING (fingerprint)"
                                   " WHERE n.status IN ('pending', 'failed') ORDER BY n.pending_since"):
            groups[(row["receiver"], row["group_key"])].append(row)
        for (receiver, group_key), rows in groups.items():
            route = self._route_named(json.loads(group_key)[0])
            group = self.db.execute("SELECT last_sent_at FROM day13_groups WHERE receiver = ? AND group_key = ?",
                                    (receiver, group_key)).fetchone()
            first_pending = min(datetime.fromisoformat(r["pending_since"]) for r in rows)
            if group is None or group["last_sent_at"] is None:
                if now - first_pending < route.group_wait:
                    continue  # a new group waits group_wait for more alerts to join it
            elif now - datetime.fromisoformat(group["last_sent_at"]) < route.group_interval:
                continue  # this group was notified recently; the next message goes after group_interval
            self._send_group(receiver, group_key, rows, now)

    def _send_group(self, receiver: str, group_key: str, rows, now: datetime) -> None:
        shown = [json.loads(r["labels"]) for r in rows[:self.routing.max_alerts_per_message]]
        lines = [f"{l['severity']}: {l['alert_type']} entity {l['entity_id']} account {l['account_id']} "
                 f"({l['jurisdiction'] or '-'}) [{l['fingerprint'][:12]}]" for l in shown]
        if len(rows) > len(shown):
            lines.append(f"... and {len(rows) - len(shown)} more")
        values = json.loads(group_key)[1:]
        note = day13_Notification(receiver, f"{len(rows)} compliance alert(s): {' / '.join(v for v in values if v) or 'all'}",
                                  tuple(lines), tuple(r["fingerprint"] for r in rows))
        try:
            self.dispatcher.deliver(self.routing.receivers[receiver], note)
            status, error = "sent", None
        except (day13_TransientError, day13_PermanentError) as exc:
            status, error = "failed", f"{'transient' if isinstance(exc, day13_TransientError) else 'permanent'}: {exc}"
        self.db.execute("BEGIN IMMEDIATE")
        keys = [(row["fingerprint"], receiver) for row in rows]
        if status == "sent":
            self.db.executemany("UPDATE day13_notifications SET status = 'sent', last_sent_at = ?, sent_count = sent_count + 1,"
                                " attempts = attempts + 1, last_error = NULL WHERE fingerprint = ? AND receiver = ?",
                                [(now.isoformat(), *key) for key in keys])
        else:
            self.db.executemany("UPDATE day13_notifications SET status = 'failed', attempts = attempts + 1, last_error = ?"
                                " WHERE fingerprint = ? AND receiver = ?", [(error, *key) for key in keys])
        for fingerprint, _ in keys:
            self.audit.record("notified" if status == "sent" else "notify_failed", now, fingerprint=fingerprint,
                              rationale=note.title if status == "sent" else error, receiver=receiver)
        if status == "sent":
            self.db.execute("INSERT INTO day13_groups (receiver, group_key, last_sent_at) VALUES (?, ?, ?)"
                            " ON CONFLICT (receiver, group_key) DO UPDATE SET last_sent_at = excluded.last_sent_at",
                            (receiver, group_key, now.isoformat()))
            self.summary.notifications_sent += 1
        else:
            self.summary.notifications_failed += 1
            DAY13_LOG.warning("notification failed; retried next run", extra={"receiver": receiver, "error": error[:300],
                                                                               "alerts": len(rows)})
        self.audit.flush()
        self.db.execute("COMMIT")

    # --- SLA escalation ---------------------------------------------------------------------
    def escalate(self) -> None:
        """Alerts that breached their SLA in this run go to their route's escalation receiver, grouped."""
        now = self.now()
        breached = [self.touched[f] for f in self.breached]
        by_receiver: dict[str, list[dict]] = defaultdict(list)
        for labels in breached:
            route = self.routing.root.match(labels)[0]
            if route.escalation_receiver:
                by_receiver[route.escalation_receiver].append(labels)
        for receiver, items in by_receiver.items():
            shown = items[:self.routing.max_alerts_per_message]
            lines = [f"{l['severity']}: {l['alert_type']} entity {l['entity_id']} [{l['fingerprint'][:12]}]" for l in shown]
            if len(items) > len(shown):
                lines.append(f"... and {len(items) - len(shown)} more")
            note = day13_Notification(receiver, f"SLA breached: {len(items)} alert(s) triaged late", tuple(lines),
                                      tuple(l["fingerprint"] for l in items))
            try:
                self.dispatcher.deliver(self.routing.receivers[receiver], note)
                action, why = "escalated", note.title
            except (day13_TransientError, day13_PermanentError) as exc:
                action, why = "notify_failed", f"escalation failed: {exc}"
            self.db.execute("BEGIN IMMEDIATE")
            for labels in items:
                self.audit.record(action, now, fingerprint=labels["fingerprint"], rationale=why, receiver=receiver)
            self.audit.flush()
            self.db.execute("COMMIT")
            self.summary.escalated += len(items) if action == "escalated" else 0


def day13_run_triage(triage: day13_Triage, *, drop_dir: Path, inbox_dir: Path) -> day13_RunSummary:
    started = time.monotonic()
    triage.ingest_api_inbox()
    triage.ingest_folder(drop_dir, "file", lambda p: [(None, r) for r in day13_read_drop_file(p)])
    triage.ingest_folder(inbox_dir, "email", lambda p: [day13_read_eml(p)])
    triage.route()
    triage.notify()
    triage.escalate()
    triage.summary.duration_s = round(time.monotonic() - started, 3)
    DAY13_LOG.info("triage run finished", extra=triage.summary.fields())
    return triage.summary


def day13_sla_report(db: sqlite3.Connection) -> list[dict]:
    """Per severity: count, median and p95 minutes from creation to triage, breaches."""
    report = []
    for severity in reversed(DAY13_SEVERITIES):
        rows = db.execute("SELECT created_at, triaged_at, sla_breached, sla_minutes FROM day13_alerts WHERE severity = ?",
                          (severity,)).fetchall()
        minutes = sorted((datetime.fromisoformat(r["triaged_at"]) - datetime.fromisoformat(r["created_at"])).total_seconds() / 60
                         for r in rows)
        report.append({"severity": severity, "count": len(rows), "sla_minutes": rows[0]["sla_minutes"] if rows else None,
                       "median_minutes": round(statistics.median(minutes), 1) if minutes else None,
                       "p95_minutes": round(minutes[min(len(minutes) - 1, int(0.95 * len(minutes)))], 1) if minutes else None,
                       "breaches": sum(r["sla_breached"] for r in rows)})
    return report
