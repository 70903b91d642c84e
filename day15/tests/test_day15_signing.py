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
