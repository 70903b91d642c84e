"""The contract every ORCHESTRATOR follows: --help answers at once because heavy imports are lazy.

Checked without a stopwatch: `python -X importtime` lists every module the --help path imports,
and none of the heavy libraries may be among them.
"""
import subprocess
import sys

import pytest

from repo_helpers import ROOT

ORCHESTRATORS = sorted(ROOT.glob("day1*/day1*_ORCHESTRATOR_*.py"))
HEAVY = {"great_expectations", "pandas", "numpy", "matplotlib", "flask", "redis", "fakeredis", "sqlalchemy",
         "aiosmtpd", "apscheduler", "jinja2", "css_inline", "pyarrow", "waitress", "requests"}


@pytest.mark.parametrize("script", ORCHESTRATORS, ids=lambda p: p.name)
def test_help_exits_0_without_importing_heavy_libraries(script):
    proc = subprocess.run([sys.executable, "-X", "importtime", str(script), "--help"], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "usage:" in proc.stdout
    imported = {line.rsplit("|", 1)[-1].strip().split(".")[0] for line in proc.stderr.splitlines() if "|" in line}
    assert not imported & HEAVY, f"--help imported {sorted(imported & HEAVY)}"
