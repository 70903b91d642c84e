"""Ctrl-C (KeyboardInterrupt) to the entry scripts: exit 130, one WARNING line saying what the next run does, no
traceback on the terminal or in the log file (a KeyboardInterrupt is a BaseException: it passed the crash handler)."""
import logging
import sqlite3
from datetime import date

import pytest

import day14_ORCHESTRATOR_email_reports as orchestrator
import day14_PIPELINE_report
import day14_SCHEDULER_daily as scheduler


@pytest.fixture
def run_env(tmp_path, monkeypatch):
    monkeypatch.setenv("DAY14_LOG_PATH", str(tmp_path / "logs" / "run.log"))
    monkeypatch.setenv("DAY14_LEDGER_PATH", str(tmp_path / "state" / "ledger.sqlite"))
    day14 = logging.getLogger("day14")
    monkeypatch.setattr(day14, "handlers", [])  # restored afterwards: later tests never log into a closed stream
    monkeypatch.setattr(day14, "propagate", day14.propagate)
    monkeypatch.setattr(day14, "level", day14.level)
    yield tmp_path
    for handler in day14.handlers:
        handler.close()


def _interrupt(*args, **kwargs):
    raise KeyboardInterrupt


def _main(entry, argv: list[str]) -> int:
    try:
        return entry(argv)
    except KeyboardInterrupt:  # escaping, it stops pytest itself; run as a script, it printed a traceback
        pytest.fail("KeyboardInterrupt escaped main: Python prints its traceback")


def _check(run_env, capfd, message: str) -> None:
    out, err = capfd.readouterr()
    log = (run_env / "logs" / "run.log").read_text()
    for text in (err, log):
        lines = [line for line in text.splitlines() if "interrupted" in line]
        assert len(lines) == 1 and " level=WARNING " in lines[0] and message in lines[0], text
    for text in (out, err, log):
        assert "Traceback" not in text and 'File "' not in text and "KeyboardInterrupt" not in text, text


def test_ctrl_c_during_a_report_run_is_exit_130_and_one_warning_line(run_env, monkeypatch, capfd):
    monkeypatch.setattr(day14_PIPELINE_report, "day14_run_from_settings", _interrupt)
    assert _main(orchestrator.main, ["--date", "2026-11-22"]) == 130
    _check(run_env, capfd, "the next run sends to the recipients still owed")


def test_ctrl_c_mid_send_leaves_the_claim_for_the_claim_timeout_not_a_finished_send(run_env, monkeypatch, capfd):
    """Nothing treats the interrupt as success: the row stays claimed (the next run takes it over after the claim
    timeout), never sent, and the ledger is closed."""
    monkeypatch.setenv("DAY14_OUTBOX_DIR", str(run_env / "outbox"))
    monkeypatch.setattr(day14_PIPELINE_report, "day14_send_with_retries", _interrupt)
    assert _main(orchestrator.main, ["--date", "2026-11-22"]) == 130
    _check(run_env, capfd, "once the claim timeout (30 min) has passed")
    rows = sqlite3.connect(run_env / "state" / "ledger.sqlite").execute(
        "SELECT status FROM day14_sends WHERE report_date = ?", (date(2026, 11, 22).isoformat(),)).fetchall()
    assert rows == [("claimed",)]

def test_ctrl_c_before_the_scheduler_starts_is_exit_130_and_one_warning_line(run_env, monkeypatch, capfd):
    monkeypatch.setattr(scheduler, "day14_build_scheduler", _interrupt)
    assert _main(scheduler.main, []) == 130
    _check(run_env, capfd, "before the scheduler started")


def test_ctrl_c_before_logging_is_set_up_is_one_line_even_with_a_handler_someone_else_left(run_env, monkeypatch, capfd):
    """A handler another library (or a test harness in the same process) left on the day14 logger is not ours: the
    terminal line must still be written (the check was 'any handler at all')."""
    import io

    import day14_CONFIG_settings

    logging.getLogger("day14").addHandler(logging.StreamHandler(io.StringIO()))
    monkeypatch.setattr(day14_CONFIG_settings, "day14_load_settings", _interrupt)
    assert _main(orchestrator.main, ["--date", "2026-11-22"]) == 130
    out, err = capfd.readouterr()
    lines = [line for line in err.splitlines() if "interrupted" in line]
    assert len(lines) == 1 and " level=WARNING " in lines[0], err
    assert "Traceback" not in out + err and "KeyboardInterrupt" not in out + err
