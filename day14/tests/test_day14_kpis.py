"""KPI formulas on hand-made networks, including every edge case the module docstring defines."""
import math
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from day14_DATA_operations import day14_gtfs_seconds, day14_Operations, day14_service_day_origin
from day14_KPI_definitions import (
    DAY14_KPIS, day14_compute_kpis, day14_load_targets, day14_period_value, day14_status, day14_TargetsError,
)

DAY = date(2026, 11, 22)
TARGETS = day14_load_targets(Path(__file__).resolve().parents[1] / "day14_kpi_targets.toml")
SPECS = {spec.key: spec for spec in DAY14_KPIS}


def _ops(folder):
    return day14_Operations(folder, "Australia/Melbourne")


def _value(folder, key, days=(DAY,)):
    return day14_period_value(_ops(folder), SPECS[key], days)


@pytest.mark.parametrize(("mode", "delay", "on_time"), [
    ("train", -60, False), ("train", -59, True), ("train", 299, True), ("train", 300, False),
    ("tram", 299, True), ("tram", 300, False), ("bus", 359, True), ("bus", 360, False),
])
def test_punctuality_window_edges(network, updates, mode, delay, on_time):
    folder = network({"t1": mode}, {DAY: [updates.delivered("t1", delay)]})
    assert _value(folder, f"{mode}_punctuality") == (100.0 if on_time else 0.0)


def test_delivery_counts_a_short_run_by_km_and_coverage_counts_the_gaps(network, updates):
    folder = network({"ok": "train", "gone": "train", "short": "train", "silent": "train"},
                     {DAY: [updates.delivered("ok", 0), updates.cancelled("gone"), updates.short_run("short", skipped=(3,))]})
    assert _value(folder, "service_delivery") == pytest.approx(100 * (1 + 0 + 0.5) / 3)  # short run: 5 of 10 km
    assert _value(folder, "realtime_coverage") == 75.0
    assert _value(folder, "train_punctuality") == 100.0  # only 'ok' reached its destination with a known time


def test_a_trip_without_realtime_data_is_never_assumed_on_time(network, updates):
    folder = network({"late": "tram", "unknown": "tram"}, {DAY: [updates.delivered("late", 900)]})
    assert _value(folder, "tram_punctuality") == 0.0  # 0 of 1 known, not 1 of 2


def test_no_services_scheduled_gives_no_value_and_says_why(network, updates):
    folder = network({"b1": "bus", "t1": "train"}, {DAY: [updates.delivered("t1", 0)]}, removed=[("bus", DAY)])
    bus = {r.key: r for r in day14_compute_kpis(_ops(folder), DAY, TARGETS)}["bus_punctuality"]
    assert (bus.yesterday, bus.note) == (None, "no services scheduled")


def test_all_cancelled_means_zero_delivery_and_no_punctuality(network, updates):
    folder = network({"a": "train", "b": "train"}, {DAY: [updates.cancelled("a"), updates.cancelled("b")]})
    results = {r.key: r for r in day14_compute_kpis(_ops(folder), DAY, TARGETS)}
    assert results["service_delivery"].yesterday == 0.0
    assert results["train_punctuality"].yesterday is None
    assert results["train_punctuality"].note == "all services cancelled"


def test_a_missing_feed_for_the_day_means_no_data_not_on_time(network):
    folder = network({"a": "train"}, {})
    assert _value(folder, "train_punctuality") is None
    assert _value(folder, "realtime_coverage") == 0.0


def test_times_past_midnight_are_measured_from_the_service_day_origin_across_dst(network, updates):
    dst_start = date(2026, 10, 4)  # Melbourne clocks go forward at 02:00
    origin = day14_service_day_origin(dst_start, _ops(network({}, {})).tz)
    # noon AEDT is 01:00Z; minus 12 h is 23:00 AEST the evening before, an hour before local midnight
    assert origin == datetime(2026, 10, 3, 13, 0, tzinfo=timezone.utc)
    arrival = int(origin.timestamp()) + day14_gtfs_seconds("25:10:00") + 120
    folder = network({"night": "train"}, {dst_start: [updates.delivered("night", arrival_time=arrival)]}, arrival="25:10:00")
    (outcome,) = _ops(folder).outcomes(dst_start)
    assert outcome.arrival_delay_s == 120


def test_a_month_weighs_every_service_equally(network, updates):
    first, second = DAY - timedelta(days=1), DAY
    folder = network({"a": "bus", "b": "bus", "c": "bus"},
                     {first: [updates.delivered("a", 0)],
                      second: [updates.delivered("a", 0), updates.delivered("b", 900), updates.delivered("c", 900)]})
    assert _value(folder, "bus_punctuality", [first, second]) == 50.0  # 2 of 4 services, not the mean of 100 % and 33 %


def test_patronage_compares_with_the_same_weekday_a_year_before(network):
    last_year = DAY - timedelta(days=364)
    folder = network({}, {}, patronage=[[DAY.isoformat(), "tram", 1100], [last_year.isoformat(), "tram", 1000],
                                        [(DAY - timedelta(days=365)).isoformat(), "tram", 5]])
    assert _value(folder, "patronage_tram") == pytest.approx(10.0)


def test_safety_rate_and_mean_distance_between_failures(network, updates):
    trips = {f"t{i}": "bus" for i in range(10)}  # 10 delivered trips x 10 km = 100 km
    folder = network(trips, {DAY: [updates.delivered(t, 0) for t in trips]},
                     incidents=[(DAY, "bus", "collision"), (DAY, "bus", "vehicle_failure"), (DAY, "bus", "vehicle_failure")])
    assert _value(folder, "safety_incident_rate") == pytest.approx(1e6 * 1 / 100)
    assert _value(folder, "mean_distance_between_failures") == pytest.approx(50.0)


def test_no_failures_at_all_is_an_infinite_distance_and_meets_the_target(network, updates):
    folder = network({"a": "bus"}, {DAY: [updates.delivered("a", 0)]})
    assert math.isinf(_value(folder, "mean_distance_between_failures"))
    assert day14_status(math.inf, 6000, 1000, "higher") == "met"


def test_low_floor_share_counts_tram_services_that_ran(network, updates):
    folder = network({"a": "tram", "b": "tram", "c": "tram"},
                     {DAY: [updates.delivered("a", 0, low_floor=True), updates.delivered("b", 0, low_floor=False), updates.cancelled("c")]})
    assert _value(folder, "tram_low_floor_share") == 50.0


@pytest.mark.parametrize(("value", "direction", "status"), [
    (92.0, "higher", "met"), (91.5, "higher", "at risk"), (90.9, "higher", "missed"), (None, "higher", "no data"),
    (92.0, "lower", "met"), (92.9, "lower", "at risk"), (93.5, "lower", "missed"),
])
def test_status_from_target_and_margin(value, direction, status):
    assert day14_status(value, 92.0, 1.0, direction) == status


def test_trend_reads_better_or_worse_by_direction(network):
    results = {r.key: r for r in day14_compute_kpis(_ops(network({}, {})), DAY, TARGETS)}
    higher, lower = results["train_punctuality"], results["safety_incident_rate"]
    assert higher.__class__(**{**higher.__dict__, "yesterday": 95.0, "prior_days": 90.0}).trend == "better"
    assert lower.__class__(**{**lower.__dict__, "yesterday": 95.0, "prior_days": 90.0}).trend == "worse"
    assert higher.__class__(**{**higher.__dict__, "yesterday": 90.01, "prior_days": 90.0}).trend == "steady"


def test_a_targets_file_missing_a_kpi_is_rejected_by_name(tmp_path):
    broken = tmp_path / "targets.toml"
    broken.write_text((Path(__file__).resolve().parents[1] / "day14_kpi_targets.toml").read_text()
                      .replace("[realtime_coverage]", "[realtime_covrage]"))
    with pytest.raises(day14_TargetsError, match=r"no \[realtime_coverage\] section"):
        day14_load_targets(broken)
