from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.accounts import services
from app.accounts.events import password_changed, role_granted
from app.accounts.models import ApiToken, User
from app.database import write_transaction
from app.errors import Conflict, Forbidden, ValidationFailed
from tests.factories import PASSWORD, make_member


def user_count(db) -> int:
    return db.session.scalar(select(func.count()).select_from(User))


def test_registration_creates_a_customer_with_a_hashed_password(db):
    user = services.register_user(
        email="  Ada@Example.com ", display_name=" Ada   Lovelace ", password="analytical engine"
    )
    assert user.email == "ada@example.com"
    assert user.display_name == "Ada Lovelace"
    assert user.roles == frozenset({"customer"})
    assert user.password_hash.startswith("$argon2id$")
    assert "analytical engine" not in user.password_hash
    assert user.is_verified is False


def test_registration_mails_a_verification_link(db, outbox):
    services.register_user(email="ada@example.com", display_name="Ada", password="analytical1")
    [message] = outbox()
    assert message.to_address == "ada@example.com"
    assert message.kind == "verify_email"
    assert "/verify-email/" in message.body_text


@pytest.mark.parametrize("email", ["ada@example.com", "ADA@example.com"])
def test_second_registration_with_same_email_is_refused(db, email):
    services.register_user(email="ada@example.com", display_name="Ada", password="analytical1")
    with pytest.raises(Conflict) as error:
        services.register_user(email=email, display_name="Other", password="analytical2")
    assert error.value.code == "email_taken"
    assert user_count(db) == 1


@pytest.mark.parametrize(
    ("email", "name", "password", "field"),
    [
        ("not-an-email", "Ada", "analytical1", "email"),
        ("ada@example.com", "   ", "analytical1", "display_name"),
        ("ada@example.com", "x" * 81, "analytical1", "display_name"),
        ("ada@example.com", "Ada", "short", "password"),
        ("ada@example.com", "Ada", "123456789", "password"),
    ],
)
def test_invalid_registration_names_the_field_and_writes_nothing(db, email, name, password, field):
    with pytest.raises(ValidationFailed) as error:
        services.register_user(email=email, display_name=name, password=password)
    assert field in error.value.fields
    assert user_count(db) == 0


def test_authenticate_accepts_the_right_password_only(db):
    user = make_member(email="ada@example.com")
    assert services.authenticate("ADA@example.com", PASSWORD) == user
    assert services.authenticate("ada@example.com", "wrong password") is None
    assert services.authenticate("nobody@example.com", PASSWORD) is None
    assert services.authenticate("not an email", PASSWORD) is None


def test_login_upgrades_a_hash_made_with_an_older_cost(db, app):
    from argon2 import PasswordHasher

    user = make_member(
        password_hash=PasswordHasher(time_cost=1, memory_cost=512, parallelism=1).hash(PASSWORD)
    )
    old_hash = user.password_hash
    services.record_login(user, password=PASSWORD)
    assert user.password_hash != old_hash
    assert "m=1024" in user.password_hash
    assert services.authenticate(user.email, PASSWORD) == user


def test_change_password_ends_other_sessions_and_tokens(db):
    user = make_member()
    services.create_api_token(user, name="script")
    old_login_id = user.get_id()
    recorded = []
    with password_changed.connected_to(lambda sender, **kw: recorded.append(kw["reason"])):
        services.change_password(user, current_password=PASSWORD, new_password="a new password!")
    assert services.load_user_from_session(old_login_id) is None
    assert services.load_user_from_session(user.get_id()) == user
    assert db.session.scalar(select(func.count()).select_from(ApiToken)) == 0
    assert services.authenticate(user.email, "a new password!") == user
    assert recorded == ["change"]


def test_change_password_needs_the_current_one(db):
    user = make_member()
    with pytest.raises(ValidationFailed) as error:
        services.change_password(user, current_password="guess", new_password="a new password!")
    assert "current_password" in error.value.fields
    assert services.authenticate(user.email, PASSWORD) == user


def test_reset_link_is_mailed_only_for_known_addresses(db, outbox):
    make_member(email="ada@example.com")
    services.request_password_reset("nobody@example.com")
    services.request_password_reset("not an email")
    assert outbox() == []
    services.request_password_reset("ADA@example.com")
    [message] = outbox()
    assert message.kind == "password_reset"
    assert "/reset-password/" in message.body_text


def test_reset_link_works_once(db, outbox):
    user = make_member(verified=False)
    services.request_password_reset(user.email)
    token = outbox()[0].body_text.split("/reset-password/")[1].split()[0]
    services.reset_password(token, new_password="brand new secret")
    assert services.authenticate(user.email, "brand new secret") == user
    assert user.is_verified  # reading the mail proved the address
    with pytest.raises(ValidationFailed) as error:
        services.reset_password(token, new_password="another new one")
    assert error.value.code == "invalid_token"


def test_tampered_reset_token_is_refused(db):
    with pytest.raises(ValidationFailed):
        services.user_for_reset_token("not-a-token")


def test_verification_link_confirms_the_address(db, outbox):
    user = services.register_user(
        email="ada@example.com", display_name="Ada", password="analytical1"
    )
    token = outbox()[0].body_text.split("/verify-email/")[1].split()[0]
    assert user.is_verified is False
    services.verify_email(token)
    assert user.is_verified is True


def test_only_admins_grant_roles(db):
    admin = make_member(roles=("admin",))
    moderator = make_member(roles=("moderator",))
    customer = make_member()
    with pytest.raises(Forbidden):
        services.grant_role(customer, "product", actor=moderator)
    granted = []
    with role_granted.connected_to(lambda sender, **kw: granted.append((sender, kw["role"]))):
        services.grant_role(customer, "product", actor=admin)
    assert customer.roles == frozenset({"customer", "product"})
    assert granted == [(customer, "product")]


def test_granting_an_unknown_role_is_refused(db):
    admin = make_member(roles=("admin",))
    customer = make_member()
    with pytest.raises(ValidationFailed):
        services.grant_role(customer, "emperor", actor=admin)


def test_the_last_admin_cannot_be_removed(db):
    admin = make_member(roles=("admin",))
    with pytest.raises(Conflict) as error:
        services.revoke_role(admin, "admin", actor=admin)
    assert error.value.code == "last_admin"
    db.session.rollback()
    other = make_member(roles=("admin",))
    services.revoke_role(admin, "admin", actor=other)
    assert admin.roles == frozenset({"customer"})


def test_ensure_user_is_idempotent_on_email_and_sets_the_role(db):
    with write_transaction():
        first = services.ensure_user(
            email="pat@example.com", password="long enough!", role="moderator", display_name="Pat"
        )
    with write_transaction():
        second = services.ensure_user(
            email="PAT@example.com", password="ignored here", role="product", display_name=None
        )
    assert first.id == second.id
    assert second.roles == frozenset({"customer", "product"})
    assert user_count(db) == 1


def test_api_token_is_stored_only_as_a_hash(db):
    user = make_member()
    token, raw = services.create_api_token(user, name="laptop")
    assert raw.startswith("cc_")
    assert len(raw) > 40
    assert raw not in token.token_hash
    assert services.user_for_api_token(raw).user == user
    assert services.user_for_api_token(raw + "x") is None
    services.revoke_api_token(user, token.id)
    assert services.user_for_api_token(raw) is None


def test_using_a_token_records_when_it_was_last_used(client, db, api_token):
    user = make_member()
    headers = {"Authorization": f"Bearer {api_token(user)}"}
    assert services.list_api_tokens(user)[0].last_used_at is None
    client.patch("/api/v1/me", json={"display_name": "Renamed"}, headers=headers)
    db.session.expire_all()
    first_use = services.list_api_tokens(user)[0].last_used_at
    assert first_use is not None
    client.get("/api/v1/me", headers=headers)  # within five minutes: not written again
    db.session.expire_all()
    assert services.list_api_tokens(user)[0].last_used_at == first_use
