"""POST /alerts: authenticate, validate at the door, enqueue into the triage database; 202, 400, 401 or 413.

Senders authenticate with `Authorization: Bearer <DAY13_API_TOKEN>` or `X-Day13-Signature: sha256=<hex>`
(HMAC-SHA256 of the body with DAY13_API_HMAC_SECRET), compared in constant time; a missing or wrong
credential gets 401 and an audit row. With neither configured, `serve` binds loopback only.
Every input answers 202, 400 (naming the field or limit), 401 or 413, never 500. The next triage run
classifies and routes what the API accepted, exactly like the files and e-mails.
"""
from __future__ import annotations

import hashlib
import hmac
import logging
from datetime import datetime, timezone

from day13_INGEST_sources import day13_InvalidAlert, day13_load_json, day13_normalise, day13_UnreadableFile
from day13_STORE_audit import day13_json, day13_safe_text, day13_Store

DAY13_LOG = logging.getLogger("day13.api")
DAY13_SIGNATURE_HEADER = "X-Day13-Signature"


def day13_authenticated(settings, headers, body: bytes) -> bool:
    token = settings.api_token.get_secret_value() if settings.api_token else None
    secret = settings.api_hmac_secret.get_secret_value() if settings.api_hmac_secret else None
    if token is None and secret is None:
        return True  # loopback only: day13_check_bind refuses anything else
    scheme, _, given = headers.get("Authorization", "").partition(" ")
    if token is not None and scheme.lower() == "bearer" and hmac.compare_digest(given.encode(), token.encode()):
        return True  # the scheme name is case-insensitive (RFC 9110 11.1); the token itself is compared exactly
    algorithm, _, signature = headers.get(DAY13_SIGNATURE_HEADER, "").partition("=")
    if secret is not None and algorithm.lower() == "sha256":
        expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        return hmac.compare_digest(signature.lower().encode(), expected.encode())  # hex digits in either case
    return False


def day13_create_api(settings):
    from flask import Flask, jsonify, request
    from werkzeug.exceptions import HTTPException

    path, max_body_bytes = settings.audit_log_path, settings.max_body_bytes
    day13_Store.open(path).close()  # the schema exists before the first request
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = max_body_bytes

    def _audit_rejection(now: datetime) -> None:
        store = day13_Store.open(path)
        try:
            audit = store.audit("day13-api")
            with store.transaction(audit):
                audit.record("auth_rejected", now, rationale="missing or wrong sender credential",
                             remote=day13_safe_text(request.remote_addr or "?"))
        finally:
            store.close()

    @app.post("/alerts")
    def receive():
        body = request.get_data(cache=False)  # 413 past MAX_CONTENT_LENGTH
        now = datetime.now(timezone.utc)
        if not day13_authenticated(settings, request.headers, body):
            _audit_rejection(now)
            return jsonify({"error": "unauthorised: send Authorization: Bearer <token> or a signed body"}), 401
        try:
            record = day13_load_json(body.decode("utf-8"))
            alert = day13_normalise(record, "api", now)
        except UnicodeDecodeError as exc:
            return jsonify({"error": "body is not valid UTF-8", "detail": f"byte {exc.start}"}), 400
        except day13_InvalidAlert as exc:
            return jsonify({"error": "invalid alert", "field": exc.field, "detail": day13_safe_text(exc.detail)}), 400
        except day13_UnreadableFile as exc:
            return jsonify({"error": "body is not acceptable JSON", "detail": str(exc)}), 400
        except Exception as exc:  # no input may answer 500: an unforeseen one is refused, named by its class
            DAY13_LOG.warning("alert refused by an unforeseen check", extra={"error": type(exc).__name__})
            return jsonify({"error": "invalid alert", "detail": type(exc).__name__}), 400
        store = day13_Store.open(path)
        try:
            with store.transaction():
                store.api_inbox_add(day13_json(record), now)
        finally:
            store.close()
        return jsonify({"status": "accepted", "alert_id": alert.alert_id, "fingerprint": alert.fingerprint}), 202

    @app.get("/health")
    def health():
        return jsonify({"status": "ok"})

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        if exc.code == 413:
            return jsonify({"error": "payload too large", "limit_bytes": max_body_bytes}), 413
        return jsonify({"error": exc.name, "detail": exc.description}), exc.code

    return app
