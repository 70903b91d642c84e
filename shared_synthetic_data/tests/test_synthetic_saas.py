"""Stripe-like envelopes, integer-cent prices, and the delivery defects."""
import json

import pytest

from shared_synthetic_data import saas


def _events(dataset):
    return [json.loads(line) for line in dataset.text("saas/events.jsonl").splitlines()]


@pytest.fixture(scope="module")
def clean():
    return saas.generate(size=800)


def test_every_event_has_the_stripe_envelope(clean):
    events = _events(clean)
    assert len(events) == 800 == len({e["id"] for e in events})
    for e in events:
        assert e["id"].startswith("evt_") and e["object"] == "event" and isinstance(e["created"], int)
        assert e["type"] in saas.BILLING_TYPES + saas.PRODUCT_TYPES
        assert "object" in e["data"]
    assert {e["type"] for e in events} == set(saas.BILLING_TYPES + saas.PRODUCT_TYPES)


def test_subscription_prices_are_integer_cents_with_an_interval(clean):
    for e in _events(clean):
        if e["type"].startswith("customer.subscription."):
            item = e["data"]["object"]["items"]["data"][0]
            assert isinstance(item["price"]["unit_amount"], int) and item["quantity"] >= 1
            assert item["price"]["recurring"]["interval"] in {"month", "year"}
            assert item["price"]["currency"] == "usd"


def test_updates_carry_previous_attributes(clean):
    updates = [e for e in _events(clean) if e["type"] == "customer.subscription.updated"]
    assert updates and all("items" in e["data"]["previous_attributes"] for e in updates)


def test_clean_delivery_is_in_created_order(clean):
    created = [e["created"] for e in _events(clean)]
    assert created == sorted(created)


def test_duplicates_redeliver_the_same_event():
    dataset = saas.generate(size=800, defects="duplicates")
    ids = [e["id"] for e in _events(dataset)]
    assert sorted({i for i in ids if ids.count(i) == 2}) == dataset.injected["duplicates"]


def test_out_of_order_delivers_some_events_after_newer_ones():
    dataset = saas.generate(size=800, defects="out_of_order")
    events = _events(dataset)
    late = {e["id"] for i, e in enumerate(events) if any(n["created"] < e["created"] for n in events[i + 1:i + 50])}
    assert late and sorted(dataset.injected["out_of_order"])
    assert sorted(e["id"] for e in events) == sorted(e["id"] for e in _events(saas.generate(size=800)))


def test_malformed_bodies_are_each_broken():
    dataset = saas.generate(size=200, defects="malformed")
    lines = dataset.text("saas/malformed_events.jsonl").splitlines()
    assert len(lines) == len(dataset.injected["malformed"]) == 7
    parsed = []
    for line in lines:
        try:
            parsed.append(json.loads(line))
        except json.JSONDecodeError:
            parsed.append(None)
    assert parsed.count(None) == 1
    assert any(isinstance(p, list) for p in parsed)
