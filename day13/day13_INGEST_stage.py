"""Ingest stage: the API inbox, drop files and e-mails into stored alerts, or quarantine rows.

A file's alerts, their audit rows and its quarantine rows are committed in one transaction; only then
is the file moved to processed/ or quarantine/. A crash in between re-reads the file next run, and
day13_received (source, source id, content hash) recognises every alert in it. Files are taken only
when complete: names ending .tmp/.part and dot-files are a writer's work in progress (write, then
rename into place), and any other file must have been unchanged for DAY13_FILE_SETTLE_SECONDS.
"""
from __future__ import annotations

import hashlib
import logging
import shutil
import time
from collections import deque
from datetime import timedelta
from pathlib import Path

from day13_INGEST_parser import (day13_classification, day13_oversize, day13_parser_for, day13_quarantine_row,
                                 day13_Ready)
from day13_INGEST_sources import DAY13_MAX_FILE_BYTES, day13_Alert, day13_load_json, day13_normalise
from day13_STORE_audit import day13_safe_text

DAY13_LOG = logging.getLogger("day13.ingest")
DAY13_IN_PROGRESS = (".tmp", ".part")  # the hand-off convention: writers rename into place when done


def day13_ingest(ctx, drop_dir: Path, inbox_dir: Path) -> None:
    day13_ingest_api_inbox(ctx)
    day13_ingest_folder(ctx, drop_dir, "file")
    day13_ingest_folder(ctx, inbox_dir, "email")


def day13_ingest_api_inbox(ctx) -> None:
    rows = ctx.store.api_inbox_waiting()
    if not rows:
        return
    alerts, quarantined = [], []
    for row in rows:
        try:
            alerts.append(day13_normalise(day13_load_json(row["body"]), "api", ctx.now()))
        except ValueError as exc:  # validated at the door; kept safe anyway
            quarantined.append(("api", f"api#{row['id']}", str(exc), row["body"]))
    day13_ingest_batch(ctx, alerts, quarantined, also=lambda: ctx.store.api_inbox_done([r["id"] for r in rows]))


def _complete_files(ctx, folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    names = sorted(p for p in folder.iterdir() if p.is_file())
    return [p for p in names if not p.name.startswith(".") and not p.name.endswith(DAY13_IN_PROGRESS)]


def _read_when_settled(ctx, path: Path) -> tuple[bytes, tuple] | None:
    """(the file's bytes, its identity) if nobody wrote to it for the settle interval and it did not change while read."""
    try:
        before = path.stat()
        if time.time() - before.st_mtime < ctx.file_settle_seconds:
            ctx.summary.files_waiting += 1
            DAY13_LOG.info("file still being written; taken on a later run", extra={"file": day13_safe_text(path.name)})
            return None
        if before.st_size > DAY13_MAX_FILE_BYTES:
            return b"", _identity(before)  # not read: the reader's size check quarantines it by its stat
        data = path.read_bytes()
        after = path.stat()
    except FileNotFoundError:
        DAY13_LOG.warning("file vanished before it was read; nothing taken from it", extra={"file": day13_safe_text(path.name)})
        return None
    except OSError as exc:  # e.g. no read permission: nothing taken, nothing moved, said loudly every run
        DAY13_LOG.error("file cannot be read; left in place", extra={"file": day13_safe_text(path.name),
                                                                     "error": type(exc).__name__})
        return None
    if (after.st_size, after.st_mtime_ns) != (before.st_size, before.st_mtime_ns) or len(data) != before.st_size:
        ctx.summary.files_waiting += 1
        return None
    return data, _identity(after)


def _identity(stat) -> tuple:
    """Which file, with which content, a name holds: a file renamed over it or written to changes this."""
    return stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns


def day13_ingest_folder(ctx, folder: Path, source: str) -> None:
    """Each complete file: parse, commit, then move. With enough waiting, a parser process reads the next files
    while this one commits (day13_INGEST_parser); commits and moves stay in name order, one file at a time."""
    paths = _complete_files(ctx, folder)
    with day13_parser_for(paths) as parser:
        ahead: deque = deque()
        waiting = 0  # bytes read and not yet committed
        for path in paths:
            read = _read_when_settled(ctx, path)
            if read is None:
                continue
            data, seen = read
            digest = hashlib.sha256(data).hexdigest() if data else None  # b"": an oversize file, not read
            committed = digest and ctx.store.file_committed(source, path.name, digest)
            if committed:  # killed between commit and move: only the move is left (re-reading would quarantine twice)
                ctx.summary.already_seen += committed["alerts"]
                DAY13_LOG.info("file committed by an earlier run; moved now", extra={"file": day13_safe_text(path.name)})
                _move(path, folder / committed["moved_to"])
                continue
            if not data and seen[2] > DAY13_MAX_FILE_BYTES:  # its size, from the stat the read already took
                parsed = day13_Ready(day13_oversize(source, path.name, seen[2]))
            else:
                parsed = parser.submit(source, path.name, data, ctx.now(), ctx.rules, digest)  # one instant per file
            ahead.append((path, digest, parsed, seen, len(data)))
            waiting += len(data)
            while len(ahead) > parser.ahead or (len(ahead) > 1 and waiting > parser.ahead_bytes):
                waiting -= _commit_file(ctx, folder, source, *ahead.popleft())
        while ahead:
            _commit_file(ctx, folder, source, *ahead.popleft())


def _commit_file(ctx, folder: Path, source: str, path: Path, digest: str | None, parsed, seen: tuple, size: int) -> int:
    """Commit what was read from the file, then move it if it is still what was read; returns its size."""
    alerts, first_seen, quarantined, destination, warning = parsed.result()
    if warning:
        DAY13_LOG.warning("file parser failed; file quarantined", extra={"file": day13_safe_text(path.name),
                                                                         "error": warning})
    done = (lambda: ctx.store.file_done(source, path.name, digest, destination, len(alerts), ctx.now())) if digest else None
    day13_ingest_batch(ctx, alerts, quarantined, also=done, first_seen=first_seen)
    ctx.checkpoint("after_ingest_commit")
    try:
        unchanged = _identity(path.stat()) == seen
    except OSError:
        unchanged = True  # gone: _move says so
    if unchanged:
        _move(path, folder / destination)
    else:  # written to or replaced since it was read (seconds ago, in the window): moving it would file a version never read
        ctx.summary.files_waiting += 1
        DAY13_LOG.info("file changed after it was read; what was read is stored, the new content is taken on a later run",
                       extra={"file": day13_safe_text(path.name)})
    return size


def _free_name(destination: Path, name: str) -> Path:
    """processed/NAME, or STEM.2.SUFFIX, STEM.3.SUFFIX ... when an earlier file of that name is there: upstream systems re-use
    names (alerts.csv every hour), and a rename onto an existing file would silently replace the earlier input."""
    target, n = destination / name, 1
    while target.exists() or target.is_symlink():
        n += 1
        target = destination / f"{Path(name).stem}.{n}{Path(name).suffix}"
    return target


def _move(path: Path, destination: Path) -> None:
    try:
        destination.mkdir(exist_ok=True)
        shutil.move(str(path), _free_name(destination, path.name))  # only after the commit
    except FileNotFoundError:  # renamed or removed by someone else after the commit: its alerts are stored
        DAY13_LOG.warning("file vanished after its commit; its alerts are stored", extra={"file": day13_safe_text(path.name)})
    except OSError as exc:  # e.g. no permission on processed/: stored already; the next run sees it as already seen
        DAY13_LOG.error("file stored but could not be moved; it stays in place", extra={
            "file": day13_safe_text(path.name), "error": type(exc).__name__})


def day13_ingest_batch(ctx, alerts: list[day13_Alert], quarantined: list[tuple], also=None,
                       first_seen: list[tuple] | None = None) -> None:
    """Store alerts and quarantine rows with their audit rows, in one transaction (plus `also`, e.g. the inbox mark).
    first_seen: each alert's (severity, rationale, labels JSON) as a first occurrence, worked out by the parser."""
    now = ctx.now()
    now_iso = now.isoformat()  # one instant per batch, formatted once
    store, audit, summary = ctx.store, ctx.audit, ctx.summary
    with store.transaction(audit):
        known = store.known_alerts(sorted({a.fingerprint for a in alerts}))
        before = _received_before(store, alerts)
        writes = {"received": [], "new": [], "states": [], "updates": {}}
        for n, alert in enumerate(alerts):
            key = (alert.source, alert.source_id)
            previous = before.get(key)
            if previous is not None:
                if previous in ("", alert.content_hash):
                    summary.already_seen += 1  # the same item again (a re-run after a crash): nothing to do
                    continue
                quarantined.append(day13_quarantine_row(alert.source, f"{alert.source}:{alert.source_id}",
                                                   f"conflicting re-send: {alert.source} id {alert.source_id!r} was received"
                                                   " before with different content", alert.raw))
                summary.conflicts += 1
                continue
            before[key] = alert.content_hash
            _store(ctx, alert, now, now_iso, known, writes, first_seen[n] if first_seen else None)
        rows = [(*row, now_iso) for row in quarantined]
        for source, item, reason, _raw, _at in rows:
            audit.record("quarantined", now, alert_id=item, rationale=reason, source=source)
        summary.quarantined += len(rows)
        store.add_quarantine(rows)
        store.write_ingest(writes["received"], writes["new"], writes["states"], list(writes["updates"].values()))
        if also:
            also()


def _received_before(store, alerts: list[day13_Alert]) -> dict[tuple[str, str], str]:
    by_source: dict[str, list[str]] = {}
    for alert in alerts:
        by_source.setdefault(alert.source, []).append(alert.source_id)
    return {(source, sid): digest for source, ids in by_source.items()
            for sid, digest in store.received_hashes(source, ids).items()}


def _store(ctx, alert: day13_Alert, now, now_iso: str, known: dict, writes: dict, first: tuple | None) -> None:
    summary, audit, rules = ctx.summary, ctx.audit, ctx.rules
    fingerprint, created_iso = alert.fingerprint, alert.created_at.isoformat()
    summary.received += 1
    writes["received"].append((alert.source, alert.source_id, fingerprint, alert.alert_id, created_iso, now_iso,
                               alert.content_hash))
    row = known.get(fingerprint)  # (count, severity) or None
    count = (row[0] if row else 0) + 1
    # a new alert was classified by the parser (the same function, the same rules); a repeat here, knowing its count
    severity, rationale, labels = first if count == 1 and first is not None else day13_classification(alert, count, rules)
    known[fingerprint] = (count, severity)
    if row is None:
        sla = rules.sla_minutes[severity]
        deadline = alert.created_at + timedelta(minutes=sla)
        breached = now > deadline
        writes["new"].append((fingerprint, alert.alert_type, alert.entity_id, severity, rationale, labels,
                              created_iso, now_iso, now_iso, now_iso, sla, rules.version, deadline.isoformat()))
        writes["states"].append((fingerprint, int(breached)))
        # one row for one event: a new alert is stored with its classification (a 'classified' row of its own
        # is written when a repeat changes the severity)
        audit.record("ingested", now, fingerprint=fingerprint, alert_id=alert.alert_id, rationale=rationale,
                     source=alert.source, source_id=alert.source_id, occurrence=count, severity=severity,
                     triage_minutes=round((now - alert.created_at).total_seconds() / 60, 1))
        summary.new_alerts += 1
        summary.severities[severity] += 1
        if breached:
            summary.sla_breaches += 1
            audit.record("sla_breached", now, fingerprint=fingerprint, alert_id=alert.alert_id,
                         rationale=f"{severity} SLA is {sla} min; triaged after "
                                   f"{(now - alert.created_at).total_seconds() / 60:.0f} min")
    else:
        audit.record("ingested", now, fingerprint=fingerprint, alert_id=alert.alert_id, source=alert.source,
                     source_id=alert.source_id, occurrence=count)
        summary.duplicates += 1
        writes["updates"][fingerprint] = (count, now_iso, severity, rationale, labels, fingerprint)  # last one wins
        if severity != row[1]:
            audit.record("classified", now, fingerprint=fingerprint, alert_id=alert.alert_id,
                         rationale=rationale, severity=severity, previous=row[1])
