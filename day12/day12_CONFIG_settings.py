"""day12 settings: one frozen object from config/.env and the environment (the environment wins).

Each value has a named default with its reason. A bad value, or a DAY12_ name that is not a
setting (a typo), stops start-up with one line naming the variable and what it expected.
Nothing is read at import time: call day12_load_settings().
"""
from __future__ import annotations

import difflib
import os
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dotenv import dotenv_values
from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DAY12_DIR = Path(__file__).resolve().parent
DAY12_ENV_FILE = DAY12_DIR.parent / "config" / ".env"
DAY12_PREFIX = "DAY12_"
DAY12_HANDOFF_VARIABLES = {"DAY12_SQL_CONNECTION_STRING"}  # set by --source for GX during a run: not settings


class day12_ConfigError(ValueError):
    """A setting is unusable; the message is one line naming the variable."""


class day12_Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=DAY12_PREFIX, extra="ignore", frozen=True, env_ignore_empty=True)

    ge_project_dir: Path = DAY12_DIR / "gx"  # the GX 1.x file context: suites, checkpoint, Data Docs config
    data_source_path: Path | None = None  # a CSV or Parquet file to validate when --input is not given
    drop_folder: Path = DAY12_DIR / "drop"  # the scheduler validates whatever lands here
    run_dir: Path = DAY12_DIR / "runs"  # ordinary runs' GX project and Data Docs: git-ignored, never the committed ones
    results_dir: Path = DAY12_DIR / "results"  # one results JSON per run
    quarantine_dir: Path = DAY12_DIR / "quarantine"  # failing rows by event_id, never their values
    clock_skew_minutes: int = Field(5, ge=0, le=1440)  # NTP-synced sources drift seconds; 5 min covers a bad one
    min_rows: int = Field(100, ge=0)  # a near-empty file is a broken export, not a quiet day
    max_rows: int = Field(5_000_000, ge=1)  # far above a day's volume: more means a replay or a loop
    min_rows_per_source: int = Field(10, ge=0)  # fewer events from one source in a file: it has (nearly) stopped
    max_rows_per_source: int = Field(2_500_000, ge=1)  # half the file ceiling from one source: a loop or a flood
    slack_webhook_url: SecretStr | None = None  # unset: failures are reported as log lines only
    sql_password: SecretStr | None = None  # --source's PostgreSQL password: never in the URL (ps, shell history, cron)
    schedule_interval_minutes: int = Field(15, ge=1, le=1440)  # drop folder polling period
    timezone: str = "UTC"  # security timelines are kept in UTC

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"expected an IANA time zone such as UTC or Europe/London, got {value!r}") from None
        return value


def day12_load_settings(env_file: Path | None = DAY12_ENV_FILE, **overrides) -> day12_Settings:
    """Settings from the environment, then env_file, then defaults; overrides (by field name) win."""
    file_values = dotenv_values(env_file) if env_file and Path(env_file).exists() else {}
    known = {DAY12_PREFIX + name.upper() for name in day12_Settings.model_fields}
    for name in sorted(set(os.environ) | set(file_values)):
        if name.startswith(DAY12_PREFIX) and name not in known | DAY12_HANDOFF_VARIABLES:
            hint = difflib.get_close_matches(name, known, n=1)
            raise day12_ConfigError(f"{name}: not a day12 setting" + (f" (did you mean {hint[0]}?)" if hint else ""))
    try:
        return day12_Settings(_env_file=env_file if file_values else None, **overrides)
    except ValidationError as exc:
        first = exc.errors()[0]
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        name, problem = DAY12_PREFIX + str(first["loc"][0]).upper(), first["msg"].removeprefix("Value error, ")
        raise day12_ConfigError(f"{name}: {problem}{more}") from None
