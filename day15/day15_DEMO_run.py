"""What --demo does: embedded Redis, a fresh store and secret, signed synthetic traffic, drain, reconcile."""
from __future__ import annotations

import json
import logging
from typing import Callable

from day15_DEMO_traffic import day15_reconcile, day15_send_demo_traffic, day15_wait_drained, day15_wait_ready
from day15_RUNTIME_pipeline import day15_generated_secret, day15_running_pipeline
from day15_RUNTIME_wiring import DAY15_DEMO_SECRET_FILE, day15_build_buffer, day15_build_store
from day15_SUPERVISOR_processes import day15_free_port

DAY15_LOG = logging.getLogger("day15.orchestrator")
DAY15_DEMO_DATABASE = DAY15_DEMO_SECRET_FILE.parent / "day15_demo_analytics.sqlite"


def day15_demo_database() -> str:
    for suffix in ("", "-wal", "-shm"):  # every demo starts from an empty store, so the reconciliation is exact
        DAY15_DEMO_DATABASE.with_name(DAY15_DEMO_DATABASE.name + suffix).unlink(missing_ok=True)
    DAY15_DEMO_DATABASE.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{DAY15_DEMO_DATABASE}"


def day15_run_demo(settings, on_drained: Callable[[str], None] | None = None) -> dict:
    """Send the synthetic stream through the real processes, wait for the drain, reconcile, call on_drained(url)."""
    secret = day15_generated_secret()
    with day15_running_pipeline(settings, embedded_redis=True, secret=secret, database_url=day15_demo_database(),
                                port=day15_free_port()) as running:
        day15_wait_ready(running.base_url)
        traffic = day15_send_demo_traffic(running.base_url, secret)
        buffer, store = day15_build_buffer(running.settings), day15_build_store(running.settings)
        day15_wait_drained(buffer)
        if not running.supervisor.check():
            return {"exit_code": 1, "summary": "day15 demo: a child process kept crashing"}
        result = day15_reconcile(store)
        if on_drained:
            on_drained(running.base_url)  # e.g. the evidence script's dashboard screenshot, while everything still runs
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
