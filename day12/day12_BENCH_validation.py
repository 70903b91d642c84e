"""Benchmark: the GX checkpoint versus hand-written pandas checks of the same rules, same process.

    python day12/day12_BENCH_validation.py [--rows 100000 1000000]

Both sides get the same generated events (with defects, so failures are really computed) and the
same typed DataFrame preparation. Prints rows/s for each and the ratio; writes
day12/evidence/day12_bench_results.json. Target: GX within 2x of pandas on 1M rows. Not a test.
"""
from __future__ import annotations

import argparse
import io
import json
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from day12_SUITES_security import (DAY12_ACTIONS, DAY12_EVENT_COLUMNS, DAY12_PII_PATTERNS, DAY12_SEVERITY_LEVELS,
                                   DAY12_SOURCES, day12_is_ip)

DAY12_RESULTS = Path(__file__).resolve().parent / "evidence" / "day12_bench_results.json"
NOW = datetime(2026, 11, 23, 6, 0, tzinfo=timezone.utc)


def day12_pandas_checks(df, now: datetime, skew_minutes: int = 5, min_rows: int = 100, max_rows: int = 5_000_000) -> dict:
    """The suite's 13 rules written directly in pandas: name -> passed."""
    import pandas as pd

    latest = pd.Timestamp(now + timedelta(minutes=skew_minutes))
    mitre = df["mitre_technique"].dropna()
    pair_ok = (df["ingested_at"] >= df["event_time"])[df["ingested_at"].notna() & df["event_time"].notna()]
    return {
        "columns": sorted(df.columns) == sorted(DAY12_EVENT_COLUMNS),
        "event_id_unique": not df["event_id"].duplicated(keep=False).any(),
        "event_time_present": df["event_time"].notna().all(),
        "event_time_not_future": (df["event_time"].dropna() <= latest).all(),
        "ingested_after_event": pair_ok.mean() >= 0.99,
        "src_ip_valid": df["src_ip"].dropna().map(day12_is_ip).all(),
        "severity_in_set": df["severity"].dropna().isin(DAY12_SEVERITY_LEVELS).all(),
        "action_in_set": df["action"].dropna().isin(DAY12_ACTIONS).all(),
        "dst_port_range": df["dst_port"].dropna().between(0, 65535).all(),
        "no_pii": not df["message"].dropna().str.contains("|".join(DAY12_PII_PATTERNS), regex=True).any(),
        "mitre_format": mitre.str.fullmatch(r"T\d{4}(?:\.\d{3})?").all(),
        "sources_present": set(DAY12_SOURCES) <= set(df["source"].dropna().unique()),
        "row_count": min_rows <= len(df) <= max_rows,
    }


def _events(rows: int):
    import pandas as pd

    from shared_synthetic_data import security

    text = security.generate(size=rows, defects=("pii", "invalid_ips", "duplicates")).text("security/security_events.csv")
    return pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False, na_values=[""])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000])
    args = parser.parse_args(argv)
    from day12_CONFIG_settings import day12_load_settings
    from day12_GATE_validation import day12_context, day12_prepare, day12_validate_dataframe

    settings = day12_load_settings(env_file=None)
    context = day12_context(None)
    day12_validate_dataframe(_events(1_000), settings=settings, now=NOW, context=context)  # warm-up: imports, setup
    results = {"when": datetime.now(timezone.utc).isoformat(timespec="seconds"), "target_ratio_at_1m": 2.0, "runs": []}
    for rows in args.rows:
        df = _events(rows)
        started = time.perf_counter()
        gx_result = day12_validate_dataframe(df, settings=settings, now=NOW, context=context)
        gx_seconds = time.perf_counter() - started
        started = time.perf_counter()
        checks = day12_pandas_checks(day12_prepare(df, "security_events"), NOW)
        pandas_seconds = time.perf_counter() - started
        run = {"rows": rows, "gx_rows_per_s": round(rows / gx_seconds), "pandas_rows_per_s": round(rows / pandas_seconds),
               "gx_over_pandas_time": round(gx_seconds / pandas_seconds, 2),
               "same_verdicts": (len(gx_result.failed_expectations) == sum(not ok for ok in checks.values()))}
        results["runs"].append(run)
        print(json.dumps(run))
    DAY12_RESULTS.parent.mkdir(exist_ok=True)
    DAY12_RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
