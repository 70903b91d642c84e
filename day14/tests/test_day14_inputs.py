"""Real files, empty or malformed: never "on target" without data, and exit 3 naming file, record and rule."""
import json
import os
import subprocess
import sys
from datetime import date, datetime, timezone
from pathlib import Path

import pytest

from day14_CONFIG_settings import day14_load_settings
from day14_DELIVERY_transports import day14_SmtpTransport
from day14_LEDGER_sends import day14_SendLedger
from day14_PIPELINE_report import day14_run_report

DAY = date(2026, 11, 22)
NOW = datetime(2026, 11, 22, 20, 0, tzinfo=timezone.utc)
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def run(tmp_path, smtp_server, scripted):
    handler = scripted()
    port = smtp_server(handler)
    ledger = day14_SendLedger(tmp_path / "ledger.sqlite")

    def go(data_dir, **options):
        settings = day14_load_settings(env_file=None, data_dir=data_dir, retry_backoff_seconds=0)
        return day14_run_report(settings, day14_SmtpTransport("127.0.0.1", port, "none", timeout=5), ledger,
                                report_date=DAY, now=lambda: NOW, **options)

    go.handler = handler
    yield go
    ledger.close()


def test_an_empty_timetable_is_never_all_on_target_and_exits_degraded(run, network):
    outcome = run(network(trips={}))
    assert "all on target" not in outcome.subject.lower()
    assert "no data" in outcome.subject
    (_, raw), = run.handler.messages
    text = raw.decode(errors="replace")
    assert "KPIs are on target" not in text
    assert "have no data" in text
    assert outcome.status == "sent" and outcome.exit_code == 4  # the documented "degraded" code
    assert "gtfs/trips.txt" in outcome.summary() and "degraded" in outcome.summary()


def test_the_subject_counts_kpis_without_data(run, network, updates):
    # trams only: train and bus punctuality have no services, so they have no data
    outcome = run(network(trips={"t1": "tram"}, realtime={DAY: [updates.delivered("t1", delay=0, low_floor=True)]},
                          patronage=[[DAY.isoformat(), m, 10] for m in ("train", "tram", "bus")]))
    assert {"Metro train punctuality", "Bus punctuality"} <= set(outcome.no_data)
    assert outcome.subject.endswith(f"{len(outcome.no_data)} no data")
    assert not outcome.degraded and outcome.exit_code == 0  # a minority without data: said, not degraded


def test_a_realtime_file_that_is_a_json_list_is_exit_3_naming_file_and_rule(run, network):
    root = network(trips={"t1": "train"})
    (root / "realtime").mkdir(exist_ok=True)
    (root / "realtime/trip_updates_20261122.json").write_text(json.dumps([{"id": "1"}]))
    outcome = run(root)
    assert (outcome.status, outcome.exit_code) == ("bad_input", 3)
    assert "trip_updates_20261122.json" in outcome.error and "JSON object" in outcome.error
    assert not run.handler.messages


def test_a_realtime_entity_with_a_bad_field_names_the_record(run, network, updates):
    update = updates.delivered("t1", delay="late")
    outcome = run(network(trips={"t1": "train"}, realtime={DAY: [update]}))
    assert outcome.exit_code == 3
    assert "entity[0]" in outcome.error and "delay" in outcome.error and "integer" in outcome.error


def test_a_route_type_that_is_not_a_gtfs_integer_is_exit_3(run, network):
    root = network(trips={"t1": "train"})
    routes = root / "gtfs/routes.txt"
    routes.write_text(routes.read_text().replace("train,2", "train,rail"))
    outcome = run(root)
    assert (outcome.status, outcome.exit_code) == ("bad_input", 3)
    assert "routes.txt" in outcome.error and "line 2" in outcome.error and "route_id train" in outcome.error
    assert "route_type" in outcome.error and "integer" in outcome.error


def test_a_trip_whose_route_is_not_in_routes_is_exit_3(run, network):
    root = network(trips={"t1": "train"})
    trips = root / "gtfs/trips.txt"
    trips.write_text(trips.read_text().replace("train,train_all,t1", "ferry,train_all,t1"))
    outcome = run(root)
    assert (outcome.status, outcome.exit_code) == ("bad_input", 3)
    assert "trips.txt" in outcome.error and "trip_id t1" in outcome.error and "not in routes.txt" in outcome.error


@pytest.mark.parametrize(("name", "old", "new", "expected"), [
    ("gtfs/stop_times.txt", "t1,08:20:00", "t1,8h20", "arrival_time"),
    ("gtfs/stop_times.txt", "s2,2,5", "s2,2,five", "shape_dist_traveled"),
    ("gtfs/stop_times.txt", "s3,3,10", "s3,x,10", "stop_sequence"),
    ("gtfs/calendar.txt", "1,1,1,1,1,1,1,20200101", "1,1,yes,1,1,1,1,20200101", "wednesday"),
    ("gtfs/calendar.txt", "20301231", "2030-12-31", "end_date"),
    ("gtfs/calendar_dates.txt", None, "train_all,20261122,3\n", "exception_type"),
    ("patronage_daily.csv", None, "2026-11-22,train,many\n", "boardings"),
    ("patronage_daily.csv", None, "22/11/2026,train,5\n", "date"),
    ("incidents.csv", None, "I9,yesterday,,train,,collision\n", "service_date"),
])
def test_every_field_of_every_input_file_is_checked(run, network, name, old, new, expected):
    root = network(trips={"t1": "train"})
    path = root / name
    text = path.read_text()
    path.write_text(text.replace(old, new, 1) if old else text + new)
    outcome = run(root)
    assert (outcome.status, outcome.exit_code) == ("bad_input", 3), outcome.error
    assert Path(name).name in outcome.error and expected in outcome.error and "line" in outcome.error


def test_sendgrid_without_an_api_key_is_a_configuration_error_at_start_up(tmp_path):
    env = {**os.environ, "DAY14_TRANSPORT": "sendgrid", "DAY14_LOG_PATH": str(tmp_path / "run.log"),
           "DAY14_LEDGER_PATH": str(tmp_path / "ledger.sqlite")}
    env.pop("DAY14_SENDGRID_API_KEY", None)
    proc = subprocess.run([sys.executable, str(ROOT / "day14/day14_ORCHESTRATOR_email_reports.py"),
                           "--date", "2026-11-22"], cwd=ROOT, capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 2, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if "DAY14_SENDGRID_API_KEY" in line]
    assert len(lines) == 1 and "DAY14_TRANSPORT=sendgrid" in lines[0]
    assert "Traceback" not in proc.stderr + proc.stdout
    assert not (tmp_path / "ledger.sqlite").exists()  # stopped at start-up, before any work


def test_a_distance_that_goes_backwards_along_a_trip_is_exit_3(run, network):
    root = network(trips={"t1": "train"})
    path = root / "gtfs/stop_times.txt"
    path.write_text(path.read_text().replace("s2,2,5", "s2,2,50"))
    outcome = run(root)
    assert outcome.exit_code == 3 and "shape_dist_traveled" in outcome.error and "decrease" in outcome.error


def test_the_same_day_and_mode_twice_in_patronage_is_exit_3(run, network):
    root = network(trips={"t1": "train"}, patronage=[[DAY.isoformat(), "train", 5], [DAY.isoformat(), "train", 5]])
    outcome = run(root)
    assert outcome.exit_code == 3 and "patronage_daily.csv" in outcome.error and "twice" in outcome.error
