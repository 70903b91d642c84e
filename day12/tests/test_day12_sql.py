"""--source: the same suites on a database table, computed in the database (real PostgreSQL, and SQLite)."""
import ipaddress
import json
import os
import re
import uuid

import pytest

import day12_ORCHESTRATOR_validation as orchestrator
from day12_SQLDATA_tables import day12_create_events_table
from day12_SUITES_security import day12_ip_regex, day12_is_ip

POSTGRES = os.environ.get("TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1/postgres")
ROWS = 1_000_000


@pytest.fixture(scope="module")
def pg_tables():
    """A clean and a dirty table of 1M events each, in a schema of their own, dropped afterwards."""
    import sqlalchemy as sa

    schema = f"day12_test_{uuid.uuid4().hex[:8]}"
    clean = day12_create_events_table(POSTGRES, schema, "events_clean", ROWS)
    dirty = day12_create_events_table(POSTGRES, schema, "events_dirty", ROWS, dirty=True)
    yield schema, clean, dirty
    engine = sa.create_engine(POSTGRES)
    with engine.begin() as connection:
        connection.execute(sa.text(f"DROP SCHEMA {schema} CASCADE"))
    engine.dispose()


@pytest.fixture
def run_env(tmp_path, monkeypatch):
    for name, sub in (("DAY12_RUN_DIR", "runs"), ("DAY12_RESULTS_DIR", "results"), ("DAY12_QUARANTINE_DIR", "quarantine")):
        monkeypatch.setenv(name, str(tmp_path / sub))
    monkeypatch.setenv("DAY12_MAX_ROWS", "10000000")
    return tmp_path


def _source_url(schema_table: str) -> str:
    base, _, database = POSTGRES.rpartition("/")
    return f"{base.replace('postgresql+psycopg://', 'postgresql://')}/{database}/{schema_table}"


def _results(run_env) -> dict:
    (path,) = (run_env / "results").glob("day12-*.json")
    return json.loads(path.read_text())


def test_the_sql_ip_regex_agrees_with_ipaddress():
    pattern = re.compile(day12_ip_regex())
    cases = ["::ffff:192.0.2.128", "192.168.001.300", "1.2.3.4", "::", "1::", "1:2:3:4:5:6:7::", "1:2:3:4:5:6:1.2.3.4",
             "1::1.2.3.4", "1:2:3:4:5:6::1.2.3.4", "1:2:3:4:5:6:7:8:9", "1::2::3", "256.1.1.1", "01.2.3.4", "2001:DB8::A"]
    cases += [str(ipaddress.IPv6Address(n * 0x1_0000_0001_0000_0000_0001)) for n in range(1, 200)]
    assert [c for c in cases if bool(pattern.match(c)) != day12_is_ip(c)] == []


def test_a_clean_million_row_table_passes_in_postgres(pg_tables, run_env, capfd):
    schema, _, _ = pg_tables
    assert orchestrator.main(["--source", _source_url(f"{schema}.events_clean")]) == 0
    (section,) = _results(run_env)["datasets"]
    assert section["rows"] == ROWS and section["success"] and section["dataset"] == "security_events"
    assert "Calculating Metrics" not in capfd.readouterr().err
    config = (run_env / "runs" / "gx" / "great_expectations.yml").read_text()  # names the variable, not the URL
    assert "${DAY12_SQL_CONNECTION_STRING}" in config and "127.0.0.1" not in config


def test_a_dirty_million_row_table_fails_with_exactly_the_seeded_ids(pg_tables, run_env):
    schema, _, injected = pg_tables
    assert orchestrator.main(["--source", _source_url(f"{schema}.events_dirty")]) == 4
    (section,) = _results(run_env)["datasets"]
    failed = {e["description"]: e for e in section["expectations"] if not e["success"]}
    assert set(failed) == {"event_id is unique", "event_time is not in the future beyond the allowed clock skew",
                           "src_ip is a valid IPv4 or IPv6 address",
                           "message contains no SSN, card number or e-mail address"}
    quarantine = json.loads(next((run_env / "quarantine").glob("*_quarantine.json")).read_text())
    ids = {f["description"]: f["failing_ids"] for f in quarantine["failures"]}
    assert ids["src_ip is a valid IPv4 or IPv6 address"] == injected["invalid_ip"]
    assert ids["message contains no SSN, card number or e-mail address"] == injected["pii"]
    assert ids["event_time is not in the future beyond the allowed clock skew"] == injected["future"]
    assert set(ids["event_id is unique"]) == set(injected["duplicate"])
    texts = [p.read_text(errors="ignore") for p in run_env.rglob("*") if p.is_file() and p.suffix in (".json", ".html", ".yml", ".log")]
    assert not [t for t in texts if "078-05-1120" in t or "192.168.001.300" in t]  # failing values never written


def _statements_of(run):
    """Every statement the run sends to the database, with its bound parameters."""
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    sent = []

    def record(conn, cursor, statement, parameters, context, executemany):
        sent.append((" ".join(statement.split()), parameters if isinstance(parameters, dict) else {}))

    event.listen(Engine, "before_cursor_execute", record)
    try:
        return run(), sent
    finally:
        event.remove(Engine, "before_cursor_execute", record)


def _limit(statement: str, parameters: dict) -> int | None:
    match = re.search(r"LIMIT (?:%\((\w+)\)s|(\d+))", statement)
    return None if not match else int(parameters[match.group(1)] if match.group(1) else match.group(2))


def test_a_table_is_counted_first_and_only_failed_checks_fetch_ids(pg_tables, run_env):
    """Counts for every check, then the failing ids for the checks that failed only; failing values never leave
    the database (the hand-written SQL of day12_BENCH_sql does the same, so GX must too to keep within 2x)."""
    schema, _, _ = pg_tables
    injected = day12_create_events_table(POSTGRES, schema, "events_small", 50_000, dirty=True)
    code, sent = _statements_of(lambda: orchestrator.main(["--source", _source_url(f"{schema}.events_small")]))
    assert code == 4
    id_fetches = [s for s, _ in sent if re.match(r"SELECT (\w+\.)?event_id\b", s) and "AS unexpected_values" not in s]
    assert len(id_fetches) == 4  # unique, future event_time, IP, PII: the four failed checks, one query each
    assert not [s for s, _ in sent if s.startswith(f"SELECT count(*) AS count_1 FROM {schema}.events_small")]  # GX counted
    value_fetches = [(s, p) for s, p in sent if "AS unexpected_values" in s]
    assert all(_limit(s, p) == 0 for s, p in value_fetches)  # GX's value lists are asked for no rows at all
    quarantine = json.loads(next((run_env / "quarantine").glob("*_quarantine.json")).read_text())
    ids = {f["description"]: f["failing_ids"] for f in quarantine["failures"]}
    assert ids["src_ip is a valid IPv4 or IPv6 address"] == injected["invalid_ip"]
    assert ids["message contains no SSN, card number or e-mail address"] == injected["pii"]
    assert ids["event_time is not in the future beyond the allowed clock skew"] == injected["future"]
    assert set(ids["event_id is unique"]) == set(injected["duplicate"])
    (section,) = _results(run_env)["datasets"]
    assert section["rows"] == 50_000
    counts = {e["description"]: e["unexpected_count"] for e in section["expectations"]}
    assert counts["message contains no SSN, card number or e-mail address"] == len(injected["pii"])
    assert counts["severity is one of the agreed levels"] == 0


def test_a_missing_table_or_bad_url_is_exit_3(run_env, capfd):
    assert orchestrator.main(["--source", _source_url("public.no_such_table_day12")]) == 3
    assert orchestrator.main(["--source", "mysql://x/y.z"]) == 3
    assert "no such table" in capfd.readouterr().out


def test_a_sqlite_table_is_validated_in_sqlite(tmp_path, run_env):
    database = tmp_path / "events.db"
    injected = day12_create_events_table(f"sqlite:///{database}", None, "events", 60_000, dirty=True)
    assert orchestrator.main(["--source", f"sqlite:///{database}/events"]) == 4
    quarantine = json.loads(next((run_env / "quarantine").glob("*_quarantine.json")).read_text())
    ids = {f["description"]: f["failing_ids"] for f in quarantine["failures"]}
    assert ids["src_ip is a valid IPv4 or IPv6 address"] == injected["invalid_ip"]
    assert ids["message contains no SSN, card number or e-mail address"] == injected["pii"]


def test_the_benchmark_baseline_fails_the_same_checks_with_the_same_counts_and_ids_as_gx(pg_tables, run_env):
    """day12_BENCH_sql compares GX with hand-written SQL: the baseline must be the same checks, not a cheaper set."""
    from day12_BENCH_sql import DAY12_NOW, day12_gx_run, day12_hand_sql, day12_same_outputs
    from day12_CONFIG_settings import day12_load_settings

    schema, _, _ = pg_tables
    injected = day12_create_events_table(POSTGRES, schema, "events_bench", 50_000, dirty=True)
    settings = day12_load_settings(env_file=None)
    gx_counts, gx_ids, _ = day12_gx_run(_source_url(f"{schema}.events_bench"), settings)
    hand_counts, hand_ids = day12_hand_sql(POSTGRES, f"{schema}.events_bench", settings, DAY12_NOW)
    assert day12_same_outputs((gx_counts, gx_ids), (hand_counts, hand_ids))
    assert set(hand_ids["src_ip is a valid IPv4 or IPv6 address"]) == set(injected["invalid_ip"])
    assert hand_counts["event_id is unique"] == 2 and hand_counts["severity is one of the agreed levels"] == 0


def test_failing_ids_that_cannot_be_fetched_leave_the_counts_and_the_verdict_standing(tmp_path, run_env, monkeypatch, capfd):
    from great_expectations.data_context.data_context.context_factory import project_manager

    def unreachable(**kwargs):
        raise RuntimeError("database went away")
    database = tmp_path / "events.db"
    day12_create_events_table(f"sqlite:///{database}", None, "events", 30_000, dirty=True)
    monkeypatch.setattr(project_manager, "get_validator", unreachable)
    assert orchestrator.main(["--source", f"sqlite:///{database}/events"]) == 4
    quarantine = json.loads(next((run_env / "quarantine").glob("*_quarantine.json")).read_text())
    counts = {f["description"]: (f["unexpected_count"], f["failing_ids"]) for f in quarantine["failures"]}
    assert counts["message contains no SSN, card number or e-mail address"] == (2, [])
    logged = "".join(capfd.readouterr())
    assert 'msg="failing ids not fetched"' in logged and "went away" not in logged  # the error's type, not its text
