"""Financial-compliance alerts as they arrive: JSON API payloads, drop files (JSON, CSV), .eml messages.

Alert kinds: AML (structuring, large cash, rapid movement), sanctions/PEP screening hits, trade
surveillance (spoofing, wash trades), KYC expiry and card fraud. ``duplicates`` re-sends alerts with
a new id and a later timestamp (what upstream systems do); ``malformed`` adds the broken inputs an
ingester must quarantine: truncated JSON, wrong types, missing fields, bad dates, bad encodings,
huge fields, e-mails without their headers.
"""
from __future__ import annotations

import random
from datetime import datetime, time, timedelta, timezone
from email.message import EmailMessage
from email.utils import format_datetime

from shared_synthetic_data._common import (
    DEFAULT_END_DATE, DEFAULT_SEED, Dataset, check_size, csv_bytes, iso_utc, json_bytes, jsonl_bytes,
    parse_defects,
)

DEFECTS = ("duplicates", "malformed")
DEFAULT_SIZE = 400
ALERT_FIELDS = ("alert_id", "source_system", "alert_type", "entity_id", "account_id", "customer_id",
                "amount", "currency", "jurisdiction", "match_score", "created_at", "description")
# alert_type -> (source system, amount range, has a screening match score)
ALERT_TYPES = {
    "aml_structuring": ("actimize", (8_000, 9_990), False),
    "aml_large_cash": ("actimize", (10_000, 250_000), False),
    "aml_rapid_movement": ("actimize", (5_000, 500_000), False),
    "sanctions_hit": ("world_check", (500, 2_000_000), True),
    "pep_hit": ("world_check", (1_000, 750_000), True),
    "trade_spoofing": ("smarts", (50_000, 5_000_000), False),
    "trade_wash": ("smarts", (20_000, 2_000_000), False),
    "kyc_expiry": ("kyc_platform", (0, 0), False),
    "fraud_card": ("fraud_engine", (20, 15_000), False),
}
CURRENCIES = ("USD", "EUR", "GBP", "AUD", "SGD")
JURISDICTIONS = ("US", "GB", "DE", "AU", "SG", "AE", "PA", "KY", "IR", "KP", "RU", "VG")
CHANNELS = ("api", "drop_json", "drop_csv", "email")
DROP_FILE_ROWS = 100  # alerts per drop file, like an hourly export
DUPLICATE_SHARE = 0.05
HUGE_FIELD_CHARS = 300_000  # well past any sane description limit


def _alert(rng: random.Random, index: int, end: datetime) -> dict:
    alert_type = rng.choice(sorted(ALERT_TYPES))
    system, (low, high), scored = ALERT_TYPES[alert_type]
    customer = rng.randrange(1, 5_000)
    return {
        "alert_id": f"{system[:3].upper()}-{end:%Y%m%d}-{index:06d}",
        "source_system": system,
        "alert_type": alert_type,
        "entity_id": f"ENT-{customer // 3:05d}",
        "account_id": f"ACC-{customer:06d}-{rng.randrange(1, 4)}",
        "customer_id": f"CUS-{customer:06d}",
        "amount": f"{rng.uniform(low, high):.2f}",
        "currency": rng.choice(CURRENCIES),
        "jurisdiction": rng.choice(JURISDICTIONS),
        "match_score": rng.randint(55, 100) if scored else None,
        "created_at": iso_utc(end - timedelta(seconds=rng.uniform(0, 86_400))),
        "description": f"{alert_type.replace('_', ' ')} detected by {system} rule {rng.randrange(100, 999)}",
    }


def _duplicate(rng: random.Random, original: dict, index: int) -> dict:
    copy = dict(original)
    copy["alert_id"] = f"{original['alert_id']}-R{index}"
    sent = datetime.strptime(original["created_at"], "%Y-%m-%dT%H:%M:%SZ") + timedelta(minutes=rng.randint(1, 90))
    copy["created_at"] = iso_utc(sent)
    return copy


def eml_bytes(alert: dict, *, drop_headers: tuple[str, ...] = ()) -> bytes:
    """One alert as the RFC 5322 notification e-mail a screening system sends."""
    created = datetime.strptime(alert["created_at"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    headers = {
        "From": f"alerts@{alert['source_system']}.example",
        "To": "compliance-alerts@bank.example",
        "Subject": f"[{alert['alert_type']}] alert {alert['alert_id']}",
        "Date": format_datetime(created),
        "Message-ID": f"<{alert['alert_id']}@{alert['source_system']}.example>",
    }
    msg = EmailMessage()
    for name, value in headers.items():
        if name not in drop_headers:
            msg[name] = value
    msg.set_content("".join(f"{k}: {'' if alert[k] is None else alert[k]}\n" for k in ALERT_FIELDS))
    return msg.as_bytes()


def _malformed(rng: random.Random, sample: dict, end: datetime) -> tuple[list[dict | str], dict[str, bytes], list[str]]:
    """Broken API bodies (raw strings or dicts) and broken files, with a label for each."""
    wrong_type = {**sample, "alert_id": "BAD-TYPE-1", "amount": "a lot", "match_score": "high"}
    missing = {k: v for k, v in sample.items() if k != "alert_type"} | {"alert_id": "BAD-MISSING-1"}
    bad_date = {**sample, "alert_id": "BAD-DATE-1", "created_at": "2026-13-45T25:61:00Z"}
    huge = {**sample, "alert_id": "BAD-HUGE-1", "description": "x" * HUGE_FIELD_CHARS}
    truncated = jsonl_bytes([{**sample, "alert_id": "BAD-TRUNC-1"}]).decode()[:60]
    api = [truncated, wrong_type, missing, bad_date, huge]
    latin1_row = {**sample, "alert_id": "BAD-ENC-1", "description": "Überweisung an Zürich Bank"}
    files = {
        "compliance/drop/malformed_truncated.json": json_bytes([{**sample, "alert_id": "BAD-TRUNC-2"}])[:80],
        "compliance/drop/malformed_latin1.csv": csv_bytes(ALERT_FIELDS, [[latin1_row[k] for k in ALERT_FIELDS]])
        .decode().encode("latin-1"),
        "compliance/drop/malformed_missing_column.csv": csv_bytes(
            ALERT_FIELDS[:-3], [[sample[k] for k in ALERT_FIELDS[:-3]]]),
        "compliance/inbox/malformed_no_message_id.eml": eml_bytes(
            {**sample, "alert_id": "BAD-EML-1"}, drop_headers=("Message-ID",)),
        "compliance/inbox/malformed_no_date.eml": eml_bytes(
            {**sample, "alert_id": "BAD-EML-2"}, drop_headers=("Date", "From")),
    }
    labels = ["api:truncated_json", "api:wrong_types", "api:missing_field", "api:bad_date", "api:huge_field"]
    return api, files, labels + sorted(files)


def build(seed=DEFAULT_SEED, size=DEFAULT_SIZE, defects=(), end_date=DEFAULT_END_DATE):
    """(alerts by channel, extra malformed API bodies, extra files, injected-id map)."""
    defects = parse_defects(defects, DEFECTS)
    rng = random.Random(f"compliance-{seed}")
    end = datetime.combine(end_date, time(23, 59, 59), tzinfo=timezone.utc)
    alerts = [_alert(rng, i, end) for i in range(check_size(size))]
    injected: dict[str, list[str]] = {}
    if "duplicates" in defects:
        originals = rng.sample(alerts, max(1, round(size * DUPLICATE_SHARE)))
        alerts += [_duplicate(rng, a, i) for i, a in enumerate(originals)]
        injected["duplicates"] = sorted(a["alert_id"] for a in originals)
    by_channel = {channel: alerts[i::len(CHANNELS)] for i, channel in enumerate(CHANNELS)}
    bad_api, bad_files = [], {}
    if "malformed" in defects:
        bad_api, bad_files, injected["malformed"] = _malformed(rng, alerts[0], end)
    return by_channel, bad_api, bad_files, injected


def generate(seed=DEFAULT_SEED, size=DEFAULT_SIZE, defects=(), end_date=DEFAULT_END_DATE) -> Dataset:
    defects = parse_defects(defects, DEFECTS)
    by_channel, bad_api, bad_files, injected = build(seed, size, defects, end_date)
    # Broken API bodies stay one per line, as raw text where the sender's JSON itself is broken.
    bad_lines = "".join((b if isinstance(b, str) else jsonl_bytes([b]).decode().rstrip("\n")) + "\n" for b in bad_api)
    files = {"compliance/api_payloads.jsonl": jsonl_bytes(by_channel["api"]) + bad_lines.encode()}
    for part, start in enumerate(range(0, len(by_channel["drop_json"]), DROP_FILE_ROWS)):
        files[f"compliance/drop/alerts_{part + 1:03d}.json"] = json_bytes(by_channel["drop_json"][start:start + DROP_FILE_ROWS])
    for part, start in enumerate(range(0, len(by_channel["drop_csv"]), DROP_FILE_ROWS)):
        rows = by_channel["drop_csv"][start:start + DROP_FILE_ROWS]
        files[f"compliance/drop/alerts_{part + 1:03d}.csv"] = csv_bytes(ALERT_FIELDS, ([a[k] for k in ALERT_FIELDS] for a in rows))
    for alert in by_channel["email"]:
        files[f"compliance/inbox/{alert['alert_id']}.eml"] = eml_bytes(alert)
    files.update(bad_files)
    return Dataset(domain="compliance", seed=seed, size=size, defects=defects, files=files, injected=injected)
