"""One validation run of a file: read, skip if unchanged, gate, write the results JSON, exit code.

Exit codes: 0 every expectation passed; 1 only warning/info expectations failed; 2 a critical one
failed; 3 the input could not be read. The results JSON names each expectation, its severity and
statistics, and identifies failing rows by id only.
"""
from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from day12_INPUT_files import day12_content_hash, day12_detect_dataset, day12_InputError, day12_read_input

DAY12_LOG = logging.getLogger("day12")
DAY12_EXIT = {None: 0, "info": 1, "warning": 1, "critical": 2}


@dataclass(frozen=True)
class day12_RunOutcome:
    exit_code: int
    message: str
    results_path: Path | None = None


def _state(settings) -> dict:
    path = settings.results_dir / "day12_last_success.json"
    return json.loads(path.read_text()) if path.is_file() else {}


def day12_run_file(settings, path: Path, *, dataset: str | None = None, force: bool = False, context=None,
                   run_name: str | None = None, fixed_time: datetime | None = None,
                   now: datetime | None = None) -> day12_RunOutcome:
    from day12_GATE_validation import day12_validate_dataframe

    import os

    started = time.monotonic()
    path = Path(path)
    if settings.slack_webhook_url:  # read by the notify action at run time; never written into the checkpoint JSON
        os.environ["DAY12_SLACK_WEBHOOK_URL"] = settings.slack_webhook_url.get_secret_value()
    try:
        content_hash = day12_content_hash(path) if path.is_file() else ""
        if not force and content_hash and _state(settings).get(str(path.resolve())) == content_hash:
            DAY12_LOG.info("input unchanged since the last successful run; skipped", extra={"input": path.name})
            return day12_RunOutcome(0, f"{path.name}: unchanged since the last successful run, skipped (use --force)")
        df = day12_read_input(path)
        dataset = day12_detect_dataset(df, path, dataset)
    except day12_InputError as exc:
        DAY12_LOG.error("input unreadable", extra={"error": str(exc)})
        return day12_RunOutcome(3, f"input could not be read: {exc}")
    now = now or datetime.now(timezone.utc)
    run_name = run_name or f"day12-{dataset}-{now:%Y%m%dT%H%M%SZ}"
    result = day12_validate_dataframe(df, dataset, settings=settings, now=now, context=context, run_name=run_name,
                                      quarantine_dir=settings.quarantine_dir, fixed_time=fixed_time)
    settings.results_dir.mkdir(parents=True, exist_ok=True)
    results_path = settings.results_dir / f"{run_name}.json"
    results_path.write_text(json.dumps({
        "run": run_name, "input": path.name, "content_sha256": content_hash, "dataset": dataset, "rows": len(df),
        "success": result.success, "max_failed_severity": result.max_failed_severity,
        "statistics": result.statistics, "quarantined_ids": list(result.quarantined_ids),
        "expectations": list(result.expectations)}, indent=2, default=str) + "\n")
    if result.success:
        state = _state(settings) | {str(path.resolve()): content_hash}
        (settings.results_dir / "day12_last_success.json").write_text(json.dumps(state, indent=2) + "\n")
    code = DAY12_EXIT[result.max_failed_severity]
    DAY12_LOG.info("validation finished", extra={"run": run_name, "dataset": dataset, "rows": len(df),
                                                  "success": result.success, "failed": len(result.failed_expectations),
                                                  "worst": result.max_failed_severity or "none",
                                                  "quarantined": len(result.quarantined_ids), "exit_code": code,
                                                  "duration_s": round(time.monotonic() - started, 2)})
    verdict = "all expectations passed" if result.success else \
        f"{len(result.failed_expectations)} expectation(s) failed, worst {result.max_failed_severity}"
    return day12_RunOutcome(code, f"{path.name} ({dataset}, {len(df)} rows): {verdict}; results: {results_path}", results_path)
