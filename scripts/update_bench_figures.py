"""Rewrite every README figures block from the results file its benchmark wrote.

Run after a benchmark: `.venv/bin/python scripts/update_bench_figures.py`. Each row names its source
(`path.in.json`, or `left` ≥/≤ `right` for a target); the value column is regenerated, keeping the
decimals the README already shows. tests/test_repo_readmes.py checks the same rows against the same files.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BLOCK = re.compile(r"(<!-- figures from (\S+) -->)(.*?)(<!-- end figures -->)", re.S)


def lookup(data, path: str):
    for part in path.split("."):
        data = data[int(part)] if part.isdigit() else data[part]
    return data


def verdict(source: str, data) -> bool | None:
    """A target row (`left` ≥/≤ `right`) judged on the results; None for a plain figure row."""
    comparison = re.fullmatch(r"`([\w.]+)` (≤|≥) `([\w.]+)`", source)
    if not comparison:
        return None
    left, right = lookup(data, comparison.group(1)), lookup(data, comparison.group(3))
    return left <= right if comparison.group(2) == "≤" else left >= right


def figure(source: str, data):
    """The results-file value a plain figure row names."""
    return lookup(data, re.fullmatch(r"`([\w.]+)`", source).group(1))


def shown(value, old: str) -> str:
    number = old.replace(",", "").strip()
    decimals = len(number.split(".")[1]) if "." in number else 0
    return f"{value:,.{decimals}f}"


def rewrite_row(line: str, data) -> str:
    cells = line.split("|")
    if len(cells) < 5 or cells[1].strip() in ("figure", "---"):
        return line
    source, old = cells[2].strip(), cells[3].strip()
    met = verdict(source, data)
    new = shown(figure(source, data), old) if met is None else "met" if met else "not met"
    cells[3] = f" {new} "
    return "|".join(cells)


def update(readme: Path) -> bool:
    text = readme.read_text()

    def block(match: re.Match) -> str:
        data = json.loads((readme.parent / match.group(2)).read_text())
        rows = "\n".join(rewrite_row(line, data) for line in match.group(3).split("\n"))
        return match.group(1) + rows + match.group(4)

    new = BLOCK.sub(block, text)
    if new != text:
        readme.write_text(new)
    return new != text


if __name__ == "__main__":
    for path in sorted(ROOT.glob("day1*/README.md")):
        if update(path):
            print(f"updated {path.relative_to(ROOT)}")
