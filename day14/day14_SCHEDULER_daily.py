"""Send the transport KPI e-mail every day at DAY14_SEND_TIME in DAY14_TIMEZONE.

Runbook
    python day14/day14_SCHEDULER_daily.py               # foreground; Ctrl-C (or SIGTERM) stops after the running job
    .venv/bin/python day14/day14_SCHEDULER_daily.py --print-cron    # crontab lines (day14_CRON_entries.py says why no CRON_TZ)
    .venv/bin/python day14/day14_SCHEDULER_daily.py --install-cron  # into your crontab, between markers; --uninstall-cron removes
    .venv/bin/python day14/day14_SCHEDULER_daily.py --run-now       # send yesterday's report now, then keep the daily schedule
    python day14/day14_SCHEDULER_daily.py --next 5      # the next five send times, in local time and UTC

The trigger runs in the network's own time zone, so 07:00 stays 07:00 across daylight-saving changes.
max_instances=1 and coalesce=True: a slow day never overlaps the next, and a machine that slept through
several send times sends once when it wakes (within the misfire grace). The send ledger makes any extra
run harmless anyway: a report already sent for the date is not sent again.

Exit codes: 0 stopped (or printed); 1 crashed (one log line with the error's type and place, never its text);
2 configuration error; 130 Ctrl-C before the scheduler had started (one warning line, no traceback).
"""
from __future__ import annotations

import argparse
import logging
import sys
from datetime import datetime, timedelta, timezone

from day14_CRON_entries import day14_add_cron_arguments, day14_cron_command

DAY14_JOB_ID = "day14_daily_kpi_email"
DAY14_MISFIRE_GRACE_SECONDS = 3 * 3600  # a report up to three hours late is still worth sending


def day14_trigger(settings):
    from apscheduler.triggers.cron import CronTrigger

    return CronTrigger(hour=settings.send_time.hour, minute=settings.send_time.minute, timezone=settings.timezone)


def day14_build_scheduler(settings, job, run_now: bool = False):
    from apscheduler.schedulers.blocking import BlockingScheduler

    scheduler = BlockingScheduler(timezone=settings.timezone)
    first = {"next_run_time": datetime.now(timezone.utc)} if run_now else {}  # then the trigger takes over
    scheduler.add_job(job, day14_trigger(settings), id=DAY14_JOB_ID, name="daily transport KPI e-mail",
                      max_instances=1, coalesce=True, misfire_grace_time=DAY14_MISFIRE_GRACE_SECONDS,
                      replace_existing=True, **first)
    return scheduler


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Daily scheduler for the transport KPI e-mail.")
    day14_add_cron_arguments(parser)
    parser.add_argument("--next", type=int, metavar="N", help="print the next N send times and exit")
    parser.add_argument("--run-now", action="store_true", help="send once now, then keep the daily schedule")
    args = parser.parse_args(argv)
    from day14_CONFIG_settings import DAY14_DIR, day14_ConfigError, day14_load_settings
    from day14_LOG_setup import day14_log_crash, day14_log_interrupted

    try:
        try:
            settings = day14_load_settings()
        except day14_ConfigError as exc:
            print(f"configuration rejected: {exc}", file=sys.stderr)
            return 2
        return day14_serve(args, settings, DAY14_DIR.parent)
    except KeyboardInterrupt:  # before the scheduler's own handler is installed (it is once it has started)
        day14_log_interrupted(logging.getLogger("day14.scheduler"), "interrupted before the scheduler started; nothing was sent")
        return 130
    except Exception as exc:  # nothing handled it (e.g. an unwritable log): one line with type and place, never text
        day14_log_crash(logging.getLogger("day14"), "scheduler crashed", exc)
        return 1


def day14_serve(args: argparse.Namespace, settings, repo_root) -> int:
    """--print-cron/--install-cron/--uninstall-cron, --next N, or the daily schedule until SIGTERM/Ctrl-C."""
    from day14_LOG_setup import day14_setup_logging

    if (code := day14_cron_command(args, settings, repo_root)) is not None:
        return code
    if args.next:
        trigger, moment = day14_trigger(settings), datetime.now(timezone.utc)
        for _ in range(args.next):
            moment = trigger.get_next_fire_time(None, moment)
            print(f"{moment.isoformat()}  ({moment.astimezone(timezone.utc):%Y-%m-%d %H:%M} UTC)")
            moment += timedelta(seconds=1)  # strictly after this fire time
        return 0
    day14_setup_logging(settings.log_path)
    from day14_PIPELINE_report import day14_scheduled_job
    from day14_RUNTIME_signals import day14_log_job_events, day14_stop_on_signals

    scheduler = day14_build_scheduler(settings, day14_scheduled_job, run_now=args.run_now)
    day14_log_job_events(scheduler)
    stopping = day14_stop_on_signals(scheduler)
    scheduler.start()  # blocks until a SIGINT/SIGTERM has let the running job finish
    stopping.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
