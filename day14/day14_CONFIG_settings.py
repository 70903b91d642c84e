"""day14 settings: one frozen object from config/.env and the environment (the environment wins).

Each value has a named default with its reason. A bad value, or a DAY14_ name that is not a
setting (a typo), stops start-up with one line naming the variable and what it expected.
Nothing is read at import time: call day14_load_settings().
"""
from __future__ import annotations

import difflib
import ipaddress
import os
import re
from datetime import time
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dotenv import dotenv_values
from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DAY14_DIR = Path(__file__).resolve().parent
DAY14_ENV_FILE = DAY14_DIR.parent / "config" / ".env"
DAY14_PREFIX = "DAY14_"

# a bare address: no spaces, line breaks, brackets, quotes or separators that could smuggle in a header or a recipient
DAY14_ADDRESS = re.compile(r"[^@\s<>()\[\],;:\"\\]+@[^@\s<>()\[\],;:\"\\]+")
day14_AddressList = Annotated[tuple[str, ...], NoDecode]  # comma-separated in .env, not JSON


class day14_ConfigError(ValueError):
    """A setting is unusable; the message is one line naming the variable."""


class day14_Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=DAY14_PREFIX, extra="ignore", frozen=True, env_ignore_empty=True)

    transport: Literal["smtp", "sendgrid"] = "smtp"  # SMTP works with any provider; SendGrid for HTTP-only hosts
    smtp_host: str | None = None  # unset: the embedded aiosmtpd sink on loopback, so the demo needs no server
    smtp_port: int = Field(587, ge=1, le=65535)  # the submission port most providers use with STARTTLS
    smtp_security: Literal["starttls", "ssl", "none"] = "starttls"  # credentials never cross the wire in clear
    smtp_user: str | None = None  # log in only when a user is configured
    smtp_password: SecretStr | None = None  # kept out of logs and reprs
    smtp_allow_plaintext_auth: bool = False  # off: no login over security=none to a non-loopback host (password in clear)
    smtp_timeout_seconds: float = Field(30.0, gt=0, le=300)  # a hung server must not hang the daily job
    sendgrid_api_key: SecretStr | None = None  # needed only with DAY14_TRANSPORT=sendgrid
    sendgrid_api_url: str = "https://api.sendgrid.com/v3/mail/send"  # the EU endpoint or a stand-in when needed
    sender_email: str = "kpi-reports@transport.example"  # a reserved domain: nothing leaves by accident
    reply_to: str | None = None  # replies go to the team, not to a no-reply robot, when set
    recipients: day14_AddressList = ("performance-team@transport.example",)  # comma-separated To list
    cc: day14_AddressList = ()  # comma-separated, visible copies
    bcc: day14_AddressList = ()  # comma-separated, hidden copies (archive mailbox)
    escalation_recipients: day14_AddressList = ("duty-manager@transport.example",)  # added when a KPI is missed
    send_time: time = time(7, 0)  # in the inbox before the 9am performance stand-up
    timezone: str = "Australia/Melbourne"  # the network's own clock, daylight saving included
    data_dir: Path | None = None  # unset: synthetic operations data generated for the report date
    ledger_path: Path = DAY14_DIR / "state" / "day14_send_ledger.sqlite"  # one row per send: the once-a-day guarantee
    outbox_dir: Path = DAY14_DIR / "outbox"  # where the embedded sink stores what it received
    max_send_attempts: int = Field(4, ge=1, le=10)  # transient SMTP failures: retry, then give up loudly
    retry_backoff_seconds: float = Field(2.0, ge=0, le=300)  # first wait; doubles per attempt (2, 4, 8 s)
    claim_timeout_minutes: int = Field(30, ge=1, le=1440)  # a claim older than this is a crashed run's
    kpi_targets_path: Path = DAY14_DIR / "day14_kpi_targets.toml"  # targets and thresholds per KPI
    network_name: str = "Synthetic Metro Network"  # shown in the e-mail banner
    log_path: Path = DAY14_DIR / "logs" / "day14_email_reports.log"  # structured key=value run log

    @field_validator("recipients", "cc", "bcc", "escalation_recipients", mode="before")
    @classmethod
    def _split_addresses(cls, value):
        if isinstance(value, str):
            value = [part.strip() for part in value.split(",") if part.strip()]
        bad = [address for address in value if not DAY14_ADDRESS.fullmatch(address)]
        if bad:
            raise ValueError(f"expected comma-separated e-mail addresses, got {', '.join(a if a.isprintable() else repr(a) for a in bad)}")
        return tuple(value)

    @field_validator("sender_email", "reply_to")
    @classmethod
    def _one_address(cls, value):
        if value is not None and not DAY14_ADDRESS.fullmatch(value):
            raise ValueError(f"expected one e-mail address (name@domain), got {value!r}")
        return value

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"expected an IANA time zone such as Australia/Melbourne, got {value!r}") from None
        return value


def day14_load_settings(env_file: Path | None = DAY14_ENV_FILE, **overrides) -> day14_Settings:
    """Settings from the environment, then env_file, then defaults; overrides (by field name) win."""
    file_values = dotenv_values(env_file) if env_file and Path(env_file).exists() else {}
    known = {DAY14_PREFIX + name.upper() for name in day14_Settings.model_fields}
    for name in sorted(set(os.environ) | set(file_values)):
        if name.startswith(DAY14_PREFIX) and name not in known:
            hint = difflib.get_close_matches(name, known, n=1)
            raise day14_ConfigError(f"{name}: not a day14 setting" + (f" (did you mean {hint[0]}?)" if hint else ""))
    try:
        settings = day14_Settings(_env_file=env_file if file_values else None, **overrides)
    except ValidationError as exc:
        first = exc.errors()[0]
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        name, problem = DAY14_PREFIX + str(first["loc"][0]).upper(), first["msg"].removeprefix("Value error, ")
        raise day14_ConfigError(f"{name}: {problem}{more}") from None
    day14_check_combinations(settings)
    return settings


def _loopback_name(host: str) -> bool:
    if host.lower() in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def day14_check_combinations(settings: day14_Settings) -> None:
    """Settings that are each valid but unusable together, rejected at start-up rather than at 07:00."""
    if settings.transport == "sendgrid" and settings.sendgrid_api_key is None:
        raise day14_ConfigError("DAY14_SENDGRID_API_KEY: required when DAY14_TRANSPORT=sendgrid (a key with Mail Send "
                                "permission)")
    waits = sum(settings.retry_backoff_seconds * 2 ** n for n in range(settings.max_send_attempts - 1))
    worst_case = waits + settings.max_send_attempts * 2 * settings.smtp_timeout_seconds  # connect + a stalled reply
    if worst_case >= settings.claim_timeout_minutes * 60:
        raise day14_ConfigError(f"DAY14_CLAIM_TIMEOUT_MINUTES: {settings.claim_timeout_minutes} min is shorter than a "
                                f"run may take with these retries ({worst_case / 60:.0f} min); a second run would take "
                                "over a live send and duplicate it: raise it or lower DAY14_MAX_SEND_ATTEMPTS / "
                                "DAY14_RETRY_BACKOFF_SECONDS")
    if (settings.transport == "smtp" and settings.smtp_host and settings.smtp_user and settings.smtp_security == "none"
            and not settings.smtp_allow_plaintext_auth and not _loopback_name(settings.smtp_host)):
        raise day14_ConfigError("DAY14_SMTP_ALLOW_PLAINTEXT_AUTH: DAY14_SMTP_SECURITY=none with DAY14_SMTP_USER would "
                                f"send the password to {settings.smtp_host} in clear; use starttls or ssl, or set "
                                "DAY14_SMTP_ALLOW_PLAINTEXT_AUTH=true")
