"""Standard Webhooks verification: valid, rotated, forged, expired, and every malformed header shape."""
from datetime import datetime, timedelta, timezone

import pytest

from day15_SIGNING_webhooks import day15_new_secret, day15_sign, day15_SignatureError, day15_verify

BODY = b'{"id":"evt_1","type":"user.activity"}'


def test_a_valid_signature_passes(secret):
    day15_verify([secret], BODY, day15_sign(secret, "msg_1", BODY))


def test_rotation_accepts_either_secret_and_either_signature(secret):
    old = day15_new_secret()
    day15_verify([secret, old], BODY, day15_sign(old, "msg_1", BODY))
    headers = day15_sign(secret, "msg_1", BODY)
    headers["webhook-signature"] = day15_sign(old, "msg_1", BODY)["webhook-signature"] + " " + headers["webhook-signature"]
    day15_verify([secret], BODY, headers)


@pytest.mark.parametrize("tamper", [
    lambda h, b: (h, b + b" "),                                                    # body changed
    lambda h, b: ({**h, "webhook-id": "msg_other"}, b),                            # id changed
    lambda h, b: ({**h, "webhook-signature": "v1," + "A" * 44}, b),                # forged
    lambda h, b: ({**h, "webhook-signature": "v2," + h["webhook-signature"][3:]}, b),  # unknown version
])
def test_tampering_is_rejected(secret, tamper):
    headers, body = tamper(day15_sign(secret, "msg_1", BODY), BODY)
    with pytest.raises(day15_SignatureError):
        day15_verify([secret], body, headers)


@pytest.mark.parametrize("minutes", [-6, 6])
def test_timestamps_outside_five_minutes_are_rejected(secret, minutes):
    when = datetime.now(timezone.utc) + timedelta(minutes=minutes)
    with pytest.raises(day15_SignatureError, match="too (old|new)"):
        day15_verify([secret], BODY, day15_sign(secret, "msg_1", BODY, when))


@pytest.mark.parametrize("bad", [
    {"webhook-signature": "no-comma-here"}, {"webhook-signature": "v1,%%%not-base64"},
    {"webhook-timestamp": "yesterday"}, {"webhook-timestamp": "nan"}, {"webhook-id": ""},
])
def test_malformed_headers_are_a_signature_error_never_another_exception(secret, bad):
    headers = {**day15_sign(secret, "msg_1", BODY), **bad}
    with pytest.raises(day15_SignatureError):
        day15_verify([secret], BODY, headers)


def test_a_body_that_is_not_utf8_is_a_signature_error(secret):
    with pytest.raises(day15_SignatureError):
        day15_verify([secret], b"\xff\xfe", day15_sign(secret, "msg_1", b"x"))


def test_missing_headers_are_named(secret):
    with pytest.raises(day15_SignatureError, match="missing header.*webhook-signature"):
        day15_verify([secret], BODY, {"webhook-id": "m", "webhook-timestamp": "1"})


def test_the_app_refuses_to_be_built_without_a_secret_unless_unsigned_is_explicitly_allowed(fake_buffer, store, caplog):
    import json

    from day15_INGRESS_app import day15_create_app

    with pytest.raises(ValueError, match="DAY15_WEBHOOK_SECRET"):
        day15_create_app(fake_buffer, store, [], max_body_bytes=64_000, max_batch_events=50)
    app = day15_create_app(fake_buffer, store, [], max_body_bytes=64_000, max_batch_events=50, allow_unsigned=True)
    assert "signature checks are OFF" in caplog.text
    event = {"id": "evt_1", "type": "user.activity", "created": 1_767_225_600, "data": {"object": {"user": "u", "customer": "c"}}}
    assert app.test_client().post("/webhook/events", data=json.dumps(event)).status_code == 202


def test_the_webhook_server_started_on_its_own_without_a_secret_does_not_start(tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path

    env = {k: v for k, v in os.environ.items() if not k.startswith("DAY15_")}
    env.update(DAY15_REDIS_HOST="127.0.0.1", DAY15_REDIS_PORT="1", DAY15_LOG_PATH=str(tmp_path / "log"))
    script = Path(__file__).resolve().parents[1] / "day15_WEBHOOK_receiver.py"
    done = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "DAY15_WEBHOOK_SECRET" in done.stderr and "listening" not in done.stderr
