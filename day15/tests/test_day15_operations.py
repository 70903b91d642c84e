"""The store on a real PostgreSQL, and the dead-letter commands on the real Redis."""
import random
from pathlib import Path

import pytest

from day15_BUFFER_streams import DAY15_DEAD_LETTER, DAY15_STREAM, day15_Buffer
from day15_METRICS_saas import day15_recompute
from day15_DEADLETTER_commands import day15_dead_letter_command
from day15_PROCESSING_batches import day15_Consumer
from day15_STORE_analytics import DAY15_METADATA, day15_create_engine, day15_Store, day15_StoredEvent


@pytest.fixture
def postgres_store(postgres_url):
    engine = day15_create_engine(postgres_url)
    DAY15_METADATA.drop_all(engine)
    DAY15_METADATA.create_all(engine)
    yield day15_Store(engine)
    DAY15_METADATA.drop_all(engine)
    engine.dispose()


def test_the_store_is_effectively_once_on_postgresql(postgres_store, saas_events):
    events = saas_events[0][:]
    random.Random(9).shuffle(events)
    batch = [day15_StoredEvent(str(n), e, 1) for n, e in enumerate(events)]
    total = sum(postgres_store.apply_batch(batch[i:i + 50], 2) for i in range(0, len(batch), 50))
    assert postgres_store.apply_batch(batch[:50], 3) == 0
    reference = day15_recompute(events)
    summary = postgres_store.summary()
    assert total == summary["processed"] == reference.unique_events
    assert (summary["mrr_cents"], summary["active_customers"]) == (reference.mrr_cents, reference.active_customers)
    assert postgres_store.subscription_states() == reference.subscriptions


def test_dead_letter_list_replay_and_purge(real_redis, redis_url, store, capsys):
    from day15_CONFIG_settings import day15_load_settings

    buffer = day15_Buffer(real_redis)
    buffer.ensure_group()
    real_redis.xadd(DAY15_STREAM, {"event_id": "evt_broken", "body": "{broken", "received_at_ms": 1})
    consumer = day15_Consumer(buffer, store, name="c", batch_size=10, max_wait_ms=10, max_retries=1, claim_idle_ms=100)
    consumer.process(buffer.read_new("c", 10, block_ms=100), source="new")
    assert real_redis.xlen(DAY15_DEAD_LETTER) == 1 and buffer.depth() == {"lag": 0, "pending": 0}

    kwargs = real_redis.connection_pool.connection_kwargs
    settings = day15_load_settings(env_file=None, redis_host=kwargs["host"], redis_port=kwargs["port"],
                                   redis_db=kwargs["db"])
    assert day15_dead_letter_command(settings, "list") == 0
    assert '"event_id": "evt_broken"' in capsys.readouterr().out
    assert day15_dead_letter_command(settings, "replay") == 0
    assert real_redis.xlen(DAY15_DEAD_LETTER) == 0 and buffer.depth()["lag"] == 1  # back in line
    consumer.process(buffer.read_new("c", 10, block_ms=100), source="new")
    assert day15_dead_letter_command(settings, "purge") == 0
    assert real_redis.xlen(DAY15_DEAD_LETTER) == 0 and "purged 1" in capsys.readouterr().out


def test_dead_letter_commands_explain_that_the_embedded_redis_keeps_nothing(capsys):
    from day15_CONFIG_settings import day15_load_settings

    assert day15_dead_letter_command(day15_load_settings(env_file=None), "list") == 2
    assert "DAY15_REDIS_HOST" in capsys.readouterr().out


def test_dead_letter_commands_are_argparse_subcommands_of_the_orchestrator(capsys):
    from day15_ORCHESTRATOR_main import day15_parse_args

    args = day15_parse_args(["dlq", "replay", "1-0", "2-0"])
    assert (args.command, args.action, args.entry_ids) == ("dlq", "replay", ["1-0", "2-0"])
    assert day15_parse_args(["--demo"]).command is None
    for wrong in (["dlq"], ["dlq", "drop"], ["list"]):
        with pytest.raises(SystemExit) as exit_info:
            day15_parse_args(wrong)
        assert exit_info.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


def test_the_demo_lives_in_its_demo_module_and_the_pipeline_role_is_gone():
    import day15_DEMO_run

    assert callable(day15_DEMO_run.day15_run_demo)
    assert not list(Path(__file__).resolve().parents[1].glob("day15_PIPELINE_*.py"))  # process wiring is RUNTIME, the demo is DEMO
