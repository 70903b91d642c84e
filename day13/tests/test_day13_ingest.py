"""Every source, every kind of malformed input: stored or quarantined with a reason and an audit row."""
import json

import pytest

from day13_API_alerts import day13_create_api
from shared_synthetic_data import compliance


def _audit(db, action):
    return db.execute("SELECT * FROM day13_audit WHERE action = ?", (action,)).fetchall()


def test_json_csv_and_eml_files_are_ingested_and_moved_after_commit(settings, run, db, drop, make_alert):
    drop("a.json", [make_alert(1), make_alert(2, entity_id="ENT-2")])
    drop("b.csv", ("alert_id,alert_type,entity_id,account_id,customer_id,amount,currency,jurisdiction,match_score,created_at\n"
                   "C-1,trade_wash,ENT-3,ACC-3,CUS-3,50000,EUR,DE,,2026-11-22T09:00:00Z\n").encode())
    settings.inbox_dir.mkdir(parents=True)
    sample = compliance.build(size=4)[0]["email"][0]
    (settings.inbox_dir / "m.eml").write_bytes(compliance.eml_bytes({**sample, "created_at": "2026-11-22T09:30:00Z"}))
    summary = run()
    assert (summary.received, summary.new_alerts, summary.quarantined) == (4, 4, 0)
    assert sorted(p.name for p in (settings.drop_dir / "processed").iterdir()) == ["a.json", "b.csv"]
    assert [p.name for p in (settings.inbox_dir / "processed").iterdir()] == ["m.eml"]
    email_row = db.execute("SELECT source_id FROM day13_received WHERE source = 'email'").fetchone()
    assert email_row["source_id"] == f"{sample['alert_id']}@{sample['source_system']}.example"  # the Message-ID


@pytest.mark.parametrize(("record", "reason"), [
    ({"alert_type": None}, "alert_type: is required"),
    ({"amount": "a lot"}, "amount: 'a lot' is not a number"),
    ({"amount": "-5"}, "amount: must be a finite amount >= 0"),
    ({"created_at": "2026-13-45T25:61:00Z"}, "created_at: '2026-13-45T25:61:00Z' is not an ISO 8601 time"),
    ({"created_at": "2026-11-22 10:00"}, "created_at: needs a time zone"),
    ({"created_at": "2031-01-01T00:00:00Z"}, "created_at: 2031-01-01T00:00:00Z is in the future"),
    ({"match_score": "high"}, "match_score: 'high' is not a whole number"),
    ({"match_score": "140"}, "match_score: must be between 0 and 100"),
    ({"currency": "DOLLARS"}, "currency: 'DOLLARS' is not an ISO 4217 code"),
    ({"description": "x" * 20_000}, "description: is 20,000 characters (limit 10,000)"),
    ({"entity_id": "E" * 201}, "entity_id: is 201 characters (limit 200)"),
    ({"entity_id": {"nested": 1}}, "entity_id: must be text, got dict"),
])
def test_a_malformed_record_is_quarantined_with_its_reason_and_the_rest_of_the_file_goes_on(run, db, drop, make_alert, record, reason):
    drop("mixed.json", [make_alert(1), make_alert(2, **record)])
    summary = run()
    assert (summary.new_alerts, summary.quarantined) == (1, 1)
    (row,) = db.execute("SELECT item, reason FROM day13_quarantine").fetchall()
    assert row["item"] == "mixed.json#2" and row["reason"].startswith(reason)
    assert _audit(db, "quarantined")[0]["rationale"] == row["reason"]


@pytest.mark.parametrize(("name", "content", "reason"), [
    ("cut.json", b'[{"alert_id": "A-1", "alert_', "truncated or invalid JSON"),
    ("latin1.csv", "alert_id,alert_type,entity_id,created_at\nA,aml,E,2026-11-22T10:00:00Z Zürich\n".encode("latin-1"), "not UTF-8"),
    ("columns.csv", b"alert_id,alert_type\nA,aml\n", "missing column(s) entity_id, created_at"),
    ("notes.txt", b"hello", "unsupported file type"),
])
def test_an_unreadable_file_is_quarantined_whole_and_never_stops_the_run(settings, run, db, drop, make_alert, name, content, reason):
    drop(name, content)
    drop("good.json", [make_alert(1)])
    summary = run()
    assert (summary.new_alerts, summary.quarantined) == (1, 1)
    assert (settings.drop_dir / "quarantine" / name).exists()
    assert reason in db.execute("SELECT reason FROM day13_quarantine").fetchone()["reason"]


def test_emails_without_their_headers_are_quarantined(settings, run, db):
    data = compliance.generate(size=8, defects="malformed")
    settings.inbox_dir.mkdir(parents=True)
    for name in ("malformed_no_message_id.eml", "malformed_no_date.eml"):
        (settings.inbox_dir / name).write_bytes(data.files[f"compliance/inbox/{name}"])
    assert run().quarantined == 2
    reasons = sorted(r["reason"] for r in db.execute("SELECT reason FROM day13_quarantine"))
    assert reasons == ["missing header(s) Date, From", "missing header(s) Message-ID"]


def test_the_api_answers_202_400_naming_the_field_and_413(settings, run, db, make_alert):
    client = day13_create_api(settings.model_copy(update={"max_body_bytes": 4_096})).test_client()
    accepted = client.post("/alerts", data=json.dumps(make_alert(1)))
    assert accepted.status_code == 202 and accepted.json["alert_id"] == "A-1"
    bad = client.post("/alerts", data=json.dumps(make_alert(2, amount="lots")))
    assert bad.status_code == 400 and bad.json["field"] == "amount"
    assert client.post("/alerts", data=b'{"alert_id": ').status_code == 400
    assert client.post("/alerts", data=json.dumps(make_alert(3, description="x" * 5_000))).status_code == 413
    assert run().new_alerts == 1  # the accepted one, through the same triage path
    assert db.execute("SELECT source FROM day13_received").fetchone()["source"] == "api"
