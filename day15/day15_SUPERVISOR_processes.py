"""Process supervision: the embedded Redis, the webhook server and the consumer group.

Each role runs in its own process (a crash or a kill -9 hits one consumer, not the pipeline); a child
that exits on its own is restarted, up to DAY15_RESTART_LIMIT times a minute, after which the
supervisor gives up loudly rather than flapping. SIGTERM to the supervisor is forwarded to every
child, which finishes its batch or its in-flight requests and exits 0.
"""
from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

DAY15_DIR = Path(__file__).resolve().parent
DAY15_LOG = logging.getLogger("day15.supervisor")
DAY15_RESTART_LIMIT = 5  # restarts per child per minute before the supervisor stops everything
DAY15_STOP_TIMEOUT_SECONDS = 30


def day15_free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def day15_embedded_redis() -> Iterator[tuple[str, int]]:
    """fakeredis behind a real TCP socket, so separate processes share one in-memory Redis."""
    from fakeredis import TcpFakeServer

    server = TcpFakeServer(("127.0.0.1", day15_free_port()), server_type="redis")
    thread = threading.Thread(target=server.serve_forever, name="embedded-redis", daemon=True)
    thread.start()
    try:
        yield server.server_address
    finally:
        server.shutdown()
        server.server_close()


class day15_Supervisor:
    def __init__(self, env: dict[str, str], consumers: int):
        self.env, self.consumers = env, consumers
        self.children: dict[str, subprocess.Popen] = {}
        self.restarts: dict[str, list[float]] = {}
        self.stopping = False

    def _commands(self) -> dict[str, list[str]]:
        commands = {"webhook": [str(DAY15_DIR / "day15_WEBHOOK_receiver.py")]}
        for n in range(1, self.consumers + 1):
            commands[f"consumer-{n}"] = [str(DAY15_DIR / "day15_CONSUMER_batch_processor.py"), "--name", f"consumer-{n}"]
        return commands

    def _spawn(self, name: str) -> None:
        self.children[name] = subprocess.Popen([sys.executable, *self._commands()[name]], env=self.env)
        DAY15_LOG.info("child started", extra={"child": name, "child_pid": self.children[name].pid})

    def start(self) -> None:
        for name in self._commands():
            self._spawn(name)

    def check(self) -> bool:
        """Restart children that died; False when one keeps dying (the caller then stops everything)."""
        for name, child in list(self.children.items()):
            code = child.poll()
            if code is None or self.stopping:
                continue
            recent = [t for t in self.restarts.get(name, []) if t > time.monotonic() - 60]
            DAY15_LOG.error("child exited; restarting", extra={"child": name, "exit_code": code, "recent_restarts": len(recent)})
            if len(recent) >= DAY15_RESTART_LIMIT:
                DAY15_LOG.error("child keeps failing; giving up", extra={"child": name})
                return False
            self.restarts[name] = recent + [time.monotonic()]
            self._spawn(name)
        return True

    def stop(self) -> dict[str, int]:
        self.stopping = True
        for child in self.children.values():
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + DAY15_STOP_TIMEOUT_SECONDS
        codes = {}
        for name, child in self.children.items():
            try:
                codes[name] = child.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.kill()
                codes[name] = child.wait()
                DAY15_LOG.error("child ignored SIGTERM; killed", extra={"child": name})
        DAY15_LOG.info("all children stopped", extra={"exit_codes": ",".join(f"{k}:{v}" for k, v in codes.items())})
        return codes


def day15_child_env(settings, *, redis_address: tuple[str, int] | None, secret: str | None,
                    database_url: str, webhook_port: int) -> dict[str, str]:
    """What the children need to find the same Redis, database and secret as the supervisor."""
    env = dict(os.environ)
    if redis_address:
        env["DAY15_REDIS_HOST"], env["DAY15_REDIS_PORT"] = redis_address[0], str(redis_address[1])
        env.pop("DAY15_REDIS_PASSWORD", None)
        env["DAY15_REDIS_DB"] = "0"
    if secret:
        env["DAY15_WEBHOOK_SECRET"] = secret
    env["DAY15_DATABASE_URL"] = database_url
    env["DAY15_WEBHOOK_PORT"] = str(webhook_port)
    return env
