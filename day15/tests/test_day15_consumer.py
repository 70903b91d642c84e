"""The consumer in-process, the same code on the real Redis and on fakeredis: what it reads, keeps and parks."""
import socket

import pytest

from day15_BUFFER_streams import DAY15_DEAD_LETTER, DAY15_STREAM, day15_Buffer, day15_encode
from day15_METRICS_saas import day15_recompute
from day15_PROCESSING_batches import day15_Consumer

# entries no ingress writes, but another producer or a hand-made XADD could: each must end in the
# dead-letter stream with all its fields and an error naming the problem, never stop the consumer
FOREIGN = [
    ({"event_id": "no-body", "received_at_ms": "1"}, "no body"),
    ({"event_id": "no-utf8", "body": b'{"id": "\xff"}', "received_at_ms": "1"}, "JSONDecodeError"),
    ({"event_id": "bad-time", "body": b'{"id": "x"}', "received_at_ms": "1 2"}, "received_at_ms"),
    ({"event_id": "not-json", "body": "{broken", "received_at_ms": "1"}, "JSONDecodeError"),
]


def _drain(consumer: day15_Consumer, buffer: day15_Buffer) -> None:
    for _ in range(50):  # a bounded number of batches: a consumer that stops making progress fails the test
        if buffer.depth() == {"lag": 0, "pending": 0}:
            return
        consumer.process(consumer.collect_batch(lambda: False), source="new")
    raise AssertionError(f"not drained: {buffer.depth()}")


def test_every_event_is_kept_once_and_every_foreign_entry_is_parked_with_its_fields(buffer, store, saas_events):
    events = saas_events[0]
    for event in events:  # repeats included: the store, not the stream, makes them count once
        buffer.redis.xadd(DAY15_STREAM, {"event_id": event["id"], "body": day15_encode(event), "received_at_ms": 1})
    for fields, _ in FOREIGN:
        buffer.redis.xadd(DAY15_STREAM, fields)
    consumer = day15_Consumer(buffer, store, name="c", batch_size=64, max_wait_ms=10, max_retries=1, claim_idle_ms=60_000)

    _drain(consumer, buffer)

    reference = day15_recompute(events)
    summary = store.summary()
    assert summary["processed"] == reference.unique_events
    assert (summary["mrr_cents"], summary["active_customers"]) == (reference.mrr_cents, reference.active_customers)
    letters = {fields[b"event_id"].decode(): fields for _, fields in buffer.redis.xrange(DAY15_DEAD_LETTER)}
    assert set(letters) == {fields["event_id"] for fields, _ in FOREIGN}
    for fields, problem in FOREIGN:
        letter = letters[fields["event_id"]]
        assert problem in letter[b"error"].decode()
        body = fields.get("body")
        assert letter.get(b"body") == (body.encode() if isinstance(body, str) else body)
    assert consumer.acknowledged == len(events) + len(FOREIGN)


def test_the_read_script_returns_what_a_plain_xreadgroup_returns(buffer):
    for fields, _ in FOREIGN:
        buffer.redis.xadd(DAY15_STREAM, fields)
    scripted = buffer.read_new("c", 10, block_ms=0)
    plain = buffer.read_own_pending("c", 10)  # the same entries again, now pending, through redis-py's parser
    assert scripted == plain and len(scripted) == len(FOREIGN)
    assert buffer.read_new("c", 10, block_ms=0) == [] and buffer.read_new("c", 10, block_ms=20) == []


def test_a_batch_larger_than_one_script_run_is_read_in_chunks(buffer, store, monkeypatch):
    import day15_BUFFER_streams

    monkeypatch.setattr(day15_BUFFER_streams, "DAY15_READ_CHUNK", 7)  # one script run holds Redis: runs stay short
    for n in range(30):
        buffer.redis.xadd(DAY15_STREAM, {"event_id": f"e{n}", "body": "{}", "received_at_ms": "1"})
    consumer = day15_Consumer(buffer, store, name="c", batch_size=20, max_wait_ms=1_000, max_retries=1, claim_idle_ms=60_000)
    assert len(batch := consumer.collect_batch(lambda: False)) == 20
    assert len({entry.entry_id for entry in batch}) == 20


def _unique(saas_events, count: int) -> list[dict]:
    """The first `count` distinct events of the generated stream (its repeats left out)."""
    return list({event["id"]: event for event in saas_events[0]}.values())[:count]


def _queue(buffer: day15_Buffer, events: list[dict]) -> None:
    for event in events:
        buffer.redis.xadd(DAY15_STREAM, {"event_id": event["id"], "body": day15_encode(event), "received_at_ms": "1"})


def test_a_read_ahead_answers_later_with_what_a_read_would_have_returned(buffer):
    for n in range(15):
        buffer.redis.xadd(DAY15_STREAM, {"event_id": f"e{n}", "body": "{}", "received_at_ms": "1"})
    ahead = buffer.read_ahead("c", 10)
    assert buffer.depth()["lag"] in (5, 15)  # other commands go on meanwhile, on other connections
    entries = ahead.entries()
    assert entries == buffer.read_own_pending("c", 10) and len(entries) == 10
    assert buffer.read_ahead("c", 10).entries() == buffer.read_own_pending("c", 15)[10:]
    assert buffer.read_ahead("c", 10).entries() == []


def test_a_read_ahead_survives_redis_forgetting_its_scripts(buffer):
    buffer.redis.xadd(DAY15_STREAM, {"event_id": "e", "body": "{}", "received_at_ms": "1"})
    buffer.redis.script_flush()  # what a Redis restart or failover does to the script cache
    assert [entry.entry_id for entry in buffer.read_ahead("c", 10).entries()] == [
        entry.entry_id for entry in buffer.read_own_pending("c", 10)]


def test_a_consumer_told_to_stop_applies_the_batch_it_read_ahead_and_leaves_nothing_pending(buffer, store, saas_events):
    _queue(buffer, _unique(saas_events, 25))
    consumer = day15_Consumer(buffer, store, name="c", batch_size=10, max_wait_ms=10, max_retries=1, claim_idle_ms=60_000)

    consumer.run(lambda: consumer.acknowledged >= 10)  # asked to stop after the first batch, with the second read ahead

    assert consumer.acknowledged == 20
    assert buffer.depth() == {"lag": 5, "pending": 0}
    assert store.summary()["processed"] == 20


def test_a_consumer_that_fails_leaves_its_read_ahead_pending_for_its_restart(buffer, store, saas_events):
    from day15_PROCESSING_batches import day15_ConsumerHooks

    _queue(buffer, _unique(saas_events, 25))

    class Crash(BaseException):  # the process dies (an Exception would be isolated to its batch's entries)
        pass

    def crash() -> None:
        raise Crash("the process is going down mid-transaction")

    failing = day15_Consumer(buffer, store, name="c", batch_size=10, max_wait_ms=10, max_retries=5, claim_idle_ms=60_000,
                             hooks=day15_ConsumerHooks(before_commit=crash))
    with pytest.raises(Crash):
        failing.run(lambda: False)
    assert buffer.depth() == {"lag": 5, "pending": 20}  # the failed batch and the one read ahead
    assert buffer.redis.connection_pool._in_use_connections == set()  # the read ahead gave its connection back

    restarted = day15_Consumer(buffer, store, name="c", batch_size=10, max_wait_ms=10, max_retries=5, claim_idle_ms=60_000)
    restarted.run(lambda: buffer.depth() == {"lag": 0, "pending": 0})
    assert store.summary()["processed"] == 25


def test_a_read_ahead_whose_connection_dies_reads_again_and_loses_nothing(real_redis):
    buffer = day15_Buffer(real_redis)
    buffer.ensure_group()
    for n in range(15):
        real_redis.xadd(DAY15_STREAM, {"event_id": f"e{n}", "body": "{}", "received_at_ms": "1"})
    ahead = buffer.read_ahead("c", 10)
    ahead._connection._sock.shutdown(socket.SHUT_RDWR)  # the connection dies with the read's answer unread

    entries = ahead.entries()  # no error: read again the ordinary way

    pending = {entry.entry_id for entry in buffer.read_own_pending("c", 100)}
    assert entries and {entry.entry_id for entry in entries} <= pending
    assert len(pending) + buffer.depth()["lag"] == 15  # the lost answer's entries are pending, for the janitor
    assert len(buffer.claim_idle("c", 0, 100)) == len(pending)


def test_a_poison_entry_is_parked_alone_the_rest_of_its_batch_is_applied_and_the_consumer_runs_on(
        buffer, store, saas_events, monkeypatch):
    """Entries an older ingress accepted (created in milliseconds, an amount at 2^63) and one that passes
    validation but makes the store raise something that is no database error: each is dead-lettered on
    its own with its error, at once (retrying a deterministic failure cannot help)."""
    import copy

    import day15_STORE_analytics

    events = list({e["id"]: e for e in saas_events[0]}.values())[:60]
    subscription = next(e for e in events if e["type"] == "customer.subscription.created")
    in_ms = {**events[0], "id": "evt_ms", "created": events[0]["created"] * 1000}
    huge = copy.deepcopy(subscription)
    huge["id"] = "evt_huge"
    huge["data"]["object"]["items"]["data"][0]["price"]["unit_amount"] = 2**63
    boom = copy.deepcopy(subscription)
    boom["id"], boom["data"]["object"]["id"] = "evt_boom", "sub_boom"
    real_mrr = day15_STORE_analytics.day15_subscription_mrr

    def mrr(obj):
        if obj["id"] == "sub_boom":
            raise RuntimeError("the store cannot take this one")
        return real_mrr(obj)

    monkeypatch.setattr(day15_STORE_analytics, "day15_subscription_mrr", mrr)
    entries = events[:20] + [in_ms] + events[20:40] + [huge, boom] + events[40:]
    for event in entries:
        buffer.redis.xadd(DAY15_STREAM, {"event_id": event["id"], "body": day15_encode(event), "received_at_ms": 1})
    consumer = day15_Consumer(buffer, store, name="c", batch_size=100, max_wait_ms=10, max_retries=5,
                              claim_idle_ms=60_000)

    consumer.run(lambda: buffer.depth() == {"lag": 0, "pending": 0})  # returns: no event makes it raise

    letters = {fields[b"event_id"].decode(): fields[b"error"].decode() for _, fields in buffer.redis.xrange(DAY15_DEAD_LETTER)}
    assert set(letters) == {"evt_ms", "evt_huge", "evt_boom"}
    assert "created" in letters["evt_ms"] and "unit_amount" in letters["evt_huge"]
    assert "RuntimeError" in letters["evt_boom"]
    assert store.summary()["processed"] == len(events)
