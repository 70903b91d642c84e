"""Per-type validation of Stripe-like events at the door: a bad event gets a 4xx naming the field.

Money is integer cents (a float is refused, never rounded), currencies are ISO 4217 codes in
lower case, and every event needs id, type, created and data.object.

Every number is bounded by what the store (BIGINT), the MRR arithmetic and a date can hold, so a
correctly signed but absurd event is a 400 at the door, never a crash in the consumer:
  created        Unix time in whole seconds, 2000-01-01 <= created < 2100-01-01 (a milliseconds
                 value, about 1.7e12, is far above the window and is refused);
  unit_amount    0 to 99,999,999 cents (Stripe's own eight-digit limit);
  quantity       0 to 1,000,000 per item; at most 20 items per subscription (Stripe's limit);
  interval_count 1 to 365 (Stripe allows at most a year between charges);
  strings        1 to 255 characters (the store's column width), no control characters (U+0000-U+001F,
                 U+007F: PostgreSQL's text columns refuse NUL, and no id needs a tab or a newline);
  MRR            at most 10^10 cents ($100M) a month per subscription, all items together.
The MRR cap is what keeps sums inside int64: about 900 million subscriptions at the cap before one
customer's MRR or the total could overflow (the per-field caps alone allowed ~6e16 cents each, so
about 150 absurd but correctly signed subscriptions overflowed the store and the summary).
"""
from __future__ import annotations

import re

from day15_METRICS_saas import day15_items_mrr

DAY15_SUBSCRIPTION_TYPES = ("customer.subscription.created", "customer.subscription.updated",
                            "customer.subscription.deleted")
DAY15_KNOWN_TYPES = ("customer.created", *DAY15_SUBSCRIPTION_TYPES, "user.signed_up", "user.activity")
DAY15_CURRENCIES = frozenset({"usd", "eur", "gbp", "aud", "cad", "nzd", "jpy", "chf", "sek", "nok", "dkk",
                              "sgd", "hkd", "inr", "brl", "mxn", "zar", "pln"})
DAY15_STATUSES = frozenset({"active", "trialing", "past_due", "canceled", "unpaid", "incomplete",
                            "incomplete_expired", "paused"})
DAY15_INTERVALS = frozenset({"day", "week", "month", "year"})
DAY15_MAX_ID_CHARS = 255  # the store's String(255) columns
DAY15_CREATED_MIN = 946_684_800  # 2000-01-01T00:00:00Z: older than any SaaS event we will see
DAY15_CREATED_MAX = 4_102_444_800  # 2100-01-01T00:00:00Z: a milliseconds timestamp is ~400x above this
DAY15_MAX_UNIT_AMOUNT = 99_999_999  # cents; Stripe's eight-digit limit
DAY15_MAX_QUANTITY = 1_000_000  # seats per item; far above any plan, far below overflow
DAY15_MAX_ITEMS = 20  # items per subscription; Stripe's limit
DAY15_MAX_INTERVAL_COUNT = 365  # Stripe bills at least once a year
DAY15_MAX_SUBSCRIPTION_MRR = 10**10  # cents a month per subscription ($100M): int64 then holds ~9e8 of them in one sum
DAY15_CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")
DAY15_TEXT_FIELDS = {"customer.created": ("id",), "user.signed_up": ("id", "customer"), "user.activity": ("user", "customer")}


class day15_InvalidEvent(ValueError):
    def __init__(self, field: str, detail: str):
        super().__init__(f"{field}: {detail}")
        self.field, self.detail = field, detail


def _at(path: str, key: str) -> str:
    """A field path as a 400 names it: "created", "data.object.id" (never a leading dot)."""
    return f"{path}.{key}" if path else key


def _require(obj, key: str, path: str, kind, detail: str):
    # exact types: JSON parsers build no subclasses, and a bool must not pass as an int
    value = obj.get(key) if type(obj) is dict else None
    if type(value) is not kind:
        raise day15_InvalidEvent(_at(path, key), detail)
    return value


def _text(obj, key: str, path: str) -> str:
    value = _require(obj, key, path, str, "must be a non-empty string")
    if not value or len(value) > DAY15_MAX_ID_CHARS:
        raise day15_InvalidEvent(_at(path, key), f"must be 1 to {DAY15_MAX_ID_CHARS} characters")
    if DAY15_CONTROL_CHARACTERS.search(value):
        raise day15_InvalidEvent(_at(path, key), "must not contain control characters (U+0000 to U+001F, U+007F)")
    return value


def _whole(obj, key: str, path: str, minimum: int, maximum: int, what: str) -> int:
    value = obj.get(key) if type(obj) is dict else None
    if type(value) is not int or not minimum <= value <= maximum:
        raise day15_InvalidEvent(_at(path, key), f"must be {what} from {minimum:_} to {maximum:_}")
    return value


def _one_of(value, allowed: frozenset) -> bool:
    """A string in allowed; any other JSON value (a list or an object is unhashable) is simply not one of them."""
    return type(value) is str and value in allowed


def _subscription(obj: dict, path: str) -> None:
    _text(obj, "id", path)
    _text(obj, "customer", path)
    if not _one_of(obj.get("status"), DAY15_STATUSES):
        raise day15_InvalidEvent(f"{path}.status", f"must be one of {', '.join(sorted(DAY15_STATUSES))}")
    items = _require(_require(obj, "items", path, dict, "must be a list object"), "data", f"{path}.items", list,
                     "must be a list")
    if not 1 <= len(items) <= DAY15_MAX_ITEMS:
        raise day15_InvalidEvent(f"{path}.items.data", f"must hold 1 to {DAY15_MAX_ITEMS} items")
    for n, item in enumerate(items):
        where = f"{path}.items.data[{n}]"
        _whole(item, "quantity", where, 0, DAY15_MAX_QUANTITY, "a whole number")
        price = _require(item, "price", where, dict, "must be an object")
        _whole(price, "unit_amount", f"{where}.price", 0, DAY15_MAX_UNIT_AMOUNT, "an integer number of cents")
        if not _one_of(price.get("currency"), DAY15_CURRENCIES):
            raise day15_InvalidEvent(f"{where}.price.currency", "must be a supported ISO 4217 code in lower case")
        recurring = _require(price, "recurring", f"{where}.price", dict, "must be an object")
        if not _one_of(recurring.get("interval"), DAY15_INTERVALS):
            raise day15_InvalidEvent(f"{where}.price.recurring.interval", "must be day, week, month or year")
        _whole(recurring, "interval_count", f"{where}.price.recurring", 1, DAY15_MAX_INTERVAL_COUNT, "a whole number")
    if day15_items_mrr(items) > DAY15_MAX_SUBSCRIPTION_MRR:
        raise day15_InvalidEvent(f"{path}.items", f"brings more than {DAY15_MAX_SUBSCRIPTION_MRR:_} cents of MRR a month")


def day15_validate_event(event) -> dict:
    """Return the event if it is valid; raise day15_InvalidEvent naming the first bad field.

    Every event meets the same rules twice over: day15_conforms checks them all in one pass of cheap comparisons
    (no call per field, no error text built); only an event it does not pass goes through day15_check_fields, which
    applies the same rules field by field and names the first one broken. day15_conforms is never laxer than
    day15_check_fields (a test holds the two to that); where it is stricter (a string with a non-printable character
    that is no control character), day15_check_fields has the last word."""
    try:
        if day15_conforms(event):
            return event
    except Exception:  # noqa: BLE001 - any surprise in the fast pass: the field-by-field check decides
        pass
    return day15_check_fields(event)


def _text_ok(value) -> bool:
    # isprintable() is False for every control character (and for a few more, which day15_check_fields then accepts)
    return type(value) is str and 0 < len(value) <= DAY15_MAX_ID_CHARS and value.isprintable()


def day15_conforms(event) -> bool:
    """True only if day15_check_fields would accept the event; False sends it to day15_check_fields for the verdict and the field."""
    if type(event) is not dict:
        return False
    kind, created, data = event.get("type"), event.get("created"), event.get("data")
    if not (_text_ok(event.get("id")) and _text_ok(kind) and type(created) is int
            and DAY15_CREATED_MIN <= created < DAY15_CREATED_MAX and type(data) is dict):
        return False
    obj = data.get("object")
    if type(obj) is not dict:
        return False
    if kind in DAY15_SUBSCRIPTION_TYPES:
        return _subscription_conforms(obj)
    fields = DAY15_TEXT_FIELDS.get(kind, ())
    return all(_text_ok(obj.get(key)) for key in fields)


def _subscription_conforms(obj: dict) -> bool:
    listing = obj.get("items")
    items = listing.get("data") if type(listing) is dict else None
    if not (_text_ok(obj.get("id")) and _text_ok(obj.get("customer")) and _one_of(obj.get("status"), DAY15_STATUSES)
            and type(items) is list and 1 <= len(items) <= DAY15_MAX_ITEMS):
        return False
    ceiling = 0  # an upper bound of the items' MRR: cents x quantity x 31 is above any interval's monthly share
    for item in items:
        if type(item) is not dict:
            return False
        quantity, price = item.get("quantity"), item.get("price")
        if type(quantity) is not int or not 0 <= quantity <= DAY15_MAX_QUANTITY or type(price) is not dict:
            return False
        amount, recurring = price.get("unit_amount"), price.get("recurring")
        if (type(amount) is not int or not 0 <= amount <= DAY15_MAX_UNIT_AMOUNT or not _one_of(price.get("currency"), DAY15_CURRENCIES)
                or type(recurring) is not dict or not _one_of(recurring.get("interval"), DAY15_INTERVALS)):
            return False
        count = recurring.get("interval_count")
        if type(count) is not int or not 1 <= count <= DAY15_MAX_INTERVAL_COUNT:
            return False
        ceiling += amount * quantity
    return ceiling * 31 <= DAY15_MAX_SUBSCRIPTION_MRR or day15_items_mrr(items) <= DAY15_MAX_SUBSCRIPTION_MRR


def day15_check_fields(event) -> dict:
    """The rules field by field: the event if valid, else day15_InvalidEvent naming the first bad field."""
    if not isinstance(event, dict):
        raise day15_InvalidEvent("event", "must be a JSON object")
    _text(event, "id", "")
    kind = _text(event, "type", "")
    _whole(event, "created", "", DAY15_CREATED_MIN, DAY15_CREATED_MAX - 1, "a Unix time in whole seconds")
    obj = _require(_require(event, "data", "", dict, "must be an object"), "object", "data", dict, "must be an object")
    if kind in DAY15_SUBSCRIPTION_TYPES:
        _subscription(obj, "data.object")
    elif kind == "customer.created":
        _text(obj, "id", "data.object")
    elif kind == "user.signed_up":
        _text(obj, "id", "data.object")
        _text(obj, "customer", "data.object")
    elif kind == "user.activity":
        _text(obj, "user", "data.object")
        _text(obj, "customer", "data.object")
    return event
