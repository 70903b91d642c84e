"""Benchmark: the events suite on a PostgreSQL table through GX's SQL datasource vs hand-written SQL of the
same 13 checks (counts and the ids of failing rows), in the same process, on the same generated tables.

    python day12/day12_BENCH_sql.py [--rows 1000000 5000000] [--postgres URL]

Tables are generated inside PostgreSQL (generate_series) with seeded defects, so neither side holds the
table in Python. A warm-up run on a 10,000-row table comes first, so GX's import and first set-up are not
counted as time or memory of the measured sizes. Python's peak memory (tracemalloc) of the GX run is recorded per size: it must stay flat
as rows grow, since the database does the work. Results: evidence/day12_bench_sql_results.json.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import tracemalloc
from datetime import datetime, timezone
from pathlib import Path

DAY12_DIR = Path(__file__).resolve().parent
DAY12_RESULTS = DAY12_DIR / "evidence" / "day12_bench_sql_results.json"
DAY12_SCHEMA = "day12_bench"
DAY12_NOW = datetime(2026, 11, 23, 6, 0, tzinfo=timezone.utc)
DAY12_TARGET_RATIO = 2.0  # the target: GX on PostgreSQL within 2x of hand-written SQL of the same checks


def day12_hand_sql(connection_string: str, table: str, settings, now: datetime) -> tuple[dict[str, int], dict[str, list[str]]]:
    """The same checks as the events suite, written by hand: one scan for the per-row checks, one for the sources,
    one for duplicates, then the ids of each failing row check (as GX fetches them). Returns the failing count
    (or 1) per check, 0 when it passes, and the failing rows' ids per failed row check."""
    import sqlalchemy as sa

    from day12_SUITES_security import (DAY12_ACTIONS, DAY12_EVENT_COLUMNS, DAY12_PII_PATTERNS, DAY12_SEVERITY_LEVELS,
                                       DAY12_SOURCES, day12_ip_regexes, day12_runtime_parameters)

    v4, v6 = day12_ip_regexes()
    params = day12_runtime_parameters(settings, now)
    conditions = {
        "event_time is present and parseable": "event_time IS NULL",
        "event_time is not in the future beyond the allowed clock skew": "event_time > :latest",
        "ingested_at is at or after event_time for at least 99% of events": "NOT (ingested_at >= event_time)",
        "src_ip is a valid IPv4 or IPv6 address": "NOT (CASE WHEN src_ip ~ '^[0-9.]+$' THEN src_ip ~ :v4 ELSE src_ip ~ :v6 END)",
        "severity is one of the agreed levels": f"severity NOT IN ({', '.join(repr(s) for s in DAY12_SEVERITY_LEVELS)})",
        "action is one of the agreed actions": f"action NOT IN ({', '.join(repr(a) for a in DAY12_ACTIONS)})",
        "dst_port is between 0 and 65535": "NOT (dst_port BETWEEN 0 AND 65535)",
        "message contains no SSN, card number or e-mail address": " OR ".join(f"message ~ :pii{n}" for n in range(3)),
        "mitre_technique looks like T1234 or T1234.001 when present": r"mitre_technique !~ '^T\d{4}(?:\.\d{3})?$'",
    }
    binds = {"latest": params["day12_latest_event_time"].to_pydatetime(), "v4": v4, "v6": v6,
             **{f"pii{n}": p for n, p in enumerate(DAY12_PII_PATTERNS)}}
    counts = ", ".join(f"sum(CASE WHEN {c} THEN 1 ELSE 0 END) AS c{n}" for n, c in enumerate(conditions.values()))
    engine = sa.create_engine(connection_string)
    with engine.connect() as connection:
        schema, name = table.split(".")
        columns = [r[0] for r in connection.execute(sa.text(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = :s AND table_name = :t"),
            {"s": schema, "t": name})]
        row = connection.execute(sa.text(f"SELECT count(*) AS n, {counts} FROM {table}"), binds).one()
        sources = dict(connection.execute(sa.text(f"SELECT source, count(*) FROM {table} GROUP BY source")).all())
        duplicated = connection.execute(sa.text(
            f"SELECT coalesce(sum(n), 0) FROM (SELECT count(*) AS n FROM {table} GROUP BY event_id HAVING count(*) > 1) d")).scalar_one()
        found = {"The export has exactly the agreed columns": int(set(columns) != set(DAY12_EVENT_COLUMNS)),
                 "event_id is unique": int(duplicated),
                 "every expected log source sent a plausible number of events": int(any(
                     not settings.min_rows_per_source <= sources.get(s, 0) <= settings.max_rows_per_source for s in DAY12_SOURCES)),
                 "row count is within the expected volume": int(not settings.min_rows <= row[0] <= settings.max_rows)}
        found.update({name: int(row[n + 1] or 0) for n, name in enumerate(conditions)})
        pair = "ingested_at is at or after event_time for at least 99% of events"
        if found[pair] <= 0.01 * row[0]:
            found[pair] = 0  # within its 99%: passes
        ids = {}
        for name, condition in conditions.items():  # the failing rows' ids, as GX fetches them
            if found[name]:
                ids[name] = [r[0] for r in connection.execute(
                    sa.text(f"SELECT event_id FROM {table} WHERE {condition} LIMIT 10000"), binds).all()]
        if duplicated:
            ids["event_id is unique"] = [r[0] for r in connection.execute(sa.text(
                f"SELECT event_id FROM {table} WHERE event_id IN (SELECT event_id FROM {table} "
                f"GROUP BY event_id HAVING count(*) > 1) LIMIT 10000")).all()]
    engine.dispose()
    return found, ids


def day12_gx_run(source_url: str, settings) -> tuple[dict[str, int], dict[str, list[str]], int]:
    """The ORCHESTRATOR's --source path: (unexpected or failing count per failed check, the quarantined ids per
    failed check, Python peak bytes)."""
    from day12_SQL_source import day12_run_table

    tracemalloc.start()
    outcome = day12_run_table(settings, source_url, now=DAY12_NOW)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    results = json.loads(outcome.results_path.read_text())
    (section,) = results["datasets"]
    quarantine = json.loads((settings.quarantine_dir / f"{results['run']}_quarantine.json").read_text())
    ids = {f["description"]: f["failing_ids"] for f in quarantine["failures"] if f["failing_ids"]}
    return {e["description"]: (e["unexpected_count"] or 1) for e in section["expectations"] if not e["success"]}, ids, peak


def day12_same_outputs(gx: tuple[dict, dict], hand: tuple[dict, dict]) -> bool:
    """Both sides fail the same checks with the same counts, and name the same failing rows."""
    (gx_counts, gx_ids), (hand_counts, hand_ids) = gx, hand
    return (gx_counts == {name: n for name, n in hand_counts.items() if n}
            and {k: set(v) for k, v in gx_ids.items()} == {k: set(v) for k, v in hand_ids.items()})



def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 5_000_000])
    parser.add_argument("--postgres", default=os.environ.get("TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1/postgres"))
    args = parser.parse_args(argv)
    load_before = os.getloadavg()[0]  # the machine is shared: the load is recorded beside the figures
    import sqlalchemy as sa

    from day12_CONFIG_settings import day12_load_settings
    from day12_LOG_setup import day12_setup_logging
    from day12_SQLDATA_tables import day12_create_events_table

    day12_setup_logging(None)
    base, _, database = args.postgres.rpartition("/")
    runs = []
    with tempfile.TemporaryDirectory() as work:
        settings = day12_load_settings(env_file=None, run_dir=Path(work) / "runs", results_dir=Path(work) / "results",
                                       quarantine_dir=Path(work) / "quarantine", max_rows=10_000_000, max_rows_per_source=5_000_000)
        try:
            # warm-up on a small table: GX's import and first context set-up are neither rows nor memory per row
            day12_create_events_table(args.postgres, DAY12_SCHEMA, "events_warmup", 10_000, dirty=True)
            day12_gx_run(f"{base.replace('+psycopg', '')}/{database}/{DAY12_SCHEMA}.events_warmup", settings)
            for rows in args.rows:
                table = f"events_{rows}"
                day12_create_events_table(args.postgres, DAY12_SCHEMA, table, rows, dirty=True)
                url = f"{base.replace('+psycopg', '')}/{database}/{DAY12_SCHEMA}.{table}"
                started = time.perf_counter()
                gx_found, gx_ids, peak = day12_gx_run(url, settings)
                gx_s = time.perf_counter() - started
                started = time.perf_counter()
                hand = day12_hand_sql(args.postgres, f"{DAY12_SCHEMA}.{table}", settings, DAY12_NOW)
                hand_s = time.perf_counter() - started
                runs.append({"rows": rows, "gx_seconds": round(gx_s, 2), "hand_sql_seconds": round(hand_s, 2),
                             "gx_over_hand_sql": round(gx_s / hand_s, 2), "gx_python_peak_mib": round(peak / 2**20, 1),
                             "failed_checks": sorted(gx_found),
                             "same_verdicts": set(gx_found) == {name for name, n in hand[0].items() if n},
                             "same_counts_and_ids": day12_same_outputs((gx_found, gx_ids), hand)})
        finally:
            engine = sa.create_engine(args.postgres)
            with engine.begin() as connection:
                connection.execute(sa.text(f"DROP SCHEMA IF EXISTS {DAY12_SCHEMA} CASCADE"))
            engine.dispose()
    import platform

    memory = [r["gx_python_peak_mib"] for r in runs]
    DAY12_RESULTS.write_text(json.dumps({
        "benchmark": "events suite on a PostgreSQL table: GX SQL datasource vs hand-written SQL, same process",
        "when": datetime.now(timezone.utc).isoformat(timespec="seconds"), "target_ratio": DAY12_TARGET_RATIO,
        "load_average_1m_before_after": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        "postgres": sa.create_engine(args.postgres).dialect.name, "python": platform.python_version(),
        "runs": runs, "peak_memory_ratio_largest_over_smallest": round(max(memory) / min(memory), 2)}, indent=2) + "\n")
    for run in runs:
        print(f"{run['rows']:>10,} rows: GX {run['gx_seconds']}s, hand SQL {run['hand_sql_seconds']}s, "
              f"ratio {run['gx_over_hand_sql']}x, GX Python peak {run['gx_python_peak_mib']} MiB, same verdicts {run['same_verdicts']}, "
              f"same counts and ids {run['same_counts_and_ids']}")
    return 0 if all(r["same_verdicts"] and r["same_counts_and_ids"] for r in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
