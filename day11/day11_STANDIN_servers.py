"""Local stand-ins that speak the real formats: Google's OAuth token endpoint, Google Ads `searchStream`,
GA4 `runReport` (with limit/offset paging and `keyEvents`) and a Slack incoming webhook that keeps what
it receives. Real HTTP on loopback, for the demo and tests (and for n8n, which calls the same URLs).

A day11_StandinState lets a test script faults: token endpoint failures, a revoked token, a bearer
required, rewritten Ads batches or GA4 rows, Slack answers (status, headers, body), a Slack timeout.
"""
from __future__ import annotations

import json
import re
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Callable, Iterator
from urllib.parse import parse_qs

DAY11_ADS_PATH = re.compile(r"^/v(\d+)/customers/(\d+)/googleAds:searchStream$")
DAY11_GA4_PATH = re.compile(r"^/v1beta/properties/(\d+):runReport$")
DAY11_STANDIN_CUSTOMER_ID = "1234567890"  # the synthetic account the stand-in serves
DAY11_STANDIN_PROPERTY_ID = "123456789"
DAY11_STANDIN_SLACK_PATH = "/slack/webhook"


@dataclass
class day11_StandinState:
    token_expires_in: int = 3600
    token_answer: dict | None = None  # the token endpoint answers 200 with exactly this body (malformed answers)
    token_fails_with: int | None = None  # the token endpoint answers this status with an OAuth error body
    require_token: bool = False  # Ads and GA4 answer 401 without a current bearer token
    revoke_first_token: bool = False  # the first token issued is refused once (401): the client must refresh
    ads_batches: Callable[[list], list] | None = None  # rewrite the searchStream body
    ga4_rows: Callable[[list], list] | None = None  # rewrite the GA4 rows before paging
    fail_ads_with: int | None = None
    ads_raw: tuple | None = None  # (status, headers, bytes): the Ads endpoint answers exactly this (malformed answers)
    slack_script: list = field(default_factory=list)  # (status, headers, body) or ("hang", seconds) per post
    slack_delay_s: float = 0.0  # every Slack post waits this long before answering (concurrency tests)
    tokens_issued: list = field(default_factory=list)
    grants: list = field(default_factory=list)
    ads_versions: list = field(default_factory=list)
    ads_headers: list = field(default_factory=list)
    ga4_pages: list = field(default_factory=list)
    posts: list = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _ga4_with_key_events(report: dict) -> dict:
    """The shared synthetic report still names the metric `conversions`; GA4 calls it `keyEvents` now."""
    for header in report.get("metricHeaders", []):
        if header["name"] == "conversions":
            header["name"] = "keyEvents"
    return report


def day11_keep(folder: Path, stem: str, suffix: str, data: bytes) -> Path:
    """Save a received message under the next free number, created exclusively: another run's stand-in writing to the
    same folder (a re-run, two report dates at once) never replaces a message received before."""
    folder.mkdir(parents=True, exist_ok=True)
    number = len(list(folder.glob(f"{stem}_*{suffix}")))
    while True:
        number += 1
        path = folder / f"{stem}_{number:03d}{suffix}"
        try:
            with open(path, "xb") as handle:
                handle.write(data)
            return path
        except FileExistsError:
            continue


@contextmanager
def day11_standin(report_date: date, slack_dir: Path, *, defects: tuple[str, ...] = (), seed: int = 7,
                  fail_ads_with: int | None = None, state: day11_StandinState | None = None) -> Iterator[str]:
    """Serve until the block ends; yields the base URL. fail_ads_with makes the Ads endpoint answer that status."""
    from shared_synthetic_data import retail

    state = state or day11_StandinState()
    state.fail_ads_with = state.fail_ads_with or fail_ads_with

    class Handler(BaseHTTPRequestHandler):
        def _answer(self, status: int, body, headers: dict | None = None) -> None:
            data = json.dumps(body).encode() if not isinstance(body, (bytes, str)) else (
                body.encode() if isinstance(body, str) else body)
            self.send_response(status)
            self.send_header("Content-Type", "application/json" if not isinstance(body, (bytes, str)) else "text/plain")
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _authorized(self) -> bool:
            if not state.require_token:
                return True
            bearer = (self.headers.get("Authorization") or "").removeprefix("Bearer ")
            with state.lock:
                current = state.tokens_issued[-1] if state.tokens_issued else None
                if state.revoke_first_token and bearer == (state.tokens_issued[:1] or [None])[0] and len(state.tokens_issued) == 1:
                    return False
            return bearer == current

        def do_POST(self):
            raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            if self.path == "/token":
                return self._token(parse_qs(raw.decode()))
            payload = json.loads(raw or b"{}")
            if ads := DAY11_ADS_PATH.match(self.path):
                state.ads_versions.append(f"v{ads.group(1)}")
                state.ads_headers.append(dict(self.headers))
                if not self._authorized():
                    return self._answer(401, {"error": {"code": 401, "status": "UNAUTHENTICATED", "message": "token"}})
                if state.ads_raw:
                    status, headers, raw_body = state.ads_raw
                    return self._answer(status, raw_body, headers)
                if state.fail_ads_with:
                    return self._answer(state.fail_ads_with, {"error": {"code": state.fail_ads_with, "message": "stand-in failure"}})
                body = retail.ads_search_stream(seed=seed, defects=defects, end_date=report_date, rows_per_batch=50)
                return self._answer(200, state.ads_batches(body) if state.ads_batches else body)
            if DAY11_GA4_PATH.match(self.path):
                if not self._authorized():
                    return self._answer(401, {"error": {"code": 401, "status": "UNAUTHENTICATED", "message": "token"}})
                return self._answer(200, self._ga4_page(payload))
            if self.path == DAY11_STANDIN_SLACK_PATH:
                return self._slack(payload)
            return self._answer(404, {"error": f"no stand-in for {self.path}"})

        def _token(self, form: dict) -> None:
            state.grants.append({k: v[0] for k, v in form.items()})
            if state.token_fails_with:
                return self._answer(state.token_fails_with, {"error": "invalid_grant", "error_description": "Bad Request"})
            if state.token_answer is not None:
                return self._answer(200, state.token_answer)
            with state.lock:
                token = f"ya29.standin-{len(state.tokens_issued) + 1:03d}"
                state.tokens_issued.append(token)
            self._answer(200, {"access_token": token, "expires_in": state.token_expires_in, "token_type": "Bearer",
                               "scope": form.get("scope", [""])[0]})

        def _ga4_page(self, payload: dict) -> dict:
            report = _ga4_with_key_events(retail.ga4_run_report(seed=seed, defects=defects, end_date=report_date))
            rows = state.ga4_rows(report["rows"]) if state.ga4_rows else report["rows"]
            offset, limit = int(payload.get("offset", 0)), int(payload.get("limit", 10_000))
            state.ga4_pages.append((offset, limit))
            page = dict(report, rows=rows[offset:offset + limit], rowCount=len(rows))
            if not page["rows"]:
                page.pop("rows")  # GA4 leaves out an empty rows array
            return page

        def _slack(self, payload: dict) -> None:
            with state.lock:
                step = state.slack_script.pop(0) if state.slack_script else (200, {}, "ok")
            if state.slack_delay_s:
                time.sleep(state.slack_delay_s)
            if step[0] == "hang":  # the post arrives, the answer never does (before the client's timeout)
                self._keep(payload)
                time.sleep(step[1])
                return self._answer(200, "ok")
            status, headers, body = step
            if status < 300:
                self._keep(payload)
            self._answer(status, body, headers)

        def _keep(self, payload: dict) -> None:
            with state.lock:
                state.posts.append(payload)
                day11_keep(slack_dir, "day11_slack_post", ".json", (json.dumps(payload, indent=2) + "\n").encode())

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    server.posts = state.posts
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
