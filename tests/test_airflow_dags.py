"""Proof in a real Airflow 3: the four day DAGs parse, `airflow dags test` runs each for a fixed date on the
embedded defaults (every path in tmp), task states match the day's exit-code meanings, the day's outputs
exist, a second run for the same date sends nothing twice, a failing source fails the right task after
its retries and fires the failure callback through the day's own channel, and one task cleared with
`airflow tasks clear` is re-run by Airflow's scheduler alone, with the day's state unchanged.

Airflow lives in its own virtualenv in a cache folder outside the repository (scripts/airflow_env.sh
installs it on first use); the tasks run the days' code in this interpreter (ORCHESTRATION_WEEK_PYTHON).
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import pytest

from repo_helpers import ROOT, webhook_answering

pytestmark = [pytest.mark.airflow, pytest.mark.slow, pytest.mark.timeout(1800)]
RUN_DATE = "2026-11-23"  # logical date of every test run: the daily reports cover 2026-11-22
DAYS_ENV = ("DAY11_", "DAY12_", "DAY13_", "DAY14_", "AIRFLOW_", "AIRFLOW__")


@pytest.fixture(scope="session")
def airflow(tmp_path_factory, service_required):
    """(airflow venv, base environment) with a migrated metadata database in a session tmp folder."""
    env_file = ROOT / "config" / ".env"
    if env_file.is_file() and any(line.startswith(("DAY11_", "DAY12_", "DAY13_", "DAY14_"))
                                  for line in env_file.read_text().splitlines()):
        # the DAGs' tasks read config/.env like the days do: with real credentials there, they would send for real
        pytest.skip("config/.env sets day11-day14 variables; the Airflow proof runs on the embedded defaults only")
    install = subprocess.run(["bash", str(ROOT / "scripts" / "airflow_env.sh")], capture_output=True, text=True,
                             timeout=2400)
    if install.returncode:
        service_required(f"Airflow could not be installed: {install.stderr[-800:]}")
    venv = Path(install.stdout.strip().splitlines()[-1])
    home = tmp_path_factory.mktemp("airflow_home")
    env = {k: v for k, v in os.environ.items() if not k.startswith(DAYS_ENV)}
    env.update({"AIRFLOW_HOME": str(home), "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT),
                "AIRFLOW__CORE__LOAD_EXAMPLES": "False", "ORCHESTRATION_WEEK_PYTHON": sys.executable,
                "ORCHESTRATION_WEEK_AIRFLOW_RETRY_DELAY_SECONDS": "1"})
    done = subprocess.run([str(venv / "bin" / "airflow"), "db", "migrate"], env=env, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return venv, env, home


def _dags_test(airflow, dag_id: str, day_env: dict) -> dict:
    """Run `airflow dags test` and return {task_id: (state, try_number)} of the run it made."""
    venv, env, home = airflow
    done = subprocess.run([str(venv / "bin" / "airflow"), "dags", "test", dag_id, RUN_DATE],
                          env={**env, **{k: str(v) for k, v in day_env.items()}}, capture_output=True, text=True,
                          timeout=1200, cwd=ROOT)
    with sqlite3.connect(home / "airflow.db") as db:
        run_id = db.execute("SELECT run_id FROM dag_run WHERE dag_id = ? ORDER BY id DESC LIMIT 1", (dag_id,)).fetchone()
        assert run_id, f"no run recorded: {done.stdout[-3000:]} {done.stderr[-3000:]}"
        rows = db.execute("SELECT task_id, state, try_number FROM task_instance WHERE dag_id = ? AND run_id = ?",
                          (dag_id, run_id[0])).fetchall()
    return {task: (state, tries) for task, state, tries in rows}, done.stdout + done.stderr


def _states(result) -> dict:
    return {task: state for task, (state, _tries) in result[0].items()}


def test_the_four_dags_import_without_errors_with_schedules_from_the_days_settings(airflow):
    venv, env, _ = airflow
    probe = """
import json
from airflow.dag_processing.dagbag import DagBag
bag = DagBag(dag_folder=%r)
out = {"errors": {k: str(v) for k, v in bag.import_errors.items()}, "files": sorted(s.file for s in bag.dagbag_stats), "dags": {}}
for d in bag.dags.values():
    t = d.timetable
    out["dags"][d.dag_id] = {"edges": sorted([x.task_id, y] for x in d.tasks for y in x.downstream_task_ids),
        "catchup": d.catchup, "max_active_runs": d.max_active_runs, "retries": {x.task_id: x.retries for x in d.tasks},
        "retry_delay": {x.task_id: [x.retry_delay.total_seconds(), x.retry_exponential_backoff] for x in d.tasks},
        "timetable": {"expression": getattr(t, "_expression", None), "timezone": str(getattr(t, "_timezone", "")),
                      "delta": getattr(t, "delta", None) and t.delta.total_seconds()}}
from datetime import datetime, timezone
from airflow.timetables.base import TimeRestriction
t, runs, after = bag.dags["day14_kpi_email"].timetable, [], datetime(2026, 10, 1, tzinfo=timezone.utc)
for _ in range(5):  # Melbourne moves to daylight saving on Sunday 2026-10-04
    info = t.next_dagrun_info(last_automated_data_interval=None, restriction=TimeRestriction(after, None, True))
    runs.append(info.run_after.isoformat())
    after = info.run_after.add(seconds=1)
out["day14_runs"] = runs
runs, after = [], datetime(2027, 4, 2, tzinfo=timezone.utc)
for _ in range(4):  # and back to standard time at 03:00 on Sunday 2027-04-04
    info = t.next_dagrun_info(last_automated_data_interval=None, restriction=TimeRestriction(after, None, True))
    runs.append(info.run_after.isoformat())
    after = info.run_after.add(seconds=1)
out["day14_april"] = runs
print(json.dumps(out))
""" % str(ROOT)
    done = subprocess.run([str(venv / "bin" / "python"), "-c", probe], capture_output=True, text=True, timeout=300,
                          env={**env, "DAY13_ALERT_CHECK_INTERVAL": "120", "DAY12_SCHEDULE_INTERVAL_MINUTES": "10"})
    assert done.returncode == 0, done.stderr[-2000:]
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert found["errors"] == {}
    assert found["files"] == [f"day{n}/day{n}_DAG_airflow.py" for n in (11, 12, 13, 14)]  # .airflowignore: nothing else
    dags = found["dags"]
    assert dags["day11_retail_report"]["edges"] == [["build_report", "deliver_email"], ["build_report", "deliver_slack"],
                                                    ["fetch_ads", "build_report"], ["fetch_ga4", "build_report"]]
    assert dags["day12_data_quality_gate"]["edges"] == [["stage", "validate"], ["validate", "act_on_verdict"]]
    assert dags["day13_alert_triage"]["edges"] == [["ingest", "escalate"], ["ingest", "notify"], ["ingest", "route"],
                                                   ["notify", "escalate"], ["route", "notify"]]
    assert dags["day14_kpi_email"]["edges"] == [["compute_kpis", "render"], ["render", "send"]]
    assert all(d["catchup"] is False and d["max_active_runs"] == 1 for d in dags.values())
    timetables = {dag_id: d["timetable"] for dag_id, d in dags.items()}
    assert (timetables["day11_retail_report"]["expression"], timetables["day11_retail_report"]["timezone"]) == ("0 8 * * *", "UTC")
    assert timetables["day12_data_quality_gate"]["delta"] == 600  # DAY12_SCHEDULE_INTERVAL_MINUTES, via the day's CONFIG
    assert timetables["day13_alert_triage"]["delta"] == 120  # DAY13_ALERT_CHECK_INTERVAL
    assert (timetables["day14_kpi_email"]["expression"], timetables["day14_kpi_email"]["timezone"]) == (
        "0 7 * * *", "Australia/Melbourne")
    # 07:00 in Melbourne on both sides of the change to daylight saving (02:00 on Sunday 2026-10-04): AEST is UTC+10,
    # AEDT UTC+11, so the UTC time moves by an hour while the local time stays put
    assert found["day14_runs"] == ["2026-10-01T21:00:00+00:00", "2026-10-02T21:00:00+00:00", "2026-10-03T20:00:00+00:00",
                                   "2026-10-04T20:00:00+00:00", "2026-10-05T20:00:00+00:00"]
    # 07:00 on Saturday 2027-04-03 is AEDT (UTC+11); the clocks go back at 03:00 on Sunday, so 07:00 that day is AEST
    assert found["day14_april"] == ["2027-04-02T20:00:00+00:00", "2027-04-03T21:00:00+00:00", "2027-04-04T21:00:00+00:00",
                                    "2027-04-05T21:00:00+00:00"]
    assert dags["day11_retail_report"]["retries"]["deliver_slack"] == 0  # a post that timed out may have arrived
    # a killed send's claim is honoured for DAY14_CLAIM_TIMEOUT_MINUTES (30): each retry comes after it, not before
    assert dags["day14_kpi_email"]["retry_delay"]["send"] == [31 * 60, False]


def _day11_env(tmp_path: Path, **extra) -> dict:
    return {"DAY11_OUTPUT_DIR": tmp_path / "out", "DAY11_LEDGER_PATH": tmp_path / "state" / "ledger.sqlite", **extra}


def _ledger_rows(path: Path, table: str) -> list:
    with sqlite3.connect(path) as db:
        return db.execute(f"SELECT * FROM {table}").fetchall()


def test_day11_runs_every_step_and_a_second_run_for_the_date_sends_nothing(airflow, tmp_path):
    env = _day11_env(tmp_path)
    first = _dags_test(airflow, "day11_retail_report", env)
    assert _states(first) == dict.fromkeys(("fetch_ads", "fetch_ga4", "build_report", "deliver_slack", "deliver_email"),
                                          "success"), first[1][-3000:]
    out = tmp_path / "out"
    assert json.loads((out / "day11_payload_2026-11-22.json").read_text())["blocks"]
    assert len(list(out.glob("day11_slack_post_*.json"))) == 1 and len(list(out.glob("day11_email_*.eml"))) == 1
    assert sorted(r[:3] for r in _ledger_rows(tmp_path / "state" / "ledger.sqlite", "day11_claims")) == [
        ("2026-11-22", "email", "delivered"), ("2026-11-22", "slack", "delivered")]
    posted = (out / "day11_slack_post_001.json").stat().st_mtime_ns

    second = _dags_test(airflow, "day11_retail_report", env)
    assert _states(second) == {"fetch_ads": "success", "fetch_ga4": "success", "build_report": "success",
                               "deliver_slack": "skipped", "deliver_email": "skipped"}
    assert len(list(out.glob("day11_email_*.eml"))) == 1
    assert (out / "day11_slack_post_001.json").stat().st_mtime_ns == posted  # the stand-in received nothing new


def test_day11_a_failing_ads_source_fails_fetch_ads_after_its_retries_and_posts_the_failure(airflow, tmp_path):
    env = _day11_env(tmp_path, DAY11_ADS_API_BASE_URL="http://127.0.0.1:1",  # port 1: nothing listens
                     DAY11_ADS_CUSTOMER_ID="1234567890")  # required with a real API base URL
    result = _dags_test(airflow, "day11_retail_report", env)
    assert _states(result) == {"fetch_ads": "failed", "fetch_ga4": "success", "build_report": "upstream_failed",
                               "deliver_slack": "upstream_failed", "deliver_email": "upstream_failed"}, result[1][-3000:]
    assert result[0]["fetch_ads"][1] == 4  # the first try and its 3 retries
    alerts = list((tmp_path / "out" / "airflow_alerts").rglob("day11_slack_post_*.json"))
    assert len(alerts) == 1, result[1][-3000:]
    text = json.loads(alerts[0].read_text())["text"]
    assert "day11_retail_report.fetch_ads failed after try 4" in text  # the step's own reason, without the URL:
    assert "Google Ads searchStream: connection refused" in text
    assert "googleAds" not in text  # URL paths are cut from notifications
    assert not (tmp_path / "state" / "ledger.sqlite").exists() or not _ledger_rows(
        tmp_path / "state" / "ledger.sqlite", "day11_claims")


@pytest.fixture(scope="module")
def day12_samples(tmp_path_factory):
    sys.path.insert(0, str(ROOT / "day12"))
    from day12_DEMO_docs import day12_write_samples

    return day12_write_samples(tmp_path_factory.mktemp("day12_samples"))


def _day12_env(tmp_path: Path) -> dict:
    shutil.copytree(ROOT / "day12" / "gx", tmp_path / "gx", ignore=shutil.ignore_patterns("uncommitted"))
    (tmp_path / "drop").mkdir()
    return {"DAY12_GE_PROJECT_DIR": tmp_path / "gx", "DAY12_DROP_FOLDER": tmp_path / "drop",
            "DAY12_RESULTS_DIR": tmp_path / "results", "DAY12_QUARANTINE_DIR": tmp_path / "quarantine",
            "DAY12_RUN_DIR": tmp_path / "runs"}


def test_day12_clean_file_passes_then_unchanged_is_a_skip(airflow, tmp_path, day12_samples):
    env = _day12_env(tmp_path)
    shutil.copy(day12_samples["day12_sample_security_events_clean.csv"], tmp_path / "drop")
    first = _dags_test(airflow, "day12_data_quality_gate", env)
    assert _states(first) == dict.fromkeys(("stage", "validate", "act_on_verdict"), "success"), first[1][-3000:]
    results = list((tmp_path / "results").glob("day12-airflow-*.json"))
    assert len(results) == 1 and json.loads(results[0].read_text())["success"] is True
    assert (tmp_path / "runs" / "data_docs" / "index.html").is_file()  # ordinary runs' Data Docs, in DAY12_RUN_DIR
    assert not (tmp_path / "data_docs").exists()  # the committed site is never rewritten by a run

    second = _dags_test(airflow, "day12_data_quality_gate", env)
    assert _states(second) == dict.fromkeys(("stage", "validate", "act_on_verdict"), "skipped")
    assert len(list((tmp_path / "results").glob("day12-airflow-*.json"))) == 1


def test_day12_critical_failure_fails_validate_after_quarantine_and_notifies(airflow, tmp_path, day12_samples):
    env = _day12_env(tmp_path)
    shutil.copy(day12_samples["day12_sample_security_events_dirty.csv"], tmp_path / "drop")
    result = _dags_test(airflow, "day12_data_quality_gate", env)
    assert _states(result) == {"stage": "success", "validate": "failed", "act_on_verdict": "upstream_failed"}, \
        result[1][-3000:]
    quarantined = list((tmp_path / "quarantine").glob("*.json"))
    assert quarantined and json.loads(quarantined[0].read_text())["quarantined_ids"]
    log = (tmp_path / "logs" / "day12_validation.log").read_text()
    assert "airflow task failed" in log and "task_id=validate" in log


def _day13_env(tmp_path: Path) -> dict:
    from shared_synthetic_data import compliance

    compliance.generate(size=200, defects=("duplicates", "malformed"), end_date=date(2026, 11, 22)).write(tmp_path / "gen")
    shutil.copytree(tmp_path / "gen" / "compliance" / "drop", tmp_path / "drop")
    shutil.copytree(tmp_path / "gen" / "compliance" / "inbox", tmp_path / "inbox")
    return {"DAY13_AUDIT_LOG_PATH": tmp_path / "data" / "audit.db", "DAY13_DROP_DIR": tmp_path / "drop",
            "DAY13_INBOX_DIR": tmp_path / "inbox", "DAY13_OUTBOX_DIR": tmp_path / "outbox",
            "DAY13_LOCK_PATH": tmp_path / "state" / "triage.lock", "DAY13_LOG_PATH": tmp_path / "logs" / "day13.log",
            "DAY13_FILE_SETTLE_SECONDS": 0}  # the files were written a moment ago: take them now


def test_day13_triages_in_four_steps_and_a_second_run_notifies_nothing_twice(airflow, tmp_path):
    env = _day13_env(tmp_path)
    first = _dags_test(airflow, "day13_alert_triage", env)
    assert _states(first) == dict.fromkeys(("ingest", "route", "notify", "escalate"), "success"), first[1][-3000:]
    db = tmp_path / "data" / "audit.db"
    actions = dict(sqlite3.connect(db).execute("SELECT action, COUNT(*) FROM day13_audit GROUP BY action").fetchall())
    assert actions["ingested"] > 100 and actions["routed"] and actions["notified"] and actions["quarantined"]
    sent = (len(_ledger_rows(db, "day13_slack_outbox")), len(_ledger_rows(db, "day13_tickets")),
            len(list((tmp_path / "outbox").glob("*.eml"))))
    assert all(sent), sent

    second = _dags_test(airflow, "day13_alert_triage", env)
    assert _states(second) == dict.fromkeys(("ingest", "route", "notify", "escalate"), "success")
    assert (len(_ledger_rows(db, "day13_slack_outbox")), len(_ledger_rows(db, "day13_tickets")),
            len(list((tmp_path / "outbox").glob("*.eml")))) == sent


def _day14_env(tmp_path: Path) -> dict:
    return {"DAY14_LEDGER_PATH": tmp_path / "state" / "ledger.sqlite", "DAY14_OUTBOX_DIR": tmp_path / "outbox",
            "DAY14_LOG_PATH": tmp_path / "logs" / "day14.log"}


def test_day14_sends_once_per_date(airflow, tmp_path):
    env = _day14_env(tmp_path)
    first = _dags_test(airflow, "day14_kpi_email", env)
    assert _states(first) == dict.fromkeys(("compute_kpis", "render", "send"), "success"), first[1][-3000:]
    assert len(list((tmp_path / "outbox").glob("*.eml"))) == 1
    assert (tmp_path / "state" / "airflow" / "20261122" / "day14_kpis.json").is_file()

    second = _dags_test(airflow, "day14_kpi_email", env)
    assert _states(second) == {"compute_kpis": "success", "render": "success", "send": "skipped"}
    assert len(list((tmp_path / "outbox").glob("*.eml"))) == 1


def test_day14_unusable_operations_data_fails_compute_after_retries_and_emails_the_escalation_list(airflow, tmp_path):
    (tmp_path / "ops").mkdir()  # a data folder without the GTFS files: day14_DataError
    env = {**_day14_env(tmp_path), "DAY14_DATA_DIR": tmp_path / "ops"}
    result = _dags_test(airflow, "day14_kpi_email", env)
    assert _states(result) == {"compute_kpis": "failed", "render": "upstream_failed", "send": "upstream_failed"}
    assert result[0]["compute_kpis"][1] == 3  # the first try and its 2 retries
    mails = list((tmp_path / "outbox").glob("*.eml"))
    assert len(mails) == 1
    body = mails[0].read_text()
    assert "day14_kpi_email.compute_kpis failed" in body and "duty-manager@transport.example" in body


# --- clearing one task: Airflow's scheduler re-runs only what was cleared --------------------------------------------
# `airflow dags test` clears every task instance of its logical date before it runs, so it repeats the whole DAG. What
# re-runs a cleared task in a real deployment is the scheduler: `airflow tasks clear` sets the task instance's state to
# none and the finished run back to queued; the scheduler runs the tasks without a state, and the worker reports to the
# API server's Execution API. Both are started here, against the session's metadata database.

def _ports(count: int) -> list[int]:
    """ORCHESTRATION_WEEK_AIRFLOW_TEST_PORT and the ports after it when set (a shared machine's own range), else free ones."""
    base = os.environ.get("ORCHESTRATION_WEEK_AIRFLOW_TEST_PORT")
    if base:
        return [int(base) + i for i in range(count)]
    sockets = [socket.socket() for _ in range(count)]
    for sock in sockets:
        sock.bind(("127.0.0.1", 0))
    ports = [sock.getsockname()[1] for sock in sockets]
    for sock in sockets:
        sock.close()
    return ports


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status == 200
    except OSError:
        return False


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)


@contextmanager
def _scheduler(airflow, day_env: dict, dag_ids: tuple[str, ...]):
    """The scheduler (LocalExecutor) and the API server its workers report to, with the DAGs unpaused, for the block."""
    venv, env, home = airflow
    api_port, log_port = _ports(2)
    run_env = {**env, **{k: str(v) for k, v in day_env.items()},
               "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{api_port}/execution/",
               "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(log_port),
               "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",  # the cleared runs only: no scheduled run is created
               "AIRFLOW__WORKERS__EXECUTION_API_TIMEOUT": "60"}  # a busy test machine answers slowly
    airflow_bin = str(venv / "bin" / "airflow")
    for dag_id in dag_ids:  # the scheduler leaves the runs of a paused DAG alone
        subprocess.run([airflow_bin, "dags", "unpause", dag_id], env=env, capture_output=True, check=True, timeout=300)
    started = []
    try:
        with open(home / f"api-server-{api_port}.log", "w") as api_log, open(home / f"scheduler-{api_port}.log", "w") as log:
            started.append(subprocess.Popen([airflow_bin, "api-server", "--host", "127.0.0.1", "--port", str(api_port)],
                                            env=run_env, cwd=ROOT, stdout=api_log, stderr=subprocess.STDOUT,
                                            start_new_session=True))
            deadline = time.monotonic() + 600
            while not _answers(f"http://127.0.0.1:{api_port}/api/v2/monitor/health"):
                assert started[0].poll() is None and time.monotonic() < deadline, (home / f"api-server-{api_port}.log").read_text()[-3000:]
                time.sleep(2)
            started.append(subprocess.Popen([airflow_bin, "scheduler"], env=run_env, cwd=ROOT, stdout=log,
                                            stderr=subprocess.STDOUT, start_new_session=True))
            yield home / f"scheduler-{api_port}.log"
    finally:
        for process in reversed(started):
            _stop(process)
        for dag_id in dag_ids:
            subprocess.run([airflow_bin, "dags", "pause", dag_id], env=env, capture_output=True, timeout=300)


def _clear(airflow, dag_id: str, task_id: str) -> None:
    """Airflow's own clear of one task on RUN_DATE, nothing downstream. Airflow 3.3.2 matches --task-regex as a
    substring of the task id on the serialized DAG (an anchored '^send$' matches nothing): the ids here are unique."""
    venv, env, _ = airflow
    done = subprocess.run([str(venv / "bin" / "airflow"), "tasks", "clear", dag_id, "--task-regex", task_id,
                           "--start-date", RUN_DATE, "--end-date", RUN_DATE, "--yes"], env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]


def _run_on_date(airflow, dag_id: str) -> tuple[str, str]:
    """(run_id, state) of the DAG's run for RUN_DATE."""
    with sqlite3.connect(airflow[2] / "airflow.db") as db:
        return db.execute("SELECT run_id, state FROM dag_run WHERE dag_id = ? AND date(logical_date) = ?",
                          (dag_id, RUN_DATE)).fetchone()


def _task_tries(airflow, dag_id: str) -> dict:
    """{task_id: (state, try_number, tries kept in task_instance_history)} of the run for RUN_DATE."""
    run_id, _ = _run_on_date(airflow, dag_id)
    with sqlite3.connect(airflow[2] / "airflow.db") as db:
        rows = db.execute("SELECT task_id, state, try_number FROM task_instance WHERE dag_id = ? AND run_id = ?",
                          (dag_id, run_id)).fetchall()
        history = dict(db.execute("SELECT task_id, COUNT(*) FROM task_instance_history WHERE dag_id = ? AND run_id = ? "
                                  "GROUP BY task_id", (dag_id, run_id)).fetchall())
    return {task: (state, tries, history.get(task, 0)) for task, state, tries in rows}


def _day_state(folder: Path) -> dict:
    """Everything a day keeps in its folder: each database's rows, each other file's size and mtime (logs and the
    lock file aside: a re-run logs what it found)."""
    state = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        name = str(path.relative_to(folder))
        if path.suffix in (".log", ".lock") or path.name.endswith(("-wal", "-shm", "-journal")) or "logs" in path.parts:
            continue
        if path.suffix in (".db", ".sqlite"):
            with sqlite3.connect(path) as db:
                tables = [t for (t,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
                state[name] = {t: sorted(map(repr, db.execute(f"SELECT * FROM {t}"))) for t in tables}
        else:
            state[name] = (path.stat().st_size, path.stat().st_mtime_ns)
    return state


def _wait_finished(airflow, dag_ids: tuple[str, ...], scheduler_log: Path, timeout: float = 900) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        states = {dag_id: _run_on_date(airflow, dag_id)[1] for dag_id in dag_ids}
        if all(state in ("success", "failed") for state in states.values()):
            return states
        assert time.monotonic() < deadline, f"runs not finished: {states}\n{scheduler_log.read_text()[-3000:]}"
        time.sleep(3)


def test_a_cleared_task_is_rerun_alone_by_the_scheduler_and_repeats_nothing(airflow, tmp_path):
    """day13's `notify` and day14's `send` cleared after a full run: only they run again (their try number goes up,
    no other task has a second try), they send nothing twice, and every database row and output file is as before."""
    day13, day14 = tmp_path / "day13", tmp_path / "day14"
    day13.mkdir()
    env = {**_day13_env(day13), **_day14_env(day14)}
    for dag_id in ("day13_alert_triage", "day14_kpi_email"):
        first = _dags_test(airflow, dag_id, env)
        assert set(_states(first).values()) == {"success"}, first[1][-3000:]
    before = {"day13": _day_state(day13), "day14": _day_state(day14)}
    assert before["day13"]["data/audit.db"]["day13_slack_outbox"] and len(list((day14 / "outbox").glob("*.eml"))) == 1
    tries_before = {dag_id: _task_tries(airflow, dag_id) for dag_id in ("day13_alert_triage", "day14_kpi_email")}
    assert all(tries == 1 and kept == 0 for dag in tries_before.values() for _state, tries, kept in dag.values())

    _clear(airflow, "day13_alert_triage", "notify")
    _clear(airflow, "day14_kpi_email", "send")
    assert _task_tries(airflow, "day14_kpi_email")["send"][0] is None  # cleared: no state, the run queued again
    assert _run_on_date(airflow, "day14_kpi_email")[1] == "queued"
    dag_ids = ("day13_alert_triage", "day14_kpi_email")
    with _scheduler(airflow, env, dag_ids) as scheduler_log:
        assert _wait_finished(airflow, dag_ids, scheduler_log) == dict.fromkeys(dag_ids, "success")

    after = {dag_id: _task_tries(airflow, dag_id) for dag_id in dag_ids}
    for dag_id, cleared, state in (("day13_alert_triage", "notify", "success"), ("day14_kpi_email", "send", "skipped")):
        rerun = after[dag_id].pop(cleared)
        assert rerun[0] == state and rerun[1] >= 2 and rerun[2] >= 1, (dag_id, rerun)  # ran again (a retry may add one)
        assert after[dag_id] == {task: v for task, v in tries_before[dag_id].items() if task != cleared}  # no one else
    assert {"day13": _day_state(day13), "day14": _day_state(day14)} == before  # no row, message or file added or changed
    assert "already sent for this date to everyone on the list" in (day14 / "logs" / "day14.log").read_text()


# --- what a run leaves behind: no secret anywhere Airflow keeps text, only small values in XCom ------------------------
def _webhook_answering(status: int):
    base = os.environ.get("ORCHESTRATION_WEEK_AIRFLOW_TEST_PORT")
    return webhook_answering(status, int(base) + 20 if base else 0)


def _airflow_text(home: Path) -> str:
    """Every text Airflow keeps: each metadata table's rows (XCom, rendered fields, DAG code and docs, callbacks,
    logs of events) and every log file under AIRFLOW_HOME."""
    parts = []
    with sqlite3.connect(home / "airflow.db") as db:
        for (table,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'"):
            parts += [repr(row) for row in db.execute(f'SELECT * FROM "{table}"')]
    parts += [p.read_text(errors="replace") for p in home.rglob("*") if p.is_file() and p.suffix in (".log", ".json", "")
              and p.stat().st_size < 20_000_000 and p.name != "airflow.db"]
    return "\n".join(parts)


def test_day11_secrets_reach_no_task_log_xcom_rendered_field_or_failure_message_and_xcom_stays_small(airflow, tmp_path):
    """A Slack webhook that answers 500 (its URL path is the secret) and an SMTP password with quotes and a newline:
    deliver_slack fails and the failure callback reports through the same webhook, which fails too. Neither secret
    appears in the run's console output, the task logs, or any metadata table; XCom holds paths, dates and counts."""
    password = "pw'with\"quotes-SECRETPW\nsecond-line-SECRETPW2"
    with _webhook_answering(500) as base:
        env = _day11_env(tmp_path, DAY11_SLACK_WEBHOOK_URL=f"{base}/services/T0/B0/hook-SECRETHOOK",
                         DAY11_SMTP_USER="reporter", DAY11_SMTP_PASSWORD=password)
        result = _dags_test(airflow, "day11_retail_report", env)
    states = _states(result)
    assert states["deliver_slack"] == "failed" and states["build_report"] == "success", result[1][-3000:]
    kept = result[1] + _airflow_text(airflow[2])
    for secret in ("SECRETHOOK", "SECRETPW", "SECRETPW2"):
        assert secret not in kept, kept[max(0, kept.find(secret) - 800):kept.find(secret) + 200]
    with sqlite3.connect(airflow[2] / "airflow.db") as db:
        values = db.execute("SELECT x.task_id, x.value FROM xcom x JOIN dag_run r ON r.id = x.dag_run_id "
                            "WHERE r.dag_id = 'day11_retail_report'").fetchall()
    assert values and all(len(str(value)) < 600 for _task, value in values), values  # paths, dates, counts: never rows
    assert "campaign" not in repr(values).lower(), values



def test_day12_a_webhook_that_fails_leaves_its_secret_in_no_log_or_table(airflow, tmp_path, day12_samples):
    """A critical defect fails validate; the GX Slack action and the failure callback both post to a webhook that
    answers 500. The webhook's path (its secret) reaches no console output, task log or metadata table."""
    env = _day12_env(tmp_path)
    shutil.copy(day12_samples["day12_sample_security_events_dirty.csv"], tmp_path / "drop")
    with _webhook_answering(500) as base:
        env["DAY12_SLACK_WEBHOOK_URL"] = f"{base}/services/T0/B0/hook-SECRETHOOK12"
        result = _dags_test(airflow, "day12_data_quality_gate", env)
    assert _states(result)["validate"] == "failed", result[1][-3000:]
    kept = result[1] + _airflow_text(airflow[2]) + (tmp_path / "logs" / "day12_validation.log").read_text()
    assert "SECRETHOOK12" not in kept, kept[max(0, kept.find("SECRETHOOK12") - 800):kept.find("SECRETHOOK12") + 200]
    assert "failure notification failed" in result[1]  # the callback says the channel refused it
