"""Ingestion: every source becomes one normalised alert record, or a quarantine reason.

Sources: JSON and CSV files in the drop folder, RFC 5322 .eml messages in the inbox folder (parsed
with the stdlib email package; the Message-ID is the source id), and bodies POSTed to /alerts.
A record that cannot be trusted is never guessed at: it is quarantined with the reason naming the field.
"""
from __future__ import annotations

import csv
import email
import email.policy
import hashlib
import io
import json
from dataclasses import dataclass
from functools import cached_property
from datetime import datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from pathlib import Path

DAY13_FIELDS = ("alert_id", "source_system", "alert_type", "entity_id", "account_id", "customer_id", "amount",
                "currency", "jurisdiction", "match_score", "created_at", "description")
DAY13_REQUIRED = ("alert_id", "alert_type", "entity_id", "created_at")
DAY13_IDENTITY = ("alert_type", "entity_id", "account_id", "customer_id", "amount", "currency", "jurisdiction")
DAY13_MAX_FIELD_CHARS = 10_000  # a longer field is an export gone wrong, not an alert
DAY13_MAX_FILE_BYTES = 20_000_000
DAY13_FUTURE_SKEW = timedelta(hours=1)  # upstream clocks drift; more than this is a broken timestamp
DAY13_RAW_ENCODER = json.JSONEncoder(default=str, sort_keys=True)  # built once: json.dumps(default=...) builds one per call


class day13_InvalidAlert(ValueError):
    def __init__(self, field: str, detail: str):
        super().__init__(f"{field}: {detail}")
        self.field, self.detail = field, detail


class day13_UnreadableFile(ValueError):
    """The whole file cannot be read (encoding, truncated JSON, missing headers or columns)."""


@dataclass(frozen=True)
class day13_Alert:
    source: str
    source_id: str
    alert_id: str
    source_system: str
    alert_type: str
    entity_id: str
    account_id: str
    customer_id: str
    amount: Decimal | None
    currency: str | None
    jurisdiction: str | None
    match_score: int | None
    created_at: datetime
    description: str
    raw: str

    @cached_property  # read several times per alert on the hot path; the alert is immutable
    def fingerprint(self) -> str:
        """Identity, not occurrence: ids, timestamps and the channel are left out on purpose."""
        identity = [str(getattr(self, name) if getattr(self, name) is not None else "") for name in DAY13_IDENTITY]
        return hashlib.sha256("\x1f".join(identity).encode()).hexdigest()[:32]

    def labels(self, severity: str) -> dict[str, str]:
        return {"alert_type": self.alert_type, "severity": severity, "source": self.source,
                "source_system": self.source_system, "jurisdiction": self.jurisdiction or "",
                "currency": self.currency or "", "entity_id": self.entity_id, "account_id": self.account_id,
                "customer_id": self.customer_id, "fingerprint": self.fingerprint}


def _text(record: dict, name: str, required: bool = False) -> str:
    value = record.get(name)
    if type(value) is str:  # the common case, checked first: normalising is on the 10k alerts/s path
        value = value.strip()
    elif value is None:
        value = ""
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        value = str(value).strip()
    else:
        raise day13_InvalidAlert(name, f"must be text, got {type(value).__name__}")
    if required and not value:
        raise day13_InvalidAlert(name, "is required")
    if len(value) > DAY13_MAX_FIELD_CHARS:
        raise day13_InvalidAlert(name, f"is {len(value):,} characters (limit {DAY13_MAX_FIELD_CHARS:,})")
    return value


def _created_at(record: dict, now: datetime) -> datetime:
    text = _text(record, "created_at", required=True)
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise day13_InvalidAlert("created_at", f"{text[:40]!r} is not an ISO 8601 time") from None
    if moment.tzinfo is None:
        raise day13_InvalidAlert("created_at", "needs a time zone (e.g. Z)")
    moment = moment.astimezone(timezone.utc)
    if moment > now + DAY13_FUTURE_SKEW:
        raise day13_InvalidAlert("created_at", f"{text} is in the future")
    return moment


def day13_normalise(record, source: str, now: datetime, source_id: str | None = None) -> day13_Alert:
    """A validated alert, or day13_InvalidAlert naming the first field that is wrong."""
    if not isinstance(record, dict):
        raise day13_InvalidAlert("alert", "must be a JSON object")
    fields = {name: _text(record, name, name in DAY13_REQUIRED) for name in DAY13_FIELDS if name not in ("created_at",)}
    amount = None
    if fields["amount"]:
        try:
            amount = Decimal(fields["amount"])
        except InvalidOperation:
            raise day13_InvalidAlert("amount", f"{fields['amount'][:40]!r} is not a number") from None
        if not amount.is_finite() or amount < 0:
            raise day13_InvalidAlert("amount", "must be a finite amount >= 0")
    currency = fields["currency"].upper() or None
    if currency is not None and (len(currency) != 3 or not currency.isalpha()):
        raise day13_InvalidAlert("currency", f"{currency!r} is not an ISO 4217 code")
    score = None
    if fields["match_score"]:
        try:
            score = int(fields["match_score"])
        except ValueError:
            raise day13_InvalidAlert("match_score", f"{fields['match_score'][:20]!r} is not a whole number") from None
        if not 0 <= score <= 100:
            raise day13_InvalidAlert("match_score", "must be between 0 and 100")
    return day13_Alert(
        source=source, source_id=source_id or fields["alert_id"], alert_id=fields["alert_id"],
        source_system=fields["source_system"] or "unknown", alert_type=fields["alert_type"],
        entity_id=fields["entity_id"], account_id=fields["account_id"], customer_id=fields["customer_id"],
        amount=amount, currency=currency, jurisdiction=fields["jurisdiction"].upper() or None, match_score=score,
        created_at=_created_at(record, now), description=fields["description"],
        raw=DAY13_RAW_ENCODER.encode(record)[:20_000])


def _bytes(path: Path) -> bytes:
    if path.stat().st_size > DAY13_MAX_FILE_BYTES:
        raise day13_UnreadableFile(f"{path.stat().st_size:,} bytes is over the {DAY13_MAX_FILE_BYTES:,} byte limit")
    return path.read_bytes()


def _utf8(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise day13_UnreadableFile(f"not UTF-8 (byte {exc.start}: {data[exc.start:exc.start + 1]!r})") from None


def day13_read_drop_file(path: Path) -> list[dict]:
    """Records of a .json (a list of objects, or one object) or .csv drop file."""
    text = _utf8(_bytes(path))
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise day13_UnreadableFile(f"truncated or invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from None
        return data if isinstance(data, list) else [data]
    if path.suffix.lower() == ".csv":
        reader = csv.DictReader(io.StringIO(text))
        missing = [name for name in DAY13_REQUIRED if name not in (reader.fieldnames or [])]
        if missing:
            raise day13_UnreadableFile(f"missing column(s) {', '.join(missing)}")
        return list(reader)
    raise day13_UnreadableFile(f"unsupported file type {path.suffix!r} (expected .json or .csv)")


def day13_read_eml(path: Path) -> tuple[str, dict]:
    """(Message-ID, record) of an alert e-mail whose body is 'field: value' lines."""
    message = email.message_from_bytes(_bytes(path), policy=email.policy.default)
    missing = [h for h in ("Message-ID", "Date", "From") if not message.get(h)]
    if missing:
        raise day13_UnreadableFile(f"missing header(s) {', '.join(missing)}")
    if message.defects:
        raise day13_UnreadableFile(f"malformed message: {', '.join(type(d).__name__ for d in message.defects)}")
    body = message.get_body(("plain",))
    if body is None:
        raise day13_UnreadableFile("no text/plain part")
    try:
        content = body.get_content()
    except (LookupError, UnicodeDecodeError) as exc:
        raise day13_UnreadableFile(f"unreadable body: {exc}") from None
    record = {}
    for line in content.splitlines():
        name, sep, value = line.partition(":")
        if sep and name.strip() in DAY13_FIELDS:
            record[name.strip()] = value.strip()
    return message["Message-ID"].strip().strip("<>"), record
