"""Raw operations data for the KPIs: GTFS static, GTFS-Realtime trip updates, patronage, incidents.

Reads a folder laid out as shared_synthetic_data writes it (and as a real export would be staged):
gtfs/*.txt, realtime/trip_updates_YYYYMMDD.json, patronage_daily.csv, incidents.csv.
Each timetabled trip on a service day becomes one day14_TripOutcome; the KPI module only counts.
"""
from __future__ import annotations

import csv
import json
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


class day14_DataError(ValueError):
    """The operations data cannot be read; the message names the file and the problem."""


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


def _read_csv(path: Path, required: set[str] = frozenset()) -> list[dict]:
    if not path.is_file():
        raise day14_DataError(f"{path}: file missing")
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            missing = required - set(reader.fieldnames or ())
            if missing:
                raise day14_DataError(f"{path}: missing column(s) {', '.join(sorted(missing))}")
            return list(reader)
    except UnicodeDecodeError as exc:
        raise day14_DataError(f"{path}: not UTF-8 ({exc.reason} at byte {exc.start})") from None


class day14_Operations:
    """The operations data of one folder, read once, queried per service day."""

    def __init__(self, data_dir: Path, timezone: str):
        self.data_dir = Path(data_dir)
        self.tz = ZoneInfo(timezone)
        gtfs = {name: _read_csv(self.data_dir / "gtfs" / name, cols) for name, cols in DAY14_REQUIRED_GTFS.items()}
        dates_path = self.data_dir / "gtfs" / "calendar_dates.txt"
        self.calendar_dates = _read_csv(dates_path) if dates_path.is_file() else []
        self.calendar = gtfs["calendar.txt"]
        self.trips = self._trips(gtfs)
        self.patronage = _read_csv(self.data_dir / "patronage_daily.csv", {"date", "mode", "boardings"})
        self.incidents = _read_csv(self.data_dir / "incidents.csv", {"service_date", "mode", "category"})
        self._outcomes = lru_cache(maxsize=64)(self._outcomes_uncached)

    @staticmethod
    def _trips(gtfs) -> dict[str, day14_Trip]:
        modes = {r["route_id"]: day14_mode_of(int(r["route_type"])) for r in gtfs["routes.txt"]}
        stops: dict[str, list[dict]] = {}
        for row in gtfs["stop_times.txt"]:
            stops.setdefault(row["trip_id"], []).append(row)
        trips = {}
        for row in gtfs["trips.txt"]:
            times = sorted(stops.get(row["trip_id"], []), key=lambda s: int(s["stop_sequence"]))
            if not times:
                continue  # a trip with no stop times cannot run; GTFS validators flag it upstream
            trips[row["trip_id"]] = day14_Trip(
                trip_id=row["trip_id"], mode=modes[row["route_id"]], service_id=row["service_id"],
                last_stop_sequence=int(times[-1]["stop_sequence"]),
                arrival_at_destination_s=day14_gtfs_seconds(times[-1]["arrival_time"]),
                distance_by_sequence={int(s["stop_sequence"]): float(s["shape_dist_traveled"] or 0) for s in times},
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

    def _realtime(self, day: date) -> dict[str, dict]:
        path = self.data_dir / "realtime" / f"trip_updates_{day:%Y%m%d}.json"
        if not path.is_file():
            return {}  # no feed for the day: every trip is reported as 'no data', never as on time
        try:
            feed = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise day14_DataError(f"{path}: not a readable GTFS-Realtime JSON feed ({exc})") from None
        updates = {}
        for entity in feed.get("entity", []):
            update = entity.get("tripUpdate") or {}
            trip = update.get("trip") or {}
            if trip.get("startDate", f"{day:%Y%m%d}") == f"{day:%Y%m%d}" and trip.get("tripId"):
                updates[trip["tripId"]] = update
        return updates

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
