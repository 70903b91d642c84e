"""Found by attacking the crash-consistent, poison-proof triage as a hostile sender or a careless operator would.

Each test failed on the code before its fix: a control character in a label blocked every later run (the
e-mail Subject refused it), config values the loaders accepted crashed every run, a re-used drop file name
overwrote the earlier file in processed/, a receiver with two targets re-posted to the one that worked each
time the other failed, a file name forged log lines, and a JSON key given twice was silently resolved.
"""
import json
import sqlite3

import pytest
from pydantic import SecretStr

from day13_INGEST_sources import day13_InvalidAlert, day13_load_json, day13_normalise


def _quarantine(db):
    return [tuple(r) for r in db.execute("SELECT item, reason FROM day13_quarantine ORDER BY id")]


@pytest.mark.parametrize("poison", ["trade_x\r\nBcc: evil@attacker.example", "trade_\x1b[31mred", "trade_\u202egnirts",
                                    "trade_x\u2028y", "trade\tx"])
def test_a_control_or_invisible_character_in_a_label_is_quarantined_and_the_others_are_sent(
        poison, run, db, drop, make_alert):
    drop("a.json", [make_alert(1, alert_type=poison, entity_id="E1"), make_alert(2, alert_type="trade_wash", entity_id="E2")])
    summary = run()
    assert summary.new_alerts == 1 and summary.quarantined == 1 and summary.notifications_sent == 1
    item, reason = _quarantine(db)[0]
    assert item == "a.json#1" and reason.startswith("alert_type: ") and "U+" in reason
    assert run().notifications_failed == 0  # and the next run is not blocked by anything left behind


def test_a_newline_in_a_label_posted_to_the_api_answers_400(settings, make_alert):
    from day13_API_alerts import day13_create_api

    client = day13_create_api(settings).test_client()
    reply = client.post("/alerts", data=json.dumps(make_alert(1, entity_id="E1\r\nX-Injected: 1")))
    assert reply.status_code == 400 and reply.get_json()["field"] == "entity_id"


def test_a_description_keeps_its_line_breaks(make_alert):
    from datetime import datetime, timezone

    alert = day13_normalise(make_alert(1, description="line one\r\nline two\tend"), "file", datetime.now(timezone.utc))
    assert alert.description == "line one\r\nline two\tend"


def test_a_receiver_error_no_check_foresaw_fails_that_message_and_does_not_block_later_runs(run, db, drop, make_alert):
    """An outbox message the e-mail library refuses (here: a title written by an older version, with CR LF)."""
    run()  # the schema exists
    db.execute("INSERT INTO day13_outbox (idempotency_key, kind, receiver, group_key, title, lines, more, fingerprints,"
               " created_at) VALUES ('k1', 'notify', 'surveillance-email', '[]', 'a\r\nBcc: evil@x', '[]', 0, '[]',"
               " '2026-11-22T10:00:00+00:00')")
    drop("a.json", [make_alert(1, alert_type="trade_wash")])
    summary = run()
    assert summary.notifications_failed == 1 and summary.new_alerts == 1 and summary.notifications_sent == 1
    status, error = db.execute("SELECT status, last_error FROM day13_outbox WHERE idempotency_key = 'k1'").fetchone()
    assert status == "failed" and error == "permanent: the receiver refused the message (ValueError)"
    assert run().notifications_failed == 0


BROKEN_ROUTING = {
    "a duration beyond any timer": ("repeat_interval: 4h", "repeat_interval: 99999999999y", "route.repeat_interval"),
    "a receiver written as a list": ("receiver: compliance-triage-email       #", "receiver: [a]  #", "route.receiver"),
    "an escalation receiver as a list": ("escalation_receiver: compliance-duty-ticket", "escalation_receiver: [x]",
                                         "route.escalation_receiver"),
    "a route that contains itself": None,
    "a regex lookahead (RE2 has none)": ('"aml_.*"', '"(?=aml)aml_.*"', "route.routes[2].matchers[0]"),
    "a regex back-reference (RE2 has none)": ('"aml_.*"', '"(a)\\\\1"', "route.routes[2].matchers[0]"),
}


@pytest.mark.parametrize("case", sorted(BROKEN_ROUTING))
def test_a_routing_file_the_parser_chokes_on_is_rejected_and_the_previous_version_stays(
        case, settings, run, db, drop, make_alert, tmp_path):
    routing = tmp_path / "routing.yaml"
    good = settings.routing_path.read_text()
    routing.write_text(good)
    run(routing_path=routing)
    if BROKEN_ROUTING[case] is None:
        routing.write_text("route: &r {receiver: a, routes: [*r]}\nreceivers: [{name: a, email_configs: [{to: x}]}]\n")
        place = "route"
    else:
        old, new, place = BROKEN_ROUTING[case]
        assert old in good
        routing.write_text(good.replace(old, new, 1))
    drop("a.json", [make_alert(1)])
    assert run(routing_path=routing).notifications_sent == 1  # routed with the previous version
    rationale = db.execute("SELECT rationale FROM day13_audit WHERE action = 'config_rejected'").fetchone()[0]
    assert place in rationale


BROKEN_RULES = {
    "an FX rate that is not a number": ("USD: 1.0", "USD: .nan", "fx_to_usd"),
    "an FX rate of zero": ("USD: 1.0", "USD: 0", "fx_to_usd"),
    "an SLA beyond any clock": ("High: 60", "High: 99999999999999", "sla_minutes"),
    "a negative SLA": ("High: 60", "High: -5", "sla_minutes"),
    "an SLA given as true": ("High: 60", "High: true", "sla_minutes"),
    "a negative repeat bump": ("  bump: 1", "  bump: -7", "repeat.bump"),
    "a negative jurisdiction bump": ("high_risk_bump: 1 ", "high_risk_bump: -3 ", "high_risk_bump"),
    "a repeat count of zero": ("min_count: 3", "min_count: 0", "repeat.min_count"),
    "applies_to as a string": ("applies_to: [sanctions_hit, pep_hit]", "applies_to: sanctions_hit", "match_score.applies_to"),
}


@pytest.mark.parametrize("case", sorted(BROKEN_RULES))
def test_a_rules_value_that_would_crash_or_mis_triage_is_rejected_and_the_previous_version_stays(
        case, settings, run, db, drop, make_alert, tmp_path):
    rules = tmp_path / "rules.yaml"
    good = settings.rules_path.read_text()
    rules.write_text(good)
    run(rules_path=rules)
    old, new, place = BROKEN_RULES[case]
    assert old in good
    rules.write_text(good.replace(old, new, 1))
    drop("a.json", [make_alert(1, amount="30000", currency="USD")])
    summary = run(rules_path=rules)
    assert summary.new_alerts == 1 and summary.notifications_sent == 1
    rationale = db.execute("SELECT rationale FROM day13_audit WHERE action = 'config_rejected'").fetchone()[0]
    assert place in rationale


def test_a_drop_file_name_used_again_never_overwrites_the_earlier_file_in_processed(run, drop, make_alert, settings):
    drop("alerts.json", [make_alert(1, entity_id="E1")])
    run()
    drop("alerts.json", [make_alert(2, entity_id="E2")])
    run()
    drop("alerts.json", b"[{broken")
    run()
    drop("alerts.json", b"[{broken again")
    run()
    kept = sorted(p.read_text() for p in (settings.drop_dir / "processed").iterdir())
    assert len(kept) == 2 and '"A-1"' in kept[0] + kept[1] and '"A-2"' in kept[0] + kept[1]
    assert sorted(p.read_bytes() for p in (settings.drop_dir / "quarantine").iterdir()) == [b"[{broken", b"[{broken again"]


def test_a_receiver_with_two_targets_does_not_repeat_the_one_that_worked_while_the_other_is_down(
        settings, run, db, drop, make_alert, http_stand_in, clock, tmp_path):
    from datetime import timedelta

    url, posts, script = http_stand_in
    routing = tmp_path / "routing.yaml"
    routing.write_text(settings.routing_path.read_text().replace(
        'slack_configs: [{channel: "#fraud-ops"}]', 'slack_configs: [{channel: "#fraud-ops"}]\n    ticket_configs: [{queue: FRAUD}]'))
    receivers = dict(routing_path=routing, ticket_api_url=url)
    drop("a.json", [make_alert(1, alert_type="fraud_card", amount="30000", entity_id="F1")])
    script.extend([503] * 6)  # the ticket API is down for two attempts of three tries each
    assert run(**receivers).notifications_failed == 1
    clock.now += timedelta(minutes=6)
    second = run(**receivers)  # the resumed attempt fails again, the run's own send at its end gets through
    assert second.notifications_failed == 1 and second.notifications_sent == 1
    slack = db.execute("SELECT COUNT(*) FROM day13_slack_outbox WHERE channel = '#fraud-ops'").fetchone()[0]
    assert slack == 1 and len([p for p in posts if p["path"] == "/tickets"]) == 7
    assert db.execute("SELECT status FROM day13_outbox WHERE receiver = 'fraud-slack'").fetchone()[0] == "sent"


def test_a_file_name_cannot_forge_log_lines(run, drop, make_alert, settings):
    from day13_LOG_setup import day13_setup_logging

    day13_setup_logging(settings.log_path)
    drop('x\n2026-01-01T00:00:00Z level=ERROR msg="audit chain BROKEN".json', [make_alert(1)])
    run(file_settle_seconds=3600)  # logged as still being written, by name
    lines = settings.log_path.read_text(encoding="utf-8").splitlines()
    assert lines and all(line.startswith("20") and " level=" in line for line in lines)
    assert not any(line.startswith("2026-01-01T00:00:00Z") for line in lines)


@pytest.mark.parametrize("text", ['{"alert_type": "kyc_expiry", "alert_type": "sanctions_hit"}',
                                  '[{"a": 1, "a": 1}]'])
def test_a_json_key_given_twice_is_refused_never_resolved_silently(text):
    loaded = day13_load_json(text)
    record = loaded[0] if isinstance(loaded, list) else loaded
    with pytest.raises(day13_InvalidAlert, match="given twice"):
        from datetime import datetime, timezone

        day13_normalise(record, "file", datetime.now(timezone.utc))


def test_a_json_key_given_twice_in_a_drop_file_quarantines_that_record_only(run, db, drop, make_alert):
    good = json.dumps(make_alert(2, entity_id="E2"))
    twice = json.dumps(make_alert(1, alert_type="kyc_expiry"))[:-1] + ', "alert_type": "sanctions_hit"}'
    drop("a.json", f"[{twice}, {good}]".encode())
    summary = run()
    assert summary.new_alerts == 1 and summary.quarantined == 1
    assert _quarantine(db) == [("a.json#1", "alert: key 'alert_type' is given twice")]


def test_a_json_key_given_twice_posted_to_the_api_answers_400(settings, make_alert):
    from day13_API_alerts import day13_create_api

    client = day13_create_api(settings).test_client()
    body = json.dumps(make_alert(1))[:-1] + ', "amount": "1"}'
    reply = client.post("/alerts", data=body)
    assert reply.status_code == 400 and "given twice" in reply.get_json()["detail"]


@pytest.mark.parametrize("value", [" ", "short", "has a space in it!!"])
def test_a_weak_or_blank_sender_credential_is_refused_at_start_up(value):
    from day13_CONFIG_settings import day13_ConfigError, day13_load_settings

    for name in ("api_token", "api_hmac_secret"):
        with pytest.raises(day13_ConfigError, match=f"DAY13_{name.upper()}"):
            day13_load_settings(env_file=None, **{name: SecretStr(value)})


def test_a_strong_credential_is_accepted():
    from day13_CONFIG_settings import day13_load_settings

    assert day13_load_settings(env_file=None, api_token=SecretStr("x" * 16)).api_token


def test_one_amount_spelled_differently_is_one_alert(run, db, drop, make_alert):
    """1000, 1000.00, 1E3, a JSON number 1000.0: the same value. Re-spelling it used to make each a new alert
    (its own notification; the third-repeat bump never reached)."""
    spellings = ["1000", "1000.00", "1E3", "01000.000"]
    drop("a.json", [make_alert(n, amount=a) for n, a in enumerate(spellings)])
    drop("b.json", f'[{json.dumps(make_alert(9))[:-1].replace(chr(34) + "9500.00" + chr(34), "1000.0")}}}]'.encode())
    summary = run()
    assert summary.new_alerts == 1 and summary.duplicates == 4
    assert [tuple(r) for r in db.execute("SELECT count FROM day13_alerts")] == [(5,)]
    zero = [make_alert(20 + n, amount=a, entity_id="Z") for n, a in enumerate(["0", "-0", "0.00"])]
    drop("c.json", zero)
    assert run().new_alerts == 1


def test_a_created_at_before_the_first_instant_is_named(settings, make_alert):
    from day13_API_alerts import day13_create_api

    reply = day13_create_api(settings).test_client().post(
        "/alerts", data=json.dumps(make_alert(1, created_at="0001-01-01T00:00:00+01:00")))
    assert reply.status_code == 400 and reply.get_json()["field"] == "created_at"


def test_one_alert_too_long_for_a_slack_section_does_not_hide_the_alerts_after_it():
    """'&' escapes to five characters: a line of 200-character label values of '&' can outgrow the section on its own.
    Cutting at that line used to drop every line after it, so one crafted alert hid the rest of its group."""
    from day13_NOTIFY_receivers import day13_Notification, day13_slack_payload

    lines = ("Critical: " + "&" * 600,) + tuple(f"Critical: sanctions_hit entity S{n} " for n in range(2, 5))
    section = day13_slack_payload("#c", day13_Notification("r", "t", lines, ("f",) * 4))["blocks"][1]["text"]["text"]
    assert all(f"entity S{n} " in section for n in range(2, 5)) and section.endswith("… and 1 more")


@pytest.mark.parametrize("jurisdiction", ["IRN", "Iran", "I", "\u0130R"])
def test_a_jurisdiction_that_is_not_a_two_letter_code_is_refused_never_missing_the_high_risk_bump(jurisdiction, make_alert):
    from datetime import datetime, timezone

    with pytest.raises(day13_InvalidAlert, match="jurisdiction"):
        day13_normalise(make_alert(1, jurisdiction=jurisdiction), "file", datetime.now(timezone.utc))


def test_a_csv_column_given_twice_quarantines_the_file_never_keeps_one_silently(run, db, drop):
    drop("a.csv", b"alert_id,alert_type,entity_id,created_at,entity_id\nA1,aml_structuring,E1,2026-11-22T09:00:00Z,E2\n")
    summary = run()
    assert summary.new_alerts == 0 and summary.quarantined == 1
    assert _quarantine(db) == [("a.csv", "column(s) 'entity_id' given twice in the header")]


def test_no_secret_reaches_the_audit_outbox_export_or_log_even_when_a_receiver_echoes_the_request(
        settings, run, db, drop, make_alert, tmp_path):
    """A receiver's error body is untrusted text: gateways answer 'invalid token <the token>' or echo the path."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from day13_LOG_setup import day13_setup_logging
    from day13_STORE_audit import day13_export_audit

    class Echo(BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers["Content-Length"]))
            body = f"bad request to {self.path} with {self.headers.get('Authorization')}".encode()
            self.send_response(400)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}"
    secrets = ["T0000/B0000/hookSecretPath123", "ticketTokenSecret456"]
    try:
        day13_setup_logging(settings.log_path)
        drop("a.json", [make_alert(1, alert_type="sanctions_hit", match_score="99")])  # Slack and a ticket
        summary = run(slack_webhook_url=SecretStr(f"{url}/services/{secrets[0]}"), ticket_api_url=url,
                      ticket_api_token=SecretStr(secrets[1]))
    finally:
        server.shutdown()
    assert summary.notifications_failed >= 2
    day13_export_audit(db, tmp_path / "export.csv")
    dump = "\n".join(str(tuple(row)) for table in ("day13_outbox", "day13_audit", "day13_notifications", "day13_quarantine")
                     for row in db.execute(f"SELECT * FROM {table}"))
    outputs = dump + (tmp_path / "export.csv").read_text() + settings.log_path.read_text()
    assert "400 bad request to" in dump  # the receiver's words are kept ...
    assert not [s for s in secrets if s in outputs]  # ... without the secrets in them


def test_kill_9_between_a_files_commit_and_its_move_never_quarantines_its_bad_records_twice(
        settings, make_alert, cli, cli_env):
    import signal
    import subprocess
    import sys

    from day13_CONFIG_settings import DAY13_DIR

    settings.drop_dir.mkdir(parents=True)
    (settings.drop_dir / "a.json").write_text(json.dumps([make_alert(1), make_alert(2, amount="x", entity_id="E2")]))
    (settings.drop_dir / "b.json").write_text("[{broken")
    env = cli_env(settings)
    crashed = subprocess.run([sys.executable, str(DAY13_DIR / "day13_ORCHESTRATOR_alert_triage.py"), "run", "--fault",
                              "after_ingest_commit"], env=env,
                             timeout=180, capture_output=True)
    assert crashed.returncode == -signal.SIGKILL
    cli(env, "run")
    cli(env, "run")
    db = sqlite3.connect(settings.audit_log_path)
    assert sorted(r[0] for r in db.execute("SELECT item FROM day13_quarantine")) == ["a.json#2", "b.json"]
    assert db.execute("SELECT COUNT(*) FROM day13_audit WHERE action = 'quarantined'").fetchone()[0] == 2
    assert sorted(p.name for p in (settings.drop_dir / "processed").iterdir()) == ["a.json"]
    assert sorted(p.name for p in (settings.drop_dir / "quarantine").iterdir()) == ["b.json"]
    assert not list(settings.drop_dir.glob("*.json"))


def test_the_bearer_scheme_and_the_signature_hex_are_case_insensitive_the_credentials_are_not(settings, make_alert):
    import hashlib
    import hmac

    from day13_API_alerts import day13_create_api

    token, key = "t" * 20, "k" * 20
    client = day13_create_api(settings.model_copy(update={"api_token": SecretStr(token),
                                                          "api_hmac_secret": SecretStr(key)})).test_client()
    body = json.dumps(make_alert(1)).encode()
    digest = hmac.new(key.encode(), body, hashlib.sha256).hexdigest()
    for header, status in ((f"bearer {token}", 202), (f"BEARER {token}", 202), (f"Bearer {token.upper()}", 401),
                           (f"Bearer {token[:-1]}", 401), (f"Bearer {token}x", 401), ("Bearer ", 401)):
        assert client.post("/alerts", data=body, headers={"Authorization": header}).status_code == status, header
    for header, status in ((f"sha256={digest.upper()}", 202), (f"SHA256={digest}", 202), (f"sha256={digest[:-1]}", 401),
                           (f"sha1={digest}", 401)):
        assert client.post("/alerts", data=body, headers={"X-Day13-Signature": header}).status_code == status, header


def test_an_sla_breach_with_no_escalation_receiver_is_said_not_silently_marked_escalated(
        settings, run, db, drop, make_alert, tmp_path, caplog):
    routing = tmp_path / "routing.yaml"
    routing.write_text("route: {receiver: triage, group_wait: 0s}\nreceivers: [{name: triage, email_configs: [{to: t@x}]}]\n")
    drop("a.json", [make_alert(1, created_at="2026-11-20T10:00:00Z")])  # two days old: breached at triage
    run(routing_path=routing)
    rationales = [r[0] for r in db.execute("SELECT rationale FROM day13_audit WHERE action = 'sla_breached'")]
    assert "not escalated: route has no escalation_receiver" in rationales
    assert "no escalation receiver" in caplog.text


def test_one_text_in_two_unicode_normal_forms_is_one_alert(run, drop, make_alert):
    drop("a.json", [make_alert(1, entity_id="Caf\u00e9-1"), make_alert(2, entity_id="Cafe\u0301-1")])
    summary = run()
    assert summary.new_alerts == 1 and summary.duplicates == 1


def test_an_email_giving_a_field_twice_is_quarantined_never_resolved_silently(settings, run, db):
    settings.inbox_dir.mkdir(parents=True)
    (settings.inbox_dir / "m.eml").write_bytes(
        b"From: monitor@bank.example\r\nDate: Sun, 22 Nov 2026 09:30:00 +0000\r\nMessage-ID: <m1@bank.example>\r\n"
        b"Subject: alert\r\n\r\nalert_id: M-1\r\nalert_type: kyc_expiry\r\nentity_id: E1\r\n"
        b"created_at: 2026-11-22T09:30:00Z\r\nalert_type: sanctions_hit\r\n")
    summary = run()
    assert summary.new_alerts == 0 and summary.quarantined == 1
    assert _quarantine(db) == [("m.eml#1", "alert: key 'alert_type' is given twice")]


def test_an_unexpected_error_is_one_line_and_exit_3_with_no_value_or_traceback(
        settings, cli_env, drop, make_alert, monkeypatch, capfd):
    """An exception no code handled escaped main as a traceback: its text (here a password and an account) on the
    terminal, and the traceback in the log file."""
    import re
    import uuid

    import day13_ORCHESTRATOR_alert_triage as orchestrator
    import day13_ROUTE_stage

    secret, value = "Pw-" + uuid.uuid4().hex[:12], "ACC-77-SECRET-IBAN"

    def broken_index(*args):
        raise KeyError(f"account_id={value} smtp://ops:{secret}@mail.example")
    for name, text in cli_env(settings).items():
        if name.startswith("DAY13_"):
            monkeypatch.setenv(name, text)
    monkeypatch.setattr(day13_ROUTE_stage, "day13_InhibitionIndex", broken_index)
    _keep_logging_as_it_was(monkeypatch)
    drop("alerts.json", [make_alert(1, account_id=value)])
    assert orchestrator.main(["run"]) == 3
    out, err = capfd.readouterr()
    log = settings.log_path.read_text(encoding="utf-8")
    for text in (err, log):
        (line,) = [line for line in text.splitlines() if "crashed" in line]
        assert 'msg="run crashed"' in line and "error_type=KeyError" in line
        assert re.search(r" place=day13_ROUTE_stage:day13_route:\d+( |$)", line), line
    for text in (out, err, log):
        assert "Traceback" not in text and 'File "' not in text and secret not in text and value not in text


def test_crash_fields_fall_back_to_the_innermost_frame_and_never_carry_the_text():
    """Raised in a library called from outside day13's code (here: a test): the innermost frame names the place;
    an exception never raised has no place. The text ("secret") is in neither."""
    import json
    import re

    from day13_LOG_setup import day13_crash_fields

    try:
        json.loads('{"password": "secret"')
    except ValueError as exc:
        fields = day13_crash_fields(exc)
    assert fields["error_type"] == "json.decoder.JSONDecodeError"
    assert re.fullmatch(r"decoder:raw_decode:\d+", fields["place"]), fields
    assert day13_crash_fields(KeyError("secret")) == {"error_type": "KeyError", "place": "unknown"}


def _keep_logging_as_it_was(monkeypatch) -> None:
    """The run sets up the day13 logger with a terminal handler on this test's captured stderr, closed after the test:
    the handlers and propagation it had before come back then, so later tests do not log into a closed stream."""
    import logging

    logger = logging.getLogger("day13")
    monkeypatch.setattr(logger, "handlers", [])
    monkeypatch.setattr(logger, "propagate", logger.propagate)


def test_ctrl_c_during_a_run_is_one_line_exit_130_and_the_next_run_finishes_the_work(
        settings, cli_env, drop, make_alert, monkeypatch, capfd, db):
    """Ctrl-C (KeyboardInterrupt, not an Exception) went past main's catch-all as a traceback. Interrupted mid-routing,
    the routing transaction rolls back and the run lock is released: the next run routes those alerts."""
    import day13_ORCHESTRATOR_alert_triage as orchestrator
    import day13_ROUTE_stage

    for name, text in cli_env(settings).items():
        if name.startswith("DAY13_"):
            monkeypatch.setenv(name, text)
    _keep_logging_as_it_was(monkeypatch)
    drop("alerts.json", [make_alert(1), make_alert(2, entity_id="ENT-2")])
    with monkeypatch.context() as patch:
        def ctrl_c(*args):
            raise KeyboardInterrupt
        patch.setattr(day13_ROUTE_stage, "_route_one", ctrl_c)
        assert orchestrator.main(["run"]) == 130
    out, err = capfd.readouterr()
    log = settings.log_path.read_text(encoding="utf-8")
    for text in (err, log):
        (line,) = [line for line in text.splitlines() if "interrupted" in line]
        assert "level=WARNING" in line
    for text in (out, err, log):
        assert "Traceback" not in text and 'File "' not in text
    assert [tuple(r) for r in db.execute("SELECT state, COUNT(*) FROM day13_alert_state GROUP BY state")] == [("stored", 2)]
    assert orchestrator.main(["run"]) == 0  # the lock was released; the stored alerts are routed now
    assert db.execute("SELECT COUNT(*) FROM day13_alert_state WHERE state = 'stored'").fetchone()[0] == 0


def test_a_scheduler_that_cannot_start_is_one_line_and_exit_3(settings, cli_env, monkeypatch, capfd):
    """Logging set-up and the scheduler's construction ran outside main's catch-all: their errors were tracebacks."""
    import day13_SCHEDULER_main as scheduler_main

    for name, text in cli_env(settings).items():
        if name.startswith("DAY13_"):
            monkeypatch.setenv(name, text)
    _keep_logging_as_it_was(monkeypatch)

    def broken(*args, **kwargs):
        raise OSError("cannot open /secret/path/Pw-123456789")
    monkeypatch.setattr(scheduler_main, "day13_build_scheduler", broken)
    assert scheduler_main.main([]) == 3
    out, err = capfd.readouterr()
    assert "error_type=OSError" in err and "Traceback" not in err + out and "Pw-123456789" not in err + out


@pytest.mark.parametrize("raised", [KeyboardInterrupt, OSError], ids=["ctrl_c", "crash"])
def test_before_logging_is_set_up_the_line_reaches_the_terminal_even_with_a_handler_someone_else_left(
        settings, cli_env, monkeypatch, capfd, raised):
    """A handler another library (or a test harness in the same process) left on the day13 logger is not ours: with
    the check 'any handler at all', the crash or Ctrl-C line went only there and the terminal showed nothing."""
    import io
    import logging

    import day13_CONFIG_settings
    import day13_ORCHESTRATOR_alert_triage as orchestrator

    _keep_logging_as_it_was(monkeypatch)
    logging.getLogger("day13").handlers = [logging.StreamHandler(io.StringIO())]

    def fail(*args, **kwargs):
        raise raised("/srv/secret-path")
    monkeypatch.setattr(day13_CONFIG_settings, "day13_load_settings", fail)
    assert orchestrator.main(["run"]) == (130 if raised is KeyboardInterrupt else 3)
    out, err = capfd.readouterr()
    (line,) = [line for line in err.splitlines() if "interrupted" in line or "crashed" in line]
    assert ("level=WARNING" if raised is KeyboardInterrupt else "error_type=OSError") in line
    assert "Traceback" not in out + err and "secret-path" not in out + err
