"""Security logs: auth and firewall events plus vulnerability-scan findings, clean unless asked.

Defects are switched on by name, each planted on its own rows (never overlapping), and the ids
touched are reported in ``Dataset.injected`` so a data-quality suite can be checked against them.
"""
from __future__ import annotations

import random
import uuid
from datetime import datetime, time, timedelta, timezone

from shared_synthetic_data._common import (
    DEFAULT_END_DATE, DEFAULT_SEED, Dataset, check_size, csv_bytes, iso_utc, parse_defects,
)

DEFECTS = (
    "pii", "invalid_ips", "duplicates", "future_timestamps", "late_arrival", "clock_skew",
    "silent_source", "out_of_range", "bad_categories", "bad_formats",
)
DEFAULT_SIZE = 2_000  # events; scan findings are a tenth of that
EVENT_COLUMNS = ("event_id", "event_time", "ingested_at", "source", "src_ip", "dst_port", "action",
                 "severity", "user", "message", "mitre_technique")
VULN_COLUMNS = ("finding_id", "host", "cve_id", "cvss", "detected_at")
AUTH_SOURCES = ("okta", "active_directory")
FIREWALL_SOURCES = ("palo_alto_fw", "fortigate_fw")
SOURCES = AUTH_SOURCES + FIREWALL_SOURCES
SILENT_SOURCE = "fortigate_fw"
AUTH_ACTIONS = ("login_success", "login_failure", "mfa_challenge", "logout")
FIREWALL_ACTIONS = ("allow", "deny", "drop")
ACTIONS = AUTH_ACTIONS + FIREWALL_ACTIONS
SEVERITIES = ("info", "low", "medium", "high", "critical")
DEFECT_SHARE = 0.02  # 2% of rows per defect: above a 1% tolerance, small enough to look real
_MITRE_BY_ACTION = {
    "login_failure": ("T1110", "T1110.001", "T1110.003"),
    "mfa_challenge": ("T1621",),
    "deny": ("T1046", "T1595.001"),
    "drop": ("T1071.001", "T1046"),
}
_SEVERITY_BY_ACTION = {
    "login_success": "info", "logout": "info", "allow": "info",
    "login_failure": "medium", "mfa_challenge": "low", "deny": "low", "drop": "high",
}
_INVALID_IPS = ("999.10.1.5", "10.0.0", "256.256.256.256", "2001:db8::zz", "not-an-ip", "1.2.3.4.5")
_PUBLIC_V4_PREFIXES = ("192.0.2", "198.51.100", "203.0.113")  # documentation ranges: never real hosts


def _ip(rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.12:
        return f"2001:db8:{rng.randrange(1, 0xFFFF):x}::{rng.randrange(1, 0xFFFF):x}"
    if roll < 0.55:
        return f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
    return f"{rng.choice(_PUBLIC_V4_PREFIXES)}.{rng.randrange(1, 255)}"


def _event(rng: random.Random, source: str, when: datetime) -> dict:
    ip = _ip(rng)
    user = f"user{rng.randrange(1, 400):04d}"
    if source in AUTH_SOURCES:
        action = rng.choices(AUTH_ACTIONS, weights=(70, 18, 8, 4))[0]
        port = rng.choice((443, 22, 3389, 636))
        message = f"{action.replace('_', ' ')} for {user} from {ip} port {port} via {source}"
    else:
        action = rng.choices(FIREWALL_ACTIONS, weights=(80, 15, 5))[0]
        port = rng.choice((80, 443, 53, 22, 3389, 8080, 445, rng.randrange(1024, 65536)))
        message = f"{action.upper()} tcp {ip} -> 10.20.{rng.randrange(256)}.{rng.randrange(1, 255)}:{port} rule=r{rng.randrange(1, 90)}"
    mitre = rng.choice(_MITRE_BY_ACTION[action]) if action in _MITRE_BY_ACTION else ""
    return {
        "event_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        "event_time": when,
        "ingested_at": when + timedelta(seconds=rng.uniform(1, 90)),
        "source": source,
        "src_ip": ip,
        "dst_port": port,
        "action": action,
        "severity": _SEVERITY_BY_ACTION[action],
        "user": user,
        "message": message,
        "mitre_technique": mitre,
    }


def _luhn_card(rng: random.Random) -> str:
    digits = [4] + [rng.randrange(10) for _ in range(14)]
    total = 0
    for i, d in enumerate(reversed(digits)):
        d = d * 2 if i % 2 == 0 else d
        total += d - 9 if d > 9 else d
    digits.append((10 - total % 10) % 10)
    text = "".join(map(str, digits))
    return " ".join(text[i:i + 4] for i in range(0, 16, 4))


def _pii(rng: random.Random, index: int) -> str:
    kind = index % 3
    if kind == 0:
        return f"ssn {rng.randint(100, 665):03d}-{rng.randint(10, 99)}-{rng.randint(1000, 9999)}"
    if kind == 1:
        return f"card {_luhn_card(rng)}"
    return f"contact jane.doe{rng.randrange(100)}@example.com"


def _plant(events: list[dict], defects, rng: random.Random, end: datetime) -> dict[str, list[str]]:
    """Apply each defect to its own slice of rows; return the ids each one touched."""
    per_defect = max(1, round(len(events) * DEFECT_SHARE))
    pool = list(range(len(events)))
    rng.shuffle(pool)
    injected: dict[str, list[str]] = {}
    for name in (d for d in defects if d not in ("duplicates", "silent_source")):
        targets, pool = pool[:per_defect], pool[per_defect:]
        for n, i in enumerate(targets):
            row = events[i]
            if name == "pii":
                row["message"] += f" note={_pii(rng, n)}"
            elif name == "invalid_ips":
                row["src_ip"] = _INVALID_IPS[n % len(_INVALID_IPS)]
            elif name == "future_timestamps":
                row["event_time"] = end + timedelta(days=rng.uniform(2, 30))
            elif name == "late_arrival":
                row["ingested_at"] = row["event_time"] + timedelta(hours=rng.uniform(2, 12))
            elif name == "clock_skew":
                row["ingested_at"] = row["event_time"] - timedelta(seconds=rng.uniform(5, 600))
            elif name == "out_of_range":
                row["dst_port"] = (70000, -1, 65536, 99999)[n % 4]
            elif name == "bad_categories":
                row["severity" if n % 2 == 0 else "action"] = ("urgent", "permit")[n % 2]
            elif name == "bad_formats":
                row["mitre_technique"] = ("T12", "t1110", "T1110.1", "TA0001")[n % 4]
        injected[name] = sorted(events[i]["event_id"] for i in targets)
    if "duplicates" in defects:
        targets = sorted(pool[:per_defect])
        copies = {i: dict(events[i]) for i in targets}
        for i in reversed(targets):  # a re-sent event lands right after its original
            events.insert(i + 1, copies[i])
        injected["duplicates"] = sorted(copies[i]["event_id"] for i in targets)
    return injected


def _findings(rng: random.Random, count: int, end: datetime, defects) -> tuple[list[dict], dict]:
    rows = [{
        "finding_id": f"vf-{i:06d}",
        "host": f"srv-{rng.randrange(1, 250):03d}.corp.example",
        "cve_id": f"CVE-{rng.randint(2014, 2026)}-{rng.randint(1000, 59999):04d}",
        "cvss": round(rng.uniform(0, 10), 1),
        "detected_at": end - timedelta(hours=rng.uniform(0, 24)),
    } for i in range(count)]
    injected = {}
    per_defect = max(1, round(count * DEFECT_SHARE))
    targets = rng.sample(range(count), 2 * per_defect)
    if "out_of_range" in defects:
        for n, i in enumerate(targets[:per_defect]):
            rows[i]["cvss"] = (10.5, -1.0, 42.0)[n % 3]
        injected["out_of_range_cvss"] = sorted(rows[i]["finding_id"] for i in targets[:per_defect])
    if "bad_formats" in defects:
        for n, i in enumerate(targets[per_defect:]):
            rows[i]["cve_id"] = ("CVE-24-1234", "CVE-2024-12", "cve-2024-1234")[n % 3]
        injected["bad_formats_cve"] = sorted(rows[i]["finding_id"] for i in targets[per_defect:])
    return rows, injected


def build(seed=DEFAULT_SEED, size=DEFAULT_SIZE, defects=(), end_date=DEFAULT_END_DATE):
    """Events, findings (as dicts with datetime values) and the injected-id map."""
    defects = parse_defects(defects, DEFECTS)
    rng = random.Random(f"security-{seed}")
    end = datetime.combine(end_date, time(23, 59, 59), tzinfo=timezone.utc)
    offsets = sorted(rng.uniform(0, 86_400) for _ in range(check_size(size)))
    events = [_event(rng, SOURCES[i % len(SOURCES)], end - timedelta(seconds=86_400 - off))
              for i, off in enumerate(offsets)]
    injected = {}
    if "silent_source" in defects:
        events = [e for e in events if e["source"] != SILENT_SOURCE]
        injected["silent_source"] = [SILENT_SOURCE]
    injected.update(_plant(events, defects, random.Random(f"security-defects-{seed}"), end))
    findings, finding_defects = _findings(random.Random(f"security-vulns-{seed}"), max(10, size // 10), end, defects)
    injected.update(finding_defects)
    return events, findings, injected


def _stamp(value):
    return iso_utc(value) if isinstance(value, datetime) else value


def generate(seed=DEFAULT_SEED, size=DEFAULT_SIZE, defects=(), end_date=DEFAULT_END_DATE) -> Dataset:
    defects = parse_defects(defects, DEFECTS)
    events, findings, injected = build(seed, size, defects, end_date)
    return Dataset(
        domain="security", seed=seed, size=size, defects=defects,
        files={
            "security/security_events.csv": csv_bytes(
                EVENT_COLUMNS, ([_stamp(e[c]) for c in EVENT_COLUMNS] for e in events)),
            "security/vulnerability_scan.csv": csv_bytes(
                VULN_COLUMNS, ([_stamp(f[c]) for c in VULN_COLUMNS] for f in findings)),
        },
        injected=injected,
    )
