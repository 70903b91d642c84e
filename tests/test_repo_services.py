"""The real-service fixtures and their policy: skipped locally when missing, a failure in CI."""
import os
import subprocess
import sys

import pytest

from repo_helpers import ROOT


def test_real_redis_is_an_empty_test_database(real_redis):
    assert real_redis.connection_pool.connection_kwargs["db"] == 15
    assert real_redis.dbsize() == 0
    real_redis.set("day-test-key", "value")
    assert real_redis.get("day-test-key") == b"value"


@pytest.mark.parametrize(("ci", "outcome"), [("true", "1 error"), ("", "1 skipped")])
def test_a_missing_service_is_skipped_locally_and_fails_in_ci(ci, outcome):
    env = {**os.environ, "CI": ci, "TEST_REDIS_URL": "redis://127.0.0.1:1/15"}  # port 1: nothing listens
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
         f"{__file__}::test_real_redis_is_an_empty_test_database"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert outcome in proc.stdout, proc.stdout[-1500:]
