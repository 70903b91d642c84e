"""Airflow 3 DAG for the retail daily report: fetch Ads and GA4 (in parallel) -> build report -> Slack and e-mail.

The file has two halves. The steps (top) run in the project's interpreter, called by each task through
@task.external_python, and only wire the day's own functions; they pass small values (paths, counts)
between tasks. The DAG (bottom) is read by Airflow in its own environment.

Schedule: DAY11_SCHEDULE_CRON in DAY11_TIMEZONE (08:00 UTC), the same settings the SCHEDULER uses.
On failure: fetch_* retry 3 times with backoff (reads are safe to repeat); build_report once; deliver_*
never (a timed-out post may have arrived: the day's own code already retries what is safe, 429/5xx); after
the last try the failure callback posts to the day's Slack channel (the local stand-in by default).
Re-runs: the claim/settle ledger skips a channel already delivered for the date (the task ends "skipped").
Delivery outcomes as task states: delivered -> success; already delivered -> skipped; failed (nothing went
out) -> the task fails, a later run may send again; ambiguous (exit 4 of the ORCHESTRATOR: it may have
arrived) -> the task fails and later runs fail too without re-sending, until someone checks and sends with
`ORCHESTRATOR --force`. Source data unusable (exit 3) fails the fetch task after its retries.
"""
from __future__ import annotations

import importlib.util
import json
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

DAY11_AIRFLOW_SKIP = 99  # the exit code the DAG maps onto a skipped task (airflow_support.week_dags.SKIP_EXIT_CODE)


# --- steps: run by the project's interpreter -------------------------------------------------------------
def _day11_settings():
    from day11_CONFIG_settings import day11_load_settings
    from day11_LOG_setup import day11_setup_logging

    settings = day11_load_settings()
    day11_setup_logging(settings.output_dir / "day11_execution.log")
    return settings


def _day11_report_date(settings, run_at: str) -> date:
    from day11_PIPELINE_report import day11_default_date

    return settings.report_date or day11_default_date(datetime.fromisoformat(run_at))


def _day11_work_dir(settings, report_date: date) -> Path:
    folder = settings.output_dir / "airflow" / str(report_date)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _day11_rows_out(rows) -> list[dict]:
    from dataclasses import asdict

    return [{k: str(v) for k, v in asdict(row).items()} for row in rows]


def _day11_rows_in(cls, items: list[dict]) -> list:
    from decimal import Decimal
    from typing import get_type_hints

    hints = get_type_hints(cls)
    parse = {date: date.fromisoformat, Decimal: Decimal, int: int, str: str}
    return [cls(**{k: parse[hints[k]](v) for k, v in item.items()}) for item in items]


def day11_step_fetch(source: str, run_at: str) -> dict:
    """Fetch one source (ads or ga4) for the report date and its previous day; rows saved as JSON.

    The day's own HTTP session (urllib3 Retry: reads repeated on 429/5xx) and Google credentials
    (refresh token or GA4 service account when configured, none for the stand-ins)."""
    from day11_AUTH_google import day11_ads_headers, day11_google_auths
    from day11_HTTP_client import day11_session
    from day11_LOG_setup import day11_redact
    from day11_PIPELINE_report import day11_endpoints
    from day11_SOURCES_google import day11_fetch_ads, day11_fetch_ga4, day11_SourceError
    from day11_STANDIN_servers import DAY11_STANDIN_CUSTOMER_ID, DAY11_STANDIN_PROPERTY_ID

    settings = _day11_settings()
    report_date = _day11_report_date(settings, run_at)
    start = report_date - timedelta(days=1)  # the day before too: day-over-day alerts
    with day11_endpoints(settings, report_date) as urls, \
            day11_session(settings.http_attempts, settings.retry_after_cap_s, repeat_reads=True) as session:
        ads_auth, ga4_auth = day11_google_auths(settings, session)
        try:
            if source == "ads":
                rows = day11_fetch_ads(session, urls["ads"], settings.ads_customer_id or DAY11_STANDIN_CUSTOMER_ID, start,
                                       report_date, version=settings.ads_api_version, auth=ads_auth,
                                       headers=day11_ads_headers(settings))
            else:
                rows = day11_fetch_ga4(session, urls["ga4"], settings.ga4_property_id or DAY11_STANDIN_PROPERTY_ID, start,
                                       report_date, auth=ga4_auth, page_size=settings.ga4_page_size)
        except day11_SourceError as exc:
            raise day11_SourceError(day11_redact(str(exc))) from None
    path = _day11_work_dir(settings, report_date) / f"day11_{source}_rows.json"
    path.write_text(json.dumps(_day11_rows_out(rows)) + "\n")
    return {"path": str(path), "rows": len(rows), "report_date": str(report_date)}


def day11_step_build(run_at: str, ads: dict, ga4: dict) -> dict:
    """KPIs from both sources -> the Block Kit payload and the e-mail (HTML and text), saved for delivery."""
    import logging

    from day11_BLOCKKIT_message import day11_email_html, day11_payload, day11_violations
    from day11_KPI_report import day11_build_report
    from day11_SOURCES_google import day11_CampaignDay, day11_SiteDay

    settings = _day11_settings()
    report_date = _day11_report_date(settings, run_at)
    campaigns = _day11_rows_in(day11_CampaignDay, json.loads(Path(ads["path"]).read_text()))
    site = _day11_rows_in(day11_SiteDay, json.loads(Path(ga4["path"]).read_text()))
    report = day11_build_report(report_date, campaigns, site, currency=settings.currency,
                                roas_drop_pct=settings.roas_drop_alert_pct, spend_spike_pct=settings.spend_spike_alert_pct)
    payload = day11_payload(report)
    problems = day11_violations(payload["blocks"])
    if problems:
        raise ValueError(f"Block Kit limits violated: {problems}")
    payload_path = settings.output_dir / f"day11_payload_{report_date}.json"  # the same file the ORCHESTRATOR writes
    payload_path.write_text(json.dumps(payload, indent=2) + "\n")
    html_path = _day11_work_dir(settings, report_date) / "day11_email.html"
    html_path.write_text(day11_email_html(report), encoding="utf-8")
    logging.getLogger("day11.airflow").info("report built", extra={
        "report_date": str(report_date), "campaigns": report.campaigns_reported, "anomalies": len(report.anomalies)})
    return {"payload": str(payload_path), "email_html": str(html_path), "report_date": str(report_date),
            "anomalies": len(report.anomalies)}


def day11_step_deliver(channel: str, built: dict, run_key: str) -> str:
    """Deliver one channel once per report date through the day's claim/settle ledger.

    Already delivered: exit 99, the task is skipped. Delivered now: success. Failed (nothing went out: the
    next run may send again) or ambiguous (it may have arrived: never re-sent automatically, also on later
    runs, until someone checks and sends with the ORCHESTRATOR's --force): the task fails, and the failure
    callback says why."""
    import logging
    import re
    from contextlib import ExitStack

    from day11_DELIVERY_channels import DELIVERED, day11_Ledger, day11_post_slack, day11_send_email
    from day11_HTTP_client import day11_session
    from day11_LOG_setup import day11_register_secret
    from day11_PIPELINE_report import day11_deliver_once, day11_endpoints

    settings = _day11_settings()
    report_date = date.fromisoformat(built["report_date"])
    log = logging.getLogger("day11.airflow")
    run_id = "airflow-" + re.sub(r"[^\w.-]+", "_", run_key)[:80]
    with ExitStack() as stack:
        ledger = day11_Ledger(settings.ledger_path)
        stack.callback(ledger.close)
        if ledger.delivered(str(report_date), channel):
            log.info("already delivered; nothing sent", extra={"report_date": str(report_date), "channel": channel})
            raise SystemExit(DAY11_AIRFLOW_SKIP)
        payload = json.loads(Path(built["payload"]).read_text())
        urls = stack.enter_context(day11_endpoints(settings, report_date))
        if channel == "slack":
            day11_register_secret(urls["slack"])
            session = stack.enter_context(day11_session(settings.http_attempts, settings.retry_after_cap_s,
                                                        repeat_reads=False))

            def deliver():
                return day11_post_slack(session, urls["slack"], payload, timeout=settings.slack_timeout_s,
                                        retry_after_cap=settings.retry_after_cap_s)
        else:
            def deliver():
                password = settings.smtp_password.get_secret_value() if settings.smtp_password else None
                return day11_send_email(*urls["smtp"], settings.email_from, settings.email_to,
                                        f"Retail performance {report_date}",
                                        Path(built["email_html"]).read_text(encoding="utf-8"), payload["text"],
                                        settings.smtp_user, password)
        state, text = day11_deliver_once(ledger, str(report_date), channel, deliver, run_id, False)
    if state != DELIVERED:  # failed, ambiguous now, or blocked by an earlier ambiguous/unfinished claim
        raise RuntimeError(f"{channel} {report_date}: {text}")
    log.info("delivered", extra={"report_date": str(report_date), "channel": channel})
    return f"{channel}: delivered"


def day11_step_notify_failure(dag_id: str, task_id: str, run_id: str, try_number, error: str) -> None:
    """The failure callback's message, to the configured Slack webhook or the local stand-in (output/airflow_alerts)."""
    import re

    import requests

    from day11_DELIVERY_channels import DELIVERED, day11_post_slack
    from day11_STANDIN_servers import DAY11_STANDIN_SLACK_PATH, day11_standin

    settings = _day11_settings()
    payload = {"text": f":x: Airflow {dag_id}.{task_id} failed after try {try_number} (run {run_id}): {error}"}
    with requests.Session() as session:
        if settings.slack_webhook_url:
            delivery = day11_post_slack(session, settings.slack_webhook_url.get_secret_value(), payload)
        else:
            folder = settings.output_dir / "airflow_alerts" / re.sub(r"[^\w.-]+", "_", f"{run_id}_{task_id}")
            with day11_standin(datetime.now(timezone.utc).date(), folder) as base:
                delivery = day11_post_slack(session, f"{base}{DAY11_STANDIN_SLACK_PATH}", payload)
    if delivery.state != DELIVERED:  # the callback must not say "notified" when Slack refused it
        raise RuntimeError(f"failure notification not delivered: {delivery.text}")


# --- the DAG: read by Airflow in its own environment ------------------------------------------------------
def _day11_airflow_side() -> bool:
    try:
        return importlib.util.find_spec("airflow.sdk") is not None
    except ModuleNotFoundError:
        return False


if _day11_airflow_side():
    from airflow.sdk import dag, task
    from airflow.timetables.trigger import CronTriggerTimetable
    from airflow_support.week_dags import RUN_AT, RUN_ID, dag_defaults, day_settings, in_project

    DAY11_SETTINGS = day_settings("day11")

    @dag(dag_id="day11_retail_report", start_date=datetime(2026, 1, 1, tzinfo=timezone.utc), doc_md=__doc__,
         schedule=CronTriggerTimetable(DAY11_SETTINGS.schedule_cron, timezone=DAY11_SETTINGS.timezone),
         **dag_defaults("day11"))
    def day11_retail_report():
        @task.external_python(**in_project("day11", retries=3))
        def fetch_ads(run_at: str) -> dict:
            from day11_DAG_airflow import day11_step_fetch
            return day11_step_fetch("ads", run_at)

        @task.external_python(**in_project("day11", retries=3))
        def fetch_ga4(run_at: str) -> dict:
            from day11_DAG_airflow import day11_step_fetch
            return day11_step_fetch("ga4", run_at)

        @task.external_python(**in_project("day11", retries=1))
        def build_report(run_at: str, ads: dict, ga4: dict) -> dict:
            from day11_DAG_airflow import day11_step_build
            return day11_step_build(run_at, ads, ga4)

        @task.external_python(**in_project("day11"))
        def deliver_slack(built: dict, run_key: str) -> str:
            from day11_DAG_airflow import day11_step_deliver
            return day11_step_deliver("slack", built, run_key)

        @task.external_python(**in_project("day11"))
        def deliver_email(built: dict, run_key: str) -> str:
            from day11_DAG_airflow import day11_step_deliver
            return day11_step_deliver("email", built, run_key)

        built = build_report(RUN_AT, fetch_ads(RUN_AT), fetch_ga4(RUN_AT))
        deliver_slack(built, RUN_ID)
        deliver_email(built, RUN_ID)

    day11_retail_report()
