"""Every KPI formula in one module; targets and thresholds come from day14_kpi_targets.toml.

A KPI is a daily ratio (numerator, denominator) summed over a period, so a month-to-date value weighs
each service equally instead of averaging daily percentages. Defined answers for the edge cases:
  - no services scheduled       -> no value, note "no services scheduled", status "no data"
  - every service cancelled      -> delivery 0 %, punctuality no value ("all services cancelled")
  - a trip without realtime data -> never assumed on time: left out of punctuality and delivery,
                                    and counted against realtime coverage, which has its own target
  - a short run                  -> delivered in proportion to the km run; not counted for punctuality,
                                    since it never reached its destination
"""
from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Callable, Iterable

from day14_DATA_operations import day14_Operations, day14_TripOutcome

DAY14_PUNCTUALITY_WINDOW_S = {"train": (-59, 299), "tram": (-59, 299), "bus": (-59, 359)}
DAY14_SAFETY_CATEGORIES = frozenset({"collision", "passenger_injury", "trespass", "derailment"})
DAY14_FAILURE_CATEGORY = "vehicle_failure"
DAY14_YOY_SHIFT_DAYS = 364  # 52 weeks back: compares a Monday with a Monday
DAY14_TREND_DAYS = 7
DAY14_TARGET_FIELDS = {"label", "unit", "target", "at_risk_margin", "direction", "source"}


class day14_TargetsError(ValueError):
    """The KPI targets file is unusable; the message names the KPI and the field."""


@dataclass(frozen=True)
class day14_Ratio:
    numerator: float = 0.0
    denominator: float = 0.0

    def __add__(self, other: "day14_Ratio") -> "day14_Ratio":
        return day14_Ratio(self.numerator + other.numerator, self.denominator + other.denominator)


def day14_percent(ratio: day14_Ratio) -> float | None:
    return 100.0 * ratio.numerator / ratio.denominator if ratio.denominator else None


def day14_per_million(ratio: day14_Ratio) -> float | None:
    return 1e6 * ratio.numerator / ratio.denominator if ratio.denominator else None


def day14_km_per_failure(ratio: day14_Ratio) -> float | None:
    if not ratio.numerator:
        return None
    return ratio.numerator / ratio.denominator if ratio.denominator else math.inf  # no failures at all


def day14_change_percent(ratio: day14_Ratio) -> float | None:
    return 100.0 * (ratio.numerator / ratio.denominator - 1) if ratio.denominator else None


# --- daily measures ---------------------------------------------------------------------------

def day14_punctuality(outcomes: Iterable[day14_TripOutcome], mode: str) -> day14_Ratio:
    """Delivered services of a mode arriving at destination within the window, over those with a known arrival."""
    early, late = DAY14_PUNCTUALITY_WINDOW_S[mode]
    delays = [o.arrival_delay_s for o in outcomes
              if o.mode == mode and o.status == "delivered" and o.arrival_delay_s is not None]
    return day14_Ratio(sum(early <= d <= late for d in delays), len(delays))


def day14_service_delivery(outcomes: Iterable[day14_TripOutcome]) -> day14_Ratio:
    """Share of timetabled services delivered, weighting a short run by the km it ran."""
    known = [o for o in outcomes if o.status != "no_data"]
    return day14_Ratio(sum(o.delivered_fraction for o in known), len(known))


def day14_realtime_coverage(outcomes: Iterable[day14_TripOutcome]) -> day14_Ratio:
    outcomes = list(outcomes)
    return day14_Ratio(sum(o.status != "no_data" for o in outcomes), len(outcomes))


def day14_low_floor_share(outcomes: Iterable[day14_TripOutcome], mode: str = "tram") -> day14_Ratio:
    run = [o for o in outcomes if o.mode == mode and o.status in ("delivered", "short_run") and o.low_floor is not None]
    return day14_Ratio(sum(o.low_floor for o in run), len(run))


def day14_vehicle_km(outcomes: Iterable[day14_TripOutcome]) -> float:
    return sum(o.delivered_km for o in outcomes)


def _incidents(ops: day14_Operations, day: date, categories: Callable[[str], bool]) -> int:
    stamp = day.isoformat()
    return sum(1 for i in ops.incidents if i["service_date"] == stamp and categories(i["category"]))


def day14_safety_incidents(ops: day14_Operations, day: date) -> day14_Ratio:
    """Safety incidents over delivered vehicle-km (shown per million km)."""
    return day14_Ratio(_incidents(ops, day, DAY14_SAFETY_CATEGORIES.__contains__), day14_vehicle_km(ops.outcomes(day)))


def day14_failures(ops: day14_Operations, day: date) -> day14_Ratio:
    """Delivered vehicle-km over vehicle failures (mean distance between failures)."""
    return day14_Ratio(day14_vehicle_km(ops.outcomes(day)), _incidents(ops, day, DAY14_FAILURE_CATEGORY.__eq__))


def day14_patronage(ops: day14_Operations, day: date, mode: str) -> day14_Ratio:
    """Boardings on the day over boardings 52 weeks earlier."""
    def boardings(on: date) -> int:
        stamp = on.isoformat()
        return sum(int(r["boardings"]) for r in ops.patronage if r["date"] == stamp and r["mode"] == mode)
    return day14_Ratio(boardings(day), boardings(day - timedelta(days=DAY14_YOY_SHIFT_DAYS)))


@dataclass(frozen=True)
class day14_KpiSpec:
    key: str
    daily: Callable[[day14_Operations, date], day14_Ratio]
    value: Callable[[day14_Ratio], float | None]
    mode: str | None = None  # explains an empty period by that mode's services


DAY14_KPIS = (
    day14_KpiSpec("train_punctuality", lambda ops, d: day14_punctuality(ops.outcomes(d), "train"), day14_percent, "train"),
    day14_KpiSpec("tram_punctuality", lambda ops, d: day14_punctuality(ops.outcomes(d), "tram"), day14_percent, "tram"),
    day14_KpiSpec("bus_punctuality", lambda ops, d: day14_punctuality(ops.outcomes(d), "bus"), day14_percent, "bus"),
    day14_KpiSpec("service_delivery", lambda ops, d: day14_service_delivery(ops.outcomes(d)), day14_percent),
    day14_KpiSpec("patronage_train", lambda ops, d: day14_patronage(ops, d, "train"), day14_change_percent),
    day14_KpiSpec("patronage_tram", lambda ops, d: day14_patronage(ops, d, "tram"), day14_change_percent),
    day14_KpiSpec("patronage_bus", lambda ops, d: day14_patronage(ops, d, "bus"), day14_change_percent),
    day14_KpiSpec("safety_incident_rate", day14_safety_incidents, day14_per_million),
    day14_KpiSpec("mean_distance_between_failures", day14_failures, day14_km_per_failure),
    day14_KpiSpec("tram_low_floor_share", lambda ops, d: day14_low_floor_share(ops.outcomes(d)), day14_percent, "tram"),
    day14_KpiSpec("realtime_coverage", lambda ops, d: day14_realtime_coverage(ops.outcomes(d)), day14_percent),
)


# --- periods, status, trend -------------------------------------------------------------------

@dataclass(frozen=True)
class day14_KpiResult:
    key: str
    label: str
    unit: str
    direction: str
    target: float
    at_risk_margin: float
    source: str
    yesterday: float | None
    month_to_date: float | None
    prior_days: float | None
    status: str  # met | at risk | missed | no data
    note: str = ""

    @property
    def trend_delta(self) -> float | None:
        values = (self.yesterday, self.prior_days)
        if any(v is None or math.isinf(v) for v in values):
            return None
        return self.yesterday - self.prior_days

    @property
    def trend(self) -> str:
        """'better', 'worse' or 'steady' for yesterday against the previous seven days; '' when unknown."""
        delta = self.trend_delta
        if delta is None:
            return ""
        if abs(delta) < max(0.05, abs(self.target) * 0.005):
            return "steady"
        return "better" if (delta > 0) == (self.direction == "higher") else "worse"


def day14_status(value: float | None, target: float, margin: float, direction: str) -> str:
    if value is None:
        return "no data"
    gap = value - target if direction == "higher" else target - value
    return "met" if gap >= 0 else "at risk" if gap >= -margin else "missed"


def day14_period_value(ops: day14_Operations, spec: day14_KpiSpec, days: Iterable[date]) -> float | None:
    total = day14_Ratio()
    for day in days:
        total += spec.daily(ops, day)
    return spec.value(total)


def day14_days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def _empty_note(ops: day14_Operations, mode: str | None, day: date) -> str:
    outcomes = [o for o in ops.outcomes(day) if mode is None or o.mode == mode]
    if not outcomes:
        return "no services scheduled"
    if all(o.status == "cancelled" for o in outcomes):
        return "all services cancelled"
    if all(o.status == "no_data" for o in outcomes):
        return "no realtime data"
    return "no data for the day"


def day14_compute_kpis(ops: day14_Operations, report_date: date, targets: dict[str, dict]) -> list[day14_KpiResult]:
    month_to_date = day14_days(report_date.replace(day=1), report_date)
    prior = day14_days(report_date - timedelta(days=DAY14_TREND_DAYS), report_date - timedelta(days=1))
    results = []
    for spec in DAY14_KPIS:
        target = targets[spec.key]
        yesterday = day14_period_value(ops, spec, [report_date])
        mtd = day14_period_value(ops, spec, month_to_date)
        results.append(day14_KpiResult(
            key=spec.key, label=target["label"], unit=target["unit"], direction=target["direction"],
            target=float(target["target"]), at_risk_margin=float(target["at_risk_margin"]), source=target["source"],
            yesterday=yesterday, month_to_date=mtd, prior_days=day14_period_value(ops, spec, prior),
            status=day14_status(mtd, float(target["target"]), float(target["at_risk_margin"]), target["direction"]),
            note=_empty_note(ops, spec.mode, report_date) if yesterday is None else "",
        ))
    return results


def day14_missing_inputs(ops: day14_Operations, day: date) -> tuple[str, ...]:
    """The inputs a report for `day` lacks, named by file, so a report without data says why."""
    missing, gtfs = [], ops.data_dir / "gtfs"
    outcomes = ops.outcomes(day)
    if not ops.trips:
        missing.append(f"{gtfs / 'trips.txt'}: no trips with stop times")
    elif not outcomes:
        missing.append(f"{gtfs}: no trip scheduled on {day} (calendar.txt, calendar_dates.txt)")
    realtime = ops.realtime_path(day)
    if not realtime.is_file():
        missing.append(f"{realtime}: file missing")
    elif outcomes and all(o.status == "no_data" for o in outcomes):
        missing.append(f"{realtime}: no update for any trip scheduled that day")
    year_earlier = day - timedelta(days=DAY14_YOY_SHIFT_DAYS)
    for on, why in ((day, ""), (year_earlier, " (the same weekday a year earlier, for the year-on-year change)")):
        if not any(row["date"] == on.isoformat() for row in ops.patronage):
            missing.append(f"{ops.data_dir / 'patronage_daily.csv'}: no rows for {on}{why}")
    return tuple(missing)


def day14_load_targets(path: Path) -> dict[str, dict]:
    """Targets for every KPI, checked so a typo fails at start-up, not in tomorrow's e-mail."""
    try:
        targets = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise day14_TargetsError(f"{path}: {exc}") from None
    for spec in DAY14_KPIS:
        entry = targets.get(spec.key)
        if entry is None:
            raise day14_TargetsError(f"{path}: no [{spec.key}] section")
        missing = DAY14_TARGET_FIELDS - set(entry)
        if missing:
            raise day14_TargetsError(f"{path}: [{spec.key}] lacks {', '.join(sorted(missing))}")
        if entry["direction"] not in ("higher", "lower"):
            raise day14_TargetsError(f"{path}: [{spec.key}] direction must be 'higher' or 'lower'")
        if not all(isinstance(entry[f], (int, float)) for f in ("target", "at_risk_margin")):
            raise day14_TargetsError(f"{path}: [{spec.key}] target and at_risk_margin must be numbers")
    return targets
