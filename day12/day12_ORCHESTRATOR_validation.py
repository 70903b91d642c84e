"""Validate a security dataset with Great Expectations before it reaches the SIEM.

    python day12/day12_ORCHESTRATOR_validation.py --input events.csv       # or .parquet
    python day12/day12_ORCHESTRATOR_validation.py --input events.csv scan.parquet   # one checkpoint run, every suite
    python day12/day12_ORCHESTRATOR_validation.py --source postgresql://user@host/db/schema.table  # password: DAY12_SQL_PASSWORD
    python day12/day12_ORCHESTRATOR_validation.py --demo                   # clean and dirty samples, rebuilds Data Docs
    python day12/day12_ORCHESTRATOR_validation.py --input events.csv --force   # even if unchanged since the last success

Exit codes: 0 all expectations passed (or the input is unchanged since the last success); 1 only
warning/info expectations failed; 2 configuration rejected or bad usage (as in the other days); 3 an
input could not be read; 4 a critical expectation failed; 5 crashed (an error nothing handled: one log line with
its type and place, never its text or a traceback); 130 interrupted (Ctrl-C: one warning line, no traceback; the
next run validates again what this one had not recorded as passed). Ordinary runs write to DAY12_RUN_DIR (ignored).
"""
from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Great Expectations data-quality gate for security data.")
    parser.add_argument("--input", type=Path, nargs="+", help="CSV or Parquet file(s) to validate, at most one per dataset")
    parser.add_argument("--source", metavar="URL", help="a database table, validated in the database: "
                        "postgresql://user@host/db/schema.table (the password: DAY12_SQL_PASSWORD in config/.env, "
                        "never in the URL) or sqlite:///file.db/table")
    parser.add_argument("--dataset", choices=("security_events", "vulnerability_scan"), help="default: from the columns")
    parser.add_argument("--force", action="store_true", help="validate even if the file is unchanged")
    parser.add_argument("--demo", action="store_true", help="validate generated clean and dirty samples, rebuild Data Docs")
    args = parser.parse_args(argv)
    from day12_CONFIG_settings import day12_ConfigError, day12_load_settings
    from day12_LOG_setup import (DAY12_EXIT_INTERRUPTED, DAY12_INTERRUPTED, day12_log_crash, day12_log_interrupted,
                                 day12_setup_logging)

    try:
        settings = day12_load_settings()
        day12_setup_logging(settings.results_dir.parent / "logs" / "day12_validation.log")
        return day12_run(parser, args, settings)
    except day12_ConfigError as exc:
        print(f"configuration rejected: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # nothing handled it: one line with its type and place, never its text
        day12_log_crash(logging.getLogger("day12"), "run crashed", exc)
        return 5
    except KeyboardInterrupt:  # Ctrl-C: a BaseException, past the line above it printed a traceback
        day12_log_interrupted(logging.getLogger("day12"), DAY12_INTERRUPTED)
        return DAY12_EXIT_INTERRUPTED


def day12_run(parser: argparse.ArgumentParser, args: argparse.Namespace, settings) -> int:
    if not args.source:
        args.input = args.input or ([settings.data_source_path] if settings.data_source_path else None)
    if not (args.input or args.source or args.demo):
        parser.error("give --input PATH, --source URL (or set DAY12_DATA_SOURCE_PATH) or --demo")
    if args.demo:
        from day12_DEMO_docs import day12_demo

        return day12_demo(settings)
    if args.source:
        from day12_SQL_source import day12_run_table

        outcome = day12_run_table(settings, args.source, dataset=args.dataset)
    else:
        from day12_PIPELINE_run import day12_run_files

        outcome = day12_run_files(settings, args.input, dataset=args.dataset, force=args.force)
    print(outcome.message)
    return outcome.exit_code


if __name__ == "__main__":
    sys.exit(main())
