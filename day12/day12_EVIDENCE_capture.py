"""Regenerate day12's committed evidence from a real run (never drawn by hand).

    python day12/day12_EVIDENCE_capture.py

Runs --demo (rebuilds the committed Data Docs), copies the dirty run's results and quarantine
summaries into evidence/, and screenshots the Data Docs index and the failing validation page in
headless Chromium (GitHub shows HTML as source). Needs Debian's chromium and npm: Data Docs load
Bootstrap and Font Awesome from CDNs, so for the screenshot a temporary copy of the site points at
the same versions installed from the npm registry (the committed site keeps GX's links).
"""
from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

DAY12_DIR = Path(__file__).resolve().parent
DAY12_CDN_TO_NPM = {  # what Data Docs load from CDNs -> the same file in the same npm package version
    "https://maxcdn.bootstrapcdn.com/bootstrap/4.3.1/css/bootstrap.min.css": "bootstrap@4.3.1/dist/css/bootstrap.min.css",
    "https://stackpath.bootstrapcdn.com/bootstrap/4.3.1/js/bootstrap.min.js": "bootstrap@4.3.1/dist/js/bootstrap.min.js",
    "https://code.jquery.com/jquery-3.7.1.min.js": "jquery@3.7.1/dist/jquery.min.js",
    "https://cdnjs.cloudflare.com/ajax/libs/popper.js/1.12.9/umd/popper.min.js": "popper.js@1.12.9/dist/umd/popper.min.js",
    "https://unpkg.com/bootstrap-table@1.19.1/dist/bootstrap-table.min.css": "bootstrap-table@1.19.1/dist/bootstrap-table.min.css",
    "https://unpkg.com/bootstrap-table@1.19.1/dist/bootstrap-table.min.js": "bootstrap-table@1.19.1/dist/bootstrap-table.min.js",
    "https://cdnjs.cloudflare.com/ajax/libs/font-awesome/6.6.0/css/all.min.css": "@fortawesome/fontawesome-free@6.6.0/css/all.min.css",
}
DAY12_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync")


def day12_screenshot(page: Path, target: Path, height: int) -> None:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        raise SystemExit("chromium not found: apt-get install chromium")
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run([chromium, *DAY12_FLAGS, f"--user-data-dir={profile}", f"--window-size=1280,{height}",
                        "--virtual-time-budget=3000", f"--screenshot={target}", page.as_uri()],
                       check=True, capture_output=True, timeout=120)


def day12_offline_site(site: Path, work: Path) -> Path:
    """A copy of the site whose CDN links point at npm-installed copies of the same files."""
    import re

    specs = {url: re.match(r"^(@?[^@]+)@([\d.]+)/(.+)$", spec).groups() for url, spec in DAY12_CDN_TO_NPM.items()}
    packages = sorted({f"{name}@{version}" for name, version, _ in specs.values()})
    # --legacy-peer-deps: GX pins popper 1.12.9, older than bootstrap 4.3.1's declared peer range
    subprocess.run(["npm", "install", "--silent", "--no-audit", "--no-fund", "--legacy-peer-deps",
                    "--prefix", str(work / "npm"), *packages], check=True, capture_output=True, timeout=600)
    copy = work / "site"
    shutil.copytree(site, copy)
    for page in copy.rglob("*.html"):
        html = page.read_text(encoding="utf-8")
        for url, (name, _, file) in specs.items():
            html = html.replace(url, (work / "npm" / "node_modules" / name / file).as_uri())
        page.write_text(html, encoding="utf-8")
    return copy


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
    with tempfile.TemporaryDirectory() as work:
        site = day12_offline_site(DAY12_DOCS_DIR, Path(work))
        failing = next(site.glob("validations/day12_security_events_suite/day12-demo-dirty/*/*.html"))
        day12_screenshot(site / "index.html", shots / "day12_data_docs_index.png", 620)
        day12_screenshot(failing, shots / "day12_data_docs_failing_validation.png", 1400)
    print(f"evidence written: {evidence.relative_to(DAY12_DIR.parent)}/, {shots.relative_to(DAY12_DIR.parent)}/")
    return code


if __name__ == "__main__":
    sys.exit(main())
