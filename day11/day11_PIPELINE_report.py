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
from day11_DELIVERY_channels import day11_DeliveryError, day11_Ledger, day11_post_slack, day11_send_email
from day11_KPI_report import day11_build_report
from day11_SOURCES_google import day11_fetch_ads, day11_fetch_ga4, day11_SourceError

DAY11_LOG = logging.getLogger("day11.report")


@dataclass(frozen=True)
class day11_Outcome:
    exit_code: int  # 0 delivered or already delivered, 1 delivery failed, 3 source data unusable
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
        yield {"ads": settings.ads_api_base_url or standin, "ga4": settings.ga4_api_base_url or standin,
               "slack": settings.slack_webhook_url.get_secret_value() if settings.slack_webhook_url else f"{standin}/slack/webhook",
               "smtp": (settings.smtp_host, settings.smtp_port, settings.smtp_security) if settings.smtp_host else (*smtp, "none")}


@contextmanager
def day11_smtp_sink(folder: Path) -> Iterator[tuple[str, int]]:
    """An in-process SMTP server on loopback that saves each message as an .eml file in day11/output."""
    import socket

    from aiosmtpd.controller import Controller

    class Sink:
        async def handle_DATA(self, server, session, envelope):
            folder.mkdir(parents=True, exist_ok=True)
            (folder / f"day11_email_{time.strftime('%Y%m%dT%H%M%S')}.eml").write_bytes(envelope.content)
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


def day11_run(settings, *, report_date: date, force: bool = False, endpoints: dict | None = None) -> day11_Outcome:
    import requests

    run_id, started = uuid.uuid4().hex[:12], time.monotonic()
    with ExitStack() as stack:
        urls = endpoints or stack.enter_context(day11_endpoints(settings, report_date))
        headers = {}
        if settings.google_access_token:
            headers["Authorization"] = f"Bearer {settings.google_access_token.get_secret_value()}"
        if settings.ads_developer_token:
            headers["developer-token"] = settings.ads_developer_token.get_secret_value()
        session = stack.enter_context(requests.Session())
        try:
            start = report_date - timedelta(days=1)
            campaigns = day11_fetch_ads(session, urls["ads"], settings.ads_customer_id, start, report_date, headers)
            site = day11_fetch_ga4(session, urls["ga4"], settings.ga4_property_id, start, report_date, headers)
            report = day11_build_report(report_date, campaigns, site, currency=settings.currency,
                                        roas_drop_pct=settings.roas_drop_alert_pct, spend_spike_pct=settings.spend_spike_alert_pct)
        except (day11_SourceError, ValueError, requests.RequestException) as exc:
            DAY11_LOG.error("source data unusable", extra={"run_id": run_id, "error": str(exc)[:300]})
            return day11_Outcome(3, f"report {report_date} not built: {exc}")
        payload = day11_payload(report)
        problems = day11_violations(payload["blocks"])
        assert not problems, problems  # day11_payload trims; anything left here is a bug, not an input
        settings.output_dir.mkdir(parents=True, exist_ok=True)
        (settings.output_dir / f"day11_payload_{report_date}.json").write_text(json.dumps(payload, indent=2) + "\n")
        ledger = day11_Ledger(settings.ledger_path)
        stack.callback(ledger.close)
        results, failed = [], []
        password = settings.smtp_password.get_secret_value() if settings.smtp_password else None
        for channel, deliver in (("slack", lambda: day11_post_slack(session, urls["slack"], payload)),
                                 ("email", lambda: day11_send_email(*urls["smtp"], settings.email_from, settings.email_to,
                                                                    f"Retail performance {report_date}", day11_email_html(report),
                                                                    payload["text"], settings.smtp_user,
                                                                    password) or "sent")):
            if ledger.delivered(str(report_date), channel) and not force:
                results.append(f"{channel}: already delivered")
                continue
            try:
                ledger.record(str(report_date), channel, deliver())
                results.append(f"{channel}: delivered")
            except day11_DeliveryError as exc:
                failed.append(channel)
                results.append(f"{channel}: FAILED ({exc})")
                DAY11_LOG.error("delivery failed", extra={"run_id": run_id, "channel": channel, "error": str(exc)[:300]})
        DAY11_LOG.info("report run finished", extra={
            "run_id": run_id, "report_date": str(report_date), "campaigns": report.campaigns_reported,
            "anomalies": len(report.anomalies), "results": "; ".join(results),
            "duration_s": round(time.monotonic() - started, 2)})
        return day11_Outcome(1 if failed else 0, f"report {report_date}: " + "; ".join(results)
                             + (f"; anomalies: {'; '.join(report.anomalies)}" if report.anomalies else "")
                             + f"; payload: {settings.output_dir / f'day11_payload_{report_date}.json'}")
