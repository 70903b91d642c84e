"""Airflow 3 DAG for the daily transport KPI e-mail: compute KPIs -> render -> send.

The steps (top) run in the project's interpreter through @task.external_python and call the day's own
functions; the DAG (bottom) is read by Airflow in its own environment. Between tasks travel paths and
counts only: the KPI results as a JSON file, the rendered message as an .eml file.

Schedule: DAY14_SEND_TIME in DAY14_TIMEZONE (07:00 Australia/Melbourne), the same settings the SCHEDULER
uses, as a cron timetable in that zone: 07:00 local on both sides of a daylight-saving change.
On failure: compute_kpis retries twice (the data folder may still be filling), render once; send twice:
the send ledger records a failed send, and a retry claims it again exactly as a re-run of the
ORCHESTRATOR would, while a report already sent for the date and recipients is never sent again (the
task ends "skipped"). After the last try the failure callback e-mails the escalation recipients through
the day's transport (the embedded SMTP sink, writing to day14/outbox, by default).
"""
from __future__ import annotations

import importlib.util
import json
from datetime import date, datetime, timezone
from pathlib import Path

DAY14_AIRFLOW_SKIP = 99  # the exit code the DAG maps onto a skipped task (airflow_support.week_dags.SKIP_EXIT_CODE)


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
    """Yesterday in the network's time zone: KPIs from the operations data, saved as JSON."""
    import logging
    from dataclasses import asdict

    from day14_DATA_operations import day14_Operations
    from day14_KPI_definitions import day14_compute_kpis, day14_load_targets
    from day14_PIPELINE_report import day14_default_report_date, day14_operations_dir

    settings = _day14_settings()
    report_date = day14_default_report_date(settings.timezone, datetime.fromisoformat(run_at))
    ops = day14_Operations(day14_operations_dir(settings, report_date), settings.timezone)
    results = day14_compute_kpis(ops, report_date, day14_load_targets(settings.kpi_targets_path))
    path = _day14_work_dir(settings, report_date) / "day14_kpis.json"
    path.write_text(json.dumps([asdict(r) for r in results], indent=1) + "\n")
    missed = sum(r.status == "missed" for r in results)
    logging.getLogger("day14.airflow").info("KPIs computed", extra={
        "report_date": str(report_date), "kpis": len(results), "missed": missed})
    return {"kpis": str(path), "report_date": str(report_date), "count": len(results), "missed": missed}


def day14_step_render(computed: dict) -> dict:
    """The HTML e-mail with its chart and CSV, as the .eml the send step delivers."""
    from zoneinfo import ZoneInfo

    from day14_KPI_definitions import day14_KpiResult
    from day14_MESSAGE_build import day14_build_message, day14_recipients_for
    from day14_REPORT_render import day14_render_report

    settings = _day14_settings()
    report_date = date.fromisoformat(computed["report_date"])
    results = [day14_KpiResult(**item) for item in json.loads(Path(computed["kpis"]).read_text())]
    now = datetime.now(timezone.utc)
    report = day14_render_report(results, report_date, network_name=settings.network_name,
                                 generated_at=now.astimezone(ZoneInfo(settings.timezone)))
    message = day14_build_message(report, sender=settings.sender_email,
                                  recipients=day14_recipients_for(settings, report.missed),
                                  reply_to=settings.reply_to, report_date=report_date, now=now)
    path = _day14_work_dir(settings, report_date) / "day14_message.eml"
    path.write_bytes(bytes(message))
    return {"eml": str(path), "report_date": str(report_date), "missed": list(report.missed),
            "subject": report.subject}


def day14_step_send(rendered: dict) -> str:
    """Claim the (report, date, recipients) row in the send ledger, send with the day's retries, record it."""
    import email
    import email.policy
    import logging
    from datetime import timedelta

    from day14_DELIVERY_transports import day14_DeliveryError, day14_send_with_retries, day14_transport_from_settings
    from day14_LEDGER_sends import day14_LedgerKey, day14_SendLedger
    from day14_MESSAGE_build import DAY14_REPORT_NAME, day14_recipients_for

    settings = _day14_settings()
    log = logging.getLogger("day14.airflow")
    message = email.message_from_bytes(Path(rendered["eml"]).read_bytes(), policy=email.policy.default)
    recipients = day14_recipients_for(settings, tuple(rendered["missed"]))
    key = day14_LedgerKey(DAY14_REPORT_NAME, rendered["report_date"], recipients.key)
    fields = {"report_date": rendered["report_date"], "message_id": message["Message-ID"]}
    ledger = day14_SendLedger(settings.ledger_path)
    try:
        now = datetime.now(timezone.utc)
        claim = ledger.claim(key, message["Message-ID"], now=now, stale_after=timedelta(minutes=settings.claim_timeout_minutes))
        if claim.outcome == "already_sent":
            log.info("already sent for this date and recipients; nothing sent", extra=fields)
            raise SystemExit(DAY14_AIRFLOW_SKIP)
        if claim.outcome != "claimed":
            raise RuntimeError("another run is sending this report right now; a retry will find it sent or stale")
        with day14_transport_from_settings(settings) as transport:
            try:
                result, attempts = day14_send_with_retries(transport, message, recipients.envelope,
                                                           attempts=settings.max_send_attempts,
                                                           backoff_seconds=settings.retry_backoff_seconds)
            except day14_DeliveryError as exc:
                ledger.mark_failed(key, now=datetime.now(timezone.utc), attempts=settings.max_send_attempts, error=str(exc))
                raise
        ledger.mark_sent(key, now=datetime.now(timezone.utc), attempts=attempts, server_reply=result.server_reply,
                         accepted=result.accepted, refused=result.refused)
    finally:
        ledger.close()
    log.info("report sent", extra={**fields, "accepted": len(result.accepted), "refused": len(result.refused)})
    return f"sent to {len(result.accepted)} recipient(s)"


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
    from airflow_support.week_dags import RUN_AT, dag_defaults, day_settings, in_project

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

        @task.external_python(**in_project("day14", retries=2))
        def send(rendered: dict) -> str:
            from day14_DAG_airflow import day14_step_send
            return day14_step_send(rendered)

        send(render(compute_kpis(RUN_AT)))

    day14_kpi_email()
