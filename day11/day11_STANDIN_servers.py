"""Local stand-ins: the Google Ads and GA4 endpoints serving the shared synthetic responses, and a
Slack incoming webhook that keeps what it receives. Real HTTP on loopback, for the demo and tests
(and for n8n, which calls the same URLs)."""
from __future__ import annotations

import json
import re
import threading
from contextlib import contextmanager
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Iterator

DAY11_ADS_PATH = re.compile(r"^/v\d+/customers/(\d+)/googleAds:searchStream$")
DAY11_GA4_PATH = re.compile(r"^/v1beta/properties/(\d+):runReport$")


@contextmanager
def day11_standin(report_date: date, slack_dir: Path, *, defects: tuple[str, ...] = (), seed: int = 7,
                  fail_ads_with: int | None = None) -> Iterator[str]:
    """Serve until the block ends; yields the base URL. fail_ads_with makes the Ads endpoint answer that status."""
    from shared_synthetic_data import retail

    posts: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def _answer(self, status: int, body) -> None:
            data = json.dumps(body).encode() if not isinstance(body, bytes) else body
            self.send_response(status)
            self.send_header("Content-Type", "application/json" if not isinstance(body, bytes) else "text/plain")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self):
            length = int(self.headers.get("Content-Length", 0))
            payload = json.loads(self.rfile.read(length) or b"{}")
            if DAY11_ADS_PATH.match(self.path):
                if fail_ads_with:
                    return self._answer(fail_ads_with, {"error": {"code": fail_ads_with, "message": "stand-in failure"}})
                return self._answer(200, retail.ads_search_stream(seed=seed, defects=defects, end_date=report_date,
                                                                  rows_per_batch=50))
            if DAY11_GA4_PATH.match(self.path):
                return self._answer(200, retail.ga4_run_report(seed=seed, defects=defects, end_date=report_date))
            if self.path == "/slack/webhook":
                posts.append(payload)
                slack_dir.mkdir(parents=True, exist_ok=True)
                (slack_dir / f"day11_slack_post_{len(posts):03d}.json").write_text(json.dumps(payload, indent=2) + "\n")
                return self._answer(200, b"ok")
            return self._answer(404, {"error": f"no stand-in for {self.path}"})

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.posts = posts
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
