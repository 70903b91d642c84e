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
