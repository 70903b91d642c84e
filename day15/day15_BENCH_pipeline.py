"""Benchmark the pipeline against the real Redis, every figure next to a baseline measured in the same run.

    python day15/day15_BENCH_pipeline.py [--events 20000]

Uses DAY15_REDIS_HOST (default 127.0.0.1:6379) database 14, flushed before and after. The webhook server
runs as deployed: its own process, waitress with the production options, plus a bare 202 route for the
single-request baseline. Load comes from this process, two producers for the batch figure and for the
raw XADD baseline it is compared with. Each figure is the best of several runs taken in turns with its
baseline (the first run pays warm-up; a slow spell hits both). The consumer is compared with the issue's bare XREADGROUP+XACK loop
and also with a minimal durable consumer (the same reads, the raw rows inserted and committed, then
XACK), which is the fair floor for anything that must not lose an event.
Results are printed and written to day15/evidence/day15_bench_results.json. Not a test: nothing here fails.
"""
from __future__ import annotations

import argparse
import gc
import json
import os
import sqlite3
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path

from day15_BUFFER_streams import DAY15_GROUP, DAY15_STREAM, day15_Buffer, day15_encode
from day15_PROCESSING_batches import day15_Consumer
from day15_RUNTIME_wiring import day15_settle_heap
from day15_SIGNING_webhooks import day15_new_secret, day15_sign
from day15_STORE_analytics import day15_percentile, day15_create_engine, day15_Store
from day15_SUPERVISOR_processes import day15_free_port

DAY15_BENCH_DB = 14
DAY15_RESULTS = Path(__file__).resolve().parent / "evidence" / "day15_bench_results.json"
TARGETS = {"batch_ingress": 0.5, "single_requests": 0.8, "consumer": 0.5}


def _events(count: int) -> list[dict]:
    from shared_synthetic_data import saas

    return saas.build(seed=11, size=count)[0]


def _reset(client) -> None:
    client.flushdb()
    day15_Buffer(client).ensure_group()


def _rate(count: int, seconds: float) -> float:
    return round(count / seconds, 1)


def _in_turns(*measures, rounds: int = 3) -> list[list]:
    """Each measure run `rounds` times, in turns (baseline, ours, baseline, ...), so a slow spell of this
    small machine hits every side alike; callers keep each side's best (the first run pays warm-up)."""
    runs = [[] for _ in measures]
    for _ in range(rounds):
        for results, measure in zip(runs, measures):
            results.append(measure())
    return runs


def bench_batch_ingress(client, url, secret, events, chunk, producers=2):
    """The same producers and the same chunk (the configured batch limit) on each side. Two producers: an
    endpoint serves several senders at once, and the raw XADD baseline gets the same concurrency."""
    bodies = [day15_encode(e) for e in events]
    chunks = [bodies[i:i + chunk] for i in range(0, len(bodies), chunk)]

    def pipelined_xadd(part: list) -> None:
        pipe = client.pipeline(transaction=False)
        for body in part:
            pipe.xadd("bench:raw", {"body": body})
        pipe.execute()

    def raw_xadd() -> float:  # baseline: raw pipelined XADD, nothing else
        _reset(client)
        started = time.perf_counter()
        with ThreadPoolExecutor(producers) as pool:
            list(pool.map(pipelined_xadd, chunks))
        return _rate(len(bodies), time.perf_counter() - started)

    requests_ = [json.dumps({"events": events[i:i + chunk]}).encode() for i in range(0, len(events), chunk)]
    signed = [(body, day15_sign(secret, f"msg_{n}", body)) for n, body in enumerate(requests_)]

    def batch_endpoint() -> float:
        _reset(client)  # forgets the seen ids too, so every run queues every event
        started = time.perf_counter()
        _post_all(f"{url}/webhook/batch", signed, producers)
        return _rate(len(events), time.perf_counter() - started)

    raw_runs, our_runs = _in_turns(raw_xadd, batch_endpoint, rounds=5)
    raw, ours = max(raw_runs), max(our_runs)
    return {"baseline_events_per_s": raw, "ours_events_per_s": ours, "ratio": round(ours / raw, 3), "producers": producers,
            "events_per_request": chunk}


def _post_all(url, signed, threads):
    import requests

    local = threading.local()

    def post(item):
        session = getattr(local, "session", None) or setattr(local, "session", requests.Session()) or local.session
        response = session.post(url, data=item[0], headers=item[1], timeout=30)
        assert response.status_code in (200, 202), response.text

    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(post, signed))


def _cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process (Linux /proc; None elsewhere)."""
    stat = Path(f"/proc/{pid}/stat")
    if not stat.exists():
        return None
    fields = stat.read_text().rsplit(")", 1)[1].split()  # fields after the command name; utime and stime are 14 and 15
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def bench_single_requests(client, url, secret, events, server_pid: int, threads=8):
    """Wall-clock requests/s, and the server's own CPU per request: on a small machine the client in this
    process can be the bottleneck for both endpoints, and then only the CPU figure shows the server's cost."""
    bodies = [json.dumps(e).encode() for e in events]
    signed = [(body, day15_sign(secret, f"msg_s{n}", body)) for n, body in enumerate(bodies)]

    def measure(path: str) -> tuple[float, float | None]:
        _reset(client)
        cpu_before, started = _cpu_seconds(server_pid), time.perf_counter()
        _post_all(f"{url}{path}", signed, threads)
        rate, cpu_after = _rate(len(signed), time.perf_counter() - started), _cpu_seconds(server_pid)
        return rate, None if cpu_before is None else round((cpu_after - cpu_before) * 1000 / len(signed), 3)

    bare_runs, our_runs = _in_turns(lambda: measure("/bench/bare"), lambda: measure("/webhook/events"))
    bare, ours = max(r for r, _ in bare_runs), max(r for r, _ in our_runs)
    result = {"baseline_requests_per_s": bare, "ours_requests_per_s": ours, "ratio": round(ours / bare, 3)}
    if bare_runs[0][1] is not None:
        bare_cpu, our_cpu = min(c for _, c in bare_runs), min(c for _, c in our_runs)
        result.update({"baseline_server_cpu_ms_per_request": bare_cpu, "ours_server_cpu_ms_per_request": our_cpu,
                       "ratio_by_server_cpu": round(bare_cpu / our_cpu, 3)})
    return result


class _Costs:
    """Events/s plus CPU per event, this process's and the Redis server's: it shows what a design costs the
    shared Redis as well as the consumer (on this noisy machine, CPU time moves as much as wall-clock time)."""

    def __init__(self, client):
        self.client = client
        self.started = (time.perf_counter(), time.process_time(), self._redis_cpu())

    def _redis_cpu(self) -> float:
        info = self.client.info("cpu")
        return info["used_cpu_user"] + info["used_cpu_sys"]

    def done(self, count: int) -> dict:
        wall, process, redis_cpu = self.started
        return {"events_per_s": _rate(count, time.perf_counter() - wall),
                "cpu": {"client": round((time.process_time() - process) * 1e6 / count, 1),
                        "redis": round((self._redis_cpu() - redis_cpu) * 1e6 / count, 1)}}


def bench_consumer(client, workdir: Path, events, batch: int):
    buffer, bodies = day15_Buffer(client), [(e["id"], day15_encode(e)) for e in events]

    def fill() -> None:
        _reset(client)
        buffer.enqueue(bodies, 1)
        day15_settle_heap()  # as the consumer process does before its loop; every side starts from the same heap

    def read(name: str):
        return client.xreadgroup(DAY15_GROUP, name, {DAY15_STREAM: ">"}, count=batch)

    def bare_loop() -> dict:  # the baseline: read and acknowledge, nothing kept
        fill()
        costs = _Costs(client)
        while entries := read("bare"):
            client.xack(DAY15_STREAM, DAY15_GROUP, *[i for _, rows in entries for i, _ in rows])
        return costs.done(len(events))

    def durable_loop() -> dict:  # the least a consumer that must not lose events does: insert, commit, ack
        fill()
        db = sqlite3.connect(workdir / f"durable_{uuid.uuid4().hex[:8]}.sqlite", isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        db.execute("CREATE TABLE raw (entry_id TEXT PRIMARY KEY, body TEXT NOT NULL)")
        costs = _Costs(client)
        while entries := read("durable"):
            rows = [(i, f[b"body"]) for _, batch_rows in entries for i, f in batch_rows]
            db.execute("BEGIN IMMEDIATE")
            db.executemany("INSERT INTO raw VALUES (?, ?)", rows)
            db.execute("COMMIT")
            client.xack(DAY15_STREAM, DAY15_GROUP, *[i for i, _ in rows])
        result = costs.done(len(events))
        db.close()
        return result

    def ours() -> dict:
        store = day15_Store(day15_create_engine(f"sqlite:///{workdir / f'consumer_{uuid.uuid4().hex[:8]}.sqlite'}"))
        consumer = day15_Consumer(buffer, store, name="bench", batch_size=batch, max_wait_ms=50, max_retries=5,
                                  claim_idle_ms=60_000, queue_depth_warn=len(events) + 1)
        fill()
        result: list[dict] = []

        def all_acknowledged() -> bool:  # one check per batch, no round trip until the end, like the bare loop's stop
            if consumer.acknowledged >= len(events) and not result:
                result.append(costs.done(len(events)))
            return bool(result)

        costs = _Costs(client)
        consumer.run(all_acknowledged)  # returns up to a blocking read's timeout later: measured at the last XACK
        return result[0]

    bare, durable, mine = (_best(runs) for runs in _in_turns(bare_loop, durable_loop, ours, rounds=5))
    cpu = {"bare": bare["cpu"], "durable": durable["cpu"], "ours": mine["cpu"]}
    total = {name: side["client"] + side["redis"] for name, side in cpu.items()}
    return {"baseline_events_per_s": bare["events_per_s"], "ours_events_per_s": mine["events_per_s"],
            "ratio": round(mine["events_per_s"] / bare["events_per_s"], 3),
            "durable_baseline_events_per_s": durable["events_per_s"],
            "ratio_to_durable": round(mine["events_per_s"] / durable["events_per_s"], 3),
            "cpu_us_per_event": cpu, "ratio_by_cpu": round(total["bare"] / total["ours"], 3),
            "ratio_to_durable_by_cpu": round(total["durable"] / total["ours"], 3),
            "batch_size": batch}


def _best(runs: list[dict]) -> dict:
    """The fastest run's rate, and the least CPU seen: each side's least disturbed figures."""
    return {"events_per_s": max(r["events_per_s"] for r in runs),
            "cpu": {part: min(r["cpu"][part] for r in runs) for part in ("client", "redis")}}


def bench_latency(client, url, secret, store_url, events, settings, rate=1_000, seconds=10, per_request=10):
    """The configured consumer (batch size and max wait) behind the server, at a fixed offered rate."""
    _reset(client)
    store = day15_Store(day15_create_engine(store_url))
    consumer = day15_Consumer(day15_Buffer(client), store, name="latency", batch_size=settings.batch_size,
                              max_wait_ms=settings.batch_max_wait_ms,
                              max_retries=5, claim_idle_ms=60_000)
    stop = threading.Event()
    worker = threading.Thread(target=consumer.run, args=(stop.is_set,), daemon=True)
    worker.start()
    import requests

    session, sent, started = requests.Session(), 0, time.perf_counter()
    total = min(len(events), rate * seconds)
    while sent < total:  # open-loop pacing: the offered rate does not slow down when the server does
        due = started + sent / rate
        time.sleep(max(0.0, due - time.perf_counter()))
        body = json.dumps({"events": events[sent:sent + per_request]}).encode()
        session.post(f"{url}/webhook/batch", data=body, headers=day15_sign(secret, f"msg_l{sent}", body), timeout=30)
        sent += per_request
    deadline = time.monotonic() + 30
    while day15_Buffer(client).depth() != {"lag": 0, "pending": 0} and time.monotonic() < deadline:
        time.sleep(0.05)
    stop.set()
    worker.join(timeout=10)
    from sqlalchemy import select

    from day15_STORE_analytics import day15_processed

    with store.engine.connect() as conn:
        lat = sorted(r[0] for r in conn.execute(select(day15_processed.c.processed_at_ms - day15_processed.c.received_at_ms)))
    return {"offered_events_per_s": rate, "events": len(lat), "p50_ms": day15_percentile(lat, 50), "p99_ms": day15_percentile(lat, 99),
            "target_p99_ms": 250}


def _serve(port: int, secret: str, store_path: str) -> None:
    """The webhook server as deployed (own process, production waitress options), plus a bare 202 route."""
    import logging

    from day15_BUFFER_streams import day15_redis_client
    from day15_CONFIG_settings import day15_load_settings
    from day15_INGRESS_app import day15_create_app
    from day15_SERVER_waitress import day15_create_server

    logging.getLogger("waitress.queue").setLevel(logging.ERROR)  # load tests queue requests on purpose
    settings = day15_load_settings()
    settings = settings.model_copy(update={"redis_host": settings.redis_host or "127.0.0.1", "redis_db": DAY15_BENCH_DB})
    client = day15_redis_client(settings, role="webhook")  # the webhook's own client: its timeouts, its retry
    app = day15_create_app(day15_Buffer(client, maxlen=10_000_000), day15_Store(day15_create_engine(f"sqlite:///{store_path}")),
                           [secret], max_body_bytes=settings.max_body_bytes, max_batch_events=settings.max_batch_events)
    app.add_url_rule("/bench/bare", "bare", lambda: ("", 202), methods=["POST"])  # same server, no work
    day15_settle_heap()  # as the webhook server does once it is wired
    day15_create_server(app, settings, app.extensions["day15_count_rejected"], host="127.0.0.1", port=port).run()


def _start_server(secret: str, workdir: Path):
    import multiprocessing

    import requests

    port = day15_free_port()
    server = multiprocessing.get_context("spawn").Process(target=_serve, args=(port, secret, str(workdir / "ingress.sqlite")),
                                                          daemon=True)
    server.start()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            requests.get(f"http://127.0.0.1:{port}/health", timeout=1)
            return server, f"http://127.0.0.1:{port}"
        except requests.ConnectionError:
            time.sleep(0.1)
    server.terminate()
    raise RuntimeError("the benchmark's webhook server did not start")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000)
    args = parser.parse_args(argv)
    import redis

    from day15_CONFIG_settings import day15_load_settings

    settings = day15_load_settings()
    client = redis.Redis(host=settings.redis_host or "127.0.0.1", port=settings.redis_port, db=DAY15_BENCH_DB)
    client.ping()
    secret, workdir = day15_new_secret(), Path(__file__).resolve().parent / "state" / "bench"
    workdir.mkdir(parents=True, exist_ok=True)
    for old in workdir.glob("*.sqlite*"):
        old.unlink()
    server, url = _start_server(secret, workdir)
    events = _events(args.events)
    gc.freeze()  # the bench's own copy of the events is not the measured code's garbage: keep it out of collections
    try:
        results = {
            "when": datetime.now(timezone.utc).isoformat(timespec="seconds"), "events": len(events),
            "batch_ingress": bench_batch_ingress(client, url, secret, events, chunk=settings.max_batch_events),
            "single_requests": bench_single_requests(client, url, secret, events[:3_000], server.pid),
            "consumer": bench_consumer(client, workdir, events, batch=settings.batch_size),
            "latency_at_1000_per_s": bench_latency(client, url, secret, f"sqlite:///{workdir / 'latency.sqlite'}", events,
                                                   settings),
        }
    finally:
        server.terminate()
        client.flushdb()
    for name, target in TARGETS.items():
        results[name]["target_ratio"] = target
    DAY15_RESULTS.parent.mkdir(exist_ok=True)
    DAY15_RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
