"""The command-line contract: exit codes shared with the other days, usage, cron lines cron can express,
GX progress bars off a non-terminal stderr, a missing drop folder reported, and runs that leave the
repository exactly as committed."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from day12_CRON_entries import day12_cron_entries

import day12_ORCHESTRATOR_validation as orchestrator
import day12_SCHEDULER_dropfolder as scheduler
from day12_CONFIG_settings import day12_load_settings
from shared_synthetic_data import security

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def run_env(tmp_path, monkeypatch):
    for name, sub in (("DAY12_RUN_DIR", "runs"), ("DAY12_RESULTS_DIR", "results"), ("DAY12_QUARANTINE_DIR", "quarantine"),
                      ("DAY12_DROP_FOLDER", "drop")):
        monkeypatch.setenv(name, str(tmp_path / "out" / sub))
    monkeypatch.delenv("DAY12_DATA_SOURCE_PATH", raising=False)
    return tmp_path / "out"


def test_a_configuration_error_exits_2_like_the_other_days(run_env, monkeypatch, capsys):
    monkeypatch.setenv("DAY12_CLOCK_SKEW_MINUTES", "-1")
    assert orchestrator.main(["--input", "x.csv"]) == 2
    assert scheduler.main(["--once"]) == 2
    assert "DAY12_CLOCK_SKEW_MINUTES" in capsys.readouterr().err


def test_no_input_prints_usage_and_exits_with_the_usage_code(run_env, capsys):
    with pytest.raises(SystemExit) as caught:
        orchestrator.main([])
    err = capsys.readouterr().err
    assert caught.value.code == 2 and "usage:" in err and "--input" in err


def test_a_critical_failure_is_exit_4_distinct_from_usage_and_configuration(run_env, tmp_path):
    path = tmp_path / "pii.csv"
    path.write_bytes(security.generate(size=500, defects=["pii"]).files["security/security_events.csv"])
    assert orchestrator.main(["--input", str(path)]) == 4


@pytest.mark.parametrize("minutes", [45, 90, 7, 1000])
def test_print_cron_refuses_intervals_cron_cannot_express(minutes, run_env, monkeypatch, capsys):
    monkeypatch.setenv("DAY12_SCHEDULE_INTERVAL_MINUTES", str(minutes))
    assert scheduler.main(["--print-cron"]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and f"{minutes} minutes" in captured.err and "cannot" in captured.err


@pytest.mark.parametrize(("minutes", "schedule"), [(15, "*/15 * * * *"), (60, "0 * * * *"), (120, "0 */2 * * *"),
                                                   (1440, "0 0 * * *")])
def test_print_cron_expresses_exact_intervals(minutes, schedule, tmp_path):
    settings = day12_load_settings(env_file=None, schedule_interval_minutes=minutes)
    assert day12_cron_entries(settings, tmp_path, tmp_path / "py").splitlines()[1].startswith(schedule + " cd ")


def test_a_missing_drop_folder_is_an_error_and_once_exits_non_zero(run_env, capfd):
    assert scheduler.main(["--once"]) == 2
    assert 'level=ERROR logger=day12.dropfolder msg="drop folder missing' in capfd.readouterr().err
    assert "drop folder missing" in (run_env / "logs" / "day12_validation.log").read_text()


def test_gx_progress_bars_stay_off_a_non_terminal_stderr(run_env, tmp_path, capfd):
    path = tmp_path / "events.csv"
    path.write_bytes(security.generate(size=300).files["security/security_events.csv"])
    orchestrator.main(["--input", str(path)])
    err = capfd.readouterr().err
    assert "Calculating Metrics" not in err and "validation finished" in err


def _git(*args, cwd):
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_every_entry_point_leaves_a_clean_clone_clean(tmp_path):
    """Ordinary runs write to the ignored run folder; the committed site and GX config stay as committed, and
    --demo rebuilds them to the committed bytes."""
    clone = tmp_path / "clone"
    _git("clone", "--quiet", "--no-hardlinks", str(REPO), str(clone), cwd=tmp_path)
    _git("checkout", "--quiet", _git("rev-parse", "HEAD", cwd=REPO).strip(), cwd=clone)
    events = tmp_path / "events.csv"
    events.write_bytes(security.generate(size=500, defects=["pii"]).files["security/security_events.csv"])
    drop = clone / "day12" / "drop"
    drop.mkdir()
    shutil.copyfile(events, drop / "events.csv")
    (drop / "scan.csv").write_bytes(security.generate(size=300).files["security/vulnerability_scan.csv"])
    env = {k: v for k, v in os.environ.items() if not k.startswith("DAY12_")}
    env["PYTHONPATH"] = os.pathsep.join([str(clone / "day12"), str(clone)])
    gate = ("import pandas as pd; from day12_GATE_validation import day12_validate_dataframe as v; "
            f"r = v(pd.read_csv({str(events)!r}, dtype=str)); assert r.max_failed_severity == 'critical'")
    runs = {"orchestrator": (["day12/day12_ORCHESTRATOR_validation.py", "--input", str(events)], 4),
            "drop folder": (["day12/day12_SCHEDULER_dropfolder.py", "--once"], 4),
            "gate": (["-c", gate], 0),
            "cron": (["day12/day12_SCHEDULER_dropfolder.py", "--print-cron"], 0),
            "demo": (["day12/day12_ORCHESTRATOR_validation.py", "--demo"], 0)}  # rebuilds the committed site: same bytes
    for name, (args, code) in runs.items():
        proc = subprocess.run([sys.executable, *args], cwd=clone, env=env, capture_output=True, text=True, timeout=300)
        assert proc.returncode == code, f"{name}: {proc.stderr[-2000:]}"
    assert list((clone / "day12" / "runs" / "data_docs").glob("index.html"))  # the run's Data Docs, ignored
    status = _git("status", "--porcelain", "--untracked-files=all", "--ignored=no", cwd=clone)
    assert status == ""


def test_no_stored_gx_config_holds_an_absolute_path_whatever_the_quarantine_dir(run_env, tmp_path, monkeypatch):
    quarantine = tmp_path / "elsewhere" / "quarantine"  # absolute, outside the repository
    monkeypatch.setenv("DAY12_QUARANTINE_DIR", str(quarantine))
    path = tmp_path / "events.csv"
    path.write_bytes(security.generate(size=300, defects=["pii"]).files["security/security_events.csv"])
    assert orchestrator.main(["--input", str(path)]) == 4
    assert list(quarantine.glob("*_quarantine.json"))
    stored = [p for p in (run_env / "runs" / "gx").rglob("*") if p.is_file() and p.suffix in (".json", ".yml")
              and "uncommitted" not in p.parts]
    assert any(p.parent.name == "checkpoints" for p in stored)
    assert [p.name for p in stored if str(tmp_path) in p.read_text() or "/tmp" in p.read_text()] == []
