"""Crash recovery against the real Redis: consumer processes killed with SIGKILL, then restarted.

The stream receives every delivery, duplicates and late events included (bypassing ingress dedup on
purpose), plus poison entries. Whatever the crashes, each unique event must count exactly once, the
aggregates must equal a recomputation from the raw events, nothing may stay pending, and exactly the
poison entries must end in the dead-letter stream.
"""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from day15_BUFFER_streams import DAY15_DEAD_LETTER, DAY15_STREAM, day15_Buffer, day15_encode
from day15_METRICS_saas import day15_recompute
from day15_STORE_analytics import day15_create_engine, day15_Store

CONSUMER = Path(__file__).resolve().parents[1] / "day15_CONSUMER_batch_processor.py"
POISON = ['{"id": "evt_poison_1", "type": ', "not json at all"]


@pytest.fixture
def pipeline_env(redis_url, tmp_path):
    import redis

    kwargs = redis.Redis.from_url(redis_url).connection_pool.connection_kwargs
    database = tmp_path / "analytics.sqlite"
    env = {**os.environ, "DAY15_REDIS_HOST": kwargs["host"], "DAY15_REDIS_PORT": str(kwargs["port"]),
           "DAY15_REDIS_DB": str(kwargs["db"]), "DAY15_DATABASE_URL": f"sqlite:///{database}",
           "DAY15_BATCH_SIZE": "50", "DAY15_BATCH_MAX_WAIT_MS": "50", "DAY15_CLAIM_IDLE_MS": "300",
           "DAY15_MAX_RETRIES": "3", "DAY15_LOG_PATH": str(tmp_path / "pipeline.log")}
    return env, database


def _consumer(env, *extra):
    return subprocess.Popen([sys.executable, str(CONSUMER), "--name", "consumer-1", *extra], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_drained(buffer, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        depth = buffer.depth()
        if depth == {"lag": 0, "pending": 0}:
            return
        time.sleep(0.1)
    raise AssertionError(f"not drained: {buffer.depth()}")


def _load(real_redis, events):
    buffer = day15_Buffer(real_redis)
    buffer.ensure_group()
    for event in events:  # every delivery, duplicates included: the consumer must cope on its own
        real_redis.xadd(DAY15_STREAM, {"event_id": event["id"], "body": day15_encode(event), "received_at_ms": 1})
    for n, body in enumerate(POISON):
        real_redis.xadd(DAY15_STREAM, {"event_id": f"poison-{n}", "body": body, "received_at_ms": 1})
    return buffer


def test_kill_9_before_commit_and_between_commit_and_ack_neither_loses_nor_doubles(real_redis, pipeline_env, saas_events):
    env, database = pipeline_env
    events = saas_events[0]
    buffer = _load(real_redis, events)

    crashed = _consumer(env, "--fault", "before_commit")
    assert crashed.wait(timeout=60) == -signal.SIGKILL
    store = day15_Store(day15_create_engine(f"sqlite:///{database}"))
    assert store.summary()["processed"] == 0  # the transaction died with the process
    assert buffer.depth()["pending"] == 100  # the batch in hand and the one read ahead, both still pending

    crashed = _consumer(env, "--fault", "after_commit")
    assert crashed.wait(timeout=60) == -signal.SIGKILL
    assert store.summary()["processed"] > 0 and buffer.depth()["pending"] == 100  # one of them committed, never acknowledged

    survivor = _consumer(env)
    try:
        _wait_drained(buffer)
    finally:
        survivor.send_signal(signal.SIGTERM)
    assert survivor.wait(timeout=30) == 0, survivor.stderr.read()[-2000:]

    reference = day15_recompute(events)
    summary = store.summary()
    assert summary["processed"] == reference.unique_events == len({e["id"] for e in events})
    assert (summary["mrr_cents"], summary["active_customers"]) == (reference.mrr_cents, reference.active_customers)
    assert store.subscription_states() == reference.subscriptions
    assert real_redis.xlen(DAY15_DEAD_LETTER) == len(POISON)
    assert buffer.depth() == {"lag": 0, "pending": 0}
    letters = [fields[b"error"].decode() for _, fields in real_redis.xrange(DAY15_DEAD_LETTER)]
    assert all("JSONDecodeError" in error for error in letters)


def test_sigterm_mid_stream_finishes_the_batch_in_hand_and_exits_0(real_redis, pipeline_env, saas_events):
    env, database = pipeline_env
    env = {**env, "DAY15_BATCH_SIZE": "100", "DAY15_BATCH_MAX_WAIT_MS": "500"}
    buffer = day15_Buffer(real_redis)
    buffer.ensure_group()
    events = list({e["id"]: e for e in saas_events[0]}.values())
    for round_ in range(5):  # 2,000 entries: more than one batch can hold
        for event in events:
            copy = {**event, "id": f"{event['id']}_{round_}"}
            real_redis.xadd(DAY15_STREAM, {"event_id": copy["id"], "body": day15_encode(copy), "received_at_ms": 1})
    consumer = _consumer(env)
    store = day15_Store(day15_create_engine(f"sqlite:///{database}"))
    deadline = time.monotonic() + 60
    while store.summary()["processed"] == 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    consumer.send_signal(signal.SIGTERM)
    assert consumer.wait(timeout=30) == 0
    depth = buffer.depth()
    assert depth["pending"] == 0, "a stopped consumer leaves nothing delivered-but-unacknowledged"
    assert store.summary()["processed"] + depth["lag"] == 2_000  # the rest waits in the stream, untouched


def test_the_sqlite_store_syncs_every_commit_on_every_connection_it_opens(tmp_path):
    """Commit, then XACK: the XACK drops the stream's copy, so the commit must be on disk first. In WAL mode
    synchronous=NORMAL does not sync the WAL at a commit: a power cut after the XACK lost batches that Redis no
    longer held. FULL (2) on every connection the store's engine opens, pooled ones and a fresh pool's alike."""
    from day15_CONFIG_settings import day15_load_settings
    from day15_RUNTIME_wiring import day15_build_store

    store = day15_build_store(day15_load_settings(env_file=None, database_url=f"sqlite:///{tmp_path / 'analytics.sqlite'}"))
    engine = store.engine

    def pragmas(dbapi_connection) -> tuple:
        return tuple(dbapi_connection.execute(f"PRAGMA {name}").fetchone()[0] for name in ("synchronous", "journal_mode"))

    # held at once, three pool members (raw: a Connection begins IMMEDIATE, and a second one would wait for the lock)
    held = [engine.raw_connection() for _ in range(3)]
    assert len({id(raw.dbapi_connection) for raw in held}) == 3
    seen = [pragmas(raw.dbapi_connection) for raw in held]
    for raw in held:
        raw.close()
    with engine.begin() as conn:  # the kind the batch transaction runs on
        seen.append(pragmas(conn.connection.dbapi_connection))
    engine.dispose()  # a new pool: every connection opened again
    with engine.begin() as conn:
        seen.append(pragmas(conn.connection.dbapi_connection))
    assert seen == [(2, "wal")] * 5
