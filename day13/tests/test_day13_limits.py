"""No input can block the queue: limits at every source, a conflicting re-send, and property tests.

Each case once made every later run exit 1 (or the API answer 500); now it is quarantined with a
reason and an audit row, or refused with 400 naming the limit, and the valid alerts go on."""
import json
import tempfile
from contextlib import ExitStack
from datetime import datetime, timezone
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings as hsettings, strategies as st

from day13_API_alerts import day13_create_api
from shared_synthetic_data import compliance


def _reasons(db):
    return [r["reason"] for r in db.execute("SELECT reason FROM day13_quarantine ORDER BY id")]


@pytest.mark.parametrize(("body", "field", "detail"), [
    ('{"alert_id": "A-1", "alert_type": "aml", "entity_id": "E", "created_at": "2026-11-22T10:00:00Z",'
     ' "amount": "1e999999999", "currency": "USD"}', "amount", "integer digits"),
    ('{"alert_id": "A-\\ud800", "alert_type": "aml", "entity_id": "E", "created_at": "2026-11-22T10:00:00Z"}',
     "alert_id", "not valid Unicode"),
    ('{"alert_id": "A-1", "alert_type": "aml", "entity_id": "E", "created_at": "2026-11-22T10:00:00Z",'
     ' "amount": "1e100000", "currency": "USD"}', "amount", "integer digits"),
    ('{"alert_id": "A-1", "alert_type": "aml", "entity_id": "E", "created_at": "2026-11-22T10:00:00Z",'
     ' "amount": 1' + "0" * 5000 + '}', "amount", "limit 40"),
])
def test_the_api_refuses_poison_with_400_naming_the_field(settings, run, body, field, detail):
    client = day13_create_api(settings).test_client()
    answer = client.post("/alerts", data=body.encode())
    assert answer.status_code == 400 and answer.json["field"] == field and detail in answer.json["detail"]
    assert run().received == 0  # nothing stored that a run could choke on


def test_deep_nesting_answers_400_naming_the_limit_not_500(settings):
    client = day13_create_api(settings).test_client()
    answer = client.post("/alerts", data=b"[" * 5_000 + b"]" * 5_000)
    assert answer.status_code == 400 and "json_depth" in answer.json["detail"]


def test_poison_already_in_the_api_inbox_is_quarantined_and_the_rest_triaged(settings, run, db, make_alert):
    from day13_STORE_audit import day13_Store

    store = day13_Store(db)
    now = datetime.now(timezone.utc)
    for body in ('{"alert_id": "\\ud800", "alert_type": "a", "entity_id": "E", "created_at": "2026-11-22T10:00:00Z"}',
                 json.dumps(make_alert(1, amount="1e999999999")), "[" * 3_000 + "]" * 3_000, json.dumps(make_alert(2))):
        store.api_inbox_add(body, now)
    summary = run()
    assert (summary.new_alerts, summary.quarantined) == (1, 3)
    assert db.execute("SELECT COUNT(*) FROM day13_api_inbox WHERE done = 0").fetchone()[0] == 0
    assert summary.notifications_sent == 1


@pytest.mark.parametrize(("name", "content", "reason", "stored"), [
    ("deep.json", b"[" * 100_000 + b"]" * 100_000, "json_depth", 0),
    ("digits.json", None, "a number of 5,000 characters (limit 40)", 1),
    ("huge_field.csv", None, "field larger than field limit", 1),
    ("nul.csv", None, "entity_id: is not valid Unicode text (a lone surrogate or NUL)", 1),
])
def test_poison_files_are_quarantined_per_record_where_possible_and_the_run_goes_on(
        settings, run, db, drop, make_alert, name, content, reason, stored):
    if name == "digits.json":
        without_score = {k: v for k, v in make_alert(2, entity_id="E2").items() if k != "match_score"}  # not given twice
        second = json.dumps(without_score)[:-1] + ', "match_score": 1' + "0" * 4999 + "}"
        content = ("[" + json.dumps(make_alert(1)) + ", " + second + "]").encode()
    if name == "huge_field.csv":
        content = ("alert_id,alert_type,entity_id,created_at,description\n"
                   "C-1,aml_structuring,E1,2026-11-22T09:00:00Z,ok\n"
                   f'C-2,aml_structuring,E2,2026-11-22T09:00:00Z,"{"x" * 200_000}"\n').encode()
    if name == "nul.csv":
        content = (b"alert_id,alert_type,entity_id,created_at\nC-1,aml_structuring,E1,2026-11-22T09:00:00Z\n"
                   b"C-2,aml_structuring,E\x002,2026-11-22T09:00:00Z\n")
    drop(name, content)
    drop("zz_good.json", [make_alert(9, entity_id="GOOD")])
    summary = run()
    assert summary.new_alerts == stored + 1 and summary.quarantined == 1
    assert reason in _reasons(db)[0]
    assert db.execute("SELECT COUNT(*) FROM day13_audit WHERE action = 'quarantined'").fetchone()[0] == 1
    assert not [p for p in settings.drop_dir.iterdir() if p.is_file()]  # every file moved on


def test_a_reused_message_id_with_different_content_is_quarantined_as_a_conflict(settings, run, db):
    sample = compliance.build(size=4)[0]["email"][0]
    settings.inbox_dir.mkdir(parents=True)
    (settings.inbox_dir / "1.eml").write_bytes(compliance.eml_bytes({**sample, "created_at": "2026-11-22T09:30:00Z"}))
    assert run().new_alerts == 1
    (settings.inbox_dir / "2.eml").write_bytes(compliance.eml_bytes({**sample, "created_at": "2026-11-22T09:30:00Z",
                                                                     "amount": "999999"}))
    (settings.inbox_dir / "3.eml").write_bytes(compliance.eml_bytes({**sample, "created_at": "2026-11-22T09:30:00Z"}))
    summary = run()
    assert (summary.conflicts, summary.quarantined, summary.already_seen, summary.new_alerts) == (1, 1, 1, 0)
    assert "conflicting re-send" in _reasons(db)[0]
    audit = db.execute("SELECT rationale FROM day13_audit WHERE action = 'quarantined'").fetchone()
    assert "conflicting re-send" in audit["rationale"]


def test_a_reused_file_alert_id_with_different_content_is_quarantined(run, db, drop, make_alert):
    drop("a.json", [make_alert(1)])
    run()
    drop("b.json", [make_alert(1, amount="1.00"), make_alert(2)])
    summary = run()
    assert (summary.conflicts, summary.new_alerts, summary.duplicates) == (1, 0, 1)


# --- property tests: any input ends stored or quarantined, never an exception that stops a run ----------------
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=6), max_leaves=30)
alert_like = st.fixed_dictionaries({}, optional={
    name: st.one_of(st.text(max_size=40), st.integers(), st.floats(), st.none(), st.just("2026-11-22T10:00:00Z"),
                    st.just("ENT-1"), st.just("9" * 60), st.just("1e999999"), st.lists(st.integers(), max_size=2))
    for name in ("alert_id", "alert_type", "entity_id", "created_at", "amount", "currency", "match_score", "description")})
PROPERTY = hsettings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))


class _Harness:
    """One database for all examples; a fresh drop and inbox folder per example."""

    def __init__(self, settings):
        from day13_RUNTIME_wiring import day13_run_context
        from day13_STORE_audit import day13_Store

        self.stack = ExitStack()
        self.settings = settings
        self.store = day13_Store.open(settings.audit_log_path)
        self.ctx_factory = lambda: day13_run_context(settings, self.store, self.stack)

    def run(self, drop: dict[str, bytes] = {}, inbox: dict[str, bytes] = {}):
        from day13_PIPELINE_triage import day13_run_triage

        folder = Path(tempfile.mkdtemp(dir=self.settings.drop_dir.parent))
        for sub, files in (("drop", drop), ("inbox", inbox)):
            (folder / sub).mkdir()
            for name, data in files.items():
                (folder / sub / name).write_bytes(data)
        ctx = self.ctx_factory()
        ctx.dispatcher.sleep = lambda seconds: None
        summary = day13_run_triage(ctx, drop_dir=folder / "drop", inbox_dir=folder / "inbox")
        left = [p for sub in ("drop", "inbox") for p in (folder / sub).iterdir() if p.is_file()]
        assert not left, f"files neither processed nor quarantined: {left}"
        return summary


@pytest.fixture
def harness(settings):
    settings.drop_dir.mkdir(parents=True, exist_ok=True)
    h = _Harness(settings)
    yield h
    h.stack.close()
    h.store.close()


def test_property_json_drop_files(harness):
    @PROPERTY
    @given(st.one_of(st.lists(alert_like, max_size=5), json_values, alert_like))
    def check(value):
        harness.run(drop={"p.json": json.dumps(value).encode()})
    check()


def test_property_raw_bytes_as_json_csv_and_eml(harness):
    @PROPERTY
    @given(st.binary(max_size=300), st.text(max_size=300))
    def check(data, text):
        csv_text = "alert_id,alert_type,entity_id,created_at\n" + text
        harness.run(drop={"b.json": data, "c.csv": csv_text.encode("utf-8", "surrogatepass")}, inbox={"m.eml": data})
    check()


def test_property_eml_with_hostile_fields(harness):
    @PROPERTY
    @given(st.dictionaries(st.sampled_from(["alert_id", "alert_type", "entity_id", "created_at", "amount", "currency"]),
                           st.text(max_size=50).filter(lambda t: "\n" not in t and "\r" not in t)),
           st.text(max_size=60))
    def check(fields, message_id):
        body = "\n".join(f"{k}: {v}" for k, v in fields.items())
        eml = (f"From: a@b.example\nDate: Sun, 22 Nov 2026 10:00:00 +0000\nMessage-ID: <{message_id}>\n"
               f"Subject: alert\nContent-Type: text/plain; charset=utf-8\n\n{body}\n")
        harness.run(inbox={"m.eml": eml.encode("utf-8", "surrogatepass")})
    check()


def test_property_the_api_answers_202_400_or_413_and_never_500(settings, run):
    client = day13_create_api(settings).test_client()

    @PROPERTY
    @given(st.one_of(st.binary(max_size=400), json_values.map(lambda v: json.dumps(v).encode()),
                     alert_like.map(lambda v: json.dumps(v).encode())))
    def check(body):
        assert client.post("/alerts", data=body).status_code in (202, 400, 413)
    check()
    run()  # whatever was accepted triages without stopping the run


def test_a_csv_row_with_more_values_than_columns_is_quarantined_alone(run, db, drop):
    drop("shifted.csv", b"alert_id,alert_type,entity_id,created_at\nC-1,aml_structuring,E1,2026-11-22T09:00:00Z\n"
                        b"C-2,aml_structuring,E2,extra,2026-11-22T09:00:00Z\n")
    summary = run()
    assert (summary.new_alerts, summary.quarantined) == (1, 1)
    assert _reasons(db) == ["CSV line 3: 1 more value(s) than the header has columns"]
