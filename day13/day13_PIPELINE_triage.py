"""One triage run: the stages in order. Each stage reads its work from the database, not from memory,
so a run first finishes whatever an earlier run left half-done (see day13_STORE_audit for the states).
"""
from __future__ import annotations

import logging
import time
from pathlib import Path

from day13_DISPATCH_outbox import day13_fill_outbox, day13_send_outbox
from day13_ESCALATE_sla import day13_escalate
from day13_INGEST_stage import day13_ingest
from day13_ROUTE_stage import day13_route
from day13_RUN_context import day13_RunContext, day13_RunSummary

DAY13_LOG = logging.getLogger("day13.triage")


def day13_run_triage(ctx: day13_RunContext, *, drop_dir: Path, inbox_dir: Path) -> day13_RunSummary:
    started = time.monotonic()
    day13_send_outbox(ctx, resuming=True)  # messages an earlier run queued but never saw delivered
    day13_ingest(ctx, drop_dir, inbox_dir)
    day13_route(ctx)  # this run's alerts, and any an earlier run stored but never routed
    day13_fill_outbox(ctx)
    day13_escalate(ctx)  # every open alert past its SLA, whichever run stored it
    day13_send_outbox(ctx)
    ctx.summary.duration_s = round(time.monotonic() - started, 3)
    DAY13_LOG.info("triage run finished", extra=ctx.summary.fields())
    return ctx.summary
