"""Regenerate day12's committed evidence from a real run (never drawn by hand).

    python day12/day12_EVIDENCE_capture.py

Runs --demo (rebuilds the committed Data Docs, with their own copies of the scripts, styles and fonts),
copies the dirty run's results and quarantine summaries into evidence/, and screenshots the Data Docs
index and the failing validation page in headless Chromium with the network off, straight from the
committed site's file:// URLs (GitHub shows HTML as source). Needs Debian's chromium (and npm for --demo).
"""
from __future__ import annotations

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


def day12_screenshot(page: Path, target: Path, height: int) -> None:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        raise SystemExit("chromium not found: apt-get install chromium")
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run([chromium, *DAY12_FLAGS, f"--user-data-dir={profile}", f"--window-size=1280,{height}",
                        "--virtual-time-budget=3000", f"--screenshot={target}", page.as_uri()],
                       check=True, capture_output=True, timeout=120)


def main() -> int:
    from day12_CONFIG_settings import day12_load_settings
    from day12_DEMO_docs import DAY12_DOCS_DIR, day12_demo

    settings = day12_load_settings()
    code = day12_demo(settings)
    evidence, shots = DAY12_DIR / "evidence", DAY12_DIR / "screenshots"
    evidence.mkdir(exist_ok=True)
    shots.mkdir(exist_ok=True)
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
