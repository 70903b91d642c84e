"""Run the triage every DAY13_ALERT_CHECK_INTERVAL seconds.

Runbook
    python day13/day13_SCHEDULER_main.py              # foreground; Ctrl-C stops after the running job
    .venv/bin/python day13/day13_SCHEDULER_main.py --print-cron    # the same cadence as crontab lines
    .venv/bin/python day13/day13_SCHEDULER_main.py --install-cron  # into your crontab, between markers; --uninstall-cron removes

max_instances=1 and coalesce: a slow run never overlaps the next, and runs missed while the machine
slept collapse into one. Cron and this scheduler can both be installed: the run lock (flock) lets
only one triage run at a time; the other logs "skipped" and exits.
"""
from __future__ import annotations

import argparse
import logging
import sys

from day13_CRON_entries import day13_add_cron_arguments, day13_cron_command

DAY13_JOB_ID = "day13_alert_triage"
DAY13_MISFIRE_GRACE_SECONDS = 120  # a run more than two minutes late is skipped; the next one catches up


def day13_scheduled_triage() -> None:
    """The job: fresh settings each time (config edits apply without a restart), one triage run."""
    from day13_COMMANDS_cli import day13_command_run
    from day13_CONFIG_settings import day13_load_settings

    day13_command_run(day13_load_settings())


def day13_build_scheduler(settings, job=day13_scheduled_triage):
    from apscheduler.schedulers.blocking import BlockingScheduler
    from apscheduler.triggers.interval import IntervalTrigger

    scheduler = BlockingScheduler(timezone=settings.timezone)
    scheduler.add_job(job, IntervalTrigger(seconds=settings.alert_check_interval, timezone=settings.timezone),
                      id=DAY13_JOB_ID, name="compliance alert triage", max_instances=1, coalesce=True,
                      misfire_grace_time=DAY13_MISFIRE_GRACE_SECONDS, replace_existing=True)
    return scheduler


def day13_log_job_events(scheduler) -> None:
    """One line per job event; a job that raised: its type and place, never its text or APScheduler's traceback."""
    from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED, EVENT_JOB_MAX_INSTANCES, EVENT_JOB_MISSED

    from day13_LOG_setup import day13_crash_fields

    log = logging.getLogger("day13.scheduler")
    messages = {EVENT_JOB_EXECUTED: (logging.INFO, "job finished"), EVENT_JOB_ERROR: (logging.ERROR, "job raised"),
                EVENT_JOB_MISSED: (logging.WARNING, "job missed its time"),
                EVENT_JOB_MAX_INSTANCES: (logging.WARNING, "previous run still going; this one skipped")}

    def listener(event) -> None:
        level, message = messages[event.code]
        crash = day13_crash_fields(event.exception) if event.code == EVENT_JOB_ERROR else {}
        log.log(level, message, extra={"job_id": event.job_id, **crash})

    logging.getLogger("apscheduler.executors").setLevel(logging.CRITICAL)  # its traceback quotes the error's text
    scheduler.add_listener(listener, EVENT_JOB_EXECUTED | EVENT_JOB_ERROR | EVENT_JOB_MISSED | EVENT_JOB_MAX_INSTANCES)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Interval scheduler for the compliance alert triage.")
    day13_add_cron_arguments(parser)
    args = parser.parse_args(argv)
    from day13_CONFIG_settings import DAY13_DIR, day13_ConfigError, day13_load_settings
    from day13_LOG_setup import day13_log_crash, day13_setup_logging

    try:
        settings = day13_load_settings()
    except day13_ConfigError as exc:
        print(f"configuration rejected: {exc}", file=sys.stderr)
        return 2
    if (code := day13_cron_command(args, settings, DAY13_DIR.parent)) is not None:
        return code
    from day13_SCHEDULER_main import day13_scheduled_triage  # by module name, not __main__: a job APScheduler can name

    try:
        day13_setup_logging(settings.log_path)
        scheduler = day13_build_scheduler(settings, day13_scheduled_triage)
        day13_log_job_events(scheduler)
        scheduler.start()
    except (KeyboardInterrupt, SystemExit):
        pass
    except Exception as exc:  # e.g. an unwritable log folder: one line with its type and place, never a traceback
        day13_log_crash(logging.getLogger("day13"), "scheduler could not start", exc)
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
