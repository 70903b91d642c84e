"""Structured logging: one key=value line per event, UTC timestamps, to stderr and a log file.

An exception is one line anywhere, the terminal and the log file alike: its type and place (day13_crash_fields),
never its text or a traceback (both can quote a data value, a path or a password).
"""
from __future__ import annotations

import json
import logging
import logging.handlers
import time
from pathlib import Path

_DAY13_DIR = Path(__file__).resolve().parent
_STANDARD_ATTRIBUTES = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}


def _value(value) -> str:
    """Bare when unambiguous; else quoted with JSON escapes, so a value (a file name, an error) can never end the
    line or fake a field: a newline in it is written as \\n, a quote as \\", any invisible character as \\uXXXX."""
    text = str(value)
    if text and text.isprintable() and not any(c in text for c in ' ="'):
        return text
    quoted = json.dumps(text, ensure_ascii=False)
    return quoted if quoted.isprintable() else "".join(c if c.isprintable() else f"\\u{ord(c):04x}" for c in quoted)


class day13_KeyValueFormatter(logging.Formatter):
    converter = time.gmtime

    def format(self, record: logging.LogRecord) -> str:
        fields = {k: v for k, v in vars(record).items() if k not in _STANDARD_ATTRIBUTES}
        line = (f"{self.formatTime(record, '%Y-%m-%dT%H:%M:%S')}Z level={record.levelname} "
                f"logger={record.name} msg={_value(record.getMessage())}")
        line += "".join(f" {key}={_value(value)}" for key, value in fields.items())
        if record.exc_info and record.exc_info[1] is not None:  # whoever logged it with exc_info: type and place only
            line += "".join(f" {key}={_value(value)}" for key, value in day13_crash_fields(record.exc_info[1]).items())
        return line


def day13_setup_logging(log_path: Path | None, level: int = logging.INFO) -> None:
    root = logging.getLogger("day13")
    root.setLevel(level)
    root.handlers.clear()
    root.propagate = False
    terminal = logging.StreamHandler()
    terminal.setFormatter(day13_KeyValueFormatter())
    root.addHandler(terminal)
    if log_path:
        Path(log_path).parent.mkdir(parents=True, exist_ok=True)
        to_file = logging.handlers.RotatingFileHandler(log_path, maxBytes=5_000_000, backupCount=3, encoding="utf-8")
        to_file.setFormatter(day13_KeyValueFormatter())
        root.addHandler(to_file)


def _in_day13(filename: str) -> bool:
    """A file of day13's own code: the day folder itself, not tests/ and not a library. Never raises."""
    try:
        return Path(filename).resolve().parent == _DAY13_DIR
    except (OSError, RuntimeError, ValueError):
        return False


def day13_crash_fields(exc: BaseException) -> dict[str, str]:
    """An unexpected exception as fields a log line may carry: its type, and where it happened (module:function:line
    of the innermost frame in day13's own code, else of the innermost frame). Never its text, which can quote a data
    value, a path or a secret, and never a traceback (it quotes source lines and paths)."""
    kind = type(exc)
    name = kind.__qualname__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__qualname__}"
    ours = last = None
    tb = exc.__traceback__
    while tb is not None:
        last = tb
        if _in_day13(tb.tb_frame.f_code.co_filename):
            ours = tb
        tb = tb.tb_next
    chosen = ours or last
    place = "unknown" if chosen is None else (f"{Path(chosen.tb_frame.f_code.co_filename).stem}:"
                                              f"{chosen.tb_frame.f_code.co_name}:{chosen.tb_lineno}")
    return {"error_type": name, "place": place}


def _set_up_if_needed() -> None:
    """Before day13_setup_logging has run (a crash or Ctrl-C that early), set up the terminal. A handler of ours is what
    counts: one another library or a test harness left on the day13 logger would take the line to no terminal."""
    if not any(isinstance(h.formatter, day13_KeyValueFormatter) for h in logging.getLogger("day13").handlers):
        day13_setup_logging(None)


def day13_log_crash(log: logging.Logger, message: str, exc: BaseException) -> None:
    """One ERROR line for an exception nothing handled: type and place only (day13_crash_fields)."""
    _set_up_if_needed()
    log.error(message, extra=day13_crash_fields(exc))


def day13_log_interrupted(log: logging.Logger, message: str) -> None:
    """Ctrl-C (KeyboardInterrupt, past every `except Exception`): one WARNING line, never a traceback."""
    _set_up_if_needed()
    log.warning(message)
