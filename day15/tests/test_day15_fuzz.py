"""Property-based fuzzing of both endpoints: any request gets a 2xx or 4xx, never a 5xx; forged,
expired and replayed signatures never get an event processed twice."""
import json
from datetime import datetime, timedelta, timezone

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from day15_EVENTS_validation import DAY15_CREATED_MAX, DAY15_CREATED_MIN, day15_InvalidEvent, day15_validate_event
from day15_SIGNING_webhooks import day15_new_secret, day15_sign

PATHS = ("/webhook/events", "/webhook/batch")
HEADER_NAMES = ("webhook-id", "webhook-timestamp", "webhook-signature", "content-type")
ascii_text = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=80)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | ascii_text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(ascii_text, inner, max_size=5), max_leaves=20)
FUZZ = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@FUZZ
@given(body=st.binary(max_size=3000), headers=st.dictionaries(st.sampled_from(HEADER_NAMES), ascii_text))
def test_arbitrary_bytes_and_headers_never_cause_a_5xx(client, body, headers):
    for path in PATHS:
        assert client.post(path, data=body, headers=headers).status_code < 500


@FUZZ
@given(payload=json_values)
def test_correctly_signed_arbitrary_json_never_causes_a_5xx(client, secret, payload):
    body = json.dumps(payload).encode()
    for path in PATHS:
        status = client.post(path, data=body, headers=day15_sign(secret, "msg_fuzz", body)).status_code
        assert status in (200, 202, 400, 413)


@FUZZ
@given(event=st.fixed_dictionaries({"id": ascii_text.filter(bool), "type": st.just("user.activity"),
                                     "created": st.integers(DAY15_CREATED_MIN, DAY15_CREATED_MAX - 1), "data": st.fixed_dictionaries(
                                         {"object": st.fixed_dictionaries({"user": ascii_text.filter(bool),
                                                                           "customer": ascii_text.filter(bool)})})}),
       minutes_old=st.integers(6, 10_000))
def test_forged_expired_and_replayed_signatures_never_queue_twice(client, secret, event, minutes_old):
    body = json.dumps(event).encode()
    forged = day15_sign(day15_new_secret(), "msg_x", body)
    expired = day15_sign(secret, "msg_x", body, datetime.now(timezone.utc) - timedelta(minutes=minutes_old))
    assert client.post("/webhook/events", data=body, headers=forged).status_code == 401
    assert client.post("/webhook/events", data=body, headers=expired).status_code == 401
    good = day15_sign(secret, "msg_x", body)
    first = client.post("/webhook/events", data=body, headers=good)
    replay = client.post("/webhook/events", data=body, headers=good)
    assert first.status_code in (200, 202) and replay.status_code == 200
    assert replay.json["status"] == "duplicate"


@FUZZ
@given(body=st.binary(max_size=3000))
def test_correctly_signed_arbitrary_bytes_never_cause_a_5xx(client, secret, body):
    for path in PATHS:
        try:
            headers = day15_sign(secret, "msg_bytes", body)
        except UnicodeDecodeError:  # the library signs text; such a body cannot carry a valid signature
            headers = {**day15_sign(secret, "msg_bytes", b"x"), "content-type": "application/json"}
        assert client.post(path, data=body, headers=headers).status_code < 500


@FUZZ
@given(created=st.integers(-2**70, 2**70), quantity=st.integers(-2**70, 2**70), amount=st.integers(-2**70, 2**70),
       count=st.integers(-2**70, 2**70), items=st.integers(0, 25))
def test_any_integers_an_event_passes_validation_with_the_store_can_hold(store, created, quantity, amount, count, items):
    from day15_STORE_analytics import day15_StoredEvent

    item = {"quantity": quantity, "price": {"unit_amount": amount, "currency": "usd",
                                            "recurring": {"interval": "day", "interval_count": count}}}
    event = {"id": f"evt_{created}_{quantity}_{amount}_{count}_{items}", "type": "customer.subscription.updated",
             "created": created, "data": {"object": {"id": "sub_1", "customer": "cus_1", "status": "active",
                                                     "items": {"data": [item] * items}}}}
    try:
        day15_validate_event(event)
    except day15_InvalidEvent:
        return
    store.apply_batch([day15_StoredEvent("1-0", event, 1)], 2)  # never an OverflowError or a database error
