"""Standard Webhooks signatures (webhook-id, webhook-timestamp, webhook-signature: v1,<base64 HMAC-SHA256>).

Verification is the maintained `standardwebhooks` package (constant-time compare, +/-5 min tolerance,
several space-separated signatures for key rotation). This wrapper turns every way a header can be
malformed into one day15_SignatureError, because the library lets some (a signature without a comma,
bad base64, a body that is not UTF-8) escape as other exceptions, which would be a 500.
"""
from __future__ import annotations

import base64
import binascii
import functools
import secrets
from datetime import datetime, timezone

DAY15_SECRET_PREFIX = "whsec_"
DAY15_SECRET_BYTES = (24, 64)  # Standard Webhooks: 24 to 64 random bytes; shorter keys can be guessed


class day15_SignatureError(ValueError):
    """The request is not signed by a configured key; the message says why (never the secret)."""


def day15_check_secret(secret: str) -> None:
    """Raise ValueError (never quoting the secret) unless it is whsec_ + base64 of 24 to 64 bytes."""
    if not secret.startswith(DAY15_SECRET_PREFIX):
        raise ValueError(f"each secret must start with {DAY15_SECRET_PREFIX}")
    try:
        key = base64.b64decode(secret.removeprefix(DAY15_SECRET_PREFIX), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(f"the part after {DAY15_SECRET_PREFIX} must be standard base64") from None
    low, high = DAY15_SECRET_BYTES
    if not low <= len(key) <= high:
        raise ValueError(f"the key must be {low} to {high} bytes, not {len(key)}")


def day15_new_secret() -> str:
    return DAY15_SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


@functools.lru_cache(maxsize=16)
def _webhook(secret: str):
    """One verifier per secret (it base64-decodes the key once, not per request)."""
    from standardwebhooks.webhooks import Webhook

    return Webhook(secret)


def day15_verify(secrets_: list[str], body: bytes, headers) -> None:
    """Raise day15_SignatureError unless one of the secrets signed (webhook-id, timestamp, raw body)."""
    from standardwebhooks.webhooks import WebhookVerificationError

    wanted = {name: headers.get(name) for name in ("webhook-id", "webhook-timestamp", "webhook-signature")}
    missing = [name for name, value in wanted.items() if not value]
    if missing:
        raise day15_SignatureError(f"missing header(s): {', '.join(missing)}")
    problem = "no matching signature"
    for secret in secrets_:
        try:
            _webhook(secret).verify(body, wanted, json_parse=False)
            return
        except WebhookVerificationError as exc:
            problem = str(exc).lower()
        except (ValueError, binascii.Error, UnicodeDecodeError):
            problem = "malformed signature header or body encoding"
    raise day15_SignatureError(problem)


def day15_sign(secret: str, msg_id: str, body: bytes, when: datetime | None = None) -> dict[str, str]:
    """Headers a Standard Webhooks sender attaches (used by the demo traffic and the tests)."""
    from standardwebhooks.webhooks import Webhook

    when = when or datetime.now(timezone.utc)
    return {"webhook-id": msg_id, "webhook-timestamp": str(int(when.timestamp())),
            "webhook-signature": Webhook(secret).sign(msg_id, when, body.decode()),
            "content-type": "application/json"}
