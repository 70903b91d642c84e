"""The drop-folder validation as crontab lines: print them, or install/uninstall them in the user's crontab.

An interval needs no time zone, so the lines carry no CRON_TZ (cronie documents it, other crons such as
macOS's do not). Cron runs every N minutes exactly only when N divides 60, or every N hours when N divides
24 (its step fields restart at each hour and each day); any other DAY12_SCHEDULE_INTERVAL_MINUTES
is refused, never rounded. Hour steps count in the machine's zone: across a daylight-saving change one
gap is an hour shorter or longer.

Install and uninstall touch only the lines between the two marker comments; installing again replaces them.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

DAY12_CRON_BEGIN = "# >>> day12 drop-folder validation (managed by day12_SCHEDULER_dropfolder.py --install-cron) >>>"
DAY12_CRON_END = "# <<< day12 drop-folder validation <<<"


class day12_CronError(Exception):
    """The interval has no exact crontab form, a path cannot go into a crontab, or `crontab` failed."""


def day12_add_cron_arguments(parser) -> None:
    parser.add_argument("--print-cron", action="store_true", help="print the crontab lines and exit")
    parser.add_argument("--install-cron", action="store_true", help="add (or refresh) them in your crontab, between markers")
    parser.add_argument("--uninstall-cron", action="store_true", help="remove them from your crontab")


def day12_python(repo: Path) -> Path:
    venv_python = repo / ".venv" / "bin" / "python"
    return venv_python if venv_python.exists() else Path(sys.executable)


def day12_quote(path: Path) -> str:
    text = str(path)
    if not path.is_absolute() or "%" in text or "\n" in text:
        raise day12_CronError(f"{text!r} cannot go into a crontab line (absolute, no '%', no newline)")
    return "'" + text.replace("'", "'\"'\"'") + "'"


def day12_cron_schedule(minutes: int, interval: str) -> str:
    """The exact crontab schedule for an interval of whole minutes, or day12_CronError."""
    if minutes == 1:
        return "* * * * *"
    if minutes < 60 and 60 % minutes == 0:
        return f"*/{minutes} * * * *"
    if minutes % 60 == 0 and 24 % (minutes // 60) == 0:
        hours = minutes // 60
        return "0 * * * *" if hours == 1 else "0 0 * * *" if hours == 24 else f"0 */{hours} * * *"
    raise day12_CronError(f"cron cannot run every {interval} exactly (its steps restart each hour and day); "
                          "choose a divisor of 60 minutes or a divisor of 24 hours")


def day12_cron_entries(settings, repo: Path, python: Path) -> str:
    schedule = day12_cron_schedule(settings.schedule_interval_minutes, f"{settings.schedule_interval_minutes} minutes")
    log_dir = repo / "day12" / "logs"
    drop = settings.drop_folder if settings.drop_folder.is_absolute() else repo / settings.drop_folder  # installing the line asks for it
    return (f"# day12 drop-folder validation every {settings.schedule_interval_minutes} min (an interval: no time zone needed).\n"
            f"{schedule} cd {day12_quote(repo)} && mkdir -p {day12_quote(log_dir)} {day12_quote(drop)} && {day12_quote(python)} "
            f"{day12_quote(repo / 'day12' / 'day12_SCHEDULER_dropfolder.py')} --once >> {day12_quote(log_dir / 'day12_cron.log')} 2>&1")


def _crontab(args: list[str], run, text: str | None = None) -> subprocess.CompletedProcess:
    try:
        return run(["crontab", *args], input=text, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise day12_CronError(f"crontab {' '.join(args)} could not run: {exc}") from None


def day12_read_crontab(run=subprocess.run) -> str:
    done = _crontab(["-l"], run)
    if done.returncode == 0:
        return done.stdout
    if "no crontab" in done.stderr.lower():
        return ""
    raise day12_CronError(f"crontab -l failed: {done.stderr.strip()}")


def day12_with_block(text: str, block: str | None) -> str:
    """`text` with the marked block replaced in place by `block` (appended if absent; None removes it)."""
    lines = text.splitlines(keepends=True)
    bare = [line.rstrip("\n") for line in lines]
    wanted = [] if block is None else [f"{DAY12_CRON_BEGIN}\n", *(f"{line}\n" for line in block.splitlines()),
                                       f"{DAY12_CRON_END}\n"]
    if DAY12_CRON_BEGIN not in bare:
        if not wanted:
            return text
        return text + ("" if not text or text.endswith("\n") else "\n") + "".join(wanted)
    begin = bare.index(DAY12_CRON_BEGIN)
    if DAY12_CRON_END not in bare[begin:]:
        raise day12_CronError(f"the crontab has {DAY12_CRON_BEGIN!r} without its end marker; fix it with crontab -e")
    end = bare.index(DAY12_CRON_END, begin)
    return "".join(lines[:begin] + wanted + lines[end + 1:])


def day12_update_crontab(block: str | None, run=subprocess.run) -> bool:
    """Replace the marked block with `block` (None: remove it); True when the crontab changed."""
    current = day12_read_crontab(run)
    updated = day12_with_block(current, block)
    if updated == current:
        return False
    done = _crontab(["-"], run, updated)
    if done.returncode != 0:
        raise day12_CronError(f"crontab - failed: {done.stderr.strip()}")
    return True


def day12_cron_command(args, settings, repo: Path) -> int | None:
    """Serve the cron flags; None when none was given. 2 (configuration rejected) when refused."""
    if not (args.print_cron or args.install_cron or args.uninstall_cron):
        return None
    try:
        if args.uninstall_cron:
            changed = day12_update_crontab(None)
            print(f"crontab: day12 entries {'removed' if changed else 'were not installed'}")
            return 0
        block = day12_cron_entries(settings, repo, day12_python(repo))
        if args.print_cron:
            print(block)
            return 0
        changed = day12_update_crontab(block)
        print(f"crontab: day12 entries {'installed' if changed else 'already installed'} between markers")
        return 0
    except day12_CronError as exc:
        print(f"cron entries refused: {exc}", file=sys.stderr)
        return 2
