"""Registration, the caller's profile (token and browser session) and the roles API."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from app.accounts.models import User, UserRole
from app.mail.models import OutboxMessage
from tests.factories import make_member

NEW_PERSON = {"email": "ada@example.com", "password": "analytical engine", "display_name": "Ada"}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def user_count(db) -> int:
    return db.session.scalar(select(func.count()).select_from(User))


def mail_count(db) -> int:
    return db.session.scalar(select(func.count()).select_from(OutboxMessage))


def roles_of(db, user_id: int) -> set[str]:
    db.session.expire_all()
    return set(db.session.scalars(select(UserRole.role).where(UserRole.user_id == user_id)))


def display_name_of(db, user_id: int) -> str:
    db.session.expire_all()
    return db.session.scalar(select(User.display_name).where(User.id == user_id))


# --- registration ---------------------------------------------------------------------------


def test_registration_answers_201_with_the_new_customer(client, db):
    assert user_count(db) == 0

    response = client.post(
        "/api/v1/users", json={**NEW_PERSON, "email": "  Ada@Example.com ", "display_name": " Ada "}
    )

    assert response.status_code == 201
    body = response.get_json()
    assert set(body) == {"id", "email", "display_name", "roles", "email_verified", "created_at"}
    assert body["email"] == "ada@example.com"
    assert body["display_name"] == "Ada"
    assert body["roles"] == ["customer"]
    assert body["email_verified"] is False
    assert "password" not in response.get_data(as_text=True)
    assert user_count(db) == 1
    assert db.session.get(User, body["id"]).email == "ada@example.com"


def test_registration_mails_a_verification_link(client, db, outbox):
    assert outbox() == []

    client.post("/api/v1/users", json=NEW_PERSON)

    [message] = outbox()
    assert message.to_address == "ada@example.com"
    assert message.kind == "verify_email"
    assert "/verify-email/" in message.body_text


@pytest.mark.parametrize("email", ["ada@example.com", "ADA@Example.COM"])
def test_registering_a_taken_email_is_409_and_adds_no_one(client, db, outbox, email):
    make_member(email="ada@example.com")
    assert user_count(db) == 1

    response = client.post("/api/v1/users", json={**NEW_PERSON, "email": email})

    assert response.status_code == 409
    error = response.get_json()["error"]
    assert error["code"] == "email_taken"
    assert list(error["fields"]) == ["email"]
    assert user_count(db) == 1
    assert outbox() == []


def test_short_password_is_422_naming_the_password(client, db):
    response = client.post("/api/v1/users", json={**NEW_PERSON, "password": "123456789"})

    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["code"] == "validation_failed"
    assert list(error["fields"]) == ["password"]
    assert user_count(db) == 0
    assert mail_count(db) == 0


def test_invalid_email_is_422_naming_the_email(client, db):
    response = client.post("/api/v1/users", json={**NEW_PERSON, "email": "not-an-email"})

    assert response.status_code == 422
    assert list(response.get_json()["error"]["fields"]) == ["email"]
    assert user_count(db) == 0


def test_blank_display_name_is_422_naming_it(client, db):
    response = client.post("/api/v1/users", json={**NEW_PERSON, "display_name": "   "})

    assert response.status_code == 422
    assert list(response.get_json()["error"]["fields"]) == ["display_name"]
    assert user_count(db) == 0


def test_display_name_with_a_nul_character_is_422_and_adds_no_one(client, db):
    # PostgreSQL text cannot hold NUL: this was a 500 there (and stored as is on SQLite).
    response = client.post("/api/v1/users", json={**NEW_PERSON, "display_name": "Ada\x00"})

    assert response.status_code == 422
    assert response.get_json()["error"]["code"] == "invalid_characters"
    assert user_count(db) == 0
    assert mail_count(db) == 0


@pytest.mark.parametrize(
    "missing",
    [("email",), ("password",), ("display_name",), ("email", "password", "display_name")],
    ids=["email", "password", "display_name", "all"],
)
def test_missing_fields_are_422_naming_each(client, db, missing):
    body = {key: value for key, value in NEW_PERSON.items() if key not in missing}

    response = client.post("/api/v1/users", json=body)

    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["code"] == "validation_failed"
    assert set(error["fields"]) == set(missing)
    assert user_count(db) == 0
    assert mail_count(db) == 0


def test_unknown_field_is_422_naming_it(client, db):
    response = client.post("/api/v1/users", json={**NEW_PERSON, "is_admin": True})

    assert response.status_code == 422
    assert list(response.get_json()["error"]["fields"]) == ["is_admin"]
    assert user_count(db) == 0


def test_malformed_json_is_400_json(client, db):
    response = client.post(
        "/api/v1/users", data='{"email": "ada@example.com",', content_type="application/json"
    )

    assert response.status_code == 400
    assert response.content_type == "application/json"
    assert response.get_json()["error"]["code"] == "bad_request"
    assert user_count(db) == 0
    assert mail_count(db) == 0


@pytest.mark.parametrize(
    ("data", "content_type"),
    [
        (
            "email=ada%40example.com&password=analytical+engine&display_name=Ada",
            "application/x-www-form-urlencoded",
        ),
        (json.dumps(NEW_PERSON), "text/plain"),
    ],
    ids=["form-encoded", "text-plain"],
)
def test_non_json_body_is_415(client, db, data, content_type):
    response = client.post("/api/v1/users", data=data, content_type=content_type)

    assert response.status_code == 415
    assert response.content_type == "application/json"
    assert response.get_json()["error"]["code"] == "unsupported_media_type"
    assert user_count(db) == 0
    assert mail_count(db) == 0


def test_body_over_one_megabyte_is_413_json(client, db):
    body = json.dumps({**NEW_PERSON, "display_name": "x" * (1024 * 1024)})
    assert len(body) > 1024 * 1024

    response = client.post("/api/v1/users", data=body, content_type="application/json")

    assert response.status_code == 413
    assert response.content_type == "application/json"
    assert response.get_json()["error"]["code"] == "request_entity_too_large"
    assert user_count(db) == 0
    assert mail_count(db) == 0


def test_body_just_under_one_megabyte_is_read(client, db):
    # The limit is the API's 1 MB, not something smaller: this body is parsed and validated.
    body = json.dumps({**NEW_PERSON, "display_name": "x" * (1024 * 1024 - 200)})
    assert len(body) <= 1024 * 1024

    response = client.post("/api/v1/users", data=body, content_type="application/json")

    assert response.status_code == 422
    assert list(response.get_json()["error"]["fields"]) == ["display_name"]


# --- the caller's profile: token and browser session ----------------------------------------


def test_token_caller_changes_their_display_name_without_csrf(client, db, api_token):
    user = make_member(display_name="Old Name")
    user_id = user.id
    token = api_token(user)

    response = client.patch("/api/v1/me", json={"display_name": "New Name"}, headers=bearer(token))

    assert response.status_code == 200
    assert response.get_json()["display_name"] == "New Name"
    assert display_name_of(db, user_id) == "New Name"


def test_display_name_with_a_nul_character_is_422_and_changes_nothing(client, db, api_token):
    user = make_member(display_name="Old Name")
    user_id = user.id
    token = api_token(user)

    response = client.patch("/api/v1/me", json={"display_name": "New\x00"}, headers=bearer(token))

    assert response.status_code == 422
    assert response.get_json()["error"]["code"] == "invalid_characters"
    assert display_name_of(db, user_id) == "Old Name"


def test_display_name_that_merely_spells_a_nul_escape_is_accepted(client, db, api_token):
    # The six characters \u0000 are ordinary text; only a real NUL character is refused.
    user = make_member(display_name="Old Name")
    user_id = user.id
    token = api_token(user)

    response = client.patch(
        "/api/v1/me", json={"display_name": r"Ada \u0000"}, headers=bearer(token)
    )

    assert response.status_code == 200
    assert display_name_of(db, user_id) == r"Ada \u0000"


def test_browser_session_can_read_me(client, db, login):
    user = make_member(email="ada@example.com")
    user_id = user.id
    assert client.get("/api/v1/me").status_code == 401
    login(user)

    response = client.get("/api/v1/me")

    assert response.status_code == 200
    assert response.get_json()["id"] == user_id
    assert response.get_json()["email"] == "ada@example.com"


def test_browser_session_patch_without_csrf_header_is_400_and_changes_nothing(client, db, login):
    user = make_member(display_name="Old Name")
    user_id = user.id
    login(user)

    response = client.patch("/api/v1/me", json={"display_name": "New Name"})

    assert response.status_code == 400
    assert response.content_type == "application/json"
    assert response.get_json()["error"]["code"] == "csrf_failed"
    assert display_name_of(db, user_id) == "Old Name"


def test_browser_session_patch_with_a_wrong_csrf_header_is_400(client, db, login):
    user = make_member(display_name="Old Name")
    user_id = user.id
    login(user)

    response = client.patch(
        "/api/v1/me", json={"display_name": "New Name"}, headers={"X-CSRFToken": "forged"}
    )

    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "csrf_failed"
    assert display_name_of(db, user_id) == "Old Name"


def test_browser_session_patch_with_csrf_header_is_200(client, db, login):
    user = make_member(display_name="Old Name")
    user_id = user.id
    login(user)
    csrf = client.csrf_token()

    response = client.patch(
        "/api/v1/me", json={"display_name": "New Name"}, headers={"X-CSRFToken": csrf}
    )

    assert response.status_code == 200
    assert response.get_json()["display_name"] == "New Name"
    assert display_name_of(db, user_id) == "New Name"


def test_anonymous_patch_of_me_is_401(client, db):
    response = client.patch("/api/v1/me", json={"display_name": "New Name"})

    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "unauthorized"


# --- roles ----------------------------------------------------------------------------------


def test_admin_grants_a_role(client, db, api_token):
    admin = make_member(roles=("admin",))
    target = make_member(display_name="Target")
    target_id = target.id
    token = api_token(admin)
    assert roles_of(db, target_id) == set()

    response = client.put(f"/api/v1/users/{target_id}/roles/moderator", headers=bearer(token))

    assert response.status_code == 200
    assert response.get_json() == {
        "id": target_id,
        "display_name": "Target",
        "roles": ["customer", "moderator"],
    }
    assert roles_of(db, target_id) == {"moderator"}


def test_granting_a_role_someone_has_changes_nothing(client, db, api_token):
    admin = make_member(roles=("admin",))
    target = make_member(roles=("product",))
    target_id = target.id
    token = api_token(admin)

    response = client.put(f"/api/v1/users/{target_id}/roles/product", headers=bearer(token))

    assert response.status_code == 200
    assert response.get_json()["roles"] == ["customer", "product"]
    assert roles_of(db, target_id) == {"product"}


def test_admin_revokes_a_role(client, db, api_token):
    admin = make_member(roles=("admin",))
    target = make_member(roles=("moderator", "product"))
    target_id = target.id
    token = api_token(admin)
    assert roles_of(db, target_id) == {"moderator", "product"}

    response = client.delete(f"/api/v1/users/{target_id}/roles/moderator", headers=bearer(token))

    assert response.status_code == 200
    assert response.get_json()["roles"] == ["customer", "product"]
    assert roles_of(db, target_id) == {"product"}


@pytest.mark.parametrize("role", ["customer", "moderator", "product"])
@pytest.mark.parametrize("method", ["put", "delete"])
def test_non_admin_cannot_change_roles(client, db, api_token, role, method):
    caller = make_member(roles=(role,))
    target = make_member(roles=("moderator",))
    target_id = target.id
    token = api_token(caller)

    response = getattr(client, method)(
        f"/api/v1/users/{target_id}/roles/product", headers=bearer(token)
    )

    assert response.status_code == 403
    assert response.get_json()["error"]["code"] == "forbidden"
    assert roles_of(db, target_id) == {"moderator"}


@pytest.mark.parametrize("method", ["put", "delete"])
def test_anonymous_cannot_change_roles(client, db, method):
    target = make_member(roles=("moderator",))
    target_id = target.id

    response = getattr(client, method)(f"/api/v1/users/{target_id}/roles/moderator")

    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "unauthorized"
    assert roles_of(db, target_id) == {"moderator"}


def test_revoking_the_last_admin_is_409(client, db, api_token):
    admin = make_member(roles=("admin",))
    admin_id = admin.id
    token = api_token(admin)

    response = client.delete(f"/api/v1/users/{admin_id}/roles/admin", headers=bearer(token))

    assert response.status_code == 409
    assert response.get_json()["error"]["code"] == "last_admin"
    assert roles_of(db, admin_id) == {"admin"}


def test_an_admin_can_be_revoked_while_another_remains(client, db, api_token):
    admin = make_member(roles=("admin",))
    other = make_member(roles=("admin",))
    other_id = other.id
    token = api_token(admin)

    response = client.delete(f"/api/v1/users/{other_id}/roles/admin", headers=bearer(token))

    assert response.status_code == 200
    assert response.get_json()["roles"] == ["customer"]
    assert roles_of(db, other_id) == set()


@pytest.mark.parametrize("user_id", [999_999, 2**64], ids=["unknown", "beyond-64-bits"])
def test_changing_roles_of_no_one_is_404(client, db, api_token, user_id):
    token = api_token(make_member(roles=("admin",)))

    response = client.put(f"/api/v1/users/{user_id}/roles/moderator", headers=bearer(token))

    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_found"


def test_unknown_role_is_404(client, db, api_token):
    target = make_member()
    target_id = target.id
    token = api_token(make_member(roles=("admin",)))

    response = client.put(f"/api/v1/users/{target_id}/roles/owner", headers=bearer(token))

    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_found"
    assert roles_of(db, target_id) == set()
