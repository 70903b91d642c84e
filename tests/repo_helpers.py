"""Small readers the repository-level tests share (not a day module: days never import it)."""
from __future__ import annotations

import importlib
import re
import threading
import tomllib
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DAYS = ("day11", "day12", "day13", "day14", "day15")


def pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def parse_pins(lines) -> dict[str, str]:
    pins = {}
    for line in lines:
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, version = line.partition("==")
            assert version, f"not pinned exactly: {line!r}"
            pins[normalise(name)] = version
    return pins


def env_example(path: Path) -> dict[str, str]:
    """KEY -> value of a .env.example, asserting every variable has a comment line above it."""
    values, previous = {}, ""
    for line in path.read_text().splitlines():
        if "=" in line and not line.startswith("#"):
            key, _, value = line.partition("=")
            assert previous.startswith("# "), f"{path}: {key} has no comment line above it"
            values[key] = value
        previous = line
    return values


def config_module(day: str):
    (path,) = (ROOT / day).glob(f"{day}_CONFIG_*.py")
    return importlib.import_module(path.stem)


def settings_names(day: str) -> set[str]:
    module = config_module(day)
    settings = getattr(module, f"{day}_Settings")
    return {f"{day.upper()}_{name.upper()}" for name in settings.model_fields}


def repo_script(name: str):
    """A module from scripts/, loaded by path (scripts/ is not on pytest's pythonpath, which holds only days)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@contextmanager
def webhook_answering(status: int, port: int = 0):
    """A local webhook that answers every POST with `status` and nothing else; yields its base URL."""
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server's name
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
