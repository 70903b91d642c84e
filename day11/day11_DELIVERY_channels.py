"""Delivery: Slack incoming webhook and e-mail, plus the ledger that makes every (date, channel) go out once.

Every fault ends as one of three truthful outcomes, never as an exception to the caller:
  delivered  the service accepted it;
  failed     surely not delivered (refused connection, 4xx, 5xx/429 after the retries, Retry-After beyond
             the cap): the next run tries again;
  ambiguous  the request went out and no answer came (timeout, dropped connection): it may have been
             posted, so it is not re-sent automatically; `--force` sends it again.
Retries and Retry-After come from the one policy in day11_HTTP_client. No message carries a URL:
urllib3's texts quote the webhook path, which is the webhook's secret.

The ledger claims (date, channel) in one SQLite transaction before sending, so two runs at the same
moment deliver once: the second finds the claim and skips.
"""
from __future__ import annotations

import smtplib
import socket
import sqlite3
from dataclasses import dataclass
from datetime import datetime, timezone
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path

from day11_LOG_setup import day11_redact

DELIVERED, FAILED, AMBIGUOUS, CLAIMED = "delivered", "failed", "ambiguous", "claimed"
DAY11_SLACK_BODY_BYTES = 16_384  # Slack answers a word ("ok", "invalid_blocks"); a bigger body is not read


@dataclass(frozen=True)
class day11_Delivery:
    state: str  # delivered, failed or ambiguous
    detail: str


def day11_post_slack(session, url: str, payload: dict, *, timeout: float = 15.0, retry_after_cap: float = 60.0) -> day11_Delivery:
    import requests

    from day11_HTTP_client import day11_network_reason, day11_read_body, day11_retry_after, day11_sent_nothing

    try:
        response = session.post(url, json=payload, timeout=timeout, allow_redirects=False,  # never re-post elsewhere
                                stream=True)
    except requests.RequestException as exc:
        state = FAILED if day11_sent_nothing(exc) else AMBIGUOUS
        return day11_Delivery(state, f"Slack: {day11_network_reason(exc)}")
    try:  # the status decides; the body is only quoted, and never read beyond a few kB
        text = (day11_read_body(response, DAY11_SLACK_BODY_BYTES) or b"").decode("utf-8", "replace").strip()
    except requests.RequestException:
        text = ""
    if response.status_code < 300:
        return day11_Delivery(DELIVERED, text[:100] or "ok")
    return day11_Delivery(FAILED, f"Slack answered {response.status_code}: {text[:200]}"
                                  + day11_retry_after(response, retry_after_cap))


def day11_send_email(host: str, port: int, security: str, sender: str, recipients: tuple[str, ...], subject: str,
                     html: str, text: str, user: str | None = None, password: str | None = None,
                     timeout: float = 20.0) -> day11_Delivery:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = sender, ", ".join(recipients), subject
    message["Date"] = format_datetime(datetime.now(timezone.utc))
    message.set_content(text)
    message.add_alternative(html, subtype="html")
    stage = "connect"
    try:
        factory = smtplib.SMTP_SSL if security == "ssl" else smtplib.SMTP
        with factory(host, port, timeout=timeout) as client:
            if security == "starttls":
                client.starttls()
            if user:
                client.login(user, password or "")
            stage = "send"
            client.send_message(message)
    except smtplib.SMTPResponseException as exc:
        return day11_Delivery(FAILED, f"e-mail via {host}:{port} refused: {exc.smtp_code}")
    except smtplib.SMTPRecipientsRefused:
        return day11_Delivery(FAILED, f"e-mail via {host}:{port}: every recipient refused")
    except (smtplib.SMTPException, OSError) as exc:
        # after DATA went out, a lost connection or a timeout leaves the outcome unknown
        state = AMBIGUOUS if stage == "send" and isinstance(exc, (socket.timeout, smtplib.SMTPServerDisconnected,
                                                                  ConnectionError)) else FAILED
        return day11_Delivery(state, f"e-mail via {host}:{port}: {type(exc).__name__}")
    return day11_Delivery(DELIVERED, "sent")


class day11_Ledger:
    """One row per (report date, channel): claimed, delivered, failed or ambiguous, with the run that wrote it."""

    def __init__(self, path: Path):
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(path, isolation_level=None, timeout=30)
        self.db.execute("PRAGMA busy_timeout = 30000")
        self.db.execute("CREATE TABLE IF NOT EXISTS day11_claims (report_date TEXT NOT NULL, channel TEXT NOT NULL,"
                        " state TEXT NOT NULL, run_id TEXT NOT NULL, updated_at TEXT NOT NULL, detail TEXT,"
                        " PRIMARY KEY (report_date, channel))")
        old = self.db.execute("SELECT 1 FROM sqlite_master WHERE name = 'day11_deliveries'").fetchone()
        if old:  # the earlier ledger held only deliveries: carry them over once
            self.db.execute("INSERT OR IGNORE INTO day11_claims SELECT report_date, channel, 'delivered', 'earlier',"
                            " delivered_at, detail FROM day11_deliveries")
            self.db.execute("DROP TABLE day11_deliveries")

    def state(self, report_date: str, channel: str) -> str | None:
        row = self.db.execute("SELECT state FROM day11_claims WHERE report_date = ? AND channel = ?",
                              (report_date, channel)).fetchone()
        return row[0] if row else None

    def claim(self, report_date: str, channel: str, run_id: str, force: bool = False) -> str | None:
        """Take the (date, channel) for this run; returns None when taken, else the state that blocks it."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            current = self.state(report_date, channel)
            if current not in (None, FAILED) and not force:
                self.db.execute("COMMIT")
                return current
            self.db.execute("INSERT OR REPLACE INTO day11_claims VALUES (?, ?, ?, ?, ?, ?)",
                            (report_date, channel, CLAIMED, run_id, _now(), None))
            self.db.execute("COMMIT")
            return None
        except BaseException:
            self.db.execute("ROLLBACK")
            raise

    def settle(self, report_date: str, channel: str, run_id: str, outcome: day11_Delivery) -> None:
        detail = day11_redact(outcome.detail)[:500]  # a service's answer may quote the webhook path or a token
        self.db.execute("UPDATE day11_claims SET state = ?, updated_at = ?, detail = ? WHERE report_date = ? AND"
                        " channel = ? AND run_id = ?", (outcome.state, _now(), detail, report_date, channel, run_id))

    def delivered(self, report_date: str, channel: str) -> bool:
        return self.state(report_date, channel) == DELIVERED

    def close(self) -> None:
        self.db.close()


def _now() -> str:
    return datetime.now(timezone.utc).isoformat()
