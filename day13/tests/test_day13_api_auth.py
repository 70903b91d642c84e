"""Only known senders file alerts: bearer token or HMAC-signed body, 401 with an audit row otherwise;
no credential configured means loopback only."""
import hashlib
import hmac
import json

import pytest
from pydantic import SecretStr

from day13_API_alerts import day13_create_api
from day13_COMMANDS_cli import day13_check_bind, day13_UnsafeBind


def _rejections(db):
    return db.execute("SELECT COUNT(*) FROM day13_audit WHERE action = 'auth_rejected'").fetchone()[0]


def test_a_bearer_token_is_required_when_configured(settings, db, make_alert):
    client = day13_create_api(settings.model_copy(update={"api_token": SecretStr("s3cret-token")})).test_client()
    body = json.dumps(make_alert(1))
    assert client.post("/alerts", data=body).status_code == 401
    assert client.post("/alerts", data=body, headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert client.post("/alerts", data=body, headers={"Authorization": "Bearer s3cret-token"}).status_code == 202
    assert _rejections(db) == 2
    assert db.execute("SELECT COUNT(*) FROM day13_api_inbox").fetchone()[0] == 1


def test_an_hmac_signature_over_the_body_is_accepted_and_a_tampered_body_refused(settings, db, make_alert):
    client = day13_create_api(settings.model_copy(update={"api_hmac_secret": SecretStr("k3y")})).test_client()
    body = json.dumps(make_alert(1)).encode()
    signature = "sha256=" + hmac.new(b"k3y", body, hashlib.sha256).hexdigest()
    assert client.post("/alerts", data=body, headers={"X-Day13-Signature": signature}).status_code == 202
    tampered = body.replace(b"9500.00", b"1.00")
    assert client.post("/alerts", data=tampered, headers={"X-Day13-Signature": signature}).status_code == 401
    assert _rejections(db) == 1


def test_the_audit_chain_holds_when_the_api_and_a_run_both_write(settings, run, db, drop, make_alert):
    from day13_STORE_audit import day13_verify_audit

    client = day13_create_api(settings.model_copy(update={"api_token": SecretStr("t")})).test_client()
    drop("a.json", [make_alert(1)])
    client.post("/alerts", data=b"{}")
    run()
    client.post("/alerts", data=b"{}")
    drop("b.json", [make_alert(2, entity_id="E2")])
    run()
    assert day13_verify_audit(db)[1] is None and _rejections(db) == 2


@pytest.mark.parametrize(("host", "credential", "allowed"), [
    ("127.0.0.1", {}, True), ("::1", {}, True), ("localhost", {}, True),
    ("0.0.0.0", {}, False), ("10.1.2.3", {}, False),
    ("0.0.0.0", {"api_token": SecretStr("t")}, True), ("0.0.0.0", {"api_hmac_secret": SecretStr("k")}, True),
])
def test_serve_refuses_a_non_loopback_bind_without_a_credential(settings, host, credential, allowed):
    candidate = settings.model_copy(update={"api_host": host, **credential})
    if allowed:
        day13_check_bind(candidate)
    else:
        with pytest.raises(day13_UnsafeBind, match="not loopback"):
            day13_check_bind(candidate)


def test_the_cli_exits_2_for_an_unsafe_bind(settings, cli, cli_env):
    done = cli(cli_env(settings, api_host="0.0.0.0"), "serve", expect=2)
    assert "not loopback" in done.stderr
