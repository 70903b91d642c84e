"""day15 settings: one frozen object from config/.env and the environment (the environment wins).

Each value has a named default with its reason. A bad value, or a DAY15_ name that is not a
setting (a typo), stops start-up with one line naming the variable and what it expected.
Nothing is read at import time: call day15_load_settings().
"""
from __future__ import annotations

import difflib
import os
from pathlib import Path

from dotenv import dotenv_values
from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DAY15_DIR = Path(__file__).resolve().parent
DAY15_ENV_FILE = DAY15_DIR.parent / "config" / ".env"
DAY15_PREFIX = "DAY15_"


class day15_ConfigError(ValueError):
    """A setting is unusable; the message is one line naming the variable."""


class day15_Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=DAY15_PREFIX, extra="ignore", frozen=True, env_ignore_empty=True)

    redis_host: str | None = None  # unset: embedded fakeredis, so the demo needs no server
    redis_port: int = Field(6379, ge=1, le=65535)  # Redis's standard port
    redis_db: int = Field(0, ge=0, le=15)  # database index; tests use 15
    redis_password: SecretStr | None = None  # AUTH password for managed Redis
    webhook_host: str = "127.0.0.1"  # loopback unless deliberately exposed
    webhook_port: int = Field(5000, ge=1, le=65535)  # the port senders post to
    webhook_secret: SecretStr | None = None  # whsec_ + base64 of 24-64 bytes (comma-separated: rotation); unset: demo secret generated
    dashboard_token: SecretStr | None = Field(None, min_length=16)  # needed to read /, /metrics, /api/summary; required off loopback
    allow_unsigned: bool = False  # true only for a local experiment: the webhook server then checks no signature (logged loudly)
    batch_size: int = Field(500, ge=1, le=10_000)  # events per micro-batch at most (Kafka's max.poll.records default)
    batch_max_wait_ms: int = Field(100, ge=1, le=60_000)  # a partial batch waits at most this long
    max_retries: int = Field(5, ge=1, le=100)  # deliveries before an entry goes to the dead-letter stream
    idempotency_ttl_hours: int = Field(72, ge=1, le=720)  # senders retry for up to about three days
    consumers: int = Field(2, ge=1, le=32)  # consumer processes in one group
    database_url: str | None = None  # a SQLAlchemy URL; unset: SQLite in day15/state
    stream_maxlen: int = Field(1_000_000, ge=10_000)  # far above the worst backlog; trims only ancient entries
    queue_depth_warn: int = Field(10_000, ge=1)  # log a warning when lag + pending passes this
    claim_idle_ms: int = Field(15_000, ge=100, le=3_600_000)  # pending this long: its consumer died or failed; reclaim
    max_body_bytes: int = Field(1_048_576, ge=1_024, le=50_000_000)  # larger requests get 413
    max_batch_events: int = Field(500, ge=1, le=10_000)  # events per POST /webhook/batch
    log_path: Path = DAY15_DIR / "logs" / "day15_pipeline.log"  # structured key=value log of every process

    @field_validator("dashboard_token")
    @classmethod
    def _presentable_token(cls, value: SecretStr | None) -> SecretStr | None:
        # an Authorization header is stripped and holds no control characters: such a token could never match
        token = value.get_secret_value() if value is not None else ""
        if token != token.strip() or any(ord(c) < 32 or ord(c) == 127 for c in token):
            raise ValueError("must not start or end with whitespace nor hold control characters "
                             "(no Authorization header could carry it)")
        return value

    @field_validator("webhook_secret")
    @classmethod
    def _well_formed_secrets(cls, value: SecretStr | None) -> SecretStr | None:
        from day15_SIGNING_webhooks import day15_check_secret

        if value is not None:
            for secret in value.get_secret_value().split(","):
                day15_check_secret(secret.strip())
        return value


def day15_load_settings(env_file: Path | None = DAY15_ENV_FILE, **overrides) -> day15_Settings:
    """Settings from the environment, then env_file, then defaults; overrides (by field name) win."""
    file_values = dotenv_values(env_file) if env_file and Path(env_file).exists() else {}
    known = {DAY15_PREFIX + name.upper() for name in day15_Settings.model_fields}
    for name in sorted(set(os.environ) | set(file_values)):
        if name.startswith(DAY15_PREFIX) and name not in known:
            hint = difflib.get_close_matches(name, known, n=1)
            raise day15_ConfigError(f"{name}: not a day15 setting" + (f" (did you mean {hint[0]}?)" if hint else ""))
    try:
        settings = day15_Settings(_env_file=env_file if file_values else None, **overrides)
    except ValidationError as exc:
        first = exc.errors()[0]
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        name, problem = DAY15_PREFIX + str(first["loc"][0]).upper(), first["msg"].removeprefix("Value error, ")
        raise day15_ConfigError(f"{name}: {problem}{more}") from None
    if settings.dashboard_token is None and not day15_is_loopback(settings.webhook_host):
        raise day15_ConfigError(f"DAY15_DASHBOARD_TOKEN: required when DAY15_WEBHOOK_HOST ({settings.webhook_host}) is not a "
                                "loopback address; MRR, customers and churn would otherwise be readable by anyone")
    return settings


def day15_is_loopback(host: str) -> bool:
    """True for localhost and 127.0.0.0/8 or ::1; False for 0.0.0.0, :: and every other address or name."""
    import ipaddress

    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
