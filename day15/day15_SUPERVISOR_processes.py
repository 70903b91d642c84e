"""Process supervision: the embedded Redis, the webhook server and the consumer group.

Each role runs in its own process (a crash or a kill -9 hits one consumer, not the pipeline); a child
that exits on its own is restarted, up to DAY15_RESTART_LIMIT times a minute, after which the
supervisor gives up loudly rather than flapping. A child that exits while Redis is unreachable is a
dependency outage, not a crash: it is restarted every few seconds without counting against that
budget, for as long as the outage lasts (consumers wait outages out themselves; this is the fallback).
Children run in sessions of their own, so a Ctrl-C reaches the supervisor only, and stop() stops them
in order: the webhook first (no new events; in-flight requests finish), then, when the queue cannot
outlive this process (embedded fakeredis), the consumers drain it, then the consumers stop. Every wait
is bounded, and what is left, if anything, is logged with where it is.
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
from typing import Callable, Iterator

DAY15_DIR = Path(__file__).resolve().parent
DAY15_LOG = logging.getLogger("day15.supervisor")
DAY15_RESTART_LIMIT = 5  # restarts per child per minute before the supervisor stops everything
DAY15_STOP_TIMEOUT_SECONDS = 30  # per step of the shutdown: a child still running after this is killed
DAY15_DRAIN_QUEUE_SECONDS = 120  # embedded mode: consumers get this long to empty the queue (~10k events/s)
DAY15_OUTAGE_RESTART_SECONDS = 2  # a child that exited during a Redis outage is restarted this often, uncounted


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
    def __init__(self, env: dict[str, str], consumers: int, *, dependency_up: Callable[[], bool] | None = None,
                 queue_depth: Callable[[], int] | None = None, queue_outlives_us: bool = True):
        self.env, self.consumers = env, consumers
        self.dependency_up, self.queue_depth, self.queue_outlives_us = dependency_up, queue_depth, queue_outlives_us
        self.children: dict[str, subprocess.Popen] = {}
        self.restarts: dict[str, list[float]] = {}
        self.outage_restart_at: dict[str, float] = {}
        self.stopping = False

    def _commands(self) -> dict[str, list[str]]:
        supervised = ["--parent-pid", str(os.getpid())]  # the child stops if this process dies, even by SIGKILL
        commands = {"webhook": [str(DAY15_DIR / "day15_WEBHOOK_receiver.py"), *supervised]}
        for n in range(1, self.consumers + 1):
            commands[f"consumer-{n}"] = [str(DAY15_DIR / "day15_CONSUMER_batch_processor.py"), "--name", f"consumer-{n}",
                                         *supervised]
        return commands

    def _spawn(self, name: str) -> None:
        # a session of its own: a terminal's Ctrl-C goes to the supervisor, which stops the children in order
        self.children[name] = subprocess.Popen([sys.executable, *self._commands()[name]], env=self.env,
                                               start_new_session=True)
        DAY15_LOG.info("child started", extra={"child": name, "child_pid": self.children[name].pid})

    def start(self) -> None:
        for name in self._commands():
            self._spawn(name)

    def check(self) -> bool:
        """Restart children that died; False when one keeps dying (the caller then stops everything).
        A child that died while Redis is down is not counted: the outage is waited out, never fatal."""
        for name, child in list(self.children.items()):
            code = child.poll()
            if code is None or self.stopping:
                continue
            if self.dependency_up is not None and not self.dependency_up():
                if time.monotonic() >= self.outage_restart_at.get(name, 0.0):
                    DAY15_LOG.warning("child exited while Redis is unreachable; restarting it, not counted as a crash",
                                      extra={"child": name, "exit_code": code})
                    self.outage_restart_at[name] = time.monotonic() + DAY15_OUTAGE_RESTART_SECONDS
                    self._spawn(name)
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
        """Stop in order: webhook, then (embedded mode) let the consumers drain the queue, then the consumers."""
        self.stopping = True
        codes = self._stop_children(["webhook"])
        consumers = [name for name in self.children if name != "webhook"]
        if not self.queue_outlives_us:
            self._drain_queue(consumers)
        codes.update(self._stop_children(consumers))
        self._report_left()
        DAY15_LOG.info("all children stopped", extra={"exit_codes": ",".join(f"{k}:{v}" for k, v in codes.items())})
        return codes

    def _stop_children(self, names: list[str]) -> dict[str, int]:
        for name in names:
            if self.children[name].poll() is None:
                self.children[name].send_signal(signal.SIGTERM)
        deadline = time.monotonic() + DAY15_STOP_TIMEOUT_SECONDS
        codes = {}
        for name in names:
            child = self.children[name]
            try:
                codes[name] = child.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.kill()
                codes[name] = child.wait()
                DAY15_LOG.error("child ignored SIGTERM; killed", extra={"child": name})
        return codes

    def _drain_queue(self, consumers: list[str]) -> None:
        """The queue dies with this process: wait (bounded) until the consumers have emptied it."""
        if self.queue_depth is None:
            return
        deadline = time.monotonic() + DAY15_DRAIN_QUEUE_SECONDS
        depth = self._depth()
        if depth:
            DAY15_LOG.info("draining the embedded queue before stopping the consumers", extra={"queue_depth": depth})
        while depth and time.monotonic() < deadline and any(self.children[n].poll() is None for n in consumers):
            time.sleep(0.1)
            depth = self._depth()

    def _depth(self) -> int | None:
        try:
            return self.queue_depth() if self.queue_depth else None
        except Exception as exc:  # noqa: BLE001 - a depth we cannot read is reported, never fatal to a stop
            DAY15_LOG.warning("queue depth unreadable", extra={"error": f"{type(exc).__name__}: {str(exc)[:200]}"})
            return None

    def _report_left(self) -> None:
        depth = self._depth()
        if not depth:
            return
        if self.queue_outlives_us:
            DAY15_LOG.warning("events left queued at shutdown; they wait in Redis for the next start",
                              extra={"queue_depth": depth, "where": "Redis stream day15:events"})
        else:
            DAY15_LOG.error("events left queued at shutdown are lost with the embedded Redis",
                            extra={"queue_depth": depth, "where": "embedded fakeredis (in memory)"})


def day15_exit_with_parent(parent_pid: int | None) -> None:
    """In a supervised child: get SIGTERM (a clean stop) when the supervisor dies, even by SIGKILL, so no
    child outlives it holding the webhook port or a batch. Linux only (prctl); elsewhere stop() is the way."""
    if parent_pid is None:
        return
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(1, int(signal.SIGTERM))  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if os.getppid() != parent_pid:  # the supervisor died before prctl took effect
        os.kill(os.getpid(), signal.SIGTERM)


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
