"""The scheduled job: fresh settings each time (config edits apply without a restart), one triage run."""
from __future__ import annotations


def day13_scheduled_triage() -> None:
    from day13_COMMANDS_cli import day13_command_run
    from day13_CONFIG_settings import day13_load_settings

    day13_command_run(day13_load_settings())
