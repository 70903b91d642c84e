from datetime import time

import pytest

from day14_CONFIG_settings import day14_ConfigError, day14_load_settings


def test_recipients_are_comma_separated_in_the_env_file(tmp_path, monkeypatch):
    monkeypatch.delenv("DAY14_RECIPIENTS", raising=False)
    env_file = tmp_path / ".env"
    env_file.write_text("DAY14_RECIPIENTS=ops@transport.example, board@transport.example\nDAY14_SEND_TIME=06:30\n")
    settings = day14_load_settings(env_file=env_file)
    assert settings.recipients == ("ops@transport.example", "board@transport.example")
    assert settings.send_time == time(6, 30)


def test_something_that_is_not_an_address_is_named():
    with pytest.raises(day14_ConfigError, match=r"^DAY14_CC: expected comma-separated e-mail addresses, got nobody$"):
        day14_load_settings(env_file=None, cc="nobody")


def test_an_unknown_time_zone_is_rejected():
    with pytest.raises(day14_ConfigError, match=r"^DAY14_TIMEZONE: expected an IANA time zone"):
        day14_load_settings(env_file=None, timezone="Melbourne")
