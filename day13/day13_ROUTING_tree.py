"""Alertmanager-style routing: matchers, a route tree with `continue`, inhibition rules and silences.

Semantics follow Alertmanager: the root matches everything; children are tried in order, the first
matching child is descended into and, unless it says `continue: true`, its later siblings are not
tried; a route with no matching child is itself the match. Settings (receiver, group_by, timers,
escalation receiver) are inherited from the parent. Regex matchers are anchored at both ends.

The file is validated the way Alertmanager validates its configuration: an unknown key (a typo such
as `contiue`), a duplicate key or receiver, an invalid label name, a zero group/repeat interval,
matchers or `continue` on the root route are errors naming the key and its place; an Alertmanager setting
day13 does not have is refused by name. `match` and `match_re` are supported (as Alertmanager still does); a
`matchers` item is read as both of Alertmanager's matcher parsers read it, or refused (day13_MATCHERS_syntax);
regexes keep RE2's meaning; durations use Prometheus syntax (1h30m, 1w, 0; at most Go's 292 years);
group_by: ['...'] groups per alert; silences are validated as Alertmanager validates them.
"""
from __future__ import annotations

import difflib
import hashlib
import re
from dataclasses import dataclass, field
from functools import cached_property
from datetime import datetime, timedelta

from day13_MATCHERS_syntax import day13_compile_re2, day13_read_matchers, day13_SyntaxError

DAY13_LABEL_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
DAY13_DURATION = re.compile(r"(?:([0-9]+)y)?(?:([0-9]+)w)?(?:([0-9]+)d)?(?:([0-9]+)h)?(?:([0-9]+)m)?(?:([0-9]+)s)?(?:([0-9]+)ms)?\Z")
DAY13_MAX_DURATION = timedelta(microseconds=(2 ** 63 - 1) // 1000)  # Go's time.Duration: int64 nanoseconds, about 292 years
DAY13_DURATION_UNITS = ({"days": 365}, {"days": 7}, {"days": 1}, {"hours": 1}, {"minutes": 1}, {"seconds": 1},
                        {"milliseconds": 1})
DAY13_MAX_ROUTE_DEPTH = 32  # Alertmanager trees are a few levels deep; deeper is a YAML alias looping back
DAY13_RECEIVER_KINDS = {"slack_configs": "channel", "email_configs": "to", "ticket_configs": "queue"}
DAY13_KEYS = {
    "top": {"route", "receivers", "inhibit_rules", "silences", "max_alerts_per_message"},
    "route": {"receiver", "group_by", "group_wait", "group_interval", "repeat_interval", "escalation_receiver",
              "continue", "routes", "matchers", "match", "match_re"},
    "receiver": {"name", *DAY13_RECEIVER_KINDS},
    "inhibit": {"name", "source_matchers", "target_matchers", "equal", "source_match", "source_match_re", "target_match",
                "target_match_re"},
    "silence": {"matchers", "starts_at", "ends_at", "created_by", "comment"},
}
DAY13_AM_UNSUPPORTED = {"global", "templates", "time_intervals", "mute_time_intervals", "active_time_intervals", "tracing",
                        "webhook_configs", "pagerduty_configs", "opsgenie_configs", "sns_configs"}  # refused, never ignored


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
        return day13_compile_re2(self.value)

    def __str__(self) -> str:
        return f'{self.name}{self.op}"{self.value}"'


def day13_parse_matchers(text, where: str) -> tuple[day13_Matcher, ...]:
    """The matchers in one `matchers:` item ('a="b"', 'a="b", c=~"d.*"', '{a="b"}'), read as every Alertmanager
    reads them (see day13_MATCHERS_syntax); regexes compiled here, once."""
    if not isinstance(text, str):
        raise day13_RoutingError(f"{where}: {text!r} is not a matcher string")
    try:
        found = day13_read_matchers(text)
    except day13_SyntaxError as exc:
        raise day13_RoutingError(f"{where}: {text!r}: {exc}") from None
    matchers = []
    for name, op, value in found:
        if not DAY13_LABEL_NAME.match(name):
            raise day13_RoutingError(f"{where}: {name!r} is not a valid label name (letters, digits and _, not first a"
                                     " digit; day13 does not take Alertmanager's UTF-8 label names)")
        matchers.append(_matcher(name, op, value, where))
    return tuple(matchers)


def _matcher(name: str, op: str, value: str, where: str) -> day13_Matcher:
    matcher = day13_Matcher(name, op, value)
    if op in ("=~", "!~"):
        try:
            matcher.pattern
        except day13_SyntaxError as exc:
            raise day13_RoutingError(f"{where}: {exc}") from None
    return matcher


def day13_parse_matcher(text, where: str) -> day13_Matcher:
    """Exactly one matcher (Alertmanager's parse.Matcher)."""
    found = day13_parse_matchers(text, where)
    if len(found) != 1:
        raise day13_RoutingError(f"{where}: {text!r} holds {len(found)} matchers, expected exactly one")
    return found[0]


def day13_duration(value, where: str) -> timedelta:
    """Prometheus durations: units y w d h m s ms, largest first, each at most once; '0' alone is zero."""
    text = str(value) if isinstance(value, (str, int)) and not isinstance(value, bool) else ""
    found = DAY13_DURATION.match(text) if text and text != "0" else None
    if text == "0":
        return timedelta(0)
    if not found:
        raise day13_RoutingError(f"{where}: {value!r} is not a duration like 30s, 5m, 1h30m, 1w")
    total = timedelta(0)
    try:
        for amount, unit in zip(found.groups(), DAY13_DURATION_UNITS):
            if amount:
                total += timedelta(**{k: v * int(amount) for k, v in unit.items()})
    except OverflowError:
        total = DAY13_MAX_DURATION * 2
    if total > DAY13_MAX_DURATION:
        raise day13_RoutingError(f"{where}: {value!r} is longer than any timer can be (Alertmanager's limit: 292 years)")
    return total


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

    def group_key_labels(self, labels: dict[str, str]) -> tuple[str, ...]:
        """group_by: ['...'] is Alertmanager's "every label": one group per distinct alert."""
        return tuple(sorted(labels)) if "..." in self.group_by else self.group_by

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
    name: str = ""


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
        self._names = [tuple(sorted({m.name for m in (*rule.target, *rule.source)})) for rule in rules]
        self._memo: list[dict[tuple, tuple[bool, bool]]] = [{} for _ in rules]
        self.sources: list[dict[tuple, list[dict]]] = []
        for n, rule in enumerate(rules):
            by_key: dict[tuple, list[dict]] = {}
            for labels in active:
                if self._sides(n, rule, labels)[1]:
                    by_key.setdefault(tuple([labels.get(f, "") for f in rule.equal]), []).append(labels)
            self.sources.append(by_key)

    def _sides(self, n: int, rule: day13_Inhibition, labels: dict[str, str]) -> tuple[bool, bool]:
        """(matches the target side, matches the source side), remembered by the values those matchers read."""
        names = self._names[n]
        key = tuple([labels.get(name, "") for name in names])
        found = self._memo[n].get(key)
        if found is None:
            found = self._memo[n][key] = (all(m.matches(labels) for m in rule.target),
                                          all(m.matches(labels) for m in rule.source))
        return found

    def find(self, labels: dict[str, str]) -> tuple[day13_Inhibition, dict] | None:
        for n, (rule, by_key) in enumerate(zip(self.rules, self.sources)):
            is_target, two_sided = self._sides(n, rule, labels)
            if is_target:
                # Alertmanager: a target that also matches the source side is not muted by sources that also
                # match the target side (two such alerts would otherwise mute each other).
                for source in by_key.get(tuple(labels.get(f, "") for f in rule.equal), []):
                    if source.get("fingerprint") == labels.get("fingerprint"):
                        continue
                    if two_sided and all(m.matches(source) for m in rule.target):
                        continue
                    return rule, source
        return None


class day13_RouteMemo:
    """One run's routing and silencing decisions, remembered by the values of the labels the matchers read.

    A decision depends only on those values (and the run's instant, fixed here), so tens of thousands of
    alerts that share an alert type, severity and jurisdiction are matched against the tree once, not each."""

    def __init__(self, routing: day13_Routing, now: datetime):
        self.routing, self.now = routing, now
        names, stack = set(), [routing.root]
        while stack:
            route = stack.pop()
            names.update(m.name for m in route.matchers)
            stack.extend(route.routes)
        self._route_names = tuple(sorted(names))
        self._silence_names = tuple(sorted({m.name for s in routing.silences for m in s.matchers}))
        self._routes: dict[tuple, list[day13_Route]] = {}
        self._silences: dict[tuple, day13_Silence | None] = {}

    def routes(self, labels: dict[str, str]) -> list[day13_Route]:
        key = tuple([labels.get(name, "") for name in self._route_names])
        found = self._routes.get(key)
        if found is None:
            found = self._routes[key] = self.routing.root.match(labels)
        return found

    def silence(self, labels: dict[str, str]) -> day13_Silence | None:
        key = tuple([labels.get(name, "") for name in self._silence_names])
        if key not in self._silences:
            self._silences[key] = self.routing.silence_for(labels, self.now)
        return self._silences[key]


def _check_keys(data, kind: str, where: str) -> dict:
    if not isinstance(data, dict):
        raise day13_RoutingError(f"{where}: must be a mapping")
    for key in data:
        if key in DAY13_AM_UNSUPPORTED:
            raise day13_RoutingError(f"{where}: {key!r} is an Alertmanager setting day13 does not support (refused rather"
                                     " than ignored)")
        if key not in DAY13_KEYS[kind]:
            hint = difflib.get_close_matches(str(key), DAY13_KEYS[kind], n=1)
            raise day13_RoutingError(f"{where}: unknown key {key!r}" + (f" (did you mean {hint[0]!r}?)" if hint else ""))
    return data


def _label_names(items, where: str, allow_all: bool = False) -> tuple[str, ...]:
    if not isinstance(items, list):
        raise day13_RoutingError(f"{where}: must be a list of label names, got {type(items).__name__}")
    for n, name in enumerate(items):
        if not (isinstance(name, str) and (DAY13_LABEL_NAME.match(name) or (allow_all and name == "..."))):
            raise day13_RoutingError(f"{where}[{n}]: {name!r} is not a valid label name")
        if name in items[:n]:
            raise day13_RoutingError(f"{where}[{n}]: {name!r} is listed twice")
    if "..." in items and len(items) > 1:
        raise day13_RoutingError(f"{where}: '...' (every label) cannot be combined with other labels")
    return tuple(items)


def _matchers(items, where: str) -> tuple[day13_Matcher, ...]:
    if items is None:
        return ()
    if not isinstance(items, list):
        raise day13_RoutingError(f"{where}: matchers must be a list")
    return tuple(m for n, item in enumerate(items) for m in day13_parse_matchers(item, f"{where}[{n}]"))


def _match_maps(data: dict, equal_key: str, regex_key: str, where: str) -> tuple[day13_Matcher, ...]:
    """Alertmanager's older `match: {label: value}` and `match_re: {label: regex}` forms."""
    found = []
    for key, op in ((equal_key, "="), (regex_key, "=~")):
        items = data.get(key)
        if items is None:
            continue
        if not isinstance(items, dict):
            raise day13_RoutingError(f"{where}.{key}: must be a mapping of label: value")
        for name, value in items.items():
            if not isinstance(name, str) or not DAY13_LABEL_NAME.match(name):
                raise day13_RoutingError(f"{where}.{key}: {name!r} is not a valid label name")
            if not isinstance(value, str):
                raise day13_RoutingError(f"{where}.{key}.{name}: must be a string")
            found.append(_matcher(name, op, value, f"{where}.{key}.{name}"))
    return tuple(found)


def _route(data: dict, parent: day13_Route | None, where: str, receivers: dict) -> day13_Route:
    _check_keys(data, "route", where)
    if parent is None:
        for key in ("matchers", "match", "match_re", "continue"):
            if data.get(key):  # Alertmanager: an empty list or `continue: false` is allowed
                raise day13_RoutingError(f"{where}.{key}: the root route matches every alert and cannot have {key}")
    if where.count(".routes[") > DAY13_MAX_ROUTE_DEPTH:
        raise day13_RoutingError(f"{where}: routes nested deeper than {DAY13_MAX_ROUTE_DEPTH} levels (or a route that"
                                 " contains itself through a YAML alias)")
    receiver = data.get("receiver")
    receiver = parent.receiver if receiver in (None, "") and parent else receiver  # Alertmanager: empty inherits
    if not isinstance(receiver, str) or receiver not in receivers:
        raise day13_RoutingError(f"{where}.receiver: {receiver!r} is not a defined receiver")
    escalation = data.get("escalation_receiver", parent.escalation_receiver if parent else None)
    if escalation is not None and (not isinstance(escalation, str) or escalation not in receivers):
        raise day13_RoutingError(f"{where}.escalation_receiver: {escalation!r} is not a defined receiver")
    if not isinstance(data.get("continue", False), bool):
        raise day13_RoutingError(f"{where}.continue: must be true or false")
    timers = {}
    for key, default in (("group_wait", timedelta(seconds=30)), ("group_interval", timedelta(minutes=5)),
                         ("repeat_interval", timedelta(hours=4))):
        timers[key] = (day13_duration(data[key], f"{where}.{key}") if key in data
                       else getattr(parent, key) if parent else default)
        if key != "group_wait" and not timers[key]:
            raise day13_RoutingError(f"{where}.{key}: cannot be zero")
    group_by = (_label_names(data["group_by"], f"{where}.group_by", allow_all=True) if "group_by" in data
                else parent.group_by if parent else ())
    route = day13_Route(
        name=where, matchers=_match_maps(data, "match", "match_re", where) + _matchers(data.get("matchers"), f"{where}.matchers"),
        receiver=receiver, group_by=group_by, escalation_receiver=escalation, continue_=data.get("continue", False), **timers)
    children = data.get("routes") or []
    if not isinstance(children, list):
        raise day13_RoutingError(f"{where}.routes: must be a list")
    route.routes = [_route(child, route, f"{where}.routes[{n}]", receivers) for n, child in enumerate(children)]
    return route


def _receivers(items) -> dict[str, dict]:
    if not isinstance(items, list) or not items:
        raise day13_RoutingError("receivers: must be a non-empty list")
    receivers = {}
    for n, item in enumerate(items):
        _check_keys(item, "receiver", f"receivers[{n}]")
        name = item.get("name")
        if not isinstance(name, str) or not name:
            raise day13_RoutingError(f"receivers[{n}]: needs a name")
        if name in receivers:
            raise day13_RoutingError(f"receivers[{n}]: receiver {name!r} is defined twice")
        if not any(item.get(kind) for kind in DAY13_RECEIVER_KINDS):
            raise day13_RoutingError(f"receivers[{n}] ({name}): needs one of {', '.join(DAY13_RECEIVER_KINDS)}")
        for kind, key in DAY13_RECEIVER_KINDS.items():
            for m, config in enumerate(item.get(kind) or []):
                if not isinstance(config, dict) or set(config) != {key} or not isinstance(config[key], str):
                    raise day13_RoutingError(f"receivers[{n}].{kind}[{m}]: must be exactly {{{key}: <text>}}")
        receivers[name] = item
    return receivers


def _timestamp(value, where: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise day13_RoutingError(f"{where}: {value!r} is not an ISO 8601 time") from None
    if parsed.tzinfo is None:
        raise day13_RoutingError(f"{where}: {value!r} needs a time zone (e.g. Z)")
    return parsed


def day13_strict_yaml(text: str, error=day13_RoutingError):
    """yaml.safe_load, but a key given twice in one mapping is an error (PyYAML keeps the last silently)."""
    import yaml

    class Loader(yaml.SafeLoader):
        pass

    def mapping(loader, node, deep=False):
        keys = set()
        for key_node, _ in node.value:
            key = loader.construct_object(key_node, deep=deep)
            if key in keys:
                raise error(f"line {key_node.start_mark.line + 1}: key {key!r} appears twice")
            keys.add(key)
        return loader.construct_mapping(node, deep=deep)

    Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, mapping)
    try:
        return yaml.load(text, Loader=Loader)
    except yaml.YAMLError as exc:
        raise error(f"not valid YAML: {str(exc).splitlines()[0]}") from None


def _silence(item, where: str) -> day13_Silence:
    """Validated as Alertmanager validates a silence (silence.go validateSilence)."""
    _check_keys(item, "silence", where)
    for key in ("matchers", "starts_at", "ends_at", "created_by", "comment"):
        if not item.get(key):
            raise day13_RoutingError(f"{where}.{key}: required (who silenced what, why, from and until when)")
    for key in ("created_by", "comment"):
        if not isinstance(item[key], str):
            raise day13_RoutingError(f"{where}.{key}: must be text")
    matchers = _matchers(item["matchers"], f"{where}.matchers")
    if all(m.matches({}) for m in matchers):
        raise day13_RoutingError(f"{where}.matchers: at least one matcher must not match the empty string (otherwise"
                                 " the silence mutes every alert)")
    starts, ends = _timestamp(item["starts_at"], f"{where}.starts_at"), _timestamp(item["ends_at"], f"{where}.ends_at")
    if ends < starts:
        raise day13_RoutingError(f"{where}.ends_at: end time must not be before start time")
    return day13_Silence(matchers, starts, ends, item["created_by"], item["comment"])


def day13_parse_routing(text: str) -> day13_Routing:
    data = day13_strict_yaml(text)
    if not isinstance(data, dict) or "route" not in data:
        raise day13_RoutingError("the file needs a top-level 'route'")
    _check_keys(data, "top", "(top level)")
    receivers = _receivers(data.get("receivers"))
    inhibitions = []
    for n, rule in enumerate(data.get("inhibit_rules") or []):
        where = f"inhibit_rules[{n}]"
        _check_keys(rule, "inhibit", where)
        if not rule.get("equal"):
            raise day13_RoutingError(f"{where}.equal: name the fields that must be equal (e.g. [entity_id]); day13 refuses"
                                     " Alertmanager's rule without equal, which mutes targets for any source anywhere")
        if not isinstance(rule.get("name", ""), str):
            raise day13_RoutingError(f"{where}.name: must be text")
        inhibitions.append(day13_Inhibition(
            _match_maps(rule, "source_match", "source_match_re", where)
            + _matchers(rule.get("source_matchers"), f"{where}.source_matchers"),
            _match_maps(rule, "target_match", "target_match_re", where)
            + _matchers(rule.get("target_matchers"), f"{where}.target_matchers"),
            _label_names(rule["equal"], f"{where}.equal"), rule.get("name", "")))
    silences = tuple(_silence(item, f"silences[{n}]") for n, item in enumerate(data.get("silences") or []))
    limit = data.get("max_alerts_per_message", 10)
    if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
        raise day13_RoutingError(f"max_alerts_per_message: {limit!r} must be a whole number >= 1")
    return day13_Routing(version=hashlib.sha256(text.encode()).hexdigest()[:12],
                         root=_route(data["route"], None, "route", receivers), receivers=receivers,
                         inhibitions=tuple(inhibitions), silences=silences, max_alerts_per_message=limit)
