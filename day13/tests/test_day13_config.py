import pytest

from day13_CONFIG_settings import day13_ConfigError, day13_load_settings


def test_checks_every_five_minutes_by_default():
    assert day13_load_settings(env_file=None).alert_check_interval == 300


def test_an_unknown_smtp_security_mode_is_rejected_with_the_choices():
    with pytest.raises(day13_ConfigError, match=r"^DAY13_SMTP_SECURITY: Input should be 'starttls', 'ssl' or 'none'$"):
        day13_load_settings(env_file=None, smtp_security="tls")
