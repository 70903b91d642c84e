"""Receivers: Slack incoming webhooks, e-mail over SMTP, a REST ticket API, and local stand-ins.

A receiver in the routing file lists slack_configs, email_configs and/or ticket_configs; the
dispatcher sends one grouped notification to each. Failures are sorted once, here: transient
(HTTP 429/5xx, SMTP 4xx, timeouts, refused connections) or permanent (HTTP 4xx, SMTP 5xx).

Every notification carries its outbox idempotency key. The ticket API gets it as an Idempotency-Key
header, e-mail as a Message-ID derived from it (receivers and mailbox stores drop a Message-ID they
already have), so a re-send after a crash is no repeat there. Slack incoming webhooks take no key.
Text entering Slack mrkdwn (section text and the fallback `text`) has & < > escaped, so an alert
field such as `<!channel>` is shown, never acted on.
"""
from __future__ import annotations

import hashlib
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


DAY13_SLACK_SECTION_CHARS = 2_900  # Slack's section text limit is 3,000 characters
DAY13_SLACK_HEADER_CHARS = 150  # Slack's header block limit


@dataclass(frozen=True)
class day13_Notification:
    receiver: str
    title: str
    lines: tuple[str, ...]
    fingerprints: tuple[str, ...]
    more: int = 0  # alerts in the group beyond the lines shown
    key: str = ""  # the outbox idempotency key

    @property
    def all_lines(self) -> tuple[str, ...]:
        return self.lines + ((f"… and {self.more} more",) if self.more else ())

    @property
    def text(self) -> str:
        return self.title + "\n" + "\n".join(self.all_lines)


def day13_mrkdwn_escape(text: str) -> str:
    """Slack's three control characters: `<!channel>`, `<@U123>` and links become plain text."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def day13_slack_payload(channel: str, note: day13_Notification) -> dict:
    """Header (plain_text, never parsed), section (escaped mrkdwn, cut at whole lines keeping '… and N more')."""
    lines, used, dropped = [], 0, 0
    room = DAY13_SLACK_SECTION_CHARS - 40  # keeps space for the "… and N more" line
    for line in note.lines:
        escaped = day13_mrkdwn_escape(line)
        if used + len(escaped) + 1 > room:
            dropped += 1  # counted, and the next lines still get their chance: one long line never hides the rest
            continue
        lines.append(escaped)
        used += len(escaped) + 1
    more = note.more + dropped
    if more:
        lines.append(f"… and {more} more")
    blocks = [{"type": "header", "text": {"type": "plain_text", "text": note.title[:DAY13_SLACK_HEADER_CHARS]}},
              {"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(lines)[:DAY13_SLACK_SECTION_CHARS] or "-"}}]
    return {"channel": channel, "text": day13_mrkdwn_escape(note.title), "blocks": blocks}


def day13_message_id(key: str) -> str:
    return f"<{key}@day13.local>"


def _http_post(url: str, payload: dict, headers: dict | None = None, timeout: float = 10) -> None:
    import requests

    from urllib.parse import urlsplit

    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]  # a webhook URL's path is its secret: errors name the host only
    try:
        response = requests.post(url, json=payload, headers=headers or {}, timeout=timeout)
    except requests.RequestException as exc:
        raise day13_TransientError(f"{host}: {type(exc).__name__}") from None
    text = response.text.strip()
    # The reply is untrusted text that may echo the request: every secret we sent is cut out before it is kept.
    for secret in (parts.path, parts.query, parts.netloc, *(headers or {}).values()):
        for piece in {secret, *secret.split()}:  # "Bearer <token>": the token alone too
            if len(piece) >= 8:
                text = text.replace(piece, "[redacted]")
    reply = f"{response.status_code} {text[:300]}"
    if response.status_code == 429 or response.status_code >= 500:
        raise day13_TransientError(reply)
    if response.status_code >= 400:
        raise day13_PermanentError(reply)


class day13_SlackWebhook:
    def __init__(self, url: str):
        self.url = url

    def send(self, channel: str, note: day13_Notification) -> None:
        _http_post(self.url, day13_slack_payload(channel, note))


class day13_LocalSlack:
    """The embedded Slack stand-in: the payload Slack would get lands in day13_slack_outbox (no idempotency)."""

    def __init__(self, store):
        self.store = store

    def send(self, channel: str, note: day13_Notification) -> None:
        self.store.local_slack_post(channel, day13_slack_payload(channel, note), datetime.now(timezone.utc))


class day13_SmtpEmail:
    def __init__(self, host: str, port: int, security: str, sender: str, user: str | None = None,
                 password: str | None = None, timeout: float = 20):
        self.host, self.port, self.security, self.sender = host, port, security, sender
        self.user, self.password, self.timeout = user, password, timeout

    def send(self, to: str, note: day13_Notification) -> None:
        message = EmailMessage()
        message["From"], message["To"], message["Subject"] = self.sender, to, note.title
        message["Date"] = format_datetime(datetime.now(timezone.utc))
        message["Message-ID"] = day13_message_id(note.key) if note.key else make_msgid(domain="day13.local")
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
        if note.key:
            headers["Idempotency-Key"] = note.key
        _http_post(f"{self.url}/tickets", {"queue": queue, "title": note.title, "body": note.text,
                                           "fingerprints": list(note.fingerprints), "idempotency_key": note.key}, headers)


class day13_LocalTickets:
    """The embedded ticket system: a table in the triage database, one ticket per idempotency key."""

    def __init__(self, store):
        self.store = store

    def send(self, queue: str, note: day13_Notification) -> None:
        self.store.local_ticket(queue, note.title, note.text, note.key or hashlib.sha256(note.text.encode()).hexdigest(),
                                datetime.now(timezone.utc))


class day13_Dispatcher:
    def __init__(self, slack, email, tickets, *, attempts: int = 3, backoff_seconds: float = 1.0, sleep=time.sleep):
        self.targets = {"slack_configs": (slack, "channel"), "email_configs": (email, "to"), "ticket_configs": (tickets, "queue")}
        self.attempts, self.backoff, self.sleep = attempts, backoff_seconds, sleep

    def deliver(self, receiver: dict, note: day13_Notification, delivered: set[str] | None = None) -> None:
        """Send to every config of the receiver; transient failures retried with backoff, then raised.

        `delivered` names the targets ('slack_configs[0]', ...) that already have this message: they are skipped,
        and each success is added, so a retry after one target failed never repeats the others."""
        delivered = set() if delivered is None else delivered
        for kind, (client, key) in self.targets.items():
            for n, config in enumerate(receiver.get(kind) or []):
                if f"{kind}[{n}]" in delivered:
                    continue
                for attempt in range(1, self.attempts + 1):
                    try:
                        client.send(config[key], note)
                        delivered.add(f"{kind}[{n}]")
                        break
                    except day13_TransientError:
                        if attempt == self.attempts:
                            raise
                        self.sleep(self.backoff * 2 ** (attempt - 1))


class day13_OutboxHandler:
    """aiosmtpd handler for the embedded e-mail receiver: each message saved as an .eml file named by its
    Message-ID, so a re-sent message replaces itself, as a mailbox store that de-duplicates would."""

    def __init__(self, outbox: Path):
        self.outbox, self.count = Path(outbox), 0

    async def handle_DATA(self, server, session, envelope):
        from email.parser import BytesHeaderParser

        self.outbox.mkdir(parents=True, exist_ok=True)
        self.count += 1
        message_id = BytesHeaderParser().parsebytes(envelope.content).get("Message-ID") or f"{time.time_ns()}"
        name = hashlib.sha256(str(message_id).encode("utf-8", "backslashreplace")).hexdigest()[:24]
        (self.outbox / f"day13_mail_{name}.eml").write_bytes(envelope.content)
        with open(self.outbox / "day13_deliveries.log", "a", encoding="utf-8") as log:  # every delivery, repeats too
            log.write(f"{name}\n")
        return "250 2.0.0 stored in the day13 outbox"
