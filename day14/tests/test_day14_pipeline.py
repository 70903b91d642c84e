"""The daily run end to end over real SMTP: once per day, --force, stale claims, preview, exit codes."""
import email
import email.policy
import subprocess
import sys
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest

from day14_CONFIG_settings import day14_load_settings
from day14_DELIVERY_transports import day14_SmtpTransport
from day14_LEDGER_sends import day14_LedgerKey, day14_SendLedger
from day14_PIPELINE_report import day14_default_report_date, day14_run_report

DAY = date(2026, 11, 22)
NOW = datetime(2026, 11, 22, 20, 0, tzinfo=timezone.utc)
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def run(tmp_path, ops_dir, smtp_server, scripted):
    """run(**options) -> outcome, sending to a real aiosmtpd server; .handler and .ledger for assertions."""
    handler = scripted()
    port = smtp_server(handler)
    ledger = day14_SendLedger(tmp_path / "ledger.sqlite")
    settings = day14_load_settings(env_file=None, data_dir=ops_dir, retry_backoff_seconds=0)

    def go(settings=settings, clock=NOW, **options):
        return day14_run_report(settings, day14_SmtpTransport("127.0.0.1", port, "none", timeout=5), ledger,
                                report_date=DAY, now=lambda: clock, **options)

    go.handler, go.ledger, go.settings = handler, ledger, settings
    yield go
    ledger.close()


def test_a_real_send_is_recorded_in_the_ledger(run):
    outcome = run()
    assert (outcome.status, outcome.exit_code, outcome.attempts) == ("sent", 0, 1)
    (rcpts, raw), = run.handler.messages
    received = email.message_from_bytes(raw, policy=email.policy.default)
    assert received["Message-ID"] == outcome.message_id == "<day14-transport-kpi-20261122@transport.example>"
    assert "duty-manager@transport.example" in rcpts  # a KPI is missed in the synthetic month
    row = run.ledger.row(day14_LedgerKey("transport-kpi", "2026-11-22"))
    assert row["status"] == "sent" and row["server_reply"].startswith("250") and row["sends"] == 1


def test_running_again_the_same_day_sends_nothing(run):
    run()
    again = run()
    assert again.status == "already_sent" and again.exit_code == 0
    assert len(run.handler.messages) == 1


def test_force_sends_again_with_the_same_message_id(run):
    first = run()
    forced = run(force=True)
    assert forced.status == "sent" and len(run.handler.messages) == 2
    assert forced.message_id == first.message_id


def test_a_fresh_claim_by_another_run_is_respected_even_with_force(run, tmp_path):
    preview = run(preview_dir=tmp_path / "preview")
    key = day14_LedgerKey("transport-kpi", "2026-11-22")
    # another run claimed the day and died before it reached DATA
    run.ledger.claim(key, preview.message_id, now=NOW, stale_after=timedelta(minutes=30))
    assert run(force=True).status == "in_progress"
    later = NOW + timedelta(minutes=run.settings.claim_timeout_minutes + 1)
    assert run(clock=later).status == "sent"  # the crashed run's stale claim is taken over
    assert run.ledger.row(key)["sends"] == 1 and len(run.handler.messages) == 1


def test_a_failed_send_is_marked_and_retried_by_the_next_run(run):
    run.handler.data_replies.extend(["554 5.7.1 rejected"])
    failed = run()
    assert (failed.status, failed.exit_code) == ("failed", 1) and "554 5.7.1 rejected" in failed.error
    assert run().status == "sent"


def test_transient_failures_are_retried_within_the_run(run):
    run.handler.data_replies.extend(["451 4.3.0 later", "disconnect"])
    outcome = run()
    assert (outcome.status, outcome.attempts) == ("sent", 3)


def test_preview_writes_html_and_eml_and_sends_nothing(run, tmp_path):
    outcome = run(preview_dir=tmp_path / "preview")
    assert outcome.status == "preview" and not run.handler.messages
    html, eml = outcome.files
    assert "Network performance" in html.read_text() and eml.read_bytes().startswith(b"From: ")


def test_unreadable_input_is_exit_3_with_the_file_named(run, tmp_path):
    outcome = run(settings=day14_load_settings(env_file=None, data_dir=tmp_path / "nowhere"))
    assert (outcome.status, outcome.exit_code) == ("bad_input", 3)
    assert "routes.txt: file missing" in outcome.error and not run.handler.messages


def test_default_report_date_is_yesterday_in_the_network_time_zone():
    evening_utc = datetime(2026, 11, 22, 14, 0, tzinfo=timezone.utc)  # already 01:00 on the 23rd in Melbourne
    assert day14_default_report_date("Australia/Melbourne", evening_utc) == date(2026, 11, 22)
    assert day14_default_report_date("UTC", evening_utc) == date(2026, 11, 21)


def _orchestrator(*args, env=None):
    return subprocess.run([sys.executable, str(ROOT / "day14/day14_ORCHESTRATOR_email_reports.py"), *args],
                          cwd=ROOT, capture_output=True, text=True, timeout=120, env=env)


def test_orchestrator_reports_a_bad_setting_in_one_line_and_exits_2(tmp_path):
    import os

    proc = _orchestrator("--preview", str(tmp_path), env={**os.environ, "DAY14_SMTP_PORT": "seventy"})
    assert proc.returncode == 2
    assert "DAY14_SMTP_PORT: Input should be a valid integer" in proc.stderr and "Traceback" not in proc.stderr


def test_orchestrator_preview_by_command_line(tmp_path):
    import os

    proc = _orchestrator("--preview", str(tmp_path), "--date", "2026-11-22",
                         env={**os.environ, "DAY14_LOG_PATH": str(tmp_path / "run.log")})
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().endswith(f"{tmp_path}/day14_preview_20261122.eml")
    assert "nothing sent" in proc.stdout


def _crash_line(text: str, message: str = "run crashed") -> str:
    """The one line naming the crash: its type and place, never its text (nor a traceback after it)."""
    import re

    (line,) = [line for line in text.splitlines() if "crashed" in line]
    assert f'msg="{message}"' in line and re.search(r" error_type=\S+ place=\S+:\S+:\d+( |$)", line), line
    return line


def test_orchestrator_crash_is_one_line_and_exit_1(tmp_path):
    """The crash was logged with exc_info: its text on the terminal (here quoting a planted secret in the preview
    folder's name) and the whole traceback in the log file. Now one line with type and place, in both."""
    import os
    import re
    import uuid

    secret = "Pw-" + uuid.uuid4().hex[:12]
    blocker = tmp_path / f"smtp-ops-{secret}"
    blocker.write_text("a file where the preview folder should be")
    proc = _orchestrator("--preview", str(blocker), "--date", "2026-11-22",
                         env={**os.environ, "DAY14_LOG_PATH": str(tmp_path / "run.log")})
    log = (tmp_path / "run.log").read_text()
    assert proc.returncode == 1
    for text in (proc.stderr, log):
        line = _crash_line(text)
        assert re.search(r" error_type=FileExistsError place=day14_PIPELINE_report:day14_write_preview:\d+$", line)
    for text in (proc.stdout, proc.stderr, log):
        assert "Traceback" not in text and 'File "' not in text and secret not in text


@pytest.mark.parametrize("script", ["day14_ORCHESTRATOR_email_reports.py", "day14_SCHEDULER_daily.py"])
def test_an_unusable_log_path_is_one_line_and_exit_1_with_no_value_or_traceback(tmp_path, script):
    """Setting up the log file raised outside any handler: Python's traceback on the terminal, quoting the path
    (here carrying a planted secret). Now the one crash line on the terminal, exit 1."""
    import os
    import uuid

    secret = "Pw-" + uuid.uuid4().hex[:12]
    blocker = tmp_path / f"ops-{secret}"
    blocker.write_text("a file where the log folder should be")
    env = {**os.environ, "DAY14_LOG_PATH": str(blocker / "logs" / "run.log")}
    proc = subprocess.run([sys.executable, str(ROOT / "day14" / script)], cwd=ROOT, capture_output=True, text=True,
                          timeout=120, env=env)
    assert proc.returncode == 1, proc.stderr
    message = "scheduler crashed" if "SCHEDULER" in script else "run crashed"
    line = _crash_line(proc.stderr, message)
    assert "error_type=NotADirectoryError place=day14_LOG_setup:day14_setup_logging:" in line
    for text in (proc.stdout, proc.stderr):
        assert "Traceback" not in text and 'File "' not in text and secret not in text
