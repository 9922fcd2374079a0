from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from app.accounts.models import User
from tests.factories import PASSWORD, make_member


def count_users(db) -> int:
    return db.session.scalar(select(func.count()).select_from(User))


def link_from(message, path: str) -> str:
    return re.search(rf"https?://[^/\s]+({path}\S+)", message.body_text).group(1)


def test_register_signs_the_person_in_and_greets_them(client, db):
    response = client.post_form(
        "/register",
        {"display_name": "Ada Lovelace", "email": "ada@example.com", "password": "analytical1"},
    )
    assert response.status_code == 302
    home = client.get("/")
    assert "Ada Lovelace" in home.get_data(as_text=True)
    assert count_users(db) == 1


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            {"display_name": "Ada", "email": "ada@example.com", "password": "short"},
            "at least 10 characters",
        ),
        (
            {"display_name": "Ada", "email": "not-an-email", "password": "analytical1"},
            "Invalid email address",
        ),
        (
            {"display_name": "", "email": "ada@example.com", "password": "analytical1"},
            "This field is required",
        ),
    ],
)
def test_register_shows_inline_errors_and_writes_nothing(client, db, data, message):
    response = client.post_form("/register", data)
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert count_users(db) == 0


def test_register_with_a_taken_email_says_so_on_the_field(client, db):
    make_member(email="ada@example.com")
    response = client.post_form(
        "/register", {"display_name": "Ada", "email": "ADA@example.com", "password": "analytical1"}
    )
    assert response.status_code == 409
    assert "Already registered" in response.get_data(as_text=True)
    assert count_users(db) == 1


def test_login_and_logout(client, db, login):
    user = make_member(display_name="Grace Hopper")
    login(user)
    assert "Grace Hopper" in client.get("/").get_data(as_text=True)
    assert client.get("/account").status_code == 200
    client.post_form("/logout")
    assert client.get("/account").status_code == 302


def test_login_answers_the_same_for_unknown_email_and_wrong_password(client, db):
    make_member(email="ada@example.com")
    csrf = re.compile(r'(name="csrf_token"[^>]*value="|content=")[^"]+"')
    wrong_password = client.post_form("/login", {"email": "ada@example.com", "password": "nope"})
    unknown_email = client.post_form("/login", {"email": "who@example.com", "password": "nope"})
    assert wrong_password.status_code == unknown_email.status_code == 422
    body = wrong_password.get_data(as_text=True)
    assert "do not match an account" in body
    assert csrf.sub("", body).replace("ada@example.com", "") == csrf.sub(
        "", unknown_email.get_data(as_text=True)
    ).replace("who@example.com", "")


def test_login_returns_to_the_page_asked_for(client, db):
    user = make_member()
    response = client.get("/account")
    assert response.status_code == 302
    assert "/login?next=%2Faccount" in response.headers["Location"]
    response = client.post_form("/login?next=/account", {"email": user.email, "password": PASSWORD})
    assert response.headers["Location"] == "/account"


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/", "/\\evil.example"])
def test_login_never_redirects_off_site(client, db, target):
    user = make_member()
    response = client.post_form(
        f"/login?next={target}", {"email": user.email, "password": PASSWORD}
    )
    assert response.headers["Location"] == "/"


def test_remember_me_sets_a_long_lived_http_only_cookie(client, db, login):
    user = make_member()
    response = login(user, remember=True)
    cookies = response.headers.getlist("Set-Cookie")
    remember = next(c for c in cookies if c.startswith("remember_token="))
    assert "HttpOnly" in remember
    assert "SameSite=Lax" in remember
    assert "Expires=" in remember


def test_password_reset_through_the_outbox(client, db, outbox):
    user = make_member(email="ada@example.com")
    response = client.post_form("/forgot-password", {"email": "ada@example.com"})
    assert response.status_code == 302
    link = link_from(outbox()[-1], "/reset-password/")
    response = client.post_form(
        link, {"password": "a fresh password", "confirm": "a fresh password"}
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "/login"
    response = client.post_form("/login", {"email": user.email, "password": "a fresh password"})
    assert response.status_code == 302
    # The link is spent.
    assert client.get(link).status_code == 302


def test_forgot_password_answers_the_same_for_unknown_addresses(client, db, outbox):
    response = client.post_form("/forgot-password", {"email": "nobody@example.com"})
    assert response.status_code == 302
    assert outbox() == []


def test_email_verification_link_confirms_the_account(client, db, outbox):
    client.post_form(
        "/register", {"display_name": "Ada", "email": "ada@example.com", "password": "analytical1"}
    )
    assert "confirm your email" in client.get("/").get_data(as_text=True).lower()
    link = link_from(outbox()[-1], "/verify-email/")
    response = client.get(link, follow_redirects=True)
    assert "is confirmed" in response.get_data(as_text=True)
    assert db.session.scalar(select(User.email_verified_at)) is not None


def test_change_password_keeps_this_session_and_ends_the_others(app, client, db, login):
    user = make_member()
    login(user)
    other_device = app.test_client()
    other_device.post_form("/login", {"email": user.email, "password": PASSWORD})
    assert other_device.get("/account").status_code == 200

    response = client.post_form(
        "/account/password",
        {"current_password": PASSWORD, "new_password": "new and long!", "confirm": "new and long!"},
    )
    assert response.status_code == 302
    assert client.get("/account").status_code == 200
    assert other_device.get("/account").status_code == 302


def test_change_password_ends_remembered_devices(app, client, db, login):
    user = make_member()
    login(user)
    remembered = app.test_client()
    remembered.post_form("/login", {"email": user.email, "password": PASSWORD, "remember": "y"})
    remembered.delete_cookie("session")  # the browser was closed; only the remember cookie is left
    assert remembered.get("/account").status_code == 200
    remembered.delete_cookie("session")

    client.post_form(
        "/account/password",
        {"current_password": PASSWORD, "new_password": "new and long!", "confirm": "new and long!"},
    )
    assert remembered.get("/account").status_code == 302


def test_change_password_with_a_wrong_current_password_is_refused(client, db, login):
    user = make_member()
    login(user)
    response = client.post_form(
        "/account/password",
        {"current_password": "guess", "new_password": "new and long!", "confirm": "new and long!"},
    )
    assert response.status_code == 422
    assert "Not correct" in response.get_data(as_text=True)


def test_profile_name_can_be_changed(client, db, login):
    user = make_member(display_name="Old Name")
    login(user)
    response = client.post_form("/account/profile", {"display_name": "New Name"})
    assert response.status_code == 302
    db.session.refresh(user)
    assert user.display_name == "New Name"


def test_api_token_is_shown_once_and_can_be_revoked(client, db, login):
    user = make_member()
    login(user)
    response = client.post_form("/account/tokens", {"name": "laptop script"})
    raw = re.search(r"cc_[A-Za-z0-9_-]{20,}", response.get_data(as_text=True)).group(0)
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {raw}"}).status_code == 200
    account = client.get("/account").get_data(as_text=True)
    assert "laptop script" in account
    assert raw not in account
    token_id = re.search(r"/account/tokens/(\d+)/revoke", account).group(1)
    client.post_form(f"/account/tokens/{token_id}/revoke")
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {raw}"}).status_code == 401


def test_admin_grants_and_revokes_a_role_on_the_people_page(client, db, login):
    admin = make_member(roles=("admin",))
    person = make_member(display_name="Pat Example")
    login(admin)
    page = client.get("/admin/users?q=pat").get_data(as_text=True)
    assert "Pat Example" in page
    client.post_form(f"/admin/users/{person.id}/roles/moderator/grant")
    db.session.expire_all()
    assert person.roles == frozenset({"customer", "moderator"})
    client.post_form(f"/admin/users/{person.id}/roles/moderator/revoke")
    db.session.expire_all()
    assert person.roles == frozenset({"customer"})


def test_role_toggle_over_htmx_returns_the_updated_row(client, db, login):
    admin = make_member(roles=("admin",))
    person = make_member()
    login(admin)
    response = client.post_form(
        f"/admin/users/{person.id}/roles/product/grant", headers={"HX-Request": "true"}
    )
    assert response.status_code == 200
    row = response.get_data(as_text=True)
    assert row.lstrip().startswith(f'<tr id="user-{person.id}"')
    assert f"/admin/users/{person.id}/roles/product/revoke" in row


def test_the_last_admin_cannot_revoke_themselves_on_the_page(client, db, login):
    admin = make_member(roles=("admin",))
    login(admin)
    response = client.post_form(
        f"/admin/users/{admin.id}/roles/admin/revoke", follow_redirects=True
    )
    assert "last admin" in response.get_data(as_text=True)
    db.session.expire_all()
    assert "admin" in admin.roles


def test_admin_reads_the_mail_outbox(client, db, login, outbox):
    admin = make_member(roles=("admin",))
    client.post_form("/forgot-password", {"email": admin.email})
    login(admin)
    page = client.get("/admin/outbox").get_data(as_text=True)
    assert "Reset your Cocreate password" in page
