"""How the e-mail leaves: SMTP (STARTTLS, implicit TLS or plain), SendGrid's HTTP API, or the
embedded aiosmtpd sink. One interface, `send(message) -> day14_SendResult`, chosen in one place.

Failures are sorted once, here: day14_TransientError (4xx replies, disconnects, timeouts, HTTP 429/5xx)
is worth retrying; day14_PermanentError (5xx replies, authentication, HTTP 4xx) is not.
"""
from __future__ import annotations

import base64
import copy
import io
import ipaddress
import logging
import smtplib
import socket
import ssl
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.generator import BytesGenerator
from email.message import EmailMessage
from email.utils import parseaddr
from pathlib import Path
from typing import Callable, Iterator, Protocol

DAY14_LOG = logging.getLogger("day14.delivery")
DAY14_SENDGRID_URL = "https://api.sendgrid.com/v3/mail/send"


@dataclass(frozen=True)
class day14_SendResult:
    """One attempt that the server accepted at DATA (or SendGrid with 2xx): the message is sent to `accepted`."""

    accepted: tuple[str, ...]
    refused: dict[str, str] = field(default_factory=dict)  # address -> 5xx reply at RCPT: never owed again
    deferred: dict[str, str] = field(default_factory=dict)  # address -> 4xx reply at RCPT: still owed
    server_reply: str = ""  # DATA's own reply, with the server's queue id
    after_acceptance: str = ""  # what went wrong after DATA was accepted; never a reason to send again


class day14_DeliveryError(Exception):
    """A send failed before the server accepted the message; str() carries the server's own reply."""

    def __init__(self, text: str, *, refused: dict | None = None, deferred: dict | None = None):
        super().__init__(text)
        self.refused = dict(refused or {})  # recipients refused for good at RCPT
        self.deferred = dict(deferred or {})  # recipients refused for now at RCPT
        self.attempts = 0  # set by day14_send_with_retries: the attempts actually made


class day14_TransientError(day14_DeliveryError):
    pass


class day14_PermanentError(day14_DeliveryError):
    pass


class day14_AmbiguousError(day14_DeliveryError):
    """The request went out and no answer came back: it may have been accepted. Never retried."""


class day14_Transport(Protocol):
    name: str

    def send(self, message: EmailMessage, envelope: tuple[str, ...],
             before_data: Callable[[tuple[str, ...]], None] | None = None) -> day14_SendResult: ...


DAY14_MAX_REPLY_CHARS = 500  # a server's reply is evidence, not a payload: enough for any queue id


def _reply_text(code: int, reply: bytes | str) -> str:
    """The server's reply on one line (a multi-line reply joined with ' / '), cut to a sane length."""
    text = reply.decode(errors="replace") if isinstance(reply, bytes) else str(reply)
    text = " / ".join(" ".join(line.split()) for line in text.splitlines() if line.strip())
    return f"{code} {text}".strip()[:DAY14_MAX_REPLY_CHARS]


def day14_without_bcc(message: EmailMessage) -> EmailMessage:
    """The copy every recipient, file and log may see: Bcc and Resent-Bcc removed (the original keeps them)."""
    visible = copy.copy(message)
    del visible["Bcc"]
    del visible["Resent-Bcc"]
    return visible


def _wire_bytes(message: EmailMessage) -> bytes:
    buffer = io.BytesIO()
    BytesGenerator(buffer).flatten(day14_without_bcc(message), linesep="\r\n")
    return buffer.getvalue()


def _is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address.split("%", 1)[0]).is_loopback
    except ValueError:
        return False


class day14_SmtpTransport:
    """smtplib with the security mode the provider expects; login only when a user is configured.

    The conversation is driven command by command so that every outcome is known: each RCPT reply
    (2xx accepted, 4xx deferred, 5xx refused) and DATA's own reply. Once DATA is answered 250 the
    message is the server's: a failure after that (QUIT, a dropped connection) is reported in
    `after_acceptance`, never raised, so it is never retried into a second copy.
    """

    def __init__(self, host: str, port: int, security: str, user: str | None = None, password: str | None = None,
                 timeout: float = 30.0, tls_context: ssl.SSLContext | None = None,
                 allow_plaintext_auth: bool = False):
        self.host, self.port, self.security = host, port, security
        self.user, self.password, self.timeout = user, password, timeout
        self.tls_context = tls_context or ssl.create_default_context()
        self.allow_plaintext_auth = allow_plaintext_auth
        self.name = f"smtp://{host}:{port} ({security})"

    def _connect(self) -> smtplib.SMTP:
        if self.security == "ssl":
            return smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=self.tls_context)
        client = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        if self.security == "starttls":
            try:
                client.starttls(context=self.tls_context)
            except BaseException:
                client.close()
                raise
        return client

    def _login(self, client: smtplib.SMTP) -> None:
        if not self.user:
            return
        peer = client.sock.getpeername()[0] if client.sock else ""
        if self.security == "none" and not self.allow_plaintext_auth and not _is_loopback(peer):
            raise day14_PermanentError(
                f"refused to log in to {self.host} over an unencrypted connection (the password would cross the "
                "wire in clear): use DAY14_SMTP_SECURITY=starttls or ssl, or set DAY14_SMTP_ALLOW_PLAINTEXT_AUTH=true")
        client.login(self.user, self.password or "")

    @staticmethod
    def _recipients(client: smtplib.SMTP, envelope: tuple[str, ...]):
        accepted, refused, deferred = [], {}, {}
        for rcpt in envelope:
            code, reply = client.rcpt(rcpt)
            if 200 <= code < 300:
                accepted.append(rcpt)
            elif 400 <= code < 500:
                deferred[rcpt] = _reply_text(code, reply)
            else:
                refused[rcpt] = _reply_text(code, reply)
        return tuple(accepted), refused, deferred

    def send(self, message: EmailMessage, envelope: tuple[str, ...],
             before_data: Callable[[tuple[str, ...]], None] | None = None) -> day14_SendResult:
        client, in_data = None, False
        try:
            client = self._connect()
            self._login(client)
            client.ehlo_or_helo_if_needed()
            sender = parseaddr(message["Sender"] or message["From"])[1]
            code, reply = client.mail(sender)
            if not 200 <= code < 300:
                raise smtplib.SMTPSenderRefused(code, reply, sender)
            accepted, refused, deferred = self._recipients(client, envelope)
            if not accepted:
                replies = {**refused, **deferred}
                error = day14_TransientError if deferred else day14_PermanentError
                raise error(f"all recipients refused: {replies}", refused=refused, deferred=deferred)
            if before_data:
                before_data(accepted)
            in_data = True
            code, reply = client.data(_wire_bytes(message))  # raises only when DATA itself is refused
            if not 200 <= code < 300:  # any 2xx: the server took responsibility for the message
                raise smtplib.SMTPDataError(code, reply)
        except day14_DeliveryError:
            self._close(client)
            raise
        except Exception as exc:
            self._close(client)
            error = self._sorted(exc)
            if in_data and isinstance(error, day14_TransientError) and "connection lost" in str(error):
                # RFC 5321: without DATA's reply the server has not taken the message, so it is sent again;
                # it may have arrived all the same, and the same Message-ID lets the receiver drop the copy
                error = day14_TransientError(f"{error} before DATA's reply (the message may have arrived)")
            raise error from None
        after = self._quit(client)
        return day14_SendResult(accepted=accepted, refused=refused, deferred=deferred,
                                server_reply=_reply_text(code, reply), after_acceptance=after)

    def _sorted(self, exc: BaseException) -> BaseException:
        """Every failure before acceptance, as transient (worth retrying) or permanent."""
        if isinstance(exc, smtplib.SMTPAuthenticationError):
            return day14_PermanentError(f"authentication failed: {_reply_text(exc.smtp_code, exc.smtp_error)}")
        if isinstance(exc, smtplib.SMTPResponseException):
            error = day14_TransientError if 400 <= exc.smtp_code < 500 else day14_PermanentError
            return error(_reply_text(exc.smtp_code, exc.smtp_error))
        if isinstance(exc, (smtplib.SMTPServerDisconnected, ConnectionError, socket.timeout, TimeoutError)):
            return day14_TransientError(f"connection lost: {exc or type(exc).__name__}")
        if isinstance(exc, ssl.SSLError):
            return day14_PermanentError(f"TLS problem: {exc}")
        if isinstance(exc, smtplib.SMTPNotSupportedError):  # e.g. STARTTLS or AUTH configured but not offered
            return day14_PermanentError(f"server does not support what is configured: {exc}")
        if isinstance(exc, smtplib.SMTPException):
            return day14_PermanentError(f"SMTP conversation failed: {exc}")
        if isinstance(exc, OSError):
            return day14_TransientError(f"cannot reach {self.host}:{self.port}: {exc}")
        return exc

    @staticmethod
    def _close(client: smtplib.SMTP | None) -> None:
        if client is not None:
            client.close()

    def _quit(self, client: smtplib.SMTP) -> str:
        """QUIT after acceptance; a failure here is recorded, not raised: the message is already sent."""
        try:
            code, reply = client.quit()
            return "" if code == 221 else f"sent, unexpected reply to QUIT after acceptance: {_reply_text(code, reply)}"
        except (OSError, smtplib.SMTPException) as exc:
            return f"sent, connection lost after acceptance: {exc or type(exc).__name__}"
        finally:
            client.close()


class day14_SendGridTransport:
    """SendGrid's v3 mail/send over HTTPS; the same message parts, sent as JSON."""

    name = "sendgrid"

    def __init__(self, api_key: str, url: str = DAY14_SENDGRID_URL, timeout: float = 30.0):
        self.api_key, self.url, self.timeout = api_key, url, timeout

    def payload(self, message: EmailMessage, envelope: tuple[str, ...] | None = None) -> dict:
        """The v3 body; only the envelope's recipients (those still owed) are addressed."""
        def addresses(header: str) -> list[dict]:
            found = [a.strip() for a in (message.get(header) or "").split(",") if a.strip()]
            return [{"email": a} for a in found if envelope is None or a in envelope]

        personalization = {header.lower(): addresses(header) for header in ("To", "Cc", "Bcc")}
        personalization = {field: people for field, people in personalization.items() if people}
        if "to" not in personalization:  # SendGrid needs a To: an owed Cc or Bcc is addressed directly
            personalization["to"] = personalization.pop("cc", []) or personalization.pop("bcc", [])
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

    def send(self, message: EmailMessage, envelope: tuple[str, ...],
             before_data: Callable[[tuple[str, ...]], None] | None = None) -> day14_SendResult:
        import requests

        if before_data:
            before_data(envelope)
        try:
            response = requests.post(self.url, json=self.payload(message, envelope), timeout=self.timeout,
                                     headers={"Authorization": f"Bearer {self.api_key}"})
        except requests.RequestException as exc:
            if self._never_sent(exc):
                raise day14_TransientError(f"SendGrid unreachable: {exc}") from None
            # SendGrid has no idempotency key and ignores Message-ID for duplicates: a second POST is a second e-mail
            raise day14_AmbiguousError(f"SendGrid did not answer ({type(exc).__name__}): the message may have been "
                                       "accepted; not sent again") from None
        reply = f"{response.status_code} {response.text.strip()[:500]}".strip()
        if response.status_code == 429 or response.status_code >= 500:
            raise day14_TransientError(reply)
        if response.status_code >= 400:
            raise day14_PermanentError(reply)
        return day14_SendResult(accepted=envelope, server_reply=reply)

    @staticmethod
    def _never_sent(exc) -> bool:
        """True when the connection was never made, so SendGrid cannot have the request."""
        import requests
        from urllib3.exceptions import NewConnectionError

        if isinstance(exc, requests.ConnectTimeout):
            return True
        reason = getattr(exc.args[0], "reason", None) if exc.args else None
        return isinstance(reason, NewConnectionError) or isinstance(exc.__context__, NewConnectionError)


@dataclass(frozen=True)
class day14_Delivery:
    """What all attempts of one run achieved, per recipient."""

    delivered: dict[str, str]  # address -> DATA's reply of the attempt that delivered it
    refused: dict[str, str]  # address -> 5xx reply at RCPT
    deferred: dict[str, str]  # address -> last 4xx reply or error: still owed
    attempts: int
    server_replies: tuple[str, ...]  # DATA's reply of every accepted attempt
    after_acceptance: tuple[str, ...] = ()  # failures after DATA was accepted, never retried

    @property
    def accepted(self) -> tuple[str, ...]:
        return tuple(self.delivered)


def day14_send_with_retries(transport: day14_Transport, message: EmailMessage, envelope: tuple[str, ...], *,
                            attempts: int, backoff_seconds: float = 2.0,
                            sleep: Callable[[float], None] = time.sleep,
                            on_attempt: Callable[[tuple[str, ...], day14_SendResult | day14_DeliveryError], None] | None = None,
                            before_data: Callable[[tuple[str, ...]], None] | None = None,
                            should_stop: Callable[[], bool] = lambda: False) -> day14_Delivery:
    """Send, retrying transient failures and 4xx-deferred recipients with exponential backoff.

    Each retry goes only to the recipients still owed. Raises the last day14_DeliveryError (with
    .attempts) when no attempt was accepted; otherwise returns who got it, who was refused and who
    is still owed. on_attempt sees every attempt's result or error, so progress is recorded as it happens.
    should_stop (a SIGTERM) ends the retries after the running attempt; whoever is left stays owed.
    """
    owed, delivered, refused, replies, after = tuple(envelope), {}, {}, [], []
    last_error: day14_DeliveryError | None = None
    deferred: dict[str, str] = {}
    for attempt in range(1, attempts + 1):
        try:
            result = transport.send(message, owed, before_data=before_data)
        except day14_DeliveryError as exc:
            exc.attempts, last_error = attempt, exc
            if on_attempt:
                on_attempt(owed, exc)
            refused.update(exc.refused)
            owed = tuple(a for a in owed if a not in exc.refused)
            deferred = {a: exc.deferred.get(a, str(exc)) for a in owed}
            if isinstance(exc, (day14_PermanentError, day14_AmbiguousError)) or attempt == attempts:
                break
            reason = str(exc)
        else:
            if on_attempt:
                on_attempt(owed, result)
            delivered.update({a: result.server_reply for a in result.accepted})
            refused.update(result.refused)
            replies.append(result.server_reply)
            if result.after_acceptance:
                after.append(result.after_acceptance)
                DAY14_LOG.warning("connection lost after the server accepted the message; not sent again", extra={
                    "attempt": attempt, "reply": result.server_reply, "problem": result.after_acceptance,
                    "transport": transport.name})
            owed, deferred = tuple(result.deferred), dict(result.deferred)
            if not owed or attempt == attempts:
                break
            reason = "; ".join(f"{a}: {r}" for a, r in deferred.items())
        if should_stop():
            DAY14_LOG.warning("stop requested; no further attempt", extra={"attempt": attempt, "owed": len(owed)})
            break
        wait = backoff_seconds * 2 ** (attempt - 1)
        DAY14_LOG.warning("transient send failure, retrying", extra={
            "attempt": attempt, "of": attempts, "wait_s": wait, "owed": len(owed), "reply": reason,
            "transport": transport.name})
        sleep(wait)
    if not delivered and last_error is not None:
        raise last_error
    return day14_Delivery(delivered=delivered, refused=refused, deferred=deferred, attempts=attempt,
                          server_replies=tuple(replies), after_acceptance=tuple(after))


class day14_OutboxHandler:
    """aiosmtpd handler that stores every received message as an .eml file: the demo's inbox."""

    def __init__(self, outbox: Path):
        self.outbox = Path(outbox)
        self.received: list[dict] = []

    async def handle_DATA(self, server, session, envelope):
        self.outbox.mkdir(parents=True, exist_ok=True)
        stamp = f"{len(self.received) + 1:03d}_{time.strftime('%Y%m%dT%H%M%S')}_{uuid.uuid4().hex[:8]}"
        path = self.outbox / f"day14_received_{stamp}.eml"
        with path.open("xb") as handle:  # never overwrite what an earlier run received
            handle.write(envelope.original_content or envelope.content)
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
                                  settings.smtp_user, password, settings.smtp_timeout_seconds,
                                  allow_plaintext_auth=settings.smtp_allow_plaintext_auth)
    else:
        with day14_embedded_sink(settings.outbox_dir) as (transport, _handler):
            yield transport
