"""Airflow 3 DAG for the compliance alert triage: ingest -> route -> notify -> escalate.

The steps run in the project's interpreter through @task.external_python; the DAG (bottom) is read by
Airflow in its own environment. Each step opens the audit database under the day's run lock, so a cron
run or the APScheduler job never triages at the same time. Between steps only a small hand-off file
travels (the fingerprints this run touched and those that breached their SLA), named by path.

Schedule: every DAY13_ALERT_CHECK_INTERVAL seconds, the same setting the SCHEDULER uses.
On failure: every step retries 3 times with backoff (a busy run lock, a locked database, a receiver down:
all transient, and each step is idempotent: ingest moves a file only after its commit, notify sends
only what is still pending or failed, escalation is audited); after the last try the failure callback
posts to the day's Slack channel (the audit database's local Slack outbox by default).
"""
from __future__ import annotations

import importlib.util
import json
import re
from datetime import datetime, timezone
from pathlib import Path

DAY13_AIRFLOW_ALERT_CHANNEL = "#compliance-ops"  # where the failure callback posts


# --- adapter: the only lines that name day13's modules (they move when day13 is split into stage modules) ---
def _day13_settings():
    from day13_CONFIG_settings import day13_load_settings
    from day13_LOG_setup import day13_setup_logging

    settings = day13_load_settings()
    day13_setup_logging(settings.log_path)
    return settings


def _day13_open(settings, stack):
    """The triage wired like `ORCHESTRATOR run`, under the run lock, for one stage."""
    from day13_PIPELINE_triage import day13_Triage
    from day13_RUNTIME_wiring import day13_dispatcher, day13_load_configs, day13_run_lock
    from day13_STORE_audit import day13_connect

    stack.enter_context(day13_run_lock(settings.lock_path))
    db = day13_connect(settings.audit_log_path)
    stack.callback(db.close)
    rules, routing = day13_load_configs(db, settings, datetime.now(timezone.utc))
    return day13_Triage(db, rules, routing, day13_dispatcher(settings, db, stack))


def _day13_ingest(triage, settings) -> None:
    from day13_INGEST_sources import day13_read_drop_file, day13_read_eml

    triage.ingest_api_inbox()
    triage.ingest_folder(settings.drop_dir, "file", lambda p: [(None, r) for r in day13_read_drop_file(p)])
    triage.ingest_folder(settings.inbox_dir, "email", lambda p: [day13_read_eml(p)])


def _day13_restore(triage, handoff: dict) -> None:
    """What ingest left in memory, rebuilt from the audit database for the later stages."""
    wanted = handoff["touched"]
    for start in range(0, len(wanted), 500):
        chunk = wanted[start:start + 500]
        rows = triage.db.execute(f"SELECT fingerprint, labels FROM day13_alerts WHERE fingerprint IN "
                                 f"({', '.join('?' * len(chunk))})", chunk)
        triage.touched.update({row["fingerprint"]: json.loads(row["labels"]) for row in rows})
    triage.breached = [f for f in handoff["breached"] if f in triage.touched]


def _day13_stage(triage, stage: str) -> None:
    {"route": triage.route, "notify": triage.notify, "escalate": triage.escalate}[stage]()


def _day13_post_failure(settings, stack, text: str) -> None:
    from day13_NOTIFY_receivers import day13_Notification
    from day13_RUNTIME_wiring import day13_dispatcher
    from day13_STORE_audit import day13_connect

    db = day13_connect(settings.audit_log_path)
    stack.callback(db.close)
    note = day13_Notification("airflow", text[:150], (text,), ())
    day13_dispatcher(settings, db, stack).deliver({"slack_configs": [{"channel": DAY13_AIRFLOW_ALERT_CHANNEL}]}, note)
# --- end of adapter --------------------------------------------------------------------------------------


def _day13_handoff_path(settings, run_id: str) -> Path:
    folder = settings.audit_log_path.parent / "airflow"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"day13_handoff_{re.sub(r'[^0-9A-Za-z_.-]+', '_', run_id)}.json"


def _day13_counts(summary) -> dict:
    return {k: v for k, v in summary.fields().items() if isinstance(v, int) and v}


def day13_step_ingest(run_id: str) -> dict:
    """Read the API inbox, the drop folder and the e-mail inbox into the audit database; write the hand-off."""
    import logging
    from contextlib import ExitStack

    settings = _day13_settings()
    with ExitStack() as stack:
        triage = _day13_open(settings, stack)
        _day13_ingest(triage, settings)
        path = _day13_handoff_path(settings, run_id)
        path.write_text(json.dumps({"touched": sorted(triage.touched), "breached": triage.breached}) + "\n")
        counts = _day13_counts(triage.summary)
    logging.getLogger("day13.airflow").info("ingest finished", extra={"run_id": run_id, **counts})
    return {"handoff": str(path), **counts}


def day13_step(stage: str, ingested: dict) -> dict:
    """route, notify or escalate: one stage of the triage over what ingest touched (notify: all pending groups)."""
    import logging
    from contextlib import ExitStack

    settings = _day13_settings()
    with ExitStack() as stack:
        triage = _day13_open(settings, stack)
        _day13_restore(triage, json.loads(Path(ingested["handoff"]).read_text()))
        _day13_stage(triage, stage)
        counts = _day13_counts(triage.summary)
    log = logging.getLogger("day13.airflow")
    log.info(f"{stage} finished", extra=counts)
    if counts.get("notifications_failed"):
        log.warning("some notifications failed; they stay pending for the next run", extra=counts)
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
            from day13_DAG_airflow import day13_step_ingest
            return day13_step_ingest(run_key)

        @task.external_python(**in_project("day13", retries=3))
        def route(ingested: dict) -> dict:
            from day13_DAG_airflow import day13_step
            return day13_step("route", ingested)

        @task.external_python(**in_project("day13", retries=3))
        def notify(ingested: dict) -> dict:
            from day13_DAG_airflow import day13_step
            return day13_step("notify", ingested)

        @task.external_python(**in_project("day13", retries=3))
        def escalate(ingested: dict) -> dict:
            from day13_DAG_airflow import day13_step
            return day13_step("escalate", ingested)

        ingested = ingest(RUN_ID)
        routed = route(ingested)
        notified = notify(ingested)
        escalated = escalate(ingested)
        routed >> notified >> escalated

    day13_alert_triage()
