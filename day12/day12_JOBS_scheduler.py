"""The drop-folder job on APScheduler's BlockingScheduler: built, run in the foreground, stopped by Ctrl-C.

APScheduler is imported lazily (the scheduler's --help and --once never need it).
"""
from __future__ import annotations

import logging
import signal

DAY12_JOB_ID = "day12_drop_folder_validation"
DAY12_LOG = logging.getLogger("day12.dropfolder")


def day12_build_scheduler(settings, job):
    """max_instances=1 and coalesce keep a slow pass from overlapping the next tick."""
    from apscheduler.events import EVENT_SCHEDULER_STARTED
    from apscheduler.schedulers.blocking import BlockingScheduler
    from apscheduler.triggers.interval import IntervalTrigger

    scheduler = BlockingScheduler(timezone=settings.timezone)
    scheduler.add_job(job, IntervalTrigger(minutes=settings.schedule_interval_minutes, timezone=settings.timezone),
                      id=DAY12_JOB_ID, max_instances=1, coalesce=True, misfire_grace_time=300, replace_existing=True)
    scheduler.add_listener(lambda _: DAY12_LOG.info("scheduler started", extra={
        "interval_minutes": settings.schedule_interval_minutes, "drop_folder": str(settings.drop_folder)}), EVENT_SCHEDULER_STARTED)
    return scheduler


def day12_run_scheduler(scheduler) -> int:
    """Run until Ctrl-C, then shut down once the running pass has finished: one WARNING line, exit 130 (as --once and
    the ORCHESTRATOR). The pass runs in the scheduler's worker thread, which the signal does not reach."""
    from day12_LOG_setup import DAY12_EXIT_INTERRUPTED, DAY12_SCHEDULER_INTERRUPTED, day12_log_interrupted

    try:
        scheduler.start()
    except KeyboardInterrupt:
        if scheduler.running:
            # further Ctrl-Cs are ignored until the pass has ended: one interrupting the join of the worker thread made
            # Python take that thread for finished, and the process exited in the middle of the pass
            previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
            try:
                scheduler.shutdown(wait=True)
            finally:
                signal.signal(signal.SIGINT, previous)
        day12_log_interrupted(DAY12_LOG, DAY12_SCHEDULER_INTERRUPTED)
        return DAY12_EXIT_INTERRUPTED
    return 0
