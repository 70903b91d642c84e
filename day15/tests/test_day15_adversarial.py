"""Adversarial inputs found after the robustness round: each test failed on the code before its fix.

- A string the store cannot hold (NUL, other C0 control characters) in an id, customer or user was
  answered 202 and then failed in the consumer on PostgreSQL (text columns refuse NUL): a 202 never stored.
- Correctly signed subscriptions at the bounds each carried up to ~6e16 cents of MRR, so about 150 of them
  overflowed int64: SQLite's SUM raised "integer overflow" and /metrics and /api/summary answered 500 for
  good, and one customer's MRR column overflowed (its later events dead-lettered after their 202).
"""
from __future__ import annotations

import copy
import json

import pytest

from day15_EVENTS_validation import DAY15_MAX_SUBSCRIPTION_MRR, day15_InvalidEvent, day15_validate_event
from day15_METRICS_saas import day15_subscription_mrr
from day15_SIGNING_webhooks import day15_sign
from day15_STORE_analytics import day15_StoredEvent

CREATED = 1_767_225_600  # 2026-01-01


def _sub_event(event_id: str, sub_id: str, customer: str, *, amount=4900, quantity=1, interval="month", items=1) -> dict:
    item = {"quantity": quantity, "price": {"unit_amount": amount, "currency": "usd",
                                            "recurring": {"interval": interval, "interval_count": 1}}}
    return {"id": event_id, "type": "customer.subscription.created", "created": CREATED, "data": {"object": {
        "id": sub_id, "customer": customer, "status": "active", "items": {"data": [copy.deepcopy(item) for _ in range(items)]}}}}


@pytest.mark.parametrize("bad", ["a\x00b", "\x00", "cus\x01", "x\x1f", "tab\tid", "new\nline", "del\x7f"])
@pytest.mark.parametrize("where", ["id", "data.object.id", "data.object.customer"])
def test_control_characters_in_stored_strings_are_a_400_naming_the_field(bad, where):
    event = _sub_event("evt_1", "sub_1", "cus_1")
    target, key = (event, "id") if where == "id" else (event["data"]["object"], where.rsplit(".", 1)[1])
    target[key] = bad
    with pytest.raises(day15_InvalidEvent) as caught:
        day15_validate_event(event)
    assert caught.value.field == where


def test_control_characters_are_refused_at_the_door_as_json_and_counted(client, secret, fake_buffer):
    body = json.dumps({"id": "evt\u0000x", "type": "user.activity", "created": CREATED,
                       "data": {"object": {"user": "u1", "customer": "c1"}}}).encode()
    response = client.post("/webhook/events", data=body, headers=day15_sign(secret, "msg_nul", body))
    assert response.status_code == 400 and response.get_json()["field"] == "id"
    assert fake_buffer.counters().get("queued", 0) == 0 and fake_buffer.counters()["rejected"] == 1


def test_ordinary_unicode_ids_still_pass():
    day15_validate_event(_sub_event("évt_ü_😀", "sub_日本", "cus_ñ"))


def test_a_subscription_mrr_past_the_documented_cap_is_a_400():
    at_bounds = _sub_event("evt_big", "sub_big", "cus_big", amount=99_999_999, quantity=1_000_000, interval="day", items=20)
    with pytest.raises(day15_InvalidEvent) as caught:
        day15_validate_event(at_bounds)
    assert caught.value.field == "data.object.items"
    plan = _sub_event("evt_ok", "sub_ok", "cus_ok", amount=99_999_999, quantity=10)  # a $10M/month plan still passes
    assert day15_subscription_mrr(plan["data"]["object"]) <= DAY15_MAX_SUBSCRIPTION_MRR
    day15_validate_event(plan)


def test_many_subscriptions_at_the_cap_neither_overflow_the_store_nor_break_the_summary(store):
    """Within the cap, int64 holds ~9e8 maxed subscriptions. The largest events the door accepts, for one
    customer and across customers, are all stored, and the summary still answers."""
    amount = 99_999_999
    quantity = DAY15_MAX_SUBSCRIPTION_MRR // amount  # the largest monthly plan under the cap
    events = [_sub_event(f"evt_{n}", f"sub_{n}", "cus_whale" if n % 2 else f"cus_{n}", amount=amount, quantity=quantity)
              for n in range(400)]
    for event in events:
        day15_validate_event(event)
    stored = [day15_StoredEvent(f"1-{n}", e, 1, json.dumps(e)) for n, e in enumerate(events)]
    assert store.apply_batch(stored, 2) == 400
    summary = store.summary()
    assert summary["mrr_cents"] == 400 * amount * quantity
    assert summary["processed"] == 400


def test_the_summary_survives_sums_past_int64(store):
    """Defence in depth: even rows whose sum passes int64 (written before the cap, or by hand) do not
    turn /metrics and /api/summary into a 500."""
    from sqlalchemy import insert

    from day15_STORE_analytics import day15_customers, day15_movements

    big = 2**62
    with store.engine.begin() as conn:
        conn.execute(insert(day15_customers), [{"customer_id": f"c{n}", "mrr_cents": big, "had_mrr": True} for n in range(4)])
        conn.execute(insert(day15_movements), [{"event_id": f"e{n}", "day": "2099-01-01", "customer_id": f"c{n}",
                                                "kind": "new", "delta_cents": big} for n in range(4)])
    summary = store.summary()
    assert summary["mrr_cents"] == 4 * big and summary["active_customers"] == 4
    assert summary["movements_cents"]["new"] == 4 * big


TOKEN = "t0ken-for-the-revenue-pages"


@pytest.mark.parametrize("token", [" " * 16, " " + TOKEN, TOKEN + " ", TOKEN + "\t", "\n" + TOKEN, "t0ken\x00" + TOKEN,
                                   TOKEN + "\x7f"])
def test_a_dashboard_token_no_header_can_carry_stops_start_up_without_printing_it(token):
    """Such a token was accepted, and then every request was a 401: the header is stripped and cannot hold
    control characters, so the operator was locked out of the revenue pages with no hint why."""
    from day15_CONFIG_settings import day15_ConfigError, day15_load_settings

    with pytest.raises(day15_ConfigError, match=r"^DAY15_DASHBOARD_TOKEN: must not start or end with whitespace") as caught:
        day15_load_settings(env_file=None, webhook_host="0.0.0.0", dashboard_token=token)
    assert TOKEN not in str(caught.value)


def test_a_token_with_inner_spaces_or_unicode_still_works(fake_buffer, store, secret):
    import base64

    from day15_CONFIG_settings import day15_load_settings
    from day15_INGRESS_app import day15_create_app

    token = "correct horse battery staple ü"
    settings = day15_load_settings(env_file=None, webhook_host="0.0.0.0", dashboard_token=token)
    client = day15_create_app(fake_buffer, store, [secret], max_body_bytes=64_000, max_batch_events=50,
                              dashboard_token=settings.dashboard_token.get_secret_value()).test_client()
    basic = base64.b64encode(b"any:" + token.encode()).decode()
    stranger = {"REMOTE_ADDR": "203.0.113.7"}
    assert client.get("/metrics", headers={"Authorization": f"Basic {basic}"}, environ_base=stranger).status_code == 200
    assert client.get("/metrics", environ_base=stranger).status_code == 401


def test_a_subscription_that_changes_customer_moves_its_mrr(store):
    """Stripe never moves a subscription, but a correctly signed event can say it did. The store subtracted the
    old MRR from the *new* customer: cus_A kept 4900 for ever and cus_B went to -4900 on cancellation, so
    active customers (1 instead of 0) and ARPU differed from the recomputation from raw events."""
    from day15_METRICS_saas import day15_recompute

    events = [_sub_event("evt_a", "sub_1", "cus_A"), _sub_event("evt_b", "sub_1", "cus_B")]
    events[1]["created"] += 100
    cancel = _sub_event("evt_c", "sub_1", "cus_B")
    cancel["created"] += 200
    cancel["data"]["object"]["status"] = "canceled"
    events.append(cancel)
    for n, event in enumerate(events):
        store.apply_batch([day15_StoredEvent(f"1-{n}", event, 1, json.dumps(event))], 2)
    expected = day15_recompute(events)
    summary = store.summary()
    assert (summary["mrr_cents"], summary["active_customers"]) == (expected.mrr_cents, expected.active_customers)


@pytest.mark.parametrize("depth", [254, 300, 1000])
def test_deeply_nested_events_in_a_batch_are_a_400_or_queued_never_a_500(client, secret, fake_buffer, depth):
    """orjson parses up to 1,024 levels but encodes only up to 254: a batch whose event nested deeper in
    an extra field parsed, validated, and then made the re-encoding raise, a 500 (the fuzz tests keep to
    shallow JSON). It is refused as a 400 naming the event; nothing of the batch is queued."""
    nested = "[" * depth + "]" * depth
    good = ('{"id":"evt_ok","type":"user.activity","created":%d,"data":{"object":{"user":"u","customer":"c"}}}' % CREATED)
    deep = ('{"id":"evt_deep","type":"user.activity","created":%d,"data":{"object":{"user":"u","customer":"c","x":%s}}}'
            % (CREATED, nested))
    body = ('{"events":[%s,%s]}' % (good, deep)).encode()
    response = client.post("/webhook/batch", data=body, headers=day15_sign(secret, "msg_deep", body))
    assert response.status_code in (202, 400), response.data[:200]
    assert response.is_json
    counters = fake_buffer.counters()
    if response.status_code == 400:
        assert response.get_json()["field"] == "events[1]"
        assert counters.get("queued", 0) == 0 and counters["rejected"] == 1
    else:
        assert counters["queued"] == 2 and fake_buffer.depth()["lag"] == 2
