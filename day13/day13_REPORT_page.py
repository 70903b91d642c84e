"""A one-page HTML view of a triage database for a client: states, SLA, routing, quarantine, one alert's audit trail.

Rendered from the database alone (the evidence script screenshots it from the demo's database); every
value is HTML-escaped, since alert fields come from outside.
"""
from __future__ import annotations

from datetime import datetime
from html import escape

import orjson

from day13_ESCALATE_sla import day13_sla_report

DAY13_STATE_ORDER = ("stored", "routed", "notified", "escalated", "closed")
DAY13_QUARANTINE_SHOWN = 6  # the most frequent reasons; the table has them all
DAY13_STYLE = """
body{font-family:'DejaVu Sans',Arial,sans-serif;margin:24px 32px;color:#1d2733;background:#f6f8fa;font-size:14px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:16px;margin:0 0 8px;color:#243b55}
.sub{color:#5b6b7c;margin-bottom:16px}.grid{display:grid;grid-template-columns:1fr 1fr;gap:16px}
.card{background:#fff;border:1px solid #d9e0e7;border-radius:8px;padding:14px 16px}
.wide{grid-column:1 / span 2}table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:4px 8px;border-bottom:1px solid #edf1f5;vertical-align:top}
th{color:#5b6b7c;font-weight:600;font-size:12px;text-transform:uppercase}td.n{text-align:right;font-variant-numeric:tabular-nums}
.pill{display:inline-block;padding:6px 12px;border-radius:16px;margin:0 6px 6px 0;background:#eef3f8;font-weight:600}
.ok{color:#1a7f37}.bad{color:#c62828}.mono{font-family:'DejaVu Sans Mono',monospace;font-size:12px;color:#5b6b7c}
"""


def _cell(value, numeric: bool = False) -> str:
    text = "–" if value is None else (f"{value:,}" if isinstance(value, int) else str(value))
    return f'<td class="n">{escape(text)}</td>' if numeric else f"<td>{escape(text)}</td>"


def _table(headers: list[str], rows: list[list], numeric: set[int] = frozenset()) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(_cell(v, n in numeric) for n, v in enumerate(row)) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _states(store) -> str:
    counts = store.state_counts()
    pills = "".join(f'<span class="pill">{escape(s)} {counts.get(s, 0):,}</span>' for s in DAY13_STATE_ORDER)
    return f'<div class="card"><h2>Alert states after the run</h2>{pills}<p class="mono">nothing left in ' \
           f'"stored" = every alert was routed; "closed" = silenced or inhibited (stored and audited, not sent)</p></div>'


def _sla(store) -> str:
    rows = [[r["severity"], r["count"], r["sla_minutes"], r["median_minutes"], r["p95_minutes"], r["breaches"]]
            for r in day13_sla_report(store)]
    return ('<div class="card"><h2>SLA: creation to triage (minutes)</h2>'
            + _table(["severity", "alerts", "SLA", "median", "p95", "breaches"], rows, {1, 2, 3, 4, 5})
            + '<p class="mono">yesterday\'s alerts triaged this morning: the overnight backlog breaches, and is escalated</p></div>')


def _routing(store) -> str:
    rows = [[r["receiver"], "escalation" if r["kind"] == "escalate" else "notification", r["messages"], r["alerts"],
             r["sent"], r["pending"], r["failed"]] for r in store.outbox_by_receiver()]
    return ('<div class="card wide"><h2>Routing: what each receiver got (from the outbox)</h2>'
            + _table(["receiver", "kind", "messages", "alerts", "sent", "pending", "failed"], rows, {2, 3, 4, 5, 6})
            + "</div>")


def _quarantine(store) -> str:
    rows = [[r["source"], r["reason"][:110], r["items"]] for r in store.quarantine_reasons(DAY13_QUARANTINE_SHOWN)]
    return ('<div class="card wide"><h2>Quarantined input (never lost: kept with its reason)</h2>'
            + _table(["source", "reason", "items"], rows, {2}) + "</div>")


def _history(store) -> str:
    alert = store.example_alert()
    if alert is None:
        return ""
    rows = []
    for r in store.audit_rows_for(alert["fingerprint"]):
        details = orjson.loads(r["details"]) if r["details"] else {}
        extra = ", ".join(f"{k}={v}" for k, v in sorted(details.items()) if k in ("receiver", "outbox_id", "severity"))
        rows.append([r["seq"], r["at"][:19].replace("T", " "), r["action"], (r["rationale"] or "")[:90], extra,
                     f"{r['prev_hash'][:10]}… → {r['hash'][:10]}…"])
    title = (f"One alert's audit trail: {alert['severity']} {alert['alert_type']} for {alert['entity_id']} "
             f"(now {alert['state']})")
    return (f'<div class="card wide"><h2>{escape(title)}</h2><p class="mono">{escape(alert["rationale"])}</p>'
            + _table(["seq", "at (UTC)", "action", "rationale", "detail", "hash chain"], rows, {0}) + "</div>")


def day13_report_html(store, summary: str, generated_at: datetime) -> str:
    """The page: the run's one-line outcome, then the tables, all from `store`."""
    checked, broken, why = store.verify_audit()
    chain = (f'<span class="ok">audit chain intact: {checked:,} rows verified</span>' if broken is None
             else f'<span class="bad">audit chain BROKEN at row {broken}: {escape(why)}</span>')
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>day13 triage report</title>"
            f"<style>{DAY13_STYLE}</style></head><body>"
            f"<h1>Compliance alert triage: the demo run</h1>"
            f"<div class='sub'>{escape(generated_at.strftime('%Y-%m-%d %H:%M UTC'))} · {chain}</div>"
            f"<div class='card wide' style='margin-bottom:16px'>{escape(summary)}</div>"
            f"<div class='grid'>{_states(store)}{_sla(store)}{_routing(store)}{_history(store)}{_quarantine(store)}</div>"
            f"</body></html>")
