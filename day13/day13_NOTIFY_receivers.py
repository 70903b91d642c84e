"""Receivers: Slack incoming webhooks, e-mail over SMTP, a REST ticket API, and local stand-ins.

A receiver in the routing file lists slack_configs, email_configs and/or ticket_configs; the
dispatcher sends one grouped notification to each. Failures are sorted once, here: transient
(HTTP 429/5xx, SMTP 4xx, timeouts, refused connections) or permanent (HTTP 4xx, SMTP 5xx).
"""
from __future__ import annotations

import json
import smtplib
import socket
import ssl
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path


class day13_TransientError(Exception):
    pass


class day13_PermanentError(Exception):
    pass


@dataclass(frozen=True)
class day13_Notification:
    receiver: str
    title: str
    lines: tuple[str, ...]
    fingerprints: tuple[str, ...]

    @property
    def text(self) -> str:
        return self.title + "\n" + "\n".join(self.lines)


def _http_post(url: str, payload: dict, headers: dict | None = None, timeout: float = 10) -> None:
    import requests

    try:
        response = requests.post(url, json=payload, headers=headers or {}, timeout=timeout)
    except requests.RequestException as exc:
        raise day13_TransientError(f"{url}: {exc}") from None
    reply = f"{response.status_code} {response.text.strip()[:300]}"
    if response.status_code == 429 or response.status_code >= 500:
        raise day13_TransientError(reply)
    if response.status_code >= 400:
        raise day13_PermanentError(reply)


class day13_SlackWebhook:
    def __init__(self, url: str):
        self.url = url

    def send(self, channel: str, note: day13_Notification) -> None:
        blocks = [{"type": "header", "text": {"type": "plain_text", "text": note.title[:150]}},
                  {"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(note.lines)[:2900] or "-"}}]
        _http_post(self.url, {"channel": channel, "text": note.title, "blocks": blocks})


class day13_LocalSlack:
    """The embedded Slack stand-in: posts land in day13_slack_outbox."""

    def __init__(self, db):
        self.db = db

    def send(self, channel: str, note: day13_Notification) -> None:
        self.db.execute("INSERT INTO day13_slack_outbox (channel, payload, posted_at) VALUES (?, ?, ?)",
                        (channel, json.dumps({"text": note.title, "lines": note.lines}), datetime.now(timezone.utc).isoformat()))


class day13_SmtpEmail:
    def __init__(self, host: str, port: int, security: str, sender: str, user: str | None = None,
                 password: str | None = None, timeout: float = 20):
        self.host, self.port, self.security, self.sender = host, port, security, sender
        self.user, self.password, self.timeout = user, password, timeout

    def send(self, to: str, note: day13_Notification) -> None:
        message = EmailMessage()
        message["From"], message["To"], message["Subject"] = self.sender, to, note.title
        message["Date"], message["Message-ID"] = format_datetime(datetime.now(timezone.utc)), make_msgid(domain="day13.local")
        message.set_content(note.text)
        try:
            factory = smtplib.SMTP_SSL if self.security == "ssl" else smtplib.SMTP
            with factory(self.host, self.port, timeout=self.timeout) as client:
                if self.security == "starttls":
                    client.starttls(context=ssl.create_default_context())
                if self.user:
                    client.login(self.user, self.password or "")
                client.send_message(message)
        except smtplib.SMTPResponseException as exc:
            error = day13_TransientError if 400 <= exc.smtp_code < 500 else day13_PermanentError
            raise error(f"{exc.smtp_code} {exc.smtp_error!r}") from None
        except smtplib.SMTPRecipientsRefused as exc:
            raise day13_PermanentError(f"recipient refused: {exc.recipients}") from None
        except (smtplib.SMTPException, OSError, socket.timeout) as exc:
            raise day13_TransientError(f"{self.host}:{self.port}: {exc}") from None


class day13_TicketApi:
    def __init__(self, url: str, token: str | None = None):
        self.url, self.token = url.rstrip("/"), token

    def send(self, queue: str, note: day13_Notification) -> None:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        _http_post(f"{self.url}/tickets", {"queue": queue, "title": note.title, "body": note.text,
                                           "fingerprints": list(note.fingerprints)}, headers)


class day13_LocalTickets:
    """The embedded ticket system: a table in the triage database."""

    def __init__(self, db):
        self.db = db

    def send(self, queue: str, note: day13_Notification) -> None:
        self.db.execute("INSERT INTO day13_tickets (queue, title, body, created_at) VALUES (?, ?, ?, ?)",
                        (queue, note.title, note.text, datetime.now(timezone.utc).isoformat()))


class day13_Dispatcher:
    def __init__(self, slack, email, tickets, *, attempts: int = 3, backoff_seconds: float = 1.0, sleep=time.sleep):
        self.targets = {"slack_configs": (slack, "channel"), "email_configs": (email, "to"), "ticket_configs": (tickets, "queue")}
        self.attempts, self.backoff, self.sleep = attempts, backoff_seconds, sleep

    def deliver(self, receiver: dict, note: day13_Notification) -> None:
        """Send to every config of the receiver; transient failures retried with backoff, then raised."""
        for kind, (client, key) in self.targets.items():
            for config in receiver.get(kind) or []:
                for attempt in range(1, self.attempts + 1):
                    try:
                        client.send(config[key], note)
                        break
                    except day13_TransientError:
                        if attempt == self.attempts:
                            raise
                        self.sleep(self.backoff * 2 ** (attempt - 1))


class day13_OutboxHandler:
    """aiosmtpd handler for the embedded e-mail receiver: each message saved as an .eml file."""

    def __init__(self, outbox: Path):
        self.outbox, self.count = Path(outbox), 0

    async def handle_DATA(self, server, session, envelope):
        self.outbox.mkdir(parents=True, exist_ok=True)
        self.count += 1
        (self.outbox / f"day13_mail_{time.strftime('%Y%m%dT%H%M%S')}_{self.count:04d}.eml").write_bytes(envelope.content)
        return "250 2.0.0 stored in the day13 outbox"
