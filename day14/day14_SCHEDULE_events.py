"""Scheduler job events as structured log lines: started, succeeded, failed, missed."""
from __future__ import annotations

import logging

DAY14_LOG = logging.getLogger("day14.scheduler")


def day14_log_job_events(scheduler) -> None:
    from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED, EVENT_JOB_MAX_INSTANCES, EVENT_JOB_MISSED

    def listener(event) -> None:
        fields = {"job_id": event.job_id, "scheduled_for": str(getattr(event, "scheduled_run_time", ""))}
        if event.code == EVENT_JOB_EXECUTED:
            DAY14_LOG.info("job finished", extra=fields)
        elif event.code == EVENT_JOB_ERROR:
            DAY14_LOG.error("job raised", extra={**fields, "error": repr(event.exception)})
        elif event.code == EVENT_JOB_MISSED:
            DAY14_LOG.warning("job missed its time beyond the grace period", extra=fields)
        else:
            DAY14_LOG.warning("job still running; this run skipped", extra=fields)

    scheduler.add_listener(listener, EVENT_JOB_EXECUTED | EVENT_JOB_ERROR | EVENT_JOB_MISSED | EVENT_JOB_MAX_INSTANCES)
