"""API tokens: POST/GET /api/v1/tokens, DELETE /api/v1/tokens/<id>, and bearer authentication."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.accounts import services
from app.accounts.models import ApiToken
from tests.factories import PASSWORD, make_member

BEARER_CHALLENGE = 'Bearer realm="cocreate"'


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def token_count(db, user_id: int | None = None) -> int:
    stmt = select(func.count()).select_from(ApiToken)
    if user_id is not None:
        stmt = stmt.where(ApiToken.user_id == user_id)
    return db.session.scalar(stmt)


def test_right_credentials_create_a_token(client, db):
    user = make_member(email="ada@example.com")
    user_id = user.id
    assert token_count(db, user_id) == 0

    response = client.post(
        "/api/v1/tokens",
        json={"email": "ada@example.com", "password": PASSWORD, "name": "laptop script"},
    )

    assert response.status_code == 201
    body = response.get_json()
    assert set(body) == {"id", "name", "created_at", "last_used_at", "token"}
    assert body["name"] == "laptop script"
    assert body["last_used_at"] is None
    assert body["token"].startswith("cc_")
    assert token_count(db, user_id) == 1
    stored = db.session.get(ApiToken, body["id"])
    assert stored.user_id == user_id
    assert stored.token_hash != body["token"]  # only a digest is kept
    assert body["token"] not in stored.token_hash


def test_token_name_defaults_when_not_given(client, db):
    make_member(email="ada@example.com")

    response = client.post(
        "/api/v1/tokens", json={"email": "ada@example.com", "password": PASSWORD}
    )

    assert response.status_code == 201
    assert response.get_json()["name"] == "API token"


def test_token_name_with_a_nul_character_is_422_and_creates_no_token(client, db):
    # PostgreSQL text cannot hold NUL: this was a 500 there (and stored as is on SQLite).
    make_member(email="ada@example.com")

    response = client.post(
        "/api/v1/tokens",
        json={"email": "ada@example.com", "password": PASSWORD, "name": "laptop\x00"},
    )

    assert response.status_code == 422
    assert response.get_json()["error"]["code"] == "invalid_characters"
    assert token_count(db) == 0


def test_wrong_password_and_unknown_email_get_the_same_401(client, db):
    make_member(email="ada@example.com")

    wrong_password = client.post(
        "/api/v1/tokens", json={"email": "ada@example.com", "password": "not the password"}
    )
    unknown_email = client.post(
        "/api/v1/tokens", json={"email": "nobody@example.com", "password": "not the password"}
    )

    assert wrong_password.status_code == unknown_email.status_code == 401
    assert wrong_password.get_json() == unknown_email.get_json()
    assert wrong_password.get_json() == {
        "error": {
            "code": "invalid_credentials",
            "message": "That email and password do not match an account.",
            "fields": {},
        }
    }
    assert token_count(db) == 0


def test_wrong_credentials_401_carries_a_bearer_challenge(client, db):
    # RFC 9110 §15.5.2: a 401 must send WWW-Authenticate.
    make_member(email="ada@example.com")

    response = client.post(
        "/api/v1/tokens", json={"email": "ada@example.com", "password": "not the password"}
    )

    assert response.status_code == 401
    assert response.headers.get("WWW-Authenticate") == BEARER_CHALLENGE


def test_token_authenticates_the_caller(client, db, api_token):
    user = make_member(email="ada@example.com", display_name="Ada")
    user_id = user.id
    token = api_token(user)

    response = client.get("/api/v1/me", headers=bearer(token))

    assert response.status_code == 200
    body = response.get_json()
    assert body["id"] == user_id
    assert body["email"] == "ada@example.com"
    assert body["display_name"] == "Ada"


def test_without_a_token_me_is_401(client, db):
    response = client.get("/api/v1/me")

    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "unauthorized"
    assert response.headers.get("WWW-Authenticate") == BEARER_CHALLENGE


def test_listing_tokens_never_shows_their_values(client, db, api_token):
    user = make_member()
    first = api_token(user)
    second = api_token(user)

    response = client.get("/api/v1/tokens", headers=bearer(first))

    assert response.status_code == 200
    listed = response.get_json()
    assert len(listed) == 2
    assert all(set(item) == {"id", "name", "created_at", "last_used_at"} for item in listed)
    text = response.get_data(as_text=True)
    assert first not in text
    assert second not in text


def test_listing_shows_only_the_callers_tokens(client, db, api_token):
    ada = make_member()
    bob = make_member()
    ada_token = api_token(ada)
    bob_token_id = services.create_api_token(bob, name="bob's")[0].id

    response = client.get("/api/v1/tokens", headers=bearer(ada_token))

    assert response.status_code == 200
    assert bob_token_id not in [item["id"] for item in response.get_json()]
    assert len(response.get_json()) == 1


def test_revoking_a_token_stops_it_working(client, db, api_token):
    user = make_member()
    user_id = user.id
    token = api_token(user)
    [listed] = client.get("/api/v1/tokens", headers=bearer(token)).get_json()
    assert client.get("/api/v1/me", headers=bearer(token)).status_code == 200

    response = client.delete(f"/api/v1/tokens/{listed['id']}", headers=bearer(token))

    assert response.status_code == 204
    assert response.get_data() == b""
    assert token_count(db, user_id) == 0
    after = client.get("/api/v1/me", headers=bearer(token))
    assert after.status_code == 401
    assert after.get_json()["error"]["code"] == "unauthorized"


def test_revoking_one_token_leaves_the_others(client, db, api_token):
    user = make_member()
    user_id = user.id
    keep = api_token(user)
    spare_id = services.create_api_token(user, name="spare")[0].id
    assert token_count(db, user_id) == 2

    response = client.delete(f"/api/v1/tokens/{spare_id}", headers=bearer(keep))

    assert response.status_code == 204
    assert token_count(db, user_id) == 1
    assert client.get("/api/v1/me", headers=bearer(keep)).status_code == 200


def test_revoking_someone_elses_token_is_404_and_keeps_it(client, db, api_token):
    ada = make_member()
    bob = make_member()
    bob_token, bob_raw = services.create_api_token(bob, name="bob's")
    bob_token_id = bob_token.id
    ada_token = api_token(ada)

    response = client.delete(f"/api/v1/tokens/{bob_token_id}", headers=bearer(ada_token))

    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_found"
    assert db.session.get(ApiToken, bob_token_id) is not None
    assert client.get("/api/v1/me", headers=bearer(bob_raw)).status_code == 200


def test_revoking_an_unknown_token_id_is_404(client, db, api_token):
    token = api_token(make_member())

    response = client.delete("/api/v1/tokens/999999", headers=bearer(token))

    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_found"


def test_revoking_a_token_id_beyond_64_bits_is_404_not_a_server_error(client, db, api_token):
    # Found by schemathesis: SQLite cannot bind such an integer (OverflowError, 500).
    token = api_token(make_member())

    response = client.delete(f"/api/v1/tokens/{2**64}", headers=bearer(token))

    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_found"


def test_anonymous_cannot_revoke_a_token(client, db):
    owner = make_member()
    token_id = services.create_api_token(owner, name="mine")[0].id

    response = client.delete(f"/api/v1/tokens/{token_id}")

    assert response.status_code == 401
    assert db.session.get(ApiToken, token_id) is not None


@pytest.mark.parametrize(
    "header",
    [
        "Bearer",
        "Bearer ",
        "Bearer cc_not-a-real-token",
        "Bearer not-even-our-prefix",
        "Basic YWRhQGV4YW1wbGUuY29tOnBhc3N3b3Jk",
        "Token {token}",
        "{token}",
    ],
    ids=["no-value", "empty-value", "unknown", "foreign", "basic", "other-scheme", "no-scheme"],
)
def test_malformed_authorization_header_is_401_json_with_a_challenge(client, db, api_token, header):
    token = api_token(make_member())

    response = client.get("/api/v1/me", headers={"Authorization": header.format(token=token)})

    assert response.status_code == 401
    assert response.content_type == "application/json"
    assert response.get_json() == {
        "error": {"code": "unauthorized", "message": "Please log in to continue.", "fields": {}}
    }
    assert response.headers.get("WWW-Authenticate") == BEARER_CHALLENGE


def test_malformed_authorization_header_is_refused_even_on_public_routes(client, db):
    response = client.post(
        "/api/v1/users",
        json={"email": "ada@example.com", "password": "analytical engine", "display_name": "Ada"},
        headers={"Authorization": "Bearer cc_not-a-real-token"},
    )

    assert response.status_code == 401
    assert services.get_user_by_email("ada@example.com") is None
