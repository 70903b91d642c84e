"""Airflow 3 DAG for the daily transport KPI e-mail: compute KPIs -> render -> send.

The steps (top) run in the project's interpreter through @task.external_python and call the day's own
functions; the DAG (bottom) is read by Airflow in its own environment. Between tasks travel paths and
counts only: the KPI results as a JSON file, the rendered message as an .eml file.

Schedule: DAY14_SEND_TIME in DAY14_TIMEZONE (07:00 Australia/Melbourne), the same settings the SCHEDULER
uses, as a cron timetable in that zone: 07:00 local on both sides of a daylight-saving change.
On failure: compute_kpis retries twice (the data folder may still be filling; unusable input is the
ORCHESTRATOR's exit 3), render once; send twice, each retry DAY14_CLAIM_TIMEOUT_MINUTES + 1 after the try
before (a try killed mid-send leaves its claim fresh that long; an earlier retry would only find "another run
is sending"): the per-recipient send ledger records each recipient's outcome, and a retry sends to those still
owed exactly as a re-run of the ORCHESTRATOR would, never to one a killed try was in DATA with (ambiguous),
while a recipient who has the report for the date is never sent it again (all of them: the task ends "skipped").
A degraded report (exit 4: most KPIs without data) is sent once, then fails the send task on every try.
After the last try the failure callback e-mails the escalation recipients through the day's transport
(the embedded SMTP sink, writing to day14/outbox, by default).
"""
from __future__ import annotations

import importlib.util
import json
from datetime import date, datetime, timezone
from pathlib import Path

DAY14_AIRFLOW_SKIP = 99  # the exit code the DAG maps onto a skipped task (airflow_support.week_dags.SKIP_EXIT_CODE)


DAY14_SEND_RETRIES = 2  # the in-step retries (DAY14_MAX_SEND_ATTEMPTS) cover short outages; these cover a dead try


def day14_send_retries(settings) -> dict:
    """Airflow's retries of `send`, each after a dead try's claim has gone stale.

    A try killed mid-step (SIGKILL, a lost worker) leaves its ledger claim fresh for DAY14_CLAIM_TIMEOUT_MINUTES;
    a retry before then only finds "another run is sending". So every retry waits longer than that, without
    exponential backoff (capped at 15 minutes, it would come back too early)."""
    from datetime import timedelta

    return {"retries": DAY14_SEND_RETRIES, "retry_delay": timedelta(minutes=settings.claim_timeout_minutes + 1),
            "retry_exponential_backoff": False}


# --- steps: run by the project's interpreter -------------------------------------------------------------
def _day14_settings():
    from day14_CONFIG_settings import day14_load_settings
    from day14_LOG_setup import day14_setup_logging

    settings = day14_load_settings()
    day14_setup_logging(settings.log_path)
    return settings


def _day14_work_dir(settings, report_date: date) -> Path:
    folder = settings.ledger_path.parent / "airflow" / f"{report_date:%Y%m%d}"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def day14_step_compute(run_at: str) -> dict:
    """Yesterday in the network's time zone: KPIs from the operations data, saved as JSON with the inputs it lacks.

    Unusable input (the ORCHESTRATOR's exit 3: a data folder without its files, bad KPI targets) fails the task."""
    import logging
    from dataclasses import asdict

    from day14_DATA_operations import day14_Operations
    from day14_KPI_definitions import day14_compute_kpis, day14_load_targets, day14_missing_inputs
    from day14_PIPELINE_report import day14_default_report_date, day14_operations_dir

    settings = _day14_settings()
    report_date = day14_default_report_date(settings.timezone, datetime.fromisoformat(run_at))
    ops = day14_Operations(day14_operations_dir(settings, report_date), settings.timezone)
    results = day14_compute_kpis(ops, report_date, day14_load_targets(settings.kpi_targets_path))
    missing = list(day14_missing_inputs(ops, report_date))
    path = _day14_work_dir(settings, report_date) / "day14_kpis.json"
    path.write_text(json.dumps({"kpis": [asdict(r) for r in results], "missing_inputs": missing}, indent=1) + "\n")
    missed = sum(r.status == "missed" for r in results)
    logging.getLogger("day14.airflow").info("KPIs computed", extra={
        "report_date": str(report_date), "kpis": len(results), "missed": missed, "missing_inputs": len(missing)})
    return {"kpis": str(path), "report_date": str(report_date), "count": len(results), "missed": missed}


def day14_step_render(computed: dict) -> dict:
    """The HTML e-mail with its chart and CSV, as the .eml the send step delivers."""
    import logging
    from zoneinfo import ZoneInfo

    from day14_KPI_definitions import day14_KpiResult
    from day14_MESSAGE_build import day14_build_message, day14_recipients_for
    from day14_REPORT_render import day14_render_report

    settings = _day14_settings()
    report_date = date.fromisoformat(computed["report_date"])
    saved = json.loads(Path(computed["kpis"]).read_text())
    results = [day14_KpiResult(**item) for item in saved["kpis"]]
    now = datetime.now(timezone.utc)
    report = day14_render_report(results, report_date, network_name=settings.network_name,
                                 generated_at=now.astimezone(ZoneInfo(settings.timezone)),
                                 missing_inputs=tuple(saved["missing_inputs"]))
    message = day14_build_message(report, sender=settings.sender_email,
                                  recipients=day14_recipients_for(settings, report.missed),
                                  reply_to=settings.reply_to, report_date=report_date, now=now)
    path = _day14_work_dir(settings, report_date) / "day14_message.eml"
    path.write_bytes(bytes(message))
    if 2 * len(report.no_data) > len(results):
        logging.getLogger("day14.airflow").warning("degraded report: most KPIs have no data", extra={
            "report_date": str(report_date), "no_data": len(report.no_data), "kpis": len(results)})
    return {"eml": str(path), "report_date": str(report_date), "missed": list(report.missed),
            "no_data": list(report.no_data), "kpis": len(results), "missing_inputs": saved["missing_inputs"],
            "subject": report.subject}


def day14_step_send(rendered: dict, run_key: str) -> str:
    """Claim the date in the per-recipient send ledger, send to the recipients still owed, settle each one.

    Task states from the outcome (the ORCHESTRATOR's exit codes in brackets): sent [0] -> success; already sent
    to everyone [0] -> skipped; partial or failed [1] -> fails, and a retry sends to the owed recipients only;
    delivery ambiguous [1] -> fails, never re-sent (a person decides on --force); another run sending [0] ->
    fails, a retry finds it sent or stale; degraded, most KPIs without data [4] -> the report goes out once,
    then the task fails (on every try and re-run for the date, nothing sent twice) so someone looks at the inputs."""
    import email
    import email.policy
    import logging
    import re
    import time
    from datetime import timedelta

    from day14_DELIVERY_transports import day14_transport_from_settings
    from day14_LEDGER_sends import day14_LedgerKey, day14_SendLedger
    from day14_MESSAGE_build import DAY14_REPORT_NAME, day14_recipients_for
    from day14_PIPELINE_report import DAY14_EXIT_DEGRADED, day14_deliver, day14_finish, day14_RunOutcome

    settings = _day14_settings()
    log = logging.getLogger("day14.airflow")
    report_date = date.fromisoformat(rendered["report_date"])
    message = email.message_from_bytes(Path(rendered["eml"]).read_bytes(), policy=email.policy.default)
    recipients = day14_recipients_for(settings, tuple(rendered["missed"]))
    run_id = "airflow-" + re.sub(r"[^\w.-]+", "_", run_key)[:80]
    fields = {"run_id": run_id, "report_date": rendered["report_date"]}
    base = dict(run_id=run_id, report_date=report_date, subject=rendered["subject"], message_id=message["Message-ID"],
                recipients=recipients.envelope, missed=tuple(rendered["missed"]), no_data=tuple(rendered["no_data"]),
                kpis=rendered["kpis"], missing_inputs=tuple(rendered["missing_inputs"]))

    def now():
        return datetime.now(timezone.utc)

    key, started = day14_LedgerKey(DAY14_REPORT_NAME, rendered["report_date"]), time.monotonic()
    ledger = day14_SendLedger(settings.ledger_path)
    try:
        claim = ledger.claim(key, message["Message-ID"], now=now(), envelope=recipients.envelope,
                             stale_after=timedelta(minutes=settings.claim_timeout_minutes))
        if claim.outcome != "claimed":
            outcome = day14_RunOutcome(status=claim.outcome, **base)
        else:
            if claim.ambiguous:
                log.warning("an earlier run died during DATA; not sent again to those recipients",
                            extra={**fields, "ambiguous": ",".join(claim.ambiguous)})
            with day14_transport_from_settings(settings) as transport:
                delivery = day14_deliver(transport, ledger, key, message, ledger.owed(key, recipients.envelope),
                                         settings=settings, now=now, sleep=time.sleep, should_stop=lambda: False)
                outcome = day14_finish(ledger, key, delivery, transport.name, log=fields, base=base, now=now,
                                       started=started)
    finally:
        ledger.close()
    if outcome.degraded:
        raise RuntimeError(f"degraded (exit {DAY14_EXIT_DEGRADED}): {outcome.summary()}")
    if outcome.status == "already_sent":
        log.info("already sent for this date to everyone on the list; nothing sent", extra=fields)
        raise SystemExit(DAY14_AIRFLOW_SKIP)
    if outcome.status == "in_progress" or outcome.exit_code:
        raise RuntimeError(outcome.summary())
    log.info("report sent", extra={**fields, "delivered": outcome.delivered, "refused": len(outcome.refused)})
    return outcome.summary()


def day14_step_notify_failure(dag_id: str, task_id: str, run_id: str, try_number, error: str) -> None:
    """The failure callback's e-mail to the escalation recipients, through the day's own transport."""
    from email.message import EmailMessage

    from day14_DELIVERY_transports import day14_transport_from_settings

    settings = _day14_settings()
    message = EmailMessage()
    message["From"], message["To"] = settings.sender_email, ", ".join(settings.escalation_recipients)
    message["Subject"] = f"[Airflow] {dag_id}.{task_id} failed"
    message.set_content(f"Airflow task {dag_id}.{task_id} failed after try {try_number} (run {run_id}).\n\n{error}\n")
    with day14_transport_from_settings(settings) as transport:
        transport.send(message, tuple(settings.escalation_recipients))


# --- the DAG: read by Airflow in its own environment ------------------------------------------------------
def _day14_airflow_side() -> bool:
    try:
        return importlib.util.find_spec("airflow.sdk") is not None
    except ModuleNotFoundError:
        return False


if _day14_airflow_side():
    from airflow.sdk import dag, task
    from airflow.timetables.trigger import CronTriggerTimetable
    from airflow_support.week_dags import RUN_AT, RUN_ID, dag_defaults, day_settings, in_project

    DAY14_SETTINGS = day_settings("day14")

    @dag(dag_id="day14_kpi_email", start_date=datetime(2026, 1, 1, tzinfo=timezone.utc), doc_md=__doc__,
         schedule=CronTriggerTimetable(f"{DAY14_SETTINGS.send_time.minute} {DAY14_SETTINGS.send_time.hour} * * *",
                                       timezone=DAY14_SETTINGS.timezone),
         **dag_defaults("day14"))
    def day14_kpi_email():
        @task.external_python(**in_project("day14", retries=2))
        def compute_kpis(run_at: str) -> dict:
            from day14_DAG_airflow import day14_step_compute
            return day14_step_compute(run_at)

        @task.external_python(**in_project("day14", retries=1))
        def render(computed: dict) -> dict:
            from day14_DAG_airflow import day14_step_render
            return day14_step_render(computed)

        @task.external_python(**in_project("day14", **day14_send_retries(DAY14_SETTINGS)))
        def send(rendered: dict, run_key: str) -> str:
            from day14_DAG_airflow import day14_step_send
            return day14_step_send(rendered, run_key)

        send(render(compute_kpis(RUN_AT)), RUN_ID)

    day14_kpi_email()
