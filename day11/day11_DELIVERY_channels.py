"""Delivery: Slack incoming webhook and e-mail, plus the ledger that makes a re-run post nothing twice.

Slack: 429 honours Retry-After, 5xx is retried with backoff, 4xx (invalid_blocks, no_service, ...) fails
loudly with Slack's own error text. The ledger has one row per (report date, channel), written after a
successful delivery: re-running the same date skips what was delivered, unless forced.
"""
from __future__ import annotations

import smtplib
import sqlite3
import time
from datetime import datetime, timezone
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path

DAY11_SLACK_ATTEMPTS = 4


class day11_DeliveryError(RuntimeError):
    """Delivery failed for good; the message carries the service's own reply."""


def day11_post_slack(session, url: str, payload: dict, sleep=time.sleep) -> str:
    for attempt in range(1, DAY11_SLACK_ATTEMPTS + 1):
        response = session.post(url, json=payload, timeout=15)
        if response.status_code < 300:
            return response.text.strip() or "ok"
        retryable = response.status_code == 429 or response.status_code >= 500
        if not retryable or attempt == DAY11_SLACK_ATTEMPTS:
            raise day11_DeliveryError(f"Slack answered {response.status_code}: {response.text.strip()[:300]}")
        sleep(float(response.headers.get("Retry-After", 2 ** (attempt - 1))))
    raise AssertionError("unreachable")


def day11_send_email(host: str, port: int, security: str, sender: str, recipients: tuple[str, ...], subject: str,
                     html: str, text: str, user: str | None = None, password: str | None = None) -> None:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = sender, ", ".join(recipients), subject
    message["Date"] = format_datetime(datetime.now(timezone.utc))
    message.set_content(text)
    message.add_alternative(html, subtype="html")
    try:
        factory = smtplib.SMTP_SSL if security == "ssl" else smtplib.SMTP
        with factory(host, port, timeout=20) as client:
            if security == "starttls":
                client.starttls()
            if user:
                client.login(user, password or "")
            client.send_message(message)
    except (smtplib.SMTPException, OSError) as exc:
        raise day11_DeliveryError(f"e-mail via {host}:{port} failed: {exc}") from None


class day11_Ledger:
    def __init__(self, path: Path):
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(path, isolation_level=None)
        self.db.execute("CREATE TABLE IF NOT EXISTS day11_deliveries (report_date TEXT NOT NULL, channel TEXT NOT NULL,"
                        " delivered_at TEXT NOT NULL, detail TEXT, PRIMARY KEY (report_date, channel))")

    def delivered(self, report_date: str, channel: str) -> bool:
        return self.db.execute("SELECT 1 FROM day11_deliveries WHERE report_date = ? AND channel = ?",
                               (report_date, channel)).fetchone() is not None

    def record(self, report_date: str, channel: str, detail: str) -> None:
        self.db.execute("INSERT OR REPLACE INTO day11_deliveries VALUES (?, ?, ?, ?)",
                        (report_date, channel, datetime.now(timezone.utc).isoformat(), detail[:500]))

    def close(self) -> None:
        self.db.close()
