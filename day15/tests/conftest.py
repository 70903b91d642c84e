"""Fixtures for day15: events from the shared generator, an in-process buffer, a store, a Flask client."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import types
from pathlib import Path

import pytest
import requests

from day15_BUFFER_streams import day15_Buffer
from day15_SIGNING_webhooks import day15_sign
from day15_SIGNING_webhooks import day15_new_secret
from day15_STORE_analytics import DAY15_METADATA, day15_create_engine, day15_Store


@pytest.fixture(scope="session")
def saas_events():
    from shared_synthetic_data import saas

    events, malformed, injected = saas.build(size=400, defects=("duplicates", "out_of_order", "malformed"))
    return events, malformed, injected


@pytest.fixture
def fake_buffer():
    import fakeredis

    # a server of its own: plain FakeRedis() instances share one default server across tests
    return day15_Buffer(fakeredis.FakeRedis(server=fakeredis.FakeServer()), maxlen=100_000, seen_ttl_seconds=3600)


@pytest.fixture(params=["real", "fake"])
def buffer(request):
    """The same buffer code on the real Redis and on fakeredis."""
    client = request.getfixturevalue("real_redis") if request.param == "real" else request.getfixturevalue("fake_buffer").redis
    buffer = day15_Buffer(client)
    buffer.ensure_group()
    return buffer


@pytest.fixture
def store(tmp_path):
    return day15_Store(day15_create_engine(f"sqlite:///{tmp_path / 'analytics.sqlite'}"))


@pytest.fixture
def secret():
    return day15_new_secret()


@pytest.fixture
def client(fake_buffer, store, secret):
    from day15_INGRESS_app import day15_create_app

    app = day15_create_app(fake_buffer, store, [secret], max_body_bytes=64_000, max_batch_events=50)
    return app.test_client()


# --- the whole pipeline as processes: an own redis-server, the orchestrator, a recording sender ---------

DAY15_DIR = Path(__file__).resolve().parents[1]
# the outage tests' own redis-server; popped: a DAY15_ name left in the environment fails the settings check
OWN_REDIS_PORT = int(os.environ.pop("DAY15_TEST_OWN_REDIS_PORT", "21001"))


class OwnRedis:
    """A redis-server these tests may stop, freeze and restart; AOF fsync'd on every write, so a
    stop loses nothing that was acknowledged."""

    def __init__(self, directory: Path, port: int = OWN_REDIS_PORT):
        self.directory, self.port, self.process = directory, port, None

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.directory),
             "--appendonly", "yes", "--appendfsync", "always", "--save", "", "--logfile", str(self.directory / "redis.log")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        import redis

        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                if redis.Redis(port=self.port, socket_timeout=1).ping():
                    return
            except redis.RedisError:
                time.sleep(0.1)
        raise RuntimeError("own redis-server did not start")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGCONT)
            self.process.terminate()
            self.process.wait(timeout=20)

    def freeze(self) -> None:
        self.process.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        self.process.send_signal(signal.SIGCONT)


def orchestrator(env: dict[str, str]) -> subprocess.Popen:
    """The orchestrator; its terminal output goes to a file beside the log (a pipe nobody reads would fill
    and block every process that logs)."""
    output = open(Path(env["DAY15_LOG_PATH"]).with_suffix(".out"), "ab")  # noqa: SIM115 - the child holds it
    return subprocess.Popen([sys.executable, str(DAY15_DIR / "day15_ORCHESTRATOR_main.py")], env=env,
                            stdout=output, stderr=subprocess.STDOUT)


def pipeline_env(tmp_path: Path, *, secret: str, port: int, redis_port: int | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DAY15_")}
    env.update(DAY15_WEBHOOK_SECRET=secret, DAY15_WEBHOOK_PORT=str(port), DAY15_CONSUMERS="2",
               DAY15_DATABASE_URL=f"sqlite:///{tmp_path / 'analytics.sqlite'}", DAY15_LOG_PATH=str(tmp_path / "pipeline.log"),
               DAY15_CLAIM_IDLE_MS="1000", DAY15_BATCH_MAX_WAIT_MS="20")
    if redis_port:
        env.update(DAY15_REDIS_HOST="127.0.0.1", DAY15_REDIS_PORT=str(redis_port), DAY15_REDIS_DB="0")
    return env


def wait_healthy(base_url: str, timeout: float = 60) -> None:
    from day15_DEMO_traffic import day15_wait_ready

    day15_wait_ready(base_url, timeout)


class Sender(threading.Thread):
    """Posts signed single events with unique ids until stopped; records every answer."""

    def __init__(self, base_url: str, secret: str, template: dict, prefix: str, pause: float = 0.0):
        super().__init__(daemon=True)
        self.base_url, self.secret, self.template, self.prefix, self.pause = base_url, secret, template, prefix, pause
        self.answers: list[tuple[str, int, float, str | None]] = []  # id, status (0: no answer), seconds, Retry-After
        self.halt = threading.Event()

    def run(self) -> None:
        session, n = requests.Session(), 0
        while not self.halt.is_set():
            n += 1
            event = {**self.template, "id": f"{self.prefix}_{n}"}
            body = json.dumps(event).encode()
            started = time.monotonic()
            try:
                response = session.post(f"{self.base_url}/webhook/events", data=body,
                                        headers=day15_sign(self.secret, f"msg_{event['id']}", body), timeout=10)
                status, retry_after = response.status_code, response.headers.get("Retry-After")
            except requests.RequestException:
                status, retry_after = 0, None
                session = requests.Session()
            self.answers.append((event["id"], status, time.monotonic() - started, retry_after))
            if self.pause:
                time.sleep(self.pause)

    def ids(self, status: int) -> set[str]:
        return {event_id for event_id, code, _, _ in self.answers if code == status}


def stored_ids(database: Path) -> list[str]:
    import sqlite3

    with sqlite3.connect(database) as conn:
        return [row[0] for row in conn.execute("select event_id from day15_processed_events")]


@pytest.fixture
def kit():
    """The process-level helpers above, for the outage and shutdown tests."""
    return types.SimpleNamespace(OwnRedis=OwnRedis, Sender=Sender, orchestrator=orchestrator, pipeline_env=pipeline_env,
                                 stored_ids=stored_ids, wait_healthy=wait_healthy)


@pytest.fixture(params=["sqlite", "postgresql"])
def any_store(request, tmp_path):
    """An empty analytics store, on SQLite and on the real PostgreSQL."""
    if request.param == "sqlite":
        yield day15_Store(day15_create_engine(f"sqlite:///{tmp_path / 'analytics.sqlite'}"))
        return
    engine = day15_create_engine(request.getfixturevalue("postgres_url"))
    DAY15_METADATA.drop_all(engine)
    DAY15_METADATA.create_all(engine)
    yield day15_Store(engine)
    DAY15_METADATA.drop_all(engine)
    engine.dispose()
