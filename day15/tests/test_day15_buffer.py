"""What ingress puts in the stream, on the real Redis and on fakeredis: every event intact, each id once."""
from day15_BUFFER_streams import DAY15_ATTEMPTS, DAY15_STREAM


def _stream(buffer) -> list[dict]:
    return [{k.decode(): v for k, v in fields.items()} for _, fields in buffer.redis.xrange(DAY15_STREAM)]


def test_every_event_is_queued_byte_for_byte_with_its_id_and_receipt_time(buffer):
    events = [("evt 1", b'{"a": 1}'), ("évt-2", '{"name": "Zoë 🚀"}'), ("3", b""), ("evt_4", b'{"x": "1 2 3"}')]

    assert buffer.enqueue(events, 1_700_000_000_123) == [True] * 4

    assert _stream(buffer) == [{"event_id": event_id.encode(), "body": body if isinstance(body, bytes) else body.encode(),
                                "received_at_ms": b"1700000000123"} for event_id, body in events]


def test_an_id_seen_before_in_the_same_request_or_an_earlier_one_is_a_duplicate(buffer):
    assert buffer.enqueue([("a", b"1"), ("b", b"2"), ("a", b"3")], 1) == [True, True, False]
    assert buffer.enqueue([("b", b"4"), ("c", b"5")], 2, ignored=1) == [False, True]

    assert [fields["body"] for fields in _stream(buffer)] == [b"1", b"2", b"5"]
    counters = buffer.counters()
    assert (counters["received"], counters["queued"], counters["duplicates"], counters["ignored"]) == (6, 3, 2, 1)


def test_acknowledging_a_batch_larger_than_one_unpack_clears_it_and_its_attempt_counters(buffer):
    for n in range(2_500):
        buffer.redis.xadd(DAY15_STREAM, {"event_id": f"e{n}", "body": "{}", "received_at_ms": "1"})
    ids = []
    while entries := buffer.read_new("c", 2_500, block_ms=0):
        ids += [entry.entry_id for entry in entries]
    assert len(set(ids)) == 2_500
    attempts = buffer.record_attempts(ids, first_delivery=False)  # as a re-delivery would count them
    assert set(attempts.values()) == {2}

    buffer.ack(ids, first_delivery=False)

    assert buffer.depth() == {"lag": 0, "pending": 0}
    assert buffer.redis.hlen(DAY15_ATTEMPTS) == 0
