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
import time
from datetime import datetime, timezone

import pytest

import day13_INGEST_parser
import day13_INGEST_stage
from day13_INGEST_parser import day13_ProcessParser

ORCHESTRATOR = day13_INGEST_parser.Path(day13_INGEST_parser.__file__).with_name("day13_ORCHESTRATOR_alert_triage.py")
PARSER = str(day13_INGEST_parser.Path(day13_INGEST_parser.__file__).resolve())


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

    monkeypatch.setattr(day13_INGEST_parser, "DAY13_PARSE_PROCESS_BYTES", 10**12)
    inline = settings.model_copy(update={"audit_log_path": tmp_path / "inline.db", "drop_dir": tmp_path / "drop_inline"})

    def drop_inline(name, content):
        inline.drop_dir.mkdir(exist_ok=True)
        (inline.drop_dir / name).write_bytes(content)
    _backlog(drop_inline, make_alert)
    run(audit_log_path=inline.audit_log_path, drop_dir=inline.drop_dir)
    assert _stored(inline) == with_process
    assert len(with_process["quarantine"]) == 6 * 2 + 2 and len(with_process["alerts"]) == 6 * 40 + 1


@pytest.mark.parametrize("command", [
    "import sys; sys.exit(3)",  # dies at once
    "import sys; sys.stdin.buffer.read(8); sys.stdout.buffer.write(b'\\xff' * 8 + b'garbage'); sys.stdout.flush()",
    "import os, sys; sys.stdin.buffer.read(8); os.kill(os.getpid(), 9)",  # killed mid-file
], ids=["exits", "garbage", "killed"])
def test_a_parser_process_that_fails_costs_one_warning_by_type_and_nothing_else(settings, drop, make_alert, run,
                                                                                 monkeypatch, caplog, capfd, command):
    _backlog(drop, make_alert)
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
