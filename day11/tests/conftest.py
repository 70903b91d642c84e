"""Fixtures for day11 shared by several test files."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import date

import pytest

from day11_CONFIG_settings import DAY11_DIR
from day11_N8N_runtime import day11_standin_env
from day11_PIPELINE_report import day11_smtp_sink
from day11_STANDIN_servers import day11_standin, day11_StandinState

DAY11_STANDIN_DAY = date(2026, 11, 22)


@pytest.fixture
def run_while_slack_holds_the_post(tmp_path):
    """The ORCHESTRATOR as a person runs it, against stand-ins whose Slack holds the post for a minute: yields once
    Slack has the post, as (process, stand-in state, ledger path, stand-in base URL, SMTP sink (host, port)); the
    stand-ins stay up until the test ends."""
    state = day11_StandinState(slack_script=[("hang", 60)])
    ledger = tmp_path / "state" / "ledger.sqlite"
    with day11_standin(DAY11_STANDIN_DAY, tmp_path / "standin", state=state) as base, \
            day11_smtp_sink(tmp_path / "out") as smtp:
        env = {**os.environ, **day11_standin_env(base, DAY11_STANDIN_DAY), "DAY11_OUTPUT_DIR": str(tmp_path / "out"),
               "DAY11_LEDGER_PATH": str(ledger), "DAY11_SMTP_HOST": smtp[0], "DAY11_SMTP_PORT": str(smtp[1]),
               "DAY11_SMTP_SECURITY": "none", "DAY11_SLACK_TIMEOUT_S": "90"}
        run = subprocess.Popen([sys.executable, str(DAY11_DIR / "day11_ORCHESTRATOR_retail_report.py")], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=DAY11_DIR.parent)
        deadline = time.monotonic() + 60
        while not state.posts and time.monotonic() < deadline:
            time.sleep(0.2)
        try:
            yield run, state, ledger, base, smtp
        finally:
            if run.poll() is None:
                run.kill()
            run.wait()
            run.stdout.close()
            run.stderr.close()
