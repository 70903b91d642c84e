"""Fixtures for day12: samples from the shared generator and settings whose paths live in tmp_path."""
from __future__ import annotations

import io
import time
from datetime import datetime, timezone

import pytest

from day12_CONFIG_settings import day12_load_settings

NOW = datetime(2026, 11, 23, 6, 0, tzinfo=timezone.utc)  # the samples end on 2026-11-22


@pytest.fixture
def settings(tmp_path):
    return day12_load_settings(env_file=None, ge_project_dir=tmp_path / "gx", run_dir=tmp_path / "runs", results_dir=tmp_path / "results",
                               quarantine_dir=tmp_path / "quarantine", drop_folder=tmp_path / "drop")


@pytest.fixture
def run_folders(tmp_path, monkeypatch):
    """The entry scripts' folders (runs, results, quarantine, drop) under tmp_path/out, set as they read them: DAY12_*."""
    out = tmp_path / "out"
    for name, sub in (("DAY12_RUN_DIR", "runs"), ("DAY12_RESULTS_DIR", "results"), ("DAY12_QUARANTINE_DIR", "quarantine"),
                      ("DAY12_DROP_FOLDER", "drop")):
        monkeypatch.setenv(name, str(out / sub))
    return out


@pytest.fixture(scope="session")
def sample():
    """sample(dataset, defects=(), size=2000) -> DataFrame of text columns, as the orchestrator reads files."""
    import pandas as pd

    from shared_synthetic_data import security

    cache = {}

    def make(dataset="security_events", defects=(), size=2_000):
        key = (dataset, tuple(defects), size)
        if key not in cache:
            text = security.generate(size=size, defects=defects).text(f"security/{dataset}.csv")
            cache[key] = (pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False, na_values=[""]), text)
        return cache[key][0].copy()
    return make


@pytest.fixture(scope="session")
def validate():
    """validate(df, dataset) -> gate result, in an ephemeral context shared by the session (GX setup is slow)."""
    from day12_GATE_validation import day12_context, day12_validate_dataframe

    context = day12_context(None)
    settings = day12_load_settings(env_file=None)

    def run(df, dataset="security_events"):
        return day12_validate_dataframe(df, dataset, settings=settings, now=NOW, context=context)
    return run


def _wait_for(predicate, timeout=120.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


@pytest.fixture
def wait_for():
    """wait_for(predicate, timeout=120.0): True once predicate() holds, False when the timeout passes first."""
    return _wait_for
