import pytest

from day11_CONFIG_settings import day11_ConfigError, day11_load_settings


def test_schedule_defaults_to_eight_in_the_morning_utc():
    settings = day11_load_settings(env_file=None)
    assert (settings.schedule_cron, settings.timezone) == ("0 8 * * *", "UTC")


def test_a_cron_expression_needs_five_fields():
    with pytest.raises(day11_ConfigError, match=r"^DAY11_SCHEDULE_CRON: expected a 5-field cron"):
        day11_load_settings(env_file=None, schedule_cron="0 8 * *")


def test_secrets_stay_hidden_in_reprs():
    settings = day11_load_settings(env_file=None, slack_webhook_url="https://hooks.slack.example/T000/B000/XXXX")
    assert "XXXX" not in repr(settings)
    assert settings.slack_webhook_url.get_secret_value().endswith("XXXX")


def test_a_static_access_token_is_no_longer_a_setting(monkeypatch):
    monkeypatch.setenv("DAY11_GOOGLE_ACCESS_TOKEN", "ya29.static")
    with pytest.raises(day11_ConfigError, match=r"^DAY11_GOOGLE_ACCESS_TOKEN: not a day11 setting"):
        day11_load_settings(env_file=None)


def test_a_refresh_token_needs_its_oauth_client():
    with pytest.raises(day11_ConfigError, match="DAY11_GOOGLE_REFRESH_TOKEN needs DAY11_GOOGLE_CLIENT_ID"):
        day11_load_settings(env_file=None, google_refresh_token="1//x")
