"""SaaS events for a micro-SaaS: Stripe-like billing events plus product signups and activity.

Every event uses Stripe's envelope (id ``evt_…``, type, created epoch seconds, data.object, and
data.previous_attributes on updates). Prices carry unit_amount in integer cents, currency,
recurring interval and interval_count; items carry a quantity. ``events.jsonl`` is the delivery
order a webhook receiver sees; ``duplicates`` re-delivers events, ``out_of_order`` delivers some
late, and ``malformed`` writes broken bodies (one per line, as sent) to ``malformed_events.jsonl``.
"""
from __future__ import annotations

import json
import random
import string
from datetime import datetime, time, timezone

from shared_synthetic_data._common import (
    DEFAULT_END_DATE, DEFAULT_SEED, Dataset, check_size, jsonl_bytes, parse_defects,
)

DEFECTS = ("duplicates", "out_of_order", "malformed")
DEFAULT_SIZE = 1_000  # events delivered, before duplicates
SPAN_DAYS = 60
API_VERSION = "2024-06-20"
PRICES = {  # price id -> (unit_amount cents, interval, interval_count)
    "price_starter_monthly": (1_900, "month", 1),
    "price_pro_monthly": (4_900, "month", 1),
    "price_team_monthly": (9_900, "month", 1),
    "price_pro_yearly": (49_000, "year", 1),
    "price_pro_quarterly": (13_500, "month", 3),
}
BILLING_TYPES = ("customer.created", "customer.subscription.created", "customer.subscription.updated",
                 "customer.subscription.deleted")
PRODUCT_TYPES = ("user.signed_up", "user.activity")
FEATURES = ("dashboard_view", "report_export", "api_call", "invite_sent", "integration_sync")
DEFECT_SHARE = 0.05
_ALPHABET = string.ascii_letters + string.digits


class _Simulation:
    def __init__(self, rng: random.Random, start: int):
        self.rng, self.clock, self.events = rng, start, []
        self.customers: list[str] = []
        self.users: dict[str, list[str]] = {}
        self.active: dict[str, dict] = {}  # customer -> live subscription
        self.churned: list[str] = []

    def _id(self, prefix: str) -> str:
        return f"{prefix}_{''.join(self.rng.choice(_ALPHABET) for _ in range(14))}"

    def _emit(self, kind: str, obj: dict, previous: dict | None = None) -> None:
        data = {"object": json.loads(json.dumps(obj))}  # a snapshot, not a live reference
        if previous is not None:
            data["previous_attributes"] = previous
        self.events.append({"id": self._id("evt"), "object": "event", "api_version": API_VERSION,
                            "created": self.clock, "livemode": False, "type": kind, "data": data})

    def _items(self, price_id: str, quantity: int) -> dict:
        amount, interval, count = PRICES[price_id]
        return {"object": "list", "data": [{
            "id": self._id("si"), "object": "subscription_item", "quantity": quantity,
            "price": {"id": price_id, "object": "price", "unit_amount": amount, "currency": "usd",
                      "recurring": {"interval": interval, "interval_count": count}},
        }]}

    def _subscribe(self, customer: str) -> None:
        price = self.rng.choice(sorted(PRICES))
        quantity = self.rng.randint(2, 12) if price == "price_team_monthly" else 1
        sub = {"id": self._id("sub"), "object": "subscription", "customer": customer, "status": "active",
               "created": self.clock, "canceled_at": None, "items": self._items(price, quantity)}
        self.active[customer] = sub
        self._emit("customer.subscription.created", sub)

    def new_customer(self) -> None:
        customer = self._id("cus")
        self.customers.append(customer)
        n = len(self.customers)
        self._emit("customer.created", {"id": customer, "object": "customer", "created": self.clock,
                                        "name": f"Company {n:04d}", "email": f"billing@company-{n:04d}.example"})
        self.users[customer] = []
        for _ in range(self.rng.randint(1, 3)):
            self.signup(customer)
        self._subscribe(customer)

    def signup(self, customer: str) -> None:
        user = self._id("usr")
        self.users[customer].append(user)
        self._emit("user.signed_up", {"id": user, "object": "user", "customer": customer, "created": self.clock})

    def activity(self) -> None:
        customer = self.rng.choice(self.customers)
        if self.users[customer]:
            self._emit("user.activity", {"id": self._id("act"), "object": "activity", "customer": customer,
                                         "user": self.rng.choice(self.users[customer]),
                                         "feature": self.rng.choice(FEATURES), "created": self.clock})

    def change_plan(self) -> None:
        sub = self.active[self.rng.choice(sorted(self.active))]
        previous = {"items": json.loads(json.dumps(sub["items"]))}
        item = sub["items"]["data"][0]
        if item["price"]["id"] == "price_team_monthly":
            item["quantity"] = max(1, item["quantity"] + self.rng.choice((-2, -1, 1, 2, 3)))
        else:
            sub["items"] = self._items(self.rng.choice(sorted(PRICES)), 1)
        self._emit("customer.subscription.updated", sub, previous)

    def cancel(self) -> None:
        customer = self.rng.choice(sorted(self.active))
        sub = self.active.pop(customer)
        sub.update(status="canceled", canceled_at=self.clock, ended_at=self.clock)
        self.churned.append(customer)
        self._emit("customer.subscription.deleted", sub, {"status": "active"})

    def reactivate(self) -> None:
        customer = self.churned.pop(self.rng.randrange(len(self.churned)))
        self._subscribe(customer)

    def step(self) -> None:
        actions = [(self.new_customer, 3.0), (self.activity, 12.0 if self.customers else 0),
                   (self.change_plan, 1.0 if self.active else 0), (self.cancel, 0.6 if len(self.active) > 3 else 0),
                   (self.reactivate, 0.2 if self.churned else 0)]
        self.rng.choices([a for a, _ in actions], weights=[w for _, w in actions])[0]()


def _malformed(rng: random.Random, sample: dict) -> tuple[list[str], list[str]]:
    def variant(label, mutate):
        event = json.loads(json.dumps(sample))
        event["id"] = f"evt_malformed_{label}"
        mutate(event)
        return label, json.dumps(event, separators=(",", ":"))

    def set_price(field, value):
        return lambda e: e["data"]["object"]["items"]["data"][0]["price"].__setitem__(field, value)

    cases = [
        variant("missing_data", lambda e: e.pop("data")),
        variant("float_amount", set_price("unit_amount", 49.99)),
        variant("unknown_currency", set_price("currency", "usdd")),
        variant("string_created", lambda e: e.__setitem__("created", "yesterday")),
        variant("negative_quantity", lambda e: e["data"]["object"]["items"]["data"][0].__setitem__("quantity", -3)),
        ("truncated_json", json.dumps(sample)[:40]),
        ("not_an_object", json.dumps(["customer.subscription.created"])),
    ]
    return [body for _, body in cases], [label for label, _ in cases]


def build(seed=DEFAULT_SEED, size=DEFAULT_SIZE, defects=(), end_date=DEFAULT_END_DATE):
    """(events in delivery order, malformed raw bodies, injected-id map)."""
    defects = parse_defects(defects, DEFECTS)
    rng = random.Random(f"saas-{seed}")
    end = int(datetime.combine(end_date, time(23, 59, 59), tzinfo=timezone.utc).timestamp())
    start = end - SPAN_DAYS * 86_400
    sim = _Simulation(rng, start)
    mean_gap = SPAN_DAYS * 86_400 / check_size(size)
    while len(sim.events) < size:
        sim.clock = min(end, sim.clock + int(rng.expovariate(1 / mean_gap)))
        sim.step()
    events = sim.events[:size]
    injected: dict[str, list[str]] = {}
    count = max(1, round(size * DEFECT_SHARE))
    if "out_of_order" in defects:  # delivered late, after events created after them
        late = sorted(rng.sample(range(size - 1), count), reverse=True)
        for i in late:
            event = events.pop(i)
            events.insert(min(len(events), i + rng.randint(2, 40)), event)
        injected["out_of_order"] = sorted(sim.events[i]["id"] for i in late)
    if "duplicates" in defects:  # at-least-once senders retry: same id, delivered again later
        originals = rng.sample(events, count)
        for event in originals:
            events.insert(rng.randrange(events.index(event) + 1, len(events) + 1), event)
        injected["duplicates"] = sorted(e["id"] for e in originals)
    malformed: list[str] = []
    if "malformed" in defects:
        sample = next(e for e in events if e["type"] == "customer.subscription.created")
        malformed, injected["malformed"] = _malformed(rng, sample)
    return events, malformed, injected


def generate(seed=DEFAULT_SEED, size=DEFAULT_SIZE, defects=(), end_date=DEFAULT_END_DATE) -> Dataset:
    defects = parse_defects(defects, DEFECTS)
    events, malformed, injected = build(seed, size, defects, end_date)
    files = {"saas/events.jsonl": jsonl_bytes(events)}
    if malformed:
        files["saas/malformed_events.jsonl"] = "".join(body + "\n" for body in malformed).encode()
    return Dataset(domain="saas", seed=seed, size=size, defects=defects, files=files, injected=injected)
