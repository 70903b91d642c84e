"""Compliance alerts on three channels; duplicates share identity; malformed inputs really are broken."""
import csv
import email
import email.policy
import io
import json

import pytest

from shared_synthetic_data import compliance

IDENTITY = ("alert_type", "entity_id", "account_id", "customer_id", "amount", "currency", "jurisdiction")


def _alerts(dataset):
    """Every well-formed alert on every channel, parsed the way an ingester would."""
    alerts = []
    for name, content in sorted(dataset.files.items()):
        if "malformed" in name:
            continue
        if name.endswith(".jsonl"):
            alerts += [json.loads(line) for line in content.decode().splitlines()]
        elif name.endswith(".json"):
            alerts += json.loads(content)
        elif name.endswith(".csv"):
            alerts += list(csv.DictReader(io.StringIO(content.decode("utf-8"))))
        elif name.endswith(".eml"):
            msg = email.message_from_bytes(content, policy=email.policy.default)
            assert msg["Message-ID"] and msg["Date"] and not msg.defects
            body = msg.get_body().get_content()
            alerts.append(dict(line.split(": ", 1) if ": " in line else (line.rstrip(":"), "")
                               for line in body.splitlines()))
    return alerts


def test_clean_alerts_arrive_on_every_channel_with_all_fields():
    dataset = compliance.generate(size=400)
    alerts = _alerts(dataset)
    assert len(alerts) == 400 == len({a["alert_id"] for a in alerts})
    assert all(set(compliance.ALERT_FIELDS) <= set(a) for a in alerts)
    assert {a["alert_type"] for a in alerts} == set(compliance.ALERT_TYPES)
    names = sorted(dataset.files)
    assert "compliance/api_payloads.jsonl" in names
    assert any(n.endswith(".csv") for n in names) and any(n.endswith(".json") for n in names)
    assert sum(n.endswith(".eml") for n in names) == 100


def test_screening_hits_carry_a_match_score_and_others_do_not():
    for alert in _alerts(compliance.generate(size=200)):
        scored = compliance.ALERT_TYPES[alert["alert_type"]][2]
        assert (alert["match_score"] not in (None, "")) == scored


def test_duplicates_are_resent_with_new_ids_and_the_same_identity():
    dataset = compliance.generate(size=400, defects="duplicates")
    alerts = _alerts(dataset)
    by_id = {a["alert_id"]: a for a in alerts}
    assert len(alerts) == 400 + len(dataset.injected["duplicates"])
    for original_id in dataset.injected["duplicates"]:
        copies = [a for a in alerts if a["alert_id"].startswith(original_id + "-R")]
        assert len(copies) == 1
        assert all(str(copies[0][k]) == str(by_id[original_id][k]) for k in IDENTITY)
        assert copies[0]["created_at"] > by_id[original_id]["created_at"]


def test_malformed_inputs_fail_the_way_their_label_says():
    dataset = compliance.generate(size=40, defects="malformed")
    lines = dataset.text("compliance/api_payloads.jsonl").splitlines()
    with pytest.raises(json.JSONDecodeError):
        json.loads(lines[-5])
    wrong_types, missing, bad_date, huge = (json.loads(line) for line in lines[-4:])
    assert wrong_types["amount"] == "a lot"
    assert "alert_type" not in missing
    assert bad_date["created_at"].startswith("2026-13-45")
    assert len(huge["description"]) == compliance.HUGE_FIELD_CHARS
    with pytest.raises(json.JSONDecodeError):
        json.loads(dataset.files["compliance/drop/malformed_truncated.json"])
    with pytest.raises(UnicodeDecodeError):
        dataset.files["compliance/drop/malformed_latin1.csv"].decode("utf-8")
    header = dataset.text("compliance/drop/malformed_missing_column.csv").splitlines()[0].split(",")
    assert "created_at" not in header
    no_id = email.message_from_bytes(dataset.files["compliance/inbox/malformed_no_message_id.eml"])
    no_date = email.message_from_bytes(dataset.files["compliance/inbox/malformed_no_date.eml"])
    assert no_id["Message-ID"] is None and no_date["Date"] is None and no_date["From"] is None
    assert len(dataset.injected["malformed"]) == 10
