"""Alertmanager-style routing: matchers, a route tree with `continue`, inhibition rules and silences.

Semantics follow Alertmanager: the root matches everything; children are tried in order, the first
matching child is descended into and, unless it says `continue: true`, its later siblings are not
tried; a route with no matching child is itself the match. Settings (receiver, group_by, timers,
escalation receiver) are inherited from the parent. Regex matchers are anchored at both ends.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from functools import cached_property
from datetime import datetime, timedelta

DAY13_MATCHER = re.compile(r'^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*(?:"((?:[^"\\]|\\.)*)"|(\S*))\s*$')
DAY13_DURATION = re.compile(r"^(\d+)(ms|s|m|h|d)$")
DAY13_RECEIVER_KINDS = ("slack_configs", "email_configs", "ticket_configs")


class day13_RoutingError(ValueError):
    """The routing file is unusable; the message names where."""


@dataclass(frozen=True)
class day13_Matcher:
    name: str
    op: str
    value: str

    def matches(self, labels: dict[str, str]) -> bool:
        actual = labels.get(self.name, "")
        if self.op in ("=", "!="):
            return (actual == self.value) == (self.op == "=")
        return (self.pattern.fullmatch(actual) is not None) == (self.op == "=~")

    @cached_property
    def pattern(self) -> re.Pattern:
        return re.compile(self.value)

    def __str__(self) -> str:
        return f'{self.name}{self.op}"{self.value}"'


def day13_parse_matcher(text: str, where: str) -> day13_Matcher:
    found = DAY13_MATCHER.match(str(text))
    if not found:
        raise day13_RoutingError(f"{where}: {text!r} is not a matcher like 'severity = \"Critical\"'")
    name, op, quoted, bare = found.groups()
    value = quoted if quoted is not None else bare
    if op in ("=~", "!~"):
        try:
            re.compile(value)
        except re.error as exc:
            raise day13_RoutingError(f"{where}: bad regex {value!r}: {exc}") from None
    return day13_Matcher(name, op, value)


def day13_duration(value, where: str) -> timedelta:
    found = DAY13_DURATION.match(str(value))
    if not found:
        raise day13_RoutingError(f"{where}: {value!r} is not a duration like 30s, 5m, 4h")
    amount, unit = int(found.group(1)), found.group(2)
    return timedelta(**{{"ms": "milliseconds", "s": "seconds", "m": "minutes", "h": "hours", "d": "days"}[unit]: amount})


@dataclass
class day13_Route:
    name: str
    matchers: tuple[day13_Matcher, ...]
    receiver: str
    group_by: tuple[str, ...]
    group_wait: timedelta
    group_interval: timedelta
    repeat_interval: timedelta
    escalation_receiver: str | None
    continue_: bool = False
    routes: list["day13_Route"] = field(default_factory=list)

    def matches(self, labels: dict[str, str]) -> bool:
        return all(m.matches(labels) for m in self.matchers)

    def match(self, labels: dict[str, str]) -> list["day13_Route"]:
        """The routes an alert ends in (more than one only through `continue`)."""
        found: list[day13_Route] = []
        for child in self.routes:
            if child.matches(labels):
                found += child.match(labels)
                if not child.continue_:
                    break
        return found or [self]


@dataclass(frozen=True)
class day13_Inhibition:
    source: tuple[day13_Matcher, ...]
    target: tuple[day13_Matcher, ...]
    equal: tuple[str, ...]


@dataclass(frozen=True)
class day13_Silence:
    matchers: tuple[day13_Matcher, ...]
    starts_at: datetime
    ends_at: datetime
    created_by: str
    comment: str

    def silences(self, labels: dict[str, str], now: datetime) -> bool:
        return self.starts_at <= now < self.ends_at and all(m.matches(labels) for m in self.matchers)


@dataclass(frozen=True)
class day13_Routing:
    version: str
    root: day13_Route
    receivers: dict[str, dict]
    inhibitions: tuple[day13_Inhibition, ...]
    silences: tuple[day13_Silence, ...]
    max_alerts_per_message: int

    def silence_for(self, labels: dict[str, str], now: datetime) -> day13_Silence | None:
        return next((s for s in self.silences if s.silences(labels, now)), None)

    def inhibitor(self, labels: dict[str, str], active: list[dict[str, str]]) -> tuple[day13_Inhibition, dict] | None:
        """The rule and the active source alert that mute this one, if any (never itself)."""
        return day13_InhibitionIndex(self.inhibitions, active).find(labels)


class day13_InhibitionIndex:
    """Active source alerts per inhibition rule, keyed by the fields that must be equal: one lookup per alert
    instead of a scan of every active alert (a run can route tens of thousands)."""

    def __init__(self, rules: tuple[day13_Inhibition, ...], active: list[dict[str, str]]):
        self.rules = rules
        self.sources: list[dict[tuple, list[dict]]] = []
        for rule in rules:
            by_key: dict[tuple, list[dict]] = {}
            for labels in active:
                if all(m.matches(labels) for m in rule.source):
                    by_key.setdefault(tuple(labels.get(f) for f in rule.equal), []).append(labels)
            self.sources.append(by_key)

    def find(self, labels: dict[str, str]) -> tuple[day13_Inhibition, dict] | None:
        for rule, by_key in zip(self.rules, self.sources):
            if all(m.matches(labels) for m in rule.target):
                for source in by_key.get(tuple(labels.get(f) for f in rule.equal), []):
                    if source.get("fingerprint") != labels.get("fingerprint"):
                        return rule, source
        return None


def _matchers(items, where: str) -> tuple[day13_Matcher, ...]:
    if items is None:
        return ()
    if not isinstance(items, list):
        raise day13_RoutingError(f"{where}: matchers must be a list")
    return tuple(day13_parse_matcher(item, f"{where}[{n}]") for n, item in enumerate(items))


def _route(data: dict, parent: day13_Route | None, where: str, receivers: dict) -> day13_Route:
    if not isinstance(data, dict):
        raise day13_RoutingError(f"{where}: must be a mapping")
    inherit = (lambda key, default: data[key] if key in data else getattr(parent, key) if parent else default)
    receiver = data.get("receiver", parent.receiver if parent else None)
    if receiver not in receivers:
        raise day13_RoutingError(f"{where}.receiver: {receiver!r} is not a defined receiver")
    escalation = data.get("escalation_receiver", parent.escalation_receiver if parent else None)
    if escalation is not None and escalation not in receivers:
        raise day13_RoutingError(f"{where}.escalation_receiver: {escalation!r} is not a defined receiver")
    route = day13_Route(
        name=where, matchers=_matchers(data.get("matchers"), f"{where}.matchers"), receiver=receiver,
        group_by=tuple(data.get("group_by", parent.group_by if parent else ())),
        group_wait=day13_duration(data["group_wait"], f"{where}.group_wait")
        if "group_wait" in data else inherit("group_wait", timedelta(seconds=30)),
        group_interval=day13_duration(data["group_interval"], f"{where}.group_interval")
        if "group_interval" in data else inherit("group_interval", timedelta(minutes=5)),
        repeat_interval=day13_duration(data["repeat_interval"], f"{where}.repeat_interval")
        if "repeat_interval" in data else inherit("repeat_interval", timedelta(hours=4)),
        escalation_receiver=escalation, continue_=bool(data.get("continue", False)))
    route.routes = [_route(child, route, f"{where}.routes[{n}]", receivers) for n, child in enumerate(data.get("routes") or [])]
    return route


def _receivers(items) -> dict[str, dict]:
    if not isinstance(items, list) or not items:
        raise day13_RoutingError("receivers: must be a non-empty list")
    receivers = {}
    for n, item in enumerate(items):
        if not isinstance(item, dict) or not item.get("name"):
            raise day13_RoutingError(f"receivers[{n}]: needs a name")
        if not any(item.get(kind) for kind in DAY13_RECEIVER_KINDS):
            raise day13_RoutingError(f"receivers[{n}] ({item['name']}): needs one of {', '.join(DAY13_RECEIVER_KINDS)}")
        receivers[item["name"]] = item
    return receivers


def _timestamp(value, where: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise day13_RoutingError(f"{where}: {value!r} is not an ISO 8601 time") from None
    if parsed.tzinfo is None:
        raise day13_RoutingError(f"{where}: {value!r} needs a time zone (e.g. Z)")
    return parsed


def day13_parse_routing(text: str) -> day13_Routing:
    import yaml

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise day13_RoutingError(f"not valid YAML: {str(exc).splitlines()[0]}") from None
    if not isinstance(data, dict) or "route" not in data:
        raise day13_RoutingError("the file needs a top-level 'route'")
    receivers = _receivers(data.get("receivers"))
    inhibitions = []
    for n, rule in enumerate(data.get("inhibit_rules") or []):
        if not rule.get("equal"):
            raise day13_RoutingError(f"inhibit_rules[{n}].equal: name the fields that must be equal (e.g. [entity_id])")
        inhibitions.append(day13_Inhibition(_matchers(rule.get("source_matchers"), f"inhibit_rules[{n}].source_matchers"),
                                            _matchers(rule.get("target_matchers"), f"inhibit_rules[{n}].target_matchers"),
                                            tuple(rule["equal"])))
    silences = []
    for n, item in enumerate(data.get("silences") or []):
        for key in ("matchers", "ends_at", "created_by", "comment"):
            if not item.get(key):
                raise day13_RoutingError(f"silences[{n}].{key}: required (who silenced what, why, until when)")
        silences.append(day13_Silence(_matchers(item["matchers"], f"silences[{n}].matchers"),
                                      _timestamp(item.get("starts_at", "1970-01-01T00:00:00Z"), f"silences[{n}].starts_at"),
                                      _timestamp(item["ends_at"], f"silences[{n}].ends_at"), item["created_by"], item["comment"]))
    return day13_Routing(version=hashlib.sha256(text.encode()).hexdigest()[:12],
                         root=_route(data["route"], None, "route", receivers), receivers=receivers,
                         inhibitions=tuple(inhibitions), silences=tuple(silences),
                         max_alerts_per_message=int(data.get("max_alerts_per_message", 10)))
