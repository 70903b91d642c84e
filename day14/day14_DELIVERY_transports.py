"""How the e-mail leaves: SMTP (STARTTLS, implicit TLS or plain), SendGrid's HTTP API, or the
embedded aiosmtpd sink. One interface, `send(message) -> day14_SendResult`, chosen in one place.

Failures are sorted once, here: day14_TransientError (4xx replies, disconnects, timeouts, HTTP 429/5xx)
is worth retrying; day14_PermanentError (5xx replies, authentication, HTTP 4xx) is not.
"""
from __future__ import annotations

import base64
import logging
import smtplib
import socket
import ssl
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Callable, Iterator, Protocol

DAY14_LOG = logging.getLogger("day14.delivery")
DAY14_SENDGRID_URL = "https://api.sendgrid.com/v3/mail/send"


@dataclass(frozen=True)
class day14_SendResult:
    accepted: tuple[str, ...]
    refused: dict[str, str] = field(default_factory=dict)  # address -> server reply
    server_reply: str = ""


class day14_DeliveryError(Exception):
    """A send failed; str() carries the server's own reply."""


class day14_TransientError(day14_DeliveryError):
    pass


class day14_PermanentError(day14_DeliveryError):
    pass


class day14_Transport(Protocol):
    name: str

    def send(self, message: EmailMessage, envelope: tuple[str, ...]) -> day14_SendResult: ...


def _reply_text(code: int, reply: bytes | str) -> str:
    text = reply.decode(errors="replace") if isinstance(reply, bytes) else str(reply)
    return f"{code} {text}".strip()


class day14_SmtpTransport:
    """smtplib with the security mode the provider expects; login only when a user is configured."""

    def __init__(self, host: str, port: int, security: str, user: str | None = None, password: str | None = None,
                 timeout: float = 30.0, tls_context: ssl.SSLContext | None = None):
        self.host, self.port, self.security = host, port, security
        self.user, self.password, self.timeout = user, password, timeout
        self.tls_context = tls_context or ssl.create_default_context()
        self.name = f"smtp://{host}:{port} ({security})"

    def _connect(self) -> smtplib.SMTP:
        if self.security == "ssl":
            return smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=self.tls_context)
        client = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        if self.security == "starttls":
            client.starttls(context=self.tls_context)
        return client

    def send(self, message: EmailMessage, envelope: tuple[str, ...]) -> day14_SendResult:
        try:
            with self._connect() as client:
                if self.user:
                    client.login(self.user, self.password or "")
                refused = client.send_message(message, to_addrs=list(envelope))
                code, reply = client.noop()
        except smtplib.SMTPRecipientsRefused as exc:  # every recipient refused
            replies = {rcpt: _reply_text(c, r) for rcpt, (c, r) in exc.recipients.items()}
            error = day14_TransientError if all(c < 500 for c, _ in exc.recipients.values()) else day14_PermanentError
            raise error(f"all recipients refused: {replies}") from None
        except smtplib.SMTPAuthenticationError as exc:
            raise day14_PermanentError(f"authentication failed: {_reply_text(exc.smtp_code, exc.smtp_error)}") from None
        except smtplib.SMTPResponseException as exc:
            error = day14_TransientError if 400 <= exc.smtp_code < 500 else day14_PermanentError
            raise error(_reply_text(exc.smtp_code, exc.smtp_error)) from None
        except (smtplib.SMTPServerDisconnected, ConnectionError, socket.timeout, TimeoutError) as exc:
            raise day14_TransientError(f"connection lost: {exc or type(exc).__name__}") from None
        except ssl.SSLError as exc:
            raise day14_PermanentError(f"TLS problem: {exc}") from None
        except smtplib.SMTPNotSupportedError as exc:  # e.g. STARTTLS or AUTH configured but not offered
            raise day14_PermanentError(f"server does not support what is configured: {exc}") from None
        except OSError as exc:
            raise day14_TransientError(f"cannot reach {self.host}:{self.port}: {exc}") from None
        refused_text = {rcpt: _reply_text(c, r) for rcpt, (c, r) in refused.items()}
        accepted = tuple(a for a in envelope if a not in refused_text)
        return day14_SendResult(accepted=accepted, refused=refused_text, server_reply=_reply_text(code, reply))


class day14_SendGridTransport:
    """SendGrid's v3 mail/send over HTTPS; the same message parts, sent as JSON."""

    name = "sendgrid"

    def __init__(self, api_key: str, url: str = DAY14_SENDGRID_URL, timeout: float = 30.0):
        self.api_key, self.url, self.timeout = api_key, url, timeout

    def payload(self, message: EmailMessage) -> dict:
        def addresses(header: str) -> list[dict]:
            return [{"email": a.strip()} for a in (message.get(header) or "").split(",") if a.strip()]

        personalization = {"to": addresses("To")}
        for header in ("Cc", "Bcc"):
            if message.get(header):
                personalization[header.lower()] = addresses(header)
        body = {
            "personalizations": [personalization], "from": {"email": message["From"]},
            "subject": message["Subject"], "content": [], "attachments": [],
            "custom_args": {"message_id": message["Message-ID"]},
        }
        if message.get("Reply-To"):
            body["reply_to"] = {"email": message["Reply-To"]}
        for part in message.walk():
            if part.is_multipart():
                continue
            if part.get_content_type() in ("text/plain", "text/html") and not part.get_filename():
                body["content"].append({"type": part.get_content_type(), "value": part.get_content()})
                continue
            attachment = {"content": base64.b64encode(part.get_payload(decode=True)).decode(),
                          "type": part.get_content_type(), "filename": part.get_filename() or "attachment",
                          "disposition": "inline" if part.get("Content-ID") else "attachment"}
            if part.get("Content-ID"):
                attachment["content_id"] = part["Content-ID"].strip("<>")
            body["attachments"].append(attachment)
        return body

    def send(self, message: EmailMessage, envelope: tuple[str, ...]) -> day14_SendResult:
        import requests

        try:
            response = requests.post(self.url, json=self.payload(message), timeout=self.timeout,
                                     headers={"Authorization": f"Bearer {self.api_key}"})
        except requests.RequestException as exc:
            raise day14_TransientError(f"SendGrid unreachable: {exc}") from None
        reply = f"{response.status_code} {response.text.strip()[:500]}".strip()
        if response.status_code == 429 or response.status_code >= 500:
            raise day14_TransientError(reply)
        if response.status_code >= 400:
            raise day14_PermanentError(reply)
        return day14_SendResult(accepted=envelope, server_reply=reply)


def day14_send_with_retries(transport: day14_Transport, message: EmailMessage, envelope: tuple[str, ...], *,
                            attempts: int, backoff_seconds: float = 2.0,
                            sleep: Callable[[float], None] = time.sleep) -> tuple[day14_SendResult, int]:
    """Send, retrying transient failures with exponential backoff; returns the result and attempts used."""
    for attempt in range(1, attempts + 1):
        try:
            return transport.send(message, envelope), attempt
        except day14_TransientError as exc:
            if attempt == attempts:
                raise
            wait = backoff_seconds * 2 ** (attempt - 1)
            DAY14_LOG.warning("transient send failure, retrying", extra={
                "attempt": attempt, "of": attempts, "wait_s": wait, "reply": str(exc), "transport": transport.name})
            sleep(wait)
    raise AssertionError("unreachable")


class day14_OutboxHandler:
    """aiosmtpd handler that stores every received message as an .eml file: the demo's inbox."""

    def __init__(self, outbox: Path):
        self.outbox = Path(outbox)
        self.received: list[dict] = []

    async def handle_DATA(self, server, session, envelope):
        self.outbox.mkdir(parents=True, exist_ok=True)
        path = self.outbox / f"day14_received_{len(self.received) + 1:03d}_{time.strftime('%Y%m%dT%H%M%S')}.eml"
        path.write_bytes(envelope.original_content or envelope.content)
        self.received.append({"path": path, "mail_from": envelope.mail_from, "rcpt_tos": list(envelope.rcpt_tos)})
        return "250 2.0.0 stored in the day14 outbox"


def day14_free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def day14_embedded_sink(outbox: Path) -> Iterator[tuple[day14_SmtpTransport, day14_OutboxHandler]]:
    """A real SMTP server on loopback for the demo: the send is a real SMTP conversation."""
    from aiosmtpd.controller import Controller

    handler = day14_OutboxHandler(outbox)
    controller = Controller(handler, hostname="127.0.0.1", port=day14_free_port())
    controller.start()
    try:
        yield day14_SmtpTransport("127.0.0.1", controller.port, "none", timeout=10), handler
    finally:
        controller.stop()


@contextmanager
def day14_transport_from_settings(settings) -> Iterator[day14_Transport]:
    """The one place that picks the transport: SendGrid, a configured SMTP server, or the embedded sink."""
    if settings.transport == "sendgrid":
        if settings.sendgrid_api_key is None:
            raise day14_PermanentError("DAY14_TRANSPORT=sendgrid needs DAY14_SENDGRID_API_KEY")
        yield day14_SendGridTransport(settings.sendgrid_api_key.get_secret_value(), settings.sendgrid_api_url,
                                      settings.smtp_timeout_seconds)
    elif settings.smtp_host:
        password = settings.smtp_password.get_secret_value() if settings.smtp_password else None
        yield day14_SmtpTransport(settings.smtp_host, settings.smtp_port, settings.smtp_security,
                                  settings.smtp_user, password, settings.smtp_timeout_seconds)
    else:
        with day14_embedded_sink(settings.outbox_dir) as (transport, _handler):
            yield transport
