"""The supervisor over real processes and the embedded fakeredis TCP server."""
import signal
import time

import redis

from day15_SUPERVISOR_processes import day15_child_env, day15_embedded_redis, day15_free_port, day15_Supervisor
from day15_CONFIG_settings import day15_load_settings
from day15_SIGNING_webhooks import day15_new_secret


def test_embedded_redis_is_shared_over_tcp():
    with day15_embedded_redis() as (host, port):
        first, second = redis.Redis(host=host, port=port), redis.Redis(host=host, port=port)
        first.set("k", "v")
        assert second.get("k") == b"v"


def test_a_killed_consumer_is_restarted_and_sigterm_stops_everyone_cleanly(tmp_path):
    settings = day15_load_settings(env_file=None)
    with day15_embedded_redis() as address:
        env = day15_child_env(settings, redis_address=address, secret=day15_new_secret(),
                              database_url=f"sqlite:///{tmp_path / 'a.sqlite'}", webhook_port=day15_free_port())
        env["DAY15_LOG_PATH"] = str(tmp_path / "pipeline.log")
        supervisor = day15_Supervisor(env, consumers=1)
        supervisor.start()
        try:
            time.sleep(1.5)
            victim = supervisor.children["consumer-1"]
            victim.send_signal(signal.SIGKILL)
            victim.wait(timeout=10)
            assert supervisor.check() is True
            assert supervisor.children["consumer-1"].pid != victim.pid
            time.sleep(1.0)
        finally:
            codes = supervisor.stop()
    assert codes == {"webhook": 0, "consumer-1": 0}
