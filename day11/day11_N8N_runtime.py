"""A headless n8n for the proof tests and the evidence: installed once into a cache outside the repo.

n8n 1.123.81 runs on Node 20-24. Its `isolated-vm` dependency does not compile on every Node, and
npm then rolls back the whole install, so native builds are skipped (--ignore-scripts) and only
`sqlite3` (n8n's own database) is rebuilt from source; expressions use the legacy engine. The
xlsx override points a dependency at a version the npm registry serves.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

DAY11_N8N_VERSION = "1.123.81"
DAY11_N8N_PACKAGE = {"name": "day11-n8n-runtime", "private": True, "dependencies": {"n8n": DAY11_N8N_VERSION},
                     "overrides": {"xlsx": "0.18.5"}}
DAY11_N8N_BASE_ENV = {
    "N8N_DIAGNOSTICS_ENABLED": "false", "N8N_VERSION_NOTIFICATIONS_ENABLED": "false",
    "N8N_BLOCK_ENV_ACCESS_IN_NODE": "false",  # the export reads its URLs from $env.DAY11_*
    "N8N_RUNNERS_ENABLED": "false", "N8N_EXPRESSION_ENGINE": "legacy",  # no isolated-vm build (see above)
    "N8N_ENFORCE_SETTINGS_FILE_PERMISSIONS": "false", "N8N_LOG_LEVEL": "warn",
}


def day11_n8n_cache(settings) -> Path:
    return Path(settings.n8n_cache_dir or Path.home() / ".cache" / "orchestration-week" / f"n8n-{DAY11_N8N_VERSION}")


def day11_n8n_binary(cache: Path) -> Path | None:
    binary = cache / "node_modules" / ".bin" / "n8n"
    built = cache / "node_modules" / "sqlite3" / "build" / "Release" / "node_sqlite3.node"
    return binary if binary.exists() and built.exists() else None


def day11_install_n8n(cache: Path, timeout: int = 1500) -> Path:
    """Install (about 5 minutes and 2 GB the first time); later calls find it and return at once."""
    found = day11_n8n_binary(cache)
    if found:
        return found
    if not shutil.which("npm"):
        raise RuntimeError("npm (Node.js) is not installed; n8n needs Node 20-24")
    cache.mkdir(parents=True, exist_ok=True)
    (cache / "package.json").write_text(json.dumps(DAY11_N8N_PACKAGE, indent=2) + "\n")
    subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--loglevel=error", "--ignore-scripts"],
                   cwd=cache, check=True, capture_output=True, timeout=timeout)
    subprocess.run(["npx", "--yes", "node-gyp", "rebuild", "--release", "-j", "2"], cwd=cache / "node_modules" / "sqlite3",
                   check=True, capture_output=True, timeout=timeout)
    found = day11_n8n_binary(cache)
    if not found:
        raise RuntimeError(f"n8n install in {cache} did not produce a working binary")
    return found


def day11_run_n8n(binary: Path, home: Path, env: dict[str, str], *args: str, timeout: int = 300):
    """One n8n CLI command with its own user folder (its database, settings and encryption key)."""
    full = {**os.environ, **DAY11_N8N_BASE_ENV, "N8N_USER_FOLDER": str(home),
            "N8N_ENCRYPTION_KEY": "day11-test-encryption-key", **env}
    return subprocess.run([str(binary), *args], env=full, capture_output=True, text=True, timeout=timeout)


DAY11_WORKFLOWS = Path(__file__).resolve().parent / "workflows"
DAY11_MAIN_WORKFLOW_ID = "day11RetailReport01"


def day11_standin_env(base_url: str, report_date) -> dict[str, str]:
    """The $env.DAY11_* values that point the export at the local stand-ins."""
    return {"DAY11_ADS_API_BASE_URL": base_url, "DAY11_GA4_API_BASE_URL": base_url,
            "DAY11_SLACK_WEBHOOK_URL": f"{base_url}/slack/webhook", "DAY11_REPORT_DATE": str(report_date)}


def day11_prepare_n8n(binary: Path, home: Path, env: dict[str, str], smtp_host: str, smtp_port: int) -> None:
    """A fresh n8n user folder with stand-in credentials (under the ids the export references) and both
    workflows imported, the error handler first."""
    credentials = [
        {"id": "day11GoogleBearer", "name": "day11 Google APIs bearer token", "type": "httpHeaderAuth",
         "data": {"name": "Authorization", "value": "Bearer stand-in"}},
        {"id": "day11SmtpAccount1", "name": "day11 SMTP account", "type": "smtp",
         "data": {"host": smtp_host, "port": smtp_port, "secure": False, "user": "", "password": "", "disableStartTls": True}}]
    home.mkdir(parents=True, exist_ok=True)
    (home / "credentials.json").write_text(json.dumps(credentials))
    for step in (("import:credentials", f"--input={home / 'credentials.json'}"),
                 ("import:workflow", f"--input={DAY11_WORKFLOWS / 'day11_error_handler_workflow.json'}"),
                 ("import:workflow", f"--input={DAY11_WORKFLOWS / 'day11_retail_report_workflow.json'}")):
        done = day11_run_n8n(binary, home, env, *step)
        if done.returncode != 0:
            raise RuntimeError(f"n8n {step[0]} failed: {done.stdout[-1500:]} {done.stderr[-1500:]}")
