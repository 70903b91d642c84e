"""Ctrl-C (KeyboardInterrupt) to the entry scripts: exit 130, one WARNING line saying what the next run does, no
traceback on the terminal or in the log file (a KeyboardInterrupt is a BaseException: it passed the crash handler)."""
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import day12_ORCHESTRATOR_validation as orchestrator
import day12_PIPELINE_run
import day12_SCHEDULER_dropfolder as scheduler
from day12_JOBS_scheduler import DAY12_JOB_ID

DAY12_DIR = Path(__file__).resolve().parents[1]


@pytest.fixture
def run_env(run_folders, monkeypatch):
    out = run_folders
    day12 = logging.getLogger("day12")
    monkeypatch.setattr(day12, "handlers", [])  # restored afterwards: later tests never log into a closed stream
    monkeypatch.setattr(day12, "propagate", day12.propagate)
    monkeypatch.setattr(day12, "level", day12.level)
    (out / "drop").mkdir(parents=True)
    yield out
    for handler in day12.handlers:
        handler.close()


def _interrupt(*args, **kwargs):
    raise KeyboardInterrupt


def _main(entry, argv: list[str]) -> int:
    try:
        return entry(argv)
    except KeyboardInterrupt:  # escaping, it stops pytest itself; run as a script, it printed a traceback
        pytest.fail("KeyboardInterrupt escaped main: Python prints its traceback")


def _check(run_env, capfd, message: str) -> None:
    _check_texts(run_env, *capfd.readouterr(), message)


def _check_texts(run_env, out: str, err: str, message: str) -> None:
    log_path = run_env / "logs" / "day12_validation.log"
    texts = (err, log_path.read_text()) if log_path.exists() else (err,)
    for text in texts:
        lines = [line for line in text.splitlines() if "interrupted" in line]
        assert len(lines) == 1 and " level=WARNING " in lines[0] and message in lines[0], text
    for text in (out, *texts):
        assert "Traceback" not in text and 'File "' not in text and "KeyboardInterrupt" not in text, text


def test_ctrl_c_during_a_validation_run_is_exit_130_and_one_warning_line(run_env, tmp_path, monkeypatch, capfd):
    monkeypatch.setattr(day12_PIPELINE_run, "day12_run_files", _interrupt)
    assert _main(orchestrator.main, ["--input", str(tmp_path / "events.csv")]) == 130
    _check(run_env, capfd, "the next run validates again every input this one had not recorded as passed")
    assert (run_env / "logs" / "day12_validation.log").exists()


def test_ctrl_c_during_a_once_pass_is_exit_130_and_one_warning_line(run_env, monkeypatch, capfd):
    monkeypatch.setattr(day12_PIPELINE_run, "day12_validate_drop_folder", _interrupt)
    assert _main(scheduler.main, ["--once"]) == 130
    _check(run_env, capfd, "the next run validates again every input this one had not recorded as passed")


def test_ctrl_c_before_the_scheduler_starts_is_exit_130_and_one_warning_line(run_env, monkeypatch, capfd):
    monkeypatch.setattr(scheduler, "day12_build_scheduler", _interrupt)
    assert _main(scheduler.main, []) == 130
    _check(run_env, capfd, "before the scheduler started")


def test_a_scheduler_start_up_error_is_one_crash_line_and_exit_5(run_env, monkeypatch, capfd):
    """An unwritable log folder or a scheduler that cannot be built escaped main as a traceback quoting its text."""
    def broken(*args, **kwargs):
        raise OSError("[Errno 13] Permission denied: '/srv/secret-value'")

    monkeypatch.setattr(scheduler, "day12_build_scheduler", broken)
    assert scheduler.main([]) == 5
    out, err = capfd.readouterr()
    (line,) = [line for line in err.splitlines() if "crashed" in line]
    assert " level=ERROR " in line and "error_type=OSError" in line and "place=day12_SCHEDULER_dropfolder:" in line, line
    assert "Traceback" not in out + err and "secret-value" not in out + err


def test_ctrl_c_before_logging_is_set_up_is_one_line_even_with_a_handler_someone_else_left(run_env, monkeypatch, capfd):
    """A handler another library (or a test harness in the same process) left on the day12 logger is not ours: the
    terminal line must still be written (the check was 'any handler at all')."""
    import io

    import day12_CONFIG_settings

    logging.getLogger("day12").addHandler(logging.StreamHandler(io.StringIO()))
    monkeypatch.setattr(day12_CONFIG_settings, "day12_load_settings", _interrupt)
    assert _main(orchestrator.main, ["--input", "events.csv"]) == 130
    _check(run_env, capfd, "interrupted")


def _wait_for(predicate, timeout=120.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_ctrl_c_to_the_running_scheduler_is_exit_130_one_warning_line_and_no_traceback(run_env):
    """Ctrl-C while the BlockingScheduler ran returned 0 and never shut it down."""
    proc = subprocess.Popen([sys.executable, str(DAY12_DIR / "day12_SCHEDULER_dropfolder.py")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    log = run_env / "logs" / "day12_validation.log"
    try:
        assert _wait_for(lambda: log.exists() and "scheduler started" in log.read_text(), 60)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 130, err[-2000:]
    _check_texts(run_env, out, err, "the scheduler stopped")


def test_ctrl_c_to_the_scheduler_waits_for_the_running_pass_then_exits_130(run_env, monkeypatch, capfd):
    from datetime import datetime, timezone

    started, finished = threading.Event(), []

    def slow_pass():
        started.set()
        time.sleep(1.5)
        finished.append(time.monotonic())

    build = scheduler.day12_build_scheduler

    def build_now(settings, job=None):
        built = build(settings, job=slow_pass)
        built.modify_job(DAY12_JOB_ID, next_run_time=datetime.now(timezone.utc))
        return built

    monkeypatch.setattr(scheduler, "day12_build_scheduler", build_now)

    def ctrl_c():
        started.wait(60)
        time.sleep(0.5)  # the main thread back in the scheduler's wait (APScheduler logs and drops one sent mid-submit)
        os.kill(os.getpid(), signal.SIGINT)

    threading.Thread(target=ctrl_c, daemon=True).start()
    assert _main(scheduler.main, []) == 130
    returned = time.monotonic()
    assert finished and finished[0] <= returned  # shut down after the running pass, not in the middle of it
    _check(run_env, capfd, "the scheduler stopped")
