"""Ingestion: every source becomes one normalised alert record, or a quarantine reason.

Sources: JSON and CSV files in the drop folder, RFC 5322 .eml messages in the inbox folder (parsed
with the stdlib email package; the Message-ID is the source id), and bodies POSTed to /alerts.
A record that cannot be trusted is never guessed at: it is quarantined with the reason naming the field.

Limits, checked before anything is stored (DAY13_LIMITS names them all): file and record sizes,
JSON nesting depth, number length (digits) and amount precision, text field lengths, valid Unicode
(no lone surrogates, no NUL). A record beyond one is quarantined on its own where the format keeps
records apart (JSON arrays, CSV rows); a file beyond one (size, nesting, encoding) is quarantined whole.
"""
from __future__ import annotations

import csv
import email
import email.policy
import hashlib
import io
import json
import re
import unicodedata
from datetime import datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import NamedTuple

import orjson

DAY13_FIELDS = ("alert_id", "source_system", "alert_type", "entity_id", "account_id", "customer_id", "amount",
                "currency", "jurisdiction", "match_score", "created_at", "description")
DAY13_REQUIRED = ("alert_id", "alert_type", "entity_id", "created_at")
DAY13_TEXT_FIELDS = tuple(name for name in DAY13_FIELDS if name != "created_at")  # created_at is parsed on its own
DAY13_IDENTITY = ("alert_type", "entity_id", "account_id", "customer_id", "amount", "currency", "jurisdiction")
DAY13_MAX_FIELD_CHARS = 10_000  # a longer description is an export gone wrong, not an alert
DAY13_MAX_ID_CHARS = 200  # ids, types and codes are labels: short, and they enter every message
DAY13_FREE_TEXT = ("description",)  # the one field allowed DAY13_MAX_FIELD_CHARS
DAY13_MAX_FILE_BYTES = 20_000_000  # ~50,000 alerts; a bigger drop is a runaway export
DAY13_MAX_RECORD_BYTES = 65_536  # one alert as JSON; the API's body limit is the same order
DAY13_MAX_RECORD_FIELDS = 64  # twelve are known; hundreds of keys is not an alert
DAY13_MAX_JSON_DEPTH = 8  # a drop file is a list of flat objects (depth 2); deeper is hostile or broken
DAY13_MAX_NUMBER_CHARS = 40  # digits of a JSON number; Python's int() would otherwise take thousands
DAY13_MAX_AMOUNT_DIGITS = 15  # integer digits of an amount: 10^15 is beyond any single transaction
DAY13_AMOUNT_PLACES = 6  # decimal places kept exactly; more is a float artefact or an attack on Decimal
DAY13_LIMITS = {"file_bytes": DAY13_MAX_FILE_BYTES, "record_bytes": DAY13_MAX_RECORD_BYTES,
                "record_fields": DAY13_MAX_RECORD_FIELDS, "json_depth": DAY13_MAX_JSON_DEPTH,
                "number_chars": DAY13_MAX_NUMBER_CHARS, "amount_digits": DAY13_MAX_AMOUNT_DIGITS,
                "amount_places": DAY13_AMOUNT_PLACES, "id_chars": DAY13_MAX_ID_CHARS, "text_chars": DAY13_MAX_FIELD_CHARS}
DAY13_BAD_CHARS = re.compile("[\x00\ud800-\udfff]")  # NUL and lone surrogates: no database or mail takes them
DAY13_MAX_SOURCE_ID_CHARS = 998  # RFC 5322's line length: a Message-ID never needs more
DAY13_FUTURE_SKEW = timedelta(hours=1)  # upstream clocks drift; more than this is a broken timestamp
DAY13_RAW_ENCODER = json.JSONEncoder(default=str, sort_keys=True)  # for what orjson refuses (lone surrogates, odd keys)


class day13_InvalidAlert(ValueError):
    def __init__(self, field: str, detail: str):
        super().__init__(f"{field}: {detail}")
        self.field, self.detail = field, detail


class day13_UnreadableFile(ValueError):
    """The whole file cannot be read (encoding, truncated JSON, missing headers or columns, a limit)."""


class day13_BadNumber:
    """A JSON number beyond DAY13_MAX_NUMBER_CHARS or a NaN/Infinity: kept as a marker, so only its record fails."""

    def __init__(self, text: str):
        self.reason = (f"a number of {len(text):,} characters (limit {DAY13_MAX_NUMBER_CHARS})"
                       if len(text) > DAY13_MAX_NUMBER_CHARS else f"{text} is not a finite number")

    def __str__(self) -> str:
        return f"<{self.reason}>"


class day13_DuplicateKeys(dict):
    """A JSON object with a key given twice: json keeps the last silently, another reader may keep the first.
    Kept as a marker so only its record is refused (day13_normalise names the key)."""

    duplicated = ""


def _object(pairs: list) -> dict:
    record = dict(pairs)
    if len(record) == len(pairs):
        return record
    marked = day13_DuplicateKeys(record)
    seen: set = set()
    marked.duplicated = next(key for key, _ in pairs if key in seen or seen.add(key))
    return marked


def _number(text: str):
    """JSON numbers stay text (what _text would make of them anyway), bounded before int() or Decimal sees them."""
    return text if len(text) <= DAY13_MAX_NUMBER_CHARS else day13_BadNumber(text)


DAY13_CONTAINERS = frozenset((list, dict))  # json.loads makes only plain lists and dicts


def _depth_within(value, limit: int) -> bool:
    """Nesting depth of parsed JSON, walked without recursion, stopping at the first level past the limit."""
    level, current = 1, [value]
    while current:
        if level > limit:
            return False
        current = [child for item in current for child in (item.values() if type(item) is dict else item)
                   if type(child) in DAY13_CONTAINERS]
        level += 1
    return True


def day13_load_json(text: str):
    """json.loads with every number bounded, then the nesting depth checked (before anything is stored).

    The C parser guards its own recursion: input nested beyond Python's recursion limit raises
    RecursionError, which is the same limit breached, reported the same way."""
    too_deep = f"JSON nested deeper than {DAY13_MAX_JSON_DEPTH} levels (limit json_depth)"
    try:
        value = json.loads(text, parse_int=_number, parse_float=_number, parse_constant=day13_BadNumber,
                           object_pairs_hook=_object)
    except json.JSONDecodeError as exc:
        raise day13_UnreadableFile(f"truncated or invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from None
    except RecursionError:
        raise day13_UnreadableFile(too_deep) from None
    if not _depth_within(value, DAY13_MAX_JSON_DEPTH):
        raise day13_UnreadableFile(too_deep)
    return value


class day13_Alert(NamedTuple):
    """Immutable; a NamedTuple rather than a frozen dataclass, whose __init__ costs ~4x more at 10k alerts/s."""
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
    fingerprint: str  # identity, not occurrence: see day13_fingerprint
    content_hash: str  # what was sent under this source id: a re-send with other content is a conflict

    def labels(self, severity: str) -> dict[str, str]:
        return {"alert_type": self.alert_type, "severity": severity, "source": self.source,
                "source_system": self.source_system, "jurisdiction": self.jurisdiction or "",
                "currency": self.currency or "", "entity_id": self.entity_id, "account_id": self.account_id,
                "customer_id": self.customer_id, "fingerprint": self.fingerprint}


def day13_fingerprint(*identity) -> str:
    """Identity fields (DAY13_IDENTITY, in order); ids, timestamps and the channel are left out on purpose."""
    return hashlib.sha256("\x1f".join("" if v is None else str(v) for v in identity).encode()).hexdigest()[:32]


def _raw_json(record: dict) -> str:
    """The record as sorted compact JSON: orjson on the hot path, the stdlib (ASCII-escaped) for what it refuses."""
    try:
        return orjson.dumps(record, default=str, option=orjson.OPT_SORT_KEYS).decode()
    except TypeError:
        return DAY13_RAW_ENCODER.encode(record)


def _text(record: dict, name: str, required: bool = False) -> str:
    value = record.get(name)
    if type(value) is str:  # the common case, checked first: normalising is on the 10k alerts/s path
        value = value.strip()
        if value and len(value) <= DAY13_MAX_ID_CHARS and value.isascii() and value.isprintable():
            return value  # short printable ASCII: every check below would pass
    elif value is None:
        value = ""
    elif isinstance(value, day13_BadNumber):
        raise day13_InvalidAlert(name, value.reason)
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        value = str(value).strip()
    else:
        raise day13_InvalidAlert(name, f"must be text, got {type(value).__name__}")
    if not value.isascii():  # one spelling per text: 'Café' composed or decomposed is one entity to dedup and matchers
        value = unicodedata.normalize("NFC", value)
    if required and not value:
        raise day13_InvalidAlert(name, "is required")
    limit = DAY13_MAX_FIELD_CHARS if name in DAY13_FREE_TEXT else DAY13_MAX_ID_CHARS
    if len(value) > limit:
        raise day13_InvalidAlert(name, f"is {len(value):,} characters (limit {limit:,})")
    if "\x00" in value or (not value.isascii() and DAY13_BAD_CHARS.search(value)):
        raise day13_InvalidAlert(name, "is not valid Unicode text (a lone surrogate or NUL)")
    if name not in DAY13_FREE_TEXT and not value.isprintable():  # labels enter mail headers, Slack lines and logs
        bad = next(c for c in value if not c.isprintable())
        raise day13_InvalidAlert(name, f"has a control or invisible character U+{ord(bad):04X} (labels are one printable line)")
    return value


def _amount(text: str) -> Decimal | None:
    if not text:
        return None
    if len(text) > DAY13_MAX_NUMBER_CHARS:
        raise day13_InvalidAlert("amount", f"is {len(text):,} characters (limit {DAY13_MAX_NUMBER_CHARS})")
    try:
        amount = Decimal(text)
    except InvalidOperation:
        raise day13_InvalidAlert("amount", f"{text[:40]!r} is not a number") from None
    if not amount.is_finite() or amount < 0:
        raise day13_InvalidAlert("amount", "must be a finite amount >= 0")
    if amount and amount.adjusted() >= DAY13_MAX_AMOUNT_DIGITS:  # adjusted() needs no context: no overflow
        raise day13_InvalidAlert("amount", f"has more than {DAY13_MAX_AMOUNT_DIGITS} integer digits (limit amount_digits)")
    if amount.as_tuple().exponent < -DAY13_AMOUNT_PLACES and amount != amount.quantize(Decimal(1).scaleb(-DAY13_AMOUNT_PLACES)):
        raise day13_InvalidAlert("amount", f"has more than {DAY13_AMOUNT_PLACES} decimal places (limit amount_places)")
    # One value, one spelling: 1000, 1000.00, 1E3 and -0 would otherwise be different alerts to the fingerprint
    # (dedup and the repeat bump evaded by re-spelling the amount). Whole amounts keep their plain digits.
    return Decimal(int(amount)) if amount == amount.to_integral_value() else amount.normalize()


def _created_at(record: dict, now: datetime) -> datetime:
    text = _text(record, "created_at", required=True)
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise day13_InvalidAlert("created_at", f"{text[:40]!r} is not an ISO 8601 time") from None
    if moment.tzinfo is None:
        raise day13_InvalidAlert("created_at", "needs a time zone (e.g. Z)")
    try:
        moment = moment.astimezone(timezone.utc)
    except OverflowError:  # e.g. year 1 at +01:00: before the first representable instant
        raise day13_InvalidAlert("created_at", f"{text[:40]!r} is out of range") from None
    if moment > now + DAY13_FUTURE_SKEW:
        raise day13_InvalidAlert("created_at", f"{text} is in the future")
    return moment


def day13_normalise(record, source: str, now: datetime, source_id: str | None = None) -> day13_Alert:
    """A validated alert, or day13_InvalidAlert naming the first field that is wrong."""
    if not isinstance(record, dict):
        raise day13_InvalidAlert("alert", "must be a JSON object")
    if type(record) is day13_DuplicateKeys:
        raise day13_InvalidAlert("alert", f"key {record.duplicated!r} is given twice")
    if len(record) > DAY13_MAX_RECORD_FIELDS:
        raise day13_InvalidAlert("alert", f"has {len(record):,} fields (limit {DAY13_MAX_RECORD_FIELDS})")
    fields = {}
    for name in DAY13_TEXT_FIELDS:  # the fast paths of _text inlined: twelve fields per alert at 10k alerts/s
        value = record.get(name)
        if type(value) is str:
            value = value.strip()
            if value:
                if len(value) <= DAY13_MAX_ID_CHARS and value.isascii() and value.isprintable():
                    fields[name] = value
                    continue
            elif name not in DAY13_REQUIRED:
                fields[name] = ""
                continue
        elif value is None and name not in DAY13_REQUIRED:
            fields[name] = ""
            continue
        fields[name] = _text(record, name, name in DAY13_REQUIRED)
    if source_id is not None and (len(source_id) > DAY13_MAX_SOURCE_ID_CHARS or DAY13_BAD_CHARS.search(source_id)):
        raise day13_InvalidAlert("source_id", f"is over {DAY13_MAX_SOURCE_ID_CHARS} characters or not valid Unicode text")
    raw = _raw_json(record)
    if len(raw) > DAY13_MAX_RECORD_BYTES:
        raise day13_InvalidAlert("alert", f"is {len(raw):,} bytes as JSON (limit {DAY13_MAX_RECORD_BYTES:,})")
    amount = _amount(fields["amount"])
    currency = fields["currency"].upper() or None
    if currency is not None and (len(currency) != 3 or not currency.isascii() or not currency.isalpha()):
        raise day13_InvalidAlert("currency", f"{currency!r} is not an ISO 4217 code")
    score = None
    if fields["match_score"]:
        try:
            score = int(fields["match_score"])  # at most DAY13_MAX_ID_CHARS digits
        except ValueError:
            raise day13_InvalidAlert("match_score", f"{fields['match_score'][:20]!r} is not a whole number") from None
        if not 0 <= score <= 100:
            raise day13_InvalidAlert("match_score", "must be between 0 and 100")
    jurisdiction = fields["jurisdiction"].upper() or None
    if jurisdiction is not None and (len(jurisdiction) != 2 or not jurisdiction.isascii() or not jurisdiction.isalpha()):
        # 'IRN' or 'Iran' would silently miss the high-risk bump for IR: refused, never under-triaged
        raise day13_InvalidAlert("jurisdiction", f"{jurisdiction[:40]!r} is not an ISO 3166 two-letter country code")
    return day13_Alert(
        source=source, source_id=source_id or fields["alert_id"], alert_id=fields["alert_id"],
        source_system=fields["source_system"] or "unknown", alert_type=fields["alert_type"],
        entity_id=fields["entity_id"], account_id=fields["account_id"], customer_id=fields["customer_id"],
        amount=amount, currency=currency, jurisdiction=jurisdiction, match_score=score,
        created_at=_created_at(record, now), description=fields["description"], raw=raw,
        fingerprint=day13_fingerprint(fields["alert_type"], fields["entity_id"], fields["account_id"],
                                      fields["customer_id"], amount, currency, jurisdiction),
        content_hash=hashlib.sha256(raw.encode("utf-8", "backslashreplace")).hexdigest()[:32])


def _utf8(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise day13_UnreadableFile(f"not UTF-8 (byte {exc.start}: {data[exc.start:exc.start + 1]!r})") from None


class day13_BadRecord:
    """A record the file format itself could not deliver (a CSV row the csv module refused); quarantined alone."""

    def __init__(self, reason: str):
        self.reason = reason


def _csv_records(text: str):
    reader = csv.DictReader(io.StringIO(text, newline=""))
    try:
        fieldnames = reader.fieldnames or []
    except csv.Error as exc:
        raise day13_UnreadableFile(f"unreadable CSV header: {exc}") from None
    twice = sorted({name for name in fieldnames if fieldnames.count(name) > 1})
    if twice:  # DictReader would keep the later column's value silently, like a JSON key given twice
        raise day13_UnreadableFile(f"column(s) {', '.join(map(repr, twice))} given twice in the header")
    missing = [name for name in DAY13_REQUIRED if name not in fieldnames]
    if missing:
        raise day13_UnreadableFile(f"missing column(s) {', '.join(missing)}")
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:  # e.g. a field over the csv module's limit: this row only
            yield day13_BadRecord(f"CSV line {reader.line_num}: {exc}")
            continue
        if None in row:  # DictReader files surplus values under None: a shifted row, never guessed at
            yield day13_BadRecord(f"CSV line {reader.line_num}: {len(row[None])} more value(s) than the header has columns")
            continue
        yield row


def day13_read_drop_file(name: str, data: bytes) -> list:
    """Records of a .json (a list of objects, or one object) or .csv drop file, given its name and bytes."""
    if len(data) > DAY13_MAX_FILE_BYTES:
        raise day13_UnreadableFile(f"{len(data):,} bytes is over the {DAY13_MAX_FILE_BYTES:,} byte limit")
    suffix = Path(name).suffix.lower()
    if suffix not in (".json", ".csv"):
        raise day13_UnreadableFile(f"unsupported file type {suffix!r} (expected .json or .csv)")
    text = _utf8(data)
    if suffix == ".json":
        loaded = day13_load_json(text)
        return loaded if isinstance(loaded, list) else [loaded]
    return list(_csv_records(text))


def day13_read_eml(data: bytes) -> tuple[str, dict]:
    """(Message-ID, record) of an alert e-mail whose body is 'field: value' lines."""
    if len(data) > DAY13_MAX_FILE_BYTES:
        raise day13_UnreadableFile(f"{len(data):,} bytes is over the {DAY13_MAX_FILE_BYTES:,} byte limit")
    message = email.message_from_bytes(data, policy=email.policy.default)
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
    pairs = []
    for line in content.splitlines():
        name, sep, value = line.partition(":")
        if sep and name.strip() in DAY13_FIELDS:
            pairs.append((name.strip(), value.strip()))
    return message["Message-ID"].strip().strip("<>"), _object(pairs)  # a field given twice: that message refused
