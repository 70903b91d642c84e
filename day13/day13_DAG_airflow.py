"""Airflow 3 DAG for the compliance alert triage: ingest -> route -> notify -> escalate.

The steps run in the project's interpreter through @task.external_python; the DAG (bottom) is read by
Airflow in its own environment. Each task is one of the day's stages (day13_INGEST_stage, day13_ROUTE_stage,
day13_DISPATCH_outbox, day13_ESCALATE_sla) over the state in the audit database, with a run context built
like `ORCHESTRATOR run` builds it and under the same run lock, so a cron run or the APScheduler job never
triages at the same time. The alerts' states (stored -> routed -> notified -> escalated) and the outbox live
in the database, so nothing but small counts travels between tasks, and a cleared task re-does only its stage
over whatever is still owed.

Schedule: every DAY13_ALERT_CHECK_INTERVAL seconds, the same setting the SCHEDULER uses.
On failure: every step retries 3 times with backoff (a busy run lock, a locked database, a receiver down:
all transient, and each stage is idempotent: ingest moves a file only after its commit, route picks up only
stored alerts, notify sends only outbox messages still waiting, escalation only alerts not escalated yet);
after the last try the failure callback posts to the day's Slack channel (the audit database's local Slack
outbox by default).
"""
from __future__ import annotations

import importlib.util
from datetime import datetime, timezone

DAY13_AIRFLOW_ALERT_CHANNEL = "#compliance-ops"  # where the failure callback posts


# --- adapter: the only lines that name day13's modules -------------------------------------------------------
def _day13_settings():
    from day13_CONFIG_settings import day13_load_settings
    from day13_LOG_setup import day13_setup_logging

    settings = day13_load_settings()
    day13_setup_logging(settings.log_path)
    return settings


def _day13_context(settings, stack):
    """The run context like `ORCHESTRATOR run` builds it, under the run lock, for one stage."""
    from day13_RUNTIME_wiring import day13_open_run_store, day13_run_context, day13_run_lock

    stack.enter_context(day13_run_lock(settings.lock_path))
    return day13_run_context(settings, day13_open_run_store(settings, stack), stack)


def _day13_stage(ctx, settings, stage: str) -> None:
    """One stage over the database state; the order of calls inside a stage is day13_run_triage's."""
    from day13_DISPATCH_outbox import day13_fill_outbox, day13_send_outbox
    from day13_ESCALATE_sla import day13_escalate
    from day13_INGEST_stage import day13_ingest
    from day13_ROUTE_stage import day13_route

    if stage == "ingest":
        day13_send_outbox(ctx, resuming=True)  # messages an earlier run queued but never saw delivered
        day13_ingest(ctx, settings.drop_dir, settings.inbox_dir)
    elif stage == "route":
        day13_route(ctx)  # this run's alerts and any an earlier run stored but never routed
    elif stage == "notify":
        day13_fill_outbox(ctx)
        day13_send_outbox(ctx)
    elif stage == "escalate":
        day13_escalate(ctx)  # every open alert past its SLA, whichever run stored it
        day13_send_outbox(ctx)
    else:
        raise ValueError(f"unknown day13 stage {stage!r}")


def _day13_post_failure(settings, stack, text: str) -> None:
    from day13_NOTIFY_receivers import day13_Notification
    from day13_RUNTIME_wiring import day13_dispatcher
    from day13_STORE_audit import day13_Store

    store = day13_Store.open(settings.audit_log_path)
    stack.callback(store.close)
    note = day13_Notification("airflow", text[:150], (text,), ())
    day13_dispatcher(settings, store, stack).deliver({"slack_configs": [{"channel": DAY13_AIRFLOW_ALERT_CHANNEL}]}, note)
# --- end of adapter --------------------------------------------------------------------------------------


def _day13_counts(summary) -> dict:
    return {k: v for k, v in summary.fields().items() if k != "run_id" and isinstance(v, int) and v}


def day13_step(stage: str, run_key: str) -> dict:
    """ingest, route, notify or escalate: one stage of the triage over the audit database's state."""
    import logging
    from contextlib import ExitStack

    settings = _day13_settings()
    with ExitStack() as stack:
        ctx = _day13_context(settings, stack)
        _day13_stage(ctx, settings, stage)
        counts = _day13_counts(ctx.summary)
    log = logging.getLogger("day13.airflow")
    log.info(f"{stage} finished", extra={"airflow_run": run_key, **counts})
    if counts.get("notifications_failed"):
        log.warning("some notifications failed; they stay in the outbox for the next run", extra=counts)
    return counts


def day13_step_notify_failure(dag_id: str, task_id: str, run_id: str, try_number, error: str) -> None:
    from contextlib import ExitStack

    settings = _day13_settings()
    with ExitStack() as stack:
        _day13_post_failure(settings, stack, f"Airflow {dag_id}.{task_id} failed after try {try_number} "
                                             f"(run {run_id}): {error}")


# --- the DAG: read by Airflow in its own environment ------------------------------------------------------
def _day13_airflow_side() -> bool:
    try:
        return importlib.util.find_spec("airflow.sdk") is not None
    except ModuleNotFoundError:
        return False


if _day13_airflow_side():
    from datetime import timedelta

    from airflow.sdk import dag, task
    from airflow_support.week_dags import RUN_ID, dag_defaults, day_settings, in_project

    DAY13_SETTINGS = day_settings("day13")

    @dag(dag_id="day13_alert_triage", start_date=datetime(2026, 1, 1, tzinfo=timezone.utc), doc_md=__doc__,
         schedule=timedelta(seconds=DAY13_SETTINGS.alert_check_interval), **dag_defaults("day13"))
    def day13_alert_triage():
        @task.external_python(**in_project("day13", retries=3))
        def ingest(run_key: str) -> dict:
            from day13_DAG_airflow import day13_step
            return day13_step("ingest", run_key)

        @task.external_python(**in_project("day13", retries=3))
        def route(run_key: str, ingested: dict) -> dict:
            from day13_DAG_airflow import day13_step
            return day13_step("route", run_key)

        @task.external_python(**in_project("day13", retries=3))
        def notify(run_key: str, ingested: dict) -> dict:
            from day13_DAG_airflow import day13_step
            return day13_step("notify", run_key)

        @task.external_python(**in_project("day13", retries=3))
        def escalate(run_key: str, ingested: dict) -> dict:
            from day13_DAG_airflow import day13_step
            return day13_step("escalate", run_key)

        ingested = ingest(RUN_ID)
        routed = route(RUN_ID, ingested)
        notified = notify(RUN_ID, ingested)
        escalated = escalate(RUN_ID, ingested)
        routed >> notified >> escalated

    day13_alert_triage()
