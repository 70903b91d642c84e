"""Regenerate config/.env.example and each day's .env.example from the CONFIG modules.

The settings classes are the single source: each field's trailing comment becomes its comment in
the example, its default the example value (empty for secrets, switches and paths, whose default is
named in the comment). Run after adding or changing a setting; tests/test_repo_config.py fails
until the examples match.
"""
from __future__ import annotations

import importlib
import inspect
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TITLES = {
    "day11": "Day 11 - n8n retail daily performance report", "day12": "Day 12 - Great Expectations data-quality gate",
    "day13": "Day 13 - compliance alert triage", "day14": "Day 14 - transport KPI e-mail",
    "day15": "Day 15 - webhook -> Redis -> analytics",
}
HEADER = [
    "# Every variable of every day, grouped by day. Copy to config/.env (git-ignored) and edit.",
    "# Empty means the default: an embedded stand-in (local HTTP stand-in, fakeredis, SMTP sink,",
    "# synthetic data) or the path named in the comment. Real environment variables win over this file.",
    "",
]


def example_value(default) -> tuple[str, str]:
    """(value, extra comment) for a default."""
    if default is None:
        return "", ""
    if isinstance(default, tuple):
        return ",".join(default), ""
    if isinstance(default, Path):
        return "", f" (default: {default.relative_to(ROOT)})"
    if hasattr(default, "strftime") and not hasattr(default, "year"):
        return default.strftime("%H:%M"), ""
    return str(default), ""


def day_example(day: str) -> str:
    sys.path.insert(0, str(ROOT / day))  # a tool run by hand, outside pytest's pythonpath
    (config_path,) = (ROOT / day).glob(f"{day}_CONFIG_*.py")
    settings = getattr(importlib.import_module(config_path.stem), f"{day}_Settings")
    source = inspect.getsource(settings)
    lines = [f"# {TITLES[day]}"]
    for name, field in settings.model_fields.items():
        found = re.search(rf"^\s+{name}:.*?#\s*(.+)$", source, re.M)
        if not found:
            raise SystemExit(f"{day}: setting {name} has no reason comment")
        value, extra = example_value(field.default)
        lines += [f"# {found.group(1)}{extra}", f"{day.upper()}_{name.upper()}={value}"]
    return "\n".join(lines) + "\n"


def main() -> int:
    sections = []
    for day in TITLES:
        text = day_example(day)
        (ROOT / day / ".env.example").write_text(text)
        sections.append(text)
    (ROOT / "config" / ".env.example").write_text("\n".join(HEADER + sections))
    print(f"wrote config/.env.example and {len(sections)} day examples")
    return 0


if __name__ == "__main__":
    sys.exit(main())
