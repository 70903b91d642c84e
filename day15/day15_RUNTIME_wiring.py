"""The one place that turns settings into real objects: Redis client, buffer, store, consumer, app.

Child processes (webhook server, consumers) always talk to Redis over TCP: a real server when
DAY15_REDIS_HOST is set, otherwise the orchestrator's embedded fakeredis TCP server, whose address
it hands down in DAY15_REDIS_HOST/PORT (fakeredis state lives in one process, so it must be shared).
"""
from __future__ import annotations

import gc
import logging

from day15_CONFIG_settings import DAY15_DIR

DAY15_LOG = logging.getLogger("day15")
DAY15_DEFAULT_DATABASE = DAY15_DIR / "state" / "day15_analytics.sqlite"
DAY15_DEMO_SECRET_FILE = DAY15_DIR / "state" / "day15_demo_secret.txt"


def day15_startup(role: str):
    """Settings and logging for a process; None (after one clear log line) when the config is unusable."""
    from day15_CONFIG_settings import day15_ConfigError, day15_load_settings
    from day15_LOG_setup import day15_setup_logging

    try:
        settings = day15_load_settings()
    except day15_ConfigError as exc:
        day15_setup_logging(None)
        DAY15_LOG.error("configuration rejected", extra={"role": role, "error": str(exc)})
        return None
    day15_setup_logging(settings.log_path)
    if settings.redis_host is None:
        DAY15_LOG.error("no Redis to talk to", extra={"role": role, "error": "DAY15_REDIS_HOST is not set: start the "
                        "pipeline with day15_ORCHESTRATOR_main.py (embedded fakeredis) or point it at Redis"})
        return None
    if role == "webhook" and settings.webhook_secret is None and not settings.allow_unsigned:
        DAY15_LOG.error("configuration rejected", extra={"role": role, "error": "DAY15_WEBHOOK_SECRET: not set; the webhook "
                        "server never serves unsigned requests (set a secret, start the whole pipeline with "
                        "day15_ORCHESTRATOR_main.py for a generated demo secret, or DAY15_ALLOW_UNSIGNED=true)"})
        return None
    return settings


def day15_settle_heap() -> None:
    """Call once a process is wired, before it serves: what is alive then lives as long as the process,
    so it goes into the permanent generation (gc.freeze). Each batch or request parses hundreds of events
    that live until it ends, so collections promote them and then trigger full collections, which
    re-scanned the whole start-up heap (SQLAlchemy, Flask, redis-py) every time: up to a sixth of the
    consumer's time, and a tenth of the webhook server's on batch requests (measured)."""
    gc.collect()
    gc.freeze()


def day15_database_url(settings) -> str:
    if settings.database_url:
        return settings.database_url
    DAY15_DEFAULT_DATABASE.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{DAY15_DEFAULT_DATABASE}"


def day15_secrets(settings) -> list[str]:
    """DAY15_WEBHOOK_SECRET may list several comma-separated secrets during a key rotation."""
    if settings.webhook_secret is None:
        return []
    return [s.strip() for s in settings.webhook_secret.get_secret_value().split(",") if s.strip()]


def day15_build_buffer(settings, role: str = "consumer"):
    from day15_BUFFER_streams import day15_Buffer, day15_redis_client

    return day15_Buffer(day15_redis_client(settings, role=role), maxlen=settings.stream_maxlen,
                        seen_ttl_seconds=settings.idempotency_ttl_hours * 3600)


def day15_build_store(settings):
    from day15_STORE_analytics import day15_create_engine, day15_Store

    return day15_Store(day15_create_engine(day15_database_url(settings)))


def day15_build_consumer(settings, name: str, hooks=None):
    from day15_PROCESSING_batches import day15_Consumer, day15_ConsumerHooks

    return day15_Consumer(day15_build_buffer(settings), day15_build_store(settings), name=name,
                          batch_size=settings.batch_size, max_wait_ms=settings.batch_max_wait_ms,
                          max_retries=settings.max_retries, claim_idle_ms=settings.claim_idle_ms,
                          queue_depth_warn=settings.queue_depth_warn, hooks=hooks or day15_ConsumerHooks())


def day15_build_app(settings):
    from day15_INGRESS_app import day15_create_app

    return day15_create_app(day15_build_buffer(settings, role="webhook"), day15_build_store(settings), day15_secrets(settings),
                            max_body_bytes=settings.max_body_bytes, max_batch_events=settings.max_batch_events,
                            allow_unsigned=settings.allow_unsigned, dashboard_token=settings.dashboard_token.get_secret_value()
                            if settings.dashboard_token else None)
