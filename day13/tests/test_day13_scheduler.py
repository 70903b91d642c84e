"""The interval schedule and its cron equivalent."""
from datetime import datetime, timedelta, timezone

from day13_CONFIG_settings import day13_load_settings
from day13_SCHEDULER_main import DAY13_JOB_ID, day13_build_scheduler, day13_cron_line


def test_the_job_runs_every_interval_without_overlap():
    settings = day13_load_settings(env_file=None, alert_check_interval=300)
    job = day13_build_scheduler(settings, job=lambda: None).get_job(DAY13_JOB_ID)
    assert (job.max_instances, job.coalesce, job.misfire_grace_time) == (1, True, 120)
    start = datetime(2026, 11, 22, 10, 0, tzinfo=timezone.utc)
    first = job.trigger.get_next_fire_time(None, start)
    second = job.trigger.get_next_fire_time(first, first + timedelta(seconds=1))
    assert second - first == timedelta(minutes=5)


def test_cron_line_for_whole_minutes_and_a_note_otherwise(tmp_path):
    assert day13_cron_line(day13_load_settings(env_file=None, alert_check_interval=600), tmp_path, "py").splitlines()[1] \
        .startswith(f"*/10 * * * * cd {tmp_path} && py day13/day13_ORCHESTRATOR_alert_triage.py")
    odd = day13_cron_line(day13_load_settings(env_file=None, alert_check_interval=90), tmp_path, "py")
    assert odd.startswith("# cron cannot run every 90 s; nearest: every 1 min") and "CRON_TZ=UTC" in odd
