"""Regenerate day13's committed evidence from a real demo run (never written by hand).

    python day13/day13_EVIDENCE_capture.py

Runs --demo (three sources, embedded receivers), then keeps: the run log, the first 200 rows of
the audit export (the full export is one command away), the SLA report and a route-test.
"""
from __future__ import annotations

import contextlib
import csv
import io
import os
import sys
from pathlib import Path

DAY13_DIR = Path(__file__).resolve().parent
DAY13_EVIDENCE = DAY13_DIR / "evidence"
DAY13_SAMPLE_ROWS = 200


def main() -> int:
    DAY13_EVIDENCE.mkdir(exist_ok=True)
    log = DAY13_EVIDENCE / "day13_sample_run.log"
    log.unlink(missing_ok=True)
    os.environ["DAY13_LOG_PATH"] = str(log)
    from day13_COMMANDS_cli import day13_command_route_test, day13_command_sla
    from day13_CONFIG_settings import day13_load_settings
    from day13_DEMO_run import DAY13_DEMO_DIR, day13_demo
    from day13_LOG_setup import day13_setup_logging
    from day13_STORE_audit import day13_connect, day13_export_audit

    settings = day13_load_settings()
    day13_setup_logging(settings.log_path)
    demo_summary = io.StringIO()
    with contextlib.redirect_stdout(demo_summary):
        code = day13_demo(settings)
    demo = settings.model_copy(update={"audit_log_path": DAY13_DEMO_DIR / "day13_demo_audit.db"})
    db = day13_connect(demo.audit_log_path)
    full = DAY13_DEMO_DIR / "day13_audit_full.csv"
    day13_export_audit(db, full)
    db.close()
    with open(full, newline="") as source, open(DAY13_EVIDENCE / "day13_sample_audit_export.csv", "w", newline="") as target:
        writer = csv.writer(target)
        for n, row in enumerate(csv.reader(source)):
            if n > DAY13_SAMPLE_ROWS:
                break
            writer.writerow(row)
    report = io.StringIO()
    with contextlib.redirect_stdout(report):
        day13_command_sla(demo)
        print()
        day13_command_route_test(demo, ["alert_type=sanctions_hit", "severity=Critical", "entity_id=ENT-00001"])
    (DAY13_EVIDENCE / "day13_sla_and_route_test.txt").write_text(demo_summary.getvalue() + "\n" + report.getvalue())
    print(demo_summary.getvalue().strip())
    print(f"evidence written to {DAY13_EVIDENCE.relative_to(DAY13_DIR.parent)}/")
    return code


if __name__ == "__main__":
    sys.exit(main())
