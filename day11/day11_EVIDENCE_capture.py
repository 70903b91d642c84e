"""Regenerate day11's committed evidence from real runs (never drawn by hand).

    python day11/day11_EVIDENCE_capture.py

1. A real n8n (the cached runtime) imports both exports and executes the report against the local
   stand-ins: the Slack payload n8n posted and the execution log are kept.
2. The posted Block Kit payload is rendered as HTML and screenshotted: a rendering of the real
   payload, labelled as such (Slack's own renderer cannot run here).
3. `n8n start` serves the editor; the report workflow and the error workflow are opened in headless
   Chromium (playwright-core) and screenshotted. Needs Debian's chromium and npm.
"""
from __future__ import annotations

import html
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import date
from pathlib import Path

from day11_CONFIG_settings import DAY11_DIR, day11_load_settings
from day11_N8N_runtime import (DAY11_ERROR_WORKFLOW_ID, DAY11_MAIN_WORKFLOW_ID, DAY11_N8N_VERSION, day11_install_n8n,
                                day11_n8n_cache, day11_n8n_env, day11_prepare_n8n, day11_run_n8n, day11_standin_env)
from day11_PIPELINE_report import day11_smtp_sink
from day11_STANDIN_servers import day11_standin

DAY11_EVIDENCE_DATE = date(2026, 11, 22)
DAY11_PLAYWRIGHT = Path.home() / ".cache" / "orchestration-week" / "playwright"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def day11_render_blocks(payload: dict, title: str) -> str:
    """A plain HTML rendering of Block Kit, close to Slack's layout, for a screenshot."""
    def mrkdwn(text: str) -> str:
        import re

        text = html.escape(text)
        text = re.sub(r"\*(.+?)\*", r"<b>\1</b>", text)
        text = text.replace(":warning:", "⚠️").replace(":white_check_mark:", "✓").replace(":rotating_light:", "🚨")
        return text.replace("\n", "<br>")

    parts = []
    for block in payload["blocks"]:
        if block["type"] == "header":
            parts.append(f"<div class='h'>{html.escape(block['text']['text'])}</div>")
        elif block["type"] == "section" and "fields" in block:
            parts.append("<div class='f'>" + "".join(f"<div>{mrkdwn(f['text'])}</div>" for f in block["fields"]) + "</div>")
        elif block["type"] == "section":
            parts.append(f"<div class='s'>{mrkdwn(block['text']['text'])}</div>")
        elif block["type"] == "context":
            parts.append("<div class='c'>" + " ".join(mrkdwn(e["text"]) for e in block["elements"]) + "</div>")
        elif block["type"] == "divider":
            parts.append("<hr>")
    style = ("body{font-family:Lato,Arial,sans-serif;background:#fff;margin:0;padding:18px;color:#1d1c1d;width:740px}"
             ".msg{display:flex;gap:10px}.av{width:36px;height:36px;border-radius:4px;background:#4a154b;color:#fff;"
             "display:flex;align-items:center;justify-content:center;font-weight:bold}.h{font-size:18px;font-weight:900;margin:4px 0 8px}"
             ".f{display:grid;grid-template-columns:1fr 1fr;gap:8px 24px;margin:6px 0;font-size:14px}.s{margin:8px 0;font-size:14px}"
             ".c{color:#616061;font-size:12px;margin:6px 0}hr{border:0;border-top:1px solid #ddd}"
             ".label{color:#616061;font-size:12px;margin-bottom:10px}")
    return (f"<html><head><meta charset='utf-8'><style>{style}</style></head><body><div class='label'>{html.escape(title)}</div>"
            f"<div class='msg'><div class='av'>n8n</div><div><b>Retail report bot</b>{''.join(parts)}</div></div></body></html>")


def day11_execution_summary(stdout: str) -> list[str]:
    """One line per node from the execution JSON `n8n execute --rawOutput` prints (after any warnings)."""
    start = next((i for i, line in enumerate(stdout.splitlines()) if line == "{"), None)
    if start is None:
        return ["(n8n printed no execution data)"]
    execution = json.loads("\n".join(stdout.splitlines()[start:]))
    run_data = execution["data"]["resultData"]["runData"]
    runs = sorted(((run.get("startTime", 0), name, run) for name, node_runs in run_data.items() for run in node_runs),
                  key=lambda item: item[0])
    lines = []
    for _, name, run in runs:
        items = sum(len(branch or []) for branch in (run.get("data") or {}).get("main", []))
        lines.append(f"  {name}: {run.get('executionStatus', 'success')}, {items} item(s), {run.get('executionTime', 0)} ms")
    status = execution.get("status") or ("success" if execution.get("finished") else "unknown")
    return [*lines, f"execution status: {status}, mode {execution.get('mode', '?')}"]


def _chromium_screenshot(page: Path, target: Path, width: int, height: int) -> None:
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                        "--disable-background-networking", "--disable-component-update", "--disable-sync",
                        f"--user-data-dir={profile}", f"--window-size={width},{height}", f"--screenshot={target}",
                        page.as_uri()], check=True, capture_output=True, timeout=120)


def main() -> int:
    settings = day11_load_settings(env_file=None)
    n8n = day11_install_n8n(day11_n8n_cache(settings))
    evidence, shots = DAY11_DIR / "evidence", DAY11_DIR / "screenshots"
    evidence.mkdir(exist_ok=True)
    shots.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        home, out = Path(tmp) / "n8n", Path(tmp) / "out"
        with day11_standin(DAY11_EVIDENCE_DATE, out) as base, day11_smtp_sink(out) as (smtp_host, smtp_port):
            env = day11_standin_env(base, DAY11_EVIDENCE_DATE)
            day11_prepare_n8n(n8n, home, env, smtp_host, smtp_port)
            # n8n 2.x prints the execution through its logger at info level; the shared env keeps it at warn
            run = day11_run_n8n(n8n, home, {**env, "N8N_LOG_LEVEL": "info"}, "execute", f"--id={DAY11_MAIN_WORKFLOW_ID}",
                                "--rawOutput")
            run.check_returncode()
            payload = json.loads(next(out.glob("day11_slack_post_*.json")).read_text())
            (evidence / "day11_slack_payload.json").write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n")
            log = [f"n8n {DAY11_N8N_VERSION}: execute --id=day11RetailReport01 (report date {DAY11_EVIDENCE_DATE})"
                   f" -> exit {run.returncode}",
                   f"slack posts received by the stand-in: {len(list(out.glob('day11_slack_post_*.json')))}",
                   f"e-mails received by the SMTP sink: {len(list(out.glob('day11_email_*.eml')))}", "",
                   "nodes n8n ran, in order (status, items out, milliseconds):", *day11_execution_summary(run.stdout)]
            (evidence / "day11_sample_execution.log").write_text("\n".join(log) + "\n")
            page = Path(tmp) / "slack.html"
            page.write_text(day11_render_blocks(payload, f"Rendering of the real Block Kit payload n8n posted for "
                                                         f"{DAY11_EVIDENCE_DATE} (evidence/day11_slack_payload.json)"))
            _chromium_screenshot(page, shots / "day11_slack_output.png", 800, 760)
            port = _free_port()
            server = subprocess.Popen([str(n8n), "start"], env=day11_n8n_env(n8n, home, {**env, "N8N_PORT": str(port),
                                                                                       "N8N_SECURE_COOKIE": "false"}),
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                deadline = time.monotonic() + 120
                while time.monotonic() < deadline:
                    try:
                        urllib.request.urlopen(f"http://127.0.0.1:{port}/rest/settings", timeout=2)  # REST is up, not just /healthz
                        break
                    except OSError:
                        time.sleep(1)
                subprocess.run(["node", str(DAY11_DIR / "day11_EVIDENCE_canvas.js"), f"http://127.0.0.1:{port}",
                                DAY11_MAIN_WORKFLOW_ID, str(shots / "day11_workflow_canvas.png"),
                                DAY11_ERROR_WORKFLOW_ID, str(shots / "day11_error_workflow_canvas.png")],
                               env={**os.environ, "NODE_PATH": str(DAY11_PLAYWRIGHT / "node_modules")},
                               check=True, timeout=300)
            finally:
                server.terminate()
                server.wait(timeout=30)
    print(f"evidence written: {evidence.relative_to(DAY11_DIR.parent)}/, {shots.relative_to(DAY11_DIR.parent)}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
