"""One retry policy for every HTTP call day11 makes (Google sources and the Slack webhook).

A `requests` Session whose adapter carries urllib3's `Retry`: connection failures (nothing sent) and
429/5xx answers are retried with exponential backoff; `Retry-After` is honoured in both forms urllib3
parses (seconds or an HTTP date) but never waited beyond a cap: beyond it the answer is handed back at
once and the caller reports it. Read errors are retried only where a repeat is harmless (the Google
reads); a webhook POST that timed out after sending is never repeated here (it may have been posted).
"""
from __future__ import annotations

import time

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

DAY11_RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})  # throttled or transient server trouble
DAY11_BACKOFF_FACTOR = 1.0  # waits 0 s, 2 s, 4 s ... between attempts (urllib3's schedule)


class day11_Retry(Retry):
    """urllib3 Retry with a cap on Retry-After and an injectable sleep (tests record the waits)."""

    def __init__(self, *args, retry_after_cap: float = 60.0, sleeper=time.sleep, **kwargs):
        super().__init__(*args, **kwargs)
        self.retry_after_cap, self.sleeper = retry_after_cap, sleeper

    def new(self, **kwargs):
        fresh = super().new(**kwargs)
        fresh.retry_after_cap, fresh.sleeper = self.retry_after_cap, self.sleeper
        return fresh

    def increment(self, method=None, url=None, response=None, error=None, _pool=None, _stacktrace=None):
        if response is not None and self.over_cap(response):
            from urllib3.exceptions import MaxRetryError, ResponseError

            raise MaxRetryError(_pool, url, ResponseError("Retry-After beyond the cap"))  # hands the answer back
        return super().increment(method, url, response, error, _pool, _stacktrace)

    def parse_retry_after(self, retry_after: str):
        return day11_parse_retry_after(retry_after)

    def over_cap(self, response) -> bool:
        wait = self.get_retry_after(response) if response.headers.get("Retry-After") else None
        return wait is not None and wait > self.retry_after_cap

    def sleep(self, response=None) -> None:
        wait = self.get_retry_after(response) if response is not None and response.headers.get("Retry-After") else None
        self.sleeper(wait if wait is not None else self.get_backoff_time())


def day11_retry(attempts: int, retry_after_cap: float, *, repeat_reads: bool, sleeper=time.sleep) -> day11_Retry:
    retries = max(attempts - 1, 0)
    return day11_Retry(total=retries, connect=retries, read=retries if repeat_reads else 0, status=retries, other=0,
                       redirect=0, status_forcelist=DAY11_RETRY_STATUSES, allowed_methods=frozenset({"GET", "POST"}),
                       backoff_factor=DAY11_BACKOFF_FACTOR, respect_retry_after_header=True, raise_on_status=False,
                       retry_after_cap=retry_after_cap, sleeper=sleeper)


def day11_session(attempts: int = 3, retry_after_cap: float = 60.0, *, repeat_reads: bool, sleeper=time.sleep) -> requests.Session:
    session = requests.Session()
    adapter = HTTPAdapter(max_retries=day11_retry(attempts, retry_after_cap, repeat_reads=repeat_reads, sleeper=sleeper))
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


def day11_parse_retry_after(value: str) -> float | None:
    """Seconds to wait, or None for a value that is neither seconds nor an HTTP date (then the backoff applies):
    a throttled answer stays a refusal whatever its header says."""
    from urllib3.exceptions import InvalidHeader

    try:
        return Retry.parse_retry_after(Retry(), value)
    except (InvalidHeader, ValueError, OverflowError):
        return None


def day11_retry_after(response, cap: float) -> str:
    """A short note on a throttled answer's Retry-After, for the failure message."""
    value = response.headers.get("Retry-After")
    if not value:
        return ""
    wait = day11_parse_retry_after(value)
    return f" (Retry-After {wait:.0f} s is beyond the {cap:g} s cap)" if wait is not None and wait > cap else ""


def day11_sent_nothing(exc: BaseException) -> bool:
    """True when the request surely never reached the server (refused, unresolvable, connect timeout)."""
    from urllib3.exceptions import ConnectTimeoutError, MaxRetryError, NameResolutionError, NewConnectionError

    if isinstance(exc, requests.ConnectTimeout):
        return True
    reason = exc.args[0] if exc.args else None
    if isinstance(reason, MaxRetryError):
        reason = reason.reason
    return isinstance(reason, (NewConnectionError, ConnectTimeoutError, NameResolutionError))


def day11_network_reason(exc: BaseException) -> str:
    """What went wrong, in words that carry no URL (urllib3 messages quote the path, e.g. a webhook secret)."""
    if isinstance(exc, requests.ConnectTimeout):
        return "connection timed out"
    from urllib3.exceptions import MaxRetryError, ReadTimeoutError

    reason = exc.args[0] if exc.args else None
    if isinstance(exc, requests.ReadTimeout) or (isinstance(reason, MaxRetryError)
                                                 and isinstance(reason.reason, ReadTimeoutError)):
        return "no answer before the timeout"
    if day11_sent_nothing(exc):
        return "connection refused or host unreachable"
    if isinstance(exc, requests.ConnectionError):
        return "connection dropped"
    return type(exc).__name__


def day11_read_body(response, limit: int) -> bytes | None:
    """The body of a streamed answer, or None once it passes `limit` bytes (then nothing more is read)."""
    chunks, size = [], 0
    for chunk in response.iter_content(1 << 16):
        size += len(chunk)
        if size > limit:
            response.close()
            return None
        chunks.append(chunk)
    return b"".join(chunks)
