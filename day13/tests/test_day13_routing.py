"""Routing: the cases file, matchers, continue, inhibition, silences, config validation, route-test."""
from datetime import datetime, timezone
from pathlib import Path

import pytest
import yaml

from day13_CONFIG_settings import DAY13_DIR
from day13_ROUTING_tree import (day13_InhibitionIndex, day13_parse_matcher, day13_parse_routing, day13_RouteMemo,
                               day13_RoutingError)

ROUTING = day13_parse_routing((DAY13_DIR / "day13_routing.yaml").read_text())
CASES = yaml.safe_load((Path(__file__).parent / "day13_routing_cases.yaml").read_text())


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c['labels']['alert_type']}-{c['labels']['severity']}")
def test_routing_cases(case):
    assert [route.receiver for route in ROUTING.root.match(case["labels"])] == case["receivers"]


def test_remembered_decisions_agree_with_the_tree(monkeypatch):
    """The route stage matches each distinct combination of the labels the matchers read once per run."""
    now = datetime(2026, 12, 1, tzinfo=timezone.utc)
    memo = day13_RouteMemo(ROUTING, now)
    alerts = [{**case["labels"], "entity_id": f"ENT-{n}", "fingerprint": f"f{n}", "jurisdiction": j}
              for n, case in enumerate(CASES) for j in ("SG", "GB", "")]
    alerts.append({"alert_type": "kyc_expiry", "severity": "Low", "jurisdiction": "SG"})  # silenced
    for labels in alerts:
        assert memo.routes(labels) == ROUTING.root.match(labels)
        assert memo.silence(labels) == ROUTING.silence_for(labels, now)
    calls = []
    monkeypatch.setattr(type(ROUTING.root), "match", lambda self, labels: calls.append(1) or [self])
    again = day13_RouteMemo(ROUTING, now)
    for labels in alerts * 3:
        again.routes(labels)
    assert len(calls) == len({(a["alert_type"], a["severity"]) for a in alerts})  # the routes read only these


def test_one_inhibition_index_for_a_whole_run_agrees_with_a_fresh_one_per_alert():
    alerts = [{"severity": s, "entity_id": f"ENT-{n % 3}", "fingerprint": f"{s}-{n}"}
              for n in range(6) for s in ("Critical", "High", "Medium", "Low")]
    index = day13_InhibitionIndex(ROUTING.inhibitions, alerts)
    decisions = [index.find(labels) for labels in alerts]
    assert decisions == [day13_InhibitionIndex(ROUTING.inhibitions, alerts).find(labels) for labels in alerts]
    assert sum(d is not None for d in decisions) == 12  # every Medium and Low, muted by its entity's Critical


@pytest.mark.parametrize(("text", "labels", "result"), [
    ('severity = "Critical"', {"severity": "Critical"}, True),
    ('severity != "Critical"', {"severity": "Critical"}, False),
    ('alert_type =~ "aml_.*"', {"alert_type": "aml_structuring"}, True),
    ('alert_type =~ "aml"', {"alert_type": "aml_structuring"}, False),  # anchored, as in Alertmanager
    ('alert_type !~ "trade_.*"', {"alert_type": "aml_structuring"}, True),
    ('jurisdiction = ""', {}, True),                                     # a missing label is the empty string
])
def test_matchers(text, labels, result):
    assert day13_parse_matcher(text, "t").matches(labels) is result


def test_child_routes_inherit_settings():
    sanctions = ROUTING.root.routes[0]
    assert sanctions.group_by == ("alert_type", "severity") and sanctions.repeat_interval.total_seconds() == 3600
    assert ROUTING.root.routes[1].escalation_receiver == "compliance-duty-ticket"


def test_inhibition_needs_the_equal_fields_to_match():
    critical = {"severity": "Critical", "entity_id": "ENT-1", "fingerprint": "a"}
    same_entity = {"severity": "Low", "entity_id": "ENT-1", "fingerprint": "b"}
    other_entity = {"severity": "Low", "entity_id": "ENT-2", "fingerprint": "c"}
    high = {"severity": "High", "entity_id": "ENT-1", "fingerprint": "d"}
    assert ROUTING.inhibitor(same_entity, [critical]) is not None
    assert ROUTING.inhibitor(other_entity, [critical]) is None
    assert ROUTING.inhibitor(high, [critical]) is None  # only Medium and Low are muted


def test_silences_apply_only_while_active():
    labels = {"alert_type": "kyc_expiry", "jurisdiction": "SG"}
    assert ROUTING.silence_for(labels, datetime(2026, 12, 1, tzinfo=timezone.utc)).created_by == "jane.doe"
    assert ROUTING.silence_for(labels, datetime(2027, 2, 1, tzinfo=timezone.utc)) is None  # expired
    assert ROUTING.silence_for({**labels, "jurisdiction": "GB"}, datetime(2026, 12, 1, tzinfo=timezone.utc)) is None


@pytest.mark.parametrize(("change", "message"), [
    (("equal: [entity_id]", "equal: []"), "name the fields that must be equal"),
    (("receiver: aml-slack", "receiver: nobody"), "'nobody' is not a defined receiver"),
    (("'alert_type = \"kyc_expiry\"'", "'alert_type ~ kyc'"), "is not a matcher"),
    (("repeat_interval: 4h", "repeat_interval: four hours"), "is not a duration"),
    (("    comment: \"KYC refresh", "    note: \"KYC refresh"), "silences[0]: unknown key 'note'"),
    (("    created_by: jane.doe\n", ""), "silences[0].created_by: required"),
    (("route:", "rout:"), "top-level 'route'"),
])
def test_a_bad_routing_file_is_rejected_with_the_place_named(change, message):
    text = (DAY13_DIR / "day13_routing.yaml").read_text().replace(*change, 1)
    with pytest.raises(day13_RoutingError, match=message.replace("[", r"\[").replace("(", r"\(")):
        day13_parse_routing(text)


def test_route_test_command_prints_receivers_silence_and_inhibition(settings, run, drop, make_alert, capsys, clock):
    from day13_COMMANDS_cli import day13_command_route_test

    drop("critical.json", [make_alert(1, alert_type="sanctions_hit", match_score="99", entity_id="ENT-9")])
    run()
    assert day13_command_route_test(settings, ["alert_type=sanctions_hit", "severity=Low", "entity_id=ENT-9"], now=clock()) == 0
    out = capsys.readouterr().out
    assert "receiver sanctions-slack" in out and "silenced:  no" in out
    assert "inhibited: yes, by Critical alert" in out and "(equal entity_id)" in out


def test_route_test_names_an_inhibiting_alert_that_lacks_the_printed_labels(settings, db, tmp_path, capsys, clock):
    from day13_COMMANDS_cli import day13_command_route_test

    routing = tmp_path / "routing.yaml"
    routing.write_text("""
route: {receiver: r}
receivers: [{name: r, email_configs: [{to: r@example.com}]}]
inhibit_rules:
  - source_matchers: [alert_type="sanctions_hit"]
    target_matchers: [severity="Low"]
    equal: [entity_id]
""")
    now = clock().isoformat()
    db.execute("INSERT INTO day13_alerts (fingerprint, alert_type, entity_id, severity, rationale, labels, count, created_at,"
               " first_seen, last_seen, triaged_at, sla_minutes, rules_version) VALUES ('old', 'sanctions_hit', 'E', 'High',"
               " '', ?, 1, ?, ?, ?, ?, 60, 'v')", ('{"alert_type": "sanctions_hit", "entity_id": "E"}', now, now, now, now))
    assert day13_command_route_test(settings.model_copy(update={"routing_path": routing}),
                                    ["severity=Low", "entity_id=E"], now=clock()) == 0
    assert "inhibited: yes, by ? alert ? (equal entity_id)" in capsys.readouterr().out
