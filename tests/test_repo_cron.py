"""Crontab entries of days 11-14 work when pasted: run from a fresh checkout, under `sh` in cron's bare
environment, from another working directory; install/uninstall edit only their own block of the crontab."""
from __future__ import annotations

import shutil
import subprocess
import sys
from datetime import datetime, time, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from repo_helpers import ROOT

SCHEDULERS = {
    "day11": "day11/day11_SCHEDULER_cron.py",
    "day12": "day12/day12_SCHEDULER_dropfolder.py",
    "day13": "day13/day13_SCHEDULER_main.py",
    "day14": "day14/day14_SCHEDULER_daily.py",
}
CRON_LOGS = {"day11": "day11/output/day11_cron.log", "day12": "day12/logs/day12_cron.log",
             "day13": "day13/logs/day13_cron.log", "day14": "day14/logs/day14_cron.log"}


def _tracked_files(root: Path) -> list[str]:
    listing = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                             cwd=root, check=True, capture_output=True).stdout
    return [name for name in listing.decode().split("\0") if name and (root / name).is_file()]


@pytest.fixture(scope="module")
def fresh_clone(tmp_path_factory) -> Path:
    """What `git clone` gives (no output, state or log folder), under a path with a space in it."""
    clone = tmp_path_factory.mktemp("cron") / "fresh clone"
    for name in _tracked_files(ROOT):
        (clone / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, clone / name)
    (clone / ".venv").symlink_to(Path(sys.prefix))  # the project's own interpreter, without a second install
    return clone


def _cron_env(home: Path, **extra: str) -> dict[str, str]:
    """Roughly what cron gives a job: no venv, no DAYXX_ variables, a minimal PATH."""
    home.mkdir(parents=True, exist_ok=True)
    return {"PATH": "/usr/bin:/bin", "HOME": str(home), "SHELL": "/bin/sh", "LOGNAME": "cron", **extra}


def _print_cron(clone: Path, day: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([str(clone / ".venv" / "bin" / "python"), str(clone / SCHEDULERS[day]), "--print-cron"],
                          cwd=env["HOME"], env=env, capture_output=True, text=True, timeout=60)


def _entries(printed: str) -> list[str]:
    return [line for line in printed.splitlines() if line.strip() and not line.startswith("#")]


def _run_line(line: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    command = line.split(None, 5)[5]  # what cron hands to /bin/sh after the five time fields
    return subprocess.run(["/bin/sh", "-c", command], cwd=env["HOME"], env=env, capture_output=True, text=True,
                          timeout=240)


DUE_NOW = {  # settings under which the daily jobs fall due at the moment the test runs
    "day11": lambda: {"DAY11_SCHEDULE_CRON": "* * * * *"},
    "day14": lambda: {"DAY14_SEND_TIME": f"{datetime.now(ZoneInfo('Australia/Melbourne')) - timedelta(minutes=1):%H:%M}"},
}


@pytest.mark.slow
@pytest.mark.parametrize("day", sorted(SCHEDULERS))
def test_each_printed_line_runs_under_sh_from_a_fresh_clone(fresh_clone, tmp_path, day):
    env = _cron_env(tmp_path / "elsewhere", **DUE_NOW.get(day, dict)())
    printed = _print_cron(fresh_clone, day, env)
    assert printed.returncode == 0, printed.stderr
    (line,) = _entries(printed.stdout)
    assert "CRON_TZ" not in line and f"'{fresh_clone}'" in line and f"'{fresh_clone}/.venv/bin/python'" in line
    log = fresh_clone / CRON_LOGS[day]
    assert not log.parent.exists() or day == "day12" and not log.exists()
    done = _run_line(line, env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert log.stat().st_size > 0, f"{log} is empty"
    assert "Traceback" not in log.read_text()


@pytest.mark.slow
@pytest.mark.parametrize("day", ["day11", "day14"])
def test_a_daily_line_outside_its_time_only_checks_and_logs(fresh_clone, tmp_path, day):
    not_now = {"day11": {"DAY11_SCHEDULE_CRON": f"0 {(datetime.now(timezone.utc).hour + 12) % 24} * * *"},
               "day14": {"DAY14_SEND_TIME": f"{(datetime.now(ZoneInfo('Australia/Melbourne')).hour + 12) % 24:02d}:00"}}
    env = _cron_env(tmp_path / "elsewhere", **not_now[day])
    (line,) = _entries(_print_cron(fresh_clone, day, env).stdout)
    log = fresh_clone / CRON_LOGS[day]
    before = log.read_text() if log.exists() else ""
    assert _run_line(line, env).returncode == 0
    added = log.read_text()[len(before):]
    assert "schedule checked" in added and "due=False" in added and "run_id" not in added


def test_daily_lines_wake_on_every_quarter_hour_the_send_time_can_fall_on():
    from day11_CONFIG_settings import day11_load_settings
    from day11_CRON_entries import day11_cron_entries
    from day14_CONFIG_settings import day14_load_settings
    from day14_CRON_entries import day14_cron_entries

    line11 = _entries(day11_cron_entries(day11_load_settings(env_file=None), ROOT, Path("/p y/python")))[0]
    line14 = _entries(day14_cron_entries(day14_load_settings(env_file=None, send_time=time(6, 50)), ROOT, Path("/py")))[0]
    assert line11.startswith("0,15,30,45 * * * * ") and "'/p y/python'" in line11
    assert line14.startswith("5,20,35,50 * * * * ")


def test_the_job_decides_in_its_own_time_zone():
    from day11_CONFIG_settings import day11_load_settings
    from day11_CRON_entries import day11_is_due
    from day14_CONFIG_settings import day14_load_settings
    from day14_CRON_entries import day14_is_due

    utc = timezone.utc
    day11 = day11_load_settings(env_file=None)  # 0 8 * * * in UTC
    assert day11_is_due(day11, datetime(2026, 11, 23, 8, 0, 40, tzinfo=utc))[0]
    assert not day11_is_due(day11, datetime(2026, 11, 23, 8, 15, 1, tzinfo=utc))[0]
    assert not day11_is_due(day11, datetime(2026, 11, 23, 7, 45, 1, tzinfo=utc))[0]
    day14 = day14_load_settings(env_file=None)  # 07:00 in Melbourne: 20:00 UTC in summer (AEDT), 21:00 in winter
    assert day14_is_due(day14, datetime(2026, 1, 14, 20, 0, 5, tzinfo=utc))[0]
    assert not day14_is_due(day14, datetime(2026, 1, 14, 21, 0, 5, tzinfo=utc))[0]
    assert day14_is_due(day14, datetime(2026, 7, 14, 21, 0, 5, tzinfo=utc))[0]


@pytest.mark.parametrize(("seconds", "schedule"), [(60, "* * * * *"), (300, "*/5 * * * *"), (3600, "0 * * * *"),
                                                   (7200, "0 */2 * * *"), (86_400, "0 0 * * *")])
def test_intervals_cron_can_express_exactly(seconds, schedule):
    from day12_CONFIG_settings import day12_load_settings
    from day12_CRON_entries import day12_cron_entries
    from day13_CONFIG_settings import day13_load_settings
    from day13_CRON_entries import day13_cron_entries

    line13 = _entries(day13_cron_entries(day13_load_settings(env_file=None, alert_check_interval=seconds), ROOT, Path("/py")))
    line12 = _entries(day12_cron_entries(day12_load_settings(env_file=None, schedule_interval_minutes=seconds // 60),
                                         ROOT, Path("/py")))
    assert line13[0].startswith(schedule + " cd ") and line12[0].startswith(schedule + " cd ")


@pytest.mark.parametrize("seconds", [90, 45 * 60, 90 * 60, 5 * 3600, 7 * 60])
def test_intervals_cron_cannot_express_are_refused(seconds):
    from day13_CONFIG_settings import day13_load_settings
    from day13_CRON_entries import day13_cron_entries, day13_CronError

    with pytest.raises(day13_CronError, match="cron cannot run every"):
        day13_cron_entries(day13_load_settings(env_file=None, alert_check_interval=seconds), ROOT, Path("/py"))
    if seconds % 60 == 0:
        from day12_CONFIG_settings import day12_load_settings
        from day12_CRON_entries import day12_CronError, day12_cron_entries

        with pytest.raises(day12_CronError, match="cron cannot run every"):
            day12_cron_entries(day12_load_settings(env_file=None, schedule_interval_minutes=seconds // 60), ROOT, Path("/py"))


def test_a_refused_interval_exits_2_with_one_line(tmp_path):
    env = _cron_env(tmp_path, DAY13_ALERT_CHECK_INTERVAL="2700")
    done = subprocess.run([sys.executable, str(ROOT / SCHEDULERS["day13"]), "--print-cron"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.strip().splitlines() == ["cron entries refused: cron cannot run every 2700 s (45 min) exactly "
                                                "(its steps restart each hour and day); choose a divisor of 60 "
                                                "minutes or a divisor of 24 hours"]


CRONTAB_STAND_IN = """#!/bin/sh
# A stand-in for crontab(1): -l prints the stored table (or fails like the real one), - replaces it from stdin.
case "$1" in
  -l) [ -f "$CRONTAB_STORE" ] || { echo "no crontab for $LOGNAME" >&2; exit 1; }; cat "$CRONTAB_STORE" ;;
  -) cat > "$CRONTAB_STORE"; echo x >> "$CRONTAB_STORE.writes" ;;
  *) echo "crontab stand-in: unsupported $*" >&2; exit 2 ;;
esac
"""


def _scheduler(day: str, flag: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / SCHEDULERS[day]), flag], cwd=env["HOME"], env=env,
                          capture_output=True, text=True, timeout=60)


@pytest.mark.slow
def test_install_and_uninstall_touch_only_their_own_block(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "crontab").write_text(CRONTAB_STAND_IN)
    (bin_dir / "crontab").chmod(0o755)
    store = tmp_path / "crontab.txt"
    env = _cron_env(tmp_path / "home", CRONTAB_STORE=str(store))
    env["PATH"] = f"{bin_dir}:{env['PATH']}"

    assert _scheduler("day13", "--uninstall-cron", env).returncode == 0  # no crontab yet: nothing to remove
    assert not store.exists()
    users = "MAILTO=ops@example.com\n# nightly backup\n30 2 * * * /usr/local/bin/backup --quiet\n"
    store.write_text(users)
    for day in SCHEDULERS:
        done = _scheduler(day, "--install-cron", env)
        assert done.returncode == 0 and "installed" in done.stdout, done.stderr
    installed = store.read_text()
    assert installed.startswith(users) and installed.count("\n# >>> ") == installed.count("\n# <<< ") == 4
    assert len(_entries(installed)) == 2 + 4  # the user's MAILTO and backup lines, one line per day
    for day in SCHEDULERS:
        assert _scheduler(day, "--install-cron", env).stdout.startswith(f"crontab: {day} entries already installed")
    assert store.read_text() == installed  # idempotent: the same bytes, and not even rewritten
    assert len((tmp_path / "crontab.txt.writes").read_text().split()) == 4
    for day in SCHEDULERS:
        assert _scheduler(day, "--uninstall-cron", env).returncode == 0
    assert store.read_text() == users


def test_a_crontab_that_fails_is_reported_not_overwritten(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "crontab").write_text("#!/bin/sh\necho 'crontab: permission denied' >&2\nexit 1\n")
    (bin_dir / "crontab").chmod(0o755)
    env = _cron_env(tmp_path / "home")
    env["PATH"] = f"{bin_dir}:{env['PATH']}"
    done = _scheduler("day12", "--install-cron", env)
    assert done.returncode == 2
    assert done.stderr.strip() == "cron entries refused: crontab -l failed: crontab: permission denied"
