"""Validate whatever lands in the drop folder, every DAY12_SCHEDULE_INTERVAL_MINUTES.

Runbook
    python day12/day12_SCHEDULER_dropfolder.py               # foreground; Ctrl-C: exit 130 once the running pass ends
    .venv/bin/python day12/day12_SCHEDULER_dropfolder.py --print-cron    # the same cadence as crontab lines
    .venv/bin/python day12/day12_SCHEDULER_dropfolder.py --install-cron  # into your crontab, between markers; --uninstall-cron removes

Each CSV or Parquet file in DAY12_DROP_FOLDER is validated once per content: an unchanged file is
skipped (change detection by content hash), a changed one is validated again (day12_JOBS_scheduler
runs the job; a slow pass never overlaps the next tick). A pass that crashes (an error nothing
handled) is one log line with the error's type and place, never its text; `--once` then exits 5 and the
scheduler runs the next pass as planned.
"""
from __future__ import annotations

import argparse
import logging
import sys

from day12_CRON_entries import day12_add_cron_arguments, day12_cron_command
from day12_JOBS_scheduler import day12_build_scheduler, day12_run_scheduler


def day12_one_pass(settings=None) -> int:
    """One pass (fresh settings unless given), its worst exit code. Nothing is raised: a crash is one line with the
    error's type and place, never its text (5), so the scheduler simply runs the next pass."""
    from day12_CONFIG_settings import day12_ConfigError, day12_load_settings
    from day12_LOG_setup import day12_log_crash

    log = logging.getLogger("day12.dropfolder")
    try:
        from day12_PIPELINE_run import day12_validate_drop_folder

        codes = day12_validate_drop_folder(day12_load_settings() if settings is None else settings)
    except day12_ConfigError as exc:
        log.error("configuration rejected; this pass skipped", extra={"error": str(exc)})
        return 2
    except Exception as exc:
        day12_log_crash(log, "drop folder pass crashed", exc)
        return 5
    return 2 if codes is None else max(codes.values(), default=0)  # None: the folder is missing (logged)


def day12_scheduled_job() -> None:
    day12_one_pass()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Periodic validation of the day12 drop folder.")
    day12_add_cron_arguments(parser)
    parser.add_argument("--once", action="store_true", help="one pass over the drop folder, then exit (for cron)")
    args = parser.parse_args(argv)
    from day12_LOG_setup import DAY12_EXIT_INTERRUPTED, DAY12_INTERRUPTED, day12_log_crash, day12_log_interrupted

    log = logging.getLogger("day12.dropfolder")
    try:
        return day12_serve(args)
    except KeyboardInterrupt:  # a --once pass, or the start-up before the scheduler runs: it printed a traceback
        day12_log_interrupted(log, DAY12_INTERRUPTED if args.once
                              else "interrupted before the scheduler started; nothing was validated")
        return DAY12_EXIT_INTERRUPTED
    except Exception as exc:  # an unwritable log folder, a scheduler that cannot be built: type and place, never text
        day12_log_crash(log, "drop folder pass crashed" if args.once else "scheduler crashed before it started", exc)
        return 5


def day12_serve(args: argparse.Namespace) -> int:
    from day12_CONFIG_settings import day12_ConfigError, day12_load_settings
    from day12_LOG_setup import day12_setup_logging

    try:
        settings = day12_load_settings()
    except day12_ConfigError as exc:
        print(f"configuration rejected: {exc}", file=sys.stderr)
        return 2
    from day12_CONFIG_settings import DAY12_DIR

    if (code := day12_cron_command(args, settings, DAY12_DIR.parent)) is not None:
        return code
    day12_setup_logging(settings.results_dir.parent / "logs" / "day12_validation.log")
    if args.once:
        return day12_one_pass(settings)
    return day12_run_scheduler(day12_build_scheduler(settings, day12_scheduled_job))  # Ctrl-C: 130, after the running pass


if __name__ == "__main__":
    sys.exit(main())
