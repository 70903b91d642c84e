"""The configuration contract every day's CONFIG module follows, and the .env.example files."""
import pytest

from repo_helpers import DAYS, ROOT, config_module, env_example, settings_names

TOP_LEVEL = ROOT / "config" / ".env.example"


@pytest.fixture(autouse=True)
def _no_day_variables_from_the_outside(monkeypatch):
    for name in [n for n in __import__("os").environ if n.startswith("DAY1")]:
        monkeypatch.delenv(name)


def _load(day, **kwargs):
    return getattr(config_module(day), f"{day}_load_settings")(**kwargs)


def _error(day):
    return getattr(config_module(day), f"{day}_ConfigError")


def test_top_level_example_lists_only_day_variables():
    assert all(key.startswith(DAYS_PREFIXES) for key in env_example(TOP_LEVEL))


DAYS_PREFIXES = tuple(f"{d.upper()}_" for d in DAYS)


@pytest.mark.parametrize("day", DAYS)
def test_day_example_is_the_matching_subset_of_the_top_level_one(day):
    top = {k: v for k, v in env_example(TOP_LEVEL).items() if k.startswith(f"{day.upper()}_")}
    assert env_example(ROOT / day / ".env.example") == top


@pytest.mark.parametrize("day", DAYS)
def test_every_variable_the_config_reads_is_listed(day):
    assert set(env_example(ROOT / day / ".env.example")) == settings_names(day)


@pytest.mark.parametrize("day", DAYS)
def test_the_example_file_itself_loads_as_a_valid_configuration(day):
    _load(day, env_file=ROOT / day / ".env.example")


@pytest.mark.parametrize("day", DAYS)
def test_defaults_need_no_file_and_no_environment(day):
    settings = _load(day, env_file=None)
    with pytest.raises(Exception):
        setattr(settings, next(iter(type(settings).model_fields)), "changed")  # frozen


@pytest.mark.parametrize("day", DAYS)
def test_environment_wins_over_the_env_file(day, tmp_path, monkeypatch):
    name = sorted(n for n in settings_names(day) if n.endswith("_TIMEZONE") or n.endswith("_PORT"))[0]
    field = name.removeprefix(f"{day.upper()}_").lower()
    good = "Europe/London" if name.endswith("TIMEZONE") else "2525"
    env_file = tmp_path / ".env"
    env_file.write_text(f"{name}=Asia/Tokyo\n" if name.endswith("TIMEZONE") else f"{name}=1111\n")
    monkeypatch.setenv(name, good)
    assert str(getattr(_load(day, env_file=env_file), field)) == good


@pytest.mark.parametrize("day", DAYS)
def test_a_bad_value_fails_in_one_line_naming_the_variable(day, monkeypatch):
    name = sorted(n for n in settings_names(day) if n.endswith("_PORT") or n.endswith("_INTERVAL")
                  or n.endswith("_MINUTES") or n.endswith("_PCT"))[0]
    monkeypatch.setenv(name, "not-a-number")
    with pytest.raises(_error(day)) as caught:
        _load(day, env_file=None)
    message = str(caught.value)
    assert message.startswith(f"{name}: ") and "\n" not in message and "not-a-number" not in message.split(":", 1)[0]


@pytest.mark.parametrize("day", DAYS)
def test_a_misspelt_variable_is_named_with_a_suggestion(day, tmp_path):
    real = sorted(settings_names(day))[0]
    typo = real[:-1] + ("X" if real[-1] != "X" else "Y")
    env_file = tmp_path / ".env"
    env_file.write_text(f"{typo}=1\nDAY99_SOMETHING_ELSE=ignored\n")
    with pytest.raises(_error(day), match=rf"^{typo}: not a {day} setting \(did you mean {real}\?\)$"):
        _load(day, env_file=env_file)
