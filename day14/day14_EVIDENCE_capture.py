"""Regenerate day14's committed evidence from a real run (never drawn by hand).

    python day14/day14_EVIDENCE_capture.py

1. Sends the report for a fixed date over a real SMTP conversation to the embedded aiosmtpd sink
   (a throw-away ledger, a fixed clock, so the evidence is reproducible), keeps the received .eml
   and the run's log lines.
2. Opens the received HTML in headless Chromium (the CID image swapped for a file, as a mail client
   would show it) and screenshots it at desktop and phone widths.
Needs Debian's chromium (`apt-get install chromium`).
"""
from __future__ import annotations

import email
import email.policy
import logging
import shutil
import subprocess
import sys
import tempfile
from datetime import date, datetime, timezone
from pathlib import Path

from day14_CONFIG_settings import DAY14_DIR, day14_load_settings
from day14_DELIVERY_transports import day14_embedded_sink
from day14_LEDGER_sends import day14_SendLedger
from day14_LOG_setup import day14_setup_logging
from day14_PIPELINE_report import day14_run_report

DAY14_EVIDENCE_DATE = date(2026, 11, 22)
DAY14_EVIDENCE_CLOCK = datetime(2026, 11, 22, 20, 0, tzinfo=timezone.utc)  # 07:00 on the 23rd in Melbourne
DAY14_SCREENSHOTS = {"day14_email_sample.png": (680, 1500), "day14_email_phone.png": (390, 1400)}
DAY14_CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
                        "--disable-background-networking", "--disable-component-update", "--disable-sync")


def day14_capture_send(work: Path, evidence: Path) -> Path:
    settings = day14_load_settings(env_file=None, outbox_dir=work / "outbox", data_dir=None)
    log_path = evidence / "day14_sample_run.log"
    log_path.unlink(missing_ok=True)
    day14_setup_logging(log_path)
    ledger = day14_SendLedger(work / "ledger.sqlite")
    with day14_embedded_sink(settings.outbox_dir) as (transport, handler):
        outcome = day14_run_report(settings, transport, ledger, report_date=DAY14_EVIDENCE_DATE,
                                   now=lambda: DAY14_EVIDENCE_CLOCK)
    ledger.close()
    logging.getLogger("day14").info("evidence run finished", extra={"status": outcome.status})
    if outcome.status != "sent":
        raise SystemExit(f"evidence run did not send: {outcome.summary()}")
    received = evidence / "day14_sample_email.eml"
    shutil.copyfile(handler.received[0]["path"], received)
    return received


def day14_screenshot(eml: Path, work: Path, screenshots: Path) -> list[Path]:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        raise SystemExit("chromium not found: apt-get install chromium")
    message = email.message_from_bytes(eml.read_bytes(), policy=email.policy.default)
    html = message.get_body(("html",)).get_content()
    for part in message.walk():
        if part.get("Content-ID"):
            (work / "chart.png").write_bytes(part.get_content())
            html = html.replace(f"cid:{part['Content-ID'].strip('<>')}", "chart.png")
    page = work / "email.html"
    page.write_text(html, encoding="utf-8")
    written = []
    for name, (width, height) in DAY14_SCREENSHOTS.items():
        target = screenshots / name
        subprocess.run([chromium, *DAY14_CHROMIUM_FLAGS, f"--user-data-dir={work / 'profile'}",
                        f"--window-size={width},{height}", f"--screenshot={target}", page.as_uri()],
                       check=True, capture_output=True, timeout=120)
        written.append(target)
    return written


def main() -> int:
    evidence, screenshots = DAY14_DIR / "evidence", DAY14_DIR / "screenshots"
    evidence.mkdir(exist_ok=True)
    screenshots.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        eml = day14_capture_send(Path(tmp), evidence)
        shots = day14_screenshot(eml, Path(tmp), screenshots)
    print("evidence written: " + ", ".join(str(p.relative_to(DAY14_DIR.parent)) for p in [eml, *shots]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
