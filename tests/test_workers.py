"""Several gunicorn workers behave as one site when they share Redis."""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request

import pytest

from tests.servers import running_server

pytestmark = pytest.mark.redis


def post_json(url: str, body: dict) -> int:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def test_two_workers_share_one_login_limit_through_redis(app, redis_url):
    limit = int(app.config["LOGIN_RATE_LIMIT"].split()[0])
    env = {
        "RATELIMIT_STORAGE_URI": redis_url,
        "LOGIN_RATE_LIMIT": f"{limit} per minute",
        "RATELIMIT_KEY_PREFIX": f"cocreate-test-{os.getpid()}",
    }
    with running_server(app, workers=2, env=env) as base_url:
        statuses = [
            post_json(f"{base_url}/api/v1/tokens", {"email": "a@example.com", "password": "x"})
            for _ in range(limit * 2)
        ]
    # Each worker alone would allow `limit` attempts, so two unshared workers would let
    # up to 2 × limit through; shared through Redis, the site allows exactly `limit`.
    assert statuses[:limit] == [401] * limit
    assert set(statuses[limit:]) == {429}
