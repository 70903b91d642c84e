"""Per-type validation, the metric definitions, and effectively-once application in the store."""
import json
import random

import pytest

from day15_EVENTS_validation import day15_InvalidEvent, day15_validate_event
from day15_METRICS_saas import day15_movement, day15_recompute, day15_subscription_mrr
from day15_STORE_analytics import day15_StoredEvent


def _subscription(unit_amount=4900, quantity=1, interval="month", count=1, status="active"):
    return {"id": "sub_1", "customer": "cus_1", "status": status, "items": {"data": [
        {"quantity": quantity, "price": {"unit_amount": unit_amount, "currency": "usd",
                                         "recurring": {"interval": interval, "interval_count": count}}}]}}


def test_every_generated_event_is_valid_and_every_malformed_one_is_named(saas_events):
    events, malformed, _ = saas_events
    assert all(day15_validate_event(e) for e in events)
    fields = []
    for body in malformed:
        try:
            day15_validate_event(json.loads(body))
        except json.JSONDecodeError:
            fields.append("not json")
        except day15_InvalidEvent as exc:
            fields.append(exc.field)
    assert fields == ["data", "data.object.items.data[0].price.unit_amount", "data.object.items.data[0].price.currency",
                      "created", "data.object.items.data[0].quantity", "not json", "event"]


@pytest.mark.parametrize(("sub", "mrr"), [
    (_subscription(4900), 4900),
    (_subscription(2900, quantity=3), 8700),
    (_subscription(49000, interval="year"), 4083),           # 490.00 a year is 40.83 a month
    (_subscription(13500, interval="month", count=3), 4500),  # quarterly
    (_subscription(1000, interval="week"), 4333),            # 52 weeks / 12 months
    (_subscription(4900, status="trialing"), 0),
    (_subscription(4900, status="past_due"), 4900),
    (_subscription(4900, status="canceled"), 0),
])
def test_mrr_is_normalised_to_a_month_in_integer_cents(sub, mrr):
    assert day15_subscription_mrr(sub) == mrr


@pytest.mark.parametrize(("old", "new", "had", "kind"), [
    (0, 4900, False, "new"), (0, 4900, True, "reactivation"), (4900, 9800, True, "expansion"),
    (9800, 4900, True, "contraction"), (4900, 0, True, "churn"), (4900, 4900, True, None),
])
def test_movement_classification(old, new, had, kind):
    assert day15_movement(old, new, had) == kind


def test_recomputation_does_not_depend_on_delivery_order(saas_events):
    events, _, _ = saas_events
    shuffled = events[:]
    random.Random(3).shuffle(shuffled)
    a, b = day15_recompute(events), day15_recompute(shuffled)
    assert (a.mrr_cents, a.active_customers, a.subscriptions) == (b.mrr_cents, b.active_customers, b.subscriptions)


def _batch(events):
    return [day15_StoredEvent(str(n), e, 1_000) for n, e in enumerate(events)]


def test_the_store_applies_each_event_once_whatever_the_order_and_repeats(store, saas_events):
    events, _, _ = saas_events
    shuffled = events[:]
    random.Random(5).shuffle(shuffled)
    news = [store.apply_batch(_batch(shuffled[i:i + 37]), 2_000) for i in range(0, len(shuffled), 37)]
    assert sum(news) == len({e["id"] for e in events})
    assert store.apply_batch(_batch(events[:100]), 3_000) == 0  # a redelivered batch changes nothing
    reference = day15_recompute(events)
    summary = store.summary()
    assert (summary["mrr_cents"], summary["active_customers"]) == (reference.mrr_cents, reference.active_customers)
    assert store.subscription_states() == reference.subscriptions
    assert summary["processed"] == reference.unique_events


def test_movements_add_up_to_the_mrr(store, saas_events):
    events, _, _ = saas_events
    store.apply_batch(_batch(events), 2_000)
    summary = store.summary(window_days=3650)
    assert sum(summary["movements_cents"].values()) == summary["mrr_cents"]
