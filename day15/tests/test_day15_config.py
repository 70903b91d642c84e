import pytest

from day15_CONFIG_settings import day15_ConfigError, day15_load_settings


def test_no_redis_host_means_the_embedded_fakeredis():
    assert day15_load_settings(env_file=None).redis_host is None


def test_redis_db_index_must_exist():
    with pytest.raises(day15_ConfigError, match=r"^DAY15_REDIS_DB: .*less than or equal to 15"):
        day15_load_settings(env_file=None, redis_db=16)
