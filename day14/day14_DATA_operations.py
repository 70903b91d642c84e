"""Raw operations data for the KPIs: GTFS static, GTFS-Realtime trip updates, patronage, incidents.

Reads a folder laid out as shared_synthetic_data writes it (and as a real export would be staged):
gtfs/*.txt, realtime/trip_updates_YYYYMMDD.json, patronage_daily.csv, incidents.csv.
Each timetabled trip on a service day becomes one day14_TripOutcome; the KPI module only counts.

Every field the KPIs read is checked when its file is read (type, range, reference to another file);
the first violation stops the run with a day14_DataError naming the file, the record and the rule,
because a KPI computed over silently dropped records would be wrong without saying so.
"""
from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo

DAY14_REQUIRED_GTFS = {
    "routes.txt": {"route_id", "route_type"},
    "trips.txt": {"route_id", "service_id", "trip_id"},
    "stop_times.txt": {"trip_id", "arrival_time", "stop_sequence", "shape_dist_traveled"},
    "calendar.txt": {"service_id", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday",
                     "sunday", "start_date", "end_date"},
}
DAY14_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
DAY14_MODES = ("train", "tram", "bus")
DAY14_MAX_INPUT_BYTES = 1 << 30  # 1 GiB: far above a metropolitan network's day, far below what would exhaust memory
DAY14_RT_TRIP_RELATIONSHIPS = {"SCHEDULED", "ADDED", "UNSCHEDULED", "CANCELED", "DUPLICATED", "DELETED",
                               "REPLACEMENT", "NEW"}
DAY14_RT_STOP_RELATIONSHIPS = {"SCHEDULED", "SKIPPED", "NO_DATA", "UNSCHEDULED"}
DAY14_RT_WHEELCHAIR = {"NO_VALUE", "UNKNOWN", "WHEELCHAIR_ACCESSIBLE", "WHEELCHAIR_INACCESSIBLE"}


class day14_DataError(ValueError):
    """The operations data cannot be read; the message names the file, the record and the rule."""


class _Rule(ValueError):
    """One field broke one rule; the reader adds the file and the record."""


def _gtfs_int(text: str, low: int = 0, high: int = 2**31 - 1) -> int:
    if not str(text).strip().isdigit() or not low <= int(text) <= high:
        raise _Rule(f"must be an integer from {low} to {high}")
    return int(text)


def _route_type(text: str) -> int:
    value = _gtfs_int(text, 0, 1799) if str(text).strip().isdigit() else None
    if value is None or not (value <= 12 or 100 <= value <= 1799):
        raise _Rule("must be a GTFS route type: an integer 0-12, or 100-1799 (extended types)")
    return value


def _gtfs_date(text: str) -> str:
    try:
        datetime.strptime(text, "%Y%m%d")
    except (TypeError, ValueError):
        raise _Rule("must be a date as YYYYMMDD") from None
    if len(text) != 8:
        raise _Rule("must be a date as YYYYMMDD")
    return text


def _iso_date(text: str) -> str:
    try:
        if len(text) == 10:
            return date.fromisoformat(text).isoformat()
    except ValueError:
        pass
    raise _Rule("must be a date as YYYY-MM-DD")


def _gtfs_time(text: str) -> str:
    parts = text.strip().split(":")
    if (len(parts) != 3 or not all(p.isdigit() and len(p) == 2 for p in parts[1:]) or not parts[0].isdigit()
            or int(parts[0]) > 47 or int(parts[1]) > 59 or int(parts[2]) > 59):
        raise _Rule("must be a GTFS time H:MM:SS or HH:MM:SS (hours up to 47 for trips past midnight)")
    return text


def _distance(text: str) -> float:
    if not text.strip():
        return 0.0
    try:
        value = float(text)
    except ValueError:
        raise _Rule("must be a number of km (or empty)") from None
    if not math.isfinite(value) or value < 0:
        raise _Rule("must be a finite, non-negative number of km")
    return value


def _one_of(*allowed: str):
    def check(text: str) -> str:
        if text not in allowed:
            raise _Rule(f"must be one of {', '.join(allowed)}")
        return text
    return check


def _not_empty(text: str) -> str:
    if not text.strip():
        raise _Rule("must not be empty")
    return text


DAY14_FIELD_RULES = {
    "routes.txt": ("route_id", {"route_id": _not_empty, "route_type": _route_type}),
    "trips.txt": ("trip_id", {"trip_id": _not_empty, "route_id": _not_empty, "service_id": _not_empty}),
    "stop_times.txt": ("trip_id", {"trip_id": _not_empty, "stop_sequence": _gtfs_int,
                                   "arrival_time": lambda t: _gtfs_time(t) if t.strip() else "",
                                   "shape_dist_traveled": _distance}),
    "calendar.txt": ("service_id", {"service_id": _not_empty, "start_date": _gtfs_date, "end_date": _gtfs_date,
                                    **{day: _one_of("0", "1") for day in DAY14_WEEKDAYS}}),
    "calendar_dates.txt": ("service_id", {"service_id": _not_empty, "date": _gtfs_date,
                                          "exception_type": _one_of("1", "2")}),
    "patronage_daily.csv": ("date", {"date": _iso_date, "mode": _one_of(*DAY14_MODES), "boardings": _gtfs_int}),
    "incidents.csv": ("incident_id", {"service_date": _iso_date, "mode": _one_of(*DAY14_MODES),
                                      "category": _not_empty}),
}


def day14_mode_of(route_type: int) -> str:
    """GTFS basic and extended route types to the three modes the regulator reports."""
    if route_type in (0, 900) or 900 <= route_type < 1000:
        return "tram"
    if route_type in (1, 2) or 100 <= route_type < 200 or 400 <= route_type < 500:
        return "train"
    return "bus"


def day14_gtfs_seconds(text: str) -> int:
    """'25:10:00' -> 90600: GTFS times run past 24:00 for trips that belong to the previous service day."""
    hours, minutes, seconds = (int(part) for part in text.strip().split(":"))
    return hours * 3600 + minutes * 60 + seconds


def day14_service_day_origin(day: date, tz: ZoneInfo) -> datetime:
    """GTFS measures times from 'noon minus 12 h' of the service day, which differs from midnight on DST days.

    Returned in UTC: aware-datetime arithmetic in a local zone is wall-clock arithmetic, and GTFS
    means elapsed time, so every offset added to this origin must be added in UTC.
    """
    return datetime.combine(day, time(12), tzinfo=tz).astimezone(timezone.utc) - timedelta(hours=12)


@dataclass(frozen=True)
class day14_Trip:
    trip_id: str
    mode: str
    service_id: str
    last_stop_sequence: int
    arrival_at_destination_s: int
    distance_by_sequence: dict[int, float]

    @property
    def scheduled_km(self) -> float:
        return self.distance_by_sequence[self.last_stop_sequence]


@dataclass(frozen=True)
class day14_TripOutcome:
    """What happened to one timetabled trip on one service day."""

    trip_id: str
    mode: str
    status: str  # delivered | short_run | cancelled | no_data
    delivered_fraction: float | None  # share of timetabled km run; None when unknown
    arrival_delay_s: int | None  # at the destination; None when not known or not reached
    low_floor: bool | None
    scheduled_km: float

    @property
    def delivered_km(self) -> float:
        return self.scheduled_km * (self.delivered_fraction or 0.0)


DAY14_LINE = "__line__"  # where a row came from, for messages about references between files


def _record(path: Path, line: int, row: dict) -> str:
    id_field = DAY14_FIELD_RULES.get(path.name, (None, {}))[0]
    ident = f" ({id_field} {row[id_field]})" if id_field and row.get(id_field) else ""
    return f"{path}: line {line}{ident}"


def _read_csv(path: Path, required: set[str] = frozenset()) -> list[dict]:
    """Rows of a CSV file, each field the KPIs read checked against its rule in DAY14_FIELD_RULES."""
    if not path.is_file():
        raise day14_DataError(f"{path}: file missing")
    if path.stat().st_size > DAY14_MAX_INPUT_BYTES:
        raise day14_DataError(f"{path}: larger than the {DAY14_MAX_INPUT_BYTES} bytes this reader accepts")
    rules = DAY14_FIELD_RULES.get(path.name, (None, {}))[1]
    rows, line = [], 1
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            missing = (set(required) | set(rules)) - set(reader.fieldnames or ())
            if missing:
                raise day14_DataError(f"{path}: missing column(s) {', '.join(sorted(missing))}")
            for row in reader:
                line = reader.line_num
                if None in row or None in row.values():
                    raise day14_DataError(f"{_record(path, line, row)}: has a different number of fields than the header")
                for name, rule in rules.items():
                    try:
                        rule(row[name])
                    except _Rule as exc:
                        raise day14_DataError(f"{_record(path, line, row)}: {name} {row[name]!r} {exc}") from None
                row[DAY14_LINE] = line
                rows.append(row)
    except UnicodeDecodeError as exc:
        raise day14_DataError(f"{path}: not UTF-8 ({exc.reason} at byte {exc.start})") from None
    except csv.Error as exc:
        raise day14_DataError(f"{path}: line {line + 1}: not readable as CSV ({exc})") from None
    return rows


def _unique(path: Path, rows: list[dict], *fields: str) -> None:
    seen = set()
    for row in rows:
        value = tuple(row[f] for f in fields)
        if value in seen:
            raise day14_DataError(f"{_record(path, row[DAY14_LINE], row)}: {', '.join(fields)} {', '.join(value)} "
                                  "appears twice (must be unique)")
        seen.add(value)


def _references(path: Path, rows: list[dict], field_name: str, known: set[str], target: str) -> None:
    for row in rows:
        if row[field_name] not in known:
            raise day14_DataError(f"{_record(path, row[DAY14_LINE], row)}: {field_name} {row[field_name]!r} "
                                  f"is not in {target}")


def _object(value, name: str) -> dict:
    if not isinstance(value, dict):
        raise _Rule(f"{name} must be a JSON object, found {type(value).__name__}")
    return value


def _rt_int(value, name: str, low: int | None = None) -> int:
    """GTFS-Realtime's JSON form writes int32 as numbers and int64 as strings; both mean an integer."""
    if isinstance(value, bool) or not (isinstance(value, int) or (isinstance(value, str) and value.lstrip("-").isdigit())):
        raise _Rule(f"{name} {value!r} must be an integer")
    if low is not None and int(value) < low:
        raise _Rule(f"{name} {value!r} must be at least {low}")
    return int(value)


def _rt_enum(container: dict, key: str, allowed: set[str], name: str) -> None:
    if key in container and container[key] not in allowed:
        raise _Rule(f"{name}.{key} {container[key]!r} must be one of {', '.join(sorted(allowed))}")


def _rt_stop_update(stop: dict, name: str) -> dict:
    _object(stop, name)
    if "stopSequence" not in stop:
        raise _Rule(f"{name} has no stopSequence (this reader matches stops by sequence)")
    checked = {**stop, "stopSequence": _rt_int(stop["stopSequence"], f"{name}.stopSequence", 0)}
    _rt_enum(stop, "scheduleRelationship", DAY14_RT_STOP_RELATIONSHIPS, name)
    for event in ("arrival", "departure"):
        if event in stop:
            values = dict(_object(stop[event], f"{name}.{event}"))
            for key, low in (("delay", None), ("time", 0)):
                if key in values:
                    values[key] = _rt_int(values[key], f"{name}.{event}.{key}", low)
            checked[event] = values
    return checked


def _rt_trip_update(entity) -> dict | None:
    _object(entity, "entity")
    if "tripUpdate" not in entity:
        return None  # a vehicle position or an alert: not what the KPIs read
    update = _object(entity["tripUpdate"], "tripUpdate")
    trip = _object(update.get("trip"), "tripUpdate.trip")
    if "tripId" in trip and (not isinstance(trip["tripId"], str) or not trip["tripId"]):
        raise _Rule(f"tripUpdate.trip.tripId {trip['tripId']!r} must be a non-empty string")
    if "startDate" in trip:
        try:
            _gtfs_date(trip["startDate"])
        except _Rule as exc:
            raise _Rule(f"tripUpdate.trip.startDate {trip['startDate']!r} {exc}") from None
    _rt_enum(trip, "scheduleRelationship", DAY14_RT_TRIP_RELATIONSHIPS, "tripUpdate.trip")
    if "vehicle" in update:
        _rt_enum(_object(update["vehicle"], "tripUpdate.vehicle"), "wheelchairAccessible", DAY14_RT_WHEELCHAIR,
                 "tripUpdate.vehicle")
    stops = update.get("stopTimeUpdate", [])
    if not isinstance(stops, list):
        raise _Rule(f"tripUpdate.stopTimeUpdate must be a JSON list, found {type(stops).__name__}")
    return {**update, "stopTimeUpdate": [_rt_stop_update(stop, f"tripUpdate.stopTimeUpdate[{i}]")
                                         for i, stop in enumerate(stops)]}


def day14_trip_updates(path: Path, feed, day: date) -> dict[str, dict]:
    """The day's trip updates by trip id, every field the KPIs read checked (GTFS-Realtime JSON form)."""
    if not isinstance(feed, dict):
        raise day14_DataError(f"{path}: must be a JSON object (a GTFS-Realtime FeedMessage with an 'entity' list), "
                              f"found a JSON {'list' if isinstance(feed, list) else type(feed).__name__}")
    entities = feed.get("entity", [])
    if not isinstance(entities, list):
        raise day14_DataError(f"{path}: 'entity' must be a JSON list, found {type(entities).__name__}")
    stamp, updates = f"{day:%Y%m%d}", {}
    for index, entity in enumerate(entities):
        try:
            update = _rt_trip_update(entity)
        except _Rule as exc:
            ident = f" (id {entity['id']})" if isinstance(entity, dict) and entity.get("id") else ""
            raise day14_DataError(f"{path}: entity[{index}]{ident}: {exc}") from None
        if update and update["trip"].get("startDate", stamp) == stamp and update["trip"].get("tripId"):
            updates[update["trip"]["tripId"]] = update
    return updates


class day14_Operations:
    """The operations data of one folder, read once, queried per service day."""

    def __init__(self, data_dir: Path, timezone: str):
        self.data_dir = Path(data_dir)
        self.tz = ZoneInfo(timezone)
        gtfs = {name: _read_csv(self.data_dir / "gtfs" / name, cols) for name, cols in DAY14_REQUIRED_GTFS.items()}
        dates_path = self.data_dir / "gtfs" / "calendar_dates.txt"
        self.calendar_dates = _read_csv(dates_path) if dates_path.is_file() else []
        self.calendar = gtfs["calendar.txt"]
        self._check_calendar(self.data_dir / "gtfs" / "calendar.txt")
        self.trips = self._trips(gtfs, self.data_dir / "gtfs",
                                 {c["service_id"] for c in self.calendar + self.calendar_dates})
        self.patronage = _read_csv(self.data_dir / "patronage_daily.csv", {"date", "mode", "boardings"})
        _unique(self.data_dir / "patronage_daily.csv", self.patronage, "date", "mode")
        self.incidents = _read_csv(self.data_dir / "incidents.csv", {"service_date", "mode", "category"})
        self._outcomes = lru_cache(maxsize=64)(self._outcomes_uncached)

    def _check_calendar(self, path: Path) -> None:
        _unique(path, self.calendar, "service_id")
        for row in self.calendar:
            if row["start_date"] > row["end_date"]:
                raise day14_DataError(f"{_record(path, row[DAY14_LINE], row)}: start_date {row['start_date']} is after "
                                      f"end_date {row['end_date']} (must not be)")

    @staticmethod
    def _trips(gtfs, folder: Path, services: set[str]) -> dict[str, day14_Trip]:
        routes, trips_path, stops_path = folder / "routes.txt", folder / "trips.txt", folder / "stop_times.txt"
        _unique(routes, gtfs["routes.txt"], "route_id")
        _unique(trips_path, gtfs["trips.txt"], "trip_id")
        _unique(stops_path, gtfs["stop_times.txt"], "trip_id", "stop_sequence")
        modes = {r["route_id"]: day14_mode_of(int(r["route_type"])) for r in gtfs["routes.txt"]}
        _references(trips_path, gtfs["trips.txt"], "route_id", set(modes), "routes.txt")
        _references(trips_path, gtfs["trips.txt"], "service_id", services, "calendar.txt or calendar_dates.txt")
        _references(stops_path, gtfs["stop_times.txt"], "trip_id", {t["trip_id"] for t in gtfs["trips.txt"]}, "trips.txt")
        stops: dict[str, list[dict]] = {}
        for row in gtfs["stop_times.txt"]:
            stops.setdefault(row["trip_id"], []).append(row)
        trips = {}
        for row in gtfs["trips.txt"]:
            times = sorted(stops.get(row["trip_id"], []), key=lambda s: int(s["stop_sequence"]))
            if not times:
                continue  # a trip with no stop times cannot run; GTFS validators flag it upstream
            for before, after in zip(times, times[1:]):
                if _distance(after["shape_dist_traveled"]) < _distance(before["shape_dist_traveled"]):
                    raise day14_DataError(f"{_record(stops_path, after[DAY14_LINE], after)}: shape_dist_traveled "
                                          f"{after['shape_dist_traveled']!r} must not decrease along the trip "
                                          f"(stop_sequence {before['stop_sequence']} has {before['shape_dist_traveled']})")
            if not times[-1]["arrival_time"].strip():
                raise day14_DataError(f"{_record(stops_path, times[-1][DAY14_LINE], times[-1])}: arrival_time is empty "
                                      "at the trip's last stop (must be set: punctuality is measured there)")
            trips[row["trip_id"]] = day14_Trip(
                trip_id=row["trip_id"], mode=modes[row["route_id"]], service_id=row["service_id"],
                last_stop_sequence=int(times[-1]["stop_sequence"]),
                arrival_at_destination_s=day14_gtfs_seconds(times[-1]["arrival_time"]),
                distance_by_sequence={int(s["stop_sequence"]): _distance(s["shape_dist_traveled"]) for s in times},
            )
        return trips

    def active_services(self, day: date) -> set[str]:
        """Service ids running on a day: calendar.txt weekday and range, then calendar_dates exceptions."""
        stamp = f"{day:%Y%m%d}"
        active = {c["service_id"] for c in self.calendar
                  if c["start_date"] <= stamp <= c["end_date"] and c[DAY14_WEEKDAYS[day.weekday()]] == "1"}
        for exception in self.calendar_dates:
            if exception["date"] == stamp:
                (active.add if exception["exception_type"] == "1" else active.discard)(exception["service_id"])
        return active

    def outcomes(self, day: date) -> tuple[day14_TripOutcome, ...]:
        return self._outcomes(day)

    def _outcomes_uncached(self, day: date) -> tuple[day14_TripOutcome, ...]:
        services = self.active_services(day)
        updates = self._realtime(day)
        return tuple(self._outcome(trip, updates.get(trip.trip_id), day)
                     for trip in self.trips.values() if trip.service_id in services)

    def realtime_path(self, day: date) -> Path:
        return self.data_dir / "realtime" / f"trip_updates_{day:%Y%m%d}.json"

    def _realtime(self, day: date) -> dict[str, dict]:
        path = self.realtime_path(day)
        if not path.is_file():
            return {}  # no feed for the day: every trip is reported as 'no data', never as on time
        if path.stat().st_size > DAY14_MAX_INPUT_BYTES:
            raise day14_DataError(f"{path}: larger than the {DAY14_MAX_INPUT_BYTES} bytes this reader accepts")
        try:
            feed = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
            raise day14_DataError(f"{path}: not a readable GTFS-Realtime JSON feed ({exc})") from None
        return day14_trip_updates(path, feed, day)

    def _outcome(self, trip: day14_Trip, update: dict | None, day: date) -> day14_TripOutcome:
        base = {"trip_id": trip.trip_id, "mode": trip.mode, "scheduled_km": trip.scheduled_km}
        if update is None:
            return day14_TripOutcome(status="no_data", delivered_fraction=None, arrival_delay_s=None, low_floor=None, **base)
        accessible = (update.get("vehicle") or {}).get("wheelchairAccessible")
        low_floor = {"WHEELCHAIR_ACCESSIBLE": True, "WHEELCHAIR_INACCESSIBLE": False}.get(accessible)
        if update["trip"].get("scheduleRelationship") == "CANCELED":
            return day14_TripOutcome(status="cancelled", delivered_fraction=0.0, arrival_delay_s=None, low_floor=low_floor, **base)
        stop_updates = sorted(update.get("stopTimeUpdate", []), key=lambda u: u.get("stopSequence", 0))
        skipped = {u["stopSequence"] for u in stop_updates if u.get("scheduleRelationship") == "SKIPPED"}
        if trip.last_stop_sequence in skipped:
            served = [seq for seq in trip.distance_by_sequence if seq not in skipped]
            fraction = trip.distance_by_sequence[max(served)] / trip.scheduled_km if served and trip.scheduled_km else 0.0
            return day14_TripOutcome(status="short_run", delivered_fraction=fraction, arrival_delay_s=None, low_floor=low_floor, **base)
        delay = self._destination_delay(trip, stop_updates, day)
        return day14_TripOutcome(status="delivered", delivered_fraction=1.0, arrival_delay_s=delay, low_floor=low_floor, **base)

    def _destination_delay(self, trip: day14_Trip, stop_updates: list[dict], day: date) -> int | None:
        """Delay at the destination; GTFS-RT propagates the latest earlier delay when the last stop has none."""
        for update in reversed([u for u in stop_updates if u.get("stopSequence", 0) <= trip.last_stop_sequence]):
            event = update.get("arrival") or {}
            if "delay" in event:
                return int(event["delay"])
            if "time" in event and update.get("stopSequence") == trip.last_stop_sequence:
                scheduled = day14_service_day_origin(day, self.tz) + timedelta(seconds=trip.arrival_at_destination_s)
                return int(event["time"]) - int(scheduled.timestamp())
        return None
