"""The Python mirror: KPI maths, Block Kit limits, Slack's failure modes, idempotency, end to end."""
import json
import threading
from datetime import date, datetime, timezone
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from day11_BLOCKKIT_message import day11_blocks, day11_enforce_limits, day11_violations
from day11_CONFIG_settings import day11_load_settings
from day11_DELIVERY_channels import day11_post_slack
from day11_HTTP_client import day11_session
from day11_KPI_report import day11_build_report, day11_change
from day11_PIPELINE_report import day11_default_date, day11_run
from day11_SCHEDULER_cron import DAY11_JOB_ID, day11_build_scheduler
from day11_SOURCES_google import day11_CampaignDay, day11_SiteDay

DAY = date(2026, 11, 22)
BEFORE = date(2026, 11, 21)


def _campaign(day, name, spend, revenue, impressions=1000, clicks=100, conversions=10):
    return day11_CampaignDay(day, name, name, Decimal(spend), impressions, clicks, Decimal(conversions), Decimal(revenue))


def _report(**kwargs):
    campaigns = [_campaign(DAY, "A", "100", "500"), _campaign(DAY, "B", "200", "200"), _campaign(DAY, "C", "0", "0"),
                 _campaign(BEFORE, "A", "100", "600"), _campaign(BEFORE, "B", "100", "300")]
    site = [day11_SiteDay(DAY, 1000, 800, 25, Decimal("900")), day11_SiteDay(BEFORE, 1000, 800, 20, Decimal("800"))]
    return day11_build_report(DAY, campaigns, site, currency="EUR", roas_drop_pct=20, spend_spike_pct=30, **kwargs)


def test_kpis_are_exact_and_rounded_only_for_display():
    report = _report()
    assert report.today["spend"] == Decimal("300") and report.today["roas"] == Decimal("700") / Decimal("300")
    assert report.today["ctr"] == Decimal("300") / Decimal("3000") and report.today["cpa"] == Decimal("10")
    assert report.today["site_conversion_rate"] == Decimal("0.025")
    assert report.change["spend"] == Decimal("0.5")  # 200 -> 300


def test_top_and_bottom_by_roas_ignore_campaigns_without_spend():
    report = _report()
    assert [name for name, _, _ in report.top] == ["A", "B"] and [name for name, _, _ in report.bottom] == ["B", "A"]


def test_anomaly_flags_follow_the_thresholds():
    anomalies = _report().anomalies  # ROAS 4.5 -> 2.33 (-48%), spend +50%
    assert any(a.startswith("ROAS down 48.1%") for a in anomalies) and any(a.startswith("Spend up 50.0%") for a in anomalies)


def test_day_over_day_change_is_undefined_without_a_base():
    assert day11_change(Decimal(5), Decimal(0)) is None and day11_change(None, Decimal(1)) is None


def test_a_missing_report_day_is_refused_not_reported_as_zero():
    with pytest.raises(ValueError, match="no Google Ads data for 2026-11-22"):
        day11_build_report(DAY, [_campaign(BEFORE, "A", "1", "1")], [], currency="EUR", roas_drop_pct=20, spend_spike_pct=30)


def test_the_message_fits_slack_and_an_oversized_one_is_trimmed_on_purpose():
    blocks = day11_blocks(_report())
    assert not day11_violations(blocks) and [b["type"] for b in blocks][:1] == ["header"]
    assert {"header", "section", "context", "divider"} <= {b["type"] for b in blocks}
    huge = [{"type": "header", "text": {"type": "plain_text", "text": "x" * 400}},
            {"type": "section", "fields": [{"type": "mrkdwn", "text": "f"}] * 14},
            *[{"type": "section", "text": {"type": "mrkdwn", "text": "y" * 5000}}] * 60]
    assert day11_violations(huge)
    trimmed = day11_enforce_limits(huge)
    assert not day11_violations(trimmed) and len(trimmed) == 50
    assert trimmed[-1]["elements"][0]["text"].endswith("omitted to fit Slack's 50-block limit")


@pytest.fixture
def slack():
    """A real HTTP Slack stand-in answering from a script of (status, headers, body)."""
    script, bodies = [], []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            bodies.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            status, headers, body = script.pop(0) if script else (200, {}, "ok")
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body.encode())

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/hook", script, bodies
    server.shutdown()


def test_slack_429_honours_retry_after_and_5xx_backs_off(slack):
    url, script, bodies = slack
    script.extend([(429, {"Retry-After": "7"}, "rate_limited"), (503, {}, "unavailable"), (503, {}, "unavailable")])
    waits = []
    session = day11_session(4, 60, repeat_reads=False, sleeper=waits.append)
    assert day11_post_slack(session, url, {"text": "x"}).state == "delivered"
    assert waits == [7.0, 2.0, 4.0] and len(bodies) == 4  # Retry-After as given, then urllib3's backoff


def test_slack_4xx_fails_loudly_with_slacks_own_error(slack):
    url, script, _ = slack
    script.append((400, {}, "invalid_blocks"))
    outcome = day11_post_slack(day11_session(3, 60, repeat_reads=False, sleeper=lambda s: None), url, {"text": "x"})
    assert outcome.state == "failed" and "400: invalid_blocks" in outcome.detail


def _settings(tmp_path):
    return day11_load_settings(env_file=None, output_dir=tmp_path / "out", ledger_path=tmp_path / "ledger.sqlite")


def test_end_to_end_on_stand_ins_then_a_rerun_posts_nothing_twice(tmp_path):
    settings = _settings(tmp_path)
    first = day11_run(settings, report_date=DAY)
    assert first.exit_code == 0 and "slack: delivered; email: delivered" in first.message
    again = day11_run(settings, report_date=DAY)
    assert "slack: already delivered; email: already delivered" in again.message
    assert len(list((tmp_path / "out").glob("day11_slack_post_*.json"))) == 1
    forced = day11_run(settings, report_date=DAY, force=True)
    assert "slack: delivered" in forced.message
    post = json.loads((tmp_path / "out" / "day11_slack_post_001.json").read_text())
    assert post["blocks"][0]["text"]["text"].startswith("Retail performance · Sun 22 Nov 2026")
    assert list((tmp_path / "out").glob("day11_email_*.eml"))


def test_seeded_anomalies_reach_the_message(tmp_path):
    from day11_PIPELINE_report import day11_endpoints
    from day11_STANDIN_servers import day11_standin

    settings = _settings(tmp_path)
    with day11_standin(DAY, settings.output_dir, defects=("roas_drop", "spend_spike")) as base, \
            day11_endpoints(settings.model_copy(update={"ads_api_base_url": base, "ga4_api_base_url": base}), DAY) as urls:
        urls = {**urls, "ads": base, "ga4": base, "slack": f"{base}/slack/webhook"}
        outcome = day11_run(settings, report_date=DAY, endpoints=urls)
    assert "ROAS down" in outcome.message and "Spend up" in outcome.message


def test_a_failing_source_is_exit_3_with_its_status(tmp_path):
    from day11_STANDIN_servers import day11_standin

    settings = _settings(tmp_path)
    with day11_standin(DAY, settings.output_dir, fail_ads_with=403) as base:
        urls = {"ads": base, "ga4": base, "slack": f"{base}/slack/webhook", "smtp": ("127.0.0.1", 1, "none")}
        outcome = day11_run(settings, report_date=DAY, endpoints=urls)
    assert outcome.exit_code == 3 and "403" in outcome.message


def test_schedule_is_eight_utc_daily_without_overlap(tmp_path):
    settings = day11_load_settings(env_file=None)
    job = day11_build_scheduler(settings, job=lambda: None).get_job(DAY11_JOB_ID)
    assert (job.max_instances, job.coalesce, str(job.trigger.timezone)) == (1, True, "UTC")
    fire = job.trigger.get_next_fire_time(None, datetime(2026, 11, 22, 9, 0, tzinfo=timezone.utc))
    assert fire == datetime(2026, 11, 23, 8, 0, tzinfo=timezone.utc)
    assert day11_default_date(datetime(2026, 11, 23, 0, 30, tzinfo=timezone.utc)) == DAY
