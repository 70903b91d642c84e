"""Any log call with exc_info, anywhere in day13, is the exception's type and place in the terminal and the log file:
never its text (a value, a path, a password) and never a traceback."""
import logging
import re
import uuid

from day13_LOG_setup import day13_setup_logging


def test_a_logged_exception_is_never_its_text_or_a_traceback_in_the_terminal_or_the_file(tmp_path, capfd, monkeypatch):
    day13 = logging.getLogger("day13")
    monkeypatch.setattr(day13, "handlers", list(day13.handlers))  # put back as it was afterwards
    monkeypatch.setattr(day13, "propagate", day13.propagate)
    monkeypatch.setattr(day13, "level", day13.level)
    secret = "Pw-" + uuid.uuid4().hex[:12]
    day13_setup_logging(tmp_path / "run.log")
    try:
        raise ConnectionRefusedError(f"postgresql://reader:{secret}@db.example/alerts")
    except ConnectionRefusedError:
        logging.getLogger("day13.test").error("could not connect", exc_info=True)
    for handler in day13.handlers:
        handler.close()
    _, err = capfd.readouterr()
    log = (tmp_path / "run.log").read_text(encoding="utf-8")
    for text in (err, log):
        (line,) = [line for line in text.splitlines() if "could not connect" in line]
        assert re.search(r" error_type=ConnectionRefusedError place=test_day13_log_exceptions:test_\w+:\d+$", line), line
        assert "Traceback" not in text and 'File "' not in text and secret not in text and "error=" not in text
