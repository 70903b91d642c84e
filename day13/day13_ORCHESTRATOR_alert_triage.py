"""Compliance alert triage: ingest, classify, dedup, route, notify, escalate, audit.

    python day13/day13_ORCHESTRATOR_alert_triage.py [run]           # one triage run (what cron and the scheduler call)
    python day13/day13_ORCHESTRATOR_alert_triage.py --demo          # synthetic alerts on all three sources, embedded receivers
    python day13/day13_ORCHESTRATOR_alert_triage.py route-test alert_type=sanctions_hit severity=Critical
    python day13/day13_ORCHESTRATOR_alert_triage.py verify-audit | export-audit FILE.csv | sla-report | serve

Exit codes: 0 done (also when another run held the lock); 1 the audit chain is broken; 2 configuration
unusable (bad setting, a rules/routing file rejected with no earlier version, or `serve` asked to bind
a non-loopback address with no sender credential); 3 crashed (an error nothing handled: one log line
with its type and place, never its text or a traceback); 130 interrupted (Ctrl-C: one log line).
"""
from __future__ import annotations

import argparse
import logging
import sys


def day13_parser() -> argparse.ArgumentParser:
    from day13_RUN_context import DAY13_FAULT_POINTS

    parser = argparse.ArgumentParser(description="Triage financial-compliance alerts.")
    parser.add_argument("--demo", action="store_true", help="synthetic alerts, embedded receivers, separate demo state")
    commands = parser.add_subparsers(dest="command")
    run = commands.add_parser("run", help="one triage run (the default)")
    run.add_argument("--fault", choices=DAY13_FAULT_POINTS, help="fault drill: SIGKILL this run at the named point")
    commands.add_parser("route-test", help="where labels would route").add_argument("labels", nargs="*", help="label=value")
    commands.add_parser("verify-audit", help="check the audit hash chain (exit 1 if broken)")
    commands.add_parser("export-audit", help="the audit trail as CSV").add_argument(
        "target", nargs="?", default="day13/output/day13_audit.csv")
    commands.add_parser("sla-report", help="per severity: count, median, p95, breaches")
    commands.add_parser("serve", help="POST /alerts (waitress)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = day13_parser().parse_args(argv)
    from day13_CONFIG_settings import day13_ConfigError, day13_load_settings
    from day13_LOG_setup import day13_log_crash, day13_log_interrupted, day13_setup_logging

    try:
        settings = day13_load_settings()
        day13_setup_logging(settings.log_path)
        return day13_dispatch(args, settings)
    except day13_ConfigError as exc:
        print(f"configuration rejected: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # Ctrl-C: the open transaction rolled back and the lock is free, as after a crash
        day13_log_interrupted(logging.getLogger("day13"), "interrupted; what was not committed is done by the next run")
        return 130
    except Exception as exc:  # nothing handled it: one line with its type and place, never its text
        day13_log_crash(logging.getLogger("day13"), "run crashed", exc)
        return 3


def day13_dispatch(args: argparse.Namespace, settings) -> int:
    import day13_COMMANDS_cli as commands
    from day13_RUNTIME_wiring import day13_ConfigUnusable

    handlers = {"route-test": lambda: commands.day13_command_route_test(settings, args.labels),
                "verify-audit": lambda: commands.day13_command_verify(settings),
                "export-audit": lambda: commands.day13_command_export(settings, args.target),
                "sla-report": lambda: commands.day13_command_sla(settings),
                "serve": lambda: commands.day13_command_serve(settings),
                "run": lambda: commands.day13_command_run(settings, fault=getattr(args, "fault", None))}
    try:
        if args.demo:
            from day13_DEMO_run import day13_demo

            return day13_demo(settings)
        return handlers[args.command or "run"]()
    except (day13_ConfigUnusable, commands.day13_UnsafeBind) as exc:
        logging.getLogger("day13").error("configuration unusable", extra={"error": str(exc)})
        return 2


if __name__ == "__main__":
    sys.exit(main())
