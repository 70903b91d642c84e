"""The Flask app: signed webhooks in, 202 only once the event is in Redis; health, metrics, dashboard.

Every answer is JSON with a 2xx or 4xx status, or 503 with Retry-After when Redis cannot take the
event (never a 202 for an event that is not stored). Unknown event types get 200 "ignored", so a
sender adding new types never retries forever.
"""
from __future__ import annotations

import logging
import threading
import time
import uuid
from pathlib import Path

import orjson

from day15_BUFFER_streams import day15_Buffer, day15_encode, day15_now_ms, day15_probe_client
from day15_EVENTS_validation import DAY15_KNOWN_TYPES, day15_InvalidEvent, day15_validate_event
from day15_SIGNING_webhooks import day15_SignatureError, day15_verify

DAY15_LOG = logging.getLogger("day15.webhook")
DAY15_RETRY_AFTER_SECONDS = "5"
DAY15_DASHBOARD = Path(__file__).resolve().parent / "templates" / "day15_dashboard.html"
DAY15_METRIC_NAMES = ("received", "queued", "duplicates", "rejected", "ignored", "dead_lettered")
DAY15_REDIS_RECHECK_SECONDS = 1.0  # after a Redis failure, answer 503 at once for this long instead of waiting on it again


DAY15_REVENUE_PAGES = frozenset({"/", "/metrics", "/api/summary", "/api/trends"})


def day15_dashboard_refusal(request, token: str | None):
    """None if the request may read the revenue pages, else the JSON refusal (401 asks for the token)."""
    import base64
    import hmac

    from flask import jsonify

    from day15_CONFIG_settings import day15_is_loopback

    if token is None:
        if day15_is_loopback(request.remote_addr or ""):
            return None
        return jsonify({"error": "the revenue pages answer loopback clients only; set DAY15_DASHBOARD_TOKEN"}), 403
    kind, _, credentials = request.headers.get("Authorization", "").partition(" ")
    offered = credentials.strip()
    if kind.lower() == "basic":
        try:
            offered = base64.b64decode(offered, validate=True).decode().partition(":")[2]
        except ValueError:
            offered = ""
    elif kind.lower() != "bearer":
        offered = ""
    if hmac.compare_digest(offered.encode(), token.encode()):  # constant time: no timing oracle on the token
        return None
    response = jsonify({"error": "the revenue pages need DAY15_DASHBOARD_TOKEN (Bearer, or Basic as password)"})
    response.headers["WWW-Authenticate"] = 'Basic realm="day15 dashboard", charset="UTF-8"'
    return response, 401


class day15_RedisState:
    """What this process last saw of Redis. After a failure, requests get 503 (and /health "degraded")
    without waiting on Redis for DAY15_REDIS_RECHECK_SECONDS; the next request then tries again. So
    during an outage every answer comes at once, and only one request per second pays a timeout."""

    def __init__(self, clock=time.monotonic):
        self.clock, self._lock = clock, threading.Lock()
        self.down_since: float | None = None  # wall-clock time the current outage was first seen
        self.recheck_at, self.error = 0.0, ""
        self.outages = self.unavailable = 0  # outages seen and requests answered 503, by this process
        self._unavailable_at_start = 0

    def known_down(self) -> bool:
        return self.clock() < self.recheck_at

    def failed(self, exc: Exception) -> None:
        with self._lock:
            self.recheck_at, self.error = self.clock() + DAY15_REDIS_RECHECK_SECONDS, f"{type(exc).__name__}: {str(exc)[:200]}"
            if self.down_since is None:
                self.down_since, self.outages, self._unavailable_at_start = time.time(), self.outages + 1, self.unavailable
                DAY15_LOG.error("Redis unreachable; answering 503 with Retry-After until it is back",
                                extra={"error": self.error})

    def reachable(self) -> None:
        if self.down_since is None:
            return
        with self._lock:
            if self.down_since is not None:
                DAY15_LOG.warning("Redis reachable again", extra={"outage_seconds": round(time.time() - self.down_since, 1),
                                                                  "answered_503": self.unavailable - self._unavailable_at_start})
                self.down_since, self.recheck_at = None, 0.0

    def report(self) -> dict:
        down = self.down_since is not None
        return {"redis": "unreachable" if down else "ok",
                "redis_down_seconds": round(time.time() - self.down_since, 1) if down else 0,
                "redis_error": self.error if down else "", "redis_outages": self.outages, "unavailable": self.unavailable}


class _Reject(Exception):
    def __init__(self, status: int, body: dict):
        super().__init__(body.get("error"))
        self.status, self.body = status, body


def day15_create_app(buffer: day15_Buffer, store, secrets: list[str], *, max_body_bytes: int, max_batch_events: int,
                     allow_unsigned: bool = False, dashboard_token: str | None = None):
    """The app. Without secrets it refuses to exist unless allow_unsigned says so explicitly.
    The revenue pages (/, /metrics, /api/summary, /api/trends) need dashboard_token when one is set (Bearer, or Basic
    with the token as password, so a browser asks for it); without one they answer loopback clients only.
    /health stays open for load balancers and probes."""
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

    @app.before_request
    def revenue_pages_need_the_token():
        if request.path in DAY15_REVENUE_PAGES:
            return day15_dashboard_refusal(request, dashboard_token)
        return None
    state = app.extensions["day15_redis"] = day15_RedisState()
    try:
        buffer.ensure_group()  # lag is measured from the first event, even before any consumer joins
    except redis.RedisError as exc:
        DAY15_LOG.warning("Redis not reachable at start; requests get 503 until it is", extra={"error": str(exc)[:200]})
        state.failed(exc)

    def count_rejected() -> None:
        if state.known_down():
            return  # never wait on a Redis known to be down just to count
        try:
            buffer.count_rejected()
        except redis.RedisError as exc:
            state.failed(exc)  # metrics must never turn a good answer into an error
    app.extensions["day15_count_rejected"] = count_rejected

    def unavailable():
        state.unavailable += 1  # one log line per outage (day15_RedisState), not one per refused request
        response = jsonify({"error": "buffer unavailable; retry later", "detail": "nothing was queued, or, if Redis "
                            "timed out mid-request, the retry is answered as a duplicate", "redis": state.report()["redis"]})
        response.headers["Retry-After"] = DAY15_RETRY_AFTER_SECONDS
        return response, 503

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

    known_types = frozenset(DAY15_KNOWN_TYPES)

    def ingest(batch: bool):
        received_at = day15_now_ms()
        try:
            events, raw_single = read_events(batch)
            known, bodies = [], []  # the known events and their bodies as queued (a batch's encoded here: orjson
            for index, event in enumerate(events):  # encodes fewer levels than it parses, so an encode error is a 400)
                try:
                    day15_validate_event(event)
                    if event["type"] in known_types:
                        known.append(event)
                        bodies.append(day15_encode(event) if batch else raw_single)
                except day15_InvalidEvent as exc:
                    field = f"events[{index}].{exc.field}" if batch else exc.field
                    raise _Reject(400, {"error": "invalid event", "field": field, "detail": exc.detail}) from None
                except orjson.JSONEncodeError:
                    raise _Reject(400, {"error": "invalid event", "field": f"events[{index}]",
                                        "detail": "nested too deeply (more than 254 levels)"}) from None
        except _Reject as reject:
            count_rejected()
            DAY15_LOG.info("request rejected", extra={"status": reject.status, "error": reject.body["error"],
                                                      "field": reject.body.get("field", "")})
            return reply(reject.body, reject.status)
        if state.known_down():
            return unavailable()
        try:
            queued = buffer.enqueue([(e["id"], body) for e, body in zip(known, bodies)], received_at,
                                    ignored=len(events) - len(known), request_id=uuid.uuid4().hex)
        except redis.RedisError as exc:
            state.failed(exc)
            return unavailable()
        state.reachable()
        outcomes = iter(queued)  # by position: the same id twice in one batch is queued once, then a duplicate
        results = [{"id": e["id"], "status": ("queued" if next(outcomes) else "duplicate")
                    if e["type"] in known_types else "ignored"} for e in events]
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

    probe = day15_Buffer(day15_probe_client(buffer.redis))  # one short try: /health never waits on Redis for long

    @app.get("/health")
    def health():
        if not state.known_down():
            try:
                probe.redis.ping()
                depth = probe.depth()
                state.reachable()
                return jsonify({"status": "ok", "redis": "ok", **depth})
            except redis.RedisError as exc:
                state.failed(exc)
        return jsonify({"status": "degraded", **state.report()}), 503

    def redis_metrics() -> dict | None:
        if state.known_down():
            return None
        try:
            values = metrics()
        except redis.RedisError as exc:
            state.failed(exc)
            return None
        state.reachable()
        return values

    @app.get("/metrics")
    def metrics_endpoint():
        values, local = redis_metrics(), state.report()
        if request.args.get("format") == "prometheus":
            lines = [f"day15_redis_up {0 if values is None else 1}", f"day15_redis_down_seconds {local['redis_down_seconds']}",
                     f"day15_redis_outages_total {local['redis_outages']}", f"day15_unavailable_total {local['unavailable']}"]
            if values is not None:
                lines += [f"day15_{k}_total {v}" for k, v in values.items() if k in DAY15_METRIC_NAMES + ("processed",)]
                lines += [f"day15_{k} {values[k]}" for k in ("lag", "pending", "queue_depth")]
                lines += [f'day15_latency_ms{{quantile="{label}"}} {values["latency_ms"][q] or 0}'
                          for q, label in (("p50", "0.5"), ("p99", "0.99"))]
            return Response("\n".join(lines) + "\n", mimetype="text/plain; version=0.0.4")
        if values is None:
            return jsonify({"error": "buffer unavailable", **local}), 503
        return jsonify({**values, **local})

    @app.get("/api/summary")
    def summary():
        return jsonify({**store.summary(), "pipeline": redis_metrics()})

    @app.get("/api/trends")
    def trends():
        return jsonify(store.trends())

    @app.get("/")
    def dashboard():
        return Response(DAY15_DASHBOARD.read_text(encoding="utf-8"), mimetype="text/html")

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        if request.path.startswith("/webhook/"):
            count_rejected()  # a sender's request refused: counted like every other refusal
        if exc.code == 413:
            return jsonify({"error": "payload too large", "limit_bytes": max_body_bytes}), 413
        return jsonify({"error": exc.name, "detail": exc.description}), exc.code

    return app
