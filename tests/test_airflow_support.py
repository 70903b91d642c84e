"""The Airflow-side helpers that need no Airflow: what a failure notification may say."""
import logging
import os
import socket
import subprocess
import sys
from types import SimpleNamespace

import pytest

from airflow_support.week_dags import failure_callback, short_error
from repo_helpers import webhook_answering


class AirflowException(Exception):
    pass


def test_the_failure_text_is_the_steps_reason_with_url_paths_cut():
    exc = AirflowException("Process returned non-zero exit status 1.\nHTTPSConnectionPool(host='hooks.slack.com', "
                           "port=443): Max retries exceeded with url: /services/T000/B000/XXXXSECRET (Caused by x)\n")
    text = short_error(exc)
    assert text.startswith("AirflowException: HTTPSConnectionPool(host='hooks.slack.com'")
    assert "XXXXSECRET" not in text and "/services" not in text


def test_a_url_in_the_message_keeps_its_host_only_and_the_text_is_bounded():
    text = short_error(RuntimeError("https://hooks.slack.com/services/T1/B2/SECRET?x=1: 500 " + "y" * 1000))
    assert "SECRET" not in text and "https://hooks.slack.com/..." in text and len(text) <= 300
    assert short_error(None) == "unknown error"


def test_each_dag_file_imports_in_the_projects_interpreter_for_its_steps_only():
    """The tasks import their steps from the DAG file with the project's interpreter, where Airflow is absent."""
    import importlib.util


    for day in ("day11", "day12", "day13", "day14"):
        module = importlib.import_module(f"{day}_DAG_airflow")
        assert callable(getattr(module, f"{day}_step_notify_failure"))
        if importlib.util.find_spec("airflow") is None:
            assert not hasattr(module, "dag"), f"{day}: the DAG half ran without Airflow"


# --- the failure callback, run as Airflow runs it (the notification in the project's interpreter) --------------------
SECRET_PATH = "/services/T0SECRET/B0SECRET/Xq'uo\"teSECRET"


@pytest.fixture
def callback_env(monkeypatch, tmp_path):
    for name in [n for n in os.environ if n.startswith(("DAY11_", "DAY12_", "DAY13_", "DAY14_"))]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("ORCHESTRATION_WEEK_PYTHON", sys.executable)
    monkeypatch.setenv("DAY11_OUTPUT_DIR", str(tmp_path / "out11"))
    monkeypatch.setenv("DAY12_RESULTS_DIR", str(tmp_path / "results12"))
    return monkeypatch


def _context(error: BaseException) -> dict:
    ti = SimpleNamespace(dag_id="dayXX_dag", task_id="send", run_id="manual__2026-11-23", try_number=3)
    return {"task_instance": ti, "exception": error}


@pytest.mark.parametrize("day", ["day11", "day12"])
def test_a_failure_notification_that_fails_is_logged_as_failed_without_the_webhooks_secret(day, callback_env, caplog):
    with webhook_answering(500) as base:
        callback_env.setenv(f"{day.upper()}_SLACK_WEBHOOK_URL", base + SECRET_PATH)
        with caplog.at_level(logging.INFO, logger="orchestration_week.airflow"):
            failure_callback(day)(_context(RuntimeError("boom")))
    assert "failure notification failed" in caplog.text, caplog.text  # never "notified" when Slack said 500
    assert "SECRET" not in caplog.text, caplog.text


def test_a_secret_in_the_failure_text_never_reaches_the_channel_or_the_log(callback_env, caplog, tmp_path):
    """A step's exception may quote a configured secret (a password with quotes, a token over two lines): the message
    the day's channel gets and the callback's own log lines carry neither the value nor any line of it."""
    password = "pa'ss\"word-SECRET-1\nline-two-SECRET-2"
    callback_env.setenv("DAY11_SMTP_PASSWORD", password)
    with caplog.at_level(logging.INFO, logger="orchestration_week.airflow"):
        failure_callback("day11")(_context(RuntimeError(f"login refused for {password!s}")))
    posted = [p.read_text() for p in (tmp_path / "out11" / "airflow_alerts").rglob("day11_slack_post_*.json")]
    assert len(posted) == 1, caplog.text
    assert "SECRET" not in posted[0] and "SECRET" not in caplog.text, (posted[0], caplog.text)
    assert "login refused" in posted[0]


# --- make airflow on a machine where its ports are taken ----------------------------------------------------------------
def _free_port_block(count: int) -> int:
    """ORCHESTRATION_WEEK_AIRFLOW_TEST_PORT (a shared machine's own range) when set, else a free ephemeral base."""
    if os.environ.get("ORCHESTRATION_WEEK_AIRFLOW_TEST_PORT"):
        return int(os.environ["ORCHESTRATION_WEEK_AIRFLOW_TEST_PORT"]) + 10
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1] - count


@pytest.mark.parametrize("taken", [0, 1, 2])  # the UI's port, the scheduler's log server, the triggerer's
def test_make_airflow_refuses_to_start_when_one_of_its_ports_is_taken(taken, tmp_path):
    """airflow standalone keeps running and prints "ready" when its API server cannot bind (the UI, and the Execution
    API the tasks report to, would be another program's port): the script says which port is taken and exits 2."""
    from repo_helpers import ROOT

    venv = tmp_path / "airflow-venv"  # a stand-in Airflow: reaching it means the check did not stop the start
    (venv / "bin").mkdir(parents=True)
    (venv / ".installed-3.3.2").touch()
    (venv / "bin" / "airflow").write_text("#!/bin/sh\necho standalone started\n")
    (venv / "bin" / "airflow").chmod(0o755)
    base = _free_port_block(3)
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", base + taken))
        holder.listen()
        done = subprocess.run(["bash", str(ROOT / "scripts" / "airflow_standalone.sh")], capture_output=True, text=True,
                              timeout=120, env={**os.environ, "AIRFLOW_VENV": str(venv), "AIRFLOW_PORT": str(base),
                                                "AIRFLOW_HOME": str(tmp_path / "home"),
                                                "ORCHESTRATION_WEEK_PYTHON": sys.executable})
    assert "standalone started" not in done.stdout
    assert done.returncode == 2 and f"port {base + taken} is in use" in done.stderr, done.stderr
    assert "AIRFLOW_PORT" in done.stderr  # how to move all three


def test_make_airflow_starts_when_its_ports_are_free(tmp_path):
    from repo_helpers import ROOT

    venv = tmp_path / "airflow-venv"
    (venv / "bin").mkdir(parents=True)
    (venv / ".installed-3.3.2").touch()
    (venv / "bin" / "airflow").write_text("#!/bin/sh\necho standalone started\n")
    (venv / "bin" / "airflow").chmod(0o755)
    done = subprocess.run(["bash", str(ROOT / "scripts" / "airflow_standalone.sh")], capture_output=True, text=True,
                          timeout=120, env={**os.environ, "AIRFLOW_VENV": str(venv), "AIRFLOW_PORT": str(_free_port_block(3)),
                                            "AIRFLOW_HOME": str(tmp_path / "home"), "ORCHESTRATION_WEEK_PYTHON": sys.executable})
    assert done.returncode == 0 and "standalone started" in done.stdout, done.stderr


def test_every_configured_secret_is_collected_for_masking_in_each_form_it_can_take(callback_env):
    """What Airflow's masker is given at parse time (it then shows *** in task logs; seen in a scheduler-run task):
    the value, each line of a multi-line one, its URL-quoted and JSON-escaped forms; nothing that is not secret."""
    from airflow_support.week_dags import day_settings, secret_values

    callback_env.setenv("DAY11_SMTP_PASSWORD", 'pa"ss word\nline-two')
    callback_env.setenv("DAY11_SLACK_WEBHOOK_URL", "https://hooks.slack.com/services/T1/B2/tok")
    found = secret_values(day_settings("day11"))
    assert {'pa"ss word\nline-two', 'pa"ss word', "line-two", "pa%22ss%20word", 'pa\\"ss word\\nline-two',
            "https://hooks.slack.com/services/T1/B2/tok"} <= set(found)
    assert not any("smtp" in value.lower() or value == "UTC" for value in found)
    assert list(found) == sorted(found, key=len, reverse=True)  # longest first: a line never pre-empts its whole
