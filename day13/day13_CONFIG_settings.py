"""day13 settings: one frozen object from config/.env and the environment (the environment wins).

Each value has a named default with its reason. A bad value, or a DAY13_ name that is not a
setting (a typo), stops start-up with one line naming the variable and what it expected.
Nothing is read at import time: call day13_load_settings().
"""
from __future__ import annotations

import difflib
import os
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dotenv import dotenv_values
from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DAY13_DIR = Path(__file__).resolve().parent
DAY13_ENV_FILE = DAY13_DIR.parent / "config" / ".env"
DAY13_PREFIX = "DAY13_"
DAY13_MIN_CREDENTIAL_CHARS = 16  # a sender token or HMAC key shorter than this can be guessed


class day13_ConfigError(ValueError):
    """A setting is unusable; the message is one line naming the variable."""


class day13_Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=DAY13_PREFIX, extra="ignore", frozen=True, env_ignore_empty=True)

    alert_check_interval: int = Field(300, ge=5, le=86_400)  # seconds; 5 minutes keeps the tightest SLA in reach
    audit_log_path: Path = DAY13_DIR / "data" / "day13_audit_log.db"  # SQLite, append-only, hash-chained
    drop_dir: Path = DAY13_DIR / "data" / "drop"  # JSON and CSV alert files land here
    inbox_dir: Path = DAY13_DIR / "data" / "inbox"  # .eml alert messages land here
    rules_path: Path = DAY13_DIR / "day13_rules.yaml"  # severity rules: configuration, not code
    routing_path: Path = DAY13_DIR / "day13_routing.yaml"  # Alertmanager-style routes and receivers
    api_host: str = "127.0.0.1"  # loopback unless deliberately exposed
    api_port: int = Field(8013, ge=1, le=65535)  # POST /alerts listens here
    max_body_bytes: int = Field(65_536, ge=1_024)  # an alert is small; larger bodies get 413
    api_token: SecretStr | None = None  # senders send "Authorization: Bearer <token>"; unset: loopback only
    api_hmac_secret: SecretStr | None = None  # or sign the body: X-Day13-Signature: sha256=<hex HMAC>
    file_settle_seconds: float = Field(10.0, ge=0, le=3_600)  # a drop file untouched this long is complete
    slack_webhook_url: SecretStr | None = None  # unset: a local Slack stand-in records the posts
    smtp_host: str | None = None  # unset: the embedded SMTP sink on loopback
    smtp_port: int = Field(587, ge=1, le=65535)  # the submission port most providers use with STARTTLS
    smtp_security: Literal["starttls", "ssl", "none"] = "starttls"  # credentials never cross the wire in clear
    smtp_user: str | None = None  # log in only when a user is configured
    smtp_password: SecretStr | None = None  # kept out of logs and reprs
    email_from: str = "alert-triage@bank.example"  # a reserved domain: nothing leaves by accident
    ticket_api_url: str | None = None  # unset: tickets go to a local table in the audit database
    ticket_api_token: SecretStr | None = None  # bearer token for the ticket API
    timezone: str = "UTC"  # audit timestamps are UTC; this is the scheduler's clock
    lock_path: Path = DAY13_DIR / "state" / "day13_triage.lock"  # one run at a time across cron and the scheduler
    outbox_dir: Path = DAY13_DIR / "outbox"  # the embedded SMTP receiver's mail, as .eml files
    log_path: Path = DAY13_DIR / "logs" / "day13_execution.log"  # structured key=value run log

    @field_validator("api_token", "api_hmac_secret")
    @classmethod
    def _strong_credential(cls, value: SecretStr | None) -> SecretStr | None:
        """A blank or short credential would count as "configured" (so serve binds beyond loopback) yet be
        guessable; whitespace is where copy-paste errors hide. The value itself is never echoed."""
        if value is not None:
            secret = value.get_secret_value()
            if len(secret) < DAY13_MIN_CREDENTIAL_CHARS or any(c.isspace() or not c.isprintable() for c in secret):
                raise ValueError(f"expected at least {DAY13_MIN_CREDENTIAL_CHARS} printable characters without spaces")
        return value

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"expected an IANA time zone such as UTC or Europe/London, got {value!r}") from None
        return value


def day13_load_settings(env_file: Path | None = DAY13_ENV_FILE, **overrides) -> day13_Settings:
    """Settings from the environment, then env_file, then defaults; overrides (by field name) win."""
    file_values = dotenv_values(env_file) if env_file and Path(env_file).exists() else {}
    known = {DAY13_PREFIX + name.upper() for name in day13_Settings.model_fields}
    for name in sorted(set(os.environ) | set(file_values)):
        if name.startswith(DAY13_PREFIX) and name not in known:
            hint = difflib.get_close_matches(name, known, n=1)
            raise day13_ConfigError(f"{name}: not a day13 setting" + (f" (did you mean {hint[0]}?)" if hint else ""))
    try:
        return day13_Settings(_env_file=env_file if file_values else None, **overrides)
    except ValidationError as exc:
        first = exc.errors()[0]
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        name, problem = DAY13_PREFIX + str(first["loc"][0]).upper(), first["msg"].removeprefix("Value error, ")
        raise day13_ConfigError(f"{name}: {problem}{more}") from None
