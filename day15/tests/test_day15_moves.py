"""A subscription whose events name another customer (Stripe never does it; a correctly signed event can).

The store must end where day15_recompute ends, whatever the delivery order and batching: each
subscription's latest-created event decides its state and its customer, and a move is two movements,
the old customer's and the new one's.
"""
from __future__ import annotations

import json
from collections import Counter

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from day15_METRICS_saas import day15_recompute
from day15_STORE_analytics import (day15_create_engine, day15_customers, day15_movements, day15_Store,
                                   day15_StoredEvent, day15_subscriptions)

CREATED = 1_767_225_600  # 2026-01-01
SUBSCRIPTIONS = ("sub_1", "sub_2", "sub_3")
CUSTOMERS = ("cus_A", "cus_B", "cus_C")
STATUSES = ("active", "past_due", "trialing", "canceled")  # two carry MRR, two do not
GROWTH = {"new": 1, "reactivation": 1, "expansion": 1, "contraction": -1, "churn": -1}


def _event(event_id: str, sub_id: str, customer: str, *, at: int = 0, status: str = "active", amount: int = 4900,
           quantity: int = 1, kind: str = "updated") -> dict:
    item = {"quantity": quantity, "price": {"unit_amount": amount, "currency": "usd",
                                            "recurring": {"interval": "month", "interval_count": 1}}}
    return {"id": event_id, "type": f"customer.subscription.{kind}", "created": CREATED + at,
            "data": {"object": {"id": sub_id, "customer": customer, "status": status, "items": {"data": [item]}}}}


def _apply(store: day15_Store, batches: list[list[dict]]) -> None:
    for n, batch in enumerate(batches):
        store.apply_batch([day15_StoredEvent(f"{n}-{i}", e, 1, json.dumps(e)) for i, e in enumerate(batch)], 2)


def _customer_mrr(store: day15_Store) -> dict[str, int]:
    with store.engine.connect() as conn:
        return {r.customer_id: r.mrr_cents for r in conn.execute(select(day15_customers)) if r.mrr_cents}


def _movements(store: day15_Store) -> list[tuple[str, str, str, int]]:
    with store.engine.connect() as conn:
        return sorted((r.event_id, r.customer_id, r.kind, r.delta_cents) for r in conn.execute(select(day15_movements)))


def _assert_agrees_with_the_recomputation(store: day15_Store, events: list[dict]) -> None:
    reference = day15_recompute(events)
    assert _customer_mrr(store) == {c: m for c, m in reference.customer_mrr.items() if m}
    summary = store.summary(window_days=36_500)
    assert (summary["mrr_cents"], summary["active_customers"]) == (reference.mrr_cents, reference.active_customers)
    assert summary["arpu_cents"] == (reference.mrr_cents // reference.active_customers if reference.active_customers else 0)
    assert store.subscription_states() == reference.subscriptions
    latest = {}
    for event in sorted({e["id"]: e for e in events}.values(), key=lambda e: (e["created"], e["id"])):
        latest[event["data"]["object"]["id"]] = event["data"]["object"]["customer"]
    with store.engine.connect() as conn:
        assert {r.subscription_id: r.customer_id for r in conn.execute(select(day15_subscriptions))} == latest
    # movements add up to each customer's MRR, and each one's kind says which way it went
    per_customer = Counter()
    for _, customer, kind, delta in _movements(store):
        per_customer[customer] += delta
        assert delta * GROWTH[kind] > 0, (customer, kind, delta)
    assert {c: m for c, m in per_customer.items() if m} == _customer_mrr(store)


MOVES = [  # A -> B -> canceled -> back to A at a higher price, with a second subscription keeping A active
    _event("evt_1", "sub_1", "cus_A", at=0, kind="created"),
    _event("evt_2", "sub_2", "cus_A", at=10, amount=1000, kind="created"),
    _event("evt_3", "sub_1", "cus_B", at=20),
    _event("evt_4", "sub_1", "cus_B", at=30, status="canceled", kind="deleted"),
    _event("evt_5", "sub_1", "cus_A", at=40, amount=9900),
    _event("evt_6", "sub_2", "cus_C", at=50, amount=2000, quantity=2),
]


@pytest.mark.parametrize("order", ["in order", "reversed", "newest first", "shuffled"])
@pytest.mark.parametrize("batching", ["one batch", "one event per batch", "pairs"])
def test_moves_agree_with_the_recomputation_on_both_stores(any_store, order, batching):
    events = {"in order": MOVES, "reversed": MOVES[::-1], "newest first": [MOVES[4], *MOVES[:4], MOVES[5]],
              "shuffled": [MOVES[i] for i in (0, 3, 2, 5, 1, 4)]}[order]
    size = {"one batch": len(events), "one event per batch": 1, "pairs": 2}[batching]
    _apply(any_store, [events[i:i + size] for i in range(0, len(events), size)])
    _assert_agrees_with_the_recomputation(any_store, events)


def test_a_move_records_a_movement_for_each_customer(store):
    _apply(store, [[MOVES[0]], [MOVES[2]]])
    assert _movements(store) == [("evt_1", "cus_A", "new", 4900),
                                 ("evt_3", "cus_A", "churn", -4900), ("evt_3", "cus_B", "new", 4900)]
    _apply(store, [[MOVES[1]], [MOVES[3]], [MOVES[4]], [MOVES[5]]])
    assert _movements(store) == [
        ("evt_1", "cus_A", "new", 4900),
        ("evt_2", "cus_A", "reactivation", 1000),
        ("evt_3", "cus_A", "churn", -4900), ("evt_3", "cus_B", "new", 4900),
        ("evt_4", "cus_B", "churn", -4900),              # canceled at B: leaves nothing to move back
        ("evt_5", "cus_A", "expansion", 9900),
        ("evt_6", "cus_A", "contraction", -1000), ("evt_6", "cus_C", "new", 4000)]  # moved with a price change
    summary = store.summary(window_days=36_500)
    assert summary["movements_cents"] == {"new": 4900 + 4900 + 4000, "expansion": 9900, "contraction": -1000,
                                          "churn": -9800, "reactivation": 1000}
    assert sum(summary["movements_cents"].values()) == summary["mrr_cents"] == 9900 + 4000


def test_an_older_event_delivered_after_the_move_changes_nothing(store):
    _apply(store, [[MOVES[2]], [MOVES[0]]])  # the move to cus_B first, then sub_1's creation at cus_A
    assert _customer_mrr(store) == {"cus_B": 4900}
    assert _movements(store) == [("evt_3", "cus_B", "new", 4900)]


PROPERTY = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
subscription_events = st.lists(st.tuples(
    st.sampled_from(SUBSCRIPTIONS), st.sampled_from(CUSTOMERS), st.sampled_from(STATUSES),
    st.sampled_from((0, 1000, 4900, 9900)), st.integers(1, 3), st.integers(0, 12)), min_size=1, max_size=24)


@PROPERTY
@given(specs=subscription_events, data=st.data())
def test_any_order_and_batching_of_moves_prices_and_statuses_ends_where_the_recomputation_does(
        tmp_path_factory, specs, data):
    """Few subscriptions, customers and timestamps, so moves back and forth, ties on `created` (the id
    decides), late deliveries of older events and repeats are common."""
    events = [_event(f"evt_{n}", sub, customer, at=at, status=status, amount=amount, quantity=quantity)
              for n, (sub, customer, status, amount, quantity, at) in enumerate(specs)]
    delivered = data.draw(st.permutations(events + data.draw(st.lists(st.sampled_from(events), max_size=4))))
    cuts = sorted(set(data.draw(st.lists(st.integers(1, max(len(delivered) - 1, 1)), max_size=6))))
    batches = [delivered[a:b] for a, b in zip([0, *cuts], [*cuts, len(delivered)]) if delivered[a:b]]
    store = day15_Store(day15_create_engine(f"sqlite:///{tmp_path_factory.mktemp('moves') / 'analytics.sqlite'}"))
    try:
        _apply(store, batches)
        _assert_agrees_with_the_recomputation(store, events)
    finally:
        store.engine.dispose()


NOW = CREATED + 60 * 86_400  # the summary's "now": its 30-day window starts on day 30 after CREATED


def _at_day(day: int) -> int:
    return day * 86_400


def _logo_churn(store: day15_Store) -> float:
    from datetime import datetime, timezone

    return store.summary(now=datetime.fromtimestamp(NOW, timezone.utc))["logo_churn_pct"]


def test_logo_churn_counts_the_customers_active_at_the_window_start_and_never_passes_100_pct(any_store):
    """One customer active before the window; its subscription moves to another customer in the window, which then
    cancels. Of the one customer active at the start, one churned: 100 %. The estimate (active now + churned - gained)
    counted cus_B, who was never active at the start, among the churned: 200 %."""
    _apply(any_store, [[_event("evt_1", "sub_1", "cus_A", at=_at_day(1), kind="created")],
                       [_event("evt_2", "sub_1", "cus_B", at=_at_day(40))],
                       [_event("evt_3", "sub_1", "cus_B", at=_at_day(50), status="canceled", kind="deleted")]])
    assert _logo_churn(any_store) == 100.0


def test_logo_churn_leaves_out_a_customer_won_and_lost_in_the_window(any_store):
    """cus_A active throughout; cus_B new in the window, churned, back again: not active at the start, so neither in the
    denominator nor among the churned. The estimate took cus_B for a customer active at the start: 50 %."""
    _apply(any_store, [[_event("evt_1", "sub_1", "cus_A", at=_at_day(1), kind="created")],
                       [_event("evt_2", "sub_2", "cus_B", at=_at_day(35), kind="created")],
                       [_event("evt_3", "sub_2", "cus_B", at=_at_day(40), status="canceled", kind="deleted")],
                       [_event("evt_4", "sub_2", "cus_B", at=_at_day(45))]])
    assert _logo_churn(any_store) == 0.0
