"""Alertmanager's public routing, inhibition, matcher and duration cases, re-expressed in day13's format.

Sources (prometheus/alertmanager, Apache-2.0): dispatch/route_test.go (TestRouteMatch, TestRouteMatchers,
TestInheritParentGroupByAll), inhibit/inhibit.go (hasEqual's two-sided exclusion), pkg/labels matcher
parsing, config validation (unknown keys, duplicate receivers, zero intervals, root route limits) and
Prometheus duration syntax. day13 adds a `receivers:` list and wraps the tree in `route:`.
"""
from datetime import timedelta

import pytest

from day13_ROUTING_tree import day13_duration, day13_parse_matcher, day13_parse_routing, day13_RoutingError

RECEIVERS = "\n".join(f"  - name: {name}\n    email_configs: [{{to: {name}@example.com}}]" for name in (
    "notify-def", "notify-A", "notify-testing", "notify-productionA", "notify-productionB", "notify-BC"))

ROUTE_MATCH = """
route:
  receiver: 'notify-def'
  routes:
  - match:
      owner: 'team-A'
    receiver: 'notify-A'
    routes:
    - match:
        env: 'testing'
      receiver: 'notify-testing'
      group_by: [...]
    - match:
        env: "production"
      receiver: 'notify-productionA'
      group_wait: 1m
      continue: true
    - match_re:
        env: "produ.*"
        job: ".*"
      receiver: 'notify-productionB'
      group_wait: 30s
      group_interval: 5m
      repeat_interval: 1h
      group_by: ['job']
  - match_re:
      owner: 'team-(B|C)'
    group_by: ['foo', 'bar']
    group_wait: 2m
    receiver: 'notify-BC'
  - match:
      group_by: 'role'
    group_by: ['role']
    routes:
    - match:
        env: 'testing'
      receiver: 'notify-testing'
      routes:
      - match:
          wait: 'long'
        group_wait: 2m
receivers:
""" + RECEIVERS

ROUTE_MATCHERS = """
route:
  receiver: 'notify-def'
  routes:
  - matchers: ['{owner="team-A"}', '{level!="critical"}']
    receiver: 'notify-A'
    routes:
    - matchers: ['{env="testing"}', '{baz!~".*quux"}']
      receiver: 'notify-testing'
      group_by: [...]
    - matchers: ['{env="production"}']
      receiver: 'notify-productionA'
      group_wait: 1m
      continue: true
    - matchers: [ env=~"produ.*", job=~".*"]
      receiver: 'notify-productionB'
      group_wait: 30s
      group_interval: 5m
      repeat_interval: 1h
      group_by: ['job']
  - matchers: [owner=~"team-(B|C)"]
    group_by: ['foo', 'bar']
    group_wait: 2m
    receiver: 'notify-BC'
  - matchers: [group_by="role"]
    group_by: ['role']
    routes:
    - matchers: ['{env="testing"}']
      receiver: 'notify-testing'
      routes:
      - matchers: [wait="long"]
        group_wait: 2m
receivers:
""" + RECEIVERS

S, M, H = timedelta(seconds=1), timedelta(minutes=1), timedelta(hours=1)
DEFAULT = ((), 30 * S, 5 * M, 4 * H)  # Alertmanager's DefaultRouteOpts: no group_by, 30s, 5m, 4h
# (labels, [(receiver, group_by, group_wait, group_interval, repeat_interval), ...]) from TestRouteMatch
ROUTE_CASES = [
    ({"owner": "team-A"}, [("notify-A", *DEFAULT)]),
    ({"owner": "team-A", "env": "unset"}, [("notify-A", *DEFAULT)]),
    ({"owner": "team-C"}, [("notify-BC", ("foo", "bar"), 2 * M, 5 * M, 4 * H)]),
    ({"owner": "team-A", "env": "testing"}, [("notify-testing", ("...",), 30 * S, 5 * M, 4 * H)]),
    ({"owner": "team-A", "env": "production"}, [("notify-productionA", (), 1 * M, 5 * M, 4 * H),
                                                ("notify-productionB", ("job",), 30 * S, 5 * M, 1 * H)]),
    ({"group_by": "role"}, [("notify-def", ("role",), 30 * S, 5 * M, 4 * H)]),
    ({"env": "testing", "group_by": "role"}, [("notify-testing", ("role",), 30 * S, 5 * M, 4 * H)]),
    ({"env": "testing", "group_by": "role", "wait": "long"}, [("notify-testing", ("role",), 2 * M, 5 * M, 4 * H)]),
]


@pytest.mark.parametrize("text", [ROUTE_MATCH, ROUTE_MATCHERS], ids=["match-and-match_re", "matchers"])
@pytest.mark.parametrize(("labels", "expected"), ROUTE_CASES, ids=[str(c[0]) for c in ROUTE_CASES])
def test_route_match(text, labels, expected):
    routes = day13_parse_routing(text).root.match(labels)
    assert [(r.receiver, r.group_by, r.group_wait, r.group_interval, r.repeat_interval) for r in routes] == expected


def test_group_by_all_is_inherited_and_groups_per_alert():
    routing = day13_parse_routing("""
route:
  receiver: r
  routes:
  - matchers: [env="parent"]
    group_by: ['...']
    routes:
    - matchers: [env="child1"]
    - matchers: [env="child2"]
      group_by: ['foo']
receivers: [{name: r, email_configs: [{to: r@example.com}]}]
""")
    parent = routing.root.routes[0]
    assert parent.group_by == ("...",) and parent.routes[0].group_by == ("...",) and parent.routes[1].group_by == ("foo",)
    labels = {"env": "child1", "a": "1"}
    assert parent.routes[0].group_key_labels(labels) == ("a", "env")  # every label: one group per distinct alert


INHIBIT = """
route: {receiver: r}
receivers: [{name: r, email_configs: [{to: r@example.com}]}]
inhibit_rules:
  - source_matchers: [s="1"]
    target_matchers: [t="1"]
    equal: [e]
"""


@pytest.mark.parametrize(("target", "active", "muted"), [
    ({"t": "1", "e": "x", "fingerprint": "T"}, [{"s": "1", "e": "x", "fingerprint": "S"}], True),
    ({"t": "1", "e": "x", "fingerprint": "T"}, [{"s": "1", "e": "y", "fingerprint": "S"}], False),  # equal differs
    ({"t": "1", "fingerprint": "T"}, [{"s": "1", "fingerprint": "S"}], True),  # absent on both sides counts as equal
    # both alerts match both sides: they do not mute each other (hasEqual's excludeTwoSidedMatch)
    ({"s": "1", "t": "1", "e": "x", "fingerprint": "A"}, [{"s": "1", "t": "1", "e": "x", "fingerprint": "B"}], False),
    # a two-sided target is still muted by a source that matches only the source side
    ({"s": "1", "t": "1", "e": "x", "fingerprint": "A"}, [{"s": "1", "e": "x", "fingerprint": "B"}], True),
    ({"t": "1", "e": "x", "fingerprint": "A"}, [{"s": "1", "t": "1", "e": "x", "fingerprint": "B"}], True),
    ({"t": "1", "e": "x", "fingerprint": "A"}, [{"t": "1", "e": "x", "fingerprint": "A"}], False),  # never itself
])
def test_inhibition(target, active, muted):
    assert (day13_parse_routing(INHIBIT).inhibitor(target, active) is not None) is muted


@pytest.mark.parametrize(("text", "name", "op", "value"), [
    ("foo=bar", "foo", "=", "bar"),
    ('foo="bar"', "foo", "=", "bar"),
    ("foo=~bar.*", "foo", "=~", "bar.*"),
    ('foo!~"bar.*"', "foo", "!~", "bar.*"),
    ("foo!=bar", "foo", "!=", "bar"),
    ('foo=""', "foo", "=", ""),
    ("foo=", "foo", "=", ""),
    ('foo="bar\\"baz"', "foo", "=", 'bar"baz'),
    ('foo="bar\\\\baz"', "foo", "=", "bar\\baz"),
    ('foo="bar\\nbaz"', "foo", "=", "bar\nbaz"),
    ('{foo="bar"}', "foo", "=", "bar"),
    ('foo = "bar baz"', "foo", "=", "bar baz"),
    ('foo="bar,baz"', "foo", "=", "bar,baz"),
])
def test_matcher_parsing(text, name, op, value):
    matcher = day13_parse_matcher(text, "t")
    assert (matcher.name, matcher.op, matcher.value) == (name, op, value)


def test_an_escaped_quote_matches_the_decoded_value():
    assert day13_parse_matcher('title="say \\"hi\\""', "t").matches({"title": 'say "hi"'})


@pytest.mark.parametrize(("text", "error"), [
    ('foo="bar', "unbalanced quotes"),
    ('foo=bar"', "unquoted value"),
    ("a=b,c!=d", "one matcher per item"),
    ("1foo=bar", "not a valid label name"),
    ("foo~bar", "is not a matcher"),
    ('foo="\\q"', "unknown escape"),
    ("foo=~(", "bad regex"),
])
def test_matcher_errors(text, error):
    with pytest.raises(day13_RoutingError, match=error):
        day13_parse_matcher(text, "t")


@pytest.mark.parametrize(("text", "value"), [
    ("0", timedelta(0)), (0, timedelta(0)), ("30s", 30 * S), ("1h30m", 90 * M), ("1w", timedelta(days=7)),
    ("1y", timedelta(days=365)), ("1d2h3m4s5ms", timedelta(days=1, hours=2, minutes=3, seconds=4, milliseconds=5)),
])
def test_durations(text, value):
    assert day13_duration(text, "t") == value


@pytest.mark.parametrize("text", ["1.5h", "30", "h", "", "1m1h", "-1s", "1 h", True])
def test_bad_durations(text):
    with pytest.raises(day13_RoutingError, match="is not a duration"):
        day13_duration(text, "t")


BASE = "route:\n  receiver: r\n{route}receivers:\n  - name: r\n    email_configs: [{{to: r@example.com}}]\n{more}"


@pytest.mark.parametrize(("route", "more", "error"), [
    ("  routes:\n  - matchers: [a=\"b\"]\n    contiue: true\n", "", "route.routes[0]: unknown key 'contiue' (did you mean 'continue'?)"),
    ("  matchers: [a=\"b\"]\n", "", "route.matchers: the root route matches every alert"),
    ("  continue: true\n", "", "route.continue: the root route"),
    ("  match: {severity: critical}\n", "", "route.match: the root route"),
    ("", "  - name: r\n    email_configs: [{to: x@example.com}]\n", "receiver 'r' is defined twice"),
    ("  group_by: alert_type\n", "", "route.group_by: must be a list"),
    ("  group_by: [a, a]\n", "", "route.group_by[1]: 'a' is listed twice"),
    ("  group_by: [a-b]\n", "", "route.group_by[0]: 'a-b' is not a valid label name"),
    ("  group_by: ['...', a]\n", "", "cannot be combined"),
    ("  group_interval: 0s\n", "", "route.group_interval: cannot be zero"),
    ("  repeat_interval: 0\n", "", "route.repeat_interval: cannot be zero"),
    ("  receiver: r\n", "", "key 'receiver' appears twice"),
    ("  routes:\n  - match_re: {a: '('}\n", "", "bad regex"),
    ("", "inhibit_rules:\n  - source_matchers: [a=\"b\"]\n    target_matchers: [c=\"d\"]\n    equal: [e]\n    equals: [f]\n",
     "inhibit_rules[0]: unknown key 'equals'"),
    ("", "templates: []\n", "(top level): unknown key 'templates'"),
])
def test_config_validation(route, more, error):
    with pytest.raises(day13_RoutingError) as caught:
        day13_parse_routing(BASE.format(route=route, more=more))
    assert error in str(caught.value)


def test_match_routes_by_label_not_to_everything():
    routing = day13_parse_routing("""
route:
  receiver: default
  routes:
  - match: {severity: critical}
    receiver: pager
receivers:
  - {name: default, email_configs: [{to: d@example.com}]}
  - {name: pager, ticket_configs: [{queue: PAGE}]}
""")
    assert [r.receiver for r in routing.root.match({"severity": "warning"})] == ["default"]
    assert [r.receiver for r in routing.root.match({"severity": "critical"})] == ["pager"]


@pytest.mark.parametrize(("change", "error"), [
    (("sla_minutes:", "sla_minute:"), "unknown key 'sla_minute' (did you mean 'sla_minutes'?)"),
    (("base_severity:", "base_severity: {}\nbase_severity:"), "key 'base_severity' appears twice"),
])
def test_the_rules_file_refuses_unknown_and_duplicate_keys(change, error):
    from day13_CONFIG_settings import DAY13_DIR
    from day13_RULES_classify import day13_parse_rules, day13_RulesError

    text = (DAY13_DIR / "day13_rules.yaml").read_text().replace(*change, 1)
    with pytest.raises(day13_RulesError) as caught:
        day13_parse_rules(text)
    assert error in str(caught.value)


SILENCE = """
route: {receiver: r}
receivers: [{name: r, email_configs: [{to: r@example.com}]}]
silences:
  - matchers: [job="test", instance=~"inst.*", dc!="eu"]
    starts_at: "2026-11-01T00:00:00Z"
    ends_at: "2026-12-01T00:00:00Z"
    created_by: ops
    comment: maintenance
"""


@pytest.mark.parametrize(("labels", "when", "silenced"), [
    ({"job": "test", "instance": "inst1"}, "2026-11-15T00:00:00+00:00", True),  # every matcher matches, window open
    ({"job": "test", "instance": "inst1", "dc": "eu"}, "2026-11-15T00:00:00+00:00", False),  # one matcher fails
    ({"job": "test", "instance": "other"}, "2026-11-15T00:00:00+00:00", False),  # anchored regex
    ({"job": "test", "instance": "inst1"}, "2026-10-31T23:59:59+00:00", False),  # before startsAt
    ({"job": "test", "instance": "inst1"}, "2026-12-01T00:00:00+00:00", False),  # endsAt is exclusive
])
def test_silence_matching(labels, when, silenced):
    from datetime import datetime

    assert (day13_parse_routing(SILENCE).silence_for(labels, datetime.fromisoformat(when)) is not None) is silenced
