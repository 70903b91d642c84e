"""Any log call with exc_info, anywhere in day12, is the exception's type and place in the terminal and the log file:
never its text (a value, a path, a password) and never a traceback."""
import logging
import re
import uuid

from day12_LOG_setup import day12_setup_logging


def test_a_logged_exception_is_never_its_text_or_a_traceback_in_the_terminal_or_the_file(tmp_path, capfd, monkeypatch):
    day12 = logging.getLogger("day12")
    monkeypatch.setattr(day12, "handlers", list(day12.handlers))  # put back as it was afterwards
    monkeypatch.setattr(day12, "propagate", day12.propagate)
    monkeypatch.setattr(day12, "level", day12.level)
    secret = "Pw-" + uuid.uuid4().hex[:12]
    day12_setup_logging(tmp_path / "run.log")
    try:
        raise ConnectionRefusedError(f"postgresql://reader:{secret}@db.example/alerts")
    except ConnectionRefusedError:
        logging.getLogger("day12.test").error("could not connect", exc_info=True)
    for handler in day12.handlers:
        handler.close()
    _, err = capfd.readouterr()
    log = (tmp_path / "run.log").read_text(encoding="utf-8")
    for text in (err, log):
        (line,) = [line for line in text.splitlines() if "could not connect" in line]
        assert re.search(r" error_type=ConnectionRefusedError place=test_day12_log_exceptions:test_\w+:\d+$", line), line
        assert "Traceback" not in text and 'File "' not in text and secret not in text and "error=" not in text
