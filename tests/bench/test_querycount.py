"""Bench mode: X-Query-Count is on the answers only when COUNT_QUERIES is set."""

from __future__ import annotations

import pytest

from app import create_app
from tests.conftest import CocreateClient
from tests.factories import make_idea


@pytest.fixture(scope="module")
def counting_app(app_config):
    class CountingConfig(app_config):
        COUNT_QUERIES = True

    application = create_app(CountingConfig)  # the suite's database, already migrated
    application.test_client_class = CocreateClient
    return application


def test_header_counts_the_statements_of_a_request(counting_app):
    response = counting_app.test_client().get("/healthz")
    assert response.status_code == 200
    # SELECT 1, and nothing for BEGIN or PRAGMA.
    assert response.headers["X-Query-Count"] == "1"


def test_header_on_pages_and_api_answers(counting_app, db):
    make_idea()
    client = counting_app.test_client()
    for url in ("/api/v1/ideas?sort=hot", "/ideas"):
        response = client.get(url)
        assert response.status_code == 200
        assert int(response.headers["X-Query-Count"]) >= 1


def test_no_header_when_off(client, db):
    make_idea()
    for url in ("/healthz", "/api/v1/ideas", "/ideas"):
        response = client.get(url)
        assert response.status_code == 200
        assert "X-Query-Count" not in response.headers
