"""The schedule: 07:00 in Melbourne every day, across both daylight-saving changes, never overlapping."""
from datetime import datetime, time, timedelta, timezone

import pytest

from day14_CONFIG_settings import day14_load_settings
from day14_SCHEDULER_daily import DAY14_JOB_ID, day14_build_scheduler, day14_trigger


def _fire_times(settings, start, count):
    trigger, moment, times = day14_trigger(settings), start, []
    for _ in range(count):
        moment = trigger.get_next_fire_time(None, moment)
        times.append(moment)
        moment += timedelta(seconds=1)
    return times


@pytest.mark.parametrize(("start", "offsets"), [
    (datetime(2026, 10, 2, tzinfo=timezone.utc), [10, 11, 11, 11]),  # October: clocks go forward on the 4th
    (datetime(2027, 4, 2, tzinfo=timezone.utc), [11, 10, 10, 10]),   # April: clocks go back on the 4th
])
def test_seven_am_local_every_day_across_daylight_saving_changes(start, offsets):
    settings = day14_load_settings(env_file=None)
    times = _fire_times(settings, start, 4)
    assert [t.day for t in times] == [3, 4, 5, 6]  # the change happens on the 4th, which still gets its e-mail
    assert [t.timetz().replace(tzinfo=None) for t in times] == [time(7, 0)] * 4
    assert [t.utcoffset() // timedelta(hours=1) for t in times] == offsets
    gaps = {(b - a) // timedelta(hours=1) for a, b in zip(times, times[1:])}
    assert gaps <= {23, 24, 25}  # one send per calendar day, the DST day is simply shorter or longer


def test_a_send_time_inside_the_skipped_hour_still_fires_once_that_day():
    settings = day14_load_settings(env_file=None, send_time=time(2, 30))
    times = _fire_times(settings, datetime(2026, 10, 2, 12, tzinfo=timezone.utc), 4)
    local_days = [t.date() for t in times]
    assert len(set(local_days)) == 4  # 4 Oct has no 02:30, yet no day is skipped or doubled


def test_the_job_never_overlaps_and_late_runs_coalesce():
    settings = day14_load_settings(env_file=None)
    scheduler = day14_build_scheduler(settings, job=lambda: None)
    job = scheduler.get_job(DAY14_JOB_ID)
    assert (job.max_instances, job.coalesce) == (1, True)
    assert job.misfire_grace_time >= 3600
    assert str(job.trigger.timezone) == "Australia/Melbourne"




def test_a_job_that_raises_is_logged_by_type_and_place_without_a_traceback(tmp_path, monkeypatch, capfd, caplog):
    """The listener logged repr(exception), quoting its text, and APScheduler logged the traceback as well."""
    import logging
    import re
    import threading
    import uuid

    from apscheduler.events import EVENT_JOB_ERROR

    import day14_PIPELINE_report
    from day14_LOG_setup import day14_setup_logging
    from day14_RUNTIME_signals import day14_log_job_events

    secret = "Pw-" + uuid.uuid4().hex[:12]

    def broken_ledger(path):
        raise PermissionError(f"{path}: smtp://reports:{secret}@mail.example")
    monkeypatch.setenv("DAY14_LEDGER_PATH", str(tmp_path / "ledger-SECRET-PATH.sqlite"))
    monkeypatch.setenv("DAY14_LOG_PATH", str(tmp_path / "run.log"))
    monkeypatch.setattr(day14_PIPELINE_report, "day14_SendLedger", broken_ledger)
    _keep_logging_as_it_was(monkeypatch)
    settings = day14_load_settings(env_file=None)
    day14_setup_logging(settings.log_path)  # as the scheduler's main does
    executors = logging.getLogger("apscheduler.executors")
    silenced_before = executors.level  # the scheduler setup silences it: as it was after this test
    scheduler = day14_build_scheduler(settings, day14_PIPELINE_report.day14_scheduled_job, run_now=True)
    day14_log_job_events(scheduler)
    failed = threading.Semaphore(0)
    scheduler.add_listener(lambda event: failed.release(), EVENT_JOB_ERROR)
    runner = threading.Thread(target=scheduler.start, daemon=True)
    runner.start()
    try:
        assert failed.acquire(timeout=60)  # run_now: the first run is at once
        scheduler.modify_job(DAY14_JOB_ID, next_run_time=datetime.now(timezone.utc))
        assert failed.acquire(timeout=60)  # and the scheduler went on to the next one
        assert scheduler.running and scheduler.get_job(DAY14_JOB_ID) is not None
    finally:
        scheduler.shutdown(wait=True)
        runner.join(10)
        executors.setLevel(silenced_before)
    out, err = capfd.readouterr()
    log = (tmp_path / "run.log").read_text(encoding="utf-8")
    for text in (err, log):
        lines = [line for line in text.splitlines() if "job raised" in line]
        assert len(lines) == 2 and all("error_type=PermissionError" in line for line in lines), lines
        assert all(re.search(r" place=day14_PIPELINE_report:day14_run_from_settings:\d+( |$)", line) for line in lines)
    assert not [r for r in caplog.records if r.exc_info]  # APScheduler's own "raised an exception" + traceback
    for text in (out, err, log, caplog.text):
        assert "Traceback" not in text and secret not in text and "SECRET-PATH" not in text


def test_a_logged_exception_is_never_its_text_or_a_traceback_in_the_terminal_or_the_file(tmp_path, capfd):
    """Any log call with exc_info wrote the whole traceback to the log file and the error's text to the terminal:
    the one crash path tested elsewhere was not the only way in. Now either is the type and place, nothing else."""
    import logging
    import re
    import uuid

    import pytest

    from day14_LOG_setup import day14_setup_logging

    secret = "Pw-" + uuid.uuid4().hex[:12]
    with pytest.MonkeyPatch.context() as monkeypatch:
        _keep_logging_as_it_was(monkeypatch)
        day14_setup_logging(tmp_path / "run.log")
        try:
            raise ConnectionRefusedError(f"smtp://reports:{secret}@mail.example")
        except ConnectionRefusedError:
            logging.getLogger("day14.test").error("could not connect", exc_info=True)
        for handler in logging.getLogger("day14").handlers:
            handler.close()
    _, err = capfd.readouterr()
    log = (tmp_path / "run.log").read_text(encoding="utf-8")
    for text in (err, log):
        (line,) = [line for line in text.splitlines() if "could not connect" in line]
        assert re.search(r" error_type=ConnectionRefusedError place=test_day14_scheduler:test_\w+:\d+$", line), line
        assert "Traceback" not in text and 'File "' not in text and secret not in text and "error=" not in text


def test_sigterm_stops_the_scheduler_after_the_running_job(tmp_path, smtp_server, scripted):
    """A real scheduler process mid-send gets SIGTERM: the send completes and is recorded, then it exits 0."""
    import asyncio
    import os
    import signal
    import sqlite3
    import subprocess
    import sys
    import threading
    from pathlib import Path

    from day14_PIPELINE_report import day14_default_report_date
    from shared_synthetic_data import transport

    report_date = day14_default_report_date("Australia/Melbourne", datetime.now(timezone.utc))
    transport.generate(end_date=report_date).write(tmp_path / "ops")
    in_data = threading.Event()

    class SlowServer(scripted):
        async def handle_DATA(self, server, session, envelope):
            in_data.set()
            await asyncio.sleep(3)  # the job is mid-send while the signal arrives
            return await super().handle_DATA(server, session, envelope)

    handler = SlowServer()
    port = smtp_server(handler)
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "DAY14_SMTP_HOST": "127.0.0.1", "DAY14_SMTP_PORT": str(port), "DAY14_SMTP_SECURITY": "none",
           "DAY14_DATA_DIR": str(tmp_path / "ops" / "transport"), "DAY14_LEDGER_PATH": str(tmp_path / "ledger.sqlite"),
           "DAY14_LOG_PATH": str(tmp_path / "run.log"), "DAY14_RETRY_BACKOFF_SECONDS": "0"}
    proc = subprocess.Popen([sys.executable, str(root / "day14/day14_SCHEDULER_daily.py"), "--run-now"], cwd=root,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert in_data.wait(120), "the scheduler never started sending"
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 0, stderr
    assert len(handler.messages) == 1  # the running job finished its send
    with sqlite3.connect(tmp_path / "ledger.sqlite") as db:
        assert db.execute("select status from day14_sends").fetchall() == [("sent",)]
    assert "stop requested" in stderr and "scheduler stopped" in stderr and "Traceback" not in stderr


def test_sigterm_stops_an_idle_scheduler_at_once(tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time as clock
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "DAY14_LOG_PATH": str(tmp_path / "run.log"), "DAY14_LEDGER_PATH": str(tmp_path / "l.sqlite")}
    proc = subprocess.Popen([sys.executable, str(root / "day14/day14_SCHEDULER_daily.py")], cwd=root, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        log, deadline = tmp_path / "run.log", clock.monotonic() + 60
        while clock.monotonic() < deadline and not (log.exists() and "scheduler started" in log.read_text()):
            clock.sleep(0.1)
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 0, stderr
    assert "scheduler stopped" in stderr and "Traceback" not in stderr


def test_scheduler_helpers_live_under_a_role_of_the_vocabulary():
    """Job-event logging and stop signals are process wiring shared by the SCHEDULER and ORCHESTRATOR: RUNTIME."""
    from pathlib import Path

    import day14_RUNTIME_signals

    day14_dir = Path(__file__).resolve().parents[1]
    assert not list(day14_dir.glob("day14_SCHEDULE_*.py"))
    assert callable(day14_RUNTIME_signals.day14_log_job_events) and callable(day14_RUNTIME_signals.day14_stop_on_signals)
    assert "from day14_RUNTIME_signals import" in (day14_dir / "day14_SCHEDULER_daily.py").read_text()


def test_crash_fields_fall_back_to_the_innermost_frame_and_never_carry_the_text():
    """Raised in a library called from outside day14's code (here: a test): the innermost frame names the place;
    an exception never raised has no place. The text ("secret") is in neither."""
    import json
    import re

    from day14_LOG_setup import day14_crash_fields

    try:
        json.loads('{"password": "secret"')
    except ValueError as exc:
        fields = day14_crash_fields(exc)
    assert fields["error_type"] == "json.decoder.JSONDecodeError"
    assert re.fullmatch(r"decoder:raw_decode:\d+", fields["place"]), fields
    assert day14_crash_fields(KeyError("secret")) == {"error_type": "KeyError", "place": "unknown"}


def _keep_logging_as_it_was(monkeypatch) -> None:
    """The run sets up the day14 logger with a terminal handler on this test's captured stderr, closed after the test:
    the handlers and propagation it had before come back then, so later tests do not log into a closed stream."""
    import logging

    logger = logging.getLogger("day14")
    monkeypatch.setattr(logger, "handlers", [])
    monkeypatch.setattr(logger, "propagate", logger.propagate)
