"""Regenerate day13's committed evidence from a real demo run (never written by hand).

    python day13/day13_EVIDENCE_capture.py

Runs --demo (three sources, embedded receivers), then keeps: the run log, the first 200 rows of
the audit export (the full export is one command away), the SLA report and a route-test, and a
one-page HTML report of the demo's database (states, SLA, routing, one alert's audit trail,
quarantine) screenshotted with headless Chromium into screenshots/ (Debian: apt-get install chromium).
"""
from __future__ import annotations

import contextlib
import csv
import io
import logging
import os
import shutil
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

DAY13_DIR = Path(__file__).resolve().parent
DAY13_EVIDENCE = DAY13_DIR / "evidence"
DAY13_SCREENSHOTS = DAY13_DIR / "screenshots"
DAY13_SAMPLE_ROWS = 200
DAY13_PAGE_SIZE = (1280, 1560)  # wide enough for the routing table, tall enough for the whole page
DAY13_CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
                        "--disable-background-networking", "--disable-component-update", "--disable-sync")
DAY13_LOG = logging.getLogger("day13.evidence")


def day13_screenshot(html_path: Path, target: Path) -> None:
    """Headless Chromium renders the page to a PNG; a missing browser is a clear error, not a stack trace."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        raise SystemExit("chromium not found: apt-get install chromium")
    target.parent.mkdir(exist_ok=True)
    width, height = DAY13_PAGE_SIZE
    subprocess.run([chromium, *DAY13_CHROMIUM_FLAGS, f"--window-size={width},{height}", f"--screenshot={target}",
                    html_path.resolve().as_uri()], check=True, capture_output=True, timeout=120)
    DAY13_LOG.info("screenshot written", extra={"file": str(target.relative_to(DAY13_DIR.parent))})


def day13_capture_report(demo, summary: str) -> None:
    from day13_REPORT_page import day13_report_html
    from day13_STORE_audit import day13_Store

    store = day13_Store.open(demo.audit_log_path)
    try:
        html = day13_report_html(store, summary, datetime.now(timezone.utc))
    finally:
        store.close()
    page = DAY13_EVIDENCE / "day13_triage_report.html"
    page.write_text(html, encoding="utf-8")
    day13_screenshot(page, DAY13_SCREENSHOTS / "day13_triage_report.png")


def main() -> int:
    DAY13_EVIDENCE.mkdir(exist_ok=True)
    log = DAY13_EVIDENCE / "day13_sample_run.log"
    log.unlink(missing_ok=True)
    os.environ["DAY13_LOG_PATH"] = str(log)
    from day13_COMMANDS_cli import day13_command_route_test, day13_command_sla
    from day13_CONFIG_settings import day13_load_settings
    from day13_DEMO_run import DAY13_DEMO_DIR, day13_demo
    from day13_LOG_setup import day13_setup_logging
    from day13_STORE_audit import day13_connect, day13_export_audit

    settings = day13_load_settings()
    day13_setup_logging(settings.log_path)
    demo_summary = io.StringIO()
    with contextlib.redirect_stdout(demo_summary):
        code = day13_demo(settings)
    demo = settings.model_copy(update={"audit_log_path": DAY13_DEMO_DIR / "day13_demo_audit.db"})
    db = day13_connect(demo.audit_log_path)
    full = DAY13_DEMO_DIR / "day13_audit_full.csv"
    day13_export_audit(db, full)
    db.close()
    with open(full, newline="") as source, open(DAY13_EVIDENCE / "day13_sample_audit_export.csv", "w", newline="") as target:
        writer = csv.writer(target)
        for n, row in enumerate(csv.reader(source)):
            if n > DAY13_SAMPLE_ROWS:
                break
            writer.writerow(row)
    report = io.StringIO()
    with contextlib.redirect_stdout(report):
        day13_command_sla(demo)
        print()
        day13_command_route_test(demo, ["alert_type=sanctions_hit", "severity=Critical", "entity_id=ENT-00001"])
    (DAY13_EVIDENCE / "day13_sla_and_route_test.txt").write_text(demo_summary.getvalue() + "\n" + report.getvalue())
    day13_capture_report(demo, demo_summary.getvalue().strip().splitlines()[-1])  # the demo's one-line outcome
    print(demo_summary.getvalue().strip())
    print(f"evidence written to {DAY13_EVIDENCE.relative_to(DAY13_DIR.parent)}/")
    return code


if __name__ == "__main__":
    sys.exit(main())
