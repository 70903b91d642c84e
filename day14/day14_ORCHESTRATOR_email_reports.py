"""Daily transport KPI e-mail: compute yesterday's and month-to-date KPIs and send them once.

    python day14/day14_ORCHESTRATOR_email_reports.py             # yesterday, to DAY14_SMTP_HOST or the embedded sink
    python day14/day14_ORCHESTRATOR_email_reports.py --demo      # synthetic data, embedded SMTP sink, demo ledger
    python day14/day14_ORCHESTRATOR_email_reports.py --preview day14/output --date 2026-11-22

Exit codes: 0 sent, already sent or preview written; 1 delivery failed, incomplete or uncertain (or a crash);
2 configuration error; 3 input data unusable; 4 degraded (sent, but most KPIs have no data); 130 interrupted
(Ctrl-C: one warning line, no traceback; a send it had claimed is taken over by a run after the claim timeout).
"""
from __future__ import annotations

import argparse
import logging
import sys
from datetime import date
from pathlib import Path


def day14_parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Send the daily transport KPI e-mail (once per day).")
    parser.add_argument("--date", type=date.fromisoformat, help="report date YYYY-MM-DD (default: yesterday, network time)")
    parser.add_argument("--preview", type=Path, metavar="DIR", help="write the .html and .eml to DIR and send nothing")
    parser.add_argument("--force", action="store_true", help="send even if the ledger says it was already sent")
    parser.add_argument("--demo", action="store_true", help="synthetic data, embedded SMTP sink, separate demo ledger")
    return parser.parse_args(argv)


DAY14_EXIT_INTERRUPTED = 130  # Ctrl-C, as a shell reports a process ended by SIGINT (128 + 2)


def main(argv: list[str] | None = None) -> int:
    args = day14_parse_args(argv)
    loaded: list = []  # the settings, once loaded: the interrupt line names their claim timeout
    try:
        return day14_main(args, loaded)
    except KeyboardInterrupt:  # Ctrl-C: a BaseException, past the crash handler it printed a traceback
        from day14_LOG_setup import day14_log_interrupted

        timeout = f"{loaded[0].claim_timeout_minutes} min" if loaded else "DAY14_CLAIM_TIMEOUT_MINUTES"
        # a claim taken stays until the claim timeout (as a crash's does); recipients in DATA become ambiguous
        day14_log_interrupted(logging.getLogger("day14"), (
            "interrupted; the next run sends to the recipients still owed (if this run had claimed the send: once the "
            f"claim timeout ({timeout}) has passed), never again to one it was in DATA with (--force does)"))
        return DAY14_EXIT_INTERRUPTED


def day14_main(args: argparse.Namespace, loaded: list) -> int:
    from day14_CONFIG_settings import DAY14_DIR, day14_ConfigError, day14_load_settings
    from day14_LOG_setup import day14_log_crash, day14_setup_logging
    from day14_RUNTIME_signals import day14_finish_send_on_sigterm

    demo = {"transport": "smtp", "smtp_host": None, "data_dir": None,
            "ledger_path": DAY14_DIR / "state" / "day14_demo_ledger.sqlite"} if args.demo else {}
    try:
        settings = day14_load_settings(**demo)
    except day14_ConfigError as exc:
        day14_setup_logging(None)
        logging.getLogger("day14").error("configuration rejected", extra={"error": str(exc)})
        return 2
    loaded.append(settings)
    stop = day14_finish_send_on_sigterm()
    try:
        day14_setup_logging(settings.log_path)
        from day14_PIPELINE_report import day14_run_from_settings

        outcome = day14_run_from_settings(settings, report_date=args.date, force=args.force, preview_dir=args.preview,
                                          should_stop=stop.is_set)
    except Exception as exc:  # nothing handled it (an unwritable log, preview folder or ledger): one line with its
        day14_log_crash(logging.getLogger("day14"), "run crashed", exc)  # type and place, never its text
        return 1
    if stop.is_set():
        logging.getLogger("day14").warning("SIGTERM received; the running send was finished and recorded first",
                                           extra={"status": outcome.status})
    embedded = settings.transport == "smtp" and not settings.smtp_host and args.preview is None
    print(outcome.summary() + (f"; embedded SMTP sink outbox: {settings.outbox_dir}" if embedded else ""))
    return outcome.exit_code


if __name__ == "__main__":
    sys.exit(main())
