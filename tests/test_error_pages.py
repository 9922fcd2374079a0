from __future__ import annotations

import pytest

import app.main
from tests.factories import make_member


def test_unknown_page_gets_the_html_404_page(client):
    response = client.get("/no-such-page")
    assert response.status_code == 404
    assert response.mimetype == "text/html"
    assert "could not find that page" in response.get_data(as_text=True)


def test_a_client_asking_for_json_gets_a_json_404(client):
    response = client.get("/no-such-page", headers={"Accept": "application/json"})
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_found"


def test_forbidden_page_is_explained(client, db, login):
    login(make_member())
    response = client.get("/admin/users")
    assert response.status_code == 403
    assert "permission" in response.get_data(as_text=True)


@pytest.mark.parametrize(
    ("accept", "mimetype"), [("text/html", "text/html"), ("application/json", "application/json")]
)
def test_an_unexpected_error_answers_500_and_is_logged(
    client, monkeypatch, caplog, accept, mimetype
):
    def broken(*args, **kwargs):
        raise RuntimeError("the template engine caught fire")

    monkeypatch.setattr(app.main, "render_template", broken)
    response = client.get("/", headers={"Accept": accept})
    assert response.status_code == 500
    assert response.mimetype == mimetype
    assert "went wrong on our side" in response.get_data(as_text=True)
    assert "the template engine caught fire" not in response.get_data(as_text=True)
    assert "Unhandled error on GET /" in caplog.text


def test_people_page_costs_the_same_queries_for_one_or_many_people(
    client, db, login, count_queries
):
    login(make_member(roles=("admin",)))
    with count_queries() as one:
        assert client.get("/admin/users").status_code == 200
    for n in range(30):
        make_member(roles=("moderator",) if n % 2 else ())
    with count_queries() as many:
        assert client.get("/admin/users").status_code == 200
    assert one() == many()
    assert many() <= 5
