"""Parsing a drop file or an e-mail into alerts and quarantine rows, in the run's process or in a parser process.

    python day13/day13_INGEST_parser.py    (started by the ingest stage for a big backlog, never by hand)

Parsing and normalising are a fifth of a run's work and pure (bytes in, alerts and quarantine rows out), so
for a backlog of several megabytes a second process does them a few files ahead of the commits and the run
uses both cores. The run writes (number, source, name, bytes, instant, rules) to the process's stdin and reads
(number, SHA-256 of the bytes parsed, result) from its stdout, each frame a length-prefixed pickle. The process
holds no state, writes no log, gets no secret in its environment and its stderr goes nowhere (a traceback could
show a record's text); if it dies, sends garbage, answers for another file or is silent for DAY13_PARSER_WAIT_S,
it is killed and the run parses that file and every later one itself, says so once by error type, and loses
nothing. When the run ends or is killed, the process reads end-of-file on stdin and exits; busy with a file when
its run is killed, it notices within DAY13_PARENT_CHECK_S that its parent is gone and exits.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import pickle
import queue
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

from day13_INGEST_sources import (DAY13_MAX_FILE_BYTES, day13_Alert, day13_BadRecord, day13_InvalidAlert,
                                  day13_normalise, day13_read_drop_file, day13_read_eml, day13_UnreadableFile)
from day13_RULES_classify import DAY13_SEVERITIES, day13_classify
from day13_STORE_audit import day13_json, day13_safe_text

DAY13_LOG = logging.getLogger("day13.ingest")
DAY13_QUARANTINE_RAW_CHARS = 20_000  # enough to see what was wrong, bounded for the table
DAY13_PARSE_PROCESS_BYTES = 4_000_000  # ~10,000 alerts waiting: enough to pay for starting a parser process
DAY13_PARSE_AHEAD_FILES = 3  # files parsed ahead of the commit: bounds memory to a few DAY13_MAX_FILE_BYTES
# ... and no more bytes than one biggest file beyond the one committing: a 20 MB file is ~90 MB once parsed, so four
# of them in the window (and their frames) would be the run's memory times four for no gain (one parse at a time)
DAY13_PARSE_AHEAD_BYTES = DAY13_MAX_FILE_BYTES
DAY13_PARSER_STOP_S = 5.0  # how long a parser process gets to exit after its stdin closes, before it is killed
# a 20 MB file parses in ~4 s: a process silent this long for one file is hung, and a run must never wait for ever
# (it holds the run lock: every later run would skip)
DAY13_PARSER_WAIT_S = 120.0
# the only variables the process inherits: the run's environment holds DAY13_ tokens, webhook URLs and whatever
# else the operator exported, and a parser needs none of it
DAY13_PARSER_ENV = ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "PYTHONPATH", "LD_LIBRARY_PATH")
DAY13_PARENT_CHECK_S = 1.0  # how soon a parser process notices its run was killed while it was busy with a file
DAY13_FRAME = struct.Struct("<Q")


def day13_quarantine_row(source: str, item: str, reason: str, raw) -> tuple[str, str, str, str]:
    text = raw if isinstance(raw, str) else json.dumps(raw, default=str)
    return source, day13_safe_text(item), day13_safe_text(reason), day13_safe_text(text[:DAY13_QUARANTINE_RAW_CHARS])


def _records(source: str, name: str, data: bytes) -> list[tuple[str | None, object]]:
    """[(source id or None, record)] of one drop file or one e-mail."""
    if source == "email":
        return [day13_read_eml(data)]
    return [(None, r) for r in day13_read_drop_file(name, data)]


def day13_parse_file(source: str, name: str, data: bytes, now, rules=None) -> tuple[list, list, list, str, str]:
    """(alerts, first_seen, quarantine rows, 'processed' or 'quarantine', an error type for the log or '') of one
    file's bytes. first_seen (with rules): each alert's (severity, rationale, labels JSON) if it is new, which
    is what most alerts are; the run classifies a repeat itself, knowing its count.

    Total: a file that cannot be read is quarantined whole, a record that cannot be trusted alone."""
    alerts, quarantined, warning = [], [], ""
    try:
        items, destination = _records(source, name, data), "processed"
    except Exception as exc:  # one file, however broken, never stops the run: it is quarantined whole
        reason = str(exc) if isinstance(exc, day13_UnreadableFile) else f"unreadable: {type(exc).__name__}"
        if not isinstance(exc, day13_UnreadableFile):
            warning = type(exc).__name__
        items, destination = [], "quarantine"
        quarantined.append(day13_quarantine_row(source, name, reason, ""))
    for n, (source_id, record) in enumerate(items, 1):
        if type(record) is day13_BadRecord:
            quarantined.append(day13_quarantine_row(source, f"{name}#{n}", record.reason, ""))
            continue
        try:
            alerts.append(day13_normalise(record, source, now, source_id))
        except day13_InvalidAlert as exc:
            quarantined.append(day13_quarantine_row(source, f"{name}#{n}", str(exc), record))
        except Exception as exc:  # a record no check foresaw: quarantined alone, the file goes on
            quarantined.append(day13_quarantine_row(source, f"{name}#{n}", f"record rejected: {type(exc).__name__}", record))
    first_seen = [day13_classification(alert, 1, rules) for alert in alerts] if rules is not None else []
    return alerts, first_seen, quarantined, destination, warning


def day13_classification(alert: day13_Alert, count: int, rules) -> tuple[str, str, str]:
    """(severity, rationale, labels JSON) of an alert seen count times: what day13_ingest stores for it."""
    severity, why = day13_classify(alert, count, rules)
    return severity, "; ".join(why), day13_json(alert.labels(severity))


def day13_oversize(source: str, name: str, size: int) -> tuple[list, list, list, str, str]:
    reason = f"{size:,} bytes is over the {DAY13_MAX_FILE_BYTES:,} byte limit"
    return [], [], [day13_quarantine_row(source, name, reason, "")], "quarantine", ""


class day13_Ready:
    """A parse already done, with the interface of a future."""

    def __init__(self, value):
        self.value = value

    def result(self):
        return self.value


class day13_InlineParser:
    """Parses in the run's process, when asked: a file is read, committed and moved before the next is read."""

    ahead, ahead_bytes = 0, 0

    def submit(self, source: str, name: str, data: bytes, now, rules, digest: str) -> day13_Ready:
        return day13_Ready(day13_parse_file(source, name, data, now, rules))

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        return None


class day13_ProcessParser(day13_InlineParser):
    """A parser process a few files ahead of the commits; the first file is parsed here while it starts."""

    ahead, ahead_bytes = DAY13_PARSE_AHEAD_FILES, DAY13_PARSE_AHEAD_BYTES

    def __init__(self, command: list[str] | None = None):
        self.command = command or [sys.executable, str(Path(__file__).resolve())]
        self.process, self.failed, self._sent, self._closing = None, False, 0, False
        self._results: dict[int, tuple] = {}
        self._arrived = threading.Condition()
        self._frames: queue.SimpleQueue = queue.SimpleQueue()
        self._reader: threading.Thread | None = None
        self._writer: threading.Thread | None = None

    def submit(self, source: str, name: str, data: bytes, now, rules, digest: str):
        args = (source, name, data, now, rules)
        if self.failed:
            return day13_Ready(day13_parse_file(*args))
        if self.process is None:
            self._start()
            return day13_Ready(day13_parse_file(*args))
        number, self._sent = self._sent, self._sent + 1
        self._frames.put(pickle.dumps((number, *args), protocol=pickle.HIGHEST_PROTOCOL))
        return _Pending(self, number, args, digest)

    def _start(self) -> None:
        env = {name: os.environ[name] for name in DAY13_PARSER_ENV if name in os.environ}
        try:
            self.process = subprocess.Popen(self.command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                            stderr=subprocess.DEVNULL, close_fds=True, env=env)
        except OSError as exc:
            self.process = None
            self._fail(exc)
            return
        self._reader = threading.Thread(target=self._read, name="day13-parser-reader", daemon=True)
        self._writer = threading.Thread(target=self._write, name="day13-parser-writer", daemon=True)
        self._reader.start()
        self._writer.start()

    def _write(self) -> None:
        """Frames to the process (a thread: a process that stops reading fills the pipe, and the run must not block)."""
        stream = self.process.stdin
        try:
            for frame in iter(self._frames.get, None):
                stream.write(DAY13_FRAME.pack(len(frame)))
                stream.write(frame)
                stream.flush()
        except (OSError, ValueError) as exc:  # the process is gone (broken pipe)
            if not self._closing:
                self._fail(exc)
        finally:
            try:
                stream.close()  # end-of-file: the process exits
            except OSError:
                pass

    def _read(self) -> None:
        """Results as they come (a thread: the process never blocks on a full pipe while the run commits)."""
        stream = self.process.stdout
        try:
            while True:
                head = stream.read(DAY13_FRAME.size)
                if len(head) < DAY13_FRAME.size:
                    raise EOFError("the parser process ended")
                body = stream.read(DAY13_FRAME.unpack(head)[0])
                number, digest, result = pickle.loads(body)
                with self._arrived:
                    self._results[number] = (digest, result)
                    self._arrived.notify_all()
        except Exception as exc:  # EOF, a torn frame: every file still waiting is parsed by the run itself
            if not self._closing:
                self._fail(exc)

    def _fail(self, exc: BaseException) -> None:
        with self._arrived:
            if not self.failed:
                self.failed = True
                DAY13_LOG.warning("parser process failed; files parsed in the run's own process",
                                  extra={"error": type(exc).__name__})
                if self.process is not None:
                    self.process.kill()  # hung or confused: nothing it sends later is used
            self._arrived.notify_all()

    def result(self, number: int, args: tuple, digest: str):
        with self._arrived:
            answered = self._arrived.wait_for(lambda: number in self._results or self.failed, DAY13_PARSER_WAIT_S)
            found = self._results.pop(number, None)
        if not answered:
            self._fail(TimeoutError("the parser process did not answer"))
        elif found is not None:
            # the bytes it parsed are this file's, and the result has the shape this run reads (a process started
            # from a newer file on disk, mid-deploy, may not)
            if found[0] == digest and _well_formed(found[1]):
                return found[1]
            self._fail(ValueError("the parser process answered for another file"))
        return day13_parse_file(*args)

    def __exit__(self, *exc) -> None:
        if self.process is None:
            return
        self._closing = True  # the end-of-file that follows is the normal end, not a failure
        self._frames.put(None)  # the writer closes stdin after the frames before it
        try:
            self.process.wait(DAY13_PARSER_STOP_S)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._writer.join()
        self._reader.join()


def _well_formed(result) -> bool:
    """A result as day13_parse_file returns it: committing anything else would store or move the wrong thing, or stop
    the run at a row it cannot unpack (a process started from a newer file on disk, mid-deploy). Never raises."""
    try:
        alerts, first_seen, quarantined, destination, warning = result
        return (destination in ("processed", "quarantine") and type(warning) is str and type(quarantined) is list
                and type(alerts) is list and type(first_seen) is list and len(first_seen) == len(alerts)
                and all(type(alert) is day13_Alert for alert in alerts)
                and all(_classified(alert, first) for alert, first in zip(alerts, first_seen))
                and all(type(row) is tuple and len(row) == 4 and all(type(v) is str for v in row) for row in quarantined))
    except Exception:
        return False


def _classified(alert: day13_Alert, first) -> bool:
    """(severity, rationale, labels JSON) of this alert: a severity the rules know, text fields, and labels that name
    this alert's fingerprint and that severity (checked by their text, not by redoing the work the process did)."""
    if type(first) is not tuple or len(first) != 3:
        return False
    severity, rationale, labels = first
    return (type(severity) is str and severity in DAY13_SEVERITIES and type(rationale) is str and type(labels) is str
            and labels[:1] == "{" and labels[-1:] == "}" and f'"fingerprint":"{alert.fingerprint}"' in labels
            and f'"severity":"{severity}"' in labels)


class _Pending:
    def __init__(self, parser: day13_ProcessParser, number: int, args: tuple, digest: str):
        self.parser, self.number, self.args, self.digest = parser, number, args, digest

    def result(self):
        return self.parser.result(self.number, self.args, self.digest)


def day13_parser_for(paths: list[Path]) -> day13_InlineParser:
    """A parser process only for a backlog that pays for its start (~0.1 s); small runs parse inline."""
    waiting = 0
    for path in paths:
        try:
            waiting += path.stat().st_size
        except OSError:
            continue
    return day13_ProcessParser() if waiting >= DAY13_PARSE_PROCESS_BYTES else day13_InlineParser()


def day13_exit_with_parent(every_s: float = DAY13_PARENT_CHECK_S) -> None:
    """Exit as soon as the run that started this process is gone. End-of-file on stdin says so only between files;
    a process busy with a big file when its run is killed would otherwise parse on as an orphan."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(every_s)
        os._exit(0)  # nothing to flush or hand back: the run that would read it is gone
    threading.Thread(target=watch, name="day13-parser-parent", daemon=True).start()


def day13_serve(stdin=None, stdout=None) -> int:
    """The parser process: frames in, frames out, until end-of-file (or its run is gone)."""
    stdin, stdout = stdin or sys.stdin.buffer, stdout or sys.stdout.buffer
    while True:
        head = stdin.read(DAY13_FRAME.size)
        if len(head) < DAY13_FRAME.size:
            return 0
        number, *args = pickle.loads(stdin.read(DAY13_FRAME.unpack(head)[0]))
        digest = hashlib.sha256(args[2]).hexdigest()  # which file this answers, checked by the run
        frame = pickle.dumps((number, digest, day13_parse_file(*args)), protocol=pickle.HIGHEST_PROTOCOL)
        stdout.write(DAY13_FRAME.pack(len(frame)) + frame)
        stdout.flush()


if __name__ == "__main__":
    day13_exit_with_parent()
    sys.exit(day13_serve())
