"""The hosted CI configuration: a GitHub Actions workflow that is valid by the format's own schema and runs
.ci/run with Redis and PostgreSQL as services (the lint is check-jsonschema's vendored github-workflows schema)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml
from repo_helpers import ROOT

WORKFLOW = ROOT / ".github" / "workflows" / "ci.yml"


def _check_jsonschema() -> str:
    return str(Path(sys.executable).with_name("check-jsonschema"))


def test_the_workflow_passes_the_github_workflows_schema():
    done = subprocess.run([_check_jsonschema(), "--builtin-schema", "vendor.github-workflows", str(WORKFLOW)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_linter_rejects_a_broken_workflow(tmp_path):
    broken = tmp_path / "broken.yml"
    broken.write_text("on: push\njobs:\n  run:\n    steps:\n      - run: true\n")  # no runs-on
    done = subprocess.run([_check_jsonschema(), "--builtin-schema", "vendor.github-workflows", str(broken)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 1 and "runs-on" in done.stdout


def test_the_workflow_runs_ci_run_with_both_services():
    (job,) = yaml.safe_load(WORKFLOW.read_text())["jobs"].values()
    assert {"redis", "postgres"} <= set(job["services"])
    assert "6379:6379" in job["services"]["redis"]["ports"] and "5432:5432" in job["services"]["postgres"]["ports"]
    assert job["services"]["postgres"]["env"]["POSTGRES_HOST_AUTH_METHOD"] == "trust"  # conftest: user postgres, no password
    assert job["env"]["CI"] == "true" and job["timeout-minutes"] <= 90
    assert any(step.get("run") == "bash .ci/run" for step in job["steps"])
