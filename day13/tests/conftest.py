"""Fixtures for day13: isolated settings and folders, real HTTP and SMTP stand-ins for the receivers."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from contextlib import ExitStack
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from day13_CONFIG_settings import DAY13_DIR, day13_load_settings

ORCHESTRATOR = DAY13_DIR / "day13_ORCHESTRATOR_alert_triage.py"


@pytest.fixture
def settings(tmp_path):
    """Settings whose every path is under tmp_path; the real rules and routing files."""
    return day13_load_settings(env_file=None, audit_log_path=tmp_path / "audit.db", drop_dir=tmp_path / "drop",
                               inbox_dir=tmp_path / "inbox", outbox_dir=tmp_path / "outbox",
                               lock_path=tmp_path / "triage.lock", log_path=tmp_path / "run.log", file_settle_seconds=0,
                               rules_path=DAY13_DIR / "day13_rules.yaml", routing_path=DAY13_DIR / "day13_routing.yaml")


def alert(n: int = 1, **overrides) -> dict:
    record = {"alert_id": f"A-{n}", "source_system": "actimize", "alert_type": "aml_structuring", "entity_id": "ENT-1",
              "account_id": "ACC-1", "customer_id": "CUS-1", "amount": "9500.00", "currency": "USD", "jurisdiction": "GB",
              "match_score": "", "created_at": "2026-11-22T10:00:00Z", "description": "structuring pattern"}
    record.update(overrides)
    return record


@pytest.fixture
def make_alert():
    return alert


@pytest.fixture
def drop(settings):
    """drop(name, records_or_bytes) writes a file into the drop folder."""
    def write(name: str, content) -> Path:
        settings.drop_dir.mkdir(parents=True, exist_ok=True)
        path = settings.drop_dir / name
        path.write_bytes(content if isinstance(content, bytes) else json.dumps(content).encode())
        return path
    return write


@pytest.fixture
def http_stand_in():
    """A real HTTP server that records JSON posts and answers from a script of status codes (default 200)."""
    posts, script = [], []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            posts.append({"path": self.path, "body": json.loads(self.rfile.read(int(self.headers["Content-Length"]))),
                          "headers": dict(self.headers)})
            status = script.pop(0) if script else 200
            self.send_response(status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}", posts, script
    server.shutdown()


@pytest.fixture
def clock():
    """A controllable clock: clock.now is what the pipeline sees."""
    class Clock:
        now = datetime(2026, 11, 22, 10, 5, tzinfo=timezone.utc)

        def __call__(self):
            return self.now
    return Clock()


@pytest.fixture
def run(settings, clock):
    """run(**settings overrides) -> summary of one triage run with the controlled clock."""
    from day13_PIPELINE_triage import day13_run_triage
    from day13_RUNTIME_wiring import day13_run_context
    from day13_STORE_audit import day13_Store

    def go(**overrides):
        effective = settings.model_copy(update=overrides)
        with ExitStack() as stack:
            store = day13_Store.open(effective.audit_log_path)
            stack.callback(store.close)
            ctx = day13_run_context(effective, store, stack, now=clock)
            ctx.dispatcher.sleep = lambda seconds: None
            return day13_run_triage(ctx, drop_dir=effective.drop_dir, inbox_dir=effective.inbox_dir)
    return go


@pytest.fixture
def db(settings):
    from day13_STORE_audit import day13_connect

    connection = day13_connect(settings.audit_log_path)
    yield connection
    connection.close()


def _cli_env(settings, **extra) -> dict:
    values = {"audit_log_path": settings.audit_log_path, "drop_dir": settings.drop_dir, "inbox_dir": settings.inbox_dir,
              "outbox_dir": settings.outbox_dir, "lock_path": settings.lock_path, "log_path": settings.log_path,
              "file_settle_seconds": 0, **extra}
    return {**os.environ, **{f"DAY13_{k.upper()}": str(v) for k, v in values.items()}}


def _cli(env, *args, expect=0):
    done = subprocess.run([sys.executable, str(ORCHESTRATOR), *args], env=env, timeout=180, capture_output=True, text=True)
    assert done.returncode == expect, done.stderr[-3000:]
    return done


@pytest.fixture
def cli_env():
    """cli_env(settings, **more) -> the environment a real ORCHESTRATOR subprocess reads those settings from."""
    return _cli_env


@pytest.fixture
def cli():
    """cli(env, *args, expect=0) runs the ORCHESTRATOR in a real subprocess and checks its exit code."""
    return _cli
