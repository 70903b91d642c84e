"""The webhook endpoints through Flask's test client on an in-process fakeredis."""
import json
from datetime import datetime, timedelta, timezone

import pytest

from day15_BUFFER_streams import DAY15_STREAM, day15_Buffer
from day15_SIGNING_webhooks import day15_sign


def _post(client, path, secret, payload, msg_id="msg_1", when=None, raw=None):
    body = raw if raw is not None else json.dumps(payload).encode()
    return client.post(path, data=body, headers=day15_sign(secret, msg_id, body, when))


def test_an_event_is_answered_202_only_once_it_is_in_the_stream(client, secret, saas_events, fake_buffer):
    event = saas_events[0][0]
    response = _post(client, "/webhook/events", secret, event)
    assert response.status_code == 202 and response.json == {"id": event["id"], "status": "queued", "duplicate": False}
    ((_, fields),) = fake_buffer.redis.xrange(DAY15_STREAM)
    assert json.loads(fields[b"body"])["id"] == event["id"] and int(fields[b"received_at_ms"]) > 0


def test_a_redelivered_event_is_200_duplicate_and_not_queued_again(client, secret, saas_events, fake_buffer):
    event = saas_events[0][0]
    _post(client, "/webhook/events", secret, event)
    again = _post(client, "/webhook/events", secret, event, msg_id="msg_retry")
    assert again.status_code == 200 and again.json["duplicate"] is True
    assert fake_buffer.redis.xlen(DAY15_STREAM) == 1


def test_a_batch_reports_each_event(client, secret, saas_events):
    events = list({e["id"]: e for e in saas_events[0][:40]}.values())[:10]  # ten distinct events
    response = _post(client, "/webhook/batch", secret, {"events": events + events[:2]})
    assert response.status_code == 202
    assert (response.json["queued"], response.json["duplicate"]) == (10, 2)


@pytest.mark.parametrize(("headers", "detail"), [
    ({}, "missing header"), ({"webhook-id": "m", "webhook-timestamp": "1", "webhook-signature": "v1,AAAA"}, "too old"),
])
def test_unsigned_or_stale_requests_get_401(client, saas_events, headers, detail):
    response = client.post("/webhook/events", data=json.dumps(saas_events[0][0]), headers=headers)
    assert response.status_code == 401 and detail in response.json["detail"]


def test_an_expired_but_correctly_signed_request_is_a_replay_and_gets_401(client, secret, saas_events):
    old = datetime.now(timezone.utc) - timedelta(minutes=10)
    assert _post(client, "/webhook/events", secret, saas_events[0][0], when=old).status_code == 401


def test_an_invalid_event_gets_400_naming_the_field(client, secret, saas_events):
    event = json.loads(json.dumps(next(e for e in saas_events[0] if e["type"] == "customer.subscription.created")))
    event["data"]["object"]["items"]["data"][0]["price"]["unit_amount"] = 49.99
    response = _post(client, "/webhook/batch", secret, {"events": [saas_events[0][0], event]})
    assert response.status_code == 400
    assert response.json["field"] == "events[1].data.object.items.data[0].price.unit_amount"


def test_bodies_over_the_limit_get_413_and_oversized_batches_too(client, secret, saas_events):
    assert _post(client, "/webhook/events", secret, None, raw=b"{" + b" " * 70_000 + b"}").status_code == 413
    assert _post(client, "/webhook/batch", secret, {"events": saas_events[0][:51]}).status_code == 413


def test_unknown_event_types_are_acknowledged_and_ignored(client, secret, fake_buffer):
    event = {"id": "evt_new_kind", "type": "invoice.finalized", "created": 1_767_225_600, "data": {"object": {}}}
    response = _post(client, "/webhook/events", secret, event)
    assert response.status_code == 200 and response.json["status"] == "ignored"
    assert fake_buffer.redis.xlen(DAY15_STREAM) == 0


def test_redis_down_means_503_with_retry_after_and_nothing_stored(store, secret, saas_events):
    import redis

    from day15_INGRESS_app import day15_create_app

    dead = day15_Buffer(redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2))
    client = day15_create_app(dead, store, [secret], max_body_bytes=64_000, max_batch_events=50).test_client()
    response = _post(client, "/webhook/events", secret, saas_events[0][0])
    assert response.status_code == 503 and response.headers["Retry-After"] == "5"
    assert client.get("/health").status_code == 503


def test_health_and_metrics_report_the_queue(client, secret, saas_events):
    _post(client, "/webhook/batch", secret, {"events": list({e["id"]: e for e in saas_events[0][:20]}.values())[:5]})
    client.post("/webhook/events", data=b"{}")  # unsigned: rejected
    assert client.get("/health").json == {"status": "ok", "redis": "ok", "lag": 5, "pending": 0}
    metrics = client.get("/metrics").json
    assert (metrics["queued"], metrics["rejected"], metrics["queue_depth"]) == (5, 1, 5)
    text = client.get("/metrics?format=prometheus").get_data(as_text=True)
    assert "day15_queued_total 5" in text and "day15_queue_depth 5" in text


def test_errors_are_json_even_for_wrong_methods_and_paths(client):
    assert client.get("/webhook/events").status_code == 405
    assert client.get("/nowhere").json["error"] == "Not Found"


def test_the_dashboard_page_and_its_data(client):
    assert b"SaaS analytics" in client.get("/").data
    assert set(client.get("/api/summary").json) >= {"mrr_cents", "active_customers", "dau", "mau", "pipeline"}


def _subscription_event(saas_events) -> dict:
    return json.loads(json.dumps(next(e for e in saas_events[0] if e["type"] == "customer.subscription.created")))


def _set(event: dict, path: str, value) -> dict:
    *parents, last = path.replace("[0]", ".0").split(".")
    target = event
    for key in parents:
        target = target[int(key)] if key.isdigit() else target[key]
    target[last] = value
    return event


ITEM = "data.object.items.data[0]"


@pytest.mark.parametrize(("path", "value"), [
    ("created", 1_767_225_600_000),  # milliseconds, not seconds
    ("created", 2**63), ("created", -1), ("created", 0),
    (f"{ITEM}.quantity", 2**63), (f"{ITEM}.quantity", 1_000_001),
    (f"{ITEM}.price.unit_amount", 2**63), (f"{ITEM}.price.unit_amount", 100_000_000),
    (f"{ITEM}.price.recurring.interval_count", 10**12),
    ("id", "e" * 256), ("data.object.customer", "c" * 256), ("data.object.id", ""),
])
def test_every_field_out_of_range_gets_400_naming_it_without_a_leading_dot(client, secret, saas_events, path, value):
    event = _set(_subscription_event(saas_events), path, value)
    response = _post(client, "/webhook/events", secret, event)
    assert response.status_code == 400, response.json
    assert response.json["field"] == path
    batch = _post(client, "/webhook/batch", secret, {"events": [event]}, msg_id="msg_2")
    assert batch.status_code == 400 and batch.json["field"] == f"events[0].{path}"


def test_too_many_subscription_items_get_400(client, secret, saas_events):
    event = _subscription_event(saas_events)
    items = event["data"]["object"]["items"]["data"]
    items.extend(items[0] for _ in range(20))
    response = _post(client, "/webhook/events", secret, event)
    assert response.status_code == 400 and response.json["field"] == "data.object.items.data"


def test_a_frozen_redis_gets_503_with_retry_after_and_health_within_a_second(store, secret, saas_events):
    """A Redis that accepts connections and never answers (SIGSTOP, a hung host): short timeouts and the
    remembered outage bound every answer, instead of each request waiting seconds."""
    import socket
    import time

    from day15_BUFFER_streams import day15_redis_client
    from day15_CONFIG_settings import day15_load_settings
    from day15_INGRESS_app import day15_create_app

    frozen = socket.socket()
    frozen.bind(("127.0.0.1", 0))
    frozen.listen(64)  # the kernel completes connections; nobody ever reads them
    try:
        settings = day15_load_settings(env_file=None, redis_host="127.0.0.1", redis_port=frozen.getsockname()[1])
        client = day15_create_app(day15_Buffer(day15_redis_client(settings, role="webhook")), store, [secret],
                                  max_body_bytes=64_000, max_batch_events=50).test_client()
        events = list({e["id"]: e for e in saas_events[0]}.values())
        for n, event in enumerate(events[:5]):
            started = time.monotonic()
            response = _post(client, "/webhook/events", secret, event, msg_id=f"msg_{n}")
            assert response.status_code == 503 and response.headers["Retry-After"] == "5"
            assert time.monotonic() - started < 1.0
        for _ in range(3):
            started = time.monotonic()
            health = client.get("/health")
            assert health.status_code == 503 and health.json["redis"] == "unreachable"
            assert time.monotonic() - started < 1.0
            time.sleep(0.6)
        metrics = client.get("/metrics")
        assert metrics.status_code == 503 and metrics.json["unavailable"] == 5 and metrics.json["redis_outages"] == 1
    finally:
        frozen.close()
