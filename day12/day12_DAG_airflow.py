"""Airflow 3 DAG for the data-quality gate: stage the drop folder -> validate (GX checkpoint) -> act on the verdict.

The steps (top) run in the project's interpreter through @task.external_python and call the day's own
functions; the DAG (bottom) is read by Airflow in its own environment. Only paths and counts travel
between tasks: the validate task reads the staged files again.

Schedule: every DAY12_SCHEDULE_INTERVAL_MINUTES, the same setting the SCHEDULER uses.
Exit-code meanings as task states:
  nothing new in the drop folder (exit 0, "unchanged")  -> stage skipped, and with it the rest
  warning/info expectations failed (exit 1)               -> act_on_verdict succeeds and logs a warning
  a critical expectation failed (exit 4)                  -> validate fails, after the checkpoint wrote the
                                                             quarantine file, results JSON and Data Docs
                                                             (Data Docs in DAY12_RUN_DIR, like ordinary runs)
  a file could not be read (exit 3)                       -> the readable files are still validated, then
                                                             act_on_verdict fails naming the unreadable ones
  configuration rejected (exit 2)                         -> the task that loads the settings fails
On failure: stage retries twice (a file may still be being written), validate and act never (the same bytes
give the same verdict); after the last try the callback reports to the day's channel (Slack when
DAY12_SLACK_WEBHOOK_URL is set, else the day's log).
"""
from __future__ import annotations

import importlib.util
import re
from datetime import datetime, timezone

DAY12_AIRFLOW_SKIP = 99  # the exit code the DAG maps onto a skipped task (airflow_support.week_dags.SKIP_EXIT_CODE)
DAY12_AIRFLOW_LOG = "day12.airflow"


# --- steps: run by the project's interpreter -------------------------------------------------------------
def _day12_settings():
    from day12_CONFIG_settings import day12_load_settings
    from day12_LOG_setup import day12_setup_logging

    settings = day12_load_settings()
    day12_setup_logging(settings.results_dir.parent / "logs" / "day12_validation.log")
    return settings


def day12_step_stage(run_id: str) -> dict:
    """The drop folder's changed files, read and recognised; none changed and none unreadable: skipped."""
    import logging

    from day12_INPUT_files import day12_InputError
    from day12_PIPELINE_run import day12_load_input

    settings = _day12_settings()
    log = logging.getLogger(DAY12_AIRFLOW_LOG)
    staged, unreadable, unchanged = [], [], 0
    files = sorted(p for p in settings.drop_folder.iterdir() if p.suffix.lower() in (".csv", ".parquet")) \
        if settings.drop_folder.is_dir() else []
    for path in files:
        try:
            item = day12_load_input(settings, path)
        except day12_InputError as exc:
            log.error("input unreadable", extra={"run_id": run_id, "input": path.name, "error": str(exc)[:300]})
            unreadable.append(path.name)
            continue
        if item is None:
            unchanged += 1
        else:
            staged.append({"path": str(path), "dataset": item.dataset})
    log.info("drop folder staged", extra={"run_id": run_id, "staged": len(staged), "unchanged": unchanged,
                                          "unreadable": len(unreadable)})
    if not staged and not unreadable:
        raise SystemExit(DAY12_AIRFLOW_SKIP)
    return {"staged": staged, "unreadable": unreadable}


def day12_step_validate(run_id: str, stage: dict) -> dict:
    """One checkpoint run per round of at most one file per dataset; a critical failure fails the task afterwards."""
    from pathlib import Path

    from day12_PIPELINE_run import DAY12_EXIT, day12_load_input, day12_run_context, day12_validate_inputs

    settings = _day12_settings()
    context = day12_run_context(settings)  # the ordinary runs' GX project and Data Docs, in DAY12_RUN_DIR
    pending = [day12_load_input(settings, Path(s["path"]), dataset=s["dataset"], force=True) for s in stage["staged"]]
    codes, results, run_key = {}, [], re.sub(r"[^\w.-]+", "_", run_id)
    while pending:  # one checkpoint run validates at most one file per dataset
        seen, round_, rest = set(), [], []
        for item in pending:
            (rest if item.dataset in seen else round_).append(item)
            seen.add(item.dataset)
        pending = rest
        outcome = day12_validate_inputs(settings, round_, context=context,
                                        run_name=f"day12-airflow-{run_key}-{len(results) + 1}")
        codes.update({item.path.name: outcome.exit_code for item in round_})
        results.append(str(outcome.results_path))
    verdict = {"codes": codes, "results": results, "unreadable": stage["unreadable"],
               "worst": max(codes.values(), default=0)}
    if verdict["worst"] >= DAY12_EXIT["critical"]:
        critical = sorted(name for name, code in codes.items() if code >= DAY12_EXIT["critical"])
        raise RuntimeError(f"critical expectation failed for {', '.join(critical)}; failing rows quarantined in "
                           f"{settings.quarantine_dir}; results: {', '.join(results)}")
    return verdict


def day12_step_act(verdict: dict) -> str:
    """Warnings pass with a logged warning; unreadable files fail the task once the readable ones are validated."""
    import logging

    _day12_settings()
    log = logging.getLogger(DAY12_AIRFLOW_LOG)
    if verdict["unreadable"]:
        raise RuntimeError(f"input could not be read: {', '.join(verdict['unreadable'])}")
    warned = sorted(name for name, code in verdict["codes"].items() if code == 1)
    if warned:
        log.warning("warning-level expectations failed; data passed the gate",
                    extra={"files": ",".join(warned), "results": ",".join(verdict["results"])})
        return f"passed with warnings: {', '.join(warned)}"
    log.info("all expectations passed", extra={"files": ",".join(sorted(verdict["codes"]))})
    return "passed"


def day12_step_notify_failure(dag_id: str, task_id: str, run_id: str, try_number, error: str) -> None:
    """The failure callback's message: to Slack when a webhook is configured, always to the day's log."""
    import logging

    import requests

    settings = _day12_settings()
    text = f"Airflow {dag_id}.{task_id} failed after try {try_number} (run {run_id}): {error}"
    logging.getLogger(DAY12_AIRFLOW_LOG).error("airflow task failed", extra={
        "dag_id": dag_id, "task_id": task_id, "run_id": run_id, "try_number": try_number, "error": error})
    if not settings.slack_webhook_url:
        return
    try:  # the error names the status or the exception class only: the webhook URL is the secret
        status = requests.post(settings.slack_webhook_url.get_secret_value(), json={"text": text[:3000]}, timeout=10,
                               allow_redirects=False).status_code
    except requests.RequestException as exc:
        raise RuntimeError(f"failure notification not delivered: Slack unreachable ({type(exc).__name__})") from None
    if status >= 300:
        raise RuntimeError(f"failure notification not delivered: Slack answered {status}")


# --- the DAG: read by Airflow in its own environment ------------------------------------------------------
def _day12_airflow_side() -> bool:
    try:
        return importlib.util.find_spec("airflow.sdk") is not None
    except ModuleNotFoundError:
        return False


if _day12_airflow_side():
    from datetime import timedelta

    from airflow.sdk import dag, task
    from airflow_support.week_dags import RUN_ID, dag_defaults, day_settings, in_project

    DAY12_SETTINGS = day_settings("day12")

    @dag(dag_id="day12_data_quality_gate", start_date=datetime(2026, 1, 1, tzinfo=timezone.utc), doc_md=__doc__,
         schedule=timedelta(minutes=DAY12_SETTINGS.schedule_interval_minutes), **dag_defaults("day12"))
    def day12_data_quality_gate():
        @task.external_python(**in_project("day12", retries=2))
        def stage(run_key: str) -> dict:
            from day12_DAG_airflow import day12_step_stage
            return day12_step_stage(run_key)

        @task.external_python(**in_project("day12"))
        def validate(run_key: str, staged: dict) -> dict:
            from day12_DAG_airflow import day12_step_validate
            return day12_step_validate(run_key, staged)

        @task.external_python(**in_project("day12"))
        def act_on_verdict(verdict: dict) -> str:
            from day12_DAG_airflow import day12_step_act
            return day12_step_act(verdict)

        act_on_verdict(validate(RUN_ID, stage(RUN_ID)))

    day12_data_quality_gate()
