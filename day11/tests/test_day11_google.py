"""Today's Google APIs against stand-ins that speak their formats: the Ads API version as a setting, GA4
`keyEvents` and paging, OAuth tokens from a refresh token or a service account (fetched, cached,
refreshed on expiry and on 401), `login-customer-id`, and every source value checked (exit 3 naming
the source, the field and the row, nothing delivered)."""
import json
from datetime import date

import pytest

from day11_CONFIG_settings import day11_ConfigError, day11_load_settings
from day11_PIPELINE_report import day11_run, day11_smtp_sink
from day11_STANDIN_servers import day11_standin, day11_StandinState

DAY = date(2026, 11, 22)
SECRETS = {"google_client_id": "day11-client.apps.example", "google_client_secret": "client-secret-XYZ123",
           "google_refresh_token": "1//refresh-token-ABCDEFGHIJ", "ads_developer_token": "dev-token-QWERTY"}


def _run(tmp_path, state=None, **settings):
    settings = day11_load_settings(env_file=None, output_dir=tmp_path / "out", ledger_path=tmp_path / "ledger.sqlite",
                                   **settings)
    state = state or day11_StandinState()
    with day11_standin(DAY, settings.output_dir, state=state) as base, day11_smtp_sink(settings.output_dir) as smtp:
        if "google_token_uri" not in settings.model_fields_set and settings.google_refresh_token:
            settings = settings.model_copy(update={"google_token_uri": f"{base}/token"})
        urls = {"ads": base, "ga4": base, "slack": f"{base}/slack/webhook", "smtp": (*smtp, "none")}
        outcome = day11_run(settings, report_date=DAY, endpoints=urls, sleeper=lambda s: None)
    return outcome, state


def test_the_ads_api_version_is_a_setting_with_a_served_default(tmp_path):
    assert day11_load_settings(env_file=None).ads_api_version == "v25"
    with pytest.raises(day11_ConfigError, match=r"^DAY11_ADS_API_VERSION: Google Ads API v17 is sunset"):
        day11_load_settings(env_file=None, ads_api_version="v17")
    _, state = _run(tmp_path, ads_api_version="v24")
    assert state.ads_versions == ["v24"]


def test_real_sources_need_their_ids_no_synthetic_fallback():
    with pytest.raises(day11_ConfigError, match="DAY11_ADS_CUSTOMER_ID is required"):
        day11_load_settings(env_file=None, ads_api_base_url="https://googleads.googleapis.com")
    with pytest.raises(day11_ConfigError, match="DAY11_GA4_PROPERTY_ID is required"):
        day11_load_settings(env_file=None, ga4_api_base_url="https://analyticsdata.googleapis.com")


def test_ga4_is_asked_for_key_events_and_read_page_by_page(tmp_path):
    outcome, state = _run(tmp_path, ga4_page_size=10)
    assert outcome.exit_code == 0, outcome.message
    assert state.ga4_pages[:3] == [(0, 10), (10, 10), (20, 10)] and len(state.ga4_pages) == 9  # 84 rows, 10 a page
    one_page, _ = _run(tmp_path / "one", ga4_page_size=10_000)
    paged = json.loads((tmp_path / "out" / "day11_payload_2026-11-22.json").read_text())
    whole = json.loads((tmp_path / "one" / "out" / "day11_payload_2026-11-22.json").read_text())
    assert paged == whole  # every page counted once


def test_a_refresh_token_gets_one_access_token_for_the_whole_run(tmp_path):
    outcome, state = _run(tmp_path, state=day11_StandinState(require_token=True), **SECRETS)
    assert outcome.exit_code == 0, outcome.message
    assert len(state.tokens_issued) == 1  # cached: Ads and GA4 share it
    grant = state.grants[0]
    assert grant["grant_type"] == "refresh_token" and grant["refresh_token"] == SECRETS["google_refresh_token"]
    assert grant["client_id"] == SECRETS["google_client_id"]
    headers = state.ads_headers[0]
    assert headers["developer-token"] == SECRETS["ads_developer_token"] and "login-customer-id" not in headers


def test_an_expired_token_is_refreshed_before_use(tmp_path):
    # expires_in 1 s is inside google-auth's refresh margin: every use needs a fresh token
    outcome, state = _run(tmp_path, state=day11_StandinState(require_token=True, token_expires_in=1), ga4_page_size=40,
                          **SECRETS)
    assert outcome.exit_code == 0, outcome.message
    assert len(state.tokens_issued) == 4  # Ads, then three GA4 pages


def test_a_401_refreshes_the_token_once_and_retries(tmp_path):
    outcome, state = _run(tmp_path, state=day11_StandinState(require_token=True, revoke_first_token=True), **SECRETS)
    assert outcome.exit_code == 0, outcome.message
    assert len(state.tokens_issued) == 2 and len(state.ads_versions) == 2


def test_a_manager_account_sends_login_customer_id(tmp_path):
    _, state = _run(tmp_path, ads_login_customer_id="9876543210", **SECRETS)
    assert state.ads_headers[0]["login-customer-id"] == "9876543210"


@pytest.mark.parametrize("status", [400, 500])
def test_a_failing_token_endpoint_is_exit_3_in_one_line_without_secrets(tmp_path, status):
    outcome, state = _run(tmp_path, state=day11_StandinState(require_token=True, token_fails_with=status), **SECRETS)
    assert outcome.exit_code == 3 and "\n" not in outcome.message
    assert "Google OAuth token endpoint" in outcome.message and not state.posts
    for secret in SECRETS.values():
        assert secret not in outcome.message


def test_an_unreachable_token_endpoint_is_exit_3(tmp_path):
    outcome, _ = _run(tmp_path, google_token_uri="http://127.0.0.1:9/token", **SECRETS)
    assert outcome.exit_code == 3 and "token endpoint (refresh token): not reachable" in outcome.message


def test_a_service_account_key_serves_ga4(tmp_path):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    key_file = tmp_path / "sa.json"
    key_file.write_text(json.dumps({"type": "service_account", "client_email": "day11@project.iam.example",
                                    "private_key": pem.decode(), "private_key_id": "k1", "token_uri": "http://unused"}))
    outcome, state = _run(tmp_path, state=day11_StandinState(require_token=True), ga4_service_account_file=key_file,
                          **SECRETS)
    assert outcome.exit_code == 0, outcome.message
    assert {g["grant_type"] for g in state.grants} == {"refresh_token", "urn:ietf:params:oauth:grant-type:jwt-bearer"}


def _rewrite_ads(change):
    def rewrite(batches):
        change(batches)
        return batches
    return rewrite


def _rewrite_ga4(change):
    def rewrite(rows):
        change(rows)
        return rows
    return rewrite


ADS_FAULTS = {
    "stream ends in an error": (_rewrite_ads(lambda b: b.__setitem__(slice(1, None), [
        {"error": {"code": 429, "status": "RESOURCE_EXHAUSTED", "message": "quota"}}])),
        "Google Ads searchStream: the stream ended in an error after 50 rows (429 RESOURCE_EXHAUSTED)"),
    "null metric": (_rewrite_ads(lambda b: b[0]["results"][6]["metrics"].__setitem__("clicks", None)),
                    "Google Ads searchStream: row 7, field metrics.clicks: missing or null"),
    "missing metrics": (_rewrite_ads(lambda b: b[0]["results"][2].pop("metrics")),
                        "Google Ads searchStream: row 3, field metrics: missing or null"),
    "non-numeric": (_rewrite_ads(lambda b: b[0]["results"][0]["metrics"].__setitem__("costMicros", "12,5")),
                    "Google Ads searchStream: row 1, field metrics.costMicros: not a number"),
    "fractional count": (_rewrite_ads(lambda b: b[1]["results"][0]["metrics"].__setitem__("impressions", "10.5")),
                         "Google Ads searchStream: row 51, field metrics.impressions: a fractional count"),
    "(not set) name": (_rewrite_ads(lambda b: b[0]["results"][4]["campaign"].__setitem__("name", "(not set)")),
                       "Google Ads searchStream: row 5, field campaign.name: (not set)"),
}
GA4_FAULTS = {
    "fractional sessions": (_rewrite_ga4(lambda rows: rows[3]["metricValues"][0].__setitem__("value", "812.5")),
                            "GA4 runReport: row 4, field sessions: a fractional count"),
    "null key events": (_rewrite_ga4(lambda rows: rows[5]["metricValues"][2].__setitem__("value", None)),
                        "GA4 runReport: row 6, field keyEvents: missing or null"),
    "(not set) date": (_rewrite_ga4(lambda rows: rows[0]["dimensionValues"][0].__setitem__("value", "(not set)")),
                       "GA4 runReport: row 1, field date: (not set)"),
    "missing value": (_rewrite_ga4(lambda rows: rows[7]["metricValues"].pop()),
                      "GA4 runReport: row 8, field metricValues: expected 4 values"),
    "text revenue": (_rewrite_ga4(lambda rows: rows[9]["metricValues"][3].__setitem__("value", "n/a")),
                     "GA4 runReport: row 10, field totalRevenue: not a number"),
}


@pytest.mark.parametrize("fault", ADS_FAULTS, ids=list(ADS_FAULTS))
def test_bad_ads_values_stop_the_run_naming_source_field_and_row(tmp_path, fault):
    rewrite, expected = ADS_FAULTS[fault]
    outcome, state = _run(tmp_path, state=day11_StandinState(ads_batches=rewrite))
    assert outcome.exit_code == 3 and expected in outcome.message, outcome.message
    assert not state.posts and not list((tmp_path / "out").glob("day11_payload_*"))


@pytest.mark.parametrize("fault", GA4_FAULTS, ids=list(GA4_FAULTS))
def test_bad_ga4_values_stop_the_run_naming_source_field_and_row(tmp_path, fault):
    rewrite, expected = GA4_FAULTS[fault]
    outcome, state = _run(tmp_path, state=day11_StandinState(ga4_rows=rewrite), ga4_page_size=5)
    assert outcome.exit_code == 3 and expected in outcome.message, outcome.message
    assert not state.posts


def test_a_missing_metric_key_is_protobufs_zero_not_an_error(tmp_path):
    outcome, _ = _run(tmp_path, state=day11_StandinState(
        ads_batches=_rewrite_ads(lambda b: b[0]["results"][0]["metrics"].pop("clicks"))))
    assert outcome.exit_code == 0, outcome.message


@pytest.mark.parametrize("expires_in", [10**30, 1e308, "abc", [1]])
def test_an_unusable_token_answer_is_exit_3_naming_the_token_endpoint(tmp_path, expires_in):
    outcome, state = _run(tmp_path, state=day11_StandinState(require_token=True, token_expires_in=expires_in), **SECRETS)
    assert outcome.exit_code == 3 and "\n" not in outcome.message and not state.posts
    assert "Google OAuth token endpoint (refresh token): an unusable token answer" in outcome.message


def test_an_answer_beyond_the_size_limit_is_refused_not_loaded(tmp_path, monkeypatch):
    import day11_SOURCES_google

    monkeypatch.setattr(day11_SOURCES_google, "DAY11_MAX_RESPONSE_BYTES", 2000)  # the stand-in's Ads answer is larger
    outcome, state = _run(tmp_path)
    assert outcome.exit_code == 3 and "Google Ads searchStream: the answer is larger than 2000 bytes" in outcome.message
    assert not state.posts


@pytest.mark.parametrize("status,headers,body,reason", [
    (200, {}, b"<html><body>Service Unavailable</body></html>", "the answer is not JSON"),
    (200, {}, b'[{"results": [{"campaign": {"id": "1"', "the answer is not JSON"),
    (200, {}, b"", "the answer is not JSON"),
    (200, {}, b'{"results": []}', "expected an array of batches"),
    (502, {}, b"<html>Bad Gateway</html>", "HTTP 502 <html>Bad Gateway</html>"),
])
def test_malformed_ads_answers_are_exit_3_naming_the_source(tmp_path, status, headers, body, reason):
    outcome, state = _run(tmp_path, state=day11_StandinState(ads_raw=(status, headers, body)))
    assert outcome.exit_code == 3 and f"Google Ads searchStream: {reason}" in outcome.message, outcome.message
    assert "\n" not in outcome.message and not state.posts


@pytest.mark.parametrize("answer", [{}, {"token_type": "Bearer", "expires_in": 3600}, {"access_token": None},
                                    {"error": "invalid_grant"}])
def test_a_200_token_answer_without_an_access_token_is_exit_3(tmp_path, answer):
    outcome, state = _run(tmp_path, state=day11_StandinState(require_token=True, token_answer=answer), **SECRETS)
    assert outcome.exit_code == 3 and "Google OAuth token endpoint (refresh token)" in outcome.message, outcome.message
    assert "\n" not in outcome.message and not state.posts
