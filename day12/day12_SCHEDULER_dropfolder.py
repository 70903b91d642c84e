"""Validate whatever lands in the drop folder, every DAY12_SCHEDULE_INTERVAL_MINUTES.

Runbook
    python day12/day12_SCHEDULER_dropfolder.py               # foreground; Ctrl-C stops after the running job
    python day12/day12_SCHEDULER_dropfolder.py --print-cron  # the same cadence as a crontab line

Each CSV or Parquet file in DAY12_DROP_FOLDER is validated once per content: an unchanged file is
skipped (change detection by content hash), a changed one is validated again. max_instances=1 and
coalesce keep a slow validation from overlapping the next tick.
"""
from __future__ import annotations

import argparse
import sys

DAY12_JOB_ID = "day12_drop_folder_validation"


def day12_scheduled_job() -> None:
    from day12_CONFIG_settings import day12_load_settings
    from day12_PIPELINE_run import day12_validate_drop_folder

    day12_validate_drop_folder(day12_load_settings())


def day12_build_scheduler(settings, job=day12_scheduled_job):
    from apscheduler.schedulers.blocking import BlockingScheduler
    from apscheduler.triggers.interval import IntervalTrigger

    scheduler = BlockingScheduler(timezone=settings.timezone)
    scheduler.add_job(job, IntervalTrigger(minutes=settings.schedule_interval_minutes, timezone=settings.timezone),
                      id=DAY12_JOB_ID, max_instances=1, coalesce=True, misfire_grace_time=300, replace_existing=True)
    return scheduler


class day12_CronError(ValueError):
    """The interval has no exact crontab equivalent."""


def day12_cron_schedule(minutes: int) -> str:
    """The crontab fields firing exactly every `minutes`; cron's steps restart every hour and every day, so only
    divisors of 60 minutes, whole hours dividing 24, and one day are exact (45 would fire at :00 and :45)."""
    if minutes < 60 and 60 % minutes == 0:
        return f"*/{minutes} * * * *" if minutes > 1 else "* * * * *"
    if minutes % 60 == 0 and 24 % (minutes // 60) == 0:
        hours = minutes // 60
        return "0 0 * * *" if hours == 24 else ("0 * * * *" if hours == 1 else f"0 */{hours} * * *")
    raise day12_CronError(f"DAY12_SCHEDULE_INTERVAL_MINUTES={minutes}: cron cannot fire exactly every {minutes} minutes "
                          "(use a divisor of 60, whole hours dividing 24, or 1440), or run the APScheduler loop instead")


def day12_cron_line(settings, repo, python: str) -> str:
    schedule = day12_cron_schedule(settings.schedule_interval_minutes)
    return (f"CRON_TZ={settings.timezone}\n{schedule} cd {repo} && {python} day12/day12_SCHEDULER_dropfolder.py --once"
            f" >> day12/logs/day12_cron.log 2>&1")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Periodic validation of the day12 drop folder.")
    parser.add_argument("--print-cron", action="store_true", help="print the equivalent crontab lines and exit")
    parser.add_argument("--once", action="store_true", help="one pass over the drop folder, then exit (for cron)")
    args = parser.parse_args(argv)
    from day12_CONFIG_settings import day12_ConfigError, day12_load_settings
    from day12_LOG_setup import day12_setup_logging

    try:
        settings = day12_load_settings()
    except day12_ConfigError as exc:
        print(f"configuration rejected: {exc}", file=sys.stderr)
        return 2  # as in the other days
    if args.print_cron:
        from day12_CONFIG_settings import DAY12_DIR

        try:
            print(day12_cron_line(settings, DAY12_DIR.parent, sys.executable))
        except day12_CronError as exc:
            print(f"configuration rejected: {exc}", file=sys.stderr)
            return 2
        return 0
    day12_setup_logging(settings.results_dir.parent / "logs" / "day12_validation.log")
    if args.once:
        from day12_PIPELINE_run import day12_validate_drop_folder

        codes = day12_validate_drop_folder(settings)
        return 2 if codes is None else max(codes.values(), default=0)  # None: the folder is missing (logged)
    scheduler = day12_build_scheduler(settings)
    try:
        scheduler.start()
    except (KeyboardInterrupt, SystemExit):
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
