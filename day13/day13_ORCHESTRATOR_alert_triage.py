"""Compliance alert triage: ingest, classify, dedup, route, notify, audit, SLA.

    python day13/day13_ORCHESTRATOR_alert_triage.py                 # one triage run (what cron and the scheduler call)
    python day13/day13_ORCHESTRATOR_alert_triage.py --demo          # synthetic alerts on all three sources, embedded receivers
    python day13/day13_ORCHESTRATOR_alert_triage.py route-test alert_type=sanctions_hit severity=Critical
    python day13/day13_ORCHESTRATOR_alert_triage.py verify-audit | export-audit FILE.csv | sla-report | serve

Exit codes: 0 done (also when another run held the lock); 1 the audit chain is broken; 2 configuration
unusable (bad setting, or a rules/routing file rejected with no earlier version to fall back on).
"""
from __future__ import annotations

import argparse
import logging
import sys

DAY13_COMMANDS = ("run", "route-test", "verify-audit", "export-audit", "sla-report", "serve")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Triage financial-compliance alerts.")
    parser.add_argument("command", nargs="?", default="run", choices=DAY13_COMMANDS)
    parser.add_argument("args", nargs="*", help="route-test: label=value pairs; export-audit: the CSV path")
    parser.add_argument("--demo", action="store_true", help="synthetic alerts, embedded receivers, separate demo state")
    parser.add_argument("--fault", choices=("after_commit",),
                        help="fault drill: SIGKILL this process after the first file's commit, before it is moved")
    args = parser.parse_args(argv)
    from day13_CONFIG_settings import day13_ConfigError, day13_load_settings
    from day13_LOG_setup import day13_setup_logging

    try:
        settings = day13_load_settings()
    except day13_ConfigError as exc:
        print(f"configuration rejected: {exc}", file=sys.stderr)
        return 2
    day13_setup_logging(settings.log_path)
    import day13_COMMANDS_cli as commands
    from day13_RUNTIME_wiring import day13_ConfigUnusable

    try:
        if args.demo:
            from day13_DEMO_run import day13_demo

            return day13_demo(settings)
        if args.command == "route-test":
            return commands.day13_command_route_test(settings, args.args)
        if args.command == "verify-audit":
            return commands.day13_command_verify(settings)
        if args.command == "export-audit":
            return commands.day13_command_export(settings, args.args[0] if args.args else "day13/output/day13_audit.csv")
        if args.command == "sla-report":
            return commands.day13_command_sla(settings)
        if args.command == "serve":
            return commands.day13_command_serve(settings)
        if args.fault:
            import os
            import signal

            return commands.day13_command_run(settings, after_commit=lambda: os.kill(os.getpid(), signal.SIGKILL))
        return commands.day13_command_run(settings)
    except day13_ConfigUnusable as exc:
        logging.getLogger("day13").error("configuration unusable", extra={"error": str(exc)})
        return 2


if __name__ == "__main__":
    sys.exit(main())
