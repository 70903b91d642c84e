"""Regenerate day15's committed evidence from a real demo run (never drawn by hand).

    python day15/day15_EVIDENCE_capture.py

Runs the full --demo pipeline (embedded Redis, webhook server, two consumer processes, signed synthetic
traffic), screenshots the live dashboard in headless Chromium once the queue has drained, and keeps
the run's structured log. Needs Debian's chromium (`apt-get install chromium`).
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

DAY15_DIR = Path(__file__).resolve().parent
DAY15_LOG = DAY15_DIR / "evidence" / "day15_sample_pipeline.log"
DAY15_SHOT = DAY15_DIR / "screenshots" / "day15_dashboard.png"
DAY15_CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
                        "--disable-background-networking", "--disable-component-update", "--disable-sync")


def day15_screenshot(url: str) -> None:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        raise SystemExit("chromium not found: apt-get install chromium")
    DAY15_SHOT.parent.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run([chromium, *DAY15_CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--window-size=1280,1130",
                        "--virtual-time-budget=4000", f"--screenshot={DAY15_SHOT}", f"{url}/"],
                       check=True, capture_output=True, timeout=120)


def main() -> int:
    DAY15_LOG.parent.mkdir(exist_ok=True)
    DAY15_LOG.unlink(missing_ok=True)
    os.environ["DAY15_LOG_PATH"] = str(DAY15_LOG)  # every child process appends to the same evidence log
    from day15_CONFIG_settings import day15_load_settings
    from day15_LOG_setup import day15_setup_logging
    from day15_DEMO_run import day15_run_demo

    settings = day15_load_settings()
    day15_setup_logging(settings.log_path)
    outcome = day15_run_demo(settings, on_drained=day15_screenshot)
    print(outcome["summary"])
    print(f"evidence written: {DAY15_SHOT.relative_to(DAY15_DIR.parent)}, {DAY15_LOG.relative_to(DAY15_DIR.parent)}")
    return outcome["exit_code"]


if __name__ == "__main__":
    sys.exit(main())
