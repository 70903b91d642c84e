"""Real-time SaaS analytics: webhook server + consumer group over Redis Streams, supervised.

    python day15/day15_ORCHESTRATOR_main.py            # run until SIGTERM/Ctrl-C (embedded fakeredis if no DAY15_REDIS_HOST)
    python day15/day15_ORCHESTRATOR_main.py --demo     # signed synthetic stream, wait for the drain, reconcile, exit
    python day15/day15_ORCHESTRATOR_main.py dlq list|replay [ENTRY_ID ...]|purge

Exit codes: 0 ran and stopped cleanly (demo: reconciliation matched); 1 a child kept crashing or the
demo did not reconcile; 2 configuration rejected (or a dlq command with only the embedded Redis).
"""
from __future__ import annotations

import argparse
import signal
import sys
import time


def day15_parse_args(argv):
    parser = argparse.ArgumentParser(description="Run the day15 webhook -> Redis -> analytics pipeline.")
    parser.add_argument("--demo", action="store_true", help="embedded everything, synthetic signed traffic, reconcile, exit")
    commands = parser.add_subparsers(dest="command", metavar="dlq")
    dlq = commands.add_parser("dlq", help="dead letters in the configured Redis").add_subparsers(dest="action", required=True)
    dlq.add_parser("list", help="one JSON line per dead letter")
    dlq.add_parser("replay", help="back onto the stream, still counted once").add_argument("entry_ids", nargs="*",
                                                                                           metavar="ENTRY_ID")
    dlq.add_parser("purge", help="delete every dead letter")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = day15_parse_args(argv)
    from day15_CONFIG_settings import day15_ConfigError, day15_load_settings
    from day15_LOG_setup import day15_setup_logging

    try:
        settings = day15_load_settings()
    except day15_ConfigError as exc:
        print(f"configuration rejected: {exc}", file=sys.stderr)
        return 2
    day15_setup_logging(settings.log_path)
    if args.command == "dlq":
        from day15_DEADLETTER_commands import day15_dead_letter_command

        return day15_dead_letter_command(settings, args.action, getattr(args, "entry_ids", ()))
    if args.demo:
        from day15_DEMO_run import day15_run_demo

        outcome = day15_run_demo(settings)
        print(outcome["summary"])
        return outcome["exit_code"]
    from day15_RUNTIME_pipeline import day15_run_pipeline

    stop = {"requested": False}
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.__setitem__("requested", True))
    return day15_run_pipeline(settings, should_stop=lambda: stop["requested"], sleep=time.sleep)


if __name__ == "__main__":
    sys.exit(main())
