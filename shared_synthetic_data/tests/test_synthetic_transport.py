"""GTFS static + GTFS-Realtime feeds, patronage and incidents; the realtime defects."""
import csv
import io
import json
from datetime import date

import pytest

from shared_synthetic_data import transport

END = date(2026, 11, 22)


def _csv(dataset, name):
    return list(csv.DictReader(io.StringIO(dataset.text(f"transport/{name}"))))


def _feed(dataset, day):
    return json.loads(dataset.files[f"transport/realtime/trip_updates_{day:%Y%m%d}.json"])


@pytest.fixture(scope="module")
def clean():
    return transport.generate(size=120, end_date=END)


def test_gtfs_static_is_consistent(clean):
    routes = {r["route_id"]: r for r in _csv(clean, "gtfs/routes.txt")}
    trips = {t["trip_id"]: t for t in _csv(clean, "gtfs/trips.txt")}
    assert {r["route_type"] for r in routes.values()} == {"0", "2", "3"}
    assert all(t["route_id"] in routes for t in trips.values())
    stop_times = _csv(clean, "gtfs/stop_times.txt")
    assert {s["trip_id"] for s in stop_times} == set(trips)
    assert any(int(s["arrival_time"][:2]) >= 24 for s in stop_times), "late trips run past 24:00"
    last = {}
    for s in stop_times:
        prev = last.get(s["trip_id"])
        if prev:
            assert int(s["stop_sequence"]) == int(prev["stop_sequence"]) + 1
            assert float(s["shape_dist_traveled"]) > float(prev["shape_dist_traveled"])
        last[s["trip_id"]] = s
    assert _csv(clean, "gtfs/agency.txt")[0]["agency_timezone"] == "Australia/Melbourne"


def test_one_realtime_feed_per_day_for_four_weeks_covering_every_trip(clean):
    feeds = [n for n in clean.files if "/realtime/" in n]
    assert feeds[0].endswith("20261026.json") and feeds[-1].endswith("20261122.json")
    trips = {t["trip_id"] for t in _csv(clean, "gtfs/trips.txt")}
    feed = _feed(clean, END)
    assert feed["header"]["gtfsRealtimeVersion"] == "2.0" and feed["header"]["timestamp"].isdigit()
    assert {e["tripUpdate"]["trip"]["tripId"] for e in feed["entity"]} == trips
    kinds = {e["tripUpdate"]["trip"]["scheduleRelationship"] for name in feeds for e in json.loads(clean.files[name])["entity"]}
    assert kinds == {"SCHEDULED", "CANCELED"}


def test_patronage_covers_the_same_period_last_year(clean):
    days = {r["date"] for r in _csv(clean, "patronage_daily.csv")}
    assert "2025-11-01" in days and "2026-11-22" in days


def test_incidents_reference_real_trips_and_local_time(clean):
    trips = {t["trip_id"] for t in _csv(clean, "gtfs/trips.txt")}
    incidents = _csv(clean, "incidents.csv")
    assert incidents and all(i["trip_id"] in trips for i in incidents)
    assert all(i["occurred_at"].endswith(("+11:00", "+10:00")) for i in incidents)


def test_missing_realtime_leaves_trips_out_of_the_feed():
    dataset = transport.generate(size=120, defects="missing_realtime", end_date=END)
    missing = [m for m in dataset.injected["missing_realtime"] if m.endswith("@20261122")]
    present = {e["tripUpdate"]["trip"]["tripId"] for e in _feed(dataset, END)["entity"]}
    assert missing and all(m.split("@")[0] not in present for m in missing)


def test_mass_cancellation_cancels_every_train_on_the_last_day():
    feed = _feed(transport.generate(size=120, defects="mass_cancellation", end_date=END), END)
    trains = [e for e in feed["entity"] if e["tripUpdate"]["trip"]["routeId"].startswith("TRAIN")]
    assert trains and all(e["tripUpdate"]["trip"]["scheduleRelationship"] == "CANCELED" for e in trains)


def test_no_service_removes_buses_from_timetable_and_feed():
    dataset = transport.generate(size=120, defects="no_service", end_date=END)
    assert _csv(dataset, "gtfs/calendar_dates.txt") == [{"service_id": "BUS_ALL", "date": "20261122", "exception_type": "2"}]
    assert not [e for e in _feed(dataset, END)["entity"] if e["tripUpdate"]["trip"]["routeId"].startswith("BUS")]
