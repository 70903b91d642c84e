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
MIN_SECRET_CHARS = 4  # shorter fragments of a multi-line secret would blank ordinary words


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
    settings = getattr(module, f"{day}_load_settings")()
    _mask_in_airflow(secret_values(settings))
    return settings


def secret_values(settings) -> tuple[str, ...]:
    """Every configured secret of a day (its SecretStr settings), each line of a multi-line one too, and the forms
    a URL or JSON gives them: what no log line or notification may carry. Longest first, for replacing."""
    from urllib.parse import quote

    found = set()
    for name in type(settings).model_fields:
        value = getattr(settings, name, None)
        if not hasattr(value, "get_secret_value") or not value.get_secret_value():
            continue
        text = value.get_secret_value()
        for piece in [text, *text.splitlines()]:
            piece = piece.strip()
            if len(piece) >= MIN_SECRET_CHARS:
                found.update({piece, quote(piece, safe="/:"), json.dumps(piece)[1:-1]})
    return tuple(sorted(found, key=len, reverse=True))


def _mask_in_airflow(secrets: tuple[str, ...]) -> None:
    """Airflow's own masker hides them in task logs and rendered fields (the DAG file is parsed in the task process too)."""
    try:
        from airflow.sdk.log import mask_secret
    except ImportError:  # the project's interpreter: no Airflow, nothing to tell
        return
    try:  # the CLI's own logging (`airflow dags test`, the DAG processor) masks through Airflow core's masker
        from airflow._shared.secrets_masker import mask_secret as core_mask_secret
    except ImportError:
        core_mask_secret = None
    for secret in secrets:
        mask_secret(secret)
        if core_mask_secret:
            core_mask_secret(secret)


def redact(text: str, secrets: tuple[str, ...] = ()) -> str:
    """Secrets replaced, URL paths and queries cut (a webhook URL's path is its secret)."""
    for secret in secrets:
        text = text.replace(secret, "***")
    text = re.sub(r"(https?://[^/\s'\"]+)[^\s'\"]*", r"\1/...", text)
    return re.sub(r"(with url: )\S+", r"\1...", text)


def _day_secrets(day: str) -> tuple[str, ...]:
    try:
        return secret_values(day_settings(day))
    except Exception as exc:  # noqa: BLE001 - a rejected config still lets the callback report, URL paths cut
        LOG.warning("day settings unreadable in the failure callback: %s", type(exc).__name__)
        return ()


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


def short_error(exc: BaseException | None, secrets: tuple[str, ...] = ()) -> str:
    """One line, bounded, with URL paths and queries cut: a webhook URL's path is its secret.

    @task.external_python raises "Process returned non-zero exit status N." followed by the step's own
    exception text: that text is the reason worth sending."""
    if exc is None:
        return "unknown error"
    lines = [line.strip() for line in redact(str(exc), secrets).splitlines() if line.strip()]
    if len(lines) > 1 and lines[0].startswith("Process returned non-zero exit status"):
        lines = lines[1:]
    return f"{type(exc).__name__}: {lines[0] if lines else ''}"[:300]


def _last_line(output: str, secrets: tuple[str, ...]) -> str:
    """The notification process's own verdict (a traceback's last line), redacted and bounded."""
    lines = [line.strip() for line in redact(output, secrets).splitlines() if line.strip()]
    return lines[-1][:300] if lines else ""


def failure_callback(day: str):
    """on_failure_callback: after the last retry, the day's own channel hears which task failed and why."""

    def notify(context) -> None:
        ti = context["task_instance"]
        secrets = _day_secrets(day)
        payload = {"dag_id": ti.dag_id, "task_id": ti.task_id, "run_id": ti.run_id,
                   "try_number": getattr(ti, "try_number", None),
                   "error": short_error(context.get("exception"), secrets)}
        code = (f"import json, sys; from {day}_DAG_airflow import {day}_step_notify_failure as notify; "
                "notify(**json.loads(sys.argv[1]))")
        env = {**os.environ, "PYTHONPATH": day_dir(day)}
        try:
            done = subprocess.run([project_python(), "-c", code, json.dumps(payload)], env=env, cwd=REPO,
                                  capture_output=True, text=True, timeout=120)
        except (OSError, subprocess.TimeoutExpired) as exc:
            LOG.error("failure notification could not run: %s", short_error(exc))
            return
        if done.returncode:  # only the verdict line: a traceback quotes URLs and values
            LOG.error("failure notification failed (exit %s): %s", done.returncode, _last_line(done.stderr, secrets))
        else:
            LOG.info("failure notified through the %s channel: %s", day, _last_line(done.stdout, secrets))

    return notify


def dag_defaults(day: str) -> dict:
    """The settings every day DAG shares: no catch-up storm, never two runs at once, failures notified."""
    return {"catchup": False, "max_active_runs": 1, "tags": ["orchestration-week", day],
            "default_args": {"owner": day, "on_failure_callback": failure_callback(day), **retry_args(0)}}


RUN_AT = "{{ (dag_run.logical_date or dag_run.run_after).isoformat() }}"  # the run's own time, as the cron job's now()
RUN_ID = "{{ dag_run.run_id }}"
