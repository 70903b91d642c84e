"""The Flask app: signed webhooks in, 202 only once the event is in Redis; health, metrics, dashboard.

Every answer is JSON with a 2xx or 4xx status, or 503 with Retry-After when Redis cannot take the
event (never a 202 for an event that is not stored). Unknown event types get 200 "ignored", so a
sender adding new types never retries forever.
"""
from __future__ import annotations

import logging
from pathlib import Path

import orjson

from day15_BUFFER_streams import day15_Buffer, day15_encode, day15_now_ms
from day15_EVENTS_validation import DAY15_KNOWN_TYPES, day15_InvalidEvent, day15_validate_event
from day15_SIGNING_webhooks import day15_SignatureError, day15_verify

DAY15_LOG = logging.getLogger("day15.webhook")
DAY15_RETRY_AFTER_SECONDS = "5"
DAY15_DASHBOARD = Path(__file__).resolve().parent / "templates" / "day15_dashboard.html"
DAY15_METRIC_NAMES = ("received", "queued", "duplicates", "rejected", "ignored", "dead_lettered")


class _Reject(Exception):
    def __init__(self, status: int, body: dict):
        super().__init__(body.get("error"))
        self.status, self.body = status, body


def day15_create_app(buffer: day15_Buffer, store, secrets: list[str], *, max_body_bytes: int, max_batch_events: int,
                     allow_unsigned: bool = False):
    """The app. Without secrets it refuses to exist unless allow_unsigned says so explicitly."""
    import redis
    from flask import Flask, Response, jsonify, request
    from werkzeug.exceptions import HTTPException

    if not secrets and not allow_unsigned:
        raise ValueError("no webhook secret: refusing to serve unsigned requests (set DAY15_WEBHOOK_SECRET, "
                         "or DAY15_ALLOW_UNSIGNED=true for a local experiment)")
    if not secrets:
        DAY15_LOG.warning("signature checks are OFF: anyone who can reach this port can inject events",
                          extra={"setting": "DAY15_ALLOW_UNSIGNED=true"})
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = max_body_bytes
    try:
        buffer.ensure_group()  # lag is measured from the first event, even before any consumer joins
    except redis.RedisError as exc:
        DAY15_LOG.warning("Redis not reachable at start; requests get 503 until it is", extra={"error": str(exc)[:200]})

    def count(field: str, amount: int = 1) -> None:
        try:
            buffer.count(field, amount)
        except redis.RedisError:
            pass  # metrics must never turn a good answer into an error

    def read_events(batch: bool) -> tuple[list, bytes]:
        body = request.get_data(cache=False)  # raises 413 past MAX_CONTENT_LENGTH
        if secrets:
            try:
                day15_verify(secrets, body, request.headers)
            except day15_SignatureError as exc:
                raise _Reject(401, {"error": "invalid signature", "detail": str(exc)}) from None
        try:
            payload = orjson.loads(body)  # C speed; also refuses NaN, lone surrogates and invalid UTF-8
        except orjson.JSONDecodeError as exc:
            raise _Reject(400, {"error": "body is not valid UTF-8 JSON", "detail": str(exc)[:200]}) from None
        if not batch:
            return [payload], body  # a single event is queued as received, not re-encoded
        events = payload.get("events") if isinstance(payload, dict) else None
        if not isinstance(events, list) or not events:
            raise _Reject(400, {"error": "invalid batch", "field": "events", "detail": "must be a non-empty list"})
        if len(events) > max_batch_events:
            raise _Reject(413, {"error": "batch too large", "field": "events", "limit": max_batch_events})
        return events, b""

    def reply(body: dict, status: int) -> Response:
        return Response(orjson.dumps(body), status=status, mimetype="application/json")  # C speed per request

    def ingest(batch: bool):
        received_at = day15_now_ms()
        try:
            events, raw_single = read_events(batch)
            for index, event in enumerate(events):
                try:
                    day15_validate_event(event)
                except day15_InvalidEvent as exc:
                    field = f"events[{index}].{exc.field}" if batch else exc.field
                    raise _Reject(400, {"error": "invalid event", "field": field, "detail": exc.detail}) from None
        except _Reject as reject:
            count("received", 1)
            count("rejected", 1)
            DAY15_LOG.info("request rejected", extra={"status": reject.status, "error": reject.body["error"],
                                                      "field": reject.body.get("field", "")})
            return reply(reject.body, reject.status)
        known = [e for e in events if e["type"] in DAY15_KNOWN_TYPES]
        try:
            queued = buffer.enqueue([(e["id"], raw_single or day15_encode(e)) for e in known], received_at,
                                    ignored=len(events) - len(known))
        except redis.RedisError as exc:
            DAY15_LOG.error("buffer unavailable", extra={"error": str(exc)[:200], "events": len(known)})
            response = jsonify({"error": "buffer unavailable, nothing was stored; retry later"})
            response.headers["Retry-After"] = DAY15_RETRY_AFTER_SECONDS
            return response, 503
        outcomes = iter(queued)  # by position: the same id twice in one batch is queued once, then a duplicate
        results = [{"id": e["id"], "status": ("queued" if next(outcomes) else "duplicate")
                    if e["type"] in DAY15_KNOWN_TYPES else "ignored"} for e in events]
        n_queued = sum(r["status"] == "queued" for r in results)
        code = 202 if n_queued else 200
        if not batch:
            result = results[0]
            return reply({**result, "duplicate": result["status"] == "duplicate"}, code)
        summary = {s: sum(r["status"] == s for r in results) for s in ("queued", "duplicate", "ignored")}
        return reply({**summary, "results": results}, code)

    @app.post("/webhook/events")
    def webhook_event():
        return ingest(batch=False)

    @app.post("/webhook/batch")
    def webhook_batch():
        return ingest(batch=True)

    def metrics() -> dict:
        counters = buffer.counters()
        depth = buffer.depth()
        summary = store.summary()
        return {**{name: counters.get(name, 0) for name in DAY15_METRIC_NAMES}, "processed": summary["processed"],
                "lag": depth["lag"], "pending": depth["pending"], "queue_depth": depth["lag"] + depth["pending"],
                "latency_ms": summary["latency_ms"], "events_per_second": summary["events_per_second"]}

    @app.get("/health")
    def health():
        try:
            buffer.redis.ping()
            depth = buffer.depth()
        except redis.RedisError as exc:
            return jsonify({"status": "degraded", "redis": "unreachable", "detail": str(exc)[:200]}), 503
        return jsonify({"status": "ok", "redis": "ok", **depth})

    @app.get("/metrics")
    def metrics_endpoint():
        try:
            values = metrics()
        except redis.RedisError:
            return jsonify({"error": "buffer unavailable"}), 503
        if request.args.get("format") == "prometheus":
            lines = [f"day15_{k}_total {v}" for k, v in values.items() if k in DAY15_METRIC_NAMES + ("processed",)]
            lines += [f"day15_{k} {values[k]}" for k in ("lag", "pending", "queue_depth")]
            lines += [f'day15_latency_ms{{quantile="{label}"}} {values["latency_ms"][q] or 0}'
                      for q, label in (("p50", "0.5"), ("p99", "0.99"))]
            return Response("\n".join(lines) + "\n", mimetype="text/plain; version=0.0.4")
        return jsonify(values)

    @app.get("/api/summary")
    def summary():
        try:
            return jsonify({**store.summary(), "pipeline": metrics()})
        except redis.RedisError:
            return jsonify({**store.summary(), "pipeline": None})

    @app.get("/")
    def dashboard():
        return Response(DAY15_DASHBOARD.read_text(encoding="utf-8"), mimetype="text/html")

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        if exc.code == 413:
            count("rejected", 1)
            return jsonify({"error": "payload too large", "limit_bytes": max_body_bytes}), 413
        return jsonify({"error": exc.name, "detail": exc.description}), exc.code

    return app
