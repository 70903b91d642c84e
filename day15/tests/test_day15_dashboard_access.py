"""Revenue figures are not public by accident: a token off loopback, /health always open."""
import base64

import pytest

from day15_CONFIG_settings import day15_ConfigError, day15_load_settings

TOKEN = "t0ken-for-the-revenue-pages"
PAGES = ("/", "/metrics", "/api/summary", "/api/trends")
STRANGER = {"REMOTE_ADDR": "203.0.113.7"}


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.10", "example.com"])
def test_start_up_refuses_a_non_loopback_bind_without_a_token(host):
    with pytest.raises(day15_ConfigError, match=r"^DAY15_DASHBOARD_TOKEN: required"):
        day15_load_settings(env_file=None, webhook_host=host)
    assert day15_load_settings(env_file=None, webhook_host=host, dashboard_token=TOKEN).dashboard_token


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1", "127.0.0.2"])
def test_a_loopback_bind_needs_no_token(host):
    assert day15_load_settings(env_file=None, webhook_host=host).dashboard_token is None


def test_a_short_token_is_refused():
    with pytest.raises(day15_ConfigError, match=r"^DAY15_DASHBOARD_TOKEN: "):
        day15_load_settings(env_file=None, dashboard_token="short")


@pytest.fixture
def guarded(fake_buffer, store, secret):
    from day15_INGRESS_app import day15_create_app

    return day15_create_app(fake_buffer, store, [secret], max_body_bytes=64_000, max_batch_events=50,
                            dashboard_token=TOKEN).test_client()


@pytest.mark.parametrize("path", PAGES)
def test_with_a_token_set_every_revenue_page_needs_it_from_anyone(guarded, path):
    for environ in (STRANGER, {}):
        refused = guarded.get(path, environ_base=environ)
        assert refused.status_code == 401 and "DAY15_DASHBOARD_TOKEN" in refused.json["error"]
        assert refused.headers["WWW-Authenticate"].startswith("Basic")
    wrong = guarded.get(path, headers={"Authorization": "Bearer " + TOKEN[:-1] + "x"}, environ_base=STRANGER)
    assert wrong.status_code == 401
    assert guarded.get(path, headers={"Authorization": f"Bearer {TOKEN}"}, environ_base=STRANGER).status_code == 200
    basic = base64.b64encode(f"anyone:{TOKEN}".encode()).decode()
    assert guarded.get(path, headers={"Authorization": f"Basic {basic}"}, environ_base=STRANGER).status_code == 200


def test_health_stays_open(guarded):
    assert guarded.get("/health", environ_base=STRANGER).status_code == 200


@pytest.mark.parametrize("path", PAGES)
def test_without_a_token_only_loopback_clients_read_the_revenue_pages(client, path):
    assert client.get(path).status_code == 200  # the test client is 127.0.0.1
    refused = client.get(path, environ_base=STRANGER)
    assert refused.status_code == 403 and "DAY15_DASHBOARD_TOKEN" in refused.json["error"]
