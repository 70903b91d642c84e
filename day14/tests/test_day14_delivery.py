"""Delivery against real SMTP servers on loopback (aiosmtpd) and a real HTTP stand-in for SendGrid."""
import ssl
from email.message import EmailMessage

import pytest

from day14_DELIVERY_transports import (
    day14_PermanentError, day14_SendGridTransport, day14_send_with_retries, day14_SmtpTransport, day14_TransientError,
)

ENVELOPE = ("ops@transport.example", "board@transport.example")


def _message():
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "kpi@transport.example", ", ".join(ENVELOPE), "KPIs"
    message["Message-ID"] = "<day14-transport-kpi-20261122@transport.example>"
    message.set_content("numbers")
    message.add_alternative("<p>numbers</p>", subtype="html")
    message.add_attachment(b"kpi,value\r\n", maintype="text", subtype="csv", filename="kpis.csv")
    return message


def _plain(port):
    return day14_SmtpTransport("127.0.0.1", port, "none", timeout=5)


def test_a_real_send_reaches_the_server_with_every_recipient(smtp_server, scripted):
    handler = scripted()
    result = _plain(smtp_server(handler)).send(_message(), ENVELOPE)
    assert result.accepted == ENVELOPE and not result.refused
    assert result.server_reply.startswith("250")
    (rcpts, raw), = handler.messages
    assert rcpts == list(ENVELOPE) and b"Message-ID: <day14-transport-kpi-20261122@" in raw


def test_a_4xx_reply_is_retried_with_backoff_then_succeeds(smtp_server, scripted):
    handler = scripted(data_replies=["451 4.3.0 try again later"])
    waits = []
    result = day14_send_with_retries(_plain(smtp_server(handler)), _message(), ENVELOPE,
                                     attempts=3, backoff_seconds=2, sleep=waits.append)
    assert (result.attempts, waits, handler.data_calls, len(handler.messages)) == (2, [2], 2, 1)
    assert result.accepted == ENVELOPE


def test_a_5xx_reply_is_permanent_not_retried_and_keeps_the_server_text(smtp_server, scripted):
    handler = scripted(data_replies=["554 5.7.1 message rejected by policy"])
    with pytest.raises(day14_PermanentError, match="554 5.7.1 message rejected by policy"):
        day14_send_with_retries(_plain(smtp_server(handler)), _message(), ENVELOPE, attempts=4, sleep=lambda s: None)
    assert handler.data_calls == 1


def test_a_disconnect_during_data_is_transient_and_retried(smtp_server, scripted):
    handler = scripted(data_replies=["disconnect"])
    result = day14_send_with_retries(_plain(smtp_server(handler)), _message(), ENVELOPE,
                                     attempts=3, sleep=lambda s: None)
    assert result.attempts == 2 and len(handler.messages) == 1


def test_retries_end_in_the_transient_error_when_the_server_never_recovers(smtp_server, scripted):
    handler = scripted(data_replies=["421 4.4.5 busy"] * 5)
    with pytest.raises(day14_TransientError, match="421"):
        day14_send_with_retries(_plain(smtp_server(handler)), _message(), ENVELOPE, attempts=3, sleep=lambda s: None)
    assert handler.data_calls == 3


def test_a_partly_refused_send_reports_who_was_refused_and_delivers_to_the_rest(smtp_server, scripted):
    handler = scripted(refuse={"board@transport.example"})
    result = _plain(smtp_server(handler)).send(_message(), ENVELOPE)
    assert result.accepted == ("ops@transport.example",)
    assert result.refused == {"board@transport.example": "550 5.1.1 mailbox unavailable"}
    assert handler.messages[0][0] == ["ops@transport.example"]


def test_nobody_accepted_is_a_permanent_failure(smtp_server, scripted):
    handler = scripted(refuse=set(ENVELOPE))
    with pytest.raises(day14_PermanentError, match="all recipients refused"):
        _plain(smtp_server(handler)).send(_message(), ENVELOPE)


def test_an_unreachable_server_is_transient():
    from day14_DELIVERY_transports import day14_free_port

    with pytest.raises(day14_TransientError, match="cannot reach|connection"):
        _plain(day14_free_port()).send(_message(), ENVELOPE)


def _tls_pair(tmp_path):
    import trustme

    authority = trustme.CA()
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("127.0.0.1").configure_cert(server)
    client = ssl.create_default_context()
    authority.configure_trust(client)
    return server, client


def _authenticator(server, session, envelope, mechanism, auth_data):
    from aiosmtpd.smtp import AuthResult

    # handled=False: let aiosmtpd answer 535 itself (its default assumes the authenticator replied)
    return AuthResult(success=auth_data.login == b"reports" and auth_data.password == b"s3cret", handled=False)


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
@pytest.mark.parametrize("mode", ["starttls", "ssl"])
def test_tls_modes_with_login(smtp_server, scripted, tmp_path, mode):
    server_ctx, client_ctx = _tls_pair(tmp_path)
    handler = scripted()
    options = {"authenticator": _authenticator, "auth_required": True}
    # aiosmtpd does not count implicit TLS as TLS when deciding to offer AUTH; the socket is TLS all the same
    options |= ({"tls_context": server_ctx, "require_starttls": True} if mode == "starttls"
                else {"ssl_context": server_ctx, "auth_require_tls": False})
    port = smtp_server(handler, **options)
    transport = day14_SmtpTransport("127.0.0.1", port, mode, "reports", "s3cret", timeout=5, tls_context=client_ctx)
    assert transport.send(_message(), ENVELOPE).accepted == ENVELOPE
    wrong = day14_SmtpTransport("127.0.0.1", port, mode, "reports", "nope", timeout=5, tls_context=client_ctx)
    with pytest.raises(day14_PermanentError, match="authentication failed: 535"):
        wrong.send(_message(), ENVELOPE)


def test_an_untrusted_certificate_is_a_permanent_tls_failure(smtp_server, scripted, tmp_path):
    server_ctx, _ = _tls_pair(tmp_path)
    port = smtp_server(scripted(), tls_context=server_ctx, require_starttls=True)
    with pytest.raises(day14_PermanentError, match="TLS problem"):
        day14_SmtpTransport("127.0.0.1", port, "starttls", timeout=5).send(_message(), ENVELOPE)


def test_sendgrid_gets_the_same_parts_as_json(sendgrid_stand_in):
    url, calls, _ = sendgrid_stand_in
    result = day14_SendGridTransport("SG.fake-key", url).send(_message(), ENVELOPE)
    assert result.accepted == ENVELOPE and result.server_reply.startswith("202")
    body = calls[0]["body"]
    assert calls[0]["auth"] == "Bearer SG.fake-key"
    assert [p["email"] for p in body["personalizations"][0]["to"]] == list(ENVELOPE)
    assert [c["type"] for c in body["content"]] == ["text/plain", "text/html"]
    assert body["attachments"][0]["filename"] == "kpis.csv"


def test_sendgrid_5xx_is_retried_and_4xx_is_permanent(sendgrid_stand_in):
    url, calls, script = sendgrid_stand_in
    script.extend([503])
    result = day14_send_with_retries(day14_SendGridTransport("k", url), _message(), ENVELOPE,
                                     attempts=3, sleep=lambda s: None)
    assert result.attempts == 2
    script.extend([400])
    with pytest.raises(day14_PermanentError, match="400"):
        day14_send_with_retries(day14_SendGridTransport("k", url), _message(), ENVELOPE, attempts=3, sleep=lambda s: None)


def test_sendgrid_taking_the_request_without_answering_is_ambiguous_not_retried(sendgrid_stand_in):
    from day14_DELIVERY_transports import day14_AmbiguousError

    url, calls, script = sendgrid_stand_in
    script.append("hang")
    with pytest.raises(day14_AmbiguousError, match="may have been accepted"):
        day14_send_with_retries(day14_SendGridTransport("SG.secret-key", url, timeout=0.5), _message(), ENVELOPE,
                                attempts=3, sleep=lambda s: None)
    assert len(calls) == 1  # SendGrid has no Message-ID dedupe: a second POST would be a second e-mail


def test_sendgrid_sends_only_to_the_recipients_still_owed(sendgrid_stand_in):
    url, calls, _ = sendgrid_stand_in
    message = _message()
    message["Cc"], message["Bcc"] = "cc@transport.example", "hidden@transport.example"
    day14_SendGridTransport("k", url).send(message, ("board@transport.example", "hidden@transport.example"))
    personalization = calls[0]["body"]["personalizations"][0]
    assert [p["email"] for p in personalization["to"]] == ["board@transport.example"]
    assert [p["email"] for p in personalization["bcc"]] == ["hidden@transport.example"]
    assert "cc" not in personalization


def test_sendgrid_unreachable_is_transient_because_nothing_went_out():
    from day14_DELIVERY_transports import day14_free_port

    with pytest.raises(day14_TransientError, match="SendGrid unreachable"):
        day14_SendGridTransport("k", f"http://127.0.0.1:{day14_free_port()}/v3/mail/send", timeout=2).send(
            _message(), ENVELOPE)


def test_the_embedded_sink_never_overwrites_an_earlier_message_in_its_outbox(tmp_path):
    from day14_DELIVERY_transports import day14_embedded_sink

    for _ in range(2):  # two runs within the same second, as with a quick --force
        with day14_embedded_sink(tmp_path / "outbox") as (transport, _handler):
            transport.send(_message(), ENVELOPE)
    assert len(list((tmp_path / "outbox").glob("*.eml"))) == 2


def test_a_stop_request_ends_the_retries_after_the_running_attempt(smtp_server, scripted):
    handler = scripted(data_replies=["451 4.3.0 later"] * 3)
    with pytest.raises(day14_TransientError) as failure:
        day14_send_with_retries(_plain(smtp_server(handler)), _message(), ENVELOPE, attempts=3,
                                sleep=lambda s: None, should_stop=lambda: True)
    assert failure.value.attempts == 1 and handler.data_calls == 1
