"""Process wiring shared by the SCHEDULER and ORCHESTRATOR: scheduler job events as structured log lines
(started, succeeded, failed, missed), and the stop signals of the scheduler and of a one-shot run."""
from __future__ import annotations

import logging
import signal
import threading

DAY14_LOG = logging.getLogger("day14.scheduler")


def day14_log_job_events(scheduler) -> None:
    """One line per job event; a job that raised by its type and place (day14_crash_fields), never its text, and
    APScheduler's own traceback of it silenced. The scheduler goes on to the next run either way."""
    from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED, EVENT_JOB_MAX_INSTANCES, EVENT_JOB_MISSED

    from day14_LOG_setup import day14_crash_fields

    def listener(event) -> None:
        fields = {"job_id": event.job_id, "scheduled_for": str(getattr(event, "scheduled_run_time", ""))}
        if event.code == EVENT_JOB_EXECUTED:
            DAY14_LOG.info("job finished", extra=fields)
        elif event.code == EVENT_JOB_ERROR:
            DAY14_LOG.error("job raised", extra={**fields, **day14_crash_fields(event.exception)})
        elif event.code == EVENT_JOB_MISSED:
            DAY14_LOG.warning("job missed its time beyond the grace period", extra=fields)
        else:
            DAY14_LOG.warning("job still running; this run skipped", extra=fields)

    logging.getLogger("apscheduler.executors").setLevel(logging.CRITICAL)  # its traceback quotes the error's text
    scheduler.add_listener(listener, EVENT_JOB_EXECUTED | EVENT_JOB_ERROR | EVENT_JOB_MISSED | EVENT_JOB_MAX_INSTANCES)


def day14_stop_on_signals(scheduler, signals=(signal.SIGTERM, signal.SIGINT)) -> threading.Event:
    """Make SIGTERM and Ctrl-C stop the scheduler after the running job (APScheduler 3 installs no handler).

    The handlers are installed when the scheduler has started (before that a signal simply ends the
    process: no job can be running), so a shutdown always finds it running. A handler only starts a
    thread: shutdown(wait=True) blocks until the job has finished, and a signal handler must not block
    the main loop it interrupted. A second signal changes nothing.
    """
    from apscheduler.events import EVENT_SCHEDULER_STARTED

    stopping = threading.Event()

    def shut_down(name: str) -> None:
        DAY14_LOG.info("stop requested; finishing the running job first", extra={"signal": name})
        scheduler.shutdown(wait=True)
        DAY14_LOG.info("scheduler stopped", extra={"signal": name})

    def on_signal(signum, _frame) -> None:
        if not stopping.is_set():
            stopping.set()
            threading.Thread(target=shut_down, args=(signal.Signals(signum).name,), name="day14-stop").start()

    def on_start(_event) -> None:  # runs in the main thread, inside scheduler.start()
        for number in signals:
            signal.signal(number, on_signal)
        DAY14_LOG.info("scheduler started; SIGTERM or Ctrl-C stops it after the running job",
                       extra={"jobs": len(scheduler.get_jobs())})

    scheduler.add_listener(on_start, EVENT_SCHEDULER_STARTED)
    return stopping


def day14_finish_send_on_sigterm() -> threading.Event:
    """For a one-shot run: SIGTERM lets the running attempt finish and be recorded, then no further attempt.

    Dying mid-DATA would leave the delivery uncertain; finishing it costs at most one SMTP timeout.
    """
    stop = threading.Event()

    def on_signal(signum, _frame) -> None:
        stop.set()  # only a flag here: the log line is written by whoever checks it

    signal.signal(signal.SIGTERM, on_signal)
    return stop
