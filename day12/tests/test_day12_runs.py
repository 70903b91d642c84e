"""File runs through the real checkpoint: exit codes, results JSON, quarantine, change detection,
PII-safety of every artefact, and Data Docs that rebuild byte for byte."""
import json
import logging
import re
from pathlib import Path

import pytest

from day12_DEMO_docs import DAY12_DEMO_NOW, day12_build_docs, day12_write_samples
from day12_GATE_validation import day12_context
from day12_PIPELINE_run import day12_run_files
from shared_synthetic_data import security

NOW = DAY12_DEMO_NOW


def _file(tmp_path, defects=(), name="events.csv", dataset="security_events"):
    path = tmp_path / name
    path.write_bytes(security.generate(size=2_000, defects=defects).files[f"security/{dataset}.csv"])
    return path


def _run(settings, *paths, **kwargs):
    return day12_run_files(settings, list(paths), context=day12_context(settings.ge_project_dir.parent), now=NOW, **kwargs)


@pytest.mark.parametrize(("defects", "code"), [((), 0), (("clock_skew",), 1), (("pii",), 4)])
def test_exit_code_follows_the_worst_failed_severity(settings, tmp_path, defects, code):
    outcome = _run(settings, _file(tmp_path, defects))
    assert outcome.exit_code == code
    (section,) = json.loads(outcome.results_path.read_text())["datasets"]
    assert section["rows"] == 2_000 and len(section["expectations"]) == 13
    assert {"description", "severity", "reason", "success", "unexpected_count"} <= set(section["expectations"][0])


@pytest.mark.parametrize(("content", "message"), [
    (None, "no such file"),
    (b"a,b\n1,2\n", "columns match neither security_events"),
    ("event_id,event_time,source\n1,2026,caf\xe9\n".encode("latin-1"), "not UTF-8"),
])
def test_unreadable_input_is_exit_3_with_a_clear_message(settings, tmp_path, content, message):
    path = tmp_path / "input.csv"
    if content is not None:
        path.write_bytes(content)
    outcome = _run(settings, path)
    assert outcome.exit_code == 3 and message in outcome.message


def test_one_checkpoint_run_validates_every_suite(settings, tmp_path):
    events = _file(tmp_path, ("pii",))
    scan = _file(tmp_path, ("out_of_range",), name="scan.csv", dataset="vulnerability_scan")
    outcome = _run(settings, events, scan, run_name="both")
    results = json.loads(outcome.results_path.read_text())
    assert [(s["dataset"], s["max_failed_severity"]) for s in results["datasets"]] == [
        ("security_events", "critical"), ("vulnerability_scan", "critical")]
    checkpoint = json.loads((settings.ge_project_dir / "checkpoints" / "day12_validation_checkpoint.json").read_text())
    assert [v["name"] for v in checkpoint["validation_definitions"]] == [
        "day12_security_events_validation", "day12_vulnerability_scan_validation"]
    quarantine = json.loads((settings.quarantine_dir / "both_quarantine.json").read_text())
    assert set(quarantine["quarantined_ids"]) == {"security_events", "vulnerability_scan"}
    assert all(i.startswith("F") or "-" in i for i in quarantine["quarantined_ids"]["vulnerability_scan"])
    assert outcome.exit_code == 4


def test_two_files_of_one_dataset_in_one_run_are_refused(settings, tmp_path):
    outcome = _run(settings, _file(tmp_path), _file(tmp_path, name="other.csv"))
    assert outcome.exit_code == 3 and "at most one file per dataset" in outcome.message


def test_an_unchanged_input_is_skipped_unless_forced(settings, tmp_path):
    path = _file(tmp_path)
    assert _run(settings, path).results_path is not None
    skipped = _run(settings, path)
    assert skipped.exit_code == 0 and "unchanged since the last successful run" in skipped.message
    assert _run(settings, path, force=True).results_path is not None


def test_quarantine_file_lists_failing_ids_per_expectation(settings, tmp_path):
    outcome = _run(settings, _file(tmp_path, ("invalid_ips",)), run_name="ips")
    quarantine = json.loads((settings.quarantine_dir / "ips_quarantine.json").read_text())
    failure = next(f for f in quarantine["failures"] if "src_ip" in f["description"])
    assert failure["dataset"] == "security_events" and quarantine["quarantined_ids"]["security_events"]
    expected = security.generate(size=2_000, defects=["invalid_ips"]).injected["invalid_ips"]
    assert failure["failing_ids"] == expected and failure["severity"] == "critical"
    assert outcome.exit_code == 4


def test_planted_pii_appears_in_no_results_quarantine_log_or_data_docs(settings, tmp_path, caplog):
    caplog.set_level(logging.INFO)
    path = _file(tmp_path, ("pii", "invalid_ips"))
    planted = re.findall(r"note=(?:ssn|card|contact) ([^,\n]+)", path.read_text())
    assert len(planted) == 40
    day12_build_docs(settings, {"day12_sample_security_events_dirty.csv": path}, docs_dir=tmp_path / "docs")
    artefacts = [p for p in tmp_path.rglob("*") if p.is_file() and p.suffix in (".json", ".html", ".log", ".yml")
                 and p != path]
    assert any(p.suffix == ".html" and "validations" in p.parts for p in artefacts)
    texts = [p.read_text(errors="ignore") for p in artefacts] + [caplog.text]
    leaks = [secret for secret in planted for text in texts if secret in text]
    assert not leaks, f"{len(leaks)} planted values leaked"


def test_data_docs_and_gx_config_rebuild_to_the_same_bytes(settings, tmp_path):
    samples = day12_write_samples(tmp_path / "data")
    docs = tmp_path / "docs"

    gx_config = settings.ge_project_dir

    def snapshot():
        day12_build_docs(settings, samples, docs_dir=docs)
        files = {p.relative_to(docs): p.read_bytes() for p in docs.rglob("*") if p.is_file()}
        files.update({Path("gx") / p.relative_to(gx_config): p.read_bytes() for p in gx_config.rglob("*")
                      if p.is_file() and "uncommitted" not in p.parts})  # suites, checkpoint: committed too
        return files

    first, second = snapshot(), snapshot()
    assert first.keys() == second.keys() and len(first) > 10
    assert [str(k) for k in first if first[k] != second[k]] == []
    assert not any(b"great-expectations-web-assets.s3" in v and k.suffix == ".html" for k, v in first.items())


def test_the_gx_batch_fingerprint_switch_still_exists_and_is_off(sample, validate):
    """An upgrade that renames GX's threshold would silently bring back a full-table hash per run."""
    from great_expectations.execution_engine import pandas_execution_engine

    validate(sample().head(200))
    assert pandas_execution_engine.HASH_THRESHOLD == 0


def test_a_failed_run_posts_to_slack_without_the_url_reaching_the_environment_or_any_file(settings, tmp_path):
    """The webhook URL is a secret: the notify action gets it for one run only, never via os.environ or GX's JSON."""
    import os
    import threading
    from dataclasses import replace
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from pydantic import SecretStr

    posts = []

    class Slack(BaseHTTPRequestHandler):
        def do_POST(self):
            posts.append((self.path, json.loads(self.rfile.read(int(self.headers["Content-Length"])))))
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Slack)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    secret_path = "/services/T000/B000/day12-secret-path"
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}{secret_path}"
        try:
            with_slack = settings.model_copy(update={"slack_webhook_url": SecretStr(url)})
        except AttributeError:  # a frozen dataclass rather than a pydantic model
            with_slack = replace(settings, slack_webhook_url=SecretStr(url))
        outcome = _run(with_slack, _file(tmp_path, ("pii",)))
    finally:
        server.shutdown()
    assert outcome.exit_code == 4
    assert [path for path, _ in posts] == [secret_path] and "day12 data-quality gate failed" in posts[0][1]["text"]
    assert not any(secret_path in value for value in os.environ.values())
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert b"day12-secret-path" not in path.read_bytes(), path


def test_rebuilding_a_stored_suite_writes_it_once_not_once_per_expectation(tmp_path, monkeypatch):
    """day12_suite runs before every checkpoint run; GX saves a stored suite on each add_expectation (13 writes of
    the whole JSON, seconds of a table run), so the suite is built whole and written once."""
    from great_expectations.data_context.store.tuple_store_backend import TupleFilesystemStoreBackend

    from day12_GATE_validation import day12_suite

    context = day12_context(tmp_path)
    day12_suite(context, "security_events")  # created (GX gives a new suite's expectations ids of its own)
    first = day12_suite(context, "security_events").to_json_dict()
    writes = []
    real_set = TupleFilesystemStoreBackend._set

    def counted_set(self, key, value, **kwargs):
        writes.append(key)
        return real_set(self, key, value, **kwargs)
    monkeypatch.setattr(TupleFilesystemStoreBackend, "_set", counted_set)
    again = day12_suite(context, "security_events").to_json_dict()
    assert again == first
    assert len(writes) <= 1


def test_a_slack_webhook_that_fails_is_logged_by_status_without_its_url(settings, tmp_path, caplog):
    """requests quotes the URL in its errors ("500 Server Error ... for url: <webhook>"): the log line names the status."""
    import logging
    import threading
    from dataclasses import replace
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from pydantic import SecretStr

    class Slack(BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(500)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Slack)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/services/T000/B000/day12-secret-path"
        try:
            with_slack = settings.model_copy(update={"slack_webhook_url": SecretStr(url)})
        except AttributeError:  # a frozen dataclass rather than a pydantic model
            with_slack = replace(settings, slack_webhook_url=SecretStr(url))
        with caplog.at_level(logging.INFO):
            outcome = _run(with_slack, _file(tmp_path, ("pii",)))
    finally:
        server.shutdown()
    assert outcome.exit_code == 4
    failed = [r for r in caplog.records if r.getMessage() == "Slack notification failed"]
    assert failed and failed[0].error == "Slack answered 500"
    assert "day12-secret-path" not in caplog.text and "secret-path" not in repr([r.__dict__ for r in caplog.records])
