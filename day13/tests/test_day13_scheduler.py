"""The interval schedule and its cron equivalent."""
from datetime import datetime, timedelta, timezone

from day13_CONFIG_settings import day13_load_settings
from day13_SCHEDULER_main import DAY13_JOB_ID, day13_build_scheduler


def test_the_job_runs_every_interval_without_overlap():
    settings = day13_load_settings(env_file=None, alert_check_interval=300)
    job = day13_build_scheduler(settings, job=lambda: None).get_job(DAY13_JOB_ID)
    assert (job.max_instances, job.coalesce, job.misfire_grace_time) == (1, True, 120)
    start = datetime(2026, 11, 22, 10, 0, tzinfo=timezone.utc)
    first = job.trigger.get_next_fire_time(None, start)
    second = job.trigger.get_next_fire_time(first, first + timedelta(seconds=1))
    assert second - first == timedelta(minutes=5)


def test_a_job_that_raises_is_logged_by_type_and_place_without_a_traceback(settings, cli_env, monkeypatch, capfd, caplog):
    """The listener logged repr(exception), quoting its text, and APScheduler logged the traceback as well."""
    import logging
    import re
    import threading
    import uuid

    from apscheduler.events import EVENT_JOB_ERROR

    import day13_COMMANDS_cli
    from day13_LOG_setup import day13_setup_logging
    from day13_SCHEDULER_main import day13_log_job_events, day13_scheduled_triage

    secret = "Pw-" + uuid.uuid4().hex[:12]

    def broken_triage(ctx, **folders):
        raise RuntimeError(f"customer CUS-SECRET-42 at https://hooks.example/{secret}")
    for name, text in cli_env(settings).items():
        if name.startswith("DAY13_"):
            monkeypatch.setenv(name, text)
    monkeypatch.setattr(day13_COMMANDS_cli, "day13_run_triage", broken_triage)
    _keep_logging_as_it_was(monkeypatch)
    day13_setup_logging(settings.log_path)  # as the scheduler's main does
    executors = logging.getLogger("apscheduler.executors")
    silenced_before = executors.level  # the scheduler setup silences it: as it was after this test
    scheduler = day13_build_scheduler(settings, day13_scheduled_triage)
    day13_log_job_events(scheduler)
    failed = threading.Semaphore(0)
    scheduler.add_listener(lambda event: failed.release(), EVENT_JOB_ERROR)
    runner = threading.Thread(target=scheduler.start, daemon=True)
    runner.start()
    try:
        for _ in range(2):  # the job fails twice: the scheduler goes on after a failure
            while not scheduler.running:
                runner.join(0.01)
            scheduler.modify_job(DAY13_JOB_ID, next_run_time=datetime.now(timezone.utc))
            assert failed.acquire(timeout=30)
        assert scheduler.running and scheduler.get_job(DAY13_JOB_ID) is not None
    finally:
        scheduler.shutdown(wait=True)
        runner.join(10)
        executors.setLevel(silenced_before)
    out, err = capfd.readouterr()
    log = settings.log_path.read_text(encoding="utf-8")
    for text in (err, log):
        lines = [line for line in text.splitlines() if "job raised" in line]
        assert len(lines) == 2 and all("error_type=RuntimeError" in line for line in lines), lines
        assert all(re.search(r" place=day13_COMMANDS_cli:day13_command_run:\d+( |$)", line) for line in lines), lines
    assert not [r for r in caplog.records if r.exc_info]  # APScheduler's own "raised an exception" + traceback
    for text in (out, err, log, caplog.text):
        assert "Traceback" not in text and secret not in text and "CUS-SECRET-42" not in text


def _keep_logging_as_it_was(monkeypatch) -> None:
    """The run sets up the day13 logger with a terminal handler on this test's captured stderr, closed after the test:
    the handlers and propagation it had before come back then, so later tests do not log into a closed stream."""
    import logging

    logger = logging.getLogger("day13")
    monkeypatch.setattr(logger, "handlers", [])
    monkeypatch.setattr(logger, "propagate", logger.propagate)
