import pytest

from day12_CONFIG_settings import day12_ConfigError, day12_load_settings


def test_clock_skew_is_a_runtime_parameter_with_a_sane_default():
    assert day12_load_settings(env_file=None).clock_skew_minutes == 5
    assert day12_load_settings(env_file=None, clock_skew_minutes=30).clock_skew_minutes == 30


def test_negative_skew_is_out_of_range():
    with pytest.raises(day12_ConfigError, match=r"^DAY12_CLOCK_SKEW_MINUTES: .*greater than or equal to 0"):
        day12_load_settings(env_file=None, clock_skew_minutes=-1)
