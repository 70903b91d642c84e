"""The drop-folder schedule: validates each file once per content, never overlapping."""
import logging
from datetime import datetime, timedelta, timezone

from day12_PIPELINE_run import day12_validate_drop_folder
from day12_JOBS_scheduler import DAY12_JOB_ID, day12_build_scheduler
from shared_synthetic_data import security


def test_a_pass_validates_new_files_and_skips_unchanged_ones(settings, caplog):
    caplog.set_level(logging.INFO)
    settings.drop_folder.mkdir(parents=True, exist_ok=True)
    (settings.drop_folder / "clean.csv").write_bytes(security.generate(size=500).files["security/security_events.csv"])
    (settings.drop_folder / "dirty.csv").write_bytes(
        security.generate(size=500, defects=["pii"]).files["security/security_events.csv"])
    (settings.drop_folder / "scan.csv").write_bytes(security.generate(size=500).files["security/vulnerability_scan.csv"])
    (settings.drop_folder / "broken.csv").write_bytes(b"a,b\n1,2\n")
    (settings.drop_folder / "notes.txt").write_text("ignored")
    expected = {"broken.csv": 3, "clean.csv": 0, "dirty.csv": 4, "scan.csv": 0}
    assert day12_validate_drop_folder(settings) == expected
    rounds = [r for r in caplog.records if r.getMessage() == "validation finished"]
    assert [r.datasets for r in rounds] == ["security_events,vulnerability_scan", "security_events"]  # one file per dataset per run
    assert day12_validate_drop_folder(settings) == expected
    assert "unchanged since the last successful run" in caplog.text  # clean.csv and scan.csv, the second time


def test_schedule(settings, tmp_path):
    job = day12_build_scheduler(settings, job=lambda: None).get_job(DAY12_JOB_ID)
    assert (job.max_instances, job.coalesce) == (1, True)
    start = datetime(2026, 11, 23, tzinfo=timezone.utc)
    first = job.trigger.get_next_fire_time(None, start)
    assert job.trigger.get_next_fire_time(first, first + timedelta(seconds=1)) - first == timedelta(minutes=15)
