"""Repository-wide test fixtures: the real services the day suites talk to.

Outside CI a missing service skips its tests with the reason; with CI=true it is a failure,
because a green CI run that skipped the real-service tests would prove nothing.
"""
from __future__ import annotations

import os

import pytest

REDIS_TEST_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")  # db 15: never a dev's data
POSTGRES_TEST_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1/test")


def running_in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def require_service(reason: str) -> None:
    """Skip locally, fail in CI: the one policy for every real-service test."""
    if running_in_ci():
        pytest.fail(f"required service missing in CI: {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def service_required():
    """The skip-locally / fail-in-CI policy, for day suites whose services are not set up here."""
    return require_service


@pytest.fixture(scope="session")
def redis_url() -> str:
    import redis

    client = redis.Redis.from_url(REDIS_TEST_URL, socket_connect_timeout=1)
    try:
        client.ping()
        problem = None
    except redis.RedisError as exc:
        problem = f"no Redis answering at {REDIS_TEST_URL}: {exc}"
    finally:
        client.close()
    if problem:
        require_service(problem)
    return REDIS_TEST_URL


@pytest.fixture
def real_redis(redis_url):
    """A client on the test DB index, flushed before and after each test."""
    import redis

    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    yield client
    client.flushdb()
    client.close()


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """A real PostgreSQL; tests create and drop their own tables in it."""
    import sqlalchemy

    engine = sqlalchemy.create_engine(POSTGRES_TEST_URL)
    try:
        with engine.connect() as conn:
            conn.execute(sqlalchemy.text("select 1"))
        problem = None
    except Exception as exc:  # any driver or connection error means: no usable server
        problem = f"no PostgreSQL answering at {POSTGRES_TEST_URL}: {str(exc).splitlines()[0]}"
    finally:
        engine.dispose()
    if problem:
        require_service(problem)
    return POSTGRES_TEST_URL


def pytest_collection_modifyitems(items):
    for item in items:
        names = getattr(item, "fixturenames", ())
        if "redis_url" in names:
            item.add_marker(pytest.mark.redis)
        if "postgres_url" in names:
            item.add_marker(pytest.mark.postgres)
