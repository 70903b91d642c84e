"""Fixtures for day15: events from the shared generator, an in-process buffer, a store, a Flask client."""
from __future__ import annotations

import pytest

from day15_BUFFER_streams import day15_Buffer
from day15_SIGNING_webhooks import day15_new_secret
from day15_STORE_analytics import day15_create_engine, day15_Store


@pytest.fixture(scope="session")
def saas_events():
    from shared_synthetic_data import saas

    events, malformed, injected = saas.build(size=400, defects=("duplicates", "out_of_order", "malformed"))
    return events, malformed, injected


@pytest.fixture
def fake_buffer():
    import fakeredis

    # a server of its own: plain FakeRedis() instances share one default server across tests
    return day15_Buffer(fakeredis.FakeRedis(server=fakeredis.FakeServer()), maxlen=100_000, seen_ttl_seconds=3600)


@pytest.fixture(params=["real", "fake"])
def buffer(request):
    """The same buffer code on the real Redis and on fakeredis."""
    client = request.getfixturevalue("real_redis") if request.param == "real" else request.getfixturevalue("fake_buffer").redis
    buffer = day15_Buffer(client)
    buffer.ensure_group()
    return buffer


@pytest.fixture
def store(tmp_path):
    return day15_Store(day15_create_engine(f"sqlite:///{tmp_path / 'analytics.sqlite'}"))


@pytest.fixture
def secret():
    return day15_new_secret()


@pytest.fixture
def client(fake_buffer, store, secret):
    from day15_INGRESS_app import day15_create_app

    app = day15_create_app(fake_buffer, store, [secret], max_body_bytes=64_000, max_batch_events=50)
    return app.test_client()
