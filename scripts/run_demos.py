"""Run every day's ORCHESTRATOR once with --demo and print what each produced, and where.

The contract (README): `--demo` does one bounded end-to-end run on synthetic data and embedded
defaults, logs to stderr, and prints a one-line summary as its last line on stdout.
A day without an ORCHESTRATOR yet is reported as "not built yet", not as a failure.
"""
from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DAYS = ("day11", "day12", "day13", "day14", "day15")
DEMO_TIMEOUT_SECONDS = 600  # one bounded run; anything longer is a hang, not a demo


def run_day(day: str) -> tuple[str, str, str]:
    scripts = sorted((ROOT / day).glob(f"{day}_ORCHESTRATOR_*.py"))
    if not scripts:
        return day, "not built yet", "-"
    started = time.monotonic()
    try:
        proc = subprocess.run([sys.executable, str(scripts[0]), "--demo"], cwd=ROOT, capture_output=True,
                              text=True, timeout=DEMO_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        return day, f"failed: no answer in {DEMO_TIMEOUT_SECONDS}s", "-"
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    summary = lines[-1] if lines else "(no summary printed)"
    if proc.returncode != 0:
        sys.stderr.write(f"--- {day} stderr (last lines) ---\n" + "\n".join(proc.stderr.splitlines()[-20:]) + "\n")
        return day, f"failed (exit {proc.returncode}, {time.monotonic() - started:.1f}s)", summary
    return day, f"ok ({time.monotonic() - started:.1f}s)", summary


def main() -> int:
    rows = [run_day(day) for day in DAYS]
    width = max(len(status) for _, status, _ in rows)
    print(f"\n{'day':<6} {'status':<{width}}  produced")
    for day, status, summary in rows:
        print(f"{day:<6} {status:<{width}}  {summary}")
    return 1 if any(status.startswith("failed") for _, status, _ in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
