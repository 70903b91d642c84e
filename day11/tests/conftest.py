"""Fixtures for day11 shared by several test files."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from contextlib import ExitStack
from datetime import date

import pytest

from day11_CONFIG_settings import DAY11_DIR
from day11_N8N_runtime import day11_standin_env
from day11_PIPELINE_report import day11_smtp_sink
from day11_STANDIN_servers import day11_standin, day11_StandinState

DAY11_STANDIN_DAY = date(2026, 11, 22)


@pytest.fixture
def start_against_standins(tmp_path):
    """Starts a day11 entry script as a person runs it, against stand-ins for report_date whose Slack holds the post
    for hold_s seconds (then answers ok); returns once Slack has the post (or after wait_s), as (process, stand-in
    state, ledger path, stand-in base URL, SMTP sink (host, port)). The stand-ins stay up until the test ends."""
    with ExitStack() as stack:
        def start(script: str = "day11_ORCHESTRATOR_retail_report.py", *, report_date: date = DAY11_STANDIN_DAY,
                  hold_s: float = 60, wait_s: float = 60, **env_extra: str):
            state = day11_StandinState(slack_script=[("hang", hold_s)])
            ledger = tmp_path / "state" / "ledger.sqlite"
            base = stack.enter_context(day11_standin(report_date, tmp_path / "standin", state=state))
            smtp = stack.enter_context(day11_smtp_sink(tmp_path / "out"))
            env = {**os.environ, **day11_standin_env(base, report_date), "DAY11_OUTPUT_DIR": str(tmp_path / "out"),
                   "DAY11_LEDGER_PATH": str(ledger), "DAY11_SMTP_HOST": smtp[0], "DAY11_SMTP_PORT": str(smtp[1]),
                   "DAY11_SMTP_SECURITY": "none", "DAY11_SLACK_TIMEOUT_S": "90", **env_extra}
            run = subprocess.Popen([sys.executable, str(DAY11_DIR / script)], env=env, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True, cwd=DAY11_DIR.parent)
            stack.callback(_stop, run)
            deadline = time.monotonic() + wait_s
            while not state.posts and time.monotonic() < deadline and run.poll() is None:
                time.sleep(0.2)
            return run, state, ledger, base, smtp

        yield start


def _stop(run: subprocess.Popen) -> None:
    if run.poll() is None:
        run.kill()
    run.wait()
    run.stdout.close()
    run.stderr.close()


@pytest.fixture
def run_while_slack_holds_the_post(start_against_standins):
    """The ORCHESTRATOR once Slack has the post, which it holds for a minute."""
    return start_against_standins()
