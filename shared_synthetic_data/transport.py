"""Transport operations for a metro network (train, tram, bus) in Australia/Melbourne time.

Static timetable in GTFS files (agency, routes, stops, calendar, calendar_dates, trips, stop_times
with shape_dist_traveled in km; late trips run past 24:00 as GTFS allows), one GTFS-Realtime
TripUpdate feed per service day in its JSON form (arrival delays in seconds, CANCELED trips,
SKIPPED stops, vehicle accessibility), daily patronage by mode for 400 days (for year-on-year),
and safety incidents / vehicle failures. KPIs are computed from these raw files, never given.
"""
from __future__ import annotations

import random
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from shared_synthetic_data._common import (
    DEFAULT_END_DATE, DEFAULT_SEED, Dataset, check_size, csv_bytes, json_bytes, parse_defects,
)

DEFECTS = ("missing_realtime", "mass_cancellation", "no_service")
DEFAULT_SIZE = 240  # timetabled trips per day across all modes
TIMEZONE = "Australia/Melbourne"
# mode -> (GTFS route_type, share of trips, routes, stops per trip, mean lateness in s, low-floor share)
MODES = {
    "train": (2, 0.30, 4, (8, 14), 100, 1.0),
    "tram": (0, 0.35, 6, (10, 18), 170, 0.7),
    "bus": (3, 0.35, 8, (12, 22), 200, 1.0),
}
CANCEL_RATE = 0.012
EARLY_RATE = 0.02  # ran early: a driver not holding at a timing point
DISRUPTION_RATE = 0.03  # a 10-25 minute delay: signal fault, crowding, road works
SHORT_RUN_RATE = 0.006
MISSING_REALTIME_SHARE = 0.05
PATRONAGE_DAYS = 400  # covers month-to-date and the same period last year
PATRONAGE_BASE = {"train": 420_000, "tram": 300_000, "bus": 210_000}
YEARLY_GROWTH = 1.04
INCIDENT_CATEGORIES = ("collision", "passenger_injury", "trespass", "derailment", "vehicle_failure")
WEEKDAY_FACTOR = (1.0, 1.02, 1.03, 1.03, 1.0, 0.62, 0.5)


def _gtfs_time(seconds: int) -> str:
    return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def _timetable(rng: random.Random, size: int) -> tuple[list[dict], list[dict], list[dict]]:
    """Routes, trips and stop_times for one (every-day) service pattern."""
    routes, trips, stop_times = [], [], []
    for mode, (route_type, share, n_routes, (lo, hi), _, _) in MODES.items():
        mode_routes = [{"route_id": f"{mode.upper()}-{r + 1}", "route_type": route_type, "mode": mode,
                        "route_short_name": f"{mode[0].upper()}{r + 1}",
                        "route_long_name": f"{mode.title()} line {r + 1}"} for r in range(n_routes)]
        routes += mode_routes
        for t in range(max(1, round(size * share))):
            route = mode_routes[t % n_routes]
            trip_id = f"{route['route_id']}-T{t:04d}"
            start = rng.randrange(5 * 3600, 25 * 3600 + 1800, 60)  # 05:00 to 25:30, past midnight like real GTFS
            trips.append({"trip_id": trip_id, "route_id": route["route_id"], "mode": mode,
                          "service_id": f"{mode.upper()}_ALL", "start": start, "direction_id": t % 2})
            clock, dist = start, 0.0
            for seq in range(1, rng.randint(lo, hi) + 1):
                stop_times.append({"trip_id": trip_id, "stop_sequence": seq,
                                   "stop_id": f"{route['route_id']}-S{seq:02d}",
                                   "time": clock, "dist": round(dist, 2)})
                clock += rng.randrange(90, 240)
                dist += rng.uniform(0.5, 2.5)
    return routes, trips, stop_times


def _service_days(end_date: date) -> list[date]:
    start = min(end_date - timedelta(days=27), end_date.replace(day=1))
    return [start + timedelta(days=n) for n in range((end_date - start).days + 1)]


def _trip_update(rng, trip, stops, day: date, cancelled: bool) -> dict:
    mean_lateness, low_floor = MODES[trip["mode"]][4], MODES[trip["mode"]][5]
    descriptor = {"tripId": trip["trip_id"], "routeId": trip["route_id"], "startDate": f"{day:%Y%m%d}",
                  "startTime": _gtfs_time(trip["start"]),
                  "scheduleRelationship": "CANCELED" if cancelled else "SCHEDULED"}
    update = {"trip": descriptor, "vehicle": {
        "id": f"{trip['mode']}-{rng.randrange(1, 400):03d}",
        "wheelchairAccessible": "WHEELCHAIR_ACCESSIBLE" if rng.random() < low_floor else "WHEELCHAIR_INACCESSIBLE",
    }}
    if cancelled:
        return update
    skipped_tail = rng.randint(2, 4) if rng.random() < SHORT_RUN_RATE else 0
    served = stops[:len(stops) - skipped_tail]
    roll = rng.random()
    if roll < EARLY_RATE:
        delay = -rng.randint(60, 150)
    elif roll < EARLY_RATE + DISRUPTION_RATE:
        delay = rng.randint(600, 1500)
    else:  # right-skewed, as real arrival delays are: mostly a little late, rarely early
        delay = int(rng.expovariate(1 / mean_lateness)) - 30
    updates = [{"stopSequence": served[-1]["stop_sequence"], "stopId": served[-1]["stop_id"],
                "arrival": {"delay": delay}, "scheduleRelationship": "SCHEDULED"}]
    updates += [{"stopSequence": s["stop_sequence"], "stopId": s["stop_id"], "scheduleRelationship": "SKIPPED"}
                for s in stops[len(served):]]
    update["stopTimeUpdate"] = updates
    return update


def _feeds(rng, trips, stop_times, end_date, defects, injected) -> dict[str, bytes]:
    by_trip: dict[str, list[dict]] = {}
    for st in stop_times:
        by_trip.setdefault(st["trip_id"], []).append(st)
    files = {}
    for day in _service_days(end_date):
        entities = []
        for trip in trips:
            if day == end_date and "no_service" in defects and trip["mode"] == "bus":
                continue
            cancelled = rng.random() < CANCEL_RATE or (
                day == end_date and "mass_cancellation" in defects and trip["mode"] == "train")
            update = _trip_update(rng, trip, by_trip[trip["trip_id"]], day, cancelled)
            if "missing_realtime" in defects and rng.random() < MISSING_REALTIME_SHARE:
                injected.setdefault("missing_realtime", []).append(f"{trip['trip_id']}@{day:%Y%m%d}")
                continue
            entities.append({"id": f"tu-{trip['trip_id']}-{day:%Y%m%d}", "tripUpdate": update})
        stamp = datetime.combine(day + timedelta(days=1), time(3, 0), tzinfo=ZoneInfo(TIMEZONE))
        header = {"gtfsRealtimeVersion": "2.0", "incrementality": "FULL_DATASET",
                  "timestamp": str(int(stamp.timestamp()))}
        files[f"transport/realtime/trip_updates_{day:%Y%m%d}.json"] = json_bytes({"header": header, "entity": entities})
    return files


def _patronage(rng, end_date) -> list[list]:
    rows = []
    for n in range(PATRONAGE_DAYS - 1, -1, -1):
        day = end_date - timedelta(days=n)
        growth = YEARLY_GROWTH ** (-(n / 365))
        for mode, base in PATRONAGE_BASE.items():
            rows.append([day.isoformat(), mode, int(base * growth * WEEKDAY_FACTOR[day.weekday()] * rng.uniform(0.93, 1.07))])
    return rows


def _incidents(rng, trips, end_date) -> list[list]:
    tz, rows = ZoneInfo(TIMEZONE), []
    for day in _service_days(end_date):
        for trip in trips:
            if rng.random() < 0.004:
                category = rng.choices(INCIDENT_CATEGORIES, weights=(20, 25, 15, 1, 39))[0]
                when = datetime.combine(day, time(), tzinfo=tz) + timedelta(seconds=trip["start"] + rng.randrange(600))
                rows.append([f"INC-{day:%Y%m%d}-{len(rows):05d}", day.isoformat(), when.isoformat(),
                             trip["mode"], trip["trip_id"], category])
    return rows


def generate(seed=DEFAULT_SEED, size=DEFAULT_SIZE, defects=(), end_date=DEFAULT_END_DATE) -> Dataset:
    defects = parse_defects(defects, DEFECTS)
    rng = random.Random(f"transport-{seed}")
    routes, trips, stop_times = _timetable(rng, check_size(size))
    injected: dict[str, list[str]] = {}
    if "mass_cancellation" in defects:
        injected["mass_cancellation"] = [f"train@{end_date:%Y%m%d}"]
    if "no_service" in defects:
        injected["no_service"] = [f"bus@{end_date:%Y%m%d}"]
    days = _service_days(end_date)
    files = {
        "transport/gtfs/agency.txt": csv_bytes(
            ("agency_id", "agency_name", "agency_url", "agency_timezone"),
            [("SYN", "Synthetic Metro Transport", "https://transport.example", TIMEZONE)]),
        "transport/gtfs/routes.txt": csv_bytes(
            ("route_id", "agency_id", "route_short_name", "route_long_name", "route_type"),
            ([r["route_id"], "SYN", r["route_short_name"], r["route_long_name"], r["route_type"]] for r in routes)),
        "transport/gtfs/stops.txt": csv_bytes(
            ("stop_id", "stop_name"), sorted({(s["stop_id"], f"Stop {s['stop_id']}") for s in stop_times})),
        "transport/gtfs/calendar.txt": csv_bytes(
            ("service_id", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday",
             "start_date", "end_date"),
            ([f"{m.upper()}_ALL", 1, 1, 1, 1, 1, 1, 1, f"{days[0]:%Y%m%d}", f"{days[-1]:%Y%m%d}"] for m in MODES)),
        "transport/gtfs/calendar_dates.txt": csv_bytes(
            ("service_id", "date", "exception_type"),
            [("BUS_ALL", f"{end_date:%Y%m%d}", 2)] if "no_service" in defects else []),
        "transport/gtfs/trips.txt": csv_bytes(
            ("route_id", "service_id", "trip_id", "direction_id"),
            ([t["route_id"], t["service_id"], t["trip_id"], t["direction_id"]] for t in trips)),
        "transport/gtfs/stop_times.txt": csv_bytes(
            ("trip_id", "arrival_time", "departure_time", "stop_id", "stop_sequence", "shape_dist_traveled"),
            ([s["trip_id"], _gtfs_time(s["time"]), _gtfs_time(s["time"]), s["stop_id"], s["stop_sequence"], s["dist"]]
             for s in stop_times)),
        "transport/patronage_daily.csv": csv_bytes(("date", "mode", "boardings"), _patronage(rng, end_date)),
        "transport/incidents.csv": csv_bytes(
            ("incident_id", "service_date", "occurred_at", "mode", "trip_id", "category"),
            _incidents(rng, trips, end_date)),
    }
    files.update(_feeds(rng, trips, stop_times, end_date, defects, injected))
    return Dataset(domain="transport", seed=seed, size=size, defects=defects, files=files, injected=injected)
