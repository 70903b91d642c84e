"""Wiring for the orchestrator: pick Redis, secret and database, supervise the children, run the demo."""
from __future__ import annotations

import json
import logging
from contextlib import ExitStack
from typing import Callable

from day15_RUNTIME_wiring import (DAY15_DEMO_SECRET_FILE, day15_build_buffer, day15_build_store, day15_database_url)
from day15_SIGNING_webhooks import day15_new_secret
from day15_SUPERVISOR_processes import day15_child_env, day15_embedded_redis, day15_free_port, day15_Supervisor

DAY15_LOG = logging.getLogger("day15.orchestrator")
DAY15_DEMO_DATABASE = DAY15_DEMO_SECRET_FILE.parent / "day15_demo_analytics.sqlite"


def _demo_database() -> str:
    for suffix in ("", "-wal", "-shm"):  # every demo starts from an empty store, so the reconciliation is exact
        DAY15_DEMO_DATABASE.with_name(DAY15_DEMO_DATABASE.name + suffix).unlink(missing_ok=True)
    DAY15_DEMO_DATABASE.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{DAY15_DEMO_DATABASE}"


def _demo_secret() -> str:
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


def day15_run_pipeline(settings, *, demo: bool, should_stop: Callable[[], bool], sleep: Callable[[float], None],
                       on_drained: Callable[[str], None] | None = None) -> dict:
    """Run until should_stop(); with demo, send the synthetic stream, reconcile, call on_drained(url), return."""
    with ExitStack() as stack:
        redis_address = stack.enter_context(day15_embedded_redis()) if demo or settings.redis_host is None else None
        secret = _demo_secret() if demo or settings.webhook_secret is None else None
        database_url = _demo_database() if demo else day15_database_url(settings)
        port = day15_free_port() if demo else settings.webhook_port
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
            if demo:
                return _demo(effective, f"http://{settings.webhook_host}:{port}", secret, supervisor, on_drained)
            while not should_stop():
                if not supervisor.check():
                    return {"exit_code": 1}
                sleep(0.5)
            return {"exit_code": 0}
        finally:
            supervisor.stop()


def _demo(settings, base_url: str, secret: str, supervisor, on_drained=None) -> dict:
    from day15_DEMO_traffic import day15_reconcile, day15_send_demo_traffic, day15_wait_drained, day15_wait_ready

    day15_wait_ready(base_url)
    traffic = day15_send_demo_traffic(base_url, secret)
    buffer, store = day15_build_buffer(settings), day15_build_store(settings)
    day15_wait_drained(buffer)
    if not supervisor.check():
        return {"exit_code": 1, "summary": "day15 demo: a child process kept crashing"}
    result = day15_reconcile(store)
    if on_drained:
        on_drained(base_url)  # e.g. the evidence script's dashboard screenshot, while everything still runs
    counters = buffer.counters()
    DAY15_LOG.info("demo reconciliation", extra={**result, **{f"ingress_{k}": v for k, v in counters.items()},
                                                 "responses": json.dumps(traffic["responses"], sort_keys=True)})
    verdict = "matched" if result["match"] else "DID NOT MATCH"
    summary = (f"day15 demo: sent {traffic['sent']} signed events ({traffic['duplicates_sent']} re-deliveries, "
               f"{traffic['malformed_sent']} malformed, 1 forged and 1 expired signature): "
               f"{counters.get('queued', 0)} queued, {counters.get('duplicates', 0)} duplicates refused, "
               f"{counters.get('rejected', 0)} rejected; processed {result['processed']} unique events once each; "
               f"MRR ${result['mrr_cents'] / 100:,.2f} vs recomputed ${result['recomputed_mrr_cents'] / 100:,.2f}, "
               f"{result['active_customers']} active customers: reconciliation {verdict}")
    return {"exit_code": 0 if result["match"] else 1, "summary": summary, "reconciliation": result}


def day15_dead_letter_command(settings, command: list[str]) -> int:
    """dlq list | dlq replay [ENTRY_ID ...] | dlq purge, against the configured Redis."""
    if command[:1] != ["dlq"] or len(command) < 2 or command[1] not in ("list", "replay", "purge"):
        print("usage: day15_ORCHESTRATOR_main.py dlq list|replay [ENTRY_ID ...]|purge")
        return 2
    if settings.redis_host is None:
        print("dead letters live in Redis; the embedded fakeredis forgets them when the pipeline stops. "
              "Set DAY15_REDIS_HOST to inspect a real one.")
        return 2
    buffer = day15_build_buffer(settings)
    if command[1] == "list":
        for entry_id, fields in buffer.dead_letters():
            print(json.dumps({"entry": entry_id, "event_id": fields.get("event_id"), "error": fields.get("error"),
                              "dead_lettered_at_ms": fields.get("dead_lettered_at_ms")}))
        return 0
    if command[1] == "replay":
        print(f"replayed {buffer.replay(command[2:] or None)} dead letter(s) onto the stream")
        return 0
    print(f"purged {buffer.purge()} dead letter(s)")
    return 0
