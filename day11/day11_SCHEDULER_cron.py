"""Send the retail report every day at 08:00 UTC (DAY11_SCHEDULE_CRON in DAY11_TIMEZONE).

Runbook
    python day11/day11_SCHEDULER_cron.py               # foreground; Ctrl-C or SIGTERM stops after the running job, exit 130
    .venv/bin/python day11/day11_SCHEDULER_cron.py --print-cron    # the crontab lines (day11_CRON_entries.py says why no CRON_TZ)
    .venv/bin/python day11/day11_SCHEDULER_cron.py --install-cron  # into your crontab, between markers; --uninstall-cron removes

An explicit UTC timezone (never the laptop's), max_instances=1, coalesce, an hour's misfire grace: the report goes out
once, even after the machine slept through 08:00; the ledger makes a second trigger (cron too) deliver nothing twice.
"""
from __future__ import annotations

import argparse
import logging
import signal
import sys

from day11_CRON_entries import day11_add_cron_arguments, day11_cron_command
from day11_LOG_setup import DAY11_EXIT_INTERRUPTED, day11_log_interrupted, day11_setup_logging_if_needed

DAY11_JOB_ID = "day11_retail_report"
DAY11_MISFIRE_GRACE_SECONDS = 3600
DAY11_LOG = logging.getLogger("day11.scheduler")
DAY11_SCHEDULER_INTERRUPTED = "interrupted; the scheduler stops once the report it is sending, if any, is sent and recorded"


def day11_scheduled_report() -> None:
    from datetime import datetime, timezone

    from day11_CONFIG_settings import day11_load_settings
    from day11_PIPELINE_report import day11_default_date, day11_run

    try:
        day11_run(day11_load_settings(), report_date=day11_default_date(datetime.now(timezone.utc)))
    except Exception:  # logged here, redacted, rather than by APScheduler's own unredacted handler
        DAY11_LOG.exception("scheduled report crashed")


def day11_build_scheduler(settings, job=day11_scheduled_report):
    from apscheduler.events import EVENT_SCHEDULER_STARTED
    from apscheduler.schedulers.blocking import BlockingScheduler
    from apscheduler.triggers.cron import CronTrigger

    from day11_CONFIG_settings import day11_cron_weekdays

    minute, hour, day, month, weekdays = settings.schedule_cron.split()
    trigger = CronTrigger(minute=minute, hour=hour, day=day, month=month, day_of_week=day11_cron_weekdays(weekdays),
                          timezone=settings.timezone)  # the weekdays cron means, not APScheduler's Monday = 0
    scheduler = BlockingScheduler(timezone=settings.timezone)
    scheduler.add_job(job, trigger, id=DAY11_JOB_ID, max_instances=1, coalesce=True,
                      misfire_grace_time=DAY11_MISFIRE_GRACE_SECONDS, replace_existing=True)
    scheduler.add_listener(lambda _event: DAY11_LOG.info("scheduler started; Ctrl-C stops it after the report it is sending",
                                                         extra={"cron": settings.schedule_cron}), EVENT_SCHEDULER_STARTED)
    return scheduler


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Daily scheduler for the retail performance report.")
    day11_add_cron_arguments(parser)
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # a service manager's stop takes Ctrl-C's path
    try:
        return day11_serve(args)
    except KeyboardInterrupt:  # before the scheduler ran: a BaseException, it printed a traceback
        day11_log_interrupted(DAY11_LOG, "interrupted before the scheduler started; no report was sent")
        return DAY11_EXIT_INTERRUPTED
    except Exception as exc:  # an unwritable log folder, a scheduler that cannot be built: one line, not a traceback
        day11_setup_logging_if_needed()
        DAY11_LOG.exception("scheduler crashed before it started", extra={"error_type": type(exc).__name__})
        return 1


def day11_serve(args: argparse.Namespace) -> int:
    from day11_CONFIG_settings import DAY11_DIR, day11_ConfigError, day11_load_settings
    from day11_LOG_setup import day11_setup_logging

    try:
        settings = day11_load_settings()
    except day11_ConfigError as exc:
        print(f"configuration rejected: {exc}", file=sys.stderr)
        return 2
    if (code := day11_cron_command(args, settings, DAY11_DIR.parent)) is not None:
        return code
    day11_setup_logging(settings.output_dir / "day11_execution.log")
    scheduler = day11_build_scheduler(settings)
    try:
        scheduler.start()
    except KeyboardInterrupt:  # raised in this thread only: a report being sent goes on in its worker thread
        for again in (signal.SIGINT, signal.SIGTERM):  # a second one would cut it off at exit, its claim left in flight
            signal.signal(again, signal.SIG_IGN)
        day11_log_interrupted(DAY11_LOG, DAY11_SCHEDULER_INTERRUPTED)
        if scheduler.running:
            scheduler.shutdown(wait=True)  # the report finishes and is recorded as it ended
        return DAY11_EXIT_INTERRUPTED
    return 0


if __name__ == "__main__":
    sys.exit(main())
