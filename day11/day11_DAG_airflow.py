"""Airflow 3 DAG for the retail daily report: fetch Ads and GA4 (in parallel) -> build report -> Slack and e-mail.

The file has two halves. The steps (top) run in the project's interpreter, called by each task through
@task.external_python, and only wire the day's own functions; they pass small values (paths, counts)
between tasks. The DAG (bottom) is read by Airflow in its own environment.

Schedule: DAY11_SCHEDULE_CRON in DAY11_TIMEZONE (08:00 UTC), the same settings the SCHEDULER uses.
On failure: fetch_* retry 3 times with backoff (reads are safe to repeat); build_report once; deliver_*
never (a timed-out post may have arrived: the day's own code already retries what is safe, 429/5xx); after
the last try the failure callback posts to the day's Slack channel (the local stand-in by default).
Re-runs: the delivery ledger skips a channel already delivered for the date (the task ends "skipped").
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


def _day11_headers(settings) -> dict:
    headers = {}
    if settings.google_access_token:
        headers["Authorization"] = f"Bearer {settings.google_access_token.get_secret_value()}"
    if settings.ads_developer_token:
        headers["developer-token"] = settings.ads_developer_token.get_secret_value()
    return headers


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
    """Fetch one source (ads or ga4) for the report date and its previous day; rows saved as JSON."""
    import requests

    from day11_PIPELINE_report import day11_endpoints
    from day11_SOURCES_google import day11_fetch_ads, day11_fetch_ga4

    settings = _day11_settings()
    report_date = _day11_report_date(settings, run_at)
    start = report_date - timedelta(days=1)  # the day before too: day-over-day alerts
    with day11_endpoints(settings, report_date) as urls, requests.Session() as session:
        if source == "ads":
            rows = day11_fetch_ads(session, urls["ads"], settings.ads_customer_id, start, report_date, _day11_headers(settings))
        else:
            rows = day11_fetch_ga4(session, urls["ga4"], settings.ga4_property_id, start, report_date, _day11_headers(settings))
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


def day11_step_deliver(channel: str, built: dict) -> str:
    """Deliver one channel once per report date (the ledger); already delivered: exit 99, the task is skipped."""
    import logging

    import requests

    from day11_DELIVERY_channels import day11_Ledger, day11_post_slack, day11_send_email
    from day11_PIPELINE_report import day11_endpoints

    settings = _day11_settings()
    report_date = date.fromisoformat(built["report_date"])
    log = logging.getLogger("day11.airflow")
    ledger = day11_Ledger(settings.ledger_path)
    try:
        if ledger.delivered(str(report_date), channel):
            log.info("already delivered; nothing sent", extra={"report_date": str(report_date), "channel": channel})
            raise SystemExit(DAY11_AIRFLOW_SKIP)
        payload = json.loads(Path(built["payload"]).read_text())
        with day11_endpoints(settings, report_date) as urls, requests.Session() as session:
            if channel == "slack":
                detail = day11_post_slack(session, urls["slack"], payload)
            else:
                password = settings.smtp_password.get_secret_value() if settings.smtp_password else None
                day11_send_email(*urls["smtp"], settings.email_from, settings.email_to, f"Retail performance {report_date}",
                                 Path(built["email_html"]).read_text(encoding="utf-8"), payload["text"],
                                 settings.smtp_user, password)
                detail = "sent"
        ledger.record(str(report_date), channel, detail)
    finally:
        ledger.close()
    log.info("delivered", extra={"report_date": str(report_date), "channel": channel})
    return f"{channel}: delivered"


def day11_step_notify_failure(dag_id: str, task_id: str, run_id: str, try_number, error: str) -> None:
    """The failure callback's message, to the configured Slack webhook or the local stand-in (output/airflow_alerts)."""
    import re

    import requests

    from day11_DELIVERY_channels import day11_post_slack
    from day11_STANDIN_servers import day11_standin

    settings = _day11_settings()
    payload = {"text": f":x: Airflow {dag_id}.{task_id} failed after try {try_number} (run {run_id}): {error}"}
    with requests.Session() as session:
        if settings.slack_webhook_url:
            day11_post_slack(session, settings.slack_webhook_url.get_secret_value(), payload)
            return
        folder = settings.output_dir / "airflow_alerts" / re.sub(r"[^\w.-]+", "_", f"{run_id}_{task_id}")
        with day11_standin(datetime.now(timezone.utc).date(), folder) as base:
            day11_post_slack(session, f"{base}/slack/webhook", payload)


# --- the DAG: read by Airflow in its own environment ------------------------------------------------------
def _day11_airflow_side() -> bool:
    try:
        return importlib.util.find_spec("airflow.sdk") is not None
    except ModuleNotFoundError:
        return False


if _day11_airflow_side():
    from airflow.sdk import dag, task
    from airflow.timetables.trigger import CronTriggerTimetable
    from airflow_support.week_dags import RUN_AT, dag_defaults, day_settings, in_project

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
        def deliver_slack(built: dict) -> str:
            from day11_DAG_airflow import day11_step_deliver
            return day11_step_deliver("slack", built)

        @task.external_python(**in_project("day11"))
        def deliver_email(built: dict) -> str:
            from day11_DAG_airflow import day11_step_deliver
            return day11_step_deliver("email", built)

        built = build_report(RUN_AT, fetch_ads(RUN_AT), fetch_ga4(RUN_AT))
        deliver_slack(built)
        deliver_email(built)

    day11_retail_report()
