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
    # received counts requests (like rejected); queued, duplicates and ignored count events
    assert (counters["received"], counters["queued"], counters["duplicates"], counters["ignored"]) == (2, 3, 2, 1)


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


def test_the_same_enqueue_call_sent_again_gets_the_first_answer_and_counts_nothing_twice(buffer):
    first = buffer.enqueue([("a", b"1"), ("b", b"2")], 1, ignored=1, request_id="req-1")
    again = buffer.enqueue([("a", b"1"), ("b", b"2")], 1, ignored=1, request_id="req-1")
    assert first == again == [True, True]
    assert buffer.counters() == {"received": 1, "queued": 2, "ignored": 1}
    assert buffer.redis.xlen(DAY15_STREAM) == 2
    assert buffer.enqueue([("a", b"1")], 2, request_id="req-2") == [False]  # a new request: a true duplicate


def test_when_redis_py_retries_a_timed_out_enqueue_a_first_delivery_is_not_a_duplicate(real_redis, monkeypatch):
    """Redis ran the script but its answer timed out (a frozen or overloaded Redis): redis-py sends the
    same EVALSHA again on a new connection. The first delivery must still come back queued, once."""
    import redis

    from day15_BUFFER_streams import day15_Buffer, day15_redis_client
    from day15_CONFIG_settings import day15_load_settings

    kwargs = real_redis.connection_pool.connection_kwargs
    settings = day15_load_settings(env_file=None, redis_host=kwargs["host"], redis_port=kwargs["port"], redis_db=kwargs["db"])
    buffer = day15_Buffer(day15_redis_client(settings, role="webhook"))
    buffer.ensure_group()
    connection_class = buffer.redis.connection_pool.connection_class
    real_read, timed_out = connection_class.read_response, []

    def read_response(self, *args, **kwargs):
        reply = real_read(self, *args, **kwargs)  # Redis has run the command...
        if not timed_out and isinstance(reply, bytes) and reply == b"1":
            timed_out.append(True)
            raise redis.TimeoutError("Timeout reading from socket")  # ...but its answer never arrived
        return reply

    monkeypatch.setattr(connection_class, "read_response", read_response)
    assert buffer.enqueue([("evt_first", b"{}")], 1) == [True]
    assert timed_out, "the retry path was exercised"
    assert buffer.counters() == {"received": 1, "queued": 1}
    assert real_redis.xlen(DAY15_STREAM) == 1
