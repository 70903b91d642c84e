"""The SCHEDULER fires on the days cron (crontab, and Airflow's cron timetable) fires for DAY11_SCHEDULE_CRON.

APScheduler 3 counts numeric weekdays from Monday = 0 (cron: Sunday = 0 or 7), and needs both day fields to match where
cron needs either: the same setting would run on other days under APScheduler than under cron or Airflow."""
from datetime import datetime, timedelta, timezone

import pytest

from day11_CONFIG_settings import day11_ConfigError, day11_load_settings
from day11_SCHEDULER_cron import day11_build_scheduler

ALL = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"}


def _fire_days(expression: str) -> set[str]:
    settings = day11_load_settings(env_file=None, schedule_cron=expression)
    trigger = day11_build_scheduler(settings, job=lambda: None).get_jobs()[0].trigger
    now, previous, days = datetime(2026, 11, 23, 9, tzinfo=timezone.utc), None, set()  # a Monday, after 08:00
    while now < datetime(2026, 12, 7, tzinfo=timezone.utc):
        previous = trigger.get_next_fire_time(previous, now)
        days.add(previous.strftime("%a"))
        now = previous + timedelta(seconds=1)
    return days


@pytest.mark.parametrize("expression, days", [
    ("0 8 * * *", ALL), ("0 8 * * 1-5", ALL - {"Sat", "Sun"}), ("0 8 * * 0", {"Sun"}), ("0 8 * * 7", {"Sun"}),
    ("0 8 * * 5-7", {"Fri", "Sat", "Sun"}), ("0 8 * * */2", {"Sun", "Tue", "Thu", "Sat"}),
    ("0 8 * * 1,3", {"Mon", "Wed"}), ("0 8 * * mon-fri", ALL - {"Sat", "Sun"}), ("0 8 * * SUN,6", {"Sat", "Sun"}),
    ("0 8 * * 1-5/2", {"Mon", "Wed", "Fri"}),
])
def test_the_scheduler_fires_on_crons_weekdays(expression, days):
    assert _fire_days(expression) == days


def test_a_cron_restricting_both_day_fields_is_rejected_for_meaning_two_things():
    """cron: the 1st OR a Monday; APScheduler: a Monday that is the 1st. Said plainly rather than run differently."""
    with pytest.raises(day11_ConfigError, match="DAY11_SCHEDULE_CRON"):
        day11_load_settings(env_file=None, schedule_cron="0 8 1 * 1")
