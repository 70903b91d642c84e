"""Ctrl-C (KeyboardInterrupt) to the entry scripts: exit 130, one WARNING line saying what the next run does, no
traceback on the terminal or in the log file (a KeyboardInterrupt is a BaseException: it passed the crash handler)."""
import json
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
from day12_LOG_setup import DAY12_INTERRUPTED
from shared_synthetic_data import security

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


def _events_file(path: Path, rows: int = 300) -> Path:
    path.write_text(security.generate(size=rows).text("security/security_events.csv"))
    return path


def _results(run_env) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted((run_env / "results").glob("day12-*.json"))]


def _crash(*args, **kwargs):
    raise RuntimeError("text that may quote a value")


@pytest.mark.parametrize("source", ["file", "table"])
@pytest.mark.parametrize(("raised", "code", "status"), [(_interrupt, 130, "interrupted"), (_crash, 5, "crashed")])
def test_a_run_that_ends_without_results_says_so_in_its_results_file(source, raised, code, status, run_env, tmp_path,
                                                                     monkeypatch, capfd):
    """The results file is claimed as "running" before the checkpoint runs; a Ctrl-C (or a crash) left it saying so for
    good, and whoever read the results folder was told a dead run was still running."""
    import day12_GATE_validation
    import day12_SQL_source

    if source == "file":
        monkeypatch.setattr(day12_GATE_validation, "day12_run_checkpoint", raised)
        argv = ["--input", str(_events_file(tmp_path / "events.csv"))]
    else:
        from day12_SQLDATA_tables import day12_create_events_table

        day12_create_events_table(f"sqlite:///{tmp_path / 'events.db'}", None, "events", 500)
        monkeypatch.setattr(day12_SQL_source, "day12_sql_checkpoint", raised)
        argv = ["--source", f"sqlite:///{tmp_path / 'events.db'}/events"]
    assert _main(orchestrator.main, argv) == code
    if status == "interrupted":
        _check(run_env, capfd, DAY12_INTERRUPTED)
    (result,) = _results(run_env)
    assert result["status"] == status and "not recorded as passed" in result["message"], result
    assert "value" not in json.dumps(result)  # a crash is recorded by its type and place, never its text
    assert result.get("error_type") == (None if status == "interrupted" else "RuntimeError")


@pytest.mark.parametrize(("raised", "code", "status"), [(_interrupt, 130, "interrupted"), (_crash, 5, "crashed")])
def test_a_run_stopped_while_it_looks_for_killed_runs_says_so_in_its_results_file(raised, code, status, run_env, tmp_path,
                                                                                 monkeypatch):
    """Right after its claim a run reads every results file (a long while in a full folder): a Ctrl-C there left its
    claim "running", and the next run marked it abandoned, killed without a word."""
    monkeypatch.setattr(day12_PIPELINE_run, "_mark_abandoned", raised)
    assert _main(orchestrator.main, ["--input", str(_events_file(tmp_path / "events.csv"))]) == code
    (result,) = _results(run_env)
    assert result["status"] == status and "not recorded as passed" in result["message"], result


def test_a_real_sigint_mid_run_is_exit_130_and_its_results_file_says_interrupted(run_env, tmp_path, wait_for):
    big = _events_file(tmp_path / "big.csv", 50_000)
    proc = subprocess.Popen([sys.executable, str(DAY12_DIR / "day12_ORCHESTRATOR_validation.py"), "--input", str(big)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert wait_for(lambda: [r for r in _safe_results(run_env) if r.get("status") == "running"])
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 130, err[-2000:]
    _check_texts(run_env, out, err, DAY12_INTERRUPTED)
    (result,) = _results(run_env)
    assert result["status"] == "interrupted" and result["message"] == DAY12_INTERRUPTED, result


def _safe_results(run_env) -> list[dict]:
    try:
        return _results(run_env)
    except (OSError, ValueError):  # being written
        return []


def test_ctrl_c_to_the_running_scheduler_is_exit_130_one_warning_line_and_no_traceback(run_env, wait_for):
    """Ctrl-C while the BlockingScheduler ran returned 0 and never shut it down."""
    proc = subprocess.Popen([sys.executable, str(DAY12_DIR / "day12_SCHEDULER_dropfolder.py")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    log = run_env / "logs" / "day12_validation.log"
    try:
        assert wait_for(lambda: log.exists() and "scheduler started" in log.read_text(), 60)
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


_SLOW_PASS_SCHEDULER = """
import sys, time
from datetime import datetime, timezone
from pathlib import Path
import day12_SCHEDULER_dropfolder as scheduler
from day12_JOBS_scheduler import DAY12_JOB_ID

marks = Path(sys.argv[1])
def slow_pass():
    (marks / "started").touch()
    time.sleep(4)
    (marks / "finished").touch()

build = scheduler.day12_build_scheduler
def build_now(settings, job=None):
    built = build(settings, slow_pass)
    built.modify_job(DAY12_JOB_ID, next_run_time=datetime.now(timezone.utc))
    return built
scheduler.day12_build_scheduler = build_now
sys.exit(scheduler.main([]))
"""


def test_a_second_ctrl_c_to_the_scheduler_still_lets_the_running_pass_finish(run_env, tmp_path, wait_for):
    """A second Ctrl-C interrupted the wait for the worker thread, and Python 3.11 then takes that thread for finished
    (its join, interrupted, marks it stopped): the process exited mid-pass, its results file "running" for good."""
    proc = subprocess.Popen([sys.executable, "-c", _SLOW_PASS_SCHEDULER, str(tmp_path)], cwd=DAY12_DIR,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert wait_for(lambda: (tmp_path / "started").exists(), 60)
        time.sleep(0.5)  # the main thread back in the scheduler's wait
        proc.send_signal(signal.SIGINT)
        time.sleep(0.5)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 130, err[-2000:]
    assert (tmp_path / "finished").exists(), "the process ended in the middle of its running pass"
    _check_texts(run_env, out, err, "the scheduler stopped")
