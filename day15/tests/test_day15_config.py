import pytest

from day15_CONFIG_settings import day15_ConfigError, day15_load_settings


def test_no_redis_host_means_the_embedded_fakeredis():
    assert day15_load_settings(env_file=None).redis_host is None


def test_redis_db_index_must_exist():
    with pytest.raises(day15_ConfigError, match=r"^DAY15_REDIS_DB: .*less than or equal to 15"):
        day15_load_settings(env_file=None, redis_db=16)


import base64  # noqa: E402

from day15_SIGNING_webhooks import day15_new_secret  # noqa: E402


def _whsec(n_bytes: int) -> str:
    return "whsec_" + base64.b64encode(bytes(range(1, n_bytes + 1))).decode()


@pytest.mark.parametrize("bad", [
    " ", ",", " , ", "whsec_", "whsec_%%%not-base64", "not-whsec-at-all", "c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0",
    _whsec(1), _whsec(23), _whsec(65), "whsec_" + base64.b64encode(b"\0" * 32).decode()[:-1],
    day15_new_secret() + ",", day15_new_secret() + "," + _whsec(8),
])
def test_a_bad_webhook_secret_stops_start_up_with_one_line_naming_it(bad, monkeypatch):
    monkeypatch.setenv("DAY15_WEBHOOK_SECRET", bad)
    with pytest.raises(day15_ConfigError, match=r"^DAY15_WEBHOOK_SECRET: ") as caught:
        day15_load_settings(env_file=None)
    message = str(caught.value)
    assert "\n" not in message
    for part in (p.strip() for p in bad.split(",")):
        assert len(part) < 8 or part not in message  # the value itself is never echoed


@pytest.mark.parametrize("good", [_whsec(24), _whsec(32), _whsec(64), day15_new_secret() + ", " + day15_new_secret()])
def test_a_well_formed_secret_or_a_rotation_list_is_accepted(good, monkeypatch):
    monkeypatch.setenv("DAY15_WEBHOOK_SECRET", good)
    assert day15_load_settings(env_file=None).webhook_secret.get_secret_value() == good


def test_an_unset_or_empty_secret_means_the_generated_demo_secret(monkeypatch):
    monkeypatch.setenv("DAY15_WEBHOOK_SECRET", "")
    settings = day15_load_settings(env_file=None)
    assert settings.webhook_secret is None and settings.allow_unsigned is False
