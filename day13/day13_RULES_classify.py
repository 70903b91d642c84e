"""Severity classification from day13_rules.yaml: configuration, not code.

A rules file that does not load is rejected with a message naming the key, and the caller keeps the
previous version in force (see day13_RUNTIME_wiring.py). Each classification returns its rationale.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from decimal import Decimal

DAY13_SEVERITIES = ("Low", "Medium", "High", "Critical")
DAY13_RANK = {name: rank for rank, name in enumerate(DAY13_SEVERITIES)}
DAY13_RULE_KEYS = ("severities", "base_severity", "default_severity", "amount_thresholds_usd", "fx_to_usd", "match_score",
                   "high_risk_jurisdictions", "high_risk_bump", "repeat", "sla_minutes")


class day13_RulesError(ValueError):
    """The rules file is unusable; the message names the key."""


@dataclass(frozen=True)
class day13_Rules:
    version: str
    base: dict[str, str]
    default: str
    amounts: tuple[tuple[Decimal, str], ...]
    fx: dict[str, Decimal]
    score_types: frozenset[str]
    scores: tuple[tuple[int, str], ...]
    high_risk: frozenset[str]
    high_risk_bump: int
    repeat_min: int
    repeat_bump: int
    sla_minutes: dict[str, int]


def _severity(value, where: str) -> str:
    if value not in DAY13_SEVERITIES:
        raise day13_RulesError(f"{where}: {value!r} is not one of {', '.join(DAY13_SEVERITIES)}")
    return value


def _section(data: dict, key: str, kind):
    if not isinstance(data.get(key), kind):
        raise day13_RulesError(f"{key}: missing or not a {kind.__name__}")
    return data[key]


def _whole(value, where: str, low: int, high: int) -> int:
    """A whole number in [low, high]: never a bool, a float or a value that would overflow a timedelta later."""
    if type(value) is not int or not low <= value <= high:
        raise day13_RulesError(f"{where}: {value!r} must be a whole number from {low} to {high:,}")
    return value


def _rate(value, where: str, zero_ok: bool = False) -> Decimal:
    try:
        rate = Decimal(str(value))
    except ArithmeticError:
        raise day13_RulesError(f"{where}: {value!r} is not a number") from None
    if isinstance(value, bool) or not rate.is_finite() or rate < 0 or (rate == 0 and not zero_ok):
        raise day13_RulesError(f"{where}: {value!r} must be a finite number {'>= 0' if zero_ok else 'above 0'}")
    return rate


def _keys(data, allowed: tuple[str, ...], where: str, required: tuple[str, ...] = ()) -> dict:
    """A mapping with only the allowed keys (a typo is named, with the key it was probably meant to be)."""
    import difflib

    if not isinstance(data, dict):
        raise day13_RulesError(f"{where}: must be a mapping, got {type(data).__name__}")
    for key in data:
        if key not in allowed:
            hint = difflib.get_close_matches(str(key), allowed, n=1)
            raise day13_RulesError(f"{where}: unknown key {key!r}" + (f" (did you mean {hint[0]!r}?)" if hint else ""))
    for key in required:
        if key not in data:
            raise day13_RulesError(f"{where}.{key}: required")
    return data


def _thresholds(items, where: str, minimum) -> tuple:
    """[{min, severity}, ...] highest first; a min given twice is an error (which severity would it be?)."""
    if not isinstance(items, list):
        raise day13_RulesError(f"{where}: must be a list of {{min, severity}}")
    found = {}
    for n, item in enumerate(items):
        _keys(item, ("min", "severity"), f"{where}[{n}]", required=("min", "severity"))
        value = minimum(item["min"], f"{where}[{n}].min")
        if value in found:
            raise day13_RulesError(f"{where}[{n}].min: {item['min']!r} is listed twice")
        found[value] = _severity(item["severity"], f"{where}[{n}].severity")
    return tuple(sorted(found.items(), reverse=True))


def _names(value, where: str, shape: tuple[int, str] | None = None) -> frozenset[str]:
    """A list of names, each once; with a shape (length, what), capital-letter codes as alerts carry them."""
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise day13_RulesError(f"{where}: must be a list of names, got {value!r}")
    for n, name in enumerate(value):
        if shape and not _code(name, shape[0]):
            raise day13_RulesError(f"{where}[{n}]: {name!r} is not an {shape[1]} (capital letters, as alerts carry it)")
        if name in value[:n]:
            raise day13_RulesError(f"{where}[{n}]: {name!r} is listed twice")
    return frozenset(value)


def _code(name, length: int) -> bool:
    return isinstance(name, str) and len(name) == length and name.isascii() and name.isalpha() and name.isupper()


def day13_parse_rules(text: str) -> day13_Rules:
    import difflib

    from day13_ROUTING_tree import day13_strict_yaml

    data = day13_strict_yaml(text, day13_RulesError)
    if not isinstance(data, dict):
        raise day13_RulesError("the file must be a mapping of rule sections")
    for key in data:
        if key not in DAY13_RULE_KEYS:
            hint = difflib.get_close_matches(str(key), DAY13_RULE_KEYS, n=1)
            raise day13_RulesError(f"unknown key {key!r}" + (f" (did you mean {hint[0]!r}?)" if hint else ""))
    if "severities" in data and data["severities"] != list(DAY13_SEVERITIES):
        raise day13_RulesError(f"severities: must be exactly [{', '.join(DAY13_SEVERITIES)}] (the levels are fixed in the"
                               f" code), got {data['severities']!r}")
    base = {t: _severity(s, f"base_severity.{t}") for t, s in _section(data, "base_severity", dict).items()}
    try:
        amounts = _thresholds(_section(data, "amount_thresholds_usd", list), "amount_thresholds_usd",
                              lambda v, where: _rate(v, where, zero_ok=True))
        fx = {c: _rate(v, f"fx_to_usd.{c}") for c, v in _section(data, "fx_to_usd", dict).items()}
        bad_code = next((c for c in fx if not _code(c, 3)), None)
        if bad_code is not None:
            raise day13_RulesError(f"fx_to_usd.{bad_code}: not an ISO 4217 code (3 capital letters, as alerts carry it)")
        score = _keys(_section(data, "match_score", dict), ("applies_to", "thresholds"), "match_score",
                      required=("applies_to", "thresholds"))
        scores = _thresholds(score["thresholds"], "match_score.thresholds", lambda v, where: _whole(v, where, 0, 100))
        repeat = _keys(_section(data, "repeat", dict), ("min_count", "bump"), "repeat", required=("min_count", "bump"))
        sla = {_severity(s, "sla_minutes"): _whole(m, f"sla_minutes.{s}", 1, 525_600)  # a year: beyond is a typo
               for s, m in _section(data, "sla_minutes", dict).items()}
        rules = day13_Rules(
            version=hashlib.sha256(text.encode()).hexdigest()[:12], base=base,
            default=_severity(data.get("default_severity", "High"), "default_severity"), amounts=amounts, fx=fx,
            score_types=_names(score["applies_to"], "match_score.applies_to"), scores=scores,
            high_risk=_names(_section(data, "high_risk_jurisdictions", list), "high_risk_jurisdictions",
                             (2, "ISO 3166 two-letter code")),
            high_risk_bump=_whole(data.get("high_risk_bump", 1), "high_risk_bump", 0, len(DAY13_SEVERITIES) - 1),
            repeat_min=_whole(repeat["min_count"], "repeat.min_count", 2, 1_000_000),
            repeat_bump=_whole(repeat["bump"], "repeat.bump", 0, len(DAY13_SEVERITIES) - 1), sla_minutes=sla)
    except (KeyError, TypeError, ValueError, ArithmeticError) as exc:
        if isinstance(exc, day13_RulesError):
            raise
        raise day13_RulesError(f"malformed rule: {type(exc).__name__} {exc}") from None
    missing = set(DAY13_SEVERITIES) - set(sla)
    if missing:
        raise day13_RulesError(f"sla_minutes: no SLA for {', '.join(sorted(missing))}")
    return rules


def _bump(severity: str, levels: int) -> str:
    return DAY13_SEVERITIES[min(len(DAY13_SEVERITIES) - 1, DAY13_RANK[severity] + levels)]


def _at_least(current: str, candidate: str) -> str:
    return candidate if DAY13_RANK[candidate] > DAY13_RANK[current] else current


def day13_classify(alert, repeat_count: int, rules: day13_Rules) -> tuple[str, list[str]]:
    """(severity, rationale lines) for a normalised alert seen repeat_count times."""
    severity = rules.base.get(alert.alert_type)
    why = [f"base {severity} for {alert.alert_type}" if severity else f"unknown type {alert.alert_type}: default {rules.default}"]
    severity = severity or rules.default
    if alert.amount is not None and alert.currency in rules.fx:
        usd = alert.amount * rules.fx[alert.currency]
        for minimum, level in rules.amounts:
            if usd >= minimum:
                if DAY13_RANK[level] > DAY13_RANK[severity]:
                    why.append(f"amount {usd:,.0f} USD >= {minimum:,.0f}: {level}")
                severity = _at_least(severity, level)
                break
    elif alert.amount is not None:
        why.append(f"no FX rate for {alert.currency}: amount not assessed")
    if alert.alert_type in rules.score_types and alert.match_score is not None:
        for minimum, level in rules.scores:
            if alert.match_score >= minimum:
                if DAY13_RANK[level] > DAY13_RANK[severity]:
                    why.append(f"match score {alert.match_score} >= {minimum}: {level}")
                severity = _at_least(severity, level)
                break
    if alert.jurisdiction in rules.high_risk:
        severity = _bump(severity, rules.high_risk_bump)
        why.append(f"high-risk jurisdiction {alert.jurisdiction}: +{rules.high_risk_bump} to {severity}")
    if repeat_count >= rules.repeat_min:
        severity = _bump(severity, rules.repeat_bump)
        why.append(f"seen {repeat_count} times (>= {rules.repeat_min}): +{rules.repeat_bump} to {severity}")
    return severity, why
