"""The daily KPI e-mail as crontab lines: print them, or install/uninstall them in the user's crontab.

Why the lines carry no CRON_TZ: cronie (Fedora, RHEL, Arch) documents it, other crons (macOS's among them)
do not, and where it is honoured it also moves every later line of the user's crontab. So cron wakes the SCHEDULER at every minute the
report time can fall on in any zone (zone offsets are whole quarter hours), `--due` asks whether
DAY14_SEND_TIME falls due now in DAY14_TIMEZONE, and only then the ORCHESTRATOR runs. The send ledger keeps a
second trigger (this line and the foreground scheduler both running) from delivering twice.

Install and uninstall touch only the lines between the two marker comments; installing again replaces them.
"""
from __future__ import annotations

import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

DAY14_CRON_BEGIN = "# >>> day14 KPI e-mail (managed by day14_SCHEDULER_daily.py --install-cron) >>>"
DAY14_CRON_END = "# <<< day14 KPI e-mail <<<"
DAY14_CRON_STEP_MINUTES = 15  # every zone's UTC offset is a whole number of quarter hours
DAY14_DUE_WINDOW = timedelta(minutes=10)  # cron may start the check late; shorter than the 15 min step


class day14_CronError(Exception):
    """The schedule has no crontab form, a path cannot go into a crontab, or `crontab` failed."""


def day14_add_cron_arguments(parser) -> None:
    parser.add_argument("--print-cron", action="store_true", help="print the crontab lines and exit")
    parser.add_argument("--install-cron", action="store_true", help="add (or refresh) them in your crontab, between markers")
    parser.add_argument("--uninstall-cron", action="store_true", help="remove them from your crontab")
    parser.add_argument("--due", action="store_true", help="exit 0 if the schedule falls due now in DAY14_TIMEZONE, else 1")


def day14_python(repo: Path) -> Path:
    venv_python = repo / ".venv" / "bin" / "python"
    return venv_python if venv_python.exists() else Path(sys.executable)


def day14_quote(path: Path) -> str:
    text = str(path)
    if not path.is_absolute() or "%" in text or "\n" in text:
        raise day14_CronError(f"{text!r} cannot go into a crontab line (absolute, no '%', no newline)")
    return "'" + text.replace("'", "'\"'\"'") + "'"


def day14_cron_minutes(send_minute: int) -> str:
    return ",".join(str(m) for m in sorted({(send_minute + k) % 60 for k in range(0, 60, DAY14_CRON_STEP_MINUTES)}))


def day14_cron_entries(settings, repo: Path, python: Path) -> str:
    repo_q, python_q = day14_quote(repo), day14_quote(python)
    log_dir = settings.log_path.parent if settings.log_path.is_absolute() else repo / settings.log_path.parent
    minutes = day14_cron_minutes(settings.send_time.minute)
    scheduler = day14_quote(repo / "day14" / "day14_SCHEDULER_daily.py")
    orchestrator = day14_quote(repo / "day14" / "day14_ORCHESTRATOR_email_reports.py")
    return (f"# day14 KPI e-mail: {settings.send_time:%H:%M} daily in {settings.timezone}.\n"
            f"# No CRON_TZ: not portable (cronie documents it, macOS cron does not; it would also shift later lines),\n"
            f"# so cron wakes at minutes {minutes} of every hour "
            f"and the job decides (--due) in {settings.timezone}, daylight saving included.\n"
            f"{minutes} * * * * cd {repo_q} && mkdir -p {day14_quote(log_dir)} && {{ if {python_q} {scheduler} --due; "
            f"then {python_q} {orchestrator}; fi; }}"
            f" >> {day14_quote(log_dir / 'day14_cron.log')} 2>&1")


def day14_is_due(settings, now: datetime) -> tuple[bool, datetime | None]:
    from apscheduler.triggers.cron import CronTrigger

    trigger = CronTrigger(hour=settings.send_time.hour, minute=settings.send_time.minute, timezone=settings.timezone)
    fire = trigger.get_next_fire_time(None, now - DAY14_DUE_WINDOW + timedelta(microseconds=1))
    return fire is not None and fire <= now, fire


def _crontab(args: list[str], run, text: str | None = None) -> subprocess.CompletedProcess:
    try:
        return run(["crontab", *args], input=text, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise day14_CronError(f"crontab {' '.join(args)} could not run: {exc}") from None


def day14_read_crontab(run=subprocess.run) -> str:
    done = _crontab(["-l"], run)
    if done.returncode == 0:
        return done.stdout
    if "no crontab" in done.stderr.lower():
        return ""
    raise day14_CronError(f"crontab -l failed: {done.stderr.strip()}")


def day14_with_block(text: str, block: str | None) -> str:
    """`text` with the marked block replaced in place by `block` (appended if absent; None removes it)."""
    lines = text.splitlines(keepends=True)
    bare = [line.rstrip("\n") for line in lines]
    wanted = [] if block is None else [f"{DAY14_CRON_BEGIN}\n", *(f"{line}\n" for line in block.splitlines()),
                                       f"{DAY14_CRON_END}\n"]
    if DAY14_CRON_BEGIN not in bare:
        if not wanted:
            return text
        return text + ("" if not text or text.endswith("\n") else "\n") + "".join(wanted)
    begin = bare.index(DAY14_CRON_BEGIN)
    if DAY14_CRON_END not in bare[begin:]:
        raise day14_CronError(f"the crontab has {DAY14_CRON_BEGIN!r} without its end marker; fix it with crontab -e")
    end = bare.index(DAY14_CRON_END, begin)
    return "".join(lines[:begin] + wanted + lines[end + 1:])


def day14_update_crontab(block: str | None, run=subprocess.run) -> bool:
    """Replace the marked block with `block` (None: remove it); True when the crontab changed."""
    current = day14_read_crontab(run)
    updated = day14_with_block(current, block)
    if updated == current:
        return False
    done = _crontab(["-"], run, updated)
    if done.returncode != 0:
        raise day14_CronError(f"crontab - failed: {done.stderr.strip()}")
    return True


def day14_cron_command(args, settings, repo: Path) -> int | None:
    """Serve the cron flags; None when none was given. 2 (configuration rejected) when refused."""
    if args.due:
        import logging

        from day14_LOG_setup import day14_setup_logging

        day14_setup_logging(None)
        due, fire = day14_is_due(settings, datetime.now(timezone.utc))
        logging.getLogger("day14.cron").info("schedule checked", extra={"due": due, "next_run": fire})
        return 0 if due else 1
    if not (args.print_cron or args.install_cron or args.uninstall_cron):
        return None
    try:
        if args.uninstall_cron:
            changed = day14_update_crontab(None)
            print(f"crontab: day14 entries {'removed' if changed else 'were not installed'}")
            return 0
        block = day14_cron_entries(settings, repo, day14_python(repo))
        if args.print_cron:
            print(block)
            return 0
        changed = day14_update_crontab(block)
        print(f"crontab: day14 entries {'installed' if changed else 'already installed'} between markers")
        return 0
    except day14_CronError as exc:
        print(f"cron entries refused: {exc}", file=sys.stderr)
        return 2
