"""Property-based API tests: schemathesis generates requests from /api/v1/openapi.json.

Every operation is called in-process with an admin's bearer token, so the authenticated routes
run their real code, and every answer must be documented: no 5xx, and status, content type and
body must match the description (NOT_CHECKED names the one check left out). The rate limiter is
off here, or 429s would hide the rest.

schemathesis' ``pytest.from_fixture`` loader reads ``Node._nodeid``, which pytest 9 removed, so
the schema is loaded in a fixture and each operation gets its own test item from OPERATIONS; a
test checks that list against the document, so a new operation cannot go unfuzzed.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import positive_data_acceptance

from app.accounts import services
from app.accounts.models import User
from app.community import services as community
from app.extensions import limiter
from app.ideas import services as ideas
from app.rewards import services as rewards
from tests.factories import PASSWORD, make_member

ADMIN_EMAIL = "schemathesis-admin@example.com"
HTTP_METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}

# Registration refuses some addresses JSON Schema cannot describe (email_validator rejects
# special-use domains such as .test and .arpa), so "valid by the schema" is not "acceptable" there;
# the 422 it answers is documented. Every other check runs: no 5xx, documented status, content
# type, body and headers, auth enforced, negative data rejected.
NOT_CHECKED = [positive_data_acceptance]

OPERATIONS = [
    ("POST", "/api/v1/tokens"),
    ("GET", "/api/v1/tokens"),
    ("DELETE", "/api/v1/tokens/{token_id}"),
    ("POST", "/api/v1/users"),
    ("GET", "/api/v1/me"),
    ("PATCH", "/api/v1/me"),
    ("PUT", "/api/v1/users/{user_id}/roles/{role}"),
    ("DELETE", "/api/v1/users/{user_id}/roles/{role}"),
    ("POST", "/api/v1/users/{user_id}/suspension"),
    ("DELETE", "/api/v1/users/{user_id}/suspension"),
    ("GET", "/api/v1/categories"),
    ("GET", "/api/v1/challenges"),
    ("POST", "/api/v1/challenges"),
    ("GET", "/api/v1/ideas"),
    ("POST", "/api/v1/ideas"),
    ("GET", "/api/v1/ideas/similar"),
    ("GET", "/api/v1/ideas/{idea_id}"),
    ("PATCH", "/api/v1/ideas/{idea_id}"),
    ("PUT", "/api/v1/ideas/{idea_id}/vote"),
    ("DELETE", "/api/v1/ideas/{idea_id}/vote"),
    ("POST", "/api/v1/ideas/{idea_id}/status"),
    ("POST", "/api/v1/ideas/{idea_id}/merge"),
    ("GET", "/api/v1/ideas/{idea_id}/comments"),
    ("POST", "/api/v1/ideas/{idea_id}/comments"),
    ("PATCH", "/api/v1/comments/{comment_id}"),
    ("DELETE", "/api/v1/comments/{comment_id}"),
    ("PUT", "/api/v1/comments/{comment_id}/reactions/{emoji}"),
    ("DELETE", "/api/v1/comments/{comment_id}/reactions/{emoji}"),
    ("PUT", "/api/v1/follows/{kind}/{target_id}"),
    ("DELETE", "/api/v1/follows/{kind}/{target_id}"),
    ("GET", "/api/v1/notifications"),
    ("POST", "/api/v1/notifications/read"),
    ("GET", "/api/v1/users/{user_id}"),
    ("GET", "/api/v1/me/points"),
    ("GET", "/api/v1/me/ledger"),
    ("GET", "/api/v1/me/redemptions"),
    ("GET", "/api/v1/leaderboard"),
    ("GET", "/api/v1/rewards"),
    ("POST", "/api/v1/rewards"),
    ("PATCH", "/api/v1/rewards/{item_id}"),
    ("POST", "/api/v1/rewards/{item_id}/redemptions"),
    ("POST", "/api/v1/users/{user_id}/points"),
]


@pytest.fixture(autouse=True)
def _no_rate_limits() -> Iterator[None]:
    was_enabled = limiter.enabled
    limiter.enabled = False
    yield
    limiter.enabled = was_enabled


@pytest.fixture(scope="module")
def api_schema(app: Flask):
    return schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)


def _admin() -> User:
    return services.ensure_user(
        email=ADMIN_EMAIL, password=PASSWORD, role="admin", display_name="Schema Admin"
    )


def _admin_headers() -> dict[str, str]:
    """A fresh token for an account that is an admin right now.

    Generated calls may revoke tokens or take roles away, so each example starts from a known
    caller. The db fixture empties every table after each test, so nothing leaks into others.
    """
    _token, raw = services.create_api_token(_admin(), name="schemathesis")
    return {"Authorization": f"Bearer {raw}"}


def _existing_ids() -> dict[str, int]:
    """Path parameters that name real rows, so calls reach more than the 404 of a random id."""
    author = make_member(email="author@example.com")
    idea = ideas.submit_idea(author, title="A lamp that follows the sun", body="Yes.")
    return {
        "user_id": author.id,
        "token_id": services.create_api_token(_admin(), name="spare")[0].id,
        "idea_id": idea.id,
        "comment_id": community.post_comment(author, body="Batteries?", idea=idea).id,
        "target_id": idea.id,
        "item_id": rewards.create_item(_admin(), name="Mug", cost=10, stock=3).id,
    }


def test_every_documented_operation_is_fuzzed(api_schema) -> None:
    documented = {
        (method.upper(), path)
        for path, item in api_schema.raw_schema["paths"].items()
        for method in item
        if method in HTTP_METHODS
    }
    assert documented == set(OPERATIONS)


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_operation_answers_as_documented(
    app: Flask, api_schema, db, method: str, path: str
) -> None:
    operation = api_schema[path][method]
    real = {name: value for name, value in _existing_ids().items() if f"{{{name}}}" in path}
    modes = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
    strategies = [operation.as_strategy(generation_mode=mode) for mode in modes]
    if real:
        strategies.append(
            operation.as_strategy(generation_mode=GenerationMode.POSITIVE, path_parameters=real)
        )
    strategy = st.one_of(strategies)

    @given(case=strategy)
    @settings(
        max_examples=25,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    def call(case) -> None:
        headers = _admin_headers()
        # Requests run as in production, each in its own app context. Some checks (ignored_auth's
        # probes) send through their own werkzeug client, which would run in the test's context:
        # sharing its session and Flask-Login's cached user, and leaving the request's write
        # intent behind for later tests (whose reads then hold SQLite's write lock).
        contextvars.Context().run(
            case.call_and_validate,
            session=app.test_client(),
            headers=headers,
            excluded_checks=NOT_CHECKED,
        )

    call()
