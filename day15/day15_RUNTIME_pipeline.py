"""Process wiring for the entry scripts: pick Redis, secret and database, start and supervise the children."""
from __future__ import annotations

import logging
from contextlib import ExitStack, contextmanager
from typing import Callable, Iterator, NamedTuple

from day15_RUNTIME_wiring import DAY15_DEMO_SECRET_FILE, day15_build_buffer, day15_database_url
from day15_SIGNING_webhooks import day15_new_secret
from day15_SUPERVISOR_processes import day15_child_env, day15_embedded_redis, day15_Supervisor

DAY15_LOG = logging.getLogger("day15.orchestrator")


class day15_Running(NamedTuple):
    settings: object  # the settings the children actually use (embedded Redis address, database)
    base_url: str
    supervisor: day15_Supervisor


def day15_generated_secret() -> str:
    """A fresh webhook secret in day15/state/ (mode 600) for runs without DAY15_WEBHOOK_SECRET."""
    secret = day15_new_secret()
    DAY15_DEMO_SECRET_FILE.parent.mkdir(parents=True, exist_ok=True)
    DAY15_DEMO_SECRET_FILE.write_text(secret + "\n")
    DAY15_DEMO_SECRET_FILE.chmod(0o600)
    shown = DAY15_DEMO_SECRET_FILE.relative_to(DAY15_DEMO_SECRET_FILE.parents[2])
    DAY15_LOG.info("generated a demo webhook secret", extra={"path": str(shown)})
    return secret


def _reachable(buffer) -> Callable[[], bool]:
    def up() -> bool:
        import redis

        try:
            return bool(buffer.redis.ping())
        except redis.RedisError:
            return False
    return up


@contextmanager
def day15_running_pipeline(settings, *, embedded_redis: bool, secret: str | None, database_url: str | None = None,
                           port: int | None = None) -> Iterator[day15_Running]:
    """Start the webhook server and consumers (on an embedded fakeredis if asked); stop them on exit."""
    with ExitStack() as stack:
        redis_address = stack.enter_context(day15_embedded_redis()) if embedded_redis else None
        database_url = database_url or day15_database_url(settings)
        port = port or settings.webhook_port
        env = day15_child_env(settings, redis_address=redis_address, secret=secret, database_url=database_url,
                              webhook_port=port)
        effective = settings.model_copy(update={
            "redis_host": env.get("DAY15_REDIS_HOST", settings.redis_host), "database_url": database_url,
            "redis_port": int(env.get("DAY15_REDIS_PORT", settings.redis_port)),
            "redis_db": int(env.get("DAY15_REDIS_DB", settings.redis_db))})
        DAY15_LOG.info("pipeline starting", extra={"redis": "embedded fakeredis" if redis_address else settings.redis_host,
                                                   "webhook_port": port, "consumers": settings.consumers,
                                                   "database": database_url.split("://")[0]})
        probe = day15_build_buffer(effective, role="webhook")  # short timeouts: a probe must not hang
        supervisor = day15_Supervisor(env, settings.consumers, dependency_up=None if redis_address else _reachable(probe),
                                      queue_depth=lambda: sum(probe.depth().values()),
                                      queue_outlives_us=redis_address is None)
        supervisor.start()
        try:
            yield day15_Running(effective, f"http://{settings.webhook_host}:{port}", supervisor)
        finally:
            supervisor.stop()


def day15_run_pipeline(settings, *, should_stop: Callable[[], bool], sleep: Callable[[float], None]) -> int:
    """Run until should_stop(); 0 on a clean stop, 1 when a child kept crashing."""
    secret = day15_generated_secret() if settings.webhook_secret is None else None
    with day15_running_pipeline(settings, embedded_redis=settings.redis_host is None, secret=secret) as running:
        while not should_stop():
            if not running.supervisor.check():
                return 1
            sleep(0.5)
        return 0
