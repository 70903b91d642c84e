"""Every day folder is a self-contained project that follows the naming and isolation rules."""
import re

import pytest

from repo_helpers import DAYS, ROOT

ALLOWED_PLAIN_NAMES = {"README.md", ".env.example", ".gitignore"}


@pytest.mark.parametrize("day", DAYS)
def test_day_folder_has_the_project_skeleton(day):
    folder = ROOT / day
    for name in ("README.md", ".env.example", f"{day}_requirements.txt"):
        assert (folder / name).is_file(), f"{day}/{name} missing"
    assert len(list(folder.glob(f"{day}_CONFIG_*.py"))) == 1, "exactly one CONFIG module per day"
    assert (folder / "tests").is_dir()


@pytest.mark.parametrize("day", DAYS)
def test_files_and_tests_carry_the_day_prefix(day):
    folder = ROOT / day
    loose = [p.name for p in folder.iterdir() if p.is_file() and p.name not in ALLOWED_PLAIN_NAMES
             and not p.name.startswith(f"{day}_")]
    assert not loose, f"files without the {day}_ prefix: {loose}"
    tests = [p.name for p in (folder / "tests").glob("*.py") if p.name != "conftest.py"]
    assert all(name.startswith(f"test_{day}_") for name in tests), tests


@pytest.mark.parametrize("day", DAYS)
def test_a_day_never_imports_another_day(day):
    other = "|".join(d for d in DAYS if d != day)
    pattern = re.compile(rf"^\s*(from|import)\s+({other})_", re.M)
    offenders = [str(p.relative_to(ROOT)) for p in (ROOT / day).rglob("*.py") if pattern.search(p.read_text())]
    assert not offenders


def test_real_env_file_is_ignored_by_git():
    ignored = (ROOT / ".gitignore").read_text().splitlines()
    assert "config/.env" in ignored
