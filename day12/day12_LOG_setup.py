"""Structured logging: one key=value line per event, UTC timestamps, to stderr and a log file.

An exception is one line anywhere, the terminal and the log file alike: its type and place (day12_crash_fields),
never its text or a traceback (both can quote a data value, a path or a password).
"""
from __future__ import annotations

import logging
import logging.handlers
import re
import time
from pathlib import Path

_DAY12_DIR = Path(__file__).resolve().parent
_STANDARD_ATTRIBUTES = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}


_CONTROL = re.compile(r"[\x00-\x1f\x7f\x85\u2028\u2029]")


def _value(value) -> str:
    """One field value that cannot end its line or its field: values (file names above all) are chosen by whoever
    drops a file, so a quoted value escapes backslashes, quotes and control characters."""
    text = str(value)
    if text and not any(c in text for c in ' ="\\') and not _CONTROL.search(text):
        return text
    text = text.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + _CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text) + '"'


class day12_KeyValueFormatter(logging.Formatter):
    converter = time.gmtime

    def format(self, record: logging.LogRecord) -> str:
        fields = {k: v for k, v in vars(record).items() if k not in _STANDARD_ATTRIBUTES}
        line = (f"{self.formatTime(record, '%Y-%m-%dT%H:%M:%S')}Z level={record.levelname} "
                f"logger={record.name} msg={_value(record.getMessage())}")
        line += "".join(f" {key}={_value(value)}" for key, value in fields.items())
        if record.exc_info and record.exc_info[1] is not None:  # whoever logged it with exc_info: type and place only
            line += "".join(f" {key}={_value(value)}" for key, value in day12_crash_fields(record.exc_info[1]).items())
        return line


def day12_setup_logging(log_path: Path | None, level: int = logging.INFO) -> None:
    root = logging.getLogger("day12")
    root.setLevel(level)
    root.handlers.clear()
    root.propagate = False
    terminal = logging.StreamHandler()
    terminal.setFormatter(day12_KeyValueFormatter())
    root.addHandler(terminal)
    if log_path:
        Path(log_path).parent.mkdir(parents=True, exist_ok=True)
        to_file = logging.handlers.RotatingFileHandler(log_path, maxBytes=5_000_000, backupCount=3, encoding="utf-8")
        to_file.setFormatter(day12_KeyValueFormatter())
        root.addHandler(to_file)


def _in_day12(filename: str) -> bool:
    """A file of day12's own code: the day folder itself, not tests/ and not a library. Never raises."""
    try:
        return Path(filename).resolve().parent == _DAY12_DIR
    except (OSError, RuntimeError, ValueError):
        return False


def day12_crash_fields(exc: BaseException) -> dict[str, str]:
    """An unexpected exception as fields a log line may carry: its type, and where it happened (module:function:line
    of the innermost frame in day12's own code, else of the innermost frame). Never its text, which can quote a data
    value, a path or a secret, and never a traceback (it quotes source lines and paths)."""
    kind = type(exc)
    name = kind.__qualname__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__qualname__}"
    ours = last = None
    tb = exc.__traceback__
    while tb is not None:
        last = tb
        if _in_day12(tb.tb_frame.f_code.co_filename):
            ours = tb
        tb = tb.tb_next
    chosen = ours or last
    place = "unknown" if chosen is None else (f"{Path(chosen.tb_frame.f_code.co_filename).stem}:"
                                              f"{chosen.tb_frame.f_code.co_name}:{chosen.tb_lineno}")
    return {"error_type": name, "place": place}


DAY12_EXIT_INTERRUPTED = 130  # Ctrl-C, as a shell reports a process ended by SIGINT (128 + 2)
# a file counts as passed only once its run has finished (day12_last_success.json): a run that ends early says so in
# its results file (status interrupted or crashed; abandoned when the next run finds a killed one's claim)
DAY12_NOT_PASSED = "the next run validates again every input this one had not recorded as passed"
DAY12_INTERRUPTED = f"interrupted; {DAY12_NOT_PASSED}"
DAY12_CRASHED = f"crashed before its results were written; {DAY12_NOT_PASSED}"
DAY12_SCHEDULER_INTERRUPTED = f"interrupted; the scheduler stopped after its running pass; {DAY12_NOT_PASSED}"
DAY12_ABANDONED = f"its process ended without a word (killed: kill -9, out of memory, a reboot); {DAY12_NOT_PASSED}"


def _set_up_if_needed() -> None:
    """Before day12_setup_logging has run (a crash or Ctrl-C that early), set up the terminal. A handler of ours is what
    counts: one another library or a test harness left on the day12 logger would take the line to no terminal."""
    if not any(isinstance(h.formatter, day12_KeyValueFormatter) for h in logging.getLogger("day12").handlers):
        day12_setup_logging(None)


def day12_log_crash(log: logging.Logger, message: str, exc: BaseException) -> None:
    """One ERROR line for an exception nothing handled: type and place only (day12_crash_fields)."""
    _set_up_if_needed()
    log.error(message, extra=day12_crash_fields(exc))


def day12_log_interrupted(log: logging.Logger, message: str) -> None:
    """Ctrl-C (KeyboardInterrupt, past every `except Exception`): one WARNING line, never a traceback."""
    _set_up_if_needed()
    log.warning(message)
