"""Benchmark the pipeline against the real Redis, every figure next to a baseline measured in the same run.

    python day15/day15_BENCH_pipeline.py [--events 20000]

Uses DAY15_REDIS_HOST (default 127.0.0.1:6379) database 14, flushed before and after. Client and
server share this process (waitress in a thread), so both sides of each ratio pay the same GIL tax.
Results are printed and written to day15/evidence/day15_bench_results.json. Not a test: nothing here fails.
"""
from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path

from day15_BUFFER_streams import DAY15_GROUP, DAY15_STREAM, day15_Buffer, day15_encode
from day15_PROCESSING_batches import day15_Consumer
from day15_SIGNING_webhooks import day15_new_secret, day15_sign
from day15_STORE_analytics import _percentile, day15_create_engine, day15_Store
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


def bench_batch_ingress(client, url, secret, events, threads=4, chunk=100):
    bodies = [day15_encode(e) for e in events]
    _reset(client)
    started = time.perf_counter()
    for start in range(0, len(bodies), chunk):  # baseline: raw pipelined XADD, nothing else
        pipe = client.pipeline(transaction=False)
        for body in bodies[start:start + chunk]:
            pipe.xadd("bench:raw", {"body": body})
        pipe.execute()
    raw = _rate(len(bodies), time.perf_counter() - started)
    _reset(client)
    requests_ = [json.dumps({"events": events[i:i + chunk]}).encode() for i in range(0, len(events), chunk)]
    signed = [(body, day15_sign(secret, f"msg_{n}", body)) for n, body in enumerate(requests_)]
    started = time.perf_counter()
    _post_all(f"{url}/webhook/batch", signed, threads)
    ours = _rate(len(events), time.perf_counter() - started)
    return {"baseline_events_per_s": raw, "ours_events_per_s": ours, "ratio": round(ours / raw, 3)}


def _post_all(url, signed, threads):
    import requests

    local = threading.local()

    def post(item):
        session = getattr(local, "session", None) or setattr(local, "session", requests.Session()) or local.session
        response = session.post(url, data=item[0], headers=item[1], timeout=30)
        assert response.status_code in (200, 202), response.text

    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(post, signed))


def bench_single_requests(client, url, secret, events, threads=8):
    _reset(client)
    bodies = [json.dumps(e).encode() for e in events]
    signed = [(body, day15_sign(secret, f"msg_s{n}", body)) for n, body in enumerate(bodies)]
    started = time.perf_counter()
    _post_all(f"{url}/bench/bare", signed, threads)
    bare = _rate(len(signed), time.perf_counter() - started)
    started = time.perf_counter()
    _post_all(f"{url}/webhook/events", signed, threads)
    ours = _rate(len(signed), time.perf_counter() - started)
    return {"baseline_requests_per_s": bare, "ours_requests_per_s": ours, "ratio": round(ours / bare, 3)}


def bench_consumer(client, store_url, events, batch=200):
    _reset(client)
    buffer = day15_Buffer(client)
    buffer.enqueue([(e["id"], day15_encode(e)) for e in events], 1)
    started = time.perf_counter()
    while entries := client.xreadgroup(DAY15_GROUP, "bare", {DAY15_STREAM: ">"}, count=batch):
        client.xack(DAY15_STREAM, DAY15_GROUP, *[i for _, rows in entries for i, _ in rows])
    bare = _rate(len(events), time.perf_counter() - started)
    _reset(client)
    buffer.enqueue([(e["id"], day15_encode(e)) for e in events], 1)
    consumer = day15_Consumer(buffer, day15_Store(day15_create_engine(store_url)), name="bench", batch_size=batch,
                              max_wait_ms=50, max_retries=5, claim_idle_ms=60_000)
    started = time.perf_counter()
    consumer.run(lambda: buffer.depth() == {"lag": 0, "pending": 0})
    ours = _rate(len(events), time.perf_counter() - started)
    return {"baseline_events_per_s": bare, "ours_events_per_s": ours, "ratio": round(ours / bare, 3)}


def bench_latency(client, url, secret, store_url, events, rate=1_000, seconds=10, per_request=10):
    _reset(client)
    store = day15_Store(day15_create_engine(store_url))
    consumer = day15_Consumer(day15_Buffer(client), store, name="latency", batch_size=200, max_wait_ms=50,
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
    return {"offered_events_per_s": rate, "events": len(lat), "p50_ms": _percentile(lat, 50), "p99_ms": _percentile(lat, 99),
            "target_p99_ms": 250}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000)
    args = parser.parse_args(argv)
    import redis
    from waitress import create_server

    from day15_CONFIG_settings import day15_load_settings
    from day15_INGRESS_app import day15_create_app

    settings = day15_load_settings()
    client = redis.Redis(host=settings.redis_host or "127.0.0.1", port=settings.redis_port, db=DAY15_BENCH_DB)
    client.ping()
    secret, workdir = day15_new_secret(), Path(__file__).resolve().parent / "state" / "bench"
    workdir.mkdir(parents=True, exist_ok=True)
    for old in workdir.glob("*.sqlite*"):
        old.unlink()
    app = day15_create_app(day15_Buffer(client, maxlen=10_000_000), day15_Store(day15_create_engine(f"sqlite:///{workdir / 'ingress.sqlite'}")),
                           [secret], max_body_bytes=settings.max_body_bytes, max_batch_events=settings.max_batch_events)
    app.add_url_rule("/bench/bare", "bare", lambda: ("", 202), methods=["POST"])  # same server, no work
    port = day15_free_port()
    server = create_server(app, host="127.0.0.1", port=port, threads=8)
    threading.Thread(target=server.run, daemon=True).start()
    url, events = f"http://127.0.0.1:{port}", _events(args.events)
    results = {
        "when": datetime.now(timezone.utc).isoformat(timespec="seconds"), "events": len(events),
        "batch_ingress": bench_batch_ingress(client, url, secret, events),
        "single_requests": bench_single_requests(client, url, secret, events[:3_000]),
        "consumer": bench_consumer(client, f"sqlite:///{workdir / 'consumer.sqlite'}", events),
        "latency_at_1000_per_s": bench_latency(client, url, secret, f"sqlite:///{workdir / 'latency.sqlite'}", events),
    }
    for name, target in TARGETS.items():
        results[name]["target_ratio"] = target
    client.flushdb()
    server.close()
    DAY15_RESULTS.parent.mkdir(exist_ok=True)
    DAY15_RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
