"""POST /alerts: validate at the door, enqueue into the triage database, answer 202, 400 or 413.

The next triage run (scheduler or cron) classifies and routes what the API accepted, exactly like
the files and e-mails, so every source goes through one path.
"""
from __future__ import annotations

import json
import sqlite3
from datetime import datetime, timezone
from pathlib import Path

from day13_INGEST_sources import day13_InvalidAlert, day13_normalise
from day13_STORE_audit import day13_connect


def day13_create_api(db_path: Path, *, max_body_bytes: int):
    from flask import Flask, jsonify, request
    from werkzeug.exceptions import HTTPException

    day13_connect(db_path).close()  # the schema exists before the first request
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = max_body_bytes

    @app.post("/alerts")
    def receive():
        body = request.get_data(cache=False)  # 413 past MAX_CONTENT_LENGTH
        try:
            record = json.loads(body.decode("utf-8"))
            alert = day13_normalise(record, "api", datetime.now(timezone.utc))
        except (UnicodeDecodeError, ValueError) as exc:
            if isinstance(exc, day13_InvalidAlert):
                return jsonify({"error": "invalid alert", "field": exc.field, "detail": exc.detail}), 400
            return jsonify({"error": "body is not valid UTF-8 JSON", "detail": str(exc)[:200]}), 400
        db = sqlite3.connect(db_path, timeout=30)
        try:
            with db:
                db.execute("INSERT INTO day13_api_inbox (body, received_at) VALUES (?, ?)",
                           (json.dumps(record), datetime.now(timezone.utc).isoformat()))
        finally:
            db.close()
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
