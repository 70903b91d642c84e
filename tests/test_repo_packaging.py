"""Pins: exact everywhere, and each day's requirements agree with pyproject.toml."""
import pytest

from repo_helpers import DAYS, ROOT, parse_pins, pyproject


def _project_pins():
    project = pyproject()["project"]
    return parse_pins(project["dependencies"] + project["optional-dependencies"]["dev"])


def test_runtime_and_dev_dependencies_are_pinned_exactly():
    assert _project_pins()  # parse_pins asserts '==' on every line
    assert pyproject()["project"]["requires-python"] == ">=3.11"


@pytest.mark.parametrize("day", DAYS)
def test_day_requirements_agree_with_pyproject(day):
    day_pins = parse_pins((ROOT / day / f"{day}_requirements.txt").read_text().splitlines())
    project = _project_pins()
    assert day_pins, f"{day} lists no requirements"
    mismatched = {name: (version, project.get(name)) for name, version in day_pins.items() if project.get(name) != version}
    assert not mismatched, f"{day} pins differ from pyproject (day, pyproject): {mismatched}"


def test_pytest_imports_day_modules_through_pythonpath_not_sys_path_edits():
    options = pyproject()["tool"]["pytest"]["ini_options"]
    assert options["pythonpath"] == ["tests", *DAYS]
    assert "--import-mode=importlib" in options["addopts"]
    offenders = [str(p.relative_to(ROOT)) for p in ROOT.glob("day1*/**/*.py") if "sys.path" in p.read_text()]
    assert not offenders
