"""One report run: fetch Ads + GA4 -> KPIs -> Block Kit + HTML -> Slack and e-mail, each once per date."""
from __future__ import annotations

import json
import logging
import time
import uuid
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Iterator

from day11_BLOCKKIT_message import day11_email_html, day11_payload, day11_violations
from day11_AUTH_google import day11_ads_headers, day11_google_auths
from day11_DELIVERY_channels import (AMBIGUOUS, CLAIMED, DELIVERED, FAILED, day11_Delivery, day11_Ledger, day11_post_slack,
                                     day11_send_email)
from day11_HTTP_client import day11_session
from day11_KPI_report import day11_build_report
from day11_LOG_setup import day11_redact, day11_register_secret
from day11_SOURCES_google import day11_fetch_ads, day11_fetch_ga4, day11_SourceError
from day11_STANDIN_servers import DAY11_STANDIN_CUSTOMER_ID, DAY11_STANDIN_PROPERTY_ID, DAY11_STANDIN_SLACK_PATH

DAY11_LOG = logging.getLogger("day11.report")


@dataclass(frozen=True)
class day11_Outcome:
    exit_code: int  # 0 delivered or already delivered, 1 a delivery failed, 3 source data unusable, 4 outcome unknown
    message: str


def day11_default_date(now: datetime) -> date:
    return now.astimezone(timezone.utc).date() - timedelta(days=1)  # yesterday in UTC: the last complete day


@contextmanager
def day11_endpoints(settings, report_date: date) -> Iterator[dict]:
    """Real API and webhook URLs where configured; the local stand-ins for whatever is not."""
    with ExitStack() as stack:
        standin = None
        if not (settings.ads_api_base_url and settings.ga4_api_base_url and settings.slack_webhook_url):
            from day11_STANDIN_servers import day11_standin

            standin = stack.enter_context(day11_standin(report_date, settings.output_dir))
        smtp = None
        if not settings.smtp_host:
            smtp = stack.enter_context(day11_smtp_sink(settings.output_dir))
        slack = (settings.slack_webhook_url.get_secret_value() if settings.slack_webhook_url
                 else f"{standin}{DAY11_STANDIN_SLACK_PATH}")
        yield {"ads": settings.ads_api_base_url or standin, "ga4": settings.ga4_api_base_url or standin, "slack": slack,
               "smtp": (settings.smtp_host, settings.smtp_port, settings.smtp_security) if settings.smtp_host else (*smtp, "none")}


@contextmanager
def day11_smtp_sink(folder: Path) -> Iterator[tuple[str, int]]:
    """An in-process SMTP server on loopback that saves each message as an .eml file in day11/output."""
    import socket

    from aiosmtpd.controller import Controller

    class Sink:
        async def handle_DATA(self, server, session, envelope):
            from day11_STANDIN_servers import day11_keep

            day11_keep(folder, f"day11_email_{time.strftime('%Y%m%dT%H%M%S')}", ".eml", envelope.content)
            return "250 OK"

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(Sink(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield "127.0.0.1", port
    finally:
        controller.stop()


def day11_run(settings, *, report_date: date, force: bool = False, endpoints: dict | None = None,
              sleeper=time.sleep) -> day11_Outcome:
    run_id, started = uuid.uuid4().hex[:12], time.monotonic()
    with ExitStack() as stack:
        urls = endpoints or stack.enter_context(day11_endpoints(settings, report_date))
        day11_register_secret(urls["slack"])
        google = stack.enter_context(day11_session(settings.http_attempts, settings.retry_after_cap_s, repeat_reads=True,
                                                   sleeper=sleeper))
        try:
            report = day11_fetch_report(settings, google, urls, report_date)
        except (day11_SourceError, ValueError) as exc:
            DAY11_LOG.error("source data unusable", extra={"run_id": run_id, "error": str(exc)[:300]})
            return day11_Outcome(3, day11_redact(f"report {report_date} not built: {exc}"))
        payload = day11_payload(report)
        problems = day11_violations(payload["blocks"])
        assert not problems, problems  # day11_payload trims; anything left here is a bug, not an input
        settings.output_dir.mkdir(parents=True, exist_ok=True)
        (settings.output_dir / f"day11_payload_{report_date}.json").write_text(json.dumps(payload, indent=2) + "\n")
        slack = stack.enter_context(day11_session(settings.http_attempts, settings.retry_after_cap_s, repeat_reads=False,
                                                  sleeper=sleeper))
        ledger = day11_Ledger(settings.ledger_path)
        stack.callback(ledger.close)
        channels = {
            "slack": lambda: day11_post_slack(slack, urls["slack"], payload, timeout=settings.slack_timeout_s,
                                              retry_after_cap=settings.retry_after_cap_s),
            "email": lambda: day11_send_email(*urls["smtp"], settings.email_from, settings.email_to,
                                              f"Retail performance {report_date}", day11_email_html(report), payload["text"],
                                              settings.smtp_user,
                                              settings.smtp_password.get_secret_value() if settings.smtp_password else None,
                                              timeout=settings.smtp_timeout_s)}
        states = {channel: day11_deliver_once(ledger, str(report_date), channel, deliver, run_id, force)
                  for channel, deliver in channels.items()}
        results = "; ".join(f"{channel}: {text}" for channel, (_, text) in states.items())
        DAY11_LOG.info("report run finished", extra={
            "run_id": run_id, "report_date": str(report_date), "campaigns": report.campaigns_reported,
            "anomalies": len(report.anomalies), "results": results, "duration_s": round(time.monotonic() - started, 2)})
        ends = {state for state, _ in states.values()}
        code = 1 if FAILED in ends else 4 if AMBIGUOUS in ends else 0
        return day11_Outcome(code, day11_redact(
            f"report {report_date}: {results}" + (f"; anomalies: {'; '.join(report.anomalies)}" if report.anomalies else "")
            + f"; payload: {settings.output_dir / f'day11_payload_{report_date}.json'}"))


def day11_fetch_report(settings, session, urls: dict, report_date: date):
    """Both sources for the report day and the day before, checked, then the KPIs."""
    ads_auth, ga4_auth = day11_google_auths(settings, session)
    start = report_date - timedelta(days=1)
    campaigns = day11_fetch_ads(session, urls["ads"], settings.ads_customer_id or DAY11_STANDIN_CUSTOMER_ID, start,
                                report_date, version=settings.ads_api_version, auth=ads_auth, headers=day11_ads_headers(settings))
    site = day11_fetch_ga4(session, urls["ga4"], settings.ga4_property_id or DAY11_STANDIN_PROPERTY_ID, start, report_date,
                           auth=ga4_auth, page_size=settings.ga4_page_size)
    return day11_build_report(report_date, campaigns, site, currency=settings.currency,
                              roas_drop_pct=settings.roas_drop_alert_pct, spend_spike_pct=settings.spend_spike_alert_pct)


DAY11_BLOCKED = {DELIVERED: "already delivered",
                 AMBIGUOUS: "outcome unknown since an earlier run (not re-sent; check, then --force to send again)",
                 CLAIMED: "claimed by another run (sending now, or stopped mid-send; check, then --force)"}


def day11_deliver_once(ledger, report_date: str, channel: str, deliver, run_id: str, force: bool) -> tuple[str, str]:
    """Claim, send, settle: (state, text for the summary). A claim held elsewhere sends nothing."""
    blocked = ledger.claim(report_date, channel, run_id, force)
    if blocked:
        # an earlier ambiguous outcome is still unknown: this run ends 4 too, so no green re-run hides it
        return (blocked if blocked in (DELIVERED, AMBIGUOUS) else "skipped"), DAY11_BLOCKED[blocked]
    try:
        outcome = deliver()
    except Exception as exc:  # a bug, not a service answer: whether anything went out is unknown
        DAY11_LOG.exception("delivery crashed", extra={"run_id": run_id, "channel": channel})
        outcome = day11_Delivery(AMBIGUOUS, f"crashed ({type(exc).__name__})")
    except KeyboardInterrupt:  # Ctrl-C mid-send: unknown as a crash is, not a claim that looks like a run still sending
        ledger.settle(report_date, channel, run_id, day11_Delivery(AMBIGUOUS, "interrupted (Ctrl-C) while sending"))
        raise
    ledger.settle(report_date, channel, run_id, outcome)
    if outcome.state != DELIVERED:
        DAY11_LOG.error("delivery not confirmed", extra={"run_id": run_id, "channel": channel, "state": outcome.state,
                                                         "error": outcome.detail[:300]})
    text = {DELIVERED: "delivered", FAILED: f"FAILED ({outcome.detail})",
            AMBIGUOUS: f"AMBIGUOUS ({outcome.detail}; may have been delivered: not re-sent, --force sends again)"}
    return outcome.state, text[outcome.state]
