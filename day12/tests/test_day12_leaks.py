"""Nothing leaks, nothing lingers: planted PII in headers, first rows, every column and a header-less file
reaches no message, result, log line, Data Docs page or file on disk; staged copies are gone after the run."""
import os
import tempfile
import time
from pathlib import Path

import pytest

import day12_ORCHESTRATOR_validation as orchestrator
from shared_synthetic_data import security

REPO = Path(__file__).resolve().parents[2]
SECRETS = {  # column -> planted value, one per column, each unique so a hit names its way in
    "event_id": "078-05-1120", "event_time": "ssn 219-09-9999", "ingested_at": "ada.lovelace@leak.example",
    "source": "4111 1111 1111 1111", "src_ip": "grace.hopper@leak.example", "dst_port": "457-55-5462",
    "action": "5500 0000 0000 0004", "severity": "alan.turing@leak.example", "user": "margaret.h@leak.example",
    "message": "call me: 123-45-6789", "mitre_technique": "edsger.d@leak.example",
}
HEADER_SECRET = "ceo.private@leak.example"  # a column whose header is itself a value
HEADERLESS_SECRETS = ("kurt.goedel@leak.example", "536-22-8726")


def _events_csv(rows=2_000) -> list[str]:
    return security.generate(size=rows).text("security/security_events.csv").splitlines()


def _planted_files(folder: Path) -> dict[str, Path]:
    lines = _events_csv()
    header, body = lines[0].split(","), [line.split(",") for line in lines[1:]]
    every_column = [list(row) for row in body]
    for n, column in enumerate(header):  # row n carries the secret of column n, the rest stay clean
        every_column[n][header.index(column)] = SECRETS[column]
    files = {"every_column.csv": [header] + every_column,
             "pii_header.csv": [header + [HEADER_SECRET]] + [row + ["x"] for row in body]}
    headerless = [list(row) for row in body]
    headerless[0][header.index("user")], headerless[0][header.index("message")] = HEADERLESS_SECRETS
    files["headerless.csv"] = headerless
    written = {}
    for name, rows in files.items():
        written[name] = folder / name
        written[name].write_text("\n".join(",".join(row) for row in rows) + "\n")
    return written


def _all_text_under(*roots: Path, since: float) -> list[tuple[Path, str]]:
    """Every file written since the run started (repository: its environment and git store skipped)."""
    found = []
    for root in roots:
        for folder, subfolders, names in os.walk(root):
            subfolders[:] = [s for s in subfolders if s not in (".git", ".venv", "node_modules")]
            for name in names:
                path = Path(folder) / name
                if path.is_file() and path.stat().st_mtime >= since:
                    found.append((path, path.read_bytes().decode("utf-8", errors="ignore")))
    return found


@pytest.fixture
def private_tmp(tmp_path, monkeypatch):
    """Every tempfile of the run lands here, so a staged copy left behind is seen."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


@pytest.fixture
def run_env(run_folders, monkeypatch):
    out = run_folders
    monkeypatch.setenv("DAY12_MIN_ROWS_PER_SOURCE", "0")
    return out


def test_planted_pii_reaches_no_output_and_no_file(tmp_path, run_env, private_tmp, capfd, caplog):
    started = time.time() - 1
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    files = _planted_files(inputs)
    codes = {name: orchestrator.main(["--input", str(path), "--force"]) for name, path in files.items()}
    codes["headerless forced"] = orchestrator.main(["--input", str(files["headerless.csv"]), "--dataset",
                                                    "security_events", "--force"])
    assert codes == {"every_column.csv": 4, "pii_header.csv": 4, "headerless.csv": 3, "headerless forced": 4}
    out, err = capfd.readouterr()
    assert "1 column(s) not in the schema" in out + err or "unexpected column" in out + err
    secrets = [*SECRETS.values(), HEADER_SECRET, *HEADERLESS_SECRETS]
    texts = [("stdout", out), ("stderr", err), ("log records", caplog.text)]
    texts += [(str(p), t) for p, t in _all_text_under(run_env, REPO, since=started)]
    assert any("data_docs" in name and name.endswith(".html") for name, _ in texts)  # Data Docs were built
    leaks = sorted({(name, s) for name, text in texts for s in secrets if s in text})
    assert not leaks, f"planted values found in: {leaks[:10]}"
    assert list(private_tmp.iterdir()) == []  # the staged Parquet copies are gone


def test_the_results_name_unexpected_columns_by_position_only(tmp_path, run_env, private_tmp):
    import json

    files = _planted_files(tmp_path)
    assert orchestrator.main(["--input", str(files["pii_header.csv"]), "--force"]) == 4
    (results,) = (run_env / "results").glob("day12-*.json")
    (section,) = json.loads(results.read_text())["datasets"]
    columns = next(e for e in section["expectations"] if e["expectation"] == "expect_table_columns_to_match_set")
    assert columns["success"] is False and "unexpected_column_12" in columns["observed_value"]


def test_staged_copies_are_removed_when_the_checkpoint_fails(tmp_path, run_env, private_tmp, monkeypatch):
    import day12_GATE_validation as gate

    def broken(*args, **kwargs):
        raise RuntimeError("checkpoint exploded")

    monkeypatch.setattr(gate, "day12_ensure_checkpoint", broken)
    path = tmp_path / "events.csv"
    path.write_text("\n".join(_events_csv(200)) + "\n")
    with pytest.raises(RuntimeError, match="exploded"):
        from day12_CONFIG_settings import day12_load_settings
        from day12_PIPELINE_run import day12_run_files

        day12_run_files(day12_load_settings(env_file=None), [path])
    assert list(private_tmp.iterdir()) == []


def test_non_utf8_names_the_real_byte_offset_and_line(tmp_path, run_env):
    from day12_INPUT_files import day12_InputError, day12_read_input

    lines = _events_csv(3_000)
    text = "\n".join(lines) + "\n"
    bad_line = 2_500
    prefix = "\n".join(lines[:bad_line - 1]) + "\n"
    offset = len(prefix.encode()) + 5
    data = bytearray(text.encode())
    data[offset] = 0xE9  # latin-1 é, invalid as UTF-8 here
    path = tmp_path / "latin.csv"
    path.write_bytes(bytes(data))
    assert offset > 200_000
    with pytest.raises(day12_InputError) as caught:
        day12_read_input(path)
    assert f"byte {offset:,}" in str(caught.value) and f"line {bad_line:,}" in str(caught.value)


def test_the_detected_dataset_message_counts_columns_and_never_names_them(tmp_path):
    from day12_INPUT_files import day12_detect_dataset, day12_InputError
    import pandas as pd

    df = pd.DataFrame(columns=["jane@leak.example", "078-05-1120", "event_id"])
    with pytest.raises(day12_InputError) as caught:
        day12_detect_dataset(df, Path("x.csv"), None)
    assert "leak" not in str(caught.value) and "078-05" not in str(caught.value)
    assert "the 3 columns match neither" in str(caught.value)
    assert os.fspath(Path("x.csv")) in str(caught.value)
