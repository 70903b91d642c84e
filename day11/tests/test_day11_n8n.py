"""Proof in a real n8n 2.x: import both exports, execute the main one against the stand-ins, compare the
Slack message with the Python mirror's, take the error output when the Ads API fails, refuse to run
without account ids, and, under `n8n start` with both workflows published, the error workflow posts
its alert when a Code node throws."""
import json
import shutil
import subprocess
import time
from datetime import date
from pathlib import Path

import pytest

from day11_CONFIG_settings import day11_load_settings
from day11_N8N_runtime import (DAY11_ERROR_WORKFLOW_ID, DAY11_MAIN_WORKFLOW_ID, DAY11_WORKFLOWS, day11_install_n8n,
                                day11_n8n_cache, day11_n8n_env, day11_prepare_n8n, day11_run_n8n, day11_standin_env)
from day11_PIPELINE_report import day11_run, day11_smtp_sink
from day11_STANDIN_servers import day11_standin, day11_StandinState

DAY = date(2026, 11, 22)
pytestmark = [pytest.mark.n8n, pytest.mark.slow, pytest.mark.timeout(2400)]


@pytest.fixture(scope="session")
def n8n(service_required):
    if not shutil.which("npm"):
        service_required("Node.js/npm not installed: n8n cannot run here")
    return day11_install_n8n(day11_n8n_cache(day11_load_settings(env_file=None)))


def _execute(n8n, tmp_path, state=None, **env_extra):
    home, out = tmp_path / "n8n", tmp_path / "out"
    state = state or day11_StandinState()
    with day11_standin(DAY, out, state=state) as base, day11_smtp_sink(out) as (smtp_host, smtp_port):
        env = {**day11_standin_env(base, DAY), **env_extra}
        env = {k: v for k, v in env.items() if v is not None}
        day11_prepare_n8n(n8n, home, env, smtp_host, smtp_port)  # stand-in credentials, both workflows
        done = day11_run_n8n(n8n, home, env, "execute", f"--id={DAY11_MAIN_WORKFLOW_ID}")
        return done, state.posts, sorted(out.glob("day11_email_*.eml")), state


def _python_mirror_payload(tmp_path: Path):
    settings = day11_load_settings(env_file=None, output_dir=tmp_path / "mirror", ledger_path=tmp_path / "mirror.sqlite")
    state = day11_StandinState()
    with day11_standin(DAY, settings.output_dir, state=state) as base, day11_smtp_sink(settings.output_dir) as smtp:
        urls = {"ads": base, "ga4": base, "slack": f"{base}/slack/webhook", "smtp": (*smtp, "none")}
        assert day11_run(settings, report_date=DAY, endpoints=urls).exit_code == 0
    return state.posts[0]


def test_n8n_runs_the_export_and_posts_exactly_the_python_mirrors_message(n8n, tmp_path):
    done, posts, mails, state = _execute(n8n, tmp_path, DAY11_GA4_PAGE_SIZE="20", DAY11_ADS_DEVELOPER_TOKEN="dev-tok-1",
                                         DAY11_ADS_LOGIN_CUSTOMER_ID="987-654-3210")
    assert done.returncode == 0, f"n8n execute failed: {done.stdout[-1500:]} {done.stderr[-1500:]}"
    assert len(posts) == 1 and len(mails) == 1
    assert posts[0] == _python_mirror_payload(tmp_path)  # same inputs, same KPIs, same Block Kit, block for block
    ads = {k.lower(): v for k, v in state.ads_headers[0].items()}
    assert ads["authorization"] == "Bearer ya29.stand-in"  # n8n's Google Ads OAuth2 credential signed it
    assert ads["developer-token"] == "dev-tok-1" and ads["login-customer-id"] == "9876543210"
    assert state.ads_versions == ["v25"] and [offset for offset, _ in state.ga4_pages] == [0, 20, 40, 60, 80]


def test_a_failing_ads_api_takes_the_error_output_to_the_alert(n8n, tmp_path):
    done, posts, mails, _ = _execute(n8n, tmp_path, day11_StandinState(fail_ads_with=500))
    assert len(posts) == 1 and not mails
    alert = posts[0]["text"]
    assert alert.startswith(":rotating_light: day11 retail report failed at Fetch Google Ads campaigns: ")
    assert "(HTTP 500)" in alert, alert


def test_a_bad_source_value_fails_the_run_naming_source_field_and_row(n8n, tmp_path):
    def fractional(rows):
        rows[3]["metricValues"][0]["value"] = "812.5"
        return rows
    done, posts, mails, _ = _execute(n8n, tmp_path, day11_StandinState(ga4_rows=fractional))
    assert done.returncode != 0 and not mails and not posts
    assert "GA4 runReport: row 4, field sessions: a fractional count" in done.stdout + done.stderr


def test_without_a_customer_id_the_run_fails_with_a_clear_error(n8n, tmp_path):
    done, posts, mails, state = _execute(n8n, tmp_path, DAY11_ADS_CUSTOMER_ID=None)
    assert done.returncode != 0 and not mails and not state.ads_versions
    assert "DAY11_ADS_CUSTOMER_ID is not set" in done.stdout + done.stderr


def _published_copy(tmp_path: Path) -> Path:
    """The export as a user runs it, but its schedule fires every 5 seconds instead of at 08:00."""
    workflow = json.loads((DAY11_WORKFLOWS / "day11_retail_report_workflow.json").read_text())
    for node in workflow["nodes"]:
        if node["type"] == "n8n-nodes-base.scheduleTrigger":
            node["parameters"]["rule"]["interval"][0]["expression"] = "*/5 * * * * *"
    path = tmp_path / "day11_retail_report_every_5s.json"
    path.write_text(json.dumps(workflow))
    return path


def test_under_n8n_start_the_published_error_workflow_posts_the_alert_when_a_code_node_throws(n8n, tmp_path):
    home, out = tmp_path / "n8n", tmp_path / "out"
    state = day11_StandinState()
    with day11_standin(DAY, out, state=state) as base, day11_smtp_sink(out) as (smtp_host, smtp_port):
        env = {k: v for k, v in day11_standin_env(base, DAY).items() if k != "DAY11_ADS_CUSTOMER_ID"}  # Report window throws
        day11_prepare_n8n(n8n, home, env, smtp_host, smtp_port,
                          (DAY11_WORKFLOWS / "day11_error_handler_workflow.json", _published_copy(tmp_path)))
        for workflow_id in (DAY11_ERROR_WORKFLOW_ID, DAY11_MAIN_WORKFLOW_ID):  # 2.x runs only published workflows
            done = day11_run_n8n(n8n, home, env, "publish:workflow", f"--id={workflow_id}")
            assert done.returncode == 0, f"publish failed: {done.stdout[-1000:]} {done.stderr[-1000:]}"
        server = subprocess.Popen([str(n8n), "start"], env=day11_n8n_env(n8n, home, env), stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 240
            while not state.posts and time.monotonic() < deadline and server.poll() is None:
                time.sleep(1)
        finally:
            server.terminate()
            try:
                server.wait(30)
            except subprocess.TimeoutExpired:
                server.kill()
    assert state.posts, "the error workflow posted nothing"
    alert = state.posts[0]["text"]
    assert alert.startswith(":rotating_light: day11 Retail daily performance report failed at Report window")
    assert "DAY11_ADS_CUSTOMER_ID is not set" in alert and not state.ads_versions
