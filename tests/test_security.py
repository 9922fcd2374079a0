from __future__ import annotations

import re

import pytest

from app import create_app
from config import Config
from tests.factories import PASSWORD, make_member


@pytest.mark.parametrize("path", ["/", "/login", "/api/v1/me", "/healthz", "/nope"])
def test_every_response_carries_the_security_headers(client, path):
    response = client.get(path)
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp
    assert "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert response.headers["Cache-Control"] == "no-store"


def test_pages_have_no_inline_script(client, db, login):
    login(make_member(roles=("admin",)))
    for path in ("/", "/account", "/admin/users", "/admin/outbox"):
        page = client.get(path).get_data(as_text=True)
        assert "<script>" not in page, path
        assert " onclick=" not in page, path
        assert 'style="' not in page, path


def test_session_cookie_is_http_only_and_same_site(client, db, login):
    response = login(make_member())
    session_cookie = next(
        c for c in response.headers.getlist("Set-Cookie") if c.startswith("session=")
    )
    assert "HttpOnly" in session_cookie
    assert "SameSite=Lax" in session_cookie


def test_production_sends_cookies_only_over_https_and_needs_a_secret(monkeypatch):
    class Production(Config):
        ENV = "production"
        SECRET_KEY = None
        SQLALCHEMY_DATABASE_URI = "sqlite://"

    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        create_app(Production)
    monkeypatch.setenv("COCREATE_ENV", "production")
    import importlib

    import config

    reloaded = importlib.reload(config)
    try:
        assert reloaded.Config.SESSION_COOKIE_SECURE is True
        assert reloaded.Config.REMEMBER_COOKIE_SECURE is True
    finally:
        monkeypatch.delenv("COCREATE_ENV")
        importlib.reload(config)


def test_login_is_rate_limited_with_a_clear_message(client, db, app):
    limit = int(app.config["LOGIN_RATE_LIMIT"].split()[0])
    for _ in range(limit):
        assert (
            client.post_form("/login", {"email": "a@example.com", "password": "x"}).status_code
            == 422
        )
    response = client.post_form("/login", {"email": "a@example.com", "password": "x"})
    assert response.status_code == 429
    assert "Too many attempts" in response.get_data(as_text=True)
    assert "Retry-After" in response.headers


def test_forged_forwarded_for_does_not_reset_the_login_limit(client, db, app):
    limit = int(app.config["LOGIN_RATE_LIMIT"].split()[0])
    statuses = [
        client.post_form(
            "/login",
            {"email": "a@example.com", "password": "x"},
            headers={"X-Forwarded-For": f"203.0.113.{n}"},
        ).status_code
        for n in range(limit + 1)
    ]
    assert statuses[-1] == 429


def test_api_token_endpoint_shares_the_login_limit_rules(client, db, app):
    limit = int(app.config["LOGIN_RATE_LIMIT"].split()[0])
    for _ in range(limit):
        client.post("/api/v1/tokens", json={"email": "a@example.com", "password": "x"})
    response = client.post("/api/v1/tokens", json={"email": "a@example.com", "password": "x"})
    assert response.status_code == 429
    assert response.get_json()["error"]["code"] == "rate_limited"


def test_changed_password_revokes_api_tokens(client, db, login, api_token):
    user = make_member()
    token = api_token(user)
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/me", headers=headers).status_code == 200
    login(user)
    client.post_form(
        "/account/password",
        {"current_password": PASSWORD, "new_password": "new and long!", "confirm": "new and long!"},
    )
    assert client.get("/api/v1/me", headers=headers).status_code == 401


def test_right_to_left_languages_get_dir_rtl_and_the_rtl_stylesheet(app, client, monkeypatch):
    monkeypatch.setitem(app.config, "LANGUAGES", ["en", "fa"])
    page = client.get("/", headers={"Accept-Language": "fa-IR,fa;q=0.9"}).get_data(as_text=True)
    assert '<html lang="fa" dir="rtl"' in page
    assert "bootstrap.rtl.min.css" in page
    page = client.get("/", headers={"Accept-Language": "en-US"}).get_data(as_text=True)
    assert '<html lang="en" dir="ltr"' in page


def test_with_a_trusted_proxy_the_client_address_comes_from_its_header():
    from flask import Flask, request

    from app import web

    proxied = Flask(__name__)
    proxied.config["TRUSTED_PROXIES"] = 1
    web.init_app(proxied)
    proxied.add_url_rule("/ip", "ip", lambda: request.remote_addr)
    response = proxied.test_client().get(
        "/ip", headers={"X-Forwarded-For": "203.0.113.9, 198.51.100.7"}
    )
    assert response.get_data(as_text=True) == "198.51.100.7"


def test_reset_links_ignore_a_forged_host_header(client, db, outbox):
    user = make_member()
    forged = {"Host": "evil.example"}
    page = client.get("/forgot-password", headers=forged).get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    response = client.post(
        "/forgot-password", data={"email": user.email, "csrf_token": token}, headers=forged
    )
    assert response.status_code == 302
    [message] = [m for m in outbox() if m.kind == "password_reset"]
    assert "evil.example" not in message.body_text
    assert "http://127.0.0.1:5000/reset-password/" in message.body_text


def test_production_needs_the_site_address():
    class Production(Config):
        ENV = "production"
        SECRET_KEY = "a-real-secret-for-this-test-only-0123456789"
        SITE_URL = None
        SQLALCHEMY_DATABASE_URI = "sqlite://"

    with pytest.raises(RuntimeError, match="SITE_URL"):
        create_app(Production)


@pytest.mark.parametrize("target", ["/\t/evil.example", "/\\\\evil.example", "//evil.example"])
def test_votes_never_redirect_off_site(client, db, login, target):
    from tests.factories import make_idea

    idea = make_idea()
    login(make_member())
    response = client.post_form(f"/ideas/{idea.id}/vote", {"next": target})
    assert response.headers["Location"] == f"/ideas/{idea.id}"
