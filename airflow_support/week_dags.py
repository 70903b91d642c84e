"""What the day DAGs share on the Airflow side.

Runs inside Airflow's own environment (Airflow 3.3 needs SQLAlchemy 2.1, the days pin 2.0), so it never
imports a day's pipeline. It knows where the project's interpreter is, reads a day's settings through the
day's own CONFIG module (pydantic-settings only, installed next to Airflow), builds the task decorator that
runs a day's step in the project's interpreter, and the failure callback that notifies through the day's
own channel by calling the day's `dayXX_step_notify_failure` in that interpreter.
"""
from __future__ import annotations

import importlib.util
import json
import logging
import os
import re
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SKIP_EXIT_CODE = 99  # a step exits with this to say "nothing to do": Airflow marks the task skipped
LOG = logging.getLogger("orchestration_week.airflow")


def project_python() -> str:
    """The interpreter that has the days' dependencies: ORCHESTRATION_WEEK_PYTHON, else the repo's .venv."""
    return os.environ.get("ORCHESTRATION_WEEK_PYTHON") or str(REPO / ".venv" / "bin" / "python")


def day_dir(day: str) -> str:
    return str(REPO / day)


def day_settings(day: str):
    """The day's frozen settings, read by the day's own CONFIG module: one source of truth with its SCHEDULER."""
    path = next((REPO / day).glob(f"{day}_CONFIG_*.py"))
    name = f"orchestration_week_airflow_{day}_config"
    module = sys.modules.get(name)
    if module is None:
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # pydantic resolves the model's annotations through sys.modules
        spec.loader.exec_module(module)
    return getattr(module, f"{day}_load_settings")()


def retry_args(retries: int) -> dict:
    """Retries with exponential backoff; the first delay can be shortened for tests (never the count)."""
    delay = float(os.environ.get("ORCHESTRATION_WEEK_AIRFLOW_RETRY_DELAY_SECONDS", "60"))
    return {"retries": retries, "retry_delay": timedelta(seconds=delay), "retry_exponential_backoff": True,
            "max_retry_delay": timedelta(minutes=15)}


def in_project(day: str, *, retries: int = 0, **kwargs) -> dict:
    """Arguments for @task.external_python: the project's interpreter, the day folder importable, exit 99 = skipped.

    Spelled out at each task as `@task.external_python(**in_project(...))`: Airflow strips exactly that decorator
    from the function's source before running it in the other interpreter."""
    env = {"PYTHONPATH": os.pathsep.join(filter(None, [day_dir(day), os.environ.get("PYTHONPATH", "")]))}
    return {"python": project_python(), "expect_airflow": False, "skip_on_exit_code": SKIP_EXIT_CODE,
            "env_vars": env, "inherit_env": True, **retry_args(retries), **kwargs}


def short_error(exc: BaseException | None) -> str:
    """One line, bounded, with URL paths and queries cut: a webhook URL's path is its secret.

    @task.external_python raises "Process returned non-zero exit status N." followed by the step's own
    exception text: that text is the reason worth sending."""
    if exc is None:
        return "unknown error"
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    if len(lines) > 1 and lines[0].startswith("Process returned non-zero exit status"):
        lines = lines[1:]
    text = f"{type(exc).__name__}: {lines[0] if lines else ''}"
    text = re.sub(r"(https?://[^/\s'\"]+)[^\s'\"]*", r"\1/...", text)
    text = re.sub(r"(with url: )\S+", r"\1...", text)
    return text[:300]


def failure_callback(day: str):
    """on_failure_callback: after the last retry, the day's own channel hears which task failed and why."""

    def notify(context) -> None:
        ti = context["task_instance"]
        payload = {"dag_id": ti.dag_id, "task_id": ti.task_id, "run_id": ti.run_id,
                   "try_number": getattr(ti, "try_number", None), "error": short_error(context.get("exception"))}
        code = (f"import json, sys; from {day}_DAG_airflow import {day}_step_notify_failure as notify; "
                "notify(**json.loads(sys.argv[1]))")
        env = {**os.environ, "PYTHONPATH": day_dir(day)}
        try:
            done = subprocess.run([project_python(), "-c", code, json.dumps(payload)], env=env, cwd=REPO,
                                  capture_output=True, text=True, timeout=120)
        except (OSError, subprocess.TimeoutExpired) as exc:
            LOG.error("failure notification could not run: %s", short_error(exc))
            return
        if done.returncode:
            LOG.error("failure notification failed (exit %s): %s", done.returncode, done.stderr[-500:])
        else:
            LOG.info("failure notified through the %s channel: %s", day, done.stdout.strip()[-300:])

    return notify


def dag_defaults(day: str) -> dict:
    """The settings every day DAG shares: no catch-up storm, never two runs at once, failures notified."""
    return {"catchup": False, "max_active_runs": 1, "tags": ["orchestration-week", day],
            "default_args": {"owner": day, "on_failure_callback": failure_callback(day), **retry_args(0)}}


RUN_AT = "{{ (dag_run.logical_date or dag_run.run_after).isoformat() }}"  # the run's own time, as the cron job's now()
RUN_ID = "{{ dag_run.run_id }}"
