"""Evidence: screenshots of Airflow's UI from a real `airflow standalone` running the four day DAGs.

    .venv/bin/python scripts/airflow_screenshot.py [--port 27080] [--out docs/screenshots]

Starts standalone (scripts/airflow_standalone.sh) with a throw-away AIRFLOW_HOME and every day's state in a
temporary folder (embedded defaults otherwise: stand-ins, SMTP sinks, SQLite), seeds day12's drop folder with a
clean file and day13's with synthetic alerts, unpauses and triggers each DAG, then drops a file with a critical
defect into day12's folder and triggers it again (the one failed run). When every run has finished, headless
Chromium (Debian's package) captures the DAG list and each DAG's grid view. Needs Debian's chromium.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parents[1]
DAGS = ("day11_retail_report", "day12_data_quality_gate", "day13_alert_triage", "day14_kpi_email")
LOG = logging.getLogger("airflow_screenshot")


def _day_env(state: Path) -> dict[str, str]:
    """Every day's state under one temporary folder, so the evidence run leaves the repository untouched."""
    return {k: str(v) for k, v in {
        "DAY11_OUTPUT_DIR": state / "day11" / "output", "DAY11_LEDGER_PATH": state / "day11" / "ledger.sqlite",
        "DAY12_GE_PROJECT_DIR": state / "day12" / "gx", "DAY12_DROP_FOLDER": state / "day12" / "drop",
        "DAY12_RESULTS_DIR": state / "day12" / "results", "DAY12_QUARANTINE_DIR": state / "day12" / "quarantine",
        "DAY13_AUDIT_LOG_PATH": state / "day13" / "audit.db", "DAY13_DROP_DIR": state / "day13" / "drop",
        "DAY13_INBOX_DIR": state / "day13" / "inbox", "DAY13_OUTBOX_DIR": state / "day13" / "outbox",
        "DAY13_LOCK_PATH": state / "day13" / "triage.lock", "DAY13_LOG_PATH": state / "day13" / "day13.log",
        "DAY14_LEDGER_PATH": state / "day14" / "ledger.sqlite", "DAY14_OUTBOX_DIR": state / "day14" / "outbox",
        "DAY14_LOG_PATH": state / "day14" / "day14.log"}.items()}


def _seed(state: Path) -> dict[str, Path]:
    sys.path.insert(0, str(REPO / "day12"))
    from day12_DEMO_docs import day12_write_samples

    from shared_synthetic_data import compliance

    shutil.copytree(REPO / "day12" / "gx", state / "day12" / "gx", ignore=shutil.ignore_patterns("uncommitted"))
    samples = day12_write_samples(state / "day12" / "samples")
    (state / "day12" / "drop").mkdir(parents=True)
    shutil.copy(samples["day12_sample_security_events_clean.csv"], state / "day12" / "drop")
    generated = state / "day13" / "generated"
    compliance.generate(size=300, defects=("duplicates", "malformed"), end_date=date.today()).write(generated)
    shutil.copytree(generated / "compliance" / "drop", state / "day13" / "drop")
    shutil.copytree(generated / "compliance" / "inbox", state / "day13" / "inbox")
    return samples


def _airflow(env: dict, *args: str) -> str:
    venv = subprocess.run(["bash", str(REPO / "scripts" / "airflow_env.sh")], capture_output=True, text=True,
                          check=True).stdout.strip().splitlines()[-1]
    done = subprocess.run([f"{venv}/bin/airflow", *args], env=env, capture_output=True, text=True, timeout=300)
    if done.returncode:
        raise RuntimeError(f"airflow {' '.join(args)} failed: {done.stderr[-1500:]}")
    return done.stdout


def _wait(what: str, check, timeout: float, every: float = 5) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(every)
    raise TimeoutError(f"gave up waiting for {what} after {timeout:.0f} s")


def _json_rows(text: str) -> list[dict]:
    """The JSON table of an `airflow ... -o json` command; its log lines share stdout."""
    for line in reversed(text.splitlines()):
        if line.startswith("[{") or line.strip() == "[]":
            return json.loads(line)
    return []


def _runs(env: dict, dag_id: str) -> list[dict]:
    return _json_rows(_airflow(env, "dags", "list-runs", dag_id, "-o", "json"))


def _all_finished(env: dict) -> bool:
    states = [run["state"] for dag_id in DAGS for run in _runs(env, dag_id)]
    LOG.info("run states: %s", ",".join(states))
    return bool(states) and all(state in ("success", "failed") for state in states)


def _health(base: str) -> bool:
    try:
        return requests.get(f"{base}/api/v2/monitor/health", timeout=5).status_code == 200
    except requests.RequestException:
        return False


def _dags_parsed(env: dict) -> bool:
    return set(DAGS) <= {d["dag_id"] for d in _json_rows(_airflow(env, "dags", "list", "-o", "json"))}


def _screenshot(url: str, target: Path, width: int = 1600, height: int = 900, budget_ms: int = 20000) -> bool:
    """Headless Chromium, given virtual time for the UI to fetch its data; False (logged) if the page never settles."""
    with tempfile.TemporaryDirectory() as profile:
        try:
            subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                            f"--user-data-dir={profile}", f"--window-size={width},{height}",
                            f"--virtual-time-budget={budget_ms}", f"--screenshot={target}", url],
                           check=True, capture_output=True, timeout=240)
        except (subprocess.TimeoutExpired, subprocess.CalledProcessError) as exc:
            LOG.warning("no screenshot of %s: %s", url, type(exc).__name__)
            return False
    LOG.info("screenshot written: %s", target)
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=27080)
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "screenshots")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    work = Path(tempfile.mkdtemp(prefix="airflow_evidence_"))
    state = work / "state"
    samples = _seed(state)
    base = f"http://127.0.0.1:{args.port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DAY11_", "DAY12_", "DAY13_", "DAY14_"))}
    env.update(_day_env(state), AIRFLOW_HOME=str(work / "home"), AIRFLOW_PORT=str(args.port),
               AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS="True",  # loopback only; no login page in the shots
               AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL="10", ORCHESTRATION_WEEK_AIRFLOW_RETRY_DELAY_SECONDS="5")
    env.setdefault("AIRFLOW__CORE__DAGS_FOLDER", str(REPO))
    env.setdefault("ORCHESTRATION_WEEK_PYTHON", str(REPO / ".venv" / "bin" / "python"))
    log_file = (work / "standalone.log").open("w")
    server = subprocess.Popen(["bash", str(REPO / "scripts" / "airflow_standalone.sh")], env=env, stdout=log_file,
                              stderr=subprocess.STDOUT, start_new_session=True)
    try:
        _wait("the API server", lambda: server.poll() is not None or _health(base), 600)
        if server.poll() is not None:
            raise RuntimeError(f"airflow standalone exited with {server.returncode}: see {work / 'standalone.log'}")
        _wait("the four DAGs to be parsed", lambda: _dags_parsed(env), 600)
        for dag_id in DAGS:
            _airflow(env, "dags", "unpause", dag_id)
            _airflow(env, "dags", "trigger", dag_id)
        _wait("the first runs to finish", lambda: _all_finished(env), 1500, every=10)
        _airflow(env, "dags", "trigger", "day11_retail_report")  # the same report date again: delivery skipped
        shutil.copy(samples["day12_sample_security_events_dirty.csv"], state / "day12" / "drop")
        _airflow(env, "dags", "trigger", "day12_data_quality_gate")  # a critical defect: validate fails
        _wait("the second runs to finish", lambda: _all_finished(env), 900, every=10)
        for dag_id in DAGS:
            _airflow(env, "dags", "pause", dag_id)  # nothing new starts while the pictures are taken
        args.out.mkdir(parents=True, exist_ok=True)
        summary = {dag_id: [run["state"] for run in _runs(env, dag_id)] for dag_id in DAGS}
        (args.out / "airflow_runs.json").write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n")
        LOG.info("runs shown: %s", json.dumps(summary, sort_keys=True))
        if not _screenshot(f"{base}/dags", args.out / "airflow_dags_list.png"):
            return 1
        for dag_id in DAGS:  # the grids: best effort
            _screenshot(f"{base}/dags/{dag_id}", args.out / f"airflow_grid_{dag_id.split('_')[0]}.png", budget_ms=8000)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
        log_file.close()
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
