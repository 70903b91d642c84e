"""The READMEs tell the truth, checked against the code and the committed evidence:
- every setting of a day is a row of its README's configuration table;
- the exit codes a day's ORCHESTRATOR states (and returns literally) are its README's table, same meanings,
  and a configuration error is exit 2 in every day;
- every benchmark figure in a README's figures block is the value in the results file the benchmark wrote,
  and each target verdict follows from that file;
- the top-level "Where each day stands" agrees with those verdicts and names only files that exist;
- commands in READMEs use the project's interpreter (`.venv/bin/python` or `make`), never a bare `python`.
"""
from __future__ import annotations

import ast
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from repo_helpers import DAYS, ROOT, repo_script, settings_names

CONFIG_ERROR_EXIT = 2  # what days 11, 13, 14 and 15 used; day12 moved to it


def _readme(day: str | None = None) -> str:
    return ((ROOT / day) if day else ROOT).joinpath("README.md").read_text()


def _section(text: str, title: str) -> str:
    match = re.search(rf"^## {re.escape(title)}\b.*?$(.*?)(?=^## |\Z)", text, re.M | re.S)
    assert match, f"no '## {title}' section"
    return match.group(1)


def _table_rows(text: str, header_first_cell: str) -> list[list[str]]:
    rows, inside = [], False
    for line in text.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")] if line.startswith("|") else None
        if cells and cells[0] == header_first_cell:
            inside = True
        elif inside and cells is None:
            break
        elif inside and not set(cells[0]) <= set("-: "):
            rows.append(cells)
    return rows


def _configured_names(day: str, order: list[str]) -> set[str]:
    """Names in the first column: `DAYXX_A_B`, abbreviated `_C` (same stem) and ranges `DAYXX_A` … `DAYXX_Z`."""
    names: set[str] = set()
    for cells in _table_rows(_section(_readme(day), "Configuration"), "variable"):
        previous = None
        tokens = re.findall(r"`([A-Z0-9_]+)`|(…)", cells[0])
        for position, (token, ellipsis) in enumerate(tokens):
            if ellipsis:
                end = tokens[position + 1][0]
                names.update(order[order.index(previous) + 1:order.index(end)])
                continue
            name = previous.rsplit("_", 1)[0] + token if token.startswith("_") and previous else token
            names.add(name)
            previous = name
    return names


@pytest.mark.parametrize("day", DAYS)
def test_every_setting_is_in_the_configuration_table(day):
    from repo_helpers import config_module

    fields = list(getattr(config_module(day), f"{day}_Settings").model_fields)
    order = [f"{day.upper()}_{name.upper()}" for name in fields]
    documented = _configured_names(day, order)
    assert settings_names(day) - documented == set(), "settings missing from the README's configuration table"
    assert documented - settings_names(day) == set(), "the table names variables the settings do not read"


def _orchestrator(day: str) -> Path:
    (path,) = (ROOT / day).glob(f"{day}_ORCHESTRATOR_*.py")
    return path


def _stated_exit_codes(text: str) -> dict[int, str]:
    """'Exit codes: 0 a; 1 b; 130 c.' → {0: 'a', 1: 'b', 130: 'c'}."""
    match = re.search(r"Exit codes: (.*?)(?:\n\s*\n|\Z)", text, re.S)
    assert match, "no 'Exit codes:' statement"
    parts = re.split(r"(?:^|;\s*)(\d+)\s", " ".join(match.group(1).split()))
    return {int(code): meaning.strip(" .") for code, meaning in zip(parts[1::2], parts[2::2])}


def _literal_returns(path: Path) -> tuple[set[int], set[int]]:
    """Integer literals `main` returns, and those returned under an `except …ConfigError`: in main itself and in the
    functions of the same file it calls (a main that only wraps its run in a Ctrl-C handler calls a dayXX_main)."""
    tree = ast.parse(path.read_text())
    functions = {node.name: node for node in tree.body if isinstance(node, ast.FunctionDef)}
    bodies, waiting = [], ["main"]
    while waiting:
        name = waiting.pop()
        if name in functions and functions[name] not in bodies:
            bodies.append(functions[name])
            waiting += [call.func.id for call in ast.walk(functions[name])
                        if isinstance(call, ast.Call) and isinstance(call.func, ast.Name)]
    nodes = [node for body in bodies for node in ast.walk(body)]
    returned = {node.value.value for node in nodes
                if isinstance(node, ast.Return) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, int)}
    config = {node.value.value for handler in nodes if isinstance(handler, ast.ExceptHandler)
              and handler.type is not None and ast.unparse(handler.type).endswith("ConfigError")
              for node in ast.walk(handler) if isinstance(node, ast.Return) and isinstance(node.value, ast.Constant)}
    return returned, config


def _first_word(meaning: str) -> str:
    words = [w for w in re.findall(r"[a-z]+", meaning.lower()) if w not in {"a", "an", "the", "only", "some"}]
    return words[0][:6] if words else ""


@pytest.mark.parametrize("day", DAYS)
def test_exit_codes_in_the_readme_table_match_the_orchestrator(day):
    stated = _stated_exit_codes(ast.get_docstring(ast.parse(_orchestrator(day).read_text())))
    table = {int(cells[0]): cells[1] for cells in _table_rows(_readme(day), "exit code")}
    returned, on_config_error = _literal_returns(_orchestrator(day))
    assert sorted(table) == sorted(stated), "the README's exit-code table and the ORCHESTRATOR's docstring differ"
    assert returned <= set(table), f"the ORCHESTRATOR returns {returned - set(table)}, not in the README"
    for code, meaning in stated.items():
        assert _first_word(table[code]) == _first_word(meaning), f"exit {code}: {table[code]!r} vs {meaning!r}"
    assert on_config_error == {CONFIG_ERROR_EXIT}
    assert "configuration" in table[CONFIG_ERROR_EXIT].lower()


BENCH_FIGURES = repo_script("update_bench_figures")  # one reading of a figures row, for the writer and this check
figure, verdict = BENCH_FIGURES.figure, BENCH_FIGURES.verdict


def _shown(value, text: str) -> bool:
    """`text` is `value` as the README shows it: thousands separators, rounded to the decimals shown."""
    number = text.replace(",", "").strip()
    decimals = len(number.split(".")[1]) if "." in number else 0
    return abs(float(number) - round(float(value), decimals)) < 10 ** -(decimals + 3)


def _figure_blocks(day: str) -> list[tuple[str, dict, list[list[str]]]]:
    """Every figures block of a day's README (a day may have several benchmarks), with its results file."""
    blocks = [(m.group(2), json.loads((ROOT / day / m.group(2)).read_text()), _table_rows(m.group(3), "figure"))
              for m in BENCH_FIGURES.BLOCK.finditer(_readme(day))]
    assert blocks, "the Benchmark section has no figures block"
    return blocks


def _figures(day: str) -> tuple[str, dict, list[list[str]]]:
    return _figure_blocks(day)[0]


BENCH_DAYS = [day for day in DAYS if "## Benchmark" in _readme(day)]


def bench_verdicts(day: str) -> dict[str, bool]:
    return {what: met for _, data, rows in _figure_blocks(day) for what, source, _ in rows
            if (met := verdict(source, data)) is not None}


@pytest.mark.parametrize("day", BENCH_DAYS)
def test_benchmark_figures_are_read_from_the_results_file(day):
    verdicts = bench_verdicts(day)
    for name, data, rows in _figure_blocks(day):
        assert rows, f"no figures from {name}"
        for what, source, shown in rows:
            if what in verdicts:
                assert shown == ("met" if verdicts[what] else "not met"), f"{what}: the file says otherwise"
            else:
                assert _shown(figure(source, data), shown), f"{what}: README {shown}, {name} {figure(source, data)}"
    benchmark = _section(_readme(day), "Benchmark")
    assert "runs)" not in benchmark and "(Two runs.)" not in benchmark  # ranges over runs no file holds


RATE = re.compile(r"(\d[\d,]*(?:\.\d+)?)\+?\s*(?:events|alerts|rows|requests)/s|p99 of (?:about )?(\d[\d,]*) ms")


def _shown_figures(day: str) -> set[str]:
    """The values of a day's figures block as shown, and the numbers its rows name (loads, sizes, targets)."""
    rows = [cells for _, _, block in _figure_blocks(day) for cells in block]
    return {cells[2] for cells in rows} | {number for cells in rows for number in re.findall(r"\d[\d,]*", cells[0])}


@pytest.mark.parametrize("day", DAYS)
def test_the_pitch_quotes_only_figures_of_the_results_file(day):
    """The client-facing texts (the README's Upwork / LinkedIn section, the portfolio notes) quote a speed only as
    the figures block shows it from the committed results file (or as its rows name a load or a target): a pitch is
    where a stale figure costs most."""
    pitch = _section(_readme(day), "Upwork / LinkedIn") + (ROOT / day / f"{day}_NOTES_portfolio.yaml").read_text()
    shown = _shown_figures(day) if day in BENCH_DAYS else set()
    quoted = [rate or p99 for rate, p99 in RATE.findall(pitch)]
    assert [figure for figure in quoted if figure not in shown] == [], (
        f"quote {day}'s figures block as it is now ({sorted(shown)}), or no figure, in the pitch")


def test_top_level_status_agrees_with_the_days():
    status = re.search(r"\*\*Where each day stands\.\*\*(.*?)(?:\n\s*\n)", _readme(), re.S).group(1)
    for day in BENCH_DAYS:
        met = all(bench_verdicts(day).values())
        claim = re.search(rf"{day}\b[^;]*?benchmark targets? (not met|met)( \(.*?\]\()?", status, re.S)
        assert claim, f"the status does not say whether {day} meets its benchmark target"
        assert claim.group(1) == ("met" if met else "not met"), f"{day}: the results file says otherwise"
        quoted = re.findall(r"\d[\d,]*(?:\.\d+)?", claim.group(2) or "")
        stale = [number for number in quoted if number not in _shown_figures(day)]
        assert stale == [], f"{day}: the status quotes {stale}; its figures block shows {sorted(_shown_figures(day))}"
    for link in re.findall(r"\]\(([^)#]+)\)", status):
        assert (ROOT / link).exists(), f"the status links {link}, which does not exist"
    assert "still to come" not in status


@pytest.mark.parametrize("readme", ["README.md", *(f"{day}/README.md" for day in DAYS)])
def test_commands_use_the_projects_interpreter(readme):
    bare = [line for line in (ROOT / readme).read_text().splitlines()
            if re.match(r"\s*(\$ )?python3? ", line) or re.search(r"`python3? [\w/-]", line)]
    assert bare == [], "use .venv/bin/python (or a make target): a bare python fails outside the venv"


@pytest.mark.parametrize("day", DAYS)
def test_every_entry_script_rejects_configuration_with_the_same_code(day):
    for path in [*(ROOT / day).glob(f"{day}_ORCHESTRATOR_*.py"), *(ROOT / day).glob(f"{day}_SCHEDULER_*.py")]:
        assert _literal_returns(path)[1] == {CONFIG_ERROR_EXIT}, path.name


TRANSCRIPT = re.compile(r"```\w*\n\$ (\.venv/bin/python [^\n]+)\n(.*?)```", re.S)


def _checkout_of(folders: list[str], into: Path) -> Path:
    """The committed files of these folders, as a fresh clone has them (no state, no local config/.env)."""
    listing = subprocess.run(["git", "ls-files", "-z", "--", *folders], cwd=ROOT, check=True, capture_output=True).stdout
    for name in filter(None, listing.decode().split("\0")):
        (into / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, into / name)
    (into / ".venv").symlink_to(Path(sys.prefix))
    return into


@pytest.mark.parametrize("readme", ["README.md", *(f"{day}/README.md" for day in DAYS)])
def test_a_shown_transcript_is_what_the_command_prints(readme, tmp_path):
    """A block that starts with `$ command` shows a terminal: the command, run at the root of a fresh checkout
    with no DAYXX_ variable set, prints exactly the lines below it."""
    transcripts = TRANSCRIPT.findall((ROOT / readme).read_text())
    if not transcripts:
        return
    clone = _checkout_of([str(Path(readme).parent), "config", "shared_synthetic_data"], tmp_path / "clone")
    env = {name: value for name, value in os.environ.items() if not re.match(r"DAY\d\d_", name)}
    for command, shown in transcripts:
        done = subprocess.run(command.split(), cwd=clone, env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        assert done.stdout.splitlines() == shown.splitlines(), command


@pytest.mark.parametrize("day", BENCH_DAYS)
def test_prose_about_the_committed_run_names_its_time(day):
    """Prose that describes the committed run beside the figures block ("Latest run …", "The table above is a
    run …") carries figures the block does not regenerate: dated with the results file's time, a re-run that
    rewrites the block makes this fail until the prose is read again."""
    name, data, _ = _figures(day)
    prose = BENCH_FIGURES.BLOCK.sub("", _section(_readme(day), "Benchmark"))
    for mentioned in re.findall(r"(?:Latest run|The table above is a run)\b.*?(\d\d:\d\d) UTC", prose, re.S):
        assert data["when"][11:16] == mentioned, f"the prose dates the committed run {mentioned}; {name} says {data['when']}"
