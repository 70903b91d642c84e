"""Every SMTP outcome recorded truthfully, against real aiosmtpd servers on loopback scripted to misbehave.

Accepted at DATA means sent (a lost connection afterwards is never a reason to send again); a 4xx at RCPT
is owed and retried; the ledger counts the attempts made; the password never crosses the wire in clear;
no written copy carries the Bcc list.
"""
import email
import email.policy
import socket
from datetime import date, datetime, timezone

import pytest

from day14_CONFIG_settings import day14_ConfigError, day14_load_settings
from day14_DELIVERY_transports import (
    day14_PermanentError, day14_send_with_retries, day14_SmtpTransport,
)
from day14_LEDGER_sends import day14_LedgerKey, day14_SendLedger
from day14_PIPELINE_report import day14_run_report

DAY = date(2026, 11, 22)
NOW = datetime(2026, 11, 22, 20, 0, tzinfo=timezone.utc)
OPS, BOARD = "ops@transport.example", "board@transport.example"


@pytest.fixture
def run(tmp_path, ops_dir, smtp_server, scripted):
    """run(**options) -> outcome: two To recipients, no escalation, a real aiosmtpd server on loopback."""
    handler = scripted()
    port = smtp_server(handler)
    ledger = day14_SendLedger(tmp_path / "ledger.sqlite")
    settings = day14_load_settings(env_file=None, data_dir=ops_dir, retry_backoff_seconds=0, max_send_attempts=3,
                                   recipients=f"{OPS},{BOARD}", escalation_recipients=())

    def go(settings=settings, **options):
        return day14_run_report(settings, day14_SmtpTransport("127.0.0.1", port, "none", timeout=5), ledger,
                                report_date=DAY, now=lambda: NOW, sleep=lambda s: None, **options)

    go.handler, go.ledger, go.settings = handler, ledger, settings
    go.key = day14_LedgerKey("transport-kpi", DAY.isoformat())
    yield go
    ledger.close()


def _received(raw):
    return email.message_from_bytes(raw, policy=email.policy.default)


# --- accepted at DATA is sent ---------------------------------------------------------------------------

def test_a_connection_lost_after_data_was_accepted_is_sent_once_not_retried(run):
    run.handler.data_replies.append("250 2.0.0 Ok: queued as 4XyZ123|drop")
    outcome = run()
    assert len(run.handler.messages) == 1, "the server accepted the message; it must not get a second copy"
    assert (outcome.status, outcome.exit_code, outcome.attempts) == ("sent", 0, 1)
    row = run.ledger.row(run.key)
    assert row["status"] == "sent" and row["attempts"] == 1
    assert row["server_reply"] == "250 2.0.0 Ok: queued as 4XyZ123"  # DATA's reply, not a later command's
    assert "sent, connection lost after acceptance" in row["note"]
    assert "connection lost after acceptance" in outcome.summary()
    assert run().status == "already_sent" and len(run.handler.messages) == 1


def test_the_ledger_keeps_data_reply_when_the_connection_closes_normally(run):
    run.handler.data_replies.append("250 2.0.0 Ok: queued as QID77")
    run()
    assert run.ledger.row(run.key)["server_reply"] == "250 2.0.0 Ok: queued as QID77"
    assert not run.ledger.row(run.key)["note"]


# --- 4xx at RCPT is owed -------------------------------------------------------------------------------

def test_a_recipient_refused_temporarily_at_rcpt_is_retried_alone_with_backoff(smtp_server, scripted):
    handler = scripted(defer={BOARD: 1})
    transport = day14_SmtpTransport("127.0.0.1", smtp_server(handler), "none", timeout=5)
    waits = []
    message = email.message.EmailMessage()
    message["From"], message["To"], message["Subject"] = "kpi@transport.example", f"{OPS}, {BOARD}", "KPIs"
    message["Message-ID"] = "<day14-transport-kpi-20261122@transport.example>"
    message.set_content("numbers")
    result = day14_send_with_retries(transport, message, (OPS, BOARD), attempts=3, backoff_seconds=2,
                                     sleep=waits.append)
    assert [rcpts for rcpts, _ in handler.messages] == [[OPS], [BOARD]]  # the second copy only to the one owed
    assert waits == [2] and result.attempts == 2
    assert set(result.accepted) == {OPS, BOARD} and not result.deferred and not result.refused


def test_a_recipient_still_deferred_is_owed_and_a_later_run_sends_only_to_it(run):
    run.handler.defer[BOARD] = 3  # every attempt of the first run
    first = run()
    assert (first.status, first.exit_code, first.attempts) == ("partial", 1, 3)
    assert [rcpts for rcpts, _ in run.handler.messages] == [[OPS]]
    people = run.ledger.recipients(run.key)
    assert people[OPS]["status"] == "delivered" and people[BOARD]["status"] == "deferred"
    assert people[BOARD]["reply"].startswith("450 4.2.1") and people[BOARD]["attempts"] == 3
    assert run.ledger.row(run.key)["status"] == "partial"

    second = run()  # the server takes it now
    assert second.status == "sent" and second.exit_code == 0
    assert [rcpts for rcpts, _ in run.handler.messages] == [[OPS], [BOARD]]
    first_id, second_id = (_received(raw)["Message-ID"] for _, raw in run.handler.messages)
    assert first_id == second_id == first.message_id
    assert run.ledger.recipients(run.key)[BOARD]["status"] == "delivered"
    assert run().status == "already_sent" and len(run.handler.messages) == 2


def test_a_permanent_refusal_at_rcpt_is_recorded_per_recipient_and_not_owed(run):
    run.handler.refuse.add(BOARD)
    outcome = run()
    assert outcome.status == "sent" and outcome.refused == {BOARD: "550 5.1.1 mailbox unavailable"}
    assert run.ledger.recipients(run.key)[BOARD]["status"] == "refused"
    assert run().status == "already_sent"


# --- attempts counted as made --------------------------------------------------------------------------

def test_one_permanent_failure_is_recorded_as_one_attempt(run):
    run.handler.data_replies.append("554 5.7.1 rejected by policy")
    outcome = run()
    assert (outcome.status, outcome.attempts) == ("failed", 1)
    assert run.ledger.row(run.key)["attempts"] == 1 and run.handler.data_calls == 1


def test_transient_failures_that_outlast_the_retries_count_each_attempt(run):
    run.handler.data_replies.extend(["421 4.4.5 busy"] * 3)
    outcome = run()
    assert (outcome.status, outcome.attempts) == ("failed", 3)
    assert run.ledger.row(run.key)["attempts"] == 3


# --- no password in clear ------------------------------------------------------------------------------

def _non_loopback_address():
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.connect(("192.0.2.1", 9))  # no packet is sent: this only asks the routing table
            address = probe.getsockname()[0]
    except OSError:
        return None
    return None if address.startswith("127.") else address


def _recording_authenticator(seen):
    from aiosmtpd.smtp import AuthResult

    def authenticate(server, session, envelope, mechanism, auth_data):
        seen.append((mechanism, auth_data.password))
        return AuthResult(success=True, handled=False)
    return authenticate


@pytest.fixture
def clear_text_server(scripted):
    """A real aiosmtpd server offering AUTH without TLS on a non-loopback address of this machine."""
    from aiosmtpd.controller import Controller

    address = _non_loopback_address()
    if address is None:
        pytest.skip("this machine has no non-loopback IPv4 address")
    with socket.socket() as probe:
        probe.bind((address, 0))
        port = probe.getsockname()[1]
    seen, handler = [], scripted()
    controller = Controller(handler, hostname=address, port=port, authenticator=_recording_authenticator(seen),
                            auth_require_tls=False)
    controller.start()
    yield address, controller.port, seen, handler
    controller.stop()


def _message():
    message = email.message.EmailMessage()
    message["From"], message["To"], message["Subject"] = "kpi@transport.example", OPS, "KPIs"
    message.set_content("numbers")
    return message


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_auth_over_an_unencrypted_connection_is_refused_before_the_password_is_sent(clear_text_server):
    address, port, seen, handler = clear_text_server
    transport = day14_SmtpTransport(address, port, "none", "reports", "s3cret-password", timeout=5)
    with pytest.raises(day14_PermanentError, match="DAY14_SMTP_ALLOW_PLAINTEXT_AUTH"):
        transport.send(_message(), (OPS,))
    assert seen == [] and not handler.messages


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_auth_in_clear_is_allowed_when_the_setting_says_so(clear_text_server):
    address, port, seen, handler = clear_text_server
    transport = day14_SmtpTransport(address, port, "none", "reports", "pw", timeout=5, allow_plaintext_auth=True)
    assert transport.send(_message(), (OPS,)).accepted == (OPS,)
    assert seen and len(handler.messages) == 1


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_auth_in_clear_on_loopback_is_allowed_for_the_embedded_sink(smtp_server, scripted):
    seen, handler = [], scripted()
    port = smtp_server(handler, authenticator=_recording_authenticator(seen), auth_require_tls=False)
    assert day14_SmtpTransport("127.0.0.1", port, "none", "u", "p", timeout=5).send(_message(), (OPS,)).accepted
    assert seen


def test_plaintext_auth_to_a_remote_host_is_a_configuration_error_at_start_up():
    with pytest.raises(day14_ConfigError, match=r"^DAY14_SMTP_ALLOW_PLAINTEXT_AUTH: "):
        day14_load_settings(env_file=None, smtp_host="smtp.example.com", smtp_security="none", smtp_user="u")
    assert day14_load_settings(env_file=None, smtp_host="smtp.example.com", smtp_security="none",
                               smtp_user="u", smtp_allow_plaintext_auth=True).smtp_allow_plaintext_auth
    assert day14_load_settings(env_file=None, smtp_host="127.0.0.1", smtp_security="none", smtp_user="u")


# --- Bcc never in a written copy -----------------------------------------------------------------------

def test_no_written_copy_carries_the_bcc_list(run, tmp_path):
    settings = day14_load_settings(env_file=None, data_dir=run.settings.data_dir, retry_backoff_seconds=0,
                                   recipients=OPS, escalation_recipients=(), bcc="archive@transport.example")
    preview = run(settings=settings, preview_dir=tmp_path / "preview")
    html, eml = preview.files
    for path in (html, eml):
        assert b"archive@transport.example" not in path.read_bytes() and b"Bcc" not in path.read_bytes()
    run(settings=settings)
    (rcpts, raw), = run.handler.messages
    assert "archive@transport.example" in rcpts  # delivered to the hidden copy ...
    assert b"archive@transport.example" not in raw and b"Bcc" not in raw  # ... without showing it


# --- a hostile world: odd replies, old ledgers, kill -9, two runs at once --------------------------------

def test_any_2xx_final_reply_to_data_means_accepted(run):
    run.handler.data_replies.append("251 2.0.0 accepted, will forward")
    outcome = run()
    assert outcome.status == "sent" and len(run.handler.messages) == 1
    assert run.ledger.row(run.key)["server_reply"].startswith("251")


def test_a_ledger_written_by_the_previous_version_is_migrated_in_place(tmp_path):
    import sqlite3

    path = tmp_path / "old.sqlite"
    with sqlite3.connect(path) as db:
        db.execute("""CREATE TABLE day14_sends (report TEXT NOT NULL, report_date TEXT NOT NULL,
            recipients TEXT NOT NULL, status TEXT NOT NULL CHECK (status IN ('claimed', 'sent', 'failed')),
            message_id TEXT NOT NULL, claimed_at TEXT NOT NULL, finished_at TEXT, attempts INTEGER NOT NULL DEFAULT 0,
            sends INTEGER NOT NULL DEFAULT 0, server_reply TEXT, accepted TEXT, refused TEXT, error TEXT,
            PRIMARY KEY (report, report_date, recipients))""")
        db.execute("INSERT INTO day14_sends VALUES ('transport-kpi', '2026-11-21', 'a@x.example', 'sent', '<m>',"
                   " '2026-11-21T20:00:00+00:00', NULL, 1, 1, '250 OK', '[\"a@x.example\"]', '{}', NULL)")
    ledger = day14_SendLedger(path)
    key = day14_LedgerKey("transport-kpi", "2026-11-21", "a@x.example")
    assert ledger.row(key)["status"] == "sent" and ledger.row(key)["note"] is None
    day = day14_LedgerKey("transport-kpi", "2026-11-21")  # what this version looks up: the day was sent
    assert ledger.row(day)["status"] == "sent" and ledger.owed(day, ("a@x.example",)) == ()
    assert ledger.claim(day, "<m>", now=NOW, stale_after=__import__("datetime").timedelta(minutes=30),
                        envelope=("a@x.example",)).outcome == "already_sent"
    other = day14_LedgerKey("transport-kpi", "2026-11-22", "a@x.example")
    assert ledger.claim(other, "<m2>", now=NOW, stale_after=__import__("datetime").timedelta(minutes=30)).outcome == "claimed"
    ledger.finish(other, "partial", now=NOW, attempts=2, server_reply=None, error="a@x.example: 450")
    assert ledger.row(other)["status"] == "partial"
    ledger.close()
    day14_SendLedger(path).close()  # opening a migrated ledger again changes nothing


def _orchestrator_env(tmp_path, port, ops_dir):
    import os

    return {**os.environ, "DAY14_SMTP_HOST": "127.0.0.1", "DAY14_SMTP_PORT": str(port), "DAY14_SMTP_SECURITY": "none",
            "DAY14_DATA_DIR": str(ops_dir), "DAY14_LEDGER_PATH": str(tmp_path / "ledger.sqlite"),
            "DAY14_LOG_PATH": str(tmp_path / "run.log"), "DAY14_RETRY_BACKOFF_SECONDS": "0",
            "DAY14_RECIPIENTS": f"{OPS},{BOARD}", "DAY14_ESCALATION_RECIPIENTS": OPS}  # (empty means the default)


def _slow_server(scripted, smtp_server, seconds):
    import asyncio
    import threading

    in_data = threading.Event()

    class Slow(scripted):
        started = 0  # DATA conversations begun, whether or not the client lived to see the reply

        async def handle_DATA(self, server, session, envelope):
            Slow.started += 1
            in_data.set()
            await asyncio.sleep(seconds)
            return await super().handle_DATA(server, session, envelope)

    handler = Slow()
    return handler, smtp_server(handler), in_data


def test_kill_9_during_data_is_recorded_as_ambiguous_and_not_sent_again(tmp_path, ops_dir, smtp_server, scripted):
    import signal
    import subprocess
    import sys
    from datetime import timedelta
    from pathlib import Path

    handler, port, in_data = _slow_server(scripted, smtp_server, 2)
    root = Path(__file__).resolve().parents[2]
    proc = subprocess.Popen([sys.executable, str(root / "day14/day14_ORCHESTRATOR_email_reports.py"), "--date",
                             DAY.isoformat()], cwd=root, env=_orchestrator_env(tmp_path, port, ops_dir),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert in_data.wait(120), "the run never reached DATA"
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    finally:
        proc.kill()
    ledger = day14_SendLedger(tmp_path / "ledger.sqlite")
    settings = day14_load_settings(env_file=None, data_dir=ops_dir, recipients=f"{OPS},{BOARD}",
                                   escalation_recipients=OPS)
    transport = day14_SmtpTransport("127.0.0.1", port, "none", timeout=5)
    later = NOW.replace(year=2030)  # the killed run's claim is long stale
    outcome = day14_run_report(settings, transport, ledger, report_date=DAY, now=lambda: later)
    assert outcome.status == "sent" and set(outcome.ambiguous) == {OPS, BOARD} and outcome.exit_code == 1
    assert "uncertain" in outcome.summary()
    key = day14_LedgerKey("transport-kpi", DAY.isoformat())
    assert {row["status"] for row in ledger.recipients(key).values()} == {"ambiguous"}
    assert handler.started == 1, "a recipient who may have the message must not get it again"
    forced = day14_run_report(settings, transport, ledger, report_date=DAY, now=lambda: later + timedelta(hours=1),
                              force=True)
    assert forced.status == "sent" and handler.started == 2
    ledger.close()


def test_two_runs_of_the_same_day_at_once_send_one_copy(tmp_path, ops_dir, smtp_server, scripted):
    import subprocess
    import sys
    from pathlib import Path

    handler, port, _ = _slow_server(scripted, smtp_server, 3)
    root = Path(__file__).resolve().parents[2]
    command = [sys.executable, str(root / "day14/day14_ORCHESTRATOR_email_reports.py"), "--date", DAY.isoformat()]
    env = _orchestrator_env(tmp_path, port, ops_dir)
    procs = [subprocess.Popen(command, cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for _ in range(2)]
    results = [proc.communicate(timeout=180) for proc in procs]
    outputs = [stdout for stdout, _ in results]
    # a run that exits 1 prints nothing on stdout: its stderr line ("run crashed", error=...) says why
    assert [proc.returncode for proc in procs] == [0, 0], results
    assert len(handler.messages) == 1
    assert sum("sent 'Transport KPIs" in out for out in outputs) == 1
    assert sum(("right now" in out) or ("already sent" in out) for out in outputs) == 1


def test_a_multi_line_or_forged_reply_cannot_split_the_log_or_the_ledger(run, caplog):
    run.handler.data_replies.append("250-2.0.0 Ok\r\n250 level=ERROR msg=forged queued as Q1")  # a multi-line reply
    outcome = run()
    reply = run.ledger.row(run.key)["server_reply"]
    assert outcome.status == "sent" and "\n" not in reply and "\r" not in reply and "queued as Q1" in reply
    from day14_LOG_setup import day14_KeyValueFormatter

    formatter = day14_KeyValueFormatter()
    assert all("\n" not in formatter.format(record) for record in caplog.records)


def test_a_connection_lost_while_waiting_for_data_reply_says_the_message_may_have_arrived(run, caplog):
    run.handler.data_replies.extend(["disconnect"])
    outcome = run()
    assert outcome.status == "sent" and outcome.attempts == 2
    assert any("may have arrived" in str(getattr(r, "reply", "")) for r in caplog.records)
    people = run.ledger.recipients(run.key)
    assert all(row["attempts"] == 2 for row in people.values())


@pytest.mark.parametrize(("field", "value"), [
    ("sender_email", "kpi@transport.example\r\nBcc: everyone@evil.example"),
    ("reply_to", "team@transport.example\nX-Injected: 1"),
    ("recipients", "ops@transport.example>, <evil@x.example"),
    ("cc", "a b@transport.example"),
])
def test_an_address_with_line_breaks_or_brackets_is_rejected_at_start_up(field, value):
    with pytest.raises(day14_ConfigError, match=rf"^DAY14_{field.upper()}: "):
        day14_load_settings(env_file=None, **{field: value})


def test_retries_that_could_outlast_the_claim_timeout_are_rejected_at_start_up():
    with pytest.raises(day14_ConfigError, match=r"^DAY14_CLAIM_TIMEOUT_MINUTES: "):
        day14_load_settings(env_file=None, max_send_attempts=10, retry_backoff_seconds=300)


def test_a_changed_recipient_list_the_same_day_sends_only_to_the_newcomers(run):
    run()
    archive = "archive@transport.example"
    settings = day14_load_settings(env_file=None, data_dir=run.settings.data_dir, retry_backoff_seconds=0,
                                   recipients=f"{OPS},{BOARD},{archive}", escalation_recipients=())
    grown = run(settings=settings)
    assert grown.status == "sent"
    assert [rcpts for rcpts, _ in run.handler.messages] == [[OPS, BOARD], [archive]]  # nobody gets a second copy
    shrunk = day14_load_settings(env_file=None, data_dir=run.settings.data_dir, recipients=OPS,
                                 escalation_recipients=())
    assert run(settings=shrunk).status == "already_sent" and len(run.handler.messages) == 2


def test_an_ambiguous_sendgrid_post_is_recorded_and_not_sent_again(run, sendgrid_stand_in):
    from day14_DELIVERY_transports import day14_SendGridTransport

    url, calls, script = sendgrid_stand_in
    script.append("hang")
    transport = day14_SendGridTransport("SG.key", url, timeout=0.5)
    outcome = day14_run_report(run.settings, transport, run.ledger, report_date=DAY, now=lambda: NOW,
                               sleep=lambda s: None)
    assert outcome.status == "sent" and set(outcome.ambiguous) == {OPS, BOARD} and outcome.attempts == 1
    assert outcome.exit_code == 1
    assert "may have been accepted" in outcome.summary() and "uncertain" in outcome.summary()
    assert {row["status"] for row in run.ledger.recipients(run.key).values()} == {"ambiguous"}
    again = day14_run_report(run.settings, transport, run.ledger, report_date=DAY, now=lambda: NOW)
    assert again.status == "already_sent" and len(calls) == 1


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_the_password_appears_in_no_output_log_or_ledger(tmp_path, ops_dir, smtp_server, scripted):
    import subprocess
    import sys
    from pathlib import Path

    from aiosmtpd.smtp import AuthResult

    password = "Pw-7f3a9c1e-never-printed"
    port = smtp_server(scripted(), authenticator=lambda *a: AuthResult(success=False, handled=False),
                       auth_require_tls=False)
    root = Path(__file__).resolve().parents[2]
    env = {**_orchestrator_env(tmp_path, port, ops_dir), "DAY14_SMTP_USER": "reports", "DAY14_SMTP_PASSWORD": password}
    proc = subprocess.run([sys.executable, str(root / "day14/day14_ORCHESTRATOR_email_reports.py"), "--date",
                           DAY.isoformat()], cwd=root, env=env, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 1 and "authentication failed: 535" in proc.stdout
    outputs = [proc.stdout, proc.stderr, (tmp_path / "run.log").read_text(), (tmp_path / "ledger.sqlite").read_bytes()]
    assert not any((password.encode() if isinstance(o, bytes) else password) in o for o in outputs)


def test_sigterm_to_a_one_shot_run_mid_data_finishes_the_send_and_records_it(tmp_path, ops_dir, smtp_server, scripted):
    import signal
    import sqlite3
    import subprocess
    import sys
    from pathlib import Path

    handler, port, in_data = _slow_server(scripted, smtp_server, 2)
    root = Path(__file__).resolve().parents[2]
    proc = subprocess.Popen([sys.executable, str(root / "day14/day14_ORCHESTRATOR_email_reports.py"), "--date",
                             DAY.isoformat()], cwd=root, env=_orchestrator_env(tmp_path, port, ops_dir),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert in_data.wait(120), "the run never reached DATA"
        proc.send_signal(signal.SIGTERM)
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 0, stderr
    assert len(handler.messages) == 1 and "SIGTERM received" in stderr
    with sqlite3.connect(tmp_path / "ledger.sqlite") as db:
        assert db.execute("select status from day14_sends").fetchall() == [("sent",)]
        assert {s for (s,) in db.execute("select status from day14_send_recipients")} == {"delivered"}
