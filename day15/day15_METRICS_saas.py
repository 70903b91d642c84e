"""SaaS metrics, defined once: MRR, its movements, active customers, churn, ARPU, DAU/MAU.

MRR is integer cents per month: each subscription item contributes unit_amount x quantity divided
by its interval expressed in months (a year is 12, a week 12/52), rounded to the cent. Only active
and past_due subscriptions carry MRR (a trial has not paid; a past-due one is still owed).
Out-of-order delivery: an object's state, and the customer a subscription belongs to, is the one in
its latest `created` event; older events are recorded but change nothing. So the final state never depends on delivery order.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from functools import lru_cache

DAY15_MRR_STATUSES = frozenset({"active", "past_due"})
DAY15_MONTHS_PER_INTERVAL = {"day": Fraction(12, 365), "week": Fraction(12, 52), "month": Fraction(1), "year": Fraction(12)}
DAY15_MOVEMENTS = ("new", "expansion", "contraction", "churn", "reactivation")


def day15_subscription_mrr(subscription: dict) -> int:
    if subscription.get("status") not in DAY15_MRR_STATUSES:
        return 0
    return day15_items_mrr(subscription["items"]["data"])


def day15_items_mrr(items: list[dict]) -> int:
    """What a subscription's items bring per month, in cents, whatever its status (validation caps it)."""
    return round(sum(_monthly(item["price"]["unit_amount"] * item["quantity"], item["price"]["recurring"]["interval"],
                              item["price"]["recurring"]["interval_count"]) for item in items))


@lru_cache(maxsize=4_096)
def _monthly(amount_cents: int, interval: str, interval_count: int) -> Fraction:
    """One item's amount per month, exact. A SaaS has a handful of price points, so each is worked out once."""
    return Fraction(amount_cents) / (DAY15_MONTHS_PER_INTERVAL[interval] * interval_count)


def day15_movement(old_customer_mrr: int, new_customer_mrr: int, had_mrr_before: bool) -> str | None:
    """Classify a change of one customer's MRR (all its subscriptions together)."""
    if new_customer_mrr == old_customer_mrr:
        return None
    if old_customer_mrr == 0:
        return "reactivation" if had_mrr_before else "new"
    if new_customer_mrr == 0:
        return "churn"
    return "expansion" if new_customer_mrr > old_customer_mrr else "contraction"


@dataclass
class day15_Recomputed:
    """The order-independent end state, recomputed from raw events (the reconciliation's reference)."""

    unique_events: int = 0
    mrr_cents: int = 0
    active_customers: int = 0
    subscriptions: dict[str, tuple[str, int]] = field(default_factory=dict)  # id -> (status, mrr)
    customer_mrr: dict[str, int] = field(default_factory=dict)  # by the customer each subscription's latest event names
    users_by_day: dict[str, set[str]] = field(default_factory=dict)


def day15_recompute(events) -> day15_Recomputed:
    """Dedupe by id, keep each subscription's latest-created state, sum MRR; DAU sets by UTC day."""
    from datetime import datetime, timezone

    unique = {e["id"]: e for e in events}
    latest: dict[str, dict] = {}
    result = day15_Recomputed(unique_events=len(unique))
    for event in sorted(unique.values(), key=lambda e: (e["created"], e["id"])):
        obj = event["data"]["object"]
        if event["type"].startswith("customer.subscription."):
            latest[obj["id"]] = obj
        elif event["type"] == "user.activity":
            day = datetime.fromtimestamp(event["created"], timezone.utc).date().isoformat()
            result.users_by_day.setdefault(day, set()).add(obj["user"])
    per_customer = result.customer_mrr
    for sub_id, obj in latest.items():
        mrr = day15_subscription_mrr(obj)
        result.subscriptions[sub_id] = (obj["status"], mrr)
        per_customer[obj["customer"]] = per_customer.get(obj["customer"], 0) + mrr
    result.mrr_cents = sum(per_customer.values())
    result.active_customers = sum(1 for mrr in per_customer.values() if mrr > 0)
    return result
