"""The interval schedule and its cron equivalent."""
from datetime import datetime, timedelta, timezone

from day13_CONFIG_settings import day13_load_settings
from day13_SCHEDULER_main import DAY13_JOB_ID, day13_build_scheduler


def test_the_job_runs_every_interval_without_overlap():
    settings = day13_load_settings(env_file=None, alert_check_interval=300)
    job = day13_build_scheduler(settings, job=lambda: None).get_job(DAY13_JOB_ID)
    assert (job.max_instances, job.coalesce, job.misfire_grace_time) == (1, True, 120)
    start = datetime(2026, 11, 22, 10, 0, tzinfo=timezone.utc)
    first = job.trigger.get_next_fire_time(None, start)
    second = job.trigger.get_next_fire_time(first, first + timedelta(seconds=1))
    assert second - first == timedelta(minutes=5)
