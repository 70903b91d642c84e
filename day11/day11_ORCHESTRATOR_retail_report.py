"""Retail daily performance report: yesterday's Google Ads + GA4 KPIs to Slack (Block Kit) and e-mail.

    python day11/day11_ORCHESTRATOR_retail_report.py            # yesterday (UTC); real APIs where configured
    python day11/day11_ORCHESTRATOR_retail_report.py --demo     # local stand-ins for Google, Slack and SMTP
    python day11/day11_ORCHESTRATOR_retail_report.py --date 2026-11-22 --force

The Python mirror of day11/workflows (the n8n export): same inputs, same KPIs, same message.
Exit codes: 0 delivered (or already delivered for that date); 1 a delivery failed (Slack's or the
SMTP server's reply is logged) or the run crashed; 2 configuration rejected; 3 source data unusable
(or the Google token endpoint failed); 4 a delivery's outcome is unknown (sent, no answer: not re-sent);
130 interrupted (Ctrl-C or SIGTERM): one warning line, no traceback; a delivery it stopped mid-send is recorded ambiguous.
"""
from __future__ import annotations

import argparse
import logging
import signal
import sys
from datetime import date, datetime, timezone

from day11_LOG_setup import DAY11_EXIT_INTERRUPTED

DAY11_INTERRUPTED = ("interrupted; the next run sends what this one did not (a delivery stopped mid-send is recorded "
                     "ambiguous: check, then --force)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Send the retail daily performance report.")
    parser.add_argument("--date", type=date.fromisoformat, help="report date YYYY-MM-DD (default: yesterday, UTC)")
    parser.add_argument("--force", action="store_true", help="deliver again even if the ledger says delivered")
    parser.add_argument("--demo", action="store_true", help="local stand-ins for every external system, demo ledger")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # a stop from outside (kill, a timeout) takes Ctrl-C's path
    try:
        return day11_main(args)
    except KeyboardInterrupt:  # a BaseException: past the crash handler below, it printed a traceback
        from day11_LOG_setup import day11_log_interrupted

        day11_log_interrupted(logging.getLogger("day11.report"), DAY11_INTERRUPTED)
        return DAY11_EXIT_INTERRUPTED


def day11_main(args: argparse.Namespace) -> int:
    from day11_CONFIG_settings import DAY11_DIR, day11_ConfigError, day11_load_settings
    from day11_LOG_setup import day11_setup_logging

    demo = {"ads_api_base_url": None, "ga4_api_base_url": None, "slack_webhook_url": None, "smtp_host": None,
            "ledger_path": DAY11_DIR / "state" / "day11_demo_ledger.sqlite"} if args.demo else {}
    try:
        settings = day11_load_settings(**demo)
    except day11_ConfigError as exc:
        print(f"configuration rejected: {exc}", file=sys.stderr)
        return 2
    try:
        day11_setup_logging(settings.output_dir / "day11_execution.log")
    except OSError as exc:  # the terminal handler is set up first: one line there, not a traceback
        logging.getLogger("day11.report").error("log file unusable; nothing sent", extra={
            "error_type": type(exc).__name__, "error": exc.strerror or ""})
        return 1
    from day11_PIPELINE_report import day11_default_date, day11_run

    report_date = args.date or settings.report_date or day11_default_date(datetime.now(timezone.utc))
    try:
        outcome = day11_run(settings, report_date=report_date, force=args.force or args.demo)
    except Exception as exc:  # a bug: traceback to the log file (redacted), one line to the terminal
        logging.getLogger("day11.report").exception("report run crashed", extra={"report_date": str(report_date)})
        print(f"report {report_date} crashed ({type(exc).__name__}); traceback in the log file", file=sys.stderr)
        return 1
    print(outcome.message)
    return outcome.exit_code


if __name__ == "__main__":
    sys.exit(main())
