"""Proof in a real n8n: import both exports, execute the main one against the stand-ins, compare the
Slack message with the Python mirror's, and take the error path when the Ads API fails."""
import json
import shutil
from datetime import date, timedelta
from pathlib import Path

import pytest
import requests

from day11_BLOCKKIT_message import day11_payload
from day11_CONFIG_settings import day11_load_settings
from day11_KPI_report import day11_build_report
from day11_N8N_runtime import (DAY11_MAIN_WORKFLOW_ID, day11_install_n8n, day11_n8n_cache, day11_prepare_n8n,
                                day11_run_n8n, day11_standin_env)
from day11_PIPELINE_report import day11_smtp_sink
from day11_SOURCES_google import day11_fetch_ads, day11_fetch_ga4
from day11_STANDIN_servers import day11_standin

DAY = date(2026, 11, 22)
pytestmark = [pytest.mark.n8n, pytest.mark.slow, pytest.mark.timeout(1800)]


@pytest.fixture(scope="session")
def n8n(service_required):
    if not shutil.which("npm"):
        service_required("Node.js/npm not installed: n8n cannot run here")
    return day11_install_n8n(day11_n8n_cache(day11_load_settings(env_file=None)))


def _execute(n8n, tmp_path, **standin):
    home, out = tmp_path / "n8n", tmp_path / "out"
    with day11_standin(DAY, out, **standin) as base, day11_smtp_sink(out) as (smtp_host, smtp_port):
        env = day11_standin_env(base, DAY)
        day11_prepare_n8n(n8n, home, env, smtp_host, smtp_port)  # stand-in credentials, both workflows
        done = day11_run_n8n(n8n, home, env, "execute", f"--id={DAY11_MAIN_WORKFLOW_ID}")
        assert done.returncode == 0, f"n8n execute failed: {done.stdout[-1500:]} {done.stderr[-1500:]}"
        posts = sorted(out.glob("day11_slack_post_*.json"))
        return [json.loads(p.read_text()) for p in posts], sorted(out.glob("day11_email_*.eml"))


def _python_mirror_payload(folder: Path):
    with day11_standin(DAY, folder) as base:
        session = requests.Session()
        campaigns = day11_fetch_ads(session, base, "1234567890", DAY - timedelta(days=1), DAY, {})
        site = day11_fetch_ga4(session, base, "123456789", DAY - timedelta(days=1), DAY, {})
    return day11_payload(day11_build_report(DAY, campaigns, site, currency="USD", roas_drop_pct=20, spend_spike_pct=30))


def test_n8n_runs_the_export_and_posts_exactly_the_python_mirrors_message(n8n, tmp_path):
    posts, mails = _execute(n8n, tmp_path)
    assert len(posts) == 1 and len(mails) == 1
    assert posts[0] == _python_mirror_payload(tmp_path / "mirror")  # same inputs, same KPIs, same Block Kit, block for block


def test_a_failing_ads_api_takes_the_error_output_to_the_alert(n8n, tmp_path):
    posts, mails = _execute(n8n, tmp_path, fail_ads_with=500)
    assert len(posts) == 1 and not mails
    assert posts[0]["text"].startswith(":rotating_light: day11 retail report failed at Fetch Google Ads campaigns: 500")
