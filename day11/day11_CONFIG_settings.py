"""day11 settings: one frozen object from config/.env and the environment (the environment wins).

Each value has a named default with its reason. A bad value, or a DAY11_ name that is not a
setting (a typo), stops start-up with one line naming the variable and what it expected.
Nothing is read at import time: call day11_load_settings().
"""
from __future__ import annotations

import difflib
import os
from datetime import date
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dotenv import dotenv_values
from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DAY11_DIR = Path(__file__).resolve().parent
DAY11_ENV_FILE = DAY11_DIR.parent / "config" / ".env"
DAY11_PREFIX = "DAY11_"
DAY11_OLDEST_ADS_VERSION = 23  # v22 and older are sunset (Google Ads API sunset schedule, as of 2026)


class day11_ConfigError(ValueError):
    """A setting is unusable; the message is one line naming the variable."""

day11_AddressList = Annotated[tuple[str, ...], NoDecode]  # comma-separated in .env, not JSON


DAY11_WEEKDAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")  # cron's numbering: Sunday is 0 (and 7)


def day11_cron_weekdays(field: str) -> str:
    """A crontab day-of-week field as the weekday names it means, for APScheduler 3, which counts numbers from
    Monday = 0: "1-5" is Monday to Friday for cron and Airflow, Tuesday to Saturday for APScheduler."""
    if field == "*":
        return "*"
    days = set()
    for part in field.lower().split(","):
        span, _, step = part.partition("/")
        lo, _, hi = ("0-6" if span == "*" else span).partition("-")
        try:
            first = DAY11_WEEKDAYS.index(lo) if lo in DAY11_WEEKDAYS else int(lo)
            last = (DAY11_WEEKDAYS.index(hi) if hi in DAY11_WEEKDAYS else int(hi)) if hi else (6 if step else first)
            stride = int(step) if step else 1
        except ValueError:
            raise ValueError(f"day of the week {field!r}: expected 0-7 or sun-sat, ranges, lists and steps") from None
        if not (0 <= first <= last <= 7 and stride >= 1):
            raise ValueError(f"day of the week {field!r}: expected 0-7 or sun-sat, ranges, lists and steps")
        days.update(DAY11_WEEKDAYS[n % 7] for n in range(first, last + 1, stride))
    return ",".join(d for d in DAY11_WEEKDAYS if d in days)


class day11_Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=DAY11_PREFIX, extra="ignore", frozen=True, env_ignore_empty=True)

    ads_api_base_url: str | None = None  # unset: a local stand-in serves synthetic Google Ads responses
    ga4_api_base_url: str | None = None  # unset: a local stand-in serves synthetic GA4 responses
    ads_api_version: str = Field("v25", pattern=r"^v\d+$")  # served today (v23+); the version n8n 2.41's Ads node calls
    ads_customer_id: str | None = Field(None, pattern=r"^\d{10}$")  # 10 digits, no dashes; required with the real API
    ads_login_customer_id: str | None = Field(None, pattern=r"^\d{10}$")  # the manager (MCC) account, when access is through one
    ga4_property_id: str | None = Field(None, pattern=r"^\d+$")  # digits only; required with the real API
    ads_developer_token: SecretStr | None = None  # needed only against the real Google Ads API
    google_client_id: str | None = None  # OAuth client of the Google Cloud project (with the refresh token)
    google_client_secret: SecretStr | None = None  # that client's secret
    google_refresh_token: SecretStr | None = None  # long-lived grant; access tokens (about an hour) are fetched from it
    google_token_uri: str | None = Field(None, pattern=r"^https?://\S+$")  # unset: Google's token endpoint (tests: a stand-in)
    ga4_service_account_file: Path | None = None  # a service-account key for GA4 instead of the refresh token
    ga4_page_size: int = Field(10_000, ge=1, le=250_000)  # runReport rows per page; 250,000 is the API's maximum
    http_attempts: int = Field(3, ge=1, le=10)  # tries per HTTP call (Google and Slack) on refusals, 429 and 5xx
    retry_after_cap_s: float = Field(60.0, ge=0, le=3600)  # a longer Retry-After is a delivery/source failure, not a sleep
    slack_timeout_s: float = Field(15.0, gt=0, le=120)  # Slack answers webhooks within seconds; a timeout is ambiguous
    report_date: date | None = None  # unset: yesterday in UTC, the last complete day
    currency: str = Field("USD", pattern=r"^[A-Z]{3}$")  # the Ads account currency; money is shown in it
    roas_drop_alert_pct: float = Field(20.0, gt=0, le=100)  # flag ROAS falling more than this day over day
    spend_spike_alert_pct: float = Field(30.0, gt=0, le=1000)  # flag spend rising more than this day over day
    slack_webhook_url: SecretStr | None = None  # unset: a local Slack stand-in that writes to day11/output
    smtp_host: str | None = None  # unset: the embedded SMTP sink on loopback
    smtp_port: int = Field(587, ge=1, le=65535)  # the submission port most providers use with STARTTLS
    smtp_security: Literal["starttls", "ssl", "none"] = "starttls"  # credentials never cross the wire in clear
    smtp_user: str | None = None  # log in only when a user is configured
    smtp_password: SecretStr | None = None  # kept out of logs and reprs
    smtp_timeout_s: float = Field(20.0, gt=0, le=300)  # per SMTP reply; no reply after DATA is an ambiguous delivery
    email_from: str = "retail-reports@shop.example"  # a reserved domain: nothing leaves by accident
    email_to: day11_AddressList = ("marketing-team@shop.example",)  # comma-separated recipients
    schedule_cron: str = "0 8 * * *"  # 08:00, after the ad platforms have closed the previous day
    timezone: str = "UTC"  # the team reads one clock; UTC has no daylight-saving gaps
    output_dir: Path = DAY11_DIR / "output"  # payloads, logs and the Slack stand-in's captures
    ledger_path: Path = DAY11_DIR / "state" / "day11_ledger.sqlite"  # (date, channel) already posted: no double post
    n8n_cache_dir: Path | None = None  # unset: ~/.cache/orchestration-week/n8n-<version>, outside the repository

    @field_validator("ads_api_version")
    @classmethod
    def _served_ads_version(cls, value: str) -> str:
        if int(value[1:]) < DAY11_OLDEST_ADS_VERSION:
            raise ValueError(f"Google Ads API {value} is sunset; expected v{DAY11_OLDEST_ADS_VERSION} or later")
        return value

    @model_validator(mode="after")
    def _real_sources_need_their_ids(self):
        if self.ads_api_base_url and not self.ads_customer_id:
            raise ValueError("DAY11_ADS_CUSTOMER_ID is required with DAY11_ADS_API_BASE_URL (no synthetic fallback)")
        if self.ga4_api_base_url and not self.ga4_property_id:
            raise ValueError("DAY11_GA4_PROPERTY_ID is required with DAY11_GA4_API_BASE_URL (no synthetic fallback)")
        if self.google_refresh_token and not (self.google_client_id and self.google_client_secret):
            raise ValueError("DAY11_GOOGLE_REFRESH_TOKEN needs DAY11_GOOGLE_CLIENT_ID and DAY11_GOOGLE_CLIENT_SECRET")
        return self

    @field_validator("email_to", mode="before")
    @classmethod
    def _split_addresses(cls, value):
        if isinstance(value, str):
            value = [part.strip() for part in value.split(",") if part.strip()]
        bad = [address for address in value if "@" not in address]
        if bad:
            raise ValueError(f"expected comma-separated e-mail addresses, got {', '.join(bad)}")
        return tuple(value)

    @field_validator("schedule_cron")
    @classmethod
    def _five_cron_fields(cls, value: str) -> str:
        fields = value.split()
        if len(fields) != 5:
            raise ValueError(f"expected a 5-field cron expression such as '0 8 * * *', got {value!r}")
        if fields[2] != "*" and fields[4] != "*":  # cron: either day matches; APScheduler: both must
            raise ValueError(f"restrict the day of the month or the day of the week, not both, got {value!r}")
        day11_cron_weekdays(fields[4])
        return value

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"expected an IANA time zone such as UTC or Europe/London, got {value!r}") from None
        return value


def day11_load_settings(env_file: Path | None = DAY11_ENV_FILE, **overrides) -> day11_Settings:
    """Settings from the environment, then env_file, then defaults; overrides (by field name) win."""
    file_values = dotenv_values(env_file) if env_file and Path(env_file).exists() else {}
    known = {DAY11_PREFIX + name.upper() for name in day11_Settings.model_fields}
    for name in sorted(set(os.environ) | set(file_values)):
        if name.startswith(DAY11_PREFIX) and name not in known:
            hint = difflib.get_close_matches(name, known, n=1)
            raise day11_ConfigError(f"{name}: not a day11 setting" + (f" (did you mean {hint[0]}?)" if hint else ""))
    try:
        return day11_Settings(_env_file=env_file if file_values else None, **overrides)
    except ValidationError as exc:
        first = exc.errors()[0]
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        where = DAY11_PREFIX + str(first["loc"][0]).upper() if first["loc"] else "settings"
        name, problem = where, first["msg"].removeprefix("Value error, ")
        raise day11_ConfigError(f"{name}: {problem}{more}") from None
