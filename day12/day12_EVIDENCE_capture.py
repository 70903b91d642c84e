"""Regenerate day12's committed evidence from a real run (never drawn by hand).

    python day12/day12_EVIDENCE_capture.py

Runs --demo (rebuilds the committed Data Docs, with their own copies of the scripts, styles and fonts),
copies the dirty run's results and quarantine summaries into evidence/, runs three ordinary file runs
(clean, warnings only, critical) in a throw-away folder, keeps every log line of all that in
evidence/day12_sample_run.log, and screenshots the Data Docs index and the failing validation page in
headless Chromium with the network off, straight from the committed site's file:// URLs (GitHub shows
HTML as source). Needs Debian's chromium (and npm for --demo).
"""
from __future__ import annotations

import logging
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

DAY12_DIR = Path(__file__).resolve().parent
DAY12_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               "--proxy-server=http://127.0.0.1:9", "--proxy-bypass-list=<-loopback>",  # network off: proves offline
               "--host-resolver-rules=MAP * ~NOTFOUND")
DAY12_LOG = logging.getLogger("day12.evidence")


def day12_screenshot(page: Path, target: Path, height: int) -> None:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        raise SystemExit("chromium not found: apt-get install chromium")
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run([chromium, *DAY12_FLAGS, f"--user-data-dir={profile}", f"--window-size=1280,{height}",
                        "--virtual-time-budget=3000", f"--screenshot={target}", page.as_uri()],
                       check=True, capture_output=True, timeout=120)
    DAY12_LOG.info("screenshot written", extra={"file": str(target.relative_to(DAY12_DIR.parent))})


def main() -> int:
    from day12_CONFIG_settings import day12_load_settings
    from day12_DEMO_docs import DAY12_DOCS_DIR, day12_demo, day12_sample_file_runs
    from day12_LOG_setup import day12_setup_logging

    evidence, shots = DAY12_DIR / "evidence", DAY12_DIR / "screenshots"
    evidence.mkdir(exist_ok=True)
    shots.mkdir(exist_ok=True)
    log = evidence / "day12_sample_run.log"
    log.unlink(missing_ok=True)
    day12_setup_logging(log)
    settings = day12_load_settings()
    code = day12_demo(settings)
    with tempfile.TemporaryDirectory(prefix="day12-evidence-") as work:
        folder = Path(work)
        runs = settings.model_copy(update={"run_dir": folder / "runs", "results_dir": folder / "results",
                                           "quarantine_dir": folder / "quarantine"})
        codes = day12_sample_file_runs(runs, folder / "inputs")
    if codes != {"clean": 0, "warnings": 1, "critical": 4}:
        raise SystemExit(f"the sample file runs did not end as expected: {codes}")
    for stale in evidence.glob("day12-demo-*.json"):
        stale.unlink()
    name = "day12-demo-dirty"
    shutil.copyfile(settings.results_dir / f"{name}.json", evidence / f"{name}_results.json")
    shutil.copyfile(settings.quarantine_dir / f"{name}_quarantine.json", evidence / f"{name}_quarantine.json")
    failing = next(DAY12_DOCS_DIR.glob("validations/day12_security_events_suite/day12-demo-dirty/*/*.html"))
    day12_screenshot(DAY12_DOCS_DIR / "index.html", shots / "day12_data_docs_index.png", 620)
    day12_screenshot(failing, shots / "day12_data_docs_failing_validation.png", 1400)
    print(f"evidence written: {evidence.relative_to(DAY12_DIR.parent)}/, {shots.relative_to(DAY12_DIR.parent)}/")
    return code


if __name__ == "__main__":
    sys.exit(main())
