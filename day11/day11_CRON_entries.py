"""The retail report as crontab lines: print them, or install/uninstall them in the user's crontab.

Why the lines carry no CRON_TZ: cronie (Fedora, RHEL, Arch) documents it, other crons (macOS's among them)
do not, and where it is honoured it also moves every later line of the user's crontab. So cron wakes the SCHEDULER at every minute the
report time can fall on in any zone (zone offsets are whole quarter hours), `--due` asks whether
DAY11_SCHEDULE_CRON falls due now in DAY11_TIMEZONE, and only then the ORCHESTRATOR runs. The ledger keeps a
second trigger (this line and the foreground scheduler both running) from delivering twice.

Install and uninstall touch only the lines between the two marker comments; installing again replaces them.
"""
from __future__ import annotations

import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

DAY11_CRON_BEGIN = "# >>> day11 retail report (managed by day11_SCHEDULER_cron.py --install-cron) >>>"
DAY11_CRON_END = "# <<< day11 retail report <<<"
DAY11_CRON_STEP_MINUTES = 15  # every zone's UTC offset is a whole number of quarter hours
DAY11_DUE_WINDOW = timedelta(minutes=10)  # cron may start the check late; shorter than the 15 min step


class day11_CronError(Exception):
    """The schedule has no crontab form, a path cannot go into a crontab, or `crontab` failed."""


def day11_add_cron_arguments(parser) -> None:
    parser.add_argument("--print-cron", action="store_true", help="print the crontab lines and exit")
    parser.add_argument("--install-cron", action="store_true", help="add (or refresh) them in your crontab, between markers")
    parser.add_argument("--uninstall-cron", action="store_true", help="remove them from your crontab")
    parser.add_argument("--due", action="store_true", help="exit 0 if the schedule falls due now in DAY11_TIMEZONE, else 1")


def day11_python(repo: Path) -> Path:
    venv_python = repo / ".venv" / "bin" / "python"
    return venv_python if venv_python.exists() else Path(sys.executable)


def day11_quote(path: Path) -> str:
    text = str(path)
    if not path.is_absolute() or "%" in text or "\n" in text:
        raise day11_CronError(f"{text!r} cannot go into a crontab line (absolute, no '%', no newline)")
    return "'" + text.replace("'", "'\"'\"'") + "'"


def day11_cron_minutes(schedule_cron: str) -> str:
    minute = schedule_cron.split()[0]
    if not minute.isdigit() or int(minute) > 59:
        return "*"  # a minute list or step: wake every minute and let --due decide
    return ",".join(str(m) for m in sorted({(int(minute) + k) % 60 for k in range(0, 60, DAY11_CRON_STEP_MINUTES)}))


def day11_cron_entries(settings, repo: Path, python: Path) -> str:
    repo_q, python_q = day11_quote(repo), day11_quote(python)
    log_dir = settings.output_dir if settings.output_dir.is_absolute() else repo / settings.output_dir
    minutes = day11_cron_minutes(settings.schedule_cron)
    scheduler = day11_quote(repo / "day11" / "day11_SCHEDULER_cron.py")
    orchestrator = day11_quote(repo / "day11" / "day11_ORCHESTRATOR_retail_report.py")
    return (f"# day11 retail report: '{settings.schedule_cron}' in {settings.timezone}.\n"
            f"# No CRON_TZ: not portable (cronie documents it, macOS cron does not; it would also shift later lines),\n"
            f"# so cron wakes at minutes {minutes} of every hour "
            f"and the job decides (--due) in {settings.timezone}.\n"
            f"{minutes} * * * * cd {repo_q} && mkdir -p {day11_quote(log_dir)} && {{ if {python_q} {scheduler} --due; "
            f"then {python_q} {orchestrator}; fi; }}"
            f" >> {day11_quote(log_dir / 'day11_cron.log')} 2>&1")


def day11_is_due(settings, now: datetime) -> tuple[bool, datetime | None]:
    from apscheduler.triggers.cron import CronTrigger

    trigger = CronTrigger.from_crontab(settings.schedule_cron, timezone=settings.timezone)
    window = DAY11_DUE_WINDOW if day11_cron_minutes(settings.schedule_cron) != "*" else timedelta(minutes=1)
    fire = trigger.get_next_fire_time(None, now - window + timedelta(microseconds=1))
    return fire is not None and fire <= now, fire


def _crontab(args: list[str], run, text: str | None = None) -> subprocess.CompletedProcess:
    try:
        return run(["crontab", *args], input=text, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise day11_CronError(f"crontab {' '.join(args)} could not run: {exc}") from None


def day11_read_crontab(run=subprocess.run) -> str:
    done = _crontab(["-l"], run)
    if done.returncode == 0:
        return done.stdout
    if "no crontab" in done.stderr.lower():
        return ""
    raise day11_CronError(f"crontab -l failed: {done.stderr.strip()}")


def day11_with_block(text: str, block: str | None) -> str:
    """`text` with the marked block replaced in place by `block` (appended if absent; None removes it)."""
    lines = text.splitlines(keepends=True)
    bare = [line.rstrip("\n") for line in lines]
    wanted = [] if block is None else [f"{DAY11_CRON_BEGIN}\n", *(f"{line}\n" for line in block.splitlines()),
                                       f"{DAY11_CRON_END}\n"]
    if DAY11_CRON_BEGIN not in bare:
        if not wanted:
            return text
        return text + ("" if not text or text.endswith("\n") else "\n") + "".join(wanted)
    begin = bare.index(DAY11_CRON_BEGIN)
    if DAY11_CRON_END not in bare[begin:]:
        raise day11_CronError(f"the crontab has {DAY11_CRON_BEGIN!r} without its end marker; fix it with crontab -e")
    end = bare.index(DAY11_CRON_END, begin)
    return "".join(lines[:begin] + wanted + lines[end + 1:])


def day11_update_crontab(block: str | None, run=subprocess.run) -> bool:
    """Replace the marked block with `block` (None: remove it); True when the crontab changed."""
    current = day11_read_crontab(run)
    updated = day11_with_block(current, block)
    if updated == current:
        return False
    done = _crontab(["-"], run, updated)
    if done.returncode != 0:
        raise day11_CronError(f"crontab - failed: {done.stderr.strip()}")
    return True


def day11_cron_command(args, settings, repo: Path) -> int | None:
    """Serve the cron flags; None when none was given. 2 (configuration rejected) when refused."""
    if args.due:
        import logging

        from day11_LOG_setup import day11_setup_logging

        day11_setup_logging(None)
        due, fire = day11_is_due(settings, datetime.now(timezone.utc))
        logging.getLogger("day11.cron").info("schedule checked", extra={"due": due, "next_run": fire})
        return 0 if due else 1
    if not (args.print_cron or args.install_cron or args.uninstall_cron):
        return None
    try:
        if args.uninstall_cron:
            changed = day11_update_crontab(None)
            print(f"crontab: day11 entries {'removed' if changed else 'were not installed'}")
            return 0
        block = day11_cron_entries(settings, repo, day11_python(repo))
        if args.print_cron:
            print(block)
            return 0
        changed = day11_update_crontab(block)
        print(f"crontab: day11 entries {'installed' if changed else 'already installed'} between markers")
        return 0
    except day11_CronError as exc:
        print(f"cron entries refused: {exc}", file=sys.stderr)
        return 2
