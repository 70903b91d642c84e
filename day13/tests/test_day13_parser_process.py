"""A big backlog is parsed by a second process a few files ahead of the commits. It stores exactly what the
run's own parse stores (poison records and broken files included); a parser process that dies, sends garbage or
cannot start costs nothing but one warning by type; and a run killed with kill -9 leaves no parser behind."""
import json
import logging
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta, timezone

import pytest

import day13_INGEST_parser
import day13_INGEST_stage
from day13_INGEST_parser import day13_InlineParser, day13_ProcessParser

ORCHESTRATOR = day13_INGEST_parser.Path(day13_INGEST_parser.__file__).with_name("day13_ORCHESTRATOR_alert_triage.py")
PARSER = str(day13_INGEST_parser.Path(day13_INGEST_parser.__file__).resolve())
DAY13_DIR = str(day13_INGEST_parser.Path(PARSER).parent)  # on the stand-in parsers' PYTHONPATH (the one variable they keep)


def _backlog(drop, make_alert, files: int = 6) -> None:
    """Good alerts, a repeat, poison records, a broken file and a CSV with a bad row, over several files."""
    for f in range(files):
        records = [make_alert(f * 100 + n, entity_id=f"E{f}-{n}") for n in range(40)]
        records += [make_alert(f * 100 + 50, amount="1e999999", entity_id="X"),  # exponent beyond Decimal
                    make_alert(f * 100 + 51, alert_id="\ud800"),  # a lone surrogate
                    make_alert(f * 100 + 52, entity_id=f"E{f}-0")]  # a repeat of the first alert
        drop(f"alerts_{f:02d}.json", json.dumps(records).encode("utf-8", "surrogatepass"))
    drop("alerts_50_broken.json", b"[{broken")
    drop("alerts_51.csv", b"alert_id,alert_type,entity_id,created_at\nC-1,aml_structuring,CSV-1,2026-11-22T10:00:00Z\n"
                          b"C-2,aml_structuring,CSV-2\n")


def _stored(settings) -> dict:
    db = sqlite3.connect(settings.audit_log_path)
    try:
        return {"alerts": sorted(db.execute("SELECT fingerprint, severity, count, rationale, labels FROM day13_alerts")),
                "received": sorted(db.execute("SELECT source, source_id, fingerprint, content_hash FROM day13_received")),
                "quarantine": sorted(db.execute("SELECT source, item, reason, raw FROM day13_quarantine")),
                "actions": sorted(db.execute("SELECT action, COUNT(*) FROM day13_audit GROUP BY action")),
                "files": sorted(db.execute("SELECT name, moved_to, alerts FROM day13_files")),
                "moved": sorted(str(p.relative_to(settings.drop_dir)) for p in settings.drop_dir.rglob("*") if p.is_file())}
    finally:
        db.close()


def _stored_by_the_runs_own_parse(settings, tmp_path, make_alert, run, monkeypatch, files: int = 6) -> dict:
    """What a run that parses every file itself stores from the same backlog, in a database and folder of its own."""
    monkeypatch.setattr(day13_INGEST_parser, "DAY13_PARSE_PROCESS_BYTES", 10**12)
    inline = settings.model_copy(update={"audit_log_path": tmp_path / "inline.db", "drop_dir": tmp_path / "drop_inline"})

    def drop_inline(name, content):
        inline.drop_dir.mkdir(exist_ok=True)
        (inline.drop_dir / name).write_bytes(content)
    _backlog(drop_inline, make_alert, files=files)
    run(audit_log_path=inline.audit_log_path, drop_dir=inline.drop_dir)
    return _stored(inline)


def _with_parser(monkeypatch, make):
    chosen = []

    def parser_for(paths):
        chosen.append(make())
        return chosen[-1]
    monkeypatch.setattr(day13_INGEST_stage, "day13_parser_for", parser_for)
    return chosen


def test_a_parser_process_stores_exactly_what_the_runs_own_parse_stores(settings, tmp_path, drop, make_alert, run,
                                                                       monkeypatch):
    _backlog(drop, make_alert)
    small = day13_INGEST_parser.day13_parser_for(sorted(settings.drop_dir.iterdir()))
    assert type(small) is day13_INGEST_parser.day13_InlineParser  # a small backlog: no process
    chosen = _with_parser(monkeypatch, day13_ProcessParser)
    run()
    assert chosen[0].process is not None and not chosen[0].failed and chosen[0].process.returncode == 0
    with_process = _stored(settings)
    monkeypatch.undo()

    assert _stored_by_the_runs_own_parse(settings, tmp_path, make_alert, run, monkeypatch) == with_process
    assert len(with_process["quarantine"]) == 6 * 2 + 2 and len(with_process["alerts"]) == 6 * 40 + 1


DAY13_MISSHAPEN_ANSWER = """
import hashlib, pickle, struct, sys
head = sys.stdin.buffer.read(8)
number, source, name, data, now, rules = pickle.loads(sys.stdin.buffer.read(struct.unpack("<Q", head)[0]))
frame = pickle.dumps((number, hashlib.sha256(data).hexdigest(), ([], [], [], "../../elsewhere", "")))
sys.stdout.buffer.write(struct.pack("<Q", len(frame)) + frame)
sys.stdout.flush()
sys.stdin.buffer.read()
"""


@pytest.mark.parametrize("command", [
    "import sys; sys.exit(3)",  # dies at once
    "import sys; sys.stdin.buffer.read(8); sys.stdout.buffer.write(b'\\xff' * 8 + b'garbage'); sys.stdout.flush()",
    "import os, sys; sys.stdin.buffer.read(8); os.kill(os.getpid(), 9)",  # killed mid-file
    DAY13_MISSHAPEN_ANSWER,  # the right file, a result this run cannot read (a newer parser file on disk, mid-deploy)
], ids=["exits", "garbage", "killed", "misshapen"])
def test_a_parser_process_that_fails_costs_one_warning_by_type_and_nothing_else(settings, drop, make_alert, run,
                                                                                 monkeypatch, caplog, capfd, command):
    _backlog(drop, make_alert)
    monkeypatch.setenv("PYTHONPATH", DAY13_DIR)
    chosen = _with_parser(monkeypatch, lambda: day13_ProcessParser([sys.executable, "-c", command]))
    caplog.set_level(logging.INFO, logger="day13")
    summary = run()
    assert chosen[0].failed
    assert summary.new_alerts == 6 * 40 + 1 and summary.quarantined == 6 * 2 + 2
    warnings = [r for r in caplog.records if r.getMessage().startswith("parser process failed")]
    assert len(warnings) == 1 and warnings[0].error in ("EOFError", "BrokenPipeError", "UnpicklingError", "OverflowError",
                                                        "MemoryError", "ValueError")
    assert "Traceback" not in capfd.readouterr().err
    assert sorted(p.name for p in (settings.drop_dir / "processed").iterdir())[0] == "alerts_00.json"


def test_a_parser_process_that_cannot_start_costs_one_warning(settings, drop, make_alert, run, monkeypatch, caplog):
    _backlog(drop, make_alert)
    _with_parser(monkeypatch, lambda: day13_ProcessParser([str(settings.drop_dir / "no-such-python")]))
    caplog.set_level(logging.INFO, logger="day13")
    assert run().new_alerts == 6 * 40 + 1
    assert [r.error for r in caplog.records if r.getMessage().startswith("parser process failed")] == ["FileNotFoundError"]


def _parsers_running() -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as handle:
                    if PARSER.encode() in handle.read():
                        found.append(int(entry))
            except OSError:
                continue
    return found


def test_a_run_killed_with_kill_9_leaves_no_parser_process_behind(settings, make_alert, cli_env, cli):
    settings.drop_dir.mkdir(parents=True)
    for f in range(12):  # ~6 MB: over DAY13_PARSE_PROCESS_BYTES, so the run starts a parser process
        records = [make_alert(f * 1000 + n, entity_id=f"E{f}-{n}", description="x" * 400) for n in range(1000)]
        (settings.drop_dir / f"alerts_{f:02d}.json").write_text(json.dumps(records))
    assert sum(p.stat().st_size for p in settings.drop_dir.iterdir()) > day13_INGEST_parser.DAY13_PARSE_PROCESS_BYTES
    before = set(_parsers_running())
    env = cli_env(settings)
    crashed = subprocess.run([sys.executable, str(ORCHESTRATOR), "run", "--fault", "after_ingest_commit"], env=env,
                             timeout=180, capture_output=True)
    assert crashed.returncode == -signal.SIGKILL
    deadline = time.monotonic() + 10
    while set(_parsers_running()) - before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not set(_parsers_running()) - before  # it read end-of-file and exited
    cli(env, "run")
    db = sqlite3.connect(settings.audit_log_path)
    assert db.execute("SELECT COUNT(*) FROM day13_received").fetchone()[0] == 12_000
    db.close()
    assert "audit chain intact" in cli(env, "verify-audit").stdout


def test_the_parsers_first_classification_is_what_the_run_would_store_for_a_new_alert(settings, make_alert):
    from day13_RULES_classify import day13_classify, day13_parse_rules
    from day13_STORE_audit import day13_json

    rules = day13_parse_rules(settings.rules_path.read_text())
    records = [make_alert(1), make_alert(2, alert_type="sanctions_hit", match_score="99", jurisdiction="IR"),
               make_alert(3, amount="2500000", currency="EUR"), make_alert(4, alert_type="never_heard_of")]
    alerts, first_seen, quarantined, destination, _ = day13_INGEST_parser.day13_parse_file(
        "file", "a.json", json.dumps(records).encode(), datetime(2026, 11, 22, 10, 5, tzinfo=timezone.utc), rules)
    assert (len(alerts), quarantined, destination) == (4, [], "processed")
    for alert, (severity, rationale, labels) in zip(alerts, first_seen, strict=True):
        expected, why = day13_classify(alert, 1, rules)
        assert (severity, rationale, labels) == (expected, "; ".join(why), day13_json(alert.labels(expected)))
    assert len({s for s, _, _ in first_seen}) > 1


# --- a parser answer whose classifications are not its alerts' own, and the instant a parse takes

def _tampering(change: str) -> str:
    """A stand-in parser process: the right file, parsed right, its first-occurrence classifications changed."""
    return f"""
import hashlib, pickle, struct, sys
import day13_INGEST_parser
while True:
    head = sys.stdin.buffer.read(8)
    if len(head) < 8:
        break
    number, *args = pickle.loads(sys.stdin.buffer.read(struct.unpack("<Q", head)[0]))
    alerts, first_seen, *rest = day13_INGEST_parser.day13_parse_file(*args)
    {change}
    frame = pickle.dumps((number, hashlib.sha256(args[2]).hexdigest(), (alerts, first_seen, *rest)))
    sys.stdout.buffer.write(struct.pack("<Q", len(frame)) + frame)
    sys.stdout.flush()
"""


@pytest.mark.parametrize("change", [
    "first_seen = first_seen[1:] + first_seen[:1]",  # each alert stored with the next one's severity and labels
    "first_seen = [f[:2] for f in first_seen]",  # a version without labels: the run would crash unpacking it
    "first_seen = [('Urgent', *f[1:]) for f in first_seen]",  # a severity these rules have no SLA for
    "first_seen = [(f[0], f[1], json.loads(f[2])) for f in first_seen]",  # labels not JSON text (SQLite refuses a dict)
    "first_seen = [(f[0], f[1], f[2] + ' ') for f in first_seen]",  # labels that are not day13_json's text
    "rest[0] = [q[:3] for q in rest[0]]",  # quarantine rows without the raw text: the run would crash unpacking them
], ids=["crossed", "two_fields", "unknown_severity", "labels_not_text", "labels_respelled", "quarantine_row_short"])
def test_a_parser_answer_whose_rows_are_not_its_alerts_is_refused(settings, tmp_path, drop, make_alert, run,
                                                                             monkeypatch, caplog, change):
    _backlog(drop, make_alert)
    monkeypatch.setenv("PYTHONPATH", DAY13_DIR)
    chosen = _with_parser(monkeypatch, lambda: day13_ProcessParser(
        [sys.executable, "-c", "import json\n" + _tampering(change)]))
    caplog.set_level(logging.INFO, logger="day13")
    run()  # neither a crash nor a classification the run would not store
    assert chosen[0].failed
    assert len([r for r in caplog.records if r.getMessage().startswith("parser process failed")]) == 1
    with_process = _stored(settings)
    monkeypatch.undo()

    assert with_process == _stored_by_the_runs_own_parse(settings, tmp_path, make_alert, run, monkeypatch)


def _while_parsing(monkeypatch, during) -> None:
    """Inline parses, with `during()` called while a file is parsed (time passes, another process writes)."""
    original = day13_INGEST_parser.day13_parse_file

    def parse(*args, **kwargs):
        during()
        return original(*args, **kwargs)
    monkeypatch.setattr(day13_INGEST_parser, "DAY13_PARSE_PROCESS_BYTES", 10**12)
    monkeypatch.setattr(day13_INGEST_parser, "day13_parse_file", parse)


def test_audit_time_never_goes_backwards_when_the_api_appends_while_a_file_is_parsed(settings, drop, make_alert, run,
                                                                                    clock, db, monkeypatch):
    from day13_STORE_audit import day13_Store, day13_verify_audit

    drop("a.json", [make_alert(1), make_alert(2, entity_id="ENT-2")])

    def api_rejects_a_sender():  # what day13_API_alerts does for a wrong credential, 30 s into the parse
        clock.now += timedelta(seconds=30)
        store = day13_Store.open(settings.audit_log_path)
        try:
            audit = store.audit("day13-api")
            with store.transaction(audit):
                audit.record("auth_rejected", clock.now, rationale="missing or wrong sender credential", remote="1.2.3.4")
        finally:
            store.close()
    _while_parsing(monkeypatch, api_rejects_a_sender)
    run()
    rows = db.execute("SELECT seq, at, action FROM day13_audit ORDER BY seq").fetchall()
    assert [r["action"] for r in rows].count("ingested") == 2 and "auth_rejected" in [r["action"] for r in rows]
    assert day13_verify_audit(db)[1] is None  # the API's row is chained in between
    ats = [r["at"] for r in rows]
    assert ats == sorted(ats), [tuple(r) for r in rows]


def test_an_alert_whose_sla_passes_while_its_file_is_parsed_is_stored_as_breached(settings, drop, make_alert, run,
                                                                                 clock, db, monkeypatch):
    # High (60 min SLA), created 59 min 50 s before the run: its deadline is 10 s after the file is taken
    created = clock.now - timedelta(minutes=59, seconds=50)
    drop("a.json", [make_alert(1, created_at=created.strftime("%Y-%m-%dT%H:%M:%SZ"))])
    stored_at = []

    def a_minute_passes():
        clock.now += timedelta(minutes=1)
        stored_at.append(clock.now.isoformat())
    _while_parsing(monkeypatch, a_minute_passes)
    run()
    row = db.execute("SELECT a.severity, a.triaged_at, s.sla_breached FROM day13_alerts a JOIN day13_alert_state s"
                     " USING (fingerprint)").fetchone()
    assert row["severity"] == "High"
    # stored (triaged) a minute after it was taken, 50 s past its deadline: not 'triaged in time'
    assert (row["triaged_at"], row["sla_breached"]) == (stored_at[0], 1)
    ingested = json.loads(db.execute("SELECT details FROM day13_audit WHERE action = 'ingested'").fetchone()[0])
    assert ingested["triage_minutes"] > 60
    # breached at triage (not only found later by the escalation stage, which misses it once the alert is notified)
    breaches = [r[0] for r in db.execute("SELECT rationale FROM day13_audit WHERE action = 'sla_breached' ORDER BY seq")]
    assert breaches[0] == "High SLA is 60 min; triaged after 61 min", breaches


# --- attacks on the look-ahead window: a parser process that never answers, one that answers for another file,
# one that would inherit the run's secrets, files changed between their read and their move, the window's memory

def _big_files(drop, make_alert, files: int = 6, alerts: int = 400) -> None:
    """Files whose frames do not fit a pipe's 64 KiB buffer: a write to a process that reads nothing blocks."""
    for f in range(files):
        drop(f"alerts_{f:02d}.json", [make_alert(f * 1000 + n, entity_id=f"E{f}-{n}", description="x" * 300)
                                      for n in range(alerts)])


def test_a_parser_process_that_never_answers_costs_a_bounded_wait_and_nothing_else(settings, drop, make_alert, run,
                                                                                    monkeypatch):
    monkeypatch.setattr(day13_INGEST_parser, "DAY13_PARSER_WAIT_S", 1.0, raising=False)
    _big_files(drop, make_alert)
    hung = "import sys, time; sys.stdin.buffer.read(8); time.sleep(600)"
    chosen = _with_parser(monkeypatch, lambda: day13_ProcessParser([sys.executable, "-c", hung]))
    done = []
    worker = threading.Thread(target=lambda: done.append(run()), daemon=True)
    worker.start()
    worker.join(30)
    try:
        assert done, "the run waits forever for a parser process that never answers"
        assert done[0].new_alerts == 6 * 400
        assert chosen[0].failed and chosen[0].process.poll() is not None  # killed, not left behind
    finally:
        if chosen and chosen[0].process is not None and chosen[0].process.poll() is None:
            chosen[0].process.kill()


# answers each file with the result of its neighbour (numbers 0<->1, 2<->3 ...), whatever the protocol's frame is
DAY13_SWAPPING_PARSER = """
import pickle, struct, sys
import day13_INGEST_parser

class Swapping:
    def __init__(self, out):
        self.out = out
    def write(self, data):
        number, *rest = pickle.loads(data[8:])
        frame = pickle.dumps((number ^ 1, *rest))
        self.out.write(struct.pack("<Q", len(frame)) + frame)
    def flush(self):
        self.out.flush()

day13_INGEST_parser.day13_serve(sys.stdin.buffer, Swapping(sys.stdout.buffer))
"""


def test_a_result_for_another_file_is_never_committed_as_this_one(settings, tmp_path, drop, make_alert, run, monkeypatch):
    _backlog(drop, make_alert, files=7)  # 9 files: the first parsed in the run, 8 sent to the process (4 pairs)
    monkeypatch.setenv("PYTHONPATH", DAY13_DIR)
    chosen = _with_parser(monkeypatch, lambda: day13_ProcessParser([sys.executable, "-c", DAY13_SWAPPING_PARSER]))
    run()
    with_process = _stored(settings)
    monkeypatch.undo()

    # every file committed with its own alerts and moved where they say
    assert with_process == _stored_by_the_runs_own_parse(settings, tmp_path, make_alert, run, monkeypatch, files=7)
    assert chosen[0].failed


def test_a_parser_process_gets_no_secret_from_the_runs_environment(settings, tmp_path, drop, make_alert, run,
                                                                   monkeypatch):
    monkeypatch.setenv("DAY13_API_TOKEN", "tok-7f3a9c1e5b2d4f60")
    monkeypatch.setenv("DAY13_TICKET_API_TOKEN", "tkt-0b9e8d7c6a5f4e31")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "aws-1c2d3e4f5a6b7c8d")
    dump = tmp_path / "parser_env.json"
    command = f"import json, os; open({str(dump)!r}, 'w').write(json.dumps(dict(os.environ)))"
    _backlog(drop, make_alert)
    _with_parser(monkeypatch, lambda: day13_ProcessParser([sys.executable, "-c", command]))
    assert run().new_alerts == 6 * 40 + 1
    text = dump.read_text()
    assert not any(name.startswith("DAY13_") for name in json.loads(text))
    assert "tok-7f3a" not in text and "tkt-0b9e" not in text and "aws-1c2d" not in text


class _WindowParser(day13_InlineParser):
    """Parses in the run, but is asked ahead like the process, and writes to a file while it sits in the window."""

    ahead = 3

    def __init__(self, on_submit=None):
        self.on_submit, self.submitted, self.waiting, self.most = on_submit or (lambda n: None), 0, 0, 0

    def submit(self, *args, **kwargs):
        self.on_submit(self.submitted)
        self.submitted += 1
        size = len(args[2])
        self.waiting += size
        self.most = max(self.most, self.waiting)
        done = super().submit(*args, **kwargs)
        parser = self

        class Counted:
            def result(self):
                parser.waiting -= size
                return done.result()
        return Counted()


@pytest.mark.parametrize("change", ["replaced", "rewritten_in_place", "appended"])
def test_a_file_changed_after_its_read_is_not_moved_unread(settings, drop, make_alert, run, monkeypatch, db, change):
    first = drop("alerts_00.json", [make_alert(1, entity_id="OLD-1")])
    for f in range(1, 4):
        drop(f"alerts_{f:02d}.json", [make_alert(10 * f, entity_id=f"E{f}")])
    newer = [make_alert(1, entity_id="OLD-1"), make_alert(2, entity_id="NEW-2")]

    def writer(submitted: int) -> None:
        if submitted != 2:  # alerts_00.json was read, and waits in the window for its commit
            return
        if change == "replaced":  # the hand-off convention: a new file renamed over the old name
            (settings.drop_dir / ".next").write_text(json.dumps(newer))
            (settings.drop_dir / ".next").replace(first)
        elif change == "rewritten_in_place":
            first.write_text(json.dumps(newer))
        else:
            first.write_text(json.dumps([make_alert(1, entity_id="OLD-1")])[:-1] + ", "
                             + json.dumps(make_alert(2, entity_id="NEW-2")) + "]")

    _with_parser(monkeypatch, lambda: _WindowParser(writer))
    run()
    run()  # the changed file: taken on a later run
    entities = {r[0] for r in db.execute("SELECT entity_id FROM day13_alerts")}
    assert {"OLD-1", "NEW-2", "E1", "E2", "E3"} <= entities  # the second version's alert was stored, not moved unread
    assert not [p for p in settings.drop_dir.iterdir() if p.is_file()]


def test_the_window_holds_at_most_one_big_file_beyond_the_one_committing(settings, drop, make_alert, run, monkeypatch):
    _big_files(drop, make_alert, files=6, alerts=100)
    sizes = [p.stat().st_size for p in sorted(settings.drop_dir.iterdir())]
    chosen = _with_parser(monkeypatch, _WindowParser)
    monkeypatch.setattr(_WindowParser, "ahead_bytes", max(sizes), raising=False)
    assert run().new_alerts == 6 * 100
    assert chosen[0].most <= 2 * max(sizes) < 4 * min(sizes)  # 20 MB files: two in memory, not four


def test_a_parser_process_busy_on_a_file_exits_when_its_run_is_killed(tmp_path):
    """End-of-file on stdin is read only between files: a parser still busy (a huge or pathological file) when its
    run is killed must notice the run is gone by itself, not parse on as an orphan."""
    busy = ("import day13_INGEST_parser, time; day13_INGEST_parser.day13_exit_with_parent(0.1)\n"
            "while True: time.sleep(0.001)")  # parsing for ever
    run = ("import subprocess, sys, time\n"
           f"child = subprocess.Popen([sys.executable, '-c', {busy!r}], stdin=subprocess.PIPE)\n"
           "print(child.pid, flush=True); time.sleep(120)")
    parent = subprocess.Popen([sys.executable, "-c", run], stdout=subprocess.PIPE, text=True,
                              env={**os.environ, "PYTHONPATH": DAY13_DIR})
    child = int(parent.stdout.readline())
    time.sleep(0.5)
    assert _alive(child)  # busy parsing
    parent.kill()  # kill -9 of the run
    parent.wait()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and _alive(child):
        time.sleep(0.05)
    try:
        assert not _alive(child), "the parser process outlived its run"
    finally:
        if _alive(child):
            os.kill(child, signal.SIGKILL)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False
